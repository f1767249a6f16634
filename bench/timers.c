/*
 * bench/timers.c - a million timers pending at once: memory per timer and
 * the rate at which they fire.
 *
 * Each round creates N timers (goro_timer_new) all due at the same time T,
 * 2 s after the round starts (N = 1M creations take well under that), and
 * reads the resident memory (/proc/self/statm) before and after creating
 * them; the main G then sleeps until T and receives from every timer's
 * channel in creation order. The time from T to the last receive, over N,
 * is the cost of firing one timer and receiving its value (the receive is
 * the same work on both sides; the firing is what differs). Then every
 * timer is freed. Memory: the first round's figure (later rounds reuse
 * freed memory); time: the median of R rounds.
 *
 * Run:
 *   make build/bench/timers
 *   GORO_PROCS=2 build/bench/timers [-n N] [-r R]   (default 1000000, 3)
 * Output ends with:
 *   RESULT timers_bytes_per_timer <first round>
 *   RESULT timers_fire_ns_per_timer <median>
 */
#include <goro.h>

#include <inttypes.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

static long nflag = 1000000;
static int rounds = 3;
static double *round_ns;
static double bytes_per_timer;
static int status = 1;

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2) {
        fprintf(stderr, "timers: cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    return res * 4096;
}

static void main_g(void *arg)
{
    (void)arg;
    goro_timer **ts = calloc((size_t)nflag, sizeof *ts);
    if (ts == NULL) {
        fprintf(stderr, "timers: out of memory\n");
        return;
    }
    for (int r = 0; r < rounds; r++) {
        int64_t t = goro_now() + 2000000000LL;
        long before = rss_bytes();
        for (long i = 0; i < nflag; i++) {
            ts[i] = goro_timer_new(t - goro_now());
            if (ts[i] == NULL) {
                fprintf(stderr, "timers: goro_timer_new: out of memory\n");
                return;
            }
        }
        long after = rss_bytes();
        int64_t made = goro_now();
        if (made >= t) {
            fprintf(stderr, "timers: creating took past T; use a smaller -n\n");
            return;
        }
        if (r == 0)
            bytes_per_timer = (double)(after - before) / (double)nflag;
        goro_sleep_ns(t - goro_now());
        for (long i = 0; i < nflag; i++) {
            int64_t v;
            if (goro_chan_recv(goro_timer_chan(ts[i]), &v) != 0 || v < t) {
                fprintf(stderr, "timers: timer %ld: bad value\n", i);
                return;
            }
        }
        round_ns[r] = (double)(goro_now() - t) / (double)nflag;
        printf("round %d: created in %.0f ns each, %.0f bytes each; "
               "%.1f ns per timer fired and received\n", r + 1,
               (double)(made - (t - 2000000000LL)) / (double)nflag,
               (double)(after - before) / (double)nflag, round_ns[r]);
        for (long i = 0; i < nflag; i++)
            goro_timer_free(ts[i]);
    }
    free(ts);
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, 10000000, &rounds);
    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL)
        return 1;
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "timers: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0) {
        printf("RESULT timers_bytes_per_timer %.1f\n", bytes_per_timer);
        printf("RESULT timers_fire_ns_per_timer %.1f\n",
               median(round_ns, rounds));
    }
    return status;
}
