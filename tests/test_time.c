/* test_time.c - the clock, timers and tickers on channels, goro_after and
 * goro_select_deadline: timers fire after their time and in order, a
 * stopped timer never delivers, reset moves an active one and discards a
 * stale value, tickers do not drift, a million pending timers cost memory
 * and no Gs, a deadline races channels without losing a value, and Gs
 * parked with a deadline keep their values while their stacks move. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "export_test.h"

#define MS (1000 * 1000LL)

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* recvtime receives one time value from c; -1 on error. */
static int64_t recvtime(goro_chan *c)
{
    int64_t v = -1;
    if (goro_chan_recv(c, &v) != 0)
        return -1;
    return v;
}

/* nonempty: c holds a value (the receive does not block; it consumes). */
static bool tryrecv(goro_chan *c, int64_t *v)
{
    goro_select_case sc = {c, GORO_RECV, v, NULL};
    return goro_select(&sc, 1, 0) == 0;
}

/* ---- the clock ----------------------------------------------------------- */

static int64_t clk[4];

static void clockmain(void *arg)
{
    (void)arg;
    clk[0] = mono();
    clk[1] = goro_now();
    goro_sleep_ns(2 * MS);
    clk[2] = goro_now();
    clk[3] = mono();
}

Test(time, now_is_the_monotonic_clock, .timeout = 30)
{
    cr_assert_eq(test_run(1, clockmain, NULL), 0);
    cr_expect_geq(clk[1], clk[0]);
    cr_expect_geq(clk[2], clk[1] + 2 * MS);
    cr_expect_geq(clk[3], clk[2]);
}

/* ---- timers ---------------------------------------------------------------- */

enum { NORDER = 100 };
static int64_t deadline[NORDER], fired[NORDER], recvd[NORDER], armed[NORDER];
static goro_wg *wg;

static void waitone(void *arg)
{
    int i = (int)(intptr_t)arg;
    goro_timer *t = goro_timer_new(deadline[i] - goro_now());
    armed[i] = goro_now();
    fired[i] = recvtime(goro_timer_chan(t));
    recvd[i] = goro_now();
    goro_timer_free(t);
    goro_wg_done(wg);
}

static void orderround(void)
{
    wg = goro_wg_new();
    int64_t base = goro_now() + 200 * MS;
    /* Deadlines 0.5 ms apart, created in a shuffled order. */
    int perm[NORDER];
    for (int i = 0; i < NORDER; i++)
        perm[i] = i;
    srand(7);
    for (int i = NORDER - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        int x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (int i = 0; i < NORDER; i++)
        deadline[i] = base + i * MS / 2;
    goro_wg_add(wg, NORDER);
    for (int i = 0; i < NORDER; i++)
        goro_go(waitone, (void *)(intptr_t)perm[i]);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

static int intime;   /* timers armed before the first was due */

/* A round where fewer than half were armed in time checks too little:
 * run another (a few at most). */
static void ordermain(void *arg)
{
    (void)arg;
    intime = 0;
    for (int round = 0; round < 5 && intime < NORDER / 2; round++) {
        orderround();
        intime = 0;
        for (int i = 0; i < NORDER; i++)
            intime += armed[i] < deadline[0];
    }
}

Test(time, timers_fire_after_their_time_and_in_order, .timeout = 30)
{
    /* The order holds between the timers that were all in the heap
     * before the first was due: a waiter that a loaded machine held back
     * past that arms a timer already due, which fires at once. */
    cr_assert_eq(test_run(2, ordermain, NULL), 0);
    int prev = -1;
    for (int i = 0; i < NORDER; i++) {
        cr_expect_geq(fired[i], deadline[i], "timer %d fired early", i);
        cr_expect_geq(recvd[i], fired[i]);
        if (armed[i] >= deadline[0])
            continue;
        if (prev >= 0)
            cr_expect_geq(fired[i], fired[prev],
                          "timer %d fired before timer %d", i, prev);
        prev = i;
    }
    cr_expect_geq(intime, NORDER / 2, "%d of %d timers armed in 200 ms",
                  intime, NORDER);
}

static int stoprc[8];
static bool stopgot[4];

static void stopmain(void *arg)
{
    (void)arg;
    int64_t v;
    /* A pending timer, stopped: it never delivers. */
    goro_timer *t = goro_timer_new(5 * MS);
    stoprc[0] = goro_timer_stop(t);
    stoprc[1] = goro_timer_stop(t);       /* already stopped */
    goro_sleep_ns(30 * MS);
    stopgot[0] = tryrecv(goro_timer_chan(t), &v);
    /* A timer that fired, its value not received: stop discards it. */
    goro_timer_reset(t, 1 * MS);
    goro_sleep_ns(20 * MS);
    stoprc[2] = goro_timer_stop(t);
    stopgot[1] = tryrecv(goro_timer_chan(t), &v);
    /* A timer that fired and was received: stop has nothing to do. */
    goro_timer_reset(t, 1 * MS);
    recvtime(goro_timer_chan(t));
    stoprc[3] = goro_timer_stop(t);
    stoprc[4] = (int)timerscount();
    goro_timer_free(t);
}

Test(time, a_stopped_timer_never_delivers, .timeout = 30)
{
    cr_assert_eq(test_run(1, stopmain, NULL), 0);
    cr_expect_eq(stoprc[0], 1, "stop of a pending timer");
    cr_expect_eq(stoprc[1], 0, "stop of a stopped timer");
    cr_expect(!stopgot[0], "a stopped timer delivered");
    cr_expect_eq(stoprc[2], 1, "stop of a fired timer not received");
    cr_expect(!stopgot[1], "the fired value survived stop");
    cr_expect_eq(stoprc[3], 0, "stop of a fired and received timer");
    cr_expect_eq(stoprc[4], 0, "timers left pending");
}

static int64_t rst[8];

static void resetmain(void *arg)
{
    (void)arg;
    /* An active timer due in a minute, reset to 10 ms: it fires then. */
    int64_t start = goro_now();
    goro_timer *t = goro_timer_new(60000 * MS);
    /* Read before the reset: the new time counts from the reset, and the
     * thread may lose its CPU between the two on a busy machine. */
    int64_t at = goro_now();
    rst[0] = goro_timer_reset(t, 10 * MS);
    rst[1] = recvtime(goro_timer_chan(t));
    rst[2] = at;
    rst[3] = start;
    /* An expired timer whose value was not received: reset discards it,
     * and the next value is the new firing's. */
    goro_timer_reset(t, 1 * MS);
    goro_sleep_ns(20 * MS);
    int64_t before = goro_now();
    rst[4] = goro_timer_reset(t, 10 * MS);
    rst[5] = recvtime(goro_timer_chan(t));
    rst[6] = before;
    goro_timer_free(t);
}

Test(time, reset_moves_an_active_timer_and_discards_a_stale_value,
     .timeout = 30)
{
    cr_assert_eq(test_run(1, resetmain, NULL), 0);
    cr_expect_eq(rst[0], 1, "reset of an active timer");
    cr_expect_geq(rst[1], rst[2] + 10 * MS, "fired before its new time");
    cr_expect_lt(rst[1], rst[3] + 60000 * MS, "fired at its old time");
    cr_expect_eq(rst[4], 1, "reset of a fired timer not received");
    cr_expect_geq(rst[5], rst[6] + 10 * MS, "received the stale value");
}

/* ---- tickers --------------------------------------------------------------- */

enum { NTICKS = 1000 };
static int64_t ticks[NTICKS];
static int64_t tickstart, tickwhen0, tickwhen1, tickperiod = 1 * MS;
static int tickrc[4];

static void tickermain(void *arg)
{
    (void)arg;
    tickstart = goro_now();
    goro_ticker *tk = goro_ticker_new(tickperiod);
    struct timer *t = (struct timer *)tk;
    tickwhen0 = t->when;
    for (int i = 0; i < NTICKS; i++)
        ticks[i] = recvtime(goro_ticker_chan(tk));
    tickwhen1 = t->when;
    goro_ticker_stop(tk);
    int64_t v;
    goro_sleep_ns(5 * MS);
    tickrc[0] = tryrecv(goro_ticker_chan(tk), &v);
    tickrc[1] = goro_ticker_reset(tk, 0);
    /* Read before the reset: a loaded machine may stop this thread
     * between the two, and the tick is due 2 ms after the reset. */
    int64_t at = goro_now();
    tickrc[2] = goro_ticker_reset(tk, 2 * MS);
    int64_t first = recvtime(goro_ticker_chan(tk));
    tickrc[3] = first >= at + 2 * MS;
    goro_ticker_free(tk);
}

Test(time, a_ticker_does_not_drift_over_1000_ticks, .timeout = 60)
{
    cr_assert_eq(test_run(1, tickermain, NULL), 0);
    cr_expect_geq(tickwhen0, tickstart + tickperiod);
    /* Every tick is on the grid start + k * period, however late some
     * were delivered (late ones are skipped, never shifted). */
    cr_expect_eq((tickwhen1 - tickwhen0) % tickperiod, 0,
                 "the ticker drifted by %lld ns",
                 (long long)((tickwhen1 - tickwhen0) % tickperiod));
    for (int i = 0; i < NTICKS; i++) {
        cr_expect_geq(ticks[i], tickwhen0 + i * tickperiod,
                      "tick %d came early", i);
        if (i > 0)
            cr_expect_gt(ticks[i], ticks[i - 1]);
    }
    cr_expect_eq(tickrc[0], 0, "a stopped ticker ticked");
    cr_expect_eq(tickrc[1], -EINVAL);
    cr_expect_eq(tickrc[2], 0);
    cr_expect(tickrc[3], "the reset ticker ticked early");
}

/* ---- goro_after ------------------------------------------------------------ */

static int64_t aft[8];

static void afterg(void *arg)
{
    (void)arg;
    /* None of these needs more than the smallest stack. */
    goro_timer *t = goro_timer_new(MS);
    goro_timer_reset(t, 2 * MS);
    goro_chan *c = goro_chan_new(0, 0);
    goro_select_case cs = {c, GORO_RECV, NULL, NULL};
    goro_select_deadline(&cs, 1, goro_now() + MS);
    goro_timer_free(t);
    goro_chan_free(c);
    goro_after(60000 * MS);  /* pending when the G ends */
    aft[5] = (int64_t)timerscount();
    aft[6] = (int64_t)test_stacksize();
}

static void aftermain(void *arg)
{
    (void)arg;
    long one = 1, v;
    goro_chan *ready = goro_chan_new(sizeof(long), 1);
    goro_chan *first = NULL;
    int64_t other = 0;
    for (int i = 0; i < 10000; i++) {
        goro_chan_send(ready, &one);
        goro_chan *a = goro_after(1000 * MS);
        if (first == NULL)
            first = a;
        if (a != first)
            other++;
        goro_select_case cs[2] = {{ready, GORO_RECV, &v, NULL},
                                  {a, GORO_RECV, NULL, NULL}};
        if (goro_select(cs, 2, 1) != 0)
            other++;
    }
    aft[0] = other;
    aft[1] = (int64_t)timerscount();   /* the one goro_after, re-armed */
    int64_t at = goro_now();
    aft[2] = recvtime(goro_after(5 * MS)) - at;
    aft[3] = (int64_t)timerscount();
    goro_wg *w = goro_wg_new();
    goro_wg_add(w, 1);
    goro_go(afterg, w);
    goro_sleep_ns(20 * MS);
    aft[4] = (int64_t)timerscount();   /* afterg ended: its timer stopped */
    goro_wg_free(w);
    goro_chan_free(ready);
}

Test(time, after_is_one_timer_per_g_and_needs_no_draining, .timeout = 30)
{
    cr_assert_eq(test_run(1, aftermain, NULL), 0);
    cr_expect_eq(aft[0], 0);
    cr_expect_eq(aft[1], 1, "%lld timers pending", (long long)aft[1]);
    cr_expect_geq(aft[2], 5 * MS);
    cr_expect_eq(aft[3], 0);
    cr_expect_eq(aft[5], 1);
    cr_expect_eq(aft[4], 0, "a dead G's goro_after is still pending");
    cr_expect_eq(aft[6], 2048, "timers grew the G's stack to %lld",
                 (long long)aft[6]);
}

/* A main G that only waits for a timer is not a deadlock: checkdead must
 * see the pending timer (the G's wait is a channel receive). */
static void onlytimermain(void *arg)
{
    (void)arg;
    goro_timer *t = goro_timer_new(200 * MS);
    recvtime(goro_timer_chan(t));
    goro_timer_free(t);
}

Test(time, a_g_waiting_only_for_a_timer_is_not_a_deadlock, .timeout = 30)
{
    cr_assert_eq(test_run(2, onlytimermain, NULL), 0);
}

static void freechanmain(void *arg)
{
    (void)arg;
    goro_timer *t = goro_timer_new(MS);
    goro_chan_free(goro_timer_chan(t));
}

Test(time, freeing_a_timers_channel_is_fatal, .signal = SIGABRT,
     .timeout = 30)
{
    test_run(1, freechanmain, NULL);
}

static int misuse[4];

static void misusemain(void *arg)
{
    (void)arg;
    misuse[0] = goro_ticker_new(0) == NULL && errno == EINVAL;
    misuse[1] = goro_timer_stop(NULL) == -EINVAL;
    misuse[2] = goro_ticker_reset(NULL, MS) == -EINVAL;
}

Test(time, misuse_is_refused, .timeout = 30)
{
    cr_assert_eq(test_run(1, misusemain, NULL), 0);
    cr_expect(misuse[0] && misuse[1] && misuse[2]);
    errno = 0;
    cr_expect_null(goro_timer_new(MS));  /* the runtime is not running */
    cr_expect_eq(errno, EPERM);
}

/* ---- a million pending timers --------------------------------------------- */

enum { NMILLION = 1000000 };
static goro_timer **million;
static long rssbefore, rssafter;
static uint64_t gsbefore, gsafter;
static uint32_t npending, nafter;

static long rsspages(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss;
}

static void millionmain(void *arg)
{
    (void)arg;
    goro_stats st;
    million = malloc(NMILLION * sizeof *million);
    for (int i = 0; i < NMILLION; i++)   /* touch the array first */
        million[i] = NULL;
    goro_stats_get(&st);
    gsbefore = st.gs_live;
    rssbefore = rsspages();
    for (int i = 0; i < NMILLION; i++)
        million[i] = goro_timer_new(3600000 * MS + i);
    rssafter = rsspages();
    goro_stats_get(&st);
    gsafter = st.gs_live;
    npending = timerscount();
    for (int i = 0; i < NMILLION; i++)
        goro_timer_free(million[i]);
    nafter = timerscount();
    free(million);
}

Test(time, a_million_pending_timers_cost_memory_and_no_gs, .timeout = 120)
{
    cr_assert_eq(test_run(2, millionmain, NULL), 0);
    cr_expect_eq(npending, NMILLION);
    cr_expect_eq(gsafter, gsbefore, "timers made Gs");
    double per = (double)(rssafter - rssbefore) * 4096 / NMILLION;
    cr_expect_leq(per, 256.0, "%.0f bytes per pending timer", per);
    cr_expect_eq(nafter, 0);
}

/* ---- select with a deadline -------------------------------------------------- */

static int64_t sd[16];

static void latesend(void *arg)
{
    goro_sleep_ns(5 * MS);
    long v = 42;
    goro_chan_send(arg, &v);
}

static void seldeadlinemain(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(long), 0);
    long v = 0;
    goro_select_case cs = {c, GORO_RECV, &v, NULL};
    /* Nothing comes: -ETIMEDOUT, not before the deadline. */
    int64_t dl = goro_now() + 10 * MS;
    sd[0] = goro_select_deadline(&cs, 1, dl);
    sd[1] = goro_now() >= dl;
    sd[2] = timerscount();
    /* A deadline already past: -ETIMEDOUT without parking. */
    goro_stats st0, st1;
    goro_stats_get(&st0);
    sd[3] = goro_select_deadline(&cs, 1, goro_now() - 1);
    goro_stats_get(&st1);
    /* Less the preemptions a loaded machine may have caused meanwhile
     * (a thread held back for a slice, then stopped at a call). */
    sd[4] = (int64_t)(st1.ctx_switches - st0.ctx_switches) -
            (int64_t)(st1.preempt_sync - st0.preempt_sync) -
            (int64_t)(st1.preempt_async - st0.preempt_async);
    /* A sender before the deadline wins; no timer is left. */
    goro_go(latesend, c);
    sd[5] = goro_select_deadline(&cs, 1, goro_now() + 60000 * MS);
    sd[6] = v;
    sd[7] = timerscount();
    /* A ready case is taken even past the deadline. */
    goro_chan *b = goro_chan_new(sizeof(long), 1);
    long w = 7;
    goro_chan_send(b, &w);
    goro_select_case cb = {b, GORO_RECV, &v, NULL};
    sd[8] = goro_select_deadline(&cb, 1, 1);
    sd[9] = v;
    /* Deadline 0 is none: as goro_select. */
    goro_go(latesend, c);
    sd[10] = goro_select_deadline(&cs, 1, 0);
    goro_chan_free(b);
    goro_chan_free(c);
}

Test(select, with_a_deadline_times_out_or_takes_a_case, .timeout = 30)
{
    cr_assert_eq(test_run(1, seldeadlinemain, NULL), 0);
    cr_expect_eq(sd[0], -ETIMEDOUT);
    cr_expect(sd[1], "timed out before the deadline");
    cr_expect_eq(sd[2], 0, "the deadline's timer is still pending");
    cr_expect_eq(sd[3], -ETIMEDOUT);
    cr_expect_eq(sd[4], 0, "a past deadline parked the G");
    cr_expect_eq(sd[5], 0);
    cr_expect_eq(sd[6], 42);
    cr_expect_eq(sd[7], 0, "the deadline's timer outlived the select");
    cr_expect_eq(sd[8], 0);
    cr_expect_eq(sd[9], 7);
    cr_expect_eq(sd[10], 0);
}

/* Deadlines racing senders on two Ps: every value sent is received once,
 * whichever of the timer and the channel wins each select. */
enum { RACEN = 20000, RACERS = 4 };
static goro_chan *racec;
static _Atomic long racesum, racecount, racetimeouts;

static void racerecv(void *arg)
{
    (void)arg;
    uint32_t seed = (uint32_t)goro_id() * 2654435761u;
    while (atomic_load(&racecount) < RACEN) {
        long v;
        goro_select_case cs = {racec, GORO_RECV, &v, NULL};
        seed = seed * 1103515245 + 12345;
        int64_t dl = goro_now() + (int64_t)(seed >> 16) % 50000;
        int r = goro_select_deadline(&cs, 1, dl);
        if (r == 0) {
            atomic_fetch_add(&racesum, v);
            atomic_fetch_add(&racecount, 1);
        } else if (r == -ETIMEDOUT) {
            atomic_fetch_add(&racetimeouts, 1);
        } else {
            atomic_store(&racesum, -1000000000);
            break;
        }
    }
    goro_wg_done(wg);
}

static void racemain(void *arg)
{
    (void)arg;
    racec = goro_chan_new(sizeof(long), 0);
    wg = goro_wg_new();
    goro_wg_add(wg, RACERS);
    for (int i = 0; i < RACERS; i++)
        goro_go(racerecv, NULL);
    for (long i = 1; i <= RACEN; i++) {
        goro_chan_send(racec, &i);
        if (i % 64 == 0)
            goro_sleep_ns(20000);
    }
    goro_wg_wait(wg);
    goro_wg_free(wg);
    goro_chan_free(racec);
}

Test(select, deadlines_racing_senders_lose_no_value, .timeout = 120)
{
    cr_assert_eq(test_run(2, racemain, NULL), 0);
    cr_expect_eq(atomic_load(&racecount), RACEN);
    cr_expect_eq(atomic_load(&racesum), (long)RACEN * (RACEN + 1) / 2);
    cr_expect_gt(atomic_load(&racetimeouts), 0, "no deadline ever won");
}

/* Gs parked in goro_select_deadline, their values on stacks that grew and
 * are then shrunk by a scan: the values still land in the right place,
 * and those that time out do so after their deadline. The receivers'
 * deadline is far: on a loaded machine the scan and the sends may come
 * after the others' (a send that outlived every receiver was reported,
 * rightly, as a deadlock). */
enum { NMOVE = 64 };
static goro_chan *movec;
static long moved[NMOVE];
static int moverc[NMOVE];
static int64_t movedl, moverecvdl;
static _Atomic int moveshrunk;

static void movewaiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    test_recurse(200);  /* grow to ~64 KiB; the scan shrinks it back */
    long v = -1;
    goro_select_case cs = {i % 2 ? movec : NULL, GORO_RECV, &v, NULL};
    int64_t dl = i % 2 ? moverecvdl : movedl;
    moverc[i] = goro_select_deadline(&cs, 1, dl);
    moved[i] = v;
    if (moverc[i] == -ETIMEDOUT && goro_now() < dl)
        moverc[i] = -1000;
    goro_wg_done(wg);
}

static void movemain(void *arg)
{
    (void)arg;
    movec = goro_chan_new(sizeof(long), 0);
    wg = goro_wg_new();
    movedl = goro_now() + 300 * MS;
    moverecvdl = goro_now() + 30000 * MS;
    goro_wg_add(wg, NMOVE);
    for (int i = 0; i < NMOVE; i++)
        goro_go(movewaiter, (void *)(intptr_t)i);
    test_wait_waiting(NMOVE);
    atomic_store(&moveshrunk, goro_stack_scan());
    for (long i = 0; i < NMOVE / 2; i++) {
        long v = 1000 + i;
        goro_chan_send(movec, &v);
    }
    goro_wg_wait(wg);
    goro_wg_free(wg);
    goro_chan_free(movec);
}

Test(select, deadline_waiters_values_follow_their_moving_stacks,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, movemain, NULL), 0);
    cr_expect_geq(atomic_load(&moveshrunk), NMOVE / 2,
                  "the scan shrank %d stacks", atomic_load(&moveshrunk));
    long sum = 0;
    for (int i = 0; i < NMOVE; i++) {
        if (i % 2) {
            cr_expect_eq(moverc[i], 0, "waiter %d: %d", i, moverc[i]);
            sum += moved[i];
        } else {
            cr_expect_eq(moverc[i], -ETIMEDOUT, "waiter %d: %d", i,
                         moverc[i]);
        }
    }
    long want = 0;
    for (long i = 0; i < NMOVE / 2; i++)
        want += 1000 + i;
    cr_expect_eq(sum, want);
}
