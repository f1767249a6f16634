/*
 * bench/ring.c - a ring of Gs passing a token over unbuffered channels.
 *
 * G i receives on channel i and sends on channel i+1 (the last one on
 * channel 0): G Gs, G channels. The main G puts a token carrying a hop
 * count into channel 0; each G takes it, counts one hop down and passes
 * it on, until a G finds the count at zero and tells the main G. The time
 * from the token's start to that word over the hops is a round's figure
 * (the ring is built and torn down outside it); R rounds, median. Only one
 * G is runnable at a time: each hop readies the next G in the ring, which
 * the scheduler runs on the same P (runnext) or hands to another.
 *
 * Run:
 *   make build/bench/ring
 *   GORO_PROCS=2 build/bench/ring [-g GS] [-n HOPS] [-r R]
 *     -g GS    Gs in the ring (default 10000)
 *     -n HOPS  hops per round (default 2000000, 200 laps of 10,000)
 *     -r R     rounds (default 5)
 * Output ends with: RESULT ring_ns_per_hop_<procs>p <median>
 */
#include <goro.h>

#include <inttypes.h>

#define BENCH_USAGE "[-g GS] [-n HOPS] [-r ROUNDS]"
#include "bench.h"

static long ngs = 10000;
static long hops = 2000000;
static int rounds = 5;
static double *round_ns;
static int status = 1;
static goro_chan **ch;          /* ch[i]: into G i */
static goro_chan *done;         /* the token's end */
static goro_wg *wg;

static void member(void *arg)
{
    long i = (long)(intptr_t)arg;
    goro_chan *in = ch[i], *out = ch[(i + 1) % ngs];
    long v;
    while (goro_chan_recv(in, &v) == 0) {
        if (v == 0) {
            goro_chan_send(done, &v);
            continue;
        }
        v--;
        if (goro_chan_send(out, &v) != 0)
            break;
    }
    goro_wg_done(wg);
}

static void main_g(void *arg)
{
    (void)arg;
    ch = calloc((size_t)ngs, sizeof *ch);
    done = goro_chan_new(sizeof(long), 1);
    wg = goro_wg_new();
    if (ch == NULL || done == NULL || wg == NULL) {
        fprintf(stderr, "ring: out of memory\n");
        return;
    }
    for (int r = 0; r < rounds; r++) {
        for (long i = 0; i < ngs; i++)
            if ((ch[i] = goro_chan_new(sizeof(long), 0)) == NULL) {
                fprintf(stderr, "ring: out of memory\n");
                return;
            }
        goro_wg_add(wg, ngs);
        for (long i = 0; i < ngs; i++)
            if (goro_go(member, (void *)(intptr_t)i) < 0) {
                fprintf(stderr, "ring: goro_go failed\n");
                return;
            }
        long v = hops, end = -1;
        int64_t t0 = now_ns();
        if (goro_chan_send(ch[0], &v) != 0 ||
            goro_chan_recv(done, &end) != 0 || end != 0) {
            fprintf(stderr, "ring: the token was lost\n");
            return;
        }
        round_ns[r] = (double)(now_ns() - t0) / (double)hops;
        printf("round %d: %.1f ns per hop\n", r + 1, round_ns[r]);
        for (long i = 0; i < ngs; i++)
            goro_chan_close(ch[i]);
        goro_wg_wait(wg);
        for (long i = 0; i < ngs; i++)
            goro_chan_free(ch[i]);
    }
    goro_chan_free(done);
    goro_wg_free(wg);
    free(ch);
    status = 0;
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "g:n:r:")) != -1) {
        switch (c) {
        case 'g': ngs = parse_pos(argv[0], optarg, 10000000); break;
        case 'n': hops = parse_pos(argv[0], optarg, INT64_MAX / 2); break;
        case 'r': rounds = (int)parse_pos(argv[0], optarg, 1000); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc || ngs < 2)
        usage(argv[0]);
    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL)
        return 1;
    printf("ring: %ld Gs, %ld hops per round, %d rounds\n", ngs, hops,
           rounds);
    fflush(stdout);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "ring: goro_run: error %d\n", rc);
        return 1;
    }
    goro_stats st;
    goro_stats_get(&st);
    if (status == 0)
        printf("RESULT ring_ns_per_hop_%" PRIu64 "p %.1f\n", st.procs,
               median(round_ns, rounds));
    return status;
}
