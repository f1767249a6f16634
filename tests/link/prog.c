/* A program built the way users build: with `pkg-config --cflags --libs
 * goro` against libgoro.so. tests/test_link.c checks that its __morestack is
 * libgoro's (undefined here, not copied from libgcc) and runs it: it spawns
 * Gs that recurse deep enough to grow their stacks several times, joins
 * them, and prints what it saw. */
#include <goro.h>
#include <stdio.h>
#include <string.h>

#define NG 100
#define DEPTH 2000

static goro_wg *wg;
static long results[NG];

/* Each frame points at its caller's local; the sum walks the chain back up
 * after the stack has moved. */
static long deep(int n, long *up)
{
    long here = n + (up ? *up : 0) % 7;
    if (n == 0)
        return here;
    long r = deep(n - 1, &here);
    return r + (*(&here) == here) + (up ? 0 : 0);
}

static void worker(void *arg)
{
    long i = (long)arg;
    results[i] = deep(DEPTH, NULL);
    goro_wg_done(wg);
}

static void mainfn(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, NG);
    for (long i = 0; i < NG; i++)
        goro_go(worker, (void *)i);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

int main(void)
{
    int rc = goro_run(mainfn, NULL);
    goro_stats st;
    goro_stats_get(&st);
    int same = 1;
    for (int i = 1; i < NG; i++)
        same &= results[i] == results[0];
    printf("rc=%d gs=%llu grows=%llu same=%d result=%ld\n", rc,
           (unsigned long long)st.gs_created,
           (unsigned long long)st.stack_grows, same, results[0]);
    return rc != 0 || !same || st.stack_grows == 0;
}
