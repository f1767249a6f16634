/*
 * bench/libctree.c - a tree of Gs that malloc, free and talk over channels.
 *
 * What it measures: the main G spawns the root of a tree of Gs, FANOUT
 * children a node, DEPTH levels below the root (default 10 and 6:
 * 1,111,111 Gs), and waits for the root's result. A node reads the
 * argument struct its parent malloc'd for it (its depth and its parent's
 * channel) and frees it; an inner node then makes a channel (capacity
 * FANOUT), mallocs one argument struct per child, spawns its children,
 * receives their results, frees the channel and sends up the size of its
 * subtree (1 + the children's results); a leaf sends up 1. Every G thus
 * calls libc (free; the inner nodes malloc too) and parks at most once.
 * The wall time of one tree (spawn of the root to its result in the main
 * G, CLOCK_MONOTONIC) is a round's figure; R rounds, median.
 *
 * The runtime's stack figures (goro_stats) are printed per G: stack grows
 * and the bytes copied by them, over all rounds.
 *
 * Run:
 *   make build/bench/libctree
 *   GORO_PROCS=2 build/bench/libctree [-f FANOUT] [-d DEPTH] [-r R]
 *     -f FANOUT  children per inner node (default 10)
 *     -d DEPTH   levels below the root (default 6)
 *     -r R       rounds (default 5)
 *
 * Output: one line per round, the median, the runtime's figures at the end
 * and a last machine-readable line
 *   RESULT libctree_ms_<procs>p <median ms per tree>
 */
#include <goro.h>

#define BENCH_USAGE "[-f FANOUT] [-d DEPTH] [-r ROUNDS]"
#include "bench.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_FANOUT 10
#define DEFAULT_DEPTH 6
#define DEFAULT_ROUNDS 5
#define MAX_NODES 100000000L    /* a bound on the tree's size */

struct node_arg {
    long depth;                 /* the root's is 0 */
    goro_chan *up;              /* the parent's channel: this node's result */
};

static long fanout = DEFAULT_FANOUT;
static long depth = DEFAULT_DEPTH;
static int rounds = DEFAULT_ROUNDS;
static long nodes;              /* in a tree */
static double *round_ms;        /* ms per tree of each round */
static uint64_t procs;          /* the runtime's Ps, for the RESULT name */
static int status = 1;          /* exit status; 0 once the main G finished */

static void oom(void)
{
    fprintf(stderr, "libctree: out of memory\n");
    exit(1);
}

static void node(void *arg)
{
    struct node_arg *a = arg;
    long d = a->depth;
    goro_chan *up = a->up;
    free(a);

    long sum = 1;
    if (d < depth) {
        goro_chan *c = goro_chan_new(sizeof(long), (size_t)fanout);
        if (c == NULL)
            oom();
        for (long k = 0; k < fanout; k++) {
            struct node_arg *ca = malloc(sizeof *ca);
            if (ca == NULL)
                oom();
            ca->depth = d + 1;
            ca->up = c;
            int64_t id = goro_go(node, ca);
            if (id < 0) {
                fprintf(stderr, "libctree: goro_go: error %" PRId64 "\n", id);
                exit(1);
            }
        }
        for (long k = 0; k < fanout; k++) {
            long v;
            if (goro_chan_recv(c, &v) != 0) {
                fprintf(stderr, "libctree: receive failed\n");
                exit(1);
            }
            sum += v;
        }
        goro_chan_free(c);
    }
    if (goro_chan_send(up, &sum) != 0) {
        fprintf(stderr, "libctree: send failed\n");
        exit(1);
    }
}

static void main_g(void *arg)
{
    (void)arg;
    goro_chan *result = goro_chan_new(sizeof(long), 1);
    if (result == NULL)
        oom();
    goro_stats st0;
    goro_stats_get(&st0);
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        struct node_arg *a = malloc(sizeof *a);
        if (a == NULL)
            oom();
        a->depth = 0;
        a->up = result;
        int64_t id = goro_go(node, a);
        if (id < 0) {
            fprintf(stderr, "libctree: goro_go: error %" PRId64 "\n", id);
            return;
        }
        long got = 0;
        if (goro_chan_recv(result, &got) != 0 || got != nodes) {
            fprintf(stderr, "libctree: the root said %ld nodes, not %ld\n",
                    got, nodes);
            return;
        }
        int64_t t1 = now_ns();
        round_ms[r] = (double)(t1 - t0) / 1e6;
        printf("round %d: %.1f ms per tree (%.1f ns per G)\n", r + 1,
               round_ms[r], (double)(t1 - t0) / (double)nodes);
        fflush(stdout);
    }
    goro_chan_free(result);

    goro_stats st;
    goro_stats_get(&st);
    double ng = (double)nodes * rounds;
    printf("median: %.1f ms per tree\n", median(round_ms, rounds));
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
    int c;
    while ((c = getopt(argc, argv, "f:d:r:")) != -1) {
        switch (c) {
        case 'f': fanout = parse_pos(argv[0], optarg, 1000); break;
        case 'd': depth = parse_pos(argv[0], optarg, 64); break;
        case 'r': rounds = (int)parse_pos(argv[0], optarg, 1000); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    /* nodes = 1 + fanout + ... + fanout^depth, within MAX_NODES */
    long level = 1;
    nodes = 1;
    for (long d = 1; d <= depth; d++) {
        if (level > MAX_NODES / fanout)
            usage(argv[0]);
        level *= fanout;
        nodes += level;
        if (nodes > MAX_NODES)
            usage(argv[0]);
    }

    round_ms = calloc((size_t)rounds, sizeof *round_ms);
    if (round_ms == NULL)
        oom();
    printf("libctree: fan-out %ld, depth %ld: %ld Gs per tree, %d rounds\n",
           fanout, depth, nodes, rounds);
    fflush(stdout);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "libctree: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0)
        printf("RESULT libctree_ms_%" PRIu64 "p %.1f\n", procs,
               median(round_ms, rounds));
    free(round_ms);
    return status;
}
