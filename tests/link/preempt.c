/* preempt.c - asynchronous preemption seen from a program built the way
 * users build (pkg-config against libgoro.so), compiled by the Makefile with
 * gcc and clang at -O0 and -O2. Its loops call nothing, so only the signal
 * can stop them; each loop keeps values in locals (at -O0 in the red zone
 * of a leaf function), in SSE and AVX registers, and checks every one of
 * them after every preemption.
 *
 *   preemptprog async    procs=1: a call-free spinner beside a G that sleeps
 *                        1ms at a time; prints the sleeper's wake latency
 *   preemptprog moves    procs=2: three call-free spinners, each with its own
 *                        errno, run until each has changed threads
 *   preemptprog disable  procs=1: a spinner inside goro_preempt_disable for
 *                        several time slices; a ticker G must not run then
 *   preemptprog calls    procs=1: a spinner that calls a function beside
 *                        the sleeper: stopped at its calls, so the runtime
 *                        has no signal to send it
 *
 * Prints key=value pairs and exits 0 when every check held. */
#include <goro.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int stop;
static int failures;

static int64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The thread this code runs on, without a call even at -O0: glibc's TCB
 * pointer. */
#define thread_self()                                                      \
    ({                                                                      \
        uintptr_t t_;                                                       \
        __asm__ volatile("movq %%fs:0x10, %0" : "=r"(t_));                  \
        t_;                                                                 \
    })

typedef double v4d __attribute__((vector_size(32)));

/* A leaf loop: no calls, so no prologue check can stop it. Integers in
 * locals, a double and a 4-lane vector; i, j, d and every lane must agree
 * whenever the loop looks. Returns the number of disagreements. Built
 * twice: plain (SSE) and for AVX, whose upper register halves must survive
 * a preemption too. */
#define SPIN_BODY                                                           \
    long i = salt, j = salt, bad = 0;                                       \
    double d = (double)salt;                                                \
    v4d v = {(double)salt, (double)salt, (double)salt, (double)salt};       \
    const v4d one = {1, 1, 1, 1};                                           \
    uintptr_t self = thread_self();                                         \
    while (!*flag) {                                                        \
        i++;                                                                \
        j++;                                                                \
        d += 1.0;                                                           \
        v += one;                                                           \
        if (i != j || d != (double)i || v[0] != d || v[1] != d ||           \
            v[2] != d || v[3] != d)                                         \
            bad++;                                                          \
        uintptr_t t = thread_self();                                        \
        if (t != self) {                                                    \
            self = t;                                                       \
            ++*moves;                                                       \
        }                                                                   \
    }                                                                       \
    return bad;

__attribute__((noinline)) static long spin_sse(volatile int *flag, long salt,
                                                long *moves)
{
    SPIN_BODY
}

__attribute__((noinline, target("avx"))) static long
spin_avx(volatile int *flag, long salt, long *moves)
{
    SPIN_BODY
}

static long spin(volatile int *flag, long salt, long *moves)
{
    if (__builtin_cpu_supports("avx") && (salt & 1))
        return spin_avx(flag, salt, moves);
    return spin_sse(flag, salt, moves);
}

/* ---- async: a call-free spinner and a sleeper on one P ------------------- */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static goro_wg *wg;

static void spinner_wg(void *arg)
{
    long moves = 0;
    long bad = spin(&stop, (long)(intptr_t)arg, &moves);
    if (bad) {
        printf("spinner %ld: %ld bad values\n", (long)(intptr_t)arg, bad);
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    }
    goro_wg_done(wg);
}

/* calls: the loop calls a function, so the guard stops it at once. A leaf
 * without a frame gets no stack check from clang -O2, so step keeps a
 * local in memory. */
__attribute__((noinline)) static long step(long x)
{
    volatile long v[4];
    v[x & 3] = x;
    return v[x & 3] * 3 + 1;
}

static volatile long sink;

static void callspinner(void *arg)
{
    (void)arg;
    long x = 0;
    while (!stop)
        x = step(x);
    sink = x;
    goro_wg_done(wg);
}

/* A call-free spinner (or, with calls, one that calls a function) beside a
 * G that sleeps 1 ms at a time: the sleeper's wake latency. */
static void run_async(bool calls)
{
    enum { samples = 100 };
    int64_t lat[samples];
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    if (calls)
        goro_go(callspinner, NULL);
    else
        goro_go(spinner_wg, (void *)(intptr_t)7);
    goro_yield();  /* let the spinner start */
    for (int i = 0; i < samples; i++) {
        int64_t t0 = now();
        goro_sleep_ns(1000000);
        lat[i] = now() - t0 - 1000000;
    }
    stop = 1;
    goro_wg_wait(wg);
    qsort(lat, samples, sizeof lat[0], cmp64);
    goro_stats st;
    goro_stats_get(&st);
    printf("sync=%llu async=%llu p50_us=%lld p99_us=%lld\n",
           (unsigned long long)st.preempt_sync,
           (unsigned long long)st.preempt_async,
           (long long)lat[samples / 2] / 1000,
           (long long)lat[samples * 99 / 100] / 1000);
}

/* ---- moves: errno and registers across threads ------------------------------- */

static volatile int moved[3];

static void mover(void *arg)
{
    int id = (int)(intptr_t)arg;
    errno = 1000 + id;
    long moves = 0;
    long bad = spin(&stop, id * 1001, &moves);
    moved[id] = moves > 0;
    if (bad || errno != 1000 + id) {
        printf("mover %d: %ld bad values, errno %d\n", id, bad, errno);
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    }
    goro_wg_done(wg);
}

static void run_moves(void)
{
    wg = goro_wg_new();
    goro_wg_add(wg, 3);
    for (int i = 0; i < 3; i++)
        goro_go(mover, (void *)(intptr_t)i);
    /* The movers can only see their own thread change; give them until
     * each should have moved many times over. */
    goro_sleep_ns(2000000000);
    stop = 1;
    goro_wg_wait(wg);
    goro_stats st;
    goro_stats_get(&st);
    printf("async=%llu moved=%d%d%d\n", (unsigned long long)st.preempt_async,
           moved[0], moved[1], moved[2]);
}

/* ---- disable: a region that must keep the P ------------------------------------ */

static volatile long ticks;

static void ticker(void *arg)
{
    (void)arg;
    while (!stop) {
        ticks++;
        goro_sleep_ns(1000000);
    }
    goro_wg_done(wg);
}

static void run_disable(void)
{
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(ticker, NULL);
    goro_sleep_ns(5000000);
    goro_stats before, after;
    goro_stats_get(&before);
    goro_preempt_disable();
    long seen = ticks;
    int64_t t0 = now();
    long changed = 0;
    /* Five time slices (GORO_TIME_SLICE=2ms), calling only the clock. */
    while (now() - t0 < 10000000)
        changed += ticks != seen;
    goro_preempt_enable();
    int64_t t1 = now();
    /* Now the pending request stops this G at its next call. */
    while (ticks == seen && now() - t1 < 1000000000)
        ;
    goro_stats_get(&after);
    stop = 1;
    goro_wg_wait(wg);
    printf("changed_in_region=%ld ticked_after=%d preempted_after=%llu\n",
           changed, ticks != seen,
           (unsigned long long)(after.preempt_sync + after.preempt_async -
                                before.preempt_sync - before.preempt_async));
    if (changed != 0 || ticks == seen)
        failures++;
}

static void mainfn(void *arg)
{
    const char *mode = arg;
    if (strcmp(mode, "async") == 0)
        run_async(false);
    else if (strcmp(mode, "calls") == 0)
        run_async(true);
    else if (strcmp(mode, "moves") == 0)
        run_moves();
    else if (strcmp(mode, "disable") == 0)
        run_disable();
    else
        failures = -1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *procs = strcmp(mode, "moves") == 0 ? "2" : "1";
    setenv("GORO_PROCS", procs, 1);
    if (strcmp(mode, "disable") == 0)
        setenv("GORO_TIME_SLICE", "2ms", 1);
    int rc = goro_run(mainfn, (void *)mode);
    if (failures < 0) {
        fprintf(stderr, "usage: %s async|calls|moves|disable\n", argv[0]);
        return 2;
    }
    printf("rc=%d failures=%d\n", rc, failures);
    return rc == 0 && failures == 0 ? 0 : 1;
}
