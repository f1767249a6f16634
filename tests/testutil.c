/* testutil.c - helpers shared by the test files. */
#include <stdio.h>
#include <stdlib.h>

#include "export_test.h"

int test_run(int procs, goro_fn fn, void *arg)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", procs);
    setenv("GORO_PROCS", buf, 1);
    return goro_run(fn, arg);
}

/* A recursion n levels deep with a ~240-byte frame at every level (a
 * volatile local read back after the deeper call keeps each frame real). */
long test_recurse(int n)
{
    volatile char pad[200];
    pad[0] = (char)n;
    if (n == 0)
        return 0;
    long r = test_recurse(n - 1) + 1;
    return r + (pad[0] != (char)n);
}
