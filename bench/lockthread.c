/*
 * bench/lockthread.c - what a G locked to its thread (goro_lock_thread)
 * pays each time it stops: bench/pingpong with the pinging G locked.
 *
 * G A, locked to its thread, sends a value on ping and waits for it on
 * pong; G B (not locked) receives on ping and sends it back on pong. Each
 * time A parks its thread hands its P off and sleeps, and the M that
 * takes A from the run queue hands its P back and wakes A's thread: a
 * round trip is two such hand-overs, against two G switches unlocked
 * (bench/pingpong). The time of N round trips over N is the result; R
 * rounds, median.
 *
 * Run:
 *   make build/bench/lockthread
 *   GORO_PROCS=1 build/bench/lockthread [-n N] [-r R]   (default 200000, 5)
 *   GORO_PROCS=2 build/bench/lockthread
 * Output ends with: RESULT lockthread_ns_per_roundtrip_<procs>p <median>
 */
#include <goro.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static long nflag = 200000;
static int rounds = 5;
static double *round_ns;
static int status = 1;
static goro_chan *ping, *pong;

static void echoer(void *arg)
{
    long v;
    while (goro_chan_recv(ping, &v) == 0)
        if (goro_chan_send(pong, &v) != 0)
            break;
    goro_wg_done(arg);
}

static void main_g(void *arg)
{
    (void)arg;
    ping = goro_chan_new(sizeof(long), 0);
    pong = goro_chan_new(sizeof(long), 0);
    goro_wg *wg = goro_wg_new();
    if (ping == NULL || pong == NULL || wg == NULL) {
        fprintf(stderr, "lockthread: out of memory\n");
        return;
    }
    goro_wg_add(wg, 1);
    goro_go(echoer, wg);
    int rc = goro_lock_thread();
    if (rc != 0) {
        fprintf(stderr, "lockthread: goro_lock_thread: error %d\n", rc);
        return;
    }
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < nflag; i++) {
            long v = i, back = -1;
            if (goro_chan_send(ping, &v) != 0 ||
                goro_chan_recv(pong, &back) != 0 || back != i) {
                fprintf(stderr, "lockthread: round trip %ld failed\n", i);
                return;
            }
        }
        round_ns[r] = (double)(now_ns() - t0) / (double)nflag;
        printf("round %d: %.1f ns per round trip\n", r + 1, round_ns[r]);
    }
    goro_unlock_thread();
    goro_chan_close(ping);
    goro_wg_wait(wg);
    goro_chan_free(ping);
    goro_chan_free(pong);
    goro_wg_free(wg);
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, INT64_MAX / 2, &rounds);
    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL)
        return 1;
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "lockthread: goro_run: error %d\n", rc);
        return 1;
    }
    goro_stats st;
    goro_stats_get(&st);
    if (status == 0)
        printf("RESULT lockthread_ns_per_roundtrip_%" PRIu64 "p %.1f\n",
               st.procs, median(round_ns, rounds));
    free(round_ns);
    return status;
}
