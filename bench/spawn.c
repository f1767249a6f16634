/*
 * bench/spawn.c - cost of spawning and joining a G.
 *
 * What it measures: inside one goro_run, the main G does goro_wg_add(wg, N),
 * spawns N Gs with goro_go (each only calls goro_wg_done) and then waits on
 * the wait group. The wall time of that (CLOCK_MONOTONIC, taken in the main
 * G) divided by N is the cost of one spawn + run + exit + join, including
 * the stack and G allocation and the scheduling on however many Ps the
 * runtime has. The round is repeated R times; the first rounds also pay for
 * filling the G free lists and stack caches, the later ones reuse them.
 *
 * Run:
 *   make build/bench/spawn
 *   GORO_PROCS=2 build/bench/spawn [-n N] [-r R]
 *     -n N   Gs per round (default 1000000)
 *     -r R   rounds (default 5)
 *
 * Output: one line per round, the median, the runtime's figures at the end
 * (goro_stats) and a last machine-readable line
 *   RESULT spawn_join_ns_per_g <median ns per G>
 */
#include <goro.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_N 1000000L
#define DEFAULT_ROUNDS 5

static long nflag = DEFAULT_N;
static int rounds = DEFAULT_ROUNDS;
static double *round_ns;        /* ns per G of each round */
static int status = 1;          /* exit status; 0 once the main G finished */

static void worker(void *arg)
{
    goro_wg_done(arg);
}

static void main_g(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    if (wg == NULL) {
        fprintf(stderr, "spawn: goro_wg_new: out of memory\n");
        return;
    }
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        goro_wg_add(wg, nflag);
        for (long i = 0; i < nflag; i++) {
            int64_t id = goro_go(worker, wg);
            if (id < 0) {
                fprintf(stderr, "spawn: goro_go: error %" PRId64 "\n", id);
                /* The Gs not spawned will never call done. */
                goro_wg_add(wg, -(nflag - i));
                goro_wg_wait(wg);
                goro_wg_free(wg);
                return;
            }
        }
        goro_wg_wait(wg);
        int64_t t1 = now_ns();
        round_ns[r] = (double)(t1 - t0) / (double)nflag;
        printf("round %d: %.1f ns/G (%.1f ms for %ld Gs)\n", r + 1,
               round_ns[r], (double)(t1 - t0) / 1e6, nflag);
        fflush(stdout);
    }
    goro_wg_free(wg);

    goro_stats st;
    goro_stats_get(&st);
    printf("median: %.1f ns/G\n", median(round_ns, rounds));
    printf("stats: gs_created=%" PRIu64 " threads=%" PRIu64 " procs=%" PRIu64
           " stack_grows=%" PRIu64 " stack_bytes_inuse=%" PRIu64 "\n",
           st.gs_created, st.threads, st.procs, st.stack_grows,
           st.stack_bytes_inuse);
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, INT64_MAX / 2, &rounds);

    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL) {
        fprintf(stderr, "spawn: out of memory\n");
        return 1;
    }
    printf("spawn: %ld Gs per round, %d rounds\n", nflag, rounds);
    fflush(stdout);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "spawn: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0)
        printf("RESULT spawn_join_ns_per_g %.1f\n", median(round_ns, rounds));
    free(round_ns);
    return status;
}
