/*
 * bench/recurse.c - recursion to 1 MiB of stack in a fresh G.
 *
 * What it measures: the main G spawns one G at a time; that G recurses
 * 4096 levels deep with a frame of 256 bytes (a 240-byte volatile
 * array, the return address and alignment; gcc -O2 on amd64), so 1 MiB
 * of stack is used, then returns and exits;
 * the main G waits for it before spawning the next.
 * Every run starts on a fresh 2 KiB stack, so the time includes all the
 * stack growth on the way down (and the release on the way back and at
 * exit), plus one spawn + join. The wall time of N runs
 * (CLOCK_MONOTONIC, taken in the main G) over N is the time per run; R
 * rounds, median. The peer is bench/go/recurse/main.go.
 *
 * Run:
 *   make build/bench/recurse
 *   GORO_PROCS=1 build/bench/recurse [-n N] [-r R]   (default 2000, 5)
 *
 * Output: one line per round, the median, the runtime's stack figures and a
 * last machine-readable line
 *   RESULT recurse_1mib_us_per_run <median microseconds per run>
 */
#include <goro.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

#include <inttypes.h>

#define DEPTH 4096              /* levels of ~256 bytes: ~1 MiB */

static long nflag = 2000;
static int rounds = 5;
static double *round_us;        /* us per run of each round */
static int status = 1;          /* exit status; 0 once the main G finished */
static volatile long sink;

/* Use about depth * 256 bytes of stack, then return. */
__attribute__((noinline)) static long deep(long depth)
{
    volatile char pad[240];
    pad[0] = (char)depth;
    if (depth <= 0)
        return 0;
    return deep(depth - 1) + pad[0];
}

static void worker(void *arg)
{
    sink = deep(DEPTH);
    goro_wg_done(arg);
}

static void main_g(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    if (wg == NULL) {
        fprintf(stderr, "recurse: goro_wg_new: out of memory\n");
        return;
    }
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < nflag; i++) {
            goro_wg_add(wg, 1);
            int64_t id = goro_go(worker, wg);
            if (id < 0) {
                fprintf(stderr, "recurse: goro_go: error %" PRId64 "\n", id);
                goro_wg_add(wg, -1);
                goro_wg_free(wg);
                return;
            }
            goro_wg_wait(wg);
        }
        int64_t t1 = now_ns();
        round_us[r] = (double)(t1 - t0) / 1e3 / (double)nflag;
        printf("round %d: %.2f us/run (%.1f ms for %ld runs)\n", r + 1,
               round_us[r], (double)(t1 - t0) / 1e6, nflag);
        fflush(stdout);
    }
    goro_wg_free(wg);

    goro_stats st;
    goro_stats_get(&st);
    printf("median: %.2f us/run\n", median(round_us, rounds));
    printf("stats: gs_created=%" PRIu64 " stack_grows=%" PRIu64
           " stack_bytes_inuse=%" PRIu64 "\n",
           st.gs_created, st.stack_grows, st.stack_bytes_inuse);
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, INT64_MAX / 2, &rounds);

    round_us = calloc((size_t)rounds, sizeof *round_us);
    if (round_us == NULL) {
        fprintf(stderr, "recurse: out of memory\n");
        return 1;
    }
    printf("recurse: %ld runs of %d levels (~1 MiB) per round, %d rounds\n",
           nflag, DEPTH, rounds);
    fflush(stdout);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "recurse: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0)
        printf("RESULT recurse_1mib_us_per_run %.2f\n",
               median(round_us, rounds));
    free(round_us);
    return status;
}
