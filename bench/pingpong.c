/*
 * bench/pingpong.c - round trip over unbuffered channels between two Gs.
 *
 * G A sends a value on ping and waits for it on pong; G B receives on ping
 * and sends it back on pong. One round trip = two hand-overs (each a direct
 * copy into the parked partner's stack and a switch). The time of N round
 * trips over N is the result; R rounds, median.
 *
 * Run:
 *   make build/bench/pingpong
 *   GORO_PROCS=1 build/bench/pingpong [-n N] [-r R]   (default 2000000, 5)
 *   GORO_PROCS=2 build/bench/pingpong                  (the two Gs may run
 *                                                       on different Ps)
 * Output ends with: RESULT pingpong_ns_per_roundtrip_<procs>p <median>
 */
#include <goro.h>

#include <inttypes.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

static long nflag = 2000000;
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
        fprintf(stderr, "pingpong: out of memory\n");
        return;
    }
    goro_wg_add(wg, 1);
    goro_go(echoer, wg);
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < nflag; i++) {
            long v = i, back = -1;
            if (goro_chan_send(ping, &v) != 0 ||
                goro_chan_recv(pong, &back) != 0 || back != i) {
                fprintf(stderr, "pingpong: round trip %ld failed\n", i);
                return;
            }
        }
        round_ns[r] = (double)(now_ns() - t0) / (double)nflag;
        printf("round %d: %.1f ns per round trip\n", r + 1, round_ns[r]);
    }
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
        fprintf(stderr, "pingpong: goro_run: error %d\n", rc);
        return 1;
    }
    goro_stats st;
    goro_stats_get(&st);
    if (status == 0)
        printf("RESULT pingpong_ns_per_roundtrip_%" PRIu64 "p %.1f\n",
               st.procs, median(round_ns, rounds));
    return status;
}
