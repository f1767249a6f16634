/*
 * tests/stress/growshrink.c - 100,000 Gs grow to 256 KiB, park, and are
 * shrunk back to the minimum by stack scans.
 *
 * What it does: the main G spawns N Gs (100,000 by default). Each G takes a
 * token from a buffered channel of capacity C (8,000 by default) -- so at
 * most C Gs are grown at once -- then recurses through D frames of 1 KiB
 * (176 by default: 176 KiB and more in use, so the stack is copied up
 * 2 -> 4 -> ... -> 256 KiB), each frame filled with values derived from
 * the G's index and checked after the frames below it returned. The
 * deepest frame measures how much stack is in use: the distance from a
 * local of the G's entry function, passed down as a pointer (which every
 * copy of the stack must adjust), to its own locals; more than 128 KiB in
 * use means a 256 KiB stack. The G then returns the token, keeps a small
 * local array and parks on a wait group (the gate) until all N have
 * parked. Once all have, the main G runs stack scans until one shrinks
 * nothing (each halves a stack that uses under a quarter: from 256 KiB to
 * the minimum takes log2(256 KiB / 2 KiB) = 7 scans), reads the stack
 * bytes in use, opens the gate, and every G checks its array and exits.
 *
 * Why bounded: N Gs at 256 KiB would need 25 GiB at once, more than the
 * machine's memory. C = 8,000 Gs at 256 KiB is 2 GiB: large enough that
 * thousands of copies are in flight on every P while the scans run, small
 * enough to leave the rest of the machine alone.
 *
 * Criteria: every G's frames and kept values correct; every G saw more than
 * 128 KiB of its stack in use (it grew to 256 KiB); after the scans the
 * stack bytes in use are within P percent (-p, 5) above N times the
 * minimum stack (GORO_STACK_MIN_SIZE, 2 KiB by default): every parked G
 * back at the minimum, the main G and the runtime's own few Gs aside.
 *
 * Run:
 *   make build/tests/stress/growshrink
 *   GORO_PROCS=2 build/tests/stress/growshrink [-n N] [-c C] [-d DEPTH]
 *                                               [-p PERCENT]
 *
 * Output: the times, the stack and RSS figures, and a last line
 * "STRESS growshrink PASS|FAIL ...".
 */
#include <goro.h>

#define STRESS_NAME "growshrink"
#define STRESS_USAGE "[-n GS] [-c CONCURRENT] [-d DEPTH] [-p PERCENT]"
#include "stress.h"

#include <getopt.h>

#define FRAME_WORDS 128                  /* 1 KiB of locals a frame */
#define KEEP_WORDS 8
#define MAX_SCANS 64                     /* a shrink scan that never ends */
#define POLL_NS (50 * 1000 * 1000)       /* RSS sampling while growing */

static long ngs = 100000, concurrent = 8000, depth = 176, slack = 5;
static goro_chan *tokens;
static goro_wg *arrived, *gate, *finished;
static long *used;              /* per G: stack in use at its deepest */
static _Atomic long badframes, badkept, badresult;
static _Atomic bool growing = true;
static long peakrss;

static inline uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t word(long i, long level, int j)
{
    return mix(((uint64_t)i << 20) ^ ((uint64_t)level << 8) ^ (uint64_t)j);
}

/* climb fills a 1 KiB frame, recurses, checks its frame and returns the
 * sum of every frame's words; the deepest one records the stack in use
 * below top. */
static __attribute__((noinline)) uint64_t climb(long i, long level,
                                                const char *top)
{
    volatile uint64_t local[FRAME_WORDS];
    for (int j = 0; j < FRAME_WORDS; j++)
        local[j] = word(i, level, j);
    uint64_t sum;
    if (level > 1)
        sum = climb(i, level - 1, top);
    else {
        sum = 0;
        used[i] = top - (const char *)&local[0];
    }
    for (int j = 0; j < FRAME_WORDS; j++) {
        if (local[j] != word(i, level, j))
            atomic_fetch_add(&badframes, 1);
        sum += local[j];
    }
    return sum;
}

static uint64_t expected(long i)
{
    uint64_t sum = 0;
    for (long level = 1; level <= depth; level++)
        for (int j = 0; j < FRAME_WORDS; j++)
            sum += word(i, level, j);
    return sum;
}

static void grower(void *arg)
{
    long i = (long)(intptr_t)arg;
    volatile char top = 0;
    char tok = 0;
    goro_chan_send(tokens, &tok);            /* at most C grow at once */
    uint64_t sum = climb(i, depth, (const char *)&top);
    goro_chan_recv(tokens, &tok);
    volatile uint64_t keep[KEEP_WORDS];
    for (int j = 0; j < KEEP_WORDS; j++)
        keep[j] = sum + (uint64_t)j;
    goro_wg_done(arrived);
    goro_wg_wait(gate);
    for (int j = 0; j < KEEP_WORDS; j++)
        if (keep[j] != sum + (uint64_t)j)
            atomic_fetch_add(&badkept, 1);
    if (sum != expected(i))
        atomic_fetch_add(&badresult, 1);
    (void)top;
    goro_wg_done(finished);
}

/* sampler records the peak RSS while the Gs grow. */
static void sampler(void *arg)
{
    goro_wg *done = arg;
    while (atomic_load(&growing)) {
        long r = rss_now().total;
        if (r > peakrss)
            peakrss = r;
        goro_sleep_ns(POLL_NS);
    }
    goro_wg_done(done);
}

static long stack_min(void)
{
    const char *v = getenv("GORO_STACK_MIN_SIZE");
    long n = v != NULL ? strtol(v, NULL, 0) : 2048;
    return n > 0 ? n : 2048;
}

static void main_g(void *arg)
{
    (void)arg;
    tokens = goro_chan_new(1, (size_t)concurrent);
    arrived = goro_wg_new();
    gate = goro_wg_new();
    finished = goro_wg_new();
    goro_wg *samplerdone = goro_wg_new();
    if (tokens == NULL || arrived == NULL || gate == NULL ||
        finished == NULL || samplerdone == NULL) {
        check(false, "out of memory for the channel and wait groups");
        return;
    }
    rss before = rss_now();
    printf("growshrink: %ld Gs to %ld frames of %zu bytes, %ld at once\n",
           ngs, depth, sizeof(uint64_t) * FRAME_WORDS, concurrent);
    printf("rss before: %.1f MiB\n", mib(before.total));
    goro_wg_add(samplerdone, 1);
    goro_go(sampler, samplerdone);

    goro_wg_add(arrived, ngs);
    goro_wg_add(gate, 1);
    goro_wg_add(finished, ngs);
    int64_t t0 = now_ns();
    long spawned = 0;
    for (; spawned < ngs; spawned++) {
        int64_t id = goro_go(grower, (void *)(intptr_t)spawned);
        if (id < 0) {
            check(false, "goro_go of G %ld: error %" PRId64, spawned, id);
            goro_wg_add(arrived, -(ngs - spawned));
            goro_wg_add(finished, -(ngs - spawned));
            break;
        }
    }
    goro_wg_wait(arrived);
    int64_t t1 = now_ns();
    atomic_store(&growing, false);
    goro_wg_wait(samplerdone);
    goro_stats grown;
    goro_stats_get(&grown);
    rss atpark = rss_now();

    int scans = 0, shrunk, total = 0;
    do {
        shrunk = goro_stack_scan();
        total += shrunk;
        scans++;
    } while (shrunk > 0 && scans < MAX_SCANS);
    int64_t t2 = now_ns();
    goro_metrics m = {.size = sizeof m};
    goro_metrics_get(&m);
    rss shrunkrss = rss_now();

    goro_wg_done(gate);
    goro_wg_wait(finished);
    int64_t t3 = now_ns();

    long small = 0, minused = -1;
    for (long i = 0; i < spawned; i++) {
        if (used[i] <= 128 * 1024)
            small++;
        if (minused < 0 || used[i] < minused)
            minused = used[i];
    }
    long min = stack_min();
    double want = (double)ngs * (double)min;
    printf("grown, returned and parked: %.2f s; %" PRIu64 " grows, %.1f GiB "
           "copied; peak rss %.1f MiB\n", (double)(t1 - t0) / 1e9,
           grown.stack_grows, (double)grown.stack_copied_bytes / 1073741824.0,
           mib(peakrss));
    printf("stack in use at the deepest frame: at least %ld KiB in every G\n",
           minused / 1024);
    printf("all parked: stack bytes in use %.1f MiB, rss %.1f MiB\n",
           mib((long)grown.stack_bytes_inuse), mib(atpark.total));
    printf("%d scans (%.2f s) shrank %d stacks (%" PRIu64 " shrinks in all, "
           "the periodic scans' included): stack bytes in use %.1f MiB "
           "(%.0f per parked G; %.0f bytes at the minimum order), rss %.1f "
           "MiB\n", scans, (double)(t2 - t1) / 1e9, total, m.stack_shrinks,
           mib((long)m.stack_bytes_inuse),
           (double)m.stack_bytes_inuse / (double)ngs,
           (double)m.stack_bytes_by_order[0] / (double)ngs,
           mib(shrunkrss.total));
    printf("woke and finished: %.2f s\n", (double)(t3 - t2) / 1e9);
    check(spawned == ngs && badframes == 0 && badkept == 0 &&
          badresult == 0, "values: %ld frame words, %ld kept words, %ld "
          "results wrong", (long)badframes, (long)badkept, (long)badresult);
    check(small == 0, "growth: %ld Gs had 128 KiB or less in use at their "
          "deepest (a 256 KiB stack needs more)", small);
    check(shrunk == 0, "scans: %d, the last of which shrank nothing (at most "
          "%d allowed)", scans, MAX_SCANS);
    check((double)m.stack_bytes_inuse <= want * (1.0 + slack / 100.0),
          "stack bytes in use after the scans %.1f MiB: within %ld%% above "
          "%ld Gs x %ld bytes = %.1f MiB", mib((long)m.stack_bytes_inuse),
          slack, ngs, min, want / 1048576.0);
    printf("RESULT growshrink_peak_rss_kib %ld\n", peakrss / 1024);
    printf("RESULT growshrink_stack_bytes_after_scans %" PRIu64 "\n",
           m.stack_bytes_inuse);
    printf("RESULT growshrink_rss_after_scans_kib %ld\n",
           shrunkrss.total / 1024);
    goro_chan_free(tokens);
    goro_wg_free(arrived);
    goro_wg_free(gate);
    goro_wg_free(finished);
    goro_wg_free(samplerdone);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "n:c:d:p:")) != -1) {
        switch (c) {
        case 'n': ngs = parse_long(argv[0], c, optarg, 1, 10000000); break;
        case 'c': concurrent = parse_long(argv[0], c, optarg, 1, 1000000);
                  break;
        case 'd': depth = parse_long(argv[0], c, optarg, 1, 100000); break;
        case 'p': slack = parse_long(argv[0], c, optarg, 0, 1000); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    used = calloc((size_t)ngs, sizeof *used);
    if (used == NULL) {
        fprintf(stderr, "growshrink: cannot allocate %ld figures\n", ngs);
        return 1;
    }
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "growshrink: goro_run: error %d\n", rc);
        return 1;
    }
    printf("STRESS growshrink %s\n", stress_failed ? "FAIL" : "PASS");
    return stress_failed;
}
