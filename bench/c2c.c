/*
 * bench/c2c.c - what it costs to move a cache line between two cores: the
 * floor under every figure where Gs on two Ps hand each other work.
 *
 * What it measures: two threads, pinned to the first two CPUs the process
 * may use, take turns writing one cache line: each waits (spinning) for
 * the other's write, then writes. The wall time over the number of turn
 * pairs is one round trip of the line, core to core and back. No goro.
 *
 * On the shared 2-core machine the benchmarks run on, this moves between
 * about 50 ns and about 450 ns from minute to minute (where the host puts
 * its two virtual CPUs), and every two-P figure moves with it:
 * scripts/bench prints it before and after the cases.
 *
 * Run:
 *   make build/bench/c2c
 *   build/bench/c2c [-n N]     N round trips (default 2000000)
 *
 * Output: one line, and a last machine-readable one
 *   RESULT c2c_round_trip_ns <ns>
 * (or a message and exit status 1 when fewer than 2 CPUs are usable).
 */
#define _GNU_SOURCE

#define BENCH_USAGE "[-n N]"
#include "bench.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static _Atomic long turn __attribute__((aligned(64)));
static long nflag = 2000000;
static int cpus[2];

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *peer(void *arg)
{
    (void)arg;
    pin(cpus[1]);
    for (long i = 0; i < nflag; i++) {
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 1)
            __builtin_ia32_pause();
        atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, 1000000000, NULL);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        perror("c2c: sched_getaffinity");
        return 1;
    }
    int k = 0;
    for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &set))
            cpus[k++] = c;
    if (k < 2) {
        fprintf(stderr, "c2c: needs 2 CPUs, the process may use %d\n", k);
        return 1;
    }
    pin(cpus[0]);
    pthread_t t;
    if (pthread_create(&t, NULL, peer, NULL) != 0) {
        fprintf(stderr, "c2c: pthread_create failed\n");
        return 1;
    }
    int64_t t0 = now_ns();
    for (long i = 0; i < nflag; i++) {
        atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * i + 2)
            __builtin_ia32_pause();
    }
    int64_t t1 = now_ns();
    pthread_join(t, NULL);
    double ns = (double)(t1 - t0) / (double)nflag;
    printf("c2c: CPUs %d and %d, %ld round trips: %.1f ns each\n", cpus[0],
           cpus[1], nflag, ns);
    printf("RESULT c2c_round_trip_ns %.1f\n", ns);
    return 0;
}
