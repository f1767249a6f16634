/* bench.h - helpers shared by the benchmark programs: option parsing, the
 * clock, medians. Each program defines BENCH_USAGE (its options) before
 * including this file. */
#ifndef GORO_BENCH_H
#define GORO_BENCH_H

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void usage(const char *prog)
{
    fprintf(stderr, "usage: %s %s\n", prog, BENCH_USAGE);
    exit(2);
}

/* parse_pos reads a whole number in 1..max or exits with the usage. */
static inline long parse_pos(const char *prog, const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > max)
        usage(prog);
    return v;
}

/* parse_options reads -n N (1..nmax) and -r ROUNDS (1..1000) when rounds
 * is not NULL; anything else exits with the usage. */
static inline void parse_options(int argc, char **argv, long *n, long nmax,
                                 int *rounds)
{
    const char *opts = rounds ? "n:r:" : "n:";
    int c;
    while ((c = getopt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'n':
            *n = parse_pos(argv[0], optarg, nmax);
            break;
        case 'r':
            *rounds = (int)parse_pos(argv[0], optarg, 1000);
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
}

static inline int64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("clock_gettime");
        exit(1);
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(const double *v, int n)
{
    double *s = malloc((size_t)n * sizeof *s);
    if (s == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int i = 0; i < n; i++)
        s[i] = v[i];
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

#endif
