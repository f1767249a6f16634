/* wakelat.c - wake latency of a sleeping G beside a spinner on one P.
 *
 * Two Gs share one P (GORO_PROCS=1): a spinner whose loop calls nothing,
 * which only asynchronous preemption can stop, and a sleeper that sleeps
 * 1 ms at a time and records how late it woke. With the default time slice
 * (10 ms) the sleeper waits for the spinner's slice to end: its lateness is
 * the preemption latency. Prints p50 and p99 over -n samples (default 500)
 * and ends with "RESULT wake_p99_ms X" and "RESULT wake_p50_ms X".
 * -c makes the spinner call a small function in its loop (the cooperative
 * path, stackPreempt at the call) instead. */
#define BENCH_USAGE "[-n SAMPLES] [-c]"
#include <goro.h>
#include <unistd.h>

#include "bench.h"

static volatile int stop;
static volatile long sink;
static long nsamples = 500;
static int calls;
static double *late_ms;

__attribute__((noinline)) static void step(long i)
{
    sink = i;
}

static void spinner(void *arg)
{
    goro_wg *wg = arg;
    long i = 0;
    if (calls) {
        while (!stop)
            step(i++);
    } else {
        while (!stop)
            sink = i++;
    }
    goro_wg_done(wg);
}

static void mainfn(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(spinner, wg);
    goro_yield();  /* the spinner takes the P */
    for (long i = 0; i < nsamples; i++) {
        int64_t t0 = now_ns();
        goro_sleep_ns(1000000);
        late_ms[i] = (double)(now_ns() - t0 - 1000000) / 1e6;
    }
    stop = 1;
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "n:c")) != -1) {
        if (c == 'n')
            nsamples = parse_pos(argv[0], optarg, 1000000);
        else if (c == 'c')
            calls = 1;
        else
            usage(argv[0]);
    }
    if (optind != argc)
        usage(argv[0]);
    late_ms = calloc((size_t)nsamples, sizeof *late_ms);
    if (late_ms == NULL)
        return 1;
    setenv("GORO_PROCS", "1", 1);
    int rc = goro_run(mainfn, NULL);
    if (rc != 0) {
        fprintf(stderr, "goro_run: %s\n", strerror(-rc));
        return 1;
    }
    goro_stats st;
    goro_stats_get(&st);
    qsort(late_ms, (size_t)nsamples, sizeof *late_ms, cmp_double);
    printf("wake latency beside a %s spinner, 1 P, %ld samples of 1 ms "
           "sleeps: p50 %.2f ms, p99 %.2f ms, max %.2f ms "
           "(preemptions: %llu at calls, %llu by signal)\n",
           calls ? "calling" : "call-free", nsamples,
           late_ms[nsamples / 2], late_ms[nsamples * 99 / 100],
           late_ms[nsamples - 1], (unsigned long long)st.preempt_sync,
           (unsigned long long)st.preempt_async);
    printf("RESULT wake_p50_ms%s %.2f\n", calls ? "_calls" : "",
           late_ms[nsamples / 2]);
    printf("RESULT wake_p99_ms%s %.2f\n", calls ? "_calls" : "",
           late_ms[nsamples * 99 / 100]);
    return 0;
}
