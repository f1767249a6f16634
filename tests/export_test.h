/* export_test.h - the runtime internals the tests reach (Go's
 * export_test.go): the test binary links the runtime's objects directly, so
 * hidden symbols are visible to it. */
#ifndef GORO_EXPORT_TEST_H
#define GORO_EXPORT_TEST_H

#include <goro.h>
#include "runtime2.h"

/* The P the calling G runs on. */
static inline int test_curp(void)
{
    g *gp = getg();
    return gp->m->p->id;
}

static inline int test_curm(void)
{
    return getg()->m->id;
}

static inline uintptr_t test_stacksize(void)
{
    g *gp = getg();
    return gp->stack.hi - gp->stack.lo;
}

/* Run fn(arg) as the main G of a fresh runtime with GORO_PROCS=procs. */
int test_run(int procs, goro_fn fn, void *arg);

/* Recurse n levels, ~240 bytes a level; returns n. */
long test_recurse(int n);

#endif
