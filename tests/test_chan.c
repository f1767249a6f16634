/* test_chan.c - channels and select: unbuffered hand-over, buffering, FIFO
 * waiters, close, select (ready, blocking, fairness), many-to-many on two
 * Ps, and waiters whose values live on stacks that a scan moves. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "export_test.h"

static goro_wg *wg;

/* ---- basics ------------------------------------------------------------- */

static long got[16];
static int rcs[16];

static void sender(void *arg)
{
    long v = (long)(intptr_t)arg;
    rcs[v] = goro_chan_send(*(goro_chan **)&got[15], &v);
    goro_wg_done(wg);
}

static goro_chan *ch;

static void fifomain(void *arg)
{
    (void)arg;
    ch = goro_chan_new(sizeof(long), 0);
    *(goro_chan **)&got[15] = ch;
    wg = goro_wg_new();
    goro_wg_add(wg, 10);
    /* Senders block one after the other, in order: each is parked in
     * its send before the next starts. */
    uint64_t base = test_gs_waiting();
    for (long i = 0; i < 10; i++) {
        goro_go(sender, (void *)(intptr_t)i);
        test_wait_waiting(base + (uint64_t)i + 1);
    }
    for (int i = 0; i < 10; i++)
        rcs[10] |= goro_chan_recv(ch, &got[i]);
    goro_wg_wait(wg);
    goro_chan_free(ch);
}

Test(chan, unbuffered_senders_are_served_in_fifo_order, .timeout = 30)
{
    cr_assert_eq(test_run(2, fifomain, NULL), 0);
    for (int i = 0; i < 10; i++) {
        cr_expect_eq(got[i], i);
        cr_expect_eq(rcs[i], 0);
    }
    cr_expect_eq(rcs[10], 0);
}

static int bufrc[8];
static long bufvals[8];

static void bufmain(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(long), 3);
    for (long i = 0; i < 3; i++)
        bufrc[i] = goro_chan_send(c, &i);  /* fits: no blocking */
    /* A 4th send would block: select without blocking says so. */
    long four = 3;
    goro_select_case sc = {c, GORO_SEND, &four, NULL};
    bufrc[3] = goro_select(&sc, 1, 0);
    for (int i = 0; i < 3; i++)
        goro_chan_recv(c, &bufvals[i]);
    goro_chan_close(c);
    bufrc[4] = goro_chan_recv(c, &bufvals[3]);
    bufrc[5] = goro_chan_send(c, &four);
    goro_chan_free(c);
}

Test(chan, buffered_channel_holds_capacity_values_in_order, .timeout = 30)
{
    bufvals[3] = 99;
    cr_assert_eq(test_run(1, bufmain, NULL), 0);
    cr_expect(bufrc[0] == 0 && bufrc[1] == 0 && bufrc[2] == 0);
    cr_expect_eq(bufrc[3], -EAGAIN);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(bufvals[i], i);
    cr_expect_eq(bufrc[4], -EPIPE);
    cr_expect_eq(bufvals[3], 0, "a receive from a closed channel zeroes");
    cr_expect_eq(bufrc[5], -EPIPE);
}

/* ---- close ---------------------------------------------------------------- */

static atomic_int closed_recv, closed_send;

static void blockedrecv(void *c)
{
    long v = 7;
    if (goro_chan_recv(c, &v) == -EPIPE && v == 0)
        atomic_fetch_add(&closed_recv, 1);
    goro_wg_done(wg);
}

static void blockedsend(void *c)
{
    long v = 7;
    if (goro_chan_send(c, &v) == -EPIPE)
        atomic_fetch_add(&closed_send, 1);
    goro_wg_done(wg);
}

static void closemain(void *arg)
{
    (void)arg;
    goro_chan *r = goro_chan_new(sizeof(long), 0);
    goro_chan *s = goro_chan_new(sizeof(long), 0);
    wg = goro_wg_new();
    goro_wg_add(wg, 20);
    for (int i = 0; i < 10; i++) {
        goro_go(blockedrecv, r);
        goro_go(blockedsend, s);
    }
    goro_sleep_ns(20000000);  /* all blocked */
    goro_chan_close(r);
    goro_chan_close(s);
    goro_wg_wait(wg);
    goro_chan_free(r);
    goro_chan_free(s);
}

Test(chan, close_wakes_every_waiter, .timeout = 30)
{
    cr_assert_eq(test_run(2, closemain, NULL), 0);
    cr_expect_eq(atomic_load(&closed_recv), 10);
    cr_expect_eq(atomic_load(&closed_send), 10);
}

static void closetwice(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(1, 0);
    goro_chan_close(c);
    goro_chan_close(c);
}

Test(chan, closing_a_closed_channel_is_fatal, .signal = SIGABRT)
{
    test_run(1, closetwice, NULL);
}

static int misuse[6];

static void misusemain(void *arg)
{
    (void)arg;
    long v = 0;
    misuse[0] = goro_chan_send(NULL, &v);
    misuse[1] = goro_chan_recv(NULL, &v);
    misuse[2] = goro_select(NULL, 1, 1);
    goro_select_case bad = {NULL, 42, NULL, NULL};
    misuse[3] = goro_select(&bad, 1, 1);
    goro_select_case nilcase = {NULL, GORO_RECV, &v, NULL};
    misuse[4] = goro_select(&nilcase, 1, 0);  /* a nil channel: never ready */
}

Test(chan, misuse_is_refused)
{
    cr_assert_eq(test_run(1, misusemain, NULL), 0);
    cr_expect_eq(misuse[0], -EINVAL);
    cr_expect_eq(misuse[1], -EINVAL);
    cr_expect_eq(misuse[2], -EINVAL);
    cr_expect_eq(misuse[3], -EINVAL);
    cr_expect_eq(misuse[4], -EAGAIN);
    cr_expect_null(goro_chan_new(1 << 20, 1));
    long v;
    goro_chan *c = goro_chan_new(sizeof v, 1);
    /* Outside a G (a thread that is not one, foreign.c): the send takes
     * the buffer's room; a try on the full channel does not block. */
    v = 5;
    cr_expect_eq(goro_chan_send(c, &v), 0, "outside a G");
    cr_expect_eq(goro_chan_try_send(c, &v), -EAGAIN, "outside a G");
    goro_chan_free(c);
}

/* ---- select ------------------------------------------------------------------ */

#define NSEL 100000
static long taken[3];

static void fairmain(void *arg)
{
    (void)arg;
    goro_chan *a = goro_chan_new(sizeof(long), 1);
    goro_chan *b = goro_chan_new(sizeof(long), 1);
    goro_chan *c = goro_chan_new(sizeof(long), 1);
    long one = 1, v;
    goro_chan_send(a, &one);
    goro_chan_send(b, &one);
    goro_chan_send(c, &one);
    goro_select_case cs[3] = {{a, GORO_RECV, &v, NULL},
                              {b, GORO_RECV, &v, NULL},
                              {c, GORO_RECV, &v, NULL}};
    for (int i = 0; i < NSEL; i++) {
        int k = goro_select(cs, 3, 1);
        taken[k]++;
        goro_chan_send(cs[k].c, &one);  /* keep every case ready */
    }
}

Test(select, ready_cases_are_taken_evenly, .timeout = 60)
{
    cr_assert_eq(test_run(1, fairmain, NULL), 0);
    for (int k = 0; k < 3; k++)
        cr_expect(taken[k] > NSEL / 3 * 0.9 && taken[k] < NSEL / 3 * 1.1,
                  "case %d taken %ld of %d", k, taken[k], NSEL);
}

static int selidx = -2, selok = -1;
static long selval;

static void latesender(void *c)
{
    goro_sleep_ns(5000000);
    long v = 1234;
    goro_chan_send(c, &v);
}

static void blockmain(void *arg)
{
    (void)arg;
    goro_chan *a = goro_chan_new(sizeof(long), 0);
    goro_chan *b = goro_chan_new(sizeof(long), 0);
    goro_go(latesender, b);
    goro_select_case cs[2] = {{a, GORO_RECV, &selval, NULL},
                              {b, GORO_RECV, &selval, &selok}};
    selidx = goro_select(cs, 2, 1);
}

Test(select, blocks_until_a_case_is_ready, .timeout = 30)
{
    cr_assert_eq(test_run(2, blockmain, NULL), 0);
    cr_expect_eq(selidx, 1);
    cr_expect_eq(selok, 1);
    cr_expect_eq(selval, 1234);
}

/* ---- many to many ------------------------------------------------------------- */

static atomic_long summed;

struct pc {
    goro_chan *c;
    goro_wg *done;
};

static void producer(void *arg)
{
    struct pc *x = arg;
    for (long i = 1; i <= 10000; i++)
        goro_chan_send(x->c, &i);
    goro_wg_done(x->done);
}

static void consumer(void *arg)
{
    struct pc *x = arg;
    long v, s = 0;
    while (goro_chan_recv(x->c, &v) == 0)
        s += v;
    atomic_fetch_add(&summed, s);
    goro_wg_done(x->done);
}

static void manymain(void *arg)
{
    goro_chan *c = goro_chan_new(sizeof(long), (size_t)(intptr_t)arg);
    static struct pc prod, cons;
    prod = (struct pc){c, goro_wg_new()};
    cons = (struct pc){c, goro_wg_new()};
    goro_wg_add(prod.done, 8);
    goro_wg_add(cons.done, 8);
    for (int i = 0; i < 8; i++) {
        goro_go(producer, &prod);
        goro_go(consumer, &cons);
    }
    goro_wg_wait(prod.done);
    goro_chan_close(c);
    goro_wg_wait(cons.done);
}

Test(chan, many_to_many_unbuffered_on_two_procs, .timeout = 60)
{
    cr_assert_eq(test_run(2, manymain, (void *)0), 0);
    cr_expect_eq(atomic_load(&summed), 8L * 10000 * 10001 / 2);
}

Test(chan, many_to_many_buffered_on_two_procs, .timeout = 60)
{
    cr_assert_eq(test_run(2, manymain, (void *)16), 0);
    cr_expect_eq(atomic_load(&summed), 8L * 10000 * 10001 / 2);
}

/* ---- waiters on stacks that move ------------------------------------------------ */

static long deepburn(int n)
{
    volatile char pad[200];
    pad[0] = (char)n;
    if (n == 0)
        return 0;
    return deepburn(n - 1) + (pad[0] != (char)n);
}

static goro_chan *stackch;
static int recvok = -1, sendok = -1;

/* Park in a receive into a local, 50 frames deep, after the stack grew to
 * 1 MiB: scans then move the stack while the receive is pending. */
static int recvdeep(int n)
{
    volatile char pad[100];
    pad[0] = 1;
    if (n > 0)
        return recvdeep(n - 1) + pad[0] - 1;
    long local[4] = {-1, -1, -1, -1};
    if (goro_chan_recv(stackch, &local[1]) != 0)
        return 0;
    return local[0] == -1 && local[1] == 4242 && local[2] == -1;
}

static void receiver(void *arg)
{
    (void)arg;
    deepburn(4000);
    recvok = recvdeep(50);
    goro_wg_done(wg);
}

static int senddeep(int n)
{
    volatile char pad[100];
    pad[0] = 1;
    if (n > 0)
        return senddeep(n - 1) + pad[0] - 1;
    long value = 777;
    return goro_chan_send(stackch, &value) == 0;
}

static void bigsender(void *arg)
{
    (void)arg;
    deepburn(4000);
    sendok = senddeep(50);
    goro_wg_done(wg);
}

static int shrinks_recv, shrinks_send;
static long sentback;

static void movemain(void *arg)
{
    (void)arg;
    stackch = goro_chan_new(sizeof(long), 0);
    wg = goro_wg_new();
    goro_wg_add(wg, 2);
    uint64_t base = test_gs_waiting();
    goro_go(receiver, NULL);
    test_wait_waiting(base + 1);    /* parked in its receive */
    for (int i = 0; i < 12; i++)
        shrinks_recv += goro_stack_scan();
    long v = 4242;
    goro_chan_send(stackch, &v);  /* into the receiver's moved local */

    goro_go(bigsender, NULL);
    test_wait_waiting(base + 1);    /* parked in its send */
    for (int i = 0; i < 12; i++)
        shrinks_send += goro_stack_scan();
    goro_chan_recv(stackch, &sentback);  /* from the sender's moved local */
    goro_wg_wait(wg);
}

Test(chan, parked_waiters_values_follow_their_moving_stacks, .timeout = 30)
{
    setenv("GORO_STACK_SCAN_INTERVAL", "0", 1);
    cr_assert_eq(test_run(1, movemain, NULL), 0);
    cr_expect_geq(shrinks_recv, 3, "receiver's stack shrank %d times",
                  shrinks_recv);
    cr_expect_eq(recvok, 1, "the value did not land in the moved local");
    cr_expect_geq(shrinks_send, 3, "sender's stack shrank %d times",
                  shrinks_send);
    cr_expect_eq(sentback, 777);
    cr_expect_eq(sendok, 1);
}
