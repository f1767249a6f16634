/*
 * panic.c - fatal errors.
 *
 * Two kinds of error, as in Go: whatever a caller can cause is returned as a
 * negative errno; a broken invariant of the runtime itself (or a limit that
 * cannot be honoured, such as the maximum stack size) prints what it knows,
 * prefixed "runtime:" by the caller, then throw("constant string") prints
 * "fatal error: ..." with the G and M it happened on and aborts the process
 * (SIGABRT: a core dump for post-mortem, a non-zero status for a
 * supervisor), after the stacks of every G (traceback.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime2.h"

static mutex printmu;

void printlock(void)
{
    lock(&printmu);
}

void printunlock(void)
{
    unlock(&printmu);
}

/* vprint formats into a bounded buffer and writes it to stderr unbuffered.
 * No stack checks: signal.c's crash report calls it on a signal stack. */
__attribute__((no_split_stack)) void vprint(const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    for (ssize_t off = 0, w; off < n; off += w)
        if ((w = write(2, buf + off, (size_t)(n - off))) <= 0)
            break;
}

/* print writes to stderr without buffering. Meant for g0 or fatal paths. */
void print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

/* throwing: a throw is printing its report; a fault in the dump that
 * follows must still end the process as the throw does (signal.c). */
HIDDEN _Atomic int throwing;

void throw(const char *s)
{
    g *gp = getg();
    atomic_store(&throwing, 1);
    print("fatal error: %s\n", s);
    if (gp != NULL) {
        m *mp = gp->m;
        g *cur = mp ? mp->curg : NULL;
        if (cur != NULL)
            print("runtime: goroutine %lld [%s]%s%s%s: stack [%#lx, %#lx) "
                  "size %lu\n",
                  (long long)cur->goid, gp == cur ? "running" : "on g0",
                  cur->group != NULL ? " of group \"" : "",
                  cur->group != NULL ? cur->group->name : "",
                  cur->group != NULL ? "\"" : "",
                  (unsigned long)cur->stack.lo, (unsigned long)cur->stack.hi,
                  (unsigned long)(cur->stack.hi - cur->stack.lo));
        if (mp)
            print("m%d\n", mp->id);
    }
    tracebackthrow();   /* every G's stack, as GORO_TRACEBACK says */
    abort();
}

void badmcall(void)
{
    throw("runtime: mcall called on m->g0 stack");
}
