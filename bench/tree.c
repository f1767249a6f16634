/*
 * bench/tree.c - a binary tree of Gs, each reporting to its parent over an
 * unbuffered channel.
 *
 * The main G spawns the root of a complete binary tree of DEPTH levels
 * below the root (default 19: 1,048,575 Gs) and waits for its result. An
 * inner node makes an unbuffered channel, spawns its two children, receives
 * their results, frees the channel and sends its subtree's size (1 + the
 * children's results) to its parent; a leaf sends 1. So every G is spawned,
 * parks at most twice (its receive, its send) and exits, and every report
 * readies a G. Node i's children are 2i+1 and 2i+2; a G's argument is its
 * index, its parent's channel is kept in an array indexed by it (no
 * malloc, unlike bench/libctree.c). The wall time of one tree is a round's
 * figure; R rounds, median.
 *
 * Run:
 *   make build/bench/tree
 *   GORO_PROCS=2 build/bench/tree [-d DEPTH] [-r R]   (default 19, 5)
 * Output ends with: RESULT tree_ms_<procs>p <median ms per tree>
 */
#include <goro.h>

#include <inttypes.h>

#define BENCH_USAGE "[-d DEPTH] [-r ROUNDS]"
#include "bench.h"

static long depth = 19;
static int rounds = 5;
static long nodes;
static double *round_ms;
static int status = 1;
static goro_chan **up;          /* up[i]: node i's parent's channel */

static void fail(const char *what)
{
    fprintf(stderr, "tree: %s\n", what);
    exit(1);
}

static void node(void *arg)
{
    long i = (long)(intptr_t)arg;
    long sum = 1;
    if (2 * i + 1 < nodes) {
        goro_chan *c = goro_chan_new(sizeof(long), 0);
        if (c == NULL)
            fail("out of memory");
        up[2 * i + 1] = up[2 * i + 2] = c;
        if (goro_go(node, (void *)(intptr_t)(2 * i + 1)) < 0 ||
            goro_go(node, (void *)(intptr_t)(2 * i + 2)) < 0)
            fail("goro_go failed");
        for (int k = 0; k < 2; k++) {
            long v;
            if (goro_chan_recv(c, &v) != 0)
                fail("receive failed");
            sum += v;
        }
        goro_chan_free(c);
    }
    if (goro_chan_send(up[i], &sum) != 0)
        fail("send failed");
}

static void main_g(void *arg)
{
    (void)arg;
    goro_chan *result = goro_chan_new(sizeof(long), 0);
    if (result == NULL)
        fail("out of memory");
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        up[0] = result;
        if (goro_go(node, (void *)(intptr_t)0) < 0)
            fail("goro_go failed");
        long got = 0;
        if (goro_chan_recv(result, &got) != 0 || got != nodes) {
            fprintf(stderr, "tree: the root said %ld nodes, not %ld\n", got,
                    nodes);
            return;
        }
        int64_t t1 = now_ns();
        round_ms[r] = (double)(t1 - t0) / 1e6;
        printf("round %d: %.1f ms per tree (%.1f ns per G)\n", r + 1,
               round_ms[r], (double)(t1 - t0) / (double)nodes);
        fflush(stdout);
    }
    goro_chan_free(result);
    status = 0;
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "d:r:")) != -1) {
        switch (c) {
        case 'd': depth = parse_pos(argv[0], optarg, 26); break;
        case 'r': rounds = (int)parse_pos(argv[0], optarg, 1000); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    nodes = (2L << depth) - 1;
    up = calloc((size_t)nodes, sizeof *up);
    round_ms = calloc((size_t)rounds, sizeof *round_ms);
    if (up == NULL || round_ms == NULL)
        fail("out of memory");
    printf("tree: depth %ld: %ld Gs per tree, %d rounds\n", depth, nodes,
           rounds);
    fflush(stdout);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "tree: goro_run: error %d\n", rc);
        return 1;
    }
    goro_stats st;
    goro_stats_get(&st);
    if (status == 0)
        printf("RESULT tree_ms_%" PRIu64 "p %.1f\n", st.procs,
               median(round_ms, rounds));
    free(up);
    free(round_ms);
    return status;
}
