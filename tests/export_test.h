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

/* goro_reads that parked without their call so far (netfd.c's skip). */
static inline uint64_t test_read_skips(void)
{
    return sumstats().read_skips;
}

/* The configuration goro_run takes from the environment (the defaults,
 * then the GORO_* variables set): 0, or -EINVAL. */
static inline int test_config_fromenv(goro_config *c)
{
    goro_config_default(c);
    return goro_config_from_env(c, NULL);
}

/* Run fn(arg) as the main G of a fresh runtime with GORO_PROCS=procs. */
int test_run(int procs, goro_fn fn, void *arg);

/* Run fn(arg) as the main G in a child process; its stderr, and its wait
 * status in *status. */
char *test_run_child(int procs, goro_fn fn, void *arg, int *status);

/* Run fn(arg) as the main G in a child process; copy its *result back. */
void test_run_forked(int procs, goro_fn fn, void *arg, void *result,
                     size_t size);

/* Run a shell command that must exit 0; its output. */
char *test_command(const char *cmd);
/* CLOCK_MONOTONIC in ns. */
int64_t test_now(void);
/* The time this process's threads have spent runnable but not running
 * (/proc/self/task/TID/schedstat), in ns; 0 when it cannot be read. */
int64_t test_runqwait(void);
/* The port a socket is bound to (IPv4 or IPv6), or -1. */
int test_portof(int fd);

/* How many Gs are parked (goro_metrics_get's gs_waiting); and waiting
 * (1 ms sleeps, 10 s at most) until at least n are. */
uint64_t test_gs_waiting(void);
void test_wait_waiting(uint64_t n);

/* After goro_run returned: assert that every M of the runtime ends
 * (waiting up to 10 s, for a loaded machine), whatever list it idled on. */
void test_assert_ms_end(void);

/* Recurse n levels, ~240 bytes a level; returns n. */
long test_recurse(int n);

#endif
