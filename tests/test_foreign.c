/* test_foreign.c - threads that are not Gs and channels: 8 plain pthreads
 * sending into Gs (blocking, unbuffered and buffered) and receiving their
 * results, the non-blocking tries, no deadlock report while such a thread
 * may still send, and the report again once it is gone. Results are
 * recorded in globals and asserted after goro_run. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export_test.h"

enum { THREADS = 8, PER = 10000 };
static goro_chan *work, *results, *buffered;
static atomic_long gotsum, threadsum;
static atomic_int threadfail;
static long r_results;

static void *sender(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < PER; i++) {
        long v = id * PER + i;
        if (goro_chan_send(i & 1 ? buffered : work, &v) != 0) {
            atomic_fetch_add(&threadfail, 1);
            break;
        }
    }
    /* And back: a result a G computed, received by this thread. */
    long sum = 0;
    for (int i = 0; i < PER / 100; i++) {
        long r;
        if (goro_chan_recv(results, &r) != 0) {
            atomic_fetch_add(&threadfail, 1);
            break;
        }
        sum += r;
    }
    atomic_fetch_add(&threadsum, sum);
    return NULL;
}

static void worker(void *arg)
{
    goro_chan *c = arg;
    long v;
    while (goro_chan_recv(c, &v) == 0)
        atomic_fetch_add(&gotsum, v);
}

static void answerer(void *arg)
{
    (void)arg;
    for (long i = 0; i < THREADS * (PER / 100); i++) {
        long r = 1;
        goro_chan_send(results, &r);
    }
}

static void sendmain(void *arg)
{
    (void)arg;
    work = goro_chan_new(sizeof(long), 0);
    buffered = goro_chan_new(sizeof(long), 16);
    results = goro_chan_new(sizeof(long), 0);
    goro_wg *wg = goro_wg_new();
    /* The Gs will wait for threads that have not started yet. */
    goro_foreign_hold();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, sender, (void *)i);
    for (int i = 0; i < 4; i++) {
        goro_go(worker, i & 1 ? buffered : work);
    }
    goro_go(answerer, NULL);
    long expect = (long)THREADS * PER * (THREADS * PER - 1) / 2;
    while (atomic_load(&gotsum) != expect ||
           atomic_load(&threadsum) != THREADS * (PER / 100)) {
        goro_sleep_ns(1000000);
        if (atomic_load(&threadfail))
            break;
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    goro_foreign_release();
    r_results = atomic_load(&threadsum);
    goro_chan_close(work);
    goro_chan_close(buffered);
    goro_wg_free(wg);
}

Test(foreign, eight_plain_threads_send_into_gs_and_receive_back,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, sendmain, NULL), 0);
    cr_assert_eq(atomic_load(&threadfail), 0);
    cr_assert_eq(atomic_load(&gotsum),
                 (long)THREADS * PER * (THREADS * PER - 1) / 2);
    cr_assert_eq(r_results, THREADS * (PER / 100));
}

/* ---- the tries ------------------------------------------------------------- */

static int r_try_full, r_try_ok, r_try_empty, r_try_got, r_try_val,
           r_try_closed;

static void *trier(void *arg)
{
    goro_chan *c = arg;
    int v = 7;
    r_try_ok = goro_chan_try_send(c, &v);
    r_try_full = goro_chan_try_send(c, &v);
    int w = 0;
    r_try_got = goro_chan_try_recv(c, &w);
    r_try_val = w;
    r_try_empty = goro_chan_try_recv(c, &w);
    goro_chan_close(c);
    r_try_closed = goro_chan_try_send(c, &v);
    return NULL;
}

Test(foreign, tries_never_block_a_thread, .timeout = 30)
{
    goro_chan *c = NULL;
    /* goro_chan_new needs no G. */
    c = goro_chan_new(sizeof(int), 1);
    cr_assert_not_null(c);
    pthread_t t;
    pthread_create(&t, NULL, trier, c);
    pthread_join(t, NULL);
    cr_assert_eq(r_try_ok, 0);
    cr_assert_eq(r_try_full, -EAGAIN);
    cr_assert_eq(r_try_got, 0);
    cr_assert_eq(r_try_val, 7);
    cr_assert_eq(r_try_empty, -EAGAIN);
    cr_assert_eq(r_try_closed, -EPIPE);
}

/* ---- deadlock reports -------------------------------------------------------- */

/* The thread makes its first call, then sleeps before the one the G waits
 * for: meanwhile every G waits on a channel, which is no deadlock. The G
 * learns of the first call from the call itself, not from a sleep that a
 * loaded machine may outlast before the thread has even started. */
static goro_chan *late, *started;

static void *latesender(void *arg)
{
    (void)arg;
    int v = 0;
    goro_chan_send(started, &v);  /* its first call: counted from here */
    usleep(300 * 1000);
    v = 42;
    goro_chan_send(late, &v);
    return NULL;
}

static void latemain(void *arg)
{
    (void)arg;
    late = goro_chan_new(sizeof(int), 0);
    started = goro_chan_new(sizeof(int), 1);
    goro_foreign_hold();
    pthread_t t;
    pthread_create(&t, NULL, latesender, NULL);
    int v = 0;
    goro_chan_recv(started, &v);  /* the thread has made its first call */
    goro_foreign_release();
    goro_chan_recv(late, &v);
    pthread_join(t, NULL);
    printf("got %d\n", v);
}

Test(foreign, no_deadlock_is_reported_while_a_thread_may_still_send,
     .timeout = 30)
{
    int status;
    char *err = test_run_child(2, latemain, NULL, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "status %#x: %s", status, err);
    cr_assert_null(strstr(err, "deadlock"), "%s", err);

}

static void *quickthread(void *arg)
{
    int v = 1;
    goro_chan_try_send(arg, &v);
    return NULL;
}

static void gonemain(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(int), 1);
    pthread_t t;
    pthread_create(&t, NULL, quickthread, c);
    pthread_join(t, NULL);
    int v;
    goro_chan_recv(c, &v);
    goro_chan_recv(c, &v);  /* nobody is left to send */
}

Test(foreign, once_the_threads_are_gone_a_deadlock_is_reported_again,
     .timeout = 30)
{
    int status;
    char *err = test_run_child(2, gonemain, NULL, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2,
              "status %#x: %s", status, err);
    cr_assert_not_null(strstr(err, "all goroutines are asleep"), "%s", err);

}
