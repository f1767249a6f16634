/* stallslow.c - a library built without -fsplit-stack (and so without
 * goro's note: code the runtime cannot preempt), for tests/link/stall.c:
 * slow_spin computes for a given time without a call the runtime could
 * stop at; slow_sort sorts with qsort and a comparator that takes a
 * millisecond; slow_sleep sleeps in the kernel (nanosleep, which no
 * wrapper of goro's brackets here). Built as build/tests/libstallslow.so. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static int64_t nowns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* slow_spin computes until ms milliseconds have passed. */
__attribute__((noinline)) long slow_spin(long ms)
{
    int64_t end = nowns() + ms * 1000000;
    volatile long n = 0;
    while (nowns() < end)
        for (int i = 0; i < 1000; i++)
            n++;
    return n;
}

/* slow_sleep sleeps ms milliseconds, resuming after any interruption;
 * returns how many times nanosleep was cut short. */
__attribute__((noinline)) int slow_sleep(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000}, left;
    int cut = 0;
    while (nanosleep(&t, &left) != 0) {
        cut++;
        t = left;
    }
    return cut;
}

/* slowcmp compares two ints after a millisecond of computing. */
__attribute__((noinline)) static int slowcmp(const void *a, const void *b)
{
    int64_t end = nowns() + 1000000;
    volatile long n = 0;
    while (nowns() < end)
        n++;
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* slow_sort sorts n ints: about n log2 n milliseconds. */
__attribute__((noinline)) void slow_sort(int *v, size_t n)
{
    qsort(v, n, sizeof v[0], slowcmp);
}
