/* preemptcost.c - what preemption costs a CPU-bound workload.
 *
 * 8 Gs on GORO_PROCS Ps (default 2) each run the same fixed amount of
 * arithmetic (a loop with a function call in it, so every preemption is
 * possible). The whole runs in a child process twice per round: once with
 * preemption off (GORO_TIME_SLICE=0) and once with a 1 ms time slice, so
 * that every G is stopped about every millisecond; rounds alternate the
 * two. Prints the median wall time of each and the throughput loss, and
 * ends with "RESULT preempt_loss_pct X". -n sets the work per G in
 * millions of steps (default 400), -r the rounds (default 5). */
#define BENCH_USAGE "[-n MSTEPS] [-r ROUNDS]"
#include <goro.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

enum { ngs = 8 };
static long msteps = 400;

__attribute__((noinline)) static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 29);
}

static volatile uint64_t sink;

static void worker(void *arg)
{
    goro_wg *wg = arg;
    uint64_t x = (uint64_t)goro_id();
    for (long i = 0; i < msteps * 1000000; i++)
        x = mix(x + (uint64_t)i);
    sink += x;
    goro_wg_done(wg);
}

static void mainfn(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, ngs);
    for (int i = 0; i < ngs; i++)
        goro_go(worker, wg);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

/* One run in a child (the runtime runs once per process): seconds taken,
 * and how many preemptions. */
static double runone(const char *slice, uint64_t *preempts)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        close(fds[0]);
        setenv("GORO_TIME_SLICE", slice, 1);
        int64_t t0 = now_ns();
        if (goro_run(mainfn, NULL) != 0)
            _exit(1);
        double secs = (double)(now_ns() - t0) / 1e9;
        goro_stats st;
        goro_stats_get(&st);
        uint64_t p = st.preempt_sync + st.preempt_async;
        if (write(fds[1], &secs, sizeof secs) != sizeof secs ||
            write(fds[1], &p, sizeof p) != sizeof p)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    double secs = 0;
    int status;
    if (read(fds[0], &secs, sizeof secs) != sizeof secs ||
        read(fds[0], preempts, sizeof *preempts) != sizeof *preempts ||
        waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "a run failed\n");
        exit(1);
    }
    close(fds[0]);
    return secs;
}

int main(int argc, char **argv)
{
    int rounds = 5;
    parse_options(argc, argv, &msteps, 100000, &rounds);
    if (getenv("GORO_PROCS") == NULL)
        setenv("GORO_PROCS", "2", 1);
    double off[1000], on[1000];
    for (int r = 0; r < rounds; r++) {
        uint64_t p0, p1;
        off[r] = runone("0", &p0);
        on[r] = runone("1ms", &p1);
        printf("round %d: off %.3f s (%llu preemptions), 1ms slice %.3f s "
               "(%llu preemptions)\n", r + 1, off[r], (unsigned long long)p0,
               on[r], (unsigned long long)p1);
    }
    double moff = median(off, rounds), mon = median(on, rounds);
    double loss = (mon - moff) / moff * 100;
    printf("%d Gs x %ldM steps on GORO_PROCS=%s: median %.3f s without "
           "preemption, %.3f s with a 1 ms slice: %.2f%% slower\n", ngs,
           msteps, getenv("GORO_PROCS"), moff, mon, loss);
    printf("RESULT preempt_loss_pct %.2f\n", loss);
    return 0;
}
