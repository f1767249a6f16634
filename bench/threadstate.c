/* threadstate.c - what it costs to learn whether another thread of the
 * process runs or sleeps in the kernel, the look sysmon takes before it
 * sends the preemption signal (src/runtime/preempt.c, threadsleeps).
 *
 *   threadstate [-n LOOKS] [-r ROUNDS]
 *
 * Two plain threads, one asleep in nanosleep and one spinning, and for
 * each, ns per look (median of the rounds) by:
 *   stat      fstat and pread of /proc/self/task/TID/stat on an fd kept
 *             open (the runtime's way: fstat tells that the fd is still
 *             the runtime's; state field R / S / D)
 *   openstat  open, pread and close of the same file at every look
 *   syscall   pread of /proc/self/task/TID/syscall ("running" or the
 *             number of the call the thread is blocked in)
 *   schedstat pread of /proc/self/task/TID/schedstat (run time in ns: it
 *             does not advance while the thread sleeps, but one look does
 *             not tell, it needs two)
 * and the state each look read, which must be S for the sleeper and R for
 * the spinner (a spinner off the CPU is R too: runnable). Does not use the
 * runtime. */
#define _GNU_SOURCE
#define BENCH_USAGE "[-n LOOKS] [-r ROUNDS]"
#include "bench.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int stop;
static volatile pid_t tids[2];

static void *sleeper(void *arg)
{
    (void)arg;
    tids[0] = (pid_t)syscall(SYS_gettid);
    while (!stop) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void *spinner(void *arg)
{
    (void)arg;
    tids[1] = (pid_t)syscall(SYS_gettid);
    while (!stop)
        ;
    return NULL;
}

static int64_t nowns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The state letter of a stat line: after the last ')' (comm may hold
 * any character). */
static char statestate(const char *buf, ssize_t n)
{
    for (ssize_t i = n - 1; i > 0; i--)
        if (buf[i] == ')')
            return i + 2 < n ? buf[i + 2] : '?';
    return '?';
}

enum { STAT, OPENSTAT, SYSCALLF, SCHEDSTAT, NMETHODS };
static const char *names[NMETHODS] = {"stat", "openstat", "syscall",
                                      "schedstat"};
static const char *files[NMETHODS] = {"stat", "stat", "syscall", "schedstat"};

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long n = 100000;
    int rounds = 5;
    parse_options(argc, argv, &n, 100000000, &rounds);
    pthread_t t[2];
    pthread_create(&t[0], NULL, sleeper, NULL);
    pthread_create(&t[1], NULL, spinner, NULL);
    while (tids[0] == 0 || tids[1] == 0)
        usleep(1000);
    usleep(10000);
    const char *who[2] = {"sleeping", "running"};
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        for (int m = 0; m < NMETHODS; m++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tids[k],
                     files[m]);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                printf("%s: %s\n", path, strerror(errno));
                bad = 1;
                continue;
            }
            int64_t per[1000];
            char buf[512], seen = '?';
            ssize_t got = 0;
            for (int r = 0; r < rounds; r++) {
                int64_t t0 = nowns();
                for (long i = 0; i < n; i++) {
                    if (m == OPENSTAT) {
                        int f = open(path, O_RDONLY | O_CLOEXEC);
                        got = pread(f, buf, sizeof buf, 0);
                        close(f);
                    } else if (m == STAT) {
                        struct stat st;
                        if (fstat(fd, &st) != 0)
                            bad = 1;
                        got = pread(fd, buf, 64, 0);
                    } else {
                        got = pread(fd, buf, sizeof buf, 0);
                    }
                }
                per[r] = (nowns() - t0) / n;
            }
            close(fd);
            qsort(per, (size_t)rounds, sizeof per[0], cmp64);
            if (got > 0 && m <= OPENSTAT)
                seen = statestate(buf, got);
            else if (got > 0 && m == SYSCALLF)
                seen = strncmp(buf, "running", 7) == 0 ? 'R' : 'S';
            if (m <= SYSCALLF && seen != (k == 0 ? 'S' : 'R')) {
                /* A spinner may be caught off the CPU by syscall ("running"
                 * only while it is on one); the state field says R. */
                if (!(m == SYSCALLF && k == 1))
                    bad = 1;
            }
            printf("%-9s %-8s thread: %6lld ns per look (median of %d "
                   "rounds of %ld), read %c\n",
                   names[m], who[k], (long long)per[rounds / 2], rounds, n,
                   seen);
            printf("RESULT threadstate_%s_%s_ns %lld\n", names[m], who[k],
                   (long long)per[rounds / 2]);
        }
    }
    stop = 1;
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    return bad;
}
