/*
 * tests/stress/parked.c - a million Gs parked at once.
 *
 * What it does: the main G reads the resident set (RSS), spawns N Gs
 * (1,000,000 by default) and times it. Each G keeps a local array, counts
 * itself in, and parks receiving from one unbuffered channel that nobody
 * sends on. Once every G is parked (goro_metrics_get's gs_waiting, looked
 * at every 10 ms), the main G reads RSS again, closes the channel -- which
 * wakes every receiver -- and times until all have finished: each checks
 * its array, marks its own slot in a table of N flags and exits.
 *
 * Criteria: every G accounted for (N flags set, each once, every array
 * intact); RSS per parked G no more than B bytes (-b, 8192 by default). A
 * parked G needs its G (some 200 bytes), its 2 KiB starting stack, its
 * channel wait entry (a sudog, 56 bytes) and its slot in the runtime's
 * table of Gs: about 2.4 KiB with the allocators' rounding (Go: 2.7 KiB).
 * 8 KiB is three times that: what a regression to a page-granular stack
 * (4 KiB and a guard page), stacks that are not started small, or a leak of
 * a few KiB per G would exceed, while the allocators' slack would not.
 *
 * Memory mappings: the runtime's stacks come from chunks of 64 spans (2 MiB
 * with the default sizes), so a million parked Gs need about a thousand
 * mappings, far below vm.max_map_count (65530 by default); the mapping
 * count at the peak is printed. With GORO_STACK_FROM_SYSTEM=1 (a debug
 * mode) every stack is a mapping of its own plus a guard page: the program
 * refuses to start when N would exceed vm.max_map_count, saying so, rather
 * than have the runtime die half-way.
 *
 * Run:
 *   make build/tests/stress/parked
 *   GORO_PROCS=2 build/tests/stress/parked [-n N] [-b BYTES_PER_G]
 *
 * Output: the times, the RSS figures, and a last line
 * "STRESS parked PASS|FAIL ...".
 */
#include <goro.h>

#define STRESS_NAME "parked"
#define STRESS_USAGE "[-n GS] [-b MAX_BYTES_PER_G]"
#include "stress.h"

#include <getopt.h>

#define KEEP_WORDS 8
#define POLL_NS (10 * 1000 * 1000)     /* looking for all parked */

static long ngs = 1000000, maxpergs = 8192;
static unsigned char *seen;   /* one flag per G, set when it finished */
static goro_chan *start;      /* closed to wake them all */
static goro_wg *finished;
static _Atomic long badkept, badrecv, dupes;

static void parker(void *arg)
{
    long i = (long)(intptr_t)arg;
    volatile uint64_t keep[KEEP_WORDS];
    for (int j = 0; j < KEEP_WORDS; j++)
        keep[j] = (uint64_t)i * 31 + (uint64_t)j;
    char v;
    if (goro_chan_recv(start, &v) != -EPIPE)
        atomic_fetch_add(&badrecv, 1);
    for (int j = 0; j < KEEP_WORDS; j++)
        if (keep[j] != (uint64_t)i * 31 + (uint64_t)j)
            atomic_fetch_add(&badkept, 1);
    if (seen[i] != 0)
        atomic_fetch_add(&dupes, 1);
    seen[i] = 1;
    goro_wg_done(finished);
}

static void main_g(void *arg)
{
    (void)arg;
    start = goro_chan_new(1, 0);
    finished = goro_wg_new();
    if (start == NULL || finished == NULL) {
        check(false, "goro_chan_new/goro_wg_new: out of memory");
        return;
    }
    goro_metrics m0 = {.size = sizeof m0};
    goro_metrics_get(&m0);
    rss before = rss_now();
    printf("parked: %ld Gs\n", ngs);
    printf("rss before spawning: %.1f MiB\n", mib(before.total));

    goro_wg_add(finished, ngs);
    int64_t t0 = now_ns();
    long spawned = 0;
    for (; spawned < ngs; spawned++) {
        int64_t id = goro_go(parker, (void *)(intptr_t)spawned);
        if (id < 0) {
            check(false, "goro_go of G %ld: error %" PRId64, spawned, id);
            goro_wg_add(finished, -(ngs - spawned));
            break;
        }
    }
    int64_t t1 = now_ns();
    /* Every G parked: the waiting ones are ours and whatever waited
     * before we started. */
    goro_metrics m = {.size = sizeof m};
    for (;;) {
        goro_metrics_get(&m);
        if (m.gs_waiting >= m0.gs_waiting + (uint64_t)spawned)
            break;
        goro_sleep_ns(POLL_NS);
    }
    int64_t t2 = now_ns();
    rss parked = rss_now();
    long maps = map_count();
    goro_stats st;
    goro_stats_get(&st);

    goro_chan_close(start);
    goro_wg_wait(finished);
    int64_t t3 = now_ns();
    rss after = rss_now();

    long count = 0;
    for (long i = 0; i < ngs; i++)
        count += seen[i];
    double pergs = (double)(parked.total - before.total) / (double)ngs;
    printf("spawned %ld Gs in %.3f s (%.0f ns per G); all parked %.3f s "
           "after the first spawn\n", spawned, (double)(t1 - t0) / 1e9,
           (double)(t1 - t0) / (double)ngs, (double)(t2 - t0) / 1e9);
    printf("rss with all parked: %.1f MiB (anon %.1f MiB): %.0f bytes per "
           "G; stack bytes in use %.1f MiB (%.0f per G), threads %" PRIu64
           "\n", mib(parked.total), mib(parked.anon), pergs,
           mib((long)st.stack_bytes_inuse),
           (double)st.stack_bytes_inuse / (double)ngs, st.threads);
    printf("memory mappings with all parked: %ld (vm.max_map_count %ld)\n",
           maps, max_map_count());
    printf("woke and finished all in %.3f s (%.0f ns per G)\n",
           (double)(t3 - t2) / 1e9, (double)(t3 - t2) / (double)ngs);
    printf("rss after they finished: %.1f MiB\n", mib(after.total));
    check(count == ngs && spawned == ngs && dupes == 0,
          "Gs accounted for: %ld of %ld finished (%ld twice)", count, ngs,
          (long)dupes);
    check(badrecv == 0 && badkept == 0,
          "each G: woken by the close (%ld were not), its stack intact "
          "(%ld words wrong)", (long)badrecv, (long)badkept);
    check(pergs <= (double)maxpergs, "rss per parked G %.0f bytes "
          "(allowed: %ld)", pergs, maxpergs);
    printf("RESULT parked_rss_bytes_per_g %.0f\n", pergs);
    printf("RESULT parked_spawn_ns_per_g %.0f\n",
           (double)(t1 - t0) / (double)ngs);
    printf("RESULT parked_wake_ns_per_g %.0f\n",
           (double)(t3 - t2) / (double)ngs);
    goro_chan_free(start);
    goro_wg_free(finished);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "n:b:")) != -1) {
        switch (c) {
        case 'n': ngs = parse_long(argv[0], c, optarg, 1, 100000000); break;
        case 'b': maxpergs = parse_long(argv[0], c, optarg, 1, 1 << 30); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    const char *fromsys = getenv("GORO_STACK_FROM_SYSTEM");
    long maxmaps = max_map_count();
    if (fromsys != NULL && strcmp(fromsys, "1") == 0 && maxmaps > 0 &&
        2 * ngs + 1000 > maxmaps) {
        fprintf(stderr, "parked: GORO_STACK_FROM_SYSTEM=1 maps every stack "
                "with a guard page (2 mappings a G): %ld Gs need some %ld "
                "mappings, more than vm.max_map_count = %ld; raise it "
                "(sysctl vm.max_map_count=...) or use -n %ld or less\n",
                ngs, 2 * ngs + 1000, maxmaps, (maxmaps - 1000) / 2);
        return 2;
    }
    /* Touched before the runtime starts: not counted per G. */
    seen = calloc((size_t)ngs, 1);
    if (seen == NULL) {
        fprintf(stderr, "parked: cannot allocate %ld flags\n", ngs);
        return 1;
    }
    memset(seen, 1, (size_t)ngs);
    memset(seen, 0, (size_t)ngs);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "parked: goro_run: error %d\n", rc);
        return 1;
    }
    printf("STRESS parked %s\n", stress_failed ? "FAIL" : "PASS");
    return stress_failed;
}
