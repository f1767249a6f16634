/*
 * bench/libccall.c - the cost of one call from a G into a small libc
 * function, against the same call outside goro.
 *
 * What it measures: a loop of M calls of a function that returns
 * strlen() of a 16-byte string, three ways, each timed with
 * CLOCK_MONOTONIC, R rounds, medians:
 *   g       in a G, the function built as goro's flags build it: its call
 *           reaches __wrap_strlen (src/runtime/cgocall.c), a stack check
 *           and a jump;
 *   plain   on the main thread before goro_run, the function built
 *           without a stack check (no_split_stack) calling libc's strlen
 *           directly (__real_strlen): the call outside goro;
 *   nonsplit in a G, a split-stack function calling libc's strlen
 *           directly (__real_strlen), as every libc call was made before
 *           the wrappers: gold makes its prologue enter
 *           __morestack_non_split on every call and demand 16 KiB free.
 * The string is read through a volatile pointer so the compiler cannot
 * fold the length.
 *
 * Run:
 *   make build/bench/libccall
 *   build/bench/libccall [-n M] [-r R]
 *     -n M   calls per round (default 100000000)
 *     -r R   rounds (default 5)
 *
 * Output: one line per round and way, then
 *   RESULT libccall_strlen_g_ns <median ns per call in a G>
 *   RESULT libccall_strlen_plain_ns <median ns per call outside goro>
 *   RESULT libccall_strlen_nonsplit_ns <median ns, the direct call in a G>
 *   RESULT libccall_strlen_extra_ns <g - plain>
 */
#include <goro.h>

#define BENCH_USAGE "[-n M] [-r ROUNDS]"
#include "bench.h"

#define DEFAULT_M 100000000L
#define DEFAULT_ROUNDS 5
#define MAXROUNDS 1000

size_t __real_strlen(const char *s);

static const char *volatile str = "0123456789abcdef";
static long mflag = DEFAULT_M;
static int rounds = DEFAULT_ROUNDS;
static double g_ns[MAXROUNDS], plain_ns[MAXROUNDS], nonsplit_ns[MAXROUNDS];
static int status = 1;

static __attribute__((noinline)) size_t len_g(const char *s)
{
    return strlen(s);
}

static __attribute__((noinline, no_split_stack)) size_t len_plain(const char *s)
{
    return __real_strlen(s);
}

static __attribute__((noinline)) size_t len_nonsplit(const char *s)
{
    return __real_strlen(s);
}

static double timed(size_t (*fn)(const char *))
{
    size_t sum = 0;
    int64_t t0 = now_ns();
    for (long i = 0; i < mflag; i++)
        sum += fn(str);
    int64_t t = now_ns() - t0;
    if (sum != (size_t)mflag * 16) {
        fprintf(stderr, "libccall: wrong length sum %zu\n", sum);
        exit(1);
    }
    return (double)t / (double)mflag;
}

static void main_g(void *arg)
{
    (void)arg;
    for (int r = 0; r < rounds; r++) {
        g_ns[r] = timed(len_g);
        nonsplit_ns[r] = timed(len_nonsplit);
        printf("round %d: g %.2f ns, nonsplit %.2f ns per call\n", r + 1,
               g_ns[r], nonsplit_ns[r]);
    }
    status = 0;
}

int main(int argc, char **argv)
{
    long n = mflag;
    parse_options(argc, argv, &n, 1000000000000L, &rounds);
    mflag = n;
    if (rounds > MAXROUNDS)
        usage(argv[0]);
    for (int r = 0; r < rounds; r++) {
        plain_ns[r] = timed(len_plain);
        printf("round %d: plain %.2f ns per call (outside goro)\n", r + 1,
               plain_ns[r]);
    }
    int rc = goro_run(main_g, NULL);
    if (rc != 0 || status != 0) {
        fprintf(stderr, "libccall: goro_run returned %d\n", rc);
        return 1;
    }
    double g = median(g_ns, rounds), p = median(plain_ns, rounds);
    printf("RESULT libccall_strlen_g_ns %.2f\n", g);
    printf("RESULT libccall_strlen_plain_ns %.2f\n", p);
    printf("RESULT libccall_strlen_nonsplit_ns %.2f\n",
           median(nonsplit_ns, rounds));
    printf("RESULT libccall_strlen_extra_ns %.2f\n", g - p);
    return 0;
}
