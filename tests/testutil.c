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
