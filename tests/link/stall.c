/* stall.c - GORO_STALL_REPORT seen from a program built the way users
 * build (pkg-config against libgoro.so) and a library built without
 * -fsplit-stack (stallslow.c), run by tests/test_stall.c:
 *
 *   stallprog direct   a G of group "stallers" calls slow_spin(1500) of the
 *                      library directly: 1.5 s in code the runtime cannot
 *                      preempt (of wall time: on a loaded machine the
 *                      thread may get a fraction of a CPU)
 *   stallprog cgocall  a G of group "stallers" sorts 64 ints with the
 *                      library's slow_sort (qsort and a comparator of 1 ms,
 *                      about 400 ms) through goro_cgocall
 *   stallprog sleep    a G of group "stallers" calls slow_sleep(600) of the
 *                      library through goro_cgocall: 600 ms in the kernel
 *                      on the thread's stack, its P held; prints "cut=N",
 *                      how often the sleep was interrupted
 *   stallprog sleepg   the same call made directly, on the G's stack: the
 *                      runtime hands the P to the ticker meanwhile
 *   stallprog spin     a loop of the program's own that calls nothing
 *                      (preemptible by the signal) runs about 50 slices
 *
 * Beside it a ticker G sleeps 1 ms at a time. Run with GORO_PROCS=1, it
 * prints "stalled_goid=N" (the G of the long call) and "ticks=N" (how
 * often the ticker ran), and exits 0. */
#include <goro.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long slow_spin(long ms);
void slow_sort(int *v, size_t n);
int slow_sleep(long ms);

static volatile int stop;
static volatile long ticks;
static int64_t goid;
static goro_wg *wg;

static void ticker(void *arg)
{
    while (!stop) {
        ticks++;
        goro_sleep_ns(1000000);
    }
    goro_wg_done(arg);
}

static void sortcall(void *arg)
{
    int *v = arg;
    slow_sort(v, 64);
}

__attribute__((noinline)) static void direct(void *arg)
{
    (void)arg;
    goid = goro_id();
    slow_spin(1500);
    goro_wg_done(wg);
}

static void sleepcall(void *arg)
{
    *(int *)arg = slow_sleep(600);
}

__attribute__((noinline)) static void sleeper(void *arg)
{
    (void)arg;
    goid = goro_id();
    int cut = 0;
    goro_cgocall(sleepcall, &cut);
    printf("cut=%d\n", cut);
    goro_wg_done(wg);
}

__attribute__((noinline)) static void sleeperg(void *arg)
{
    (void)arg;
    goid = goro_id();
    printf("cut=%d\n", slow_sleep(600));
    goro_wg_done(wg);
}

__attribute__((noinline)) static void viacgocall(void *arg)
{
    (void)arg;
    goid = goro_id();
    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (i * 37) % 64;
    goro_cgocall(sortcall, v);
    for (int i = 0; i < 64; i++)
        if (v[i] != i)
            printf("unsorted\n");
    goro_wg_done(wg);
}

/* spin calls nothing: only the preemption signal stops it, and it ends
 * when the ticker, which runs only while it is stopped, has run 50 times
 * (about 50 slices). */
__attribute__((noinline)) static void spin(void *arg)
{
    (void)arg;
    goid = goro_id();
    volatile long n = 0;
    while (ticks < 50)
        n++;
    goro_wg_done(wg);
}

static void mainfn(void *arg)
{
    const char *mode = arg;
    goro_fn fn = strcmp(mode, "direct") == 0    ? direct
                 : strcmp(mode, "cgocall") == 0 ? viacgocall
                 : strcmp(mode, "spin") == 0    ? spin
                 : strcmp(mode, "sleep") == 0   ? sleeper
                 : strcmp(mode, "sleepg") == 0  ? sleeperg
                                                : NULL;
    if (fn == NULL) {
        fprintf(stderr, "usage: stallprog direct|cgocall|sleep|sleepg|spin\n");
        exit(2);
    }
    wg = goro_wg_new();
    goro_wg *tickwg = goro_wg_new();
    goro_wg_add(tickwg, 1);
    goro_go(ticker, tickwg);
    goro_wg_add(wg, 1);
    goro_group *grp = goro_group_new("stallers", 0, NULL);
    goro_group_go(grp, fn, NULL);
    goro_wg_wait(wg);
    stop = 1;
    goro_wg_wait(tickwg);
    printf("stalled_goid=%lld ticks=%ld\n", (long long)goid, ticks);
}

int main(int argc, char **argv)
{
    return goro_run(mainfn, argc > 1 ? argv[1] : "") == 0 ? 0 : 1;
}
