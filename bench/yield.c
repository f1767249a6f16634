/*
 * bench/yield.c - cost of goro_yield between two Gs on one P.
 *
 * What it measures: two Gs on a single P each call goro_yield() M times in
 * a loop. With both runnable, every yield switches from one to the other,
 * so the wall time of a round (CLOCK_MONOTONIC, taken in the main G, which
 * is parked on a wait group meanwhile) divided by 2*M is the cost of one
 * yield = one G switch. The round is repeated R times; the median is the
 * result. The runtime's ctx_switches counter is printed per round as a
 * check that each yield really switched.
 *
 * GORO_PROCS is set to 1 before goro_run unless it is already set in the
 * environment (with more Ps the two Gs run in parallel and a yield finds
 * nothing else to run, which is a different measurement).
 *
 * Run:
 *   make build/bench/yield
 *   build/bench/yield [-n M] [-r R]
 *     -n M   yields per G per round (default 10000000)
 *     -r R   rounds (default 5)
 *
 * Output: one line per round, the median and a last machine-readable line
 *   RESULT yield_ns <median ns per yield>
 */
#include <goro.h>

#define BENCH_USAGE "[-n M] [-r ROUNDS]"
#include "bench.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_M 10000000L
#define DEFAULT_ROUNDS 5

static long mflag = DEFAULT_M;
static int rounds = DEFAULT_ROUNDS;
static double *round_ns;        /* ns per yield of each round */
static int status = 1;          /* exit status; 0 once the main G finished */

static void yielder(void *arg)
{
    for (long i = 0; i < mflag; i++)
        goro_yield();
    goro_wg_done(arg);
}

static void main_g(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    if (wg == NULL) {
        fprintf(stderr, "yield: goro_wg_new: out of memory\n");
        return;
    }
    goro_stats st;
    goro_stats_get(&st);
    printf("yield: 2 Gs x %ld yields per round, %d rounds, procs=%" PRIu64
           "\n", mflag, rounds, st.procs);
    fflush(stdout);
    for (int r = 0; r < rounds; r++) {
        goro_stats_get(&st);
        uint64_t sw0 = st.ctx_switches;
        int64_t t0 = now_ns();
        goro_wg_add(wg, 2);
        for (int i = 0; i < 2; i++) {
            int64_t id = goro_go(yielder, wg);
            if (id < 0) {
                fprintf(stderr, "yield: goro_go: error %" PRId64 "\n", id);
                goro_wg_add(wg, -(2 - i));
                goro_wg_wait(wg);
                goro_wg_free(wg);
                return;
            }
        }
        goro_wg_wait(wg);
        int64_t t1 = now_ns();
        goro_stats_get(&st);
        round_ns[r] = (double)(t1 - t0) / (2.0 * (double)mflag);
        printf("round %d: %.1f ns/yield (%.1f ms, %" PRIu64
               " context switches for %ld yields)\n", r + 1, round_ns[r],
               (double)(t1 - t0) / 1e6, st.ctx_switches - sw0, 2 * mflag);
        fflush(stdout);
    }
    goro_wg_free(wg);
    printf("median: %.1f ns/yield\n", median(round_ns, rounds));
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &mflag, INT64_MAX / 4, &rounds);

    if (getenv("GORO_PROCS") == NULL && setenv("GORO_PROCS", "1", 1) != 0) {
        perror("setenv");
        return 1;
    }
    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL) {
        fprintf(stderr, "yield: out of memory\n");
        return 1;
    }
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "yield: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0)
        printf("RESULT yield_ns %.1f\n", median(round_ns, rounds));
    free(round_ns);
    return status;
}
