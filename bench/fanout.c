/*
 * bench/fanout.c - fan-out/fan-in over buffered channels: one producer, 8
 * workers, one collector.
 *
 * A producer G sends N values into a buffered channel (capacity 128) and
 * closes it; 8 worker Gs each receive values from it, square them and
 * send the squares into a second buffered channel (capacity 128); the main
 * G receives N squares and sums them. So 8 receivers share one channel and
 * 8 senders another: every hand-over may wake a G parked on the other side
 * of a channel, on this P or another. The time per value from the
 * producer's start to the last square received is the result; R rounds,
 * median.
 *
 * Run:
 *   make build/bench/fanout
 *   GORO_PROCS=2 build/bench/fanout [-n N] [-r R]   (default 2000000, 5)
 * Output ends with: RESULT fanout_ns_per_value_<procs>p <median>
 */
#include <goro.h>

#include <inttypes.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

enum { NWORKERS = 8, CAP = 128 };

static long nflag = 2000000;
static int rounds = 5;
static double *round_ns;
static int status = 1;
static goro_chan *jobs, *results;
static goro_wg *wg;

static void producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < nflag; i++)
        if (goro_chan_send(jobs, &i) != 0)
            break;
    goro_chan_close(jobs);
    goro_wg_done(wg);
}

static void worker(void *arg)
{
    (void)arg;
    long v;
    while (goro_chan_recv(jobs, &v) == 0) {
        v *= v;
        if (goro_chan_send(results, &v) != 0)
            break;
    }
    goro_wg_done(wg);
}

static void main_g(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    if (wg == NULL) {
        fprintf(stderr, "fanout: out of memory\n");
        return;
    }
    unsigned long want = 0;
    for (long i = 0; i < nflag; i++)
        want += (unsigned long)i * (unsigned long)i;
    for (int r = 0; r < rounds; r++) {
        jobs = goro_chan_new(sizeof(long), CAP);
        results = goro_chan_new(sizeof(long), CAP);
        if (jobs == NULL || results == NULL) {
            fprintf(stderr, "fanout: out of memory\n");
            return;
        }
        int64_t t0 = now_ns();
        goro_wg_add(wg, NWORKERS + 1);
        for (int i = 0; i < NWORKERS; i++)
            goro_go(worker, NULL);
        goro_go(producer, NULL);
        unsigned long sum = 0;
        for (long i = 0; i < nflag; i++) {
            long v;
            if (goro_chan_recv(results, &v) != 0) {
                fprintf(stderr, "fanout: receive failed\n");
                return;
            }
            sum += (unsigned long)v;
        }
        round_ns[r] = (double)(now_ns() - t0) / (double)nflag;
        goro_wg_wait(wg);
        if (sum != want) {
            fprintf(stderr, "fanout: sum %lu, want %lu\n", sum, want);
            return;
        }
        printf("round %d: %.1f ns per value\n", r + 1, round_ns[r]);
        goro_chan_free(jobs);
        goro_chan_free(results);
    }
    goro_wg_free(wg);
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, 1L << 31, &rounds);
    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL)
        return 1;
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "fanout: goro_run: error %d\n", rc);
        return 1;
    }
    goro_stats st;
    goro_stats_get(&st);
    if (status == 0)
        printf("RESULT fanout_ns_per_value_%" PRIu64 "p %.1f\n", st.procs,
               median(round_ns, rounds));
    return status;
}
