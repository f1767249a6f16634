/*
 * bench/mutex.c - 64 Gs contending for one mutex around a tiny critical
 * section (an increment), or (-w) for a reader/writer mutex with 90%
 * readers (a read of the counter under the read lock, every tenth
 * operation an increment under the write lock).
 *
 * Each round starts 64 Gs that each make N/64 lock/unlock pairs and waits
 * for them; the round's time over N is the cost of one pair (one
 * operation) with everything the contention costs. R rounds, median.
 *
 * Run:
 *   make build/bench/mutex
 *   GORO_PROCS=1 build/bench/mutex [-n N] [-r R] [-w]   (default 6400000, 5)
 *   GORO_PROCS=2 build/bench/mutex ...
 * Output ends with: RESULT mutex_ns_per_op_<procs>p <median>
 *               or: RESULT rwmutex_ns_per_op_<procs>p <median>  (-w)
 */
#include <goro.h>

#include <inttypes.h>
#include <stdbool.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS] [-w]"
#include "bench.h"

enum { NG = 64 };

static long nflag = 6400000;
static int rounds = 5;
static bool rwflag;
static double *round_ns;
static int status = 1;
static goro_mutex *mu;
static goro_rwmutex *rw;
static goro_wg *wg;
static volatile long counter;
static volatile long sink;

static void worker(void *arg)
{
    (void)arg;
    long n = nflag / NG;
    if (rwflag) {
        for (long i = 0; i < n; i++) {
            if (i % 10 == 0) {
                goro_rwmutex_lock(rw);
                counter++;
                goro_rwmutex_unlock(rw);
            } else {
                goro_rwmutex_rlock(rw);
                sink = counter;
                goro_rwmutex_runlock(rw);
            }
        }
    } else {
        for (long i = 0; i < n; i++) {
            goro_mutex_lock(mu);
            counter++;
            goro_mutex_unlock(mu);
        }
    }
    goro_wg_done(wg);
}

static void main_g(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    rw = goro_rwmutex_new();
    wg = goro_wg_new();
    if (mu == NULL || rw == NULL || wg == NULL) {
        fprintf(stderr, "mutex: out of memory\n");
        return;
    }
    for (int r = 0; r < rounds; r++) {
        counter = 0;
        int64_t t0 = now_ns();
        goro_wg_add(wg, NG);
        for (int i = 0; i < NG; i++)
            goro_go(worker, NULL);
        goro_wg_wait(wg);
        round_ns[r] = (double)(now_ns() - t0) / (double)(nflag / NG * NG);
        long want = rwflag ? (nflag / NG + 9) / 10 * NG : nflag / NG * NG;
        if (counter != want) {
            fprintf(stderr, "mutex: counter %ld, want %ld\n", counter, want);
            return;
        }
        printf("round %d: %.1f ns per operation\n", r + 1, round_ns[r]);
    }
    goro_mutex_free(mu);
    goro_rwmutex_free(rw);
    goro_wg_free(wg);
    status = 0;
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "n:r:w")) != -1) {
        switch (c) {
        case 'n':
            nflag = parse_pos(argv[0], optarg, INT64_MAX / 2);
            break;
        case 'r':
            rounds = (int)parse_pos(argv[0], optarg, 1000);
            break;
        case 'w':
            rwflag = true;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc || nflag < NG)
        usage(argv[0]);
    round_ns = calloc((size_t)rounds, sizeof *round_ns);
    if (round_ns == NULL)
        return 1;
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "mutex: goro_run: error %d\n", rc);
        return 1;
    }
    goro_stats st;
    goro_stats_get(&st);
    if (status == 0)
        printf("RESULT %s_ns_per_op_%" PRIu64 "p %.1f\n",
               rwflag ? "rwmutex" : "mutex", st.procs,
               median(round_ns, rounds));
    return status;
}
