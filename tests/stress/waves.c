/*
 * tests/stress/waves.c - a million Gs in waves: does the memory come back?
 *
 * What it does: the main G reads the process's resident set (RSS) once the
 * runtime has started and before anything else, then runs W waves (10 by
 * default) of N Gs (100,000): each wave spawns its N Gs, all live at once.
 * Each G
 *   - does a little work (a hash of its wave and index),
 *   - grows its stack a little: a recursion of D frames (8 by default, some
 *     3 KiB in all, so the 2 KiB starting stack is copied to 4 KiB) that
 *     fills each frame with values derived from the hash and checks them
 *     after the call below it returned,
 *   - parks on a wait group (the "gate") until the whole wave has arrived,
 *     keeping a local array across the park that it checks when it wakes
 *     (the periodic scan may shrink the stack meanwhile),
 *   - stores its result and exits.
 * The main G checks every result, and that the wave grew at least N
 * stacks. After the last wave it gives the runtime the chance to give its
 * memory back: S stack scans (goro_stack_scan, 3 by default: a dead G's
 * memory is released once it has sat on the free list for a whole scan
 * interval, i.e. by the second scan after it died), 50 ms apart so that
 * the idle Ps have gone idle, and reads RSS again.
 *
 * The starting level is read once the runtime runs an M (thread) for each
 * P: it starts them as work for every P appears, and keeps them (as Go
 * does), so they are part of what the program costs before any wave, not
 * something a wave leaves behind (some 150 KiB each: stack, signal stack,
 * caches). A few Gs of 2 ms of work each make it start them; the RSS
 * before them is printed too.
 *
 * Criteria: every G's values correct; every wave grew N stacks; RSS after
 * the last wave within T percent (10) of RSS before the first.
 *
 * Run:
 *   make build/tests/stress/waves
 *   GORO_PROCS=2 build/tests/stress/waves [-w WAVES] [-n N] [-d DEPTH]
 *                                          [-s SCANS] [-t PERCENT]
 *
 * Output: the RSS before, at the peak of each wave and after, the runtime's
 * figures, and a last line "STRESS waves PASS|FAIL ...".
 */
#include <goro.h>

#define STRESS_NAME "waves"
#define STRESS_USAGE "[-w WAVES] [-n GS_PER_WAVE] [-d DEPTH] [-s SCANS] " \
                     "[-t PERCENT]"
#include "stress.h"

#include <getopt.h>

#define FRAME_WORDS 32                   /* 256 bytes of locals a frame */
#define KEEP_WORDS 16                    /* kept across the park */
#define SETTLE_NS (50 * 1000 * 1000)     /* between the scans at the end */

static long nwaves = 10, pergwave = 100000, depth = 8, nscans = 3;
static long tolerance = 10;              /* percent */

static uint64_t *results;   /* one per G of a wave */
static long curwave;
static goro_wg *arrived, *gate, *finished;
static _Atomic long badframes, badkept;

/* mix: a 64-bit hash (splitmix64's finalizer). */
static inline uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t word(uint64_t seed, long level, int j)
{
    return mix(seed ^ ((uint64_t)level << 8) ^ (uint64_t)j);
}

/* dive fills a frame, recurses level-1 more times, checks the frame and
 * returns the sum of every frame's words. noinline and the volatile array
 * keep real frames on the stack. */
static __attribute__((noinline)) uint64_t dive(uint64_t seed, long level)
{
    volatile uint64_t local[FRAME_WORDS];
    for (int j = 0; j < FRAME_WORDS; j++)
        local[j] = word(seed, level, j);
    uint64_t sum = level > 1 ? dive(seed, level - 1) : 0;
    for (int j = 0; j < FRAME_WORDS; j++) {
        if (local[j] != word(seed, level, j))
            atomic_fetch_add(&badframes, 1);
        sum += local[j];
    }
    return sum;
}

/* expected computes what the G for (wave, i) stores, without recursion. */
static uint64_t expected(long wave, long i)
{
    uint64_t seed = mix(((uint64_t)wave << 32) | (uint64_t)i);
    for (int k = 0; k < 64; k++)
        seed = mix(seed);
    uint64_t sum = 0;
    for (long level = depth; level >= 1; level--)
        for (int j = 0; j < FRAME_WORDS; j++)
            sum += word(seed, level, j);
    return seed ^ sum;
}

static void waver(void *arg)
{
    long i = (long)(intptr_t)arg;
    uint64_t seed = mix(((uint64_t)curwave << 32) | (uint64_t)i);
    for (int k = 0; k < 64; k++)        /* the work */
        seed = mix(seed);
    uint64_t sum = dive(seed, depth);   /* the growth */
    volatile uint64_t keep[KEEP_WORDS];
    for (int j = 0; j < KEEP_WORDS; j++)
        keep[j] = seed + (uint64_t)j;
    goro_wg_done(arrived);
    goro_wg_wait(gate);                 /* the park */
    for (int j = 0; j < KEEP_WORDS; j++)
        if (keep[j] != seed + (uint64_t)j)
            atomic_fetch_add(&badkept, 1);
    results[i] = seed ^ sum;
    goro_wg_done(finished);
}

/* busy works for about 2 ms (a hash chain), so that an idle P gets an
 * M to run it. */
static void busy(void *arg)
{
    int64_t end = now_ns() + 2 * 1000 * 1000;
    uint64_t x = (uint64_t)(uintptr_t)arg;
    while (now_ns() < end)
        for (int k = 0; k < 1000; k++)
            x = mix(x);
    results[0] = x;
    goro_wg_done(finished);
}

/* startms has the runtime start an M for each P (see the top). */
static void startms(void)
{
    goro_stats st;
    goro_stats_get(&st);
    for (int round = 0; round < 10 && st.threads < st.procs; round++) {
        goro_wg_add(finished, (int64_t)st.procs);
        for (uint64_t i = 0; i < st.procs; i++)
            goro_go(busy, (void *)(uintptr_t)i);
        goro_wg_wait(finished);
        goro_stats_get(&st);
    }
}

static void print_runtime(const char *when)
{
    goro_metrics m = {.size = sizeof m};
    goro_metrics_get(&m);
    printf("  runtime %s: gs dead (kept for reuse) %" PRIu64 ", waiting %"
           PRIu64 ", stack bytes in use %" PRIu64 " KiB, threads %" PRIu64
           "\n", when, m.gs_dead, m.gs_waiting, m.stack_bytes_inuse / 1024,
           m.ms);
}

static void main_g(void *arg)
{
    (void)arg;
    printf("waves: %ld waves of %ld Gs, recursion depth %ld\n", nwaves,
           pergwave, depth);
    arrived = goro_wg_new();
    gate = goro_wg_new();
    finished = goro_wg_new();
    if (arrived == NULL || gate == NULL || finished == NULL) {
        check(false, "goro_wg_new: out of memory");
        return;
    }
    /* The starting level: the runtime started with its Ms, this program's
     * own set-up done (the results table, stdout's buffer, the wait
     * groups), no G of a wave spawned yet. */
    rss first = rss_now();
    startms();
    print_runtime("before");
    rss before = rss_now();
    printf("rss at start, before the runtime started its Ms: %.1f MiB "
           "(anon %.1f MiB)\n", mib(first.total), mib(first.anon));
    printf("rss before the first wave: %.1f MiB (anon %.1f MiB)\n",
           mib(before.total), mib(before.anon));
    long peak = 0;
    int64_t t0 = now_ns();
    for (long w = 0; w < nwaves; w++) {
        goro_stats st0, st1;
        goro_stats_get(&st0);
        curwave = w;
        goro_wg_add(arrived, pergwave);
        goro_wg_add(gate, 1);
        goro_wg_add(finished, pergwave);
        int64_t ws = now_ns();
        long spawned = 0;
        for (; spawned < pergwave; spawned++) {
            int64_t id = goro_go(waver, (void *)(intptr_t)spawned);
            if (id < 0) {
                check(false, "wave %ld: goro_go of G %ld: error %" PRId64,
                      w, spawned, id);
                goro_wg_add(arrived, -(pergwave - spawned));
                goro_wg_add(finished, -(pergwave - spawned));
                break;
            }
        }
        goro_wg_wait(arrived);
        rss at = rss_now();
        goro_stats_get(&st1);
        if (at.total > peak)
            peak = at.total;
        goro_wg_done(gate);
        goro_wg_wait(finished);
        long bad = 0;
        for (long i = 0; i < spawned; i++)
            if (results[i] != expected(w, i))
                bad++;
        uint64_t grows = st1.stack_grows - st0.stack_grows;
        printf("wave %ld: %ld Gs live and parked at once (gs_live %" PRIu64
               "), rss %.1f MiB, %" PRIu64 " stacks grown, %.0f ms\n", w,
               spawned, st1.gs_live, mib(at.total), grows,
               (double)(now_ns() - ws) / 1e6);
        if (bad != 0 || spawned != pergwave)
            check(false, "wave %ld: %ld of %ld results wrong", w, bad,
                  spawned);
        if (grows < (uint64_t)spawned)
            check(false, "wave %ld: only %" PRIu64 " stacks grew for %ld Gs "
                  "(depth %ld is too shallow to grow a stack?)", w, grows,
                  spawned, depth);
        memset(results, 0, (size_t)pergwave * sizeof *results);
    }
    int64_t t1 = now_ns();
    print_runtime("after the last wave");
    rss last = rss_now();
    for (long s = 0; s < nscans; s++) {
        goro_sleep_ns(SETTLE_NS);
        int64_t ss = now_ns();
        goro_stack_scan();
        printf("  scan %ld: %.1f ms\n", s, (double)(now_ns() - ss) / 1e6);
    }
    goro_sleep_ns(SETTLE_NS);
    rss after = rss_now();
    print_runtime("after the scans");

    printf("%ld Gs in %.2f s (%.0f ns per G)\n", nwaves * pergwave,
           (double)(t1 - t0) / 1e9,
           (double)(t1 - t0) / (double)(nwaves * pergwave));
    printf("rss at the peak of a wave: %.1f MiB\n", mib(peak));
    printf("rss right after the last wave: %.1f MiB (anon %.1f MiB)\n",
           mib(last.total), mib(last.anon));
    printf("rss after %ld scans: %.1f MiB (anon %.1f MiB)\n", nscans,
           mib(after.total), mib(after.anon));
    check(badframes == 0 && badkept == 0,
          "stack contents: %ld frame words and %ld words kept across the "
          "park read back wrong", (long)badframes, (long)badkept);
    long diff = after.total - before.total;
    printf("rss after the waves vs at start: %+.1f%%\n",
           100.0 * (double)(after.total - first.total) / (double)first.total);
    check(labs(diff) * 100 <= tolerance * before.total,
          "rss after the waves %.1f MiB vs %.1f MiB before: %+.1f%% "
          "(allowed: +-%ld%%)", mib(after.total), mib(before.total),
          100.0 * (double)diff / (double)before.total, tolerance);
    printf("RESULT waves_rss_before_kib %ld\n", before.total / 1024);
    printf("RESULT waves_rss_peak_kib %ld\n", peak / 1024);
    printf("RESULT waves_rss_after_kib %ld\n", after.total / 1024);
    goro_wg_free(arrived);
    goro_wg_free(gate);
    goro_wg_free(finished);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "w:n:d:s:t:")) != -1) {
        switch (c) {
        case 'w': nwaves = parse_long(argv[0], c, optarg, 1, 1000); break;
        case 'n': pergwave = parse_long(argv[0], c, optarg, 1, 10000000); break;
        case 'd': depth = parse_long(argv[0], c, optarg, 1, 1000); break;
        case 's': nscans = parse_long(argv[0], c, optarg, 0, 100); break;
        case 't': tolerance = parse_long(argv[0], c, optarg, 0, 1000); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    /* Allocated and touched before the runtime starts: part of the
     * starting RSS, not of what the waves leave behind. */
    results = calloc((size_t)pergwave, sizeof *results);
    if (results == NULL) {
        fprintf(stderr, "waves: cannot allocate %ld results\n", pergwave);
        return 1;
    }
    memset(results, 0xff, (size_t)pergwave * sizeof *results);
    memset(results, 0, (size_t)pergwave * sizeof *results);
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "waves: goro_run: error %d\n", rc);
        return 1;
    }
    printf("STRESS waves %s\n", stress_failed ? "FAIL" : "PASS");
    return stress_failed;
}
