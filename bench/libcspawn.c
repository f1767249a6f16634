/*
 * bench/libcspawn.c - cost of spawning and joining a G that calls libc.
 *
 * What it measures: as bench/spawn.c (inside one goro_run, the main G does
 * goro_wg_add(wg, N), spawns N Gs with goro_go and waits on the wait
 * group), but each G mallocs a 64-byte object, snprintf()s its index into
 * it, frees it and then calls goro_wg_done. The wall time of a round
 * (CLOCK_MONOTONIC, taken in the main G) over N is the cost of one spawn +
 * run + exit + join of a G that calls into libc: whatever the runtime does
 * so that code built without -fsplit-stack (malloc, snprintf, free) has
 * the stack it needs is included. R rounds, median.
 *
 * The runtime's stack figures (goro_stats) are printed per G: stack grows
 * and bytes copied by them, over all rounds. A G that only calls goro_wg_done
 * (bench/spawn.c) never grows its 2 KiB stack.
 *
 * Run:
 *   make build/bench/libcspawn
 *   GORO_PROCS=2 build/bench/libcspawn [-n N] [-r R]
 *     -n N   Gs per round (default 1000000)
 *     -r R   rounds (default 5)
 *
 * Output: one line per round, the median, the runtime's figures at the end
 * and a last machine-readable line
 *   RESULT libcspawn_ns_per_g_<procs>p <median ns per G>
 */
#include <goro.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_N 1000000L
#define DEFAULT_ROUNDS 5
#define OBJ_BYTES 64            /* what each G mallocs */

static long nflag = DEFAULT_N;
static int rounds = DEFAULT_ROUNDS;
static double *round_ns;        /* ns per G of each round */
static goro_wg *wg;
static uint64_t procs;          /* the runtime's Ps, for the RESULT name */
static int status = 1;          /* exit status; 0 once the main G finished */

static void worker(void *arg)
{
    long i = (long)(intptr_t)arg;
    char *p = malloc(OBJ_BYTES);
    if (p == NULL) {
        fprintf(stderr, "libcspawn: malloc: out of memory\n");
        exit(1);
    }
    snprintf(p, OBJ_BYTES, "G %ld", i);
    free(p);
    goro_wg_done(wg);
}

static void main_g(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    if (wg == NULL) {
        fprintf(stderr, "libcspawn: goro_wg_new: out of memory\n");
        return;
    }
    goro_stats st0;
    goro_stats_get(&st0);
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        goro_wg_add(wg, nflag);
        for (long i = 0; i < nflag; i++) {
            int64_t id = goro_go(worker, (void *)(intptr_t)i);
            if (id < 0) {
                fprintf(stderr, "libcspawn: goro_go: error %" PRId64 "\n",
                        id);
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
    double ng = (double)nflag * rounds;
    printf("median: %.1f ns/G\n", median(round_ns, rounds));
    printf("stats: gs_created=%" PRIu64 " threads=%" PRIu64 " procs=%" PRIu64
           " stack_grows=%" PRIu64 " stack_copied_bytes=%" PRIu64
           " stack_bytes_inuse=%" PRIu64 "\n",
           st.gs_created, st.threads, st.procs, st.stack_grows,
           st.stack_copied_bytes, st.stack_bytes_inuse);
    printf("per G: %.2f stack grows, %.0f bytes copied by them\n",
           (double)(st.stack_grows - st0.stack_grows) / ng,
           (double)(st.stack_copied_bytes - st0.stack_copied_bytes) / ng);
    procs = st.procs;
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, INT64_MAX / 2, &rounds);

    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL) {
        fprintf(stderr, "libcspawn: out of memory\n");
        return 1;
    }
    printf("libcspawn: %ld Gs per round, %d rounds, each mallocs %d bytes, "
           "snprintf()s into them and frees them\n", nflag, rounds,
           OBJ_BYTES);
    fflush(stdout);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "libcspawn: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0)
        printf("RESULT libcspawn_ns_per_g_%" PRIu64 "p %.1f\n", procs,
               median(round_ns, rounds));
    free(round_ns);
    return status;
}
