/* stress.h - helpers shared by the stress programs (tests/stress/NAME.c):
 * option parsing, the clock, the process's resident memory, and a check
 * that records a failed criterion. Each program defines STRESS_NAME (used
 * in messages) and STRESS_USAGE (its options) before including this file.
 *
 * The stress programs are built like the benchmarks (pkg-config against
 * libgoro.so) and run by `make stress`; each prints its figures, ends with
 * one "STRESS name PASS|FAIL ..." line and exits non-zero when a criterion
 * failed. */
#ifndef GORO_STRESS_H
#define GORO_STRESS_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void usage(const char *prog)
{
    fprintf(stderr, "usage: %s %s\n", prog, STRESS_USAGE);
    exit(2);
}

/* parse_long reads a whole number in lo..hi for option -opt, or exits
 * saying which values are allowed. */
static inline long parse_long(const char *prog, int opt, const char *s,
                              long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: -%c %s: not a whole number from %ld to %ld\n",
                prog, opt, s, lo, hi);
        usage(prog);
    }
    return v;
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror(STRESS_NAME ": clock_gettime");
        exit(1);
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* read_small reads a /proc file whole into buf (NUL-terminated), or exits
 * naming the file. */
static inline void read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, STRESS_NAME ": open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, STRESS_NAME ": read %s: %s\n", path,
                    strerror(errno));
            exit(1);
        }
        if (r == 0 || (n += (size_t)r) == size - 1)
            break;
    }
    close(fd);
    buf[n] = '\0';
}

/* The resident set: total (what /proc/self/statm calls resident, file
 * pages of the program and its libraries included) and its anonymous part
 * (RssAnon of /proc/self/status: heap, stacks, what the runtime maps). */
typedef struct rss {
    long total, anon;   /* bytes */
} rss;

static inline rss rss_now(void)
{
    char buf[4096];
    rss r = {-1, -1};
    long size, resident;
    read_small("/proc/self/statm", buf, sizeof buf);
    if (sscanf(buf, "%ld %ld", &size, &resident) == 2)
        r.total = resident * sysconf(_SC_PAGESIZE);
    read_small("/proc/self/status", buf, sizeof buf);
    const char *a = strstr(buf, "\nRssAnon:");
    long kib;
    if (a != NULL && sscanf(a + 9, "%ld", &kib) == 1)
        r.anon = kib * 1024;
    if (r.total < 0 || r.anon < 0) {
        fprintf(stderr, STRESS_NAME ": cannot parse /proc/self/statm or the "
                "RssAnon line of /proc/self/status\n");
        exit(1);
    }
    return r;
}

/* map_count: the process's memory mappings (lines of /proc/self/maps),
 * which vm.max_map_count bounds. */
static inline long map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL) {
        fprintf(stderr, STRESS_NAME ": open /proc/self/maps: %s\n",
                strerror(errno));
        exit(1);
    }
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* max_map_count: vm.max_map_count, or -1 if it cannot be read. */
static inline long max_map_count(void)
{
    char buf[64];
    long v = -1;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f != NULL) {
        if (fgets(buf, sizeof buf, f) != NULL)
            v = strtol(buf, NULL, 10);
        fclose(f);
    }
    return v;
}

static inline double mib(long bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* check records a criterion: prints "ok" or "FAILED" and the reason, and
 * remembers a failure for the exit status. */
static int stress_failed;

__attribute__((format(printf, 2, 3)))
static inline void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    printf("%s: ", ok ? "ok    " : "FAILED");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!ok)
        stress_failed = 1;
}

#endif
