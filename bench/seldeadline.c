/*
 * bench/seldeadline.c - what a deadline that never fires adds to a select
 * in a loop.
 *
 * Two loops of N selects, each on a channel c and a channel nobody uses:
 *   ready: c (capacity 1) gets a value just before each select, so a case
 *          is ready at once; the plain select against the same select with
 *          a deadline an hour away (goro_now() + 1 h, computed each time,
 *          as Go's time.After(time.Hour) is);
 *   block: a partner G sends on c (unbuffered) in a loop, so each select
 *          parks until the value comes (one P: each select parks and the
 *          partner runs); the deadline's timer is armed and deleted every
 *          time.
 * The overhead is (with deadline - plain) per select; R rounds, medians.
 *
 * Run:
 *   make build/bench/seldeadline
 *   GORO_PROCS=1 build/bench/seldeadline [-n N] [-r R]  (default 1000000, 5)
 * Output ends with:
 *   RESULT seldeadline_ready_overhead_ns <median>
 *   RESULT seldeadline_block_overhead_ns <median>
 */
#include <goro.h>

#include <inttypes.h>
#include <stdbool.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS]"
#include "bench.h"

#define HOUR 3600000000000LL

static long nflag = 1000000;
static int rounds = 5;
static double *ready_plain, *ready_dl, *block_plain, *block_dl;
static int status = 1;
static goro_chan *c, *never;

static void sender(void *arg)
{
    long v = 1;
    for (long i = 0; i < 2 * nflag; i++)
        goro_chan_send(c, &v);
    goro_wg_done(arg);
}

/* selects runs n selects on c and never, with deadlines if dl; for ready,
 * c is filled first. ns per select, or -1. */
static double selects(bool ready, bool dl)
{
    long v = 0;
    goro_select_case cs[2] = {{c, GORO_RECV, &v, NULL},
                              {never, GORO_RECV, NULL, NULL}};
    int64_t t0 = now_ns();
    for (long i = 0; i < nflag; i++) {
        if (ready)
            goro_chan_send(c, &v);
        int r = dl ? goro_select_deadline(cs, 2, goro_now() + HOUR)
                   : goro_select(cs, 2, 1);
        if (r != 0)
            return -1;
    }
    return (double)(now_ns() - t0) / (double)nflag;
}

static void main_g(void *arg)
{
    (void)arg;
    never = goro_chan_new(sizeof(long), 0);
    for (int r = 0; r < rounds; r++) {
        c = goro_chan_new(sizeof(long), 1);
        ready_plain[r] = selects(true, false);
        ready_dl[r] = selects(true, true);
        goro_chan_free(c);
        c = goro_chan_new(sizeof(long), 0);
        goro_wg *wg = goro_wg_new();
        goro_wg_add(wg, 1);
        goro_go(sender, wg);
        block_plain[r] = selects(false, false);
        block_dl[r] = selects(false, true);
        goro_wg_wait(wg);
        goro_wg_free(wg);
        goro_chan_free(c);
        if (ready_plain[r] < 0 || ready_dl[r] < 0 || block_plain[r] < 0 ||
            block_dl[r] < 0) {
            fprintf(stderr, "seldeadline: a select failed\n");
            return;
        }
        printf("round %d: ready %.1f / %.1f ns, blocking %.1f / %.1f ns "
               "(plain / with a deadline)\n", r + 1, ready_plain[r],
               ready_dl[r], block_plain[r], block_dl[r]);
        ready_dl[r] -= ready_plain[r];
        block_dl[r] -= block_plain[r];
    }
    goro_chan_free(never);
    status = 0;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &nflag, INT64_MAX / 4, &rounds);
    ready_plain = calloc((size_t)rounds, sizeof(double));
    ready_dl = calloc((size_t)rounds, sizeof(double));
    block_plain = calloc((size_t)rounds, sizeof(double));
    block_dl = calloc((size_t)rounds, sizeof(double));
    if (!ready_plain || !ready_dl || !block_plain || !block_dl)
        return 1;
    int rc = goro_run(main_g, NULL);
    if (rc != 0) {
        fprintf(stderr, "seldeadline: goro_run: error %d\n", rc);
        return 1;
    }
    if (status == 0) {
        printf("RESULT seldeadline_ready_overhead_ns %.1f\n",
               median(ready_dl, rounds));
        printf("RESULT seldeadline_block_overhead_ns %.1f\n",
               median(block_dl, rounds));
    }
    return status;
}
