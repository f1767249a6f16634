/*
 * bench/parked_rss.c - resident memory per parked G.
 *
 * What it measures: the main G locks a goro_mutex, reads the process RSS
 * (/proc/self/statm, resident pages * page size), then spawns N Gs. Each
 * uses a little stack (a 256-byte local array in a call, well under the
 * 2 KiB starting stack; with -l in the frame it parks in, so that those
 * bytes stay in use while it waits), signals a "ready" wait group and
 * blocks on the mutex. With -c it first calls libc: snprintf() into a
 * local buffer, malloc() of 64 bytes, a copy of the buffer into them and
 * free(), in a call that has returned when the G parks.
 * Once all N are ready the main G sleeps 100 ms so the last of them are
 * parked, reads RSS again and prints (RSS_after - RSS_before) / N: what a
 * parked G costs in memory, everything the runtime allocated for it
 * included (G struct, stack, wait-list entries, allocator overhead). Then it
 * unlocks the mutex (the Gs pass it along in FIFO order and exit) and joins
 * them.
 *
 * Run:
 *   make build/bench/parked_rss
 *   GORO_PROCS=2 build/bench/parked_rss [-n N] [-g KIB] [-l] [-c]
 *     -n N   Gs to park (default 100000)
 *     -g KIB each G first grows its stack to about KIB KiB in a recursion
 *            and returns from it; stack scans then shrink the parked Gs
 *            (a scan halves a stack used under a quarter: one that parks
 *            with 256 bytes of locals live uses more than a quarter of
 *            2 KiB, so -l -g keeps it at 4 KiB)
 *     -l     the 256-byte array stays live in the frame the G parks in
 *     -c     each G calls libc first (see above); the stack scans are
 *            turned off (GORO_STACK_SCAN_INTERVAL=0, set by the program),
 *            so the figure is what the Gs cost before any scan shrank
 *            their stacks; not with -g
 *
 * Output: the RSS figures, the runtime's stack figures and a last
 * machine-readable line
 *   RESULT parked_rss[_libc][_after_growth_and_scan][_live_local]_bytes_per_g <bytes>
 */
#include <goro.h>

#define BENCH_USAGE "[-n N] [-g KIB] [-l] [-c]"
#include "bench.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_N 100000L
#define SETTLE_NS (100 * 1000 * 1000)  /* let the last Gs reach the mutex */
#define LOCAL_BYTES 256                 /* stack each G touches */
#define LIBC_BYTES 64                   /* -c: formatted, malloc'd, freed */

static long nflag = DEFAULT_N;
static long growkib;             /* -g: grow to this much stack first */
static bool livelocal;           /* -l: park with the local array live */
static bool libc;                /* -c: call libc before parking */
static long shrinkscans;         /* scans run before measuring */
static goro_mutex *mu;          /* held by the main G while the Gs park */
static goro_wg *ready;          /* each G: about to park */
static goro_wg *done;           /* each G: got the mutex and is leaving */
static double per_g;            /* the result */
static int status = 1;          /* exit status; 0 once the main G finished */

/* Resident set size in bytes, from /proc/self/statm (second field). */
static long rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("open /proc/self/statm");
        exit(1);
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    long size, resident;
    if (n <= 0)
        goto bad;
    buf[n] = '\0';
    if (sscanf(buf, "%ld %ld", &size, &resident) != 2)
        goto bad;
    return resident * sysconf(_SC_PAGESIZE);
bad:
    fprintf(stderr, "parked_rss: cannot parse /proc/self/statm\n");
    exit(1);
}

/* Use about depth * 256 bytes of stack, then return. Not inlined: a
 * level of it inlined into parker would leave parker's frame, in which the
 * G parks, 200 bytes larger. */
__attribute__((noinline)) static long grow(long depth)
{
    volatile char pad[200];
    pad[0] = (char)depth;
    if (depth <= 0)
        return 0;
    return grow(depth - 1) + pad[0];
}

static volatile long sink;

/* The G's work before it parks: LOCAL_BYTES of stack. */
__attribute__((noinline)) static void touch(void)
{
    volatile unsigned char local[LOCAL_BYTES];
    for (size_t i = 0; i < sizeof local; i++)
        local[i] = (unsigned char)i;
}

/* -c: the G's calls into libc before it parks. */
__attribute__((noinline)) static void call_libc(long i)
{
    char buf[LIBC_BYTES];
    snprintf(buf, sizeof buf, "G %ld", i);
    char *p = malloc(sizeof buf);
    if (p == NULL) {
        fprintf(stderr, "parked_rss: malloc: out of memory\n");
        exit(1);
    }
    memcpy(p, buf, sizeof buf);
    __asm__ volatile("" : : "r"(p) : "memory");  /* p is used */
    free(p);
}

static void park(void)
{
    goro_wg_done(ready);
    goro_mutex_lock(mu);
    goro_mutex_unlock(mu);
}

/* -l: the same array, live in the frame that parks. */
__attribute__((noinline)) static void touch_and_park(void)
{
    volatile unsigned char local[LOCAL_BYTES];
    for (size_t i = 0; i < sizeof local; i++)
        local[i] = (unsigned char)i;
    park();
    sink += local[LOCAL_BYTES - 1];
}

static void parker(void *arg)
{
    if (libc)
        call_libc((long)(intptr_t)arg);
    if (growkib > 0)
        sink = grow(growkib * 1024 / 256);
    if (livelocal) {
        touch_and_park();
    } else {
        touch();
        park();
    }
    goro_wg_done(done);
}

static void main_g(void *arg)
{
    (void)arg;
    ready = goro_wg_new();
    done = goro_wg_new();
    mu = goro_mutex_new();
    if (ready == NULL || done == NULL || mu == NULL) {
        fprintf(stderr, "parked_rss: out of memory\n");
        goto out;
    }
    goro_mutex_lock(mu);
    long before = rss_bytes();

    goro_wg_add(ready, nflag);
    goro_wg_add(done, nflag);
    for (long i = 0; i < nflag; i++) {
        int64_t id = goro_go(parker, (void *)(intptr_t)i);
        if (id < 0) {
            fprintf(stderr, "parked_rss: goro_go: error %" PRId64 "\n", id);
            /* The Gs not spawned will never call done. */
            goro_wg_add(ready, -(nflag - i));
            goro_wg_add(done, -(nflag - i));
            goro_wg_wait(ready);
            goro_mutex_unlock(mu);
            goro_wg_wait(done);
            goto out;
        }
    }
    goro_wg_wait(ready);
    goro_sleep_ns(SETTLE_NS);
    if (growkib > 0) {
        /* Shrink the parked Gs' stacks back down, as the periodic scan
         * would over time. */
        while (goro_stack_scan() > 0)
            shrinkscans++;
        goro_sleep_ns(SETTLE_NS);
    }
    long after = rss_bytes();
    goro_stats st;
    goro_stats_get(&st);

    goro_mutex_unlock(mu);
    goro_wg_wait(done);
    long joined = rss_bytes();

    per_g = (double)(after - before) / (double)nflag;
    printf("parked_rss: %ld Gs, procs=%" PRIu64 ", threads=%" PRIu64 "\n",
           nflag, st.procs, st.threads);
    printf("rss before spawning: %ld KiB\n", before / 1024);
    printf("rss with all parked: %ld KiB (gs_live=%" PRIu64
           ", stack_bytes_inuse=%" PRIu64 " = %.0f bytes/G)\n",
           after / 1024, st.gs_live, st.stack_bytes_inuse,
           (double)st.stack_bytes_inuse / (double)nflag);
    printf("rss after joining:   %ld KiB\n", joined / 1024);
    printf("stack grows=%" PRIu64 " (%.2f per G), shrinks=%" PRIu64
           " before measuring\n", st.stack_grows,
           (double)st.stack_grows / (double)nflag, st.stack_shrinks);
    if (libc)
        printf("each G called snprintf, malloc and free first; "
               "no stack scan (GORO_STACK_SCAN_INTERVAL=0)\n");
    if (growkib > 0)
        printf("each G grew to ~%ld KiB first; %ld scans shrank them back\n",
               growkib, shrinkscans);
    printf("per parked G: %.0f bytes\n", per_g);
    status = 0;
out:
    if (mu != NULL)
        goro_mutex_free(mu);
    if (done != NULL)
        goro_wg_free(done);
    if (ready != NULL)
        goro_wg_free(ready);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "n:g:lc")) != -1) {
        switch (c) {
        case 'n': nflag = parse_pos(argv[0], optarg, INT64_MAX / 2); break;
        case 'g': growkib = parse_pos(argv[0], optarg, 1048576); break;
        case 'l': livelocal = true; break;
        case 'c': libc = true; break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc || (libc && growkib > 0))
        usage(argv[0]);
    /* -c: the figure is taken before any scan shrank the stacks the libc
     * calls left; goro_run reads this. */
    if (libc && setenv("GORO_STACK_SCAN_INTERVAL", "0", 1) != 0) {
        perror("parked_rss: setenv");
        return 1;
    }

    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "parked_rss: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0)
        printf("RESULT parked_rss%s%s%s_bytes_per_g %.0f\n",
               libc ? "_libc" : "",
               growkib > 0 ? "_after_growth_and_scan" : "",
               livelocal ? "_live_local" : "", per_g);
    return status;
}
