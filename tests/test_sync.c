/* test_sync.c - Go's sync for Gs: the mutex under contention (woken
 * waiters compete, starvation mode bounds the wait), trylock, the condition
 * variable (signal wakes one, broadcast all, spurious wake-ups), the
 * reader/writer mutex (exclusion, writers not starved by readers), once
 * with 1,000 callers, the weighted semaphore's FIFO order and deadlines,
 * G-local values and their destructors, and waiters whose stacks a scan
 * moves. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "export_test.h"

#define MS (1000 * 1000LL)

static goro_wg *wg;

/* waitgone waits until only the calling G is live. */
static void waitgone(void)
{
    goro_stats st;
    for (;;) {
        goro_stats_get(&st);
        if (st.gs_live <= 1)
            return;
        goro_sleep_ns(1000 * 1000);
    }
}

/* ---- mutex ---------------------------------------------------------------- */

static goro_mutex *mu;
static long counter;
static uint64_t switches;

static void hammer(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        goro_mutex_lock(mu);
        counter++;
        goro_mutex_unlock(mu);
    }
    goro_wg_done(wg);
}

static void contendmain(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    wg = goro_wg_new();
    goro_stats s0, s1;
    goro_stats_get(&s0);
    goro_wg_add(wg, 64);
    for (int i = 0; i < 64; i++)
        goro_go(hammer, (void *)(intptr_t)20000);
    goro_wg_wait(wg);
    goro_stats_get(&s1);
    switches = s1.ctx_switches - s0.ctx_switches;
    goro_mutex_free(mu);
    goro_wg_free(wg);
}

Test(sync, mutex_under_contention_is_exact_and_rarely_switches,
     .timeout = 120)
{
    cr_assert_eq(test_run(2, contendmain, NULL), 0);
    cr_expect_eq(counter, 64 * 20000);
    /* With hand-over to the next waiter, every unlock that found a waiter
     * was a switch; a woken waiter that competes lets the running G go
     * on: far fewer switches than lock/unlock pairs. */
    cr_expect_lt(switches, (uint64_t)64 * 20000 / 4,
                 "%llu switches for %d lock/unlock pairs",
                 (unsigned long long)switches, 64 * 20000);
}

/* A G that re-takes the lock in a loop cannot keep a waiter out for
 * ever: after 1 ms of waiting the mutex hands over in FIFO order. */
static _Atomic bool gotit;
static _Atomic long hogrounds;

static void hog(void *arg)
{
    (void)arg;
    while (!atomic_load(&gotit)) {
        goro_mutex_lock(mu);
        for (volatile int i = 0; i < 200; i++)
            ;
        goro_mutex_unlock(mu);
        atomic_fetch_add(&hogrounds, 1);
    }
    goro_wg_done(wg);
}

static void starvemain(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    wg = goro_wg_new();
    goro_wg_add(wg, 2);
    goro_go(hog, NULL);
    goro_go(hog, NULL);
    while (atomic_load(&hogrounds) < 1000)
        goro_yield();
    for (int i = 0; i < 100; i++) {
        goro_mutex_lock(mu);
        goro_mutex_unlock(mu);
    }
    atomic_store(&gotit, true);
    goro_wg_wait(wg);
    goro_mutex_free(mu);
    goro_wg_free(wg);
}

Test(sync, mutex_waiters_are_not_starved_by_running_lockers, .timeout = 60)
{
    cr_assert_eq(test_run(2, starvemain, NULL), 0);
    cr_expect(atomic_load(&gotit));
}

static int tryrc[4];

static void trylocker(void *arg)
{
    (void)arg;
    tryrc[1] = goro_mutex_trylock(mu);
    goro_wg_done(wg);
}

static void trymain(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    wg = goro_wg_new();
    tryrc[0] = goro_mutex_trylock(mu);
    goro_wg_add(wg, 1);
    goro_go(trylocker, NULL);
    goro_wg_wait(wg);
    goro_mutex_unlock(mu);
    tryrc[2] = goro_mutex_trylock(mu);
    goro_mutex_unlock(mu);
    tryrc[3] = goro_mutex_trylock(NULL);
    goro_mutex_free(mu);
    goro_wg_free(wg);
}

Test(sync, trylock_takes_a_free_mutex_only, .timeout = 30)
{
    cr_assert_eq(test_run(2, trymain, NULL), 0);
    cr_expect_eq(tryrc[0], 0);
    cr_expect_eq(tryrc[1], -EBUSY);
    cr_expect_eq(tryrc[2], 0);
    cr_expect_eq(tryrc[3], -EINVAL);
}

static void unlockfree(void *arg)
{
    (void)arg;
    goro_mutex *m = goro_mutex_new();
    goro_mutex_unlock(m);
}

Test(sync, unlock_of_an_unlocked_mutex_is_fatal, .signal = SIGABRT,
     .timeout = 30)
{
    test_run(1, unlockfree, NULL);
}

/* ---- cond --------------------------------------------------------------------- */

static goro_cond *cv;
static int ready_flag;            /* under mu */
static _Atomic int woken, wakeups;

static void cwaiter(void *arg)
{
    (void)arg;
    goro_mutex_lock(mu);
    while (!ready_flag) {
        goro_cond_wait(cv, mu);
        atomic_fetch_add(&wakeups, 1);
    }
    goro_mutex_unlock(mu);
    atomic_fetch_add(&woken, 1);
    goro_wg_done(wg);
}

static int condseen[4];

static void condmain(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    cv = goro_cond_new();
    wg = goro_wg_new();
    goro_wg_add(wg, 10);
    for (int i = 0; i < 10; i++)
        goro_go(cwaiter, NULL);
    test_wait_waiting(10);
    /* A spurious wake-up for all: the condition is still false. */
    goro_cond_broadcast(cv);
    while (atomic_load(&wakeups) < 10)
        goro_sleep_ns(MS);
    test_wait_waiting(10);
    condseen[0] = atomic_load(&woken);
    /* One signal wakes one waiter, which re-waits; a second would show
     * in the next 20 ms. */
    goro_cond_signal(cv);
    while (atomic_load(&wakeups) < 11)
        goro_sleep_ns(MS);
    goro_sleep_ns(20 * MS);
    condseen[1] = atomic_load(&wakeups);
    /* Now for real. */
    goro_mutex_lock(mu);
    ready_flag = 1;
    goro_cond_broadcast(cv);
    goro_mutex_unlock(mu);
    goro_wg_wait(wg);
    condseen[2] = atomic_load(&woken);
    goro_cond_signal(cv);     /* nobody waits: lost, harmless */
    goro_cond_free(cv);
    goro_mutex_free(mu);
    goro_wg_free(wg);
}

Test(sync, cond_signal_wakes_one_broadcast_all_and_waiters_recheck,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, condmain, NULL), 0);
    cr_expect_eq(condseen[0], 0, "a waiter left on a spurious wake-up");
    cr_expect_eq(condseen[1], 11, "a signal woke %d waiters",
                 condseen[1] - 10);
    cr_expect_eq(condseen[2], 10);
}

/* A producer and consumers through a bounded queue (two conds): no item
 * lost or repeated, on two Ps, with signals racing waits. */
enum { QN = 20000, QCAP = 4, QCONS = 8 };
static goro_cond *notempty, *notfull;
static long q[QCAP];
static int qlen, qhead, qdone;
static _Atomic long qsum, qcount;

static void consumer(void *arg)
{
    (void)arg;
    for (;;) {
        goro_mutex_lock(mu);
        while (qlen == 0 && !qdone)
            goro_cond_wait(notempty, mu);
        if (qlen == 0 && qdone) {
            goro_mutex_unlock(mu);
            break;
        }
        long v = q[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        goro_cond_signal(notfull);
        goro_mutex_unlock(mu);
        atomic_fetch_add(&qsum, v);
        atomic_fetch_add(&qcount, 1);
    }
    goro_wg_done(wg);
}

static void queuemain(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    notempty = goro_cond_new();
    notfull = goro_cond_new();
    wg = goro_wg_new();
    goro_wg_add(wg, QCONS);
    for (int i = 0; i < QCONS; i++)
        goro_go(consumer, NULL);
    for (long v = 1; v <= QN; v++) {
        goro_mutex_lock(mu);
        while (qlen == QCAP)
            goro_cond_wait(notfull, mu);
        q[(qhead + qlen) % QCAP] = v;
        qlen++;
        goro_cond_signal(notempty);
        goro_mutex_unlock(mu);
    }
    goro_mutex_lock(mu);
    qdone = 1;
    goro_cond_broadcast(notempty);
    goro_mutex_unlock(mu);
    goro_wg_wait(wg);
    goro_cond_free(notempty);
    goro_cond_free(notfull);
    goro_mutex_free(mu);
    goro_wg_free(wg);
}

Test(sync, cond_bounded_queue_loses_nothing_on_two_procs, .timeout = 120)
{
    cr_assert_eq(test_run(2, queuemain, NULL), 0);
    cr_expect_eq(atomic_load(&qcount), QN);
    cr_expect_eq(atomic_load(&qsum), (long)QN * (QN + 1) / 2);
}

/* ---- rwmutex ------------------------------------------------------------------ */

static goro_rwmutex *rw;
static _Atomic int readers_in, writers_in, rwbad;
static _Atomic bool stopreaders;
static _Atomic long readrounds;
static int writes_done;

static void reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopreaders)) {
        goro_rwmutex_rlock(rw);
        atomic_fetch_add(&readers_in, 1);
        if (atomic_load(&writers_in) != 0)
            atomic_store(&rwbad, 1);
        goro_yield();  /* stay in while others come */
        atomic_fetch_sub(&readers_in, 1);
        goro_rwmutex_runlock(rw);
        atomic_fetch_add(&readrounds, 1);
    }
    goro_wg_done(wg);
}

static void rwmain(void *arg)
{
    (void)arg;
    rw = goro_rwmutex_new();
    wg = goro_wg_new();
    goro_wg_add(wg, 16);
    for (int i = 0; i < 16; i++)
        goro_go(reader, NULL);
    while (atomic_load(&readrounds) < 1000)
        goro_yield();
    /* A stream of overlapping readers; a writer must still get in, each
     * time, and alone. */
    for (int i = 0; i < 200; i++) {
        goro_rwmutex_lock(rw);
        atomic_fetch_add(&writers_in, 1);
        if (atomic_load(&readers_in) != 0)
            atomic_store(&rwbad, 2);
        goro_yield();
        atomic_fetch_sub(&writers_in, 1);
        goro_rwmutex_unlock(rw);
        writes_done++;
    }
    atomic_store(&stopreaders, true);
    goro_wg_wait(wg);
    goro_rwmutex_free(rw);
    goro_wg_free(wg);
}

Test(sync, rwmutex_writers_are_not_starved_by_a_stream_of_readers,
     .timeout = 120)
{
    cr_assert_eq(test_run(2, rwmain, NULL), 0);
    cr_expect_eq(writes_done, 200);
    cr_expect_eq(atomic_load(&rwbad), 0, "readers and a writer were in "
                 "together (%d)", atomic_load(&rwbad));
}

/* ---- once ----------------------------------------------------------------------- */

static goro_once once = GORO_ONCE_INIT;
static _Atomic int oncecalls, oncefinished, oncebad;

static void oncefn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&oncecalls, 1);
    goro_sleep_ns(10 * MS);  /* the others must wait for this */
    atomic_store(&oncefinished, 1);
}

static void oncecaller(void *arg)
{
    (void)arg;
    goro_once_do(&once, oncefn, NULL);
    if (!atomic_load(&oncefinished))
        atomic_fetch_add(&oncebad, 1);
    goro_wg_done(wg);
}

static void oncemain(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, 1000);
    for (int i = 0; i < 1000; i++)
        goro_go(oncecaller, NULL);
    goro_wg_wait(wg);
    goro_once_do(&once, oncefn, NULL);
    goro_wg_free(wg);
}

Test(sync, once_with_1000_concurrent_callers_calls_once, .timeout = 60)
{
    cr_assert_eq(test_run(2, oncemain, NULL), 0);
    cr_expect_eq(atomic_load(&oncecalls), 1);
    cr_expect_eq(atomic_load(&oncebad), 0,
                 "%d callers returned before fn did", atomic_load(&oncebad));
}

/* ---- weighted semaphore ------------------------------------------------------ */

static goro_sem *sem;
static int semorder[8], semn;
static int semrc[8];

static void semwaiter(void *arg)
{
    int64_t w = (int64_t)(intptr_t)arg;
    int rc = goro_sem_acquire(sem, w);
    semorder[semn++] = (int)w;  /* one P: no race */
    if (rc != 0)
        semrc[7] = rc;
    goro_wg_done(wg);
}

static void semmain(void *arg)
{
    (void)arg;
    sem = goro_sem_new(10);
    wg = goro_wg_new();
    semrc[0] = goro_sem_acquire(sem, 10);
    /* Queue 8, then 1, then 2, in that order. */
    goro_wg_add(wg, 3);
    goro_go(semwaiter, (void *)(intptr_t)8);
    test_wait_waiting(1);
    goro_go(semwaiter, (void *)(intptr_t)1);
    test_wait_waiting(2);
    goro_go(semwaiter, (void *)(intptr_t)2);
    test_wait_waiting(3);
    semrc[1] = goro_sem_tryacquire(sem, 1);   /* waiters: no barging */
    /* One unit free: the 1 behind the 8 must not overtake it. */
    goro_sem_release(sem, 1);
    goro_sleep_ns(10 * MS);
    semrc[2] = semn;
    /* Nine more: 8 goes, then 1; 2 must wait for more. */
    goro_sem_release(sem, 9);
    while (semn < 2)
        goro_sleep_ns(MS);
    goro_sleep_ns(10 * MS);
    semrc[3] = semn;
    goro_sem_release(sem, 9);  /* 8 + 1 back: 2 goes */
    goro_wg_wait(wg);
    semrc[4] = goro_sem_acquire(sem, 11);
    semrc[5] = goro_sem_tryacquire(sem, 8);   /* 2 held: 8 free */
    goro_sem_release(sem, 10);
    goro_sem_free(sem);
    goro_wg_free(wg);
}

Test(sync, semaphore_admits_waiters_in_fifo_order, .timeout = 30)
{
    cr_assert_eq(test_run(1, semmain, NULL), 0);
    cr_expect_eq(semrc[0], 0);
    cr_expect_eq(semrc[1], -EAGAIN);
    cr_expect_eq(semrc[2], 0, "a small request overtook a large one");
    cr_expect_eq(semrc[3], 2);
    /* 8 and 1 were admitted together (they run in either order), 2
     * after them. */
    cr_expect_eq(semorder[0] + semorder[1], 9);
    cr_expect_eq(semorder[2], 2);
    cr_expect_eq(semrc[4], -EINVAL);
    cr_expect_eq(semrc[5], 0);
    cr_expect_eq(semrc[7], 0);
}

static int64_t semdl[8];

static void semsmall(void *arg)
{
    (void)arg;
    semdl[3] = goro_sem_acquire(sem, 1);
    goro_wg_done(wg);
}

static void semdeadlinemain(void *arg)
{
    (void)arg;
    sem = goro_sem_new(4);
    wg = goro_wg_new();
    goro_sem_acquire(sem, 3);
    /* A large request at the head times out; the small one behind it
     * then fits and goes in. */
    goro_wg_add(wg, 1);
    int64_t dl = goro_now() + 20 * MS;
    goro_go(semsmall, NULL);   /* runs when main parks below */
    semdl[0] = goro_sem_acquire_deadline(sem, 4, dl);
    semdl[1] = goro_now() >= dl;
    goro_wg_wait(wg);
    semdl[2] = goro_sem_acquire_deadline(sem, 1, goro_now() - 1);
    semdl[4] = timerscount();
    goro_sem_release(sem, 4);
    goro_sem_free(sem);
    goro_wg_free(wg);
}

Test(sync, semaphore_deadline_leaves_the_queue_and_lets_the_next_in,
     .timeout = 30)
{
    cr_assert_eq(test_run(1, semdeadlinemain, NULL), 0);
    cr_expect_eq(semdl[0], -ETIMEDOUT);
    cr_expect(semdl[1], "timed out before the deadline");
    cr_expect_eq(semdl[3], 0);
    cr_expect_eq(semdl[2], -ETIMEDOUT);
    cr_expect_eq(semdl[4], 0);
}

/* ---- G-local values ------------------------------------------------------------ */

static int key1, key2, keydead;
static _Atomic long dtorsum, dtorcalls;
static long keyseen[8];

static void dtor1(void *v)
{
    atomic_fetch_add(&dtorsum, (long)(intptr_t)v);
    atomic_fetch_add(&dtorcalls, 1);
}

static void dtor2(void *v)
{
    /* Sets a value again: run again in the next round. */
    atomic_fetch_add(&dtorcalls, 1);
    if ((intptr_t)v < 3)
        goro_key_set(key2, (void *)((intptr_t)v + 1));
}

static void keyg(void *arg)
{
    long i = (long)(intptr_t)arg;
    if (goro_key_get(key1) != NULL)
        atomic_fetch_add(&dtorsum, 1000000);  /* a new G sees NULL */
    goro_key_set(key1, (void *)(intptr_t)(i + 1));
    goro_yield();
    if (goro_key_get(key1) != (void *)(intptr_t)(i + 1))
        atomic_fetch_add(&dtorsum, 1000000);  /* another G's value */
    goro_wg_done(wg);
}

static void keyg2(void *arg)
{
    (void)arg;
    goro_key_set(key2, (void *)(intptr_t)1);
    goro_key_set(keydead, (void *)(intptr_t)5);
    goro_wg_done(wg);
}

static void keymain(void *arg)
{
    (void)arg;
    key1 = goro_key_new(dtor1);
    key2 = goro_key_new(dtor2);
    keydead = goro_key_new(dtor1);
    wg = goro_wg_new();
    goro_wg_add(wg, 100);
    for (long i = 0; i < 100; i++)
        goro_go(keyg, (void *)(intptr_t)i);
    goro_wg_wait(wg);
    waitgone();  /* wg_done comes before the G's end */
    keyseen[0] = atomic_load(&dtorsum);
    keyseen[1] = atomic_load(&dtorcalls);
    atomic_store(&dtorcalls, 0);
    goro_wg_add(wg, 1);
    goro_go(keyg2, NULL);
    goro_wg_wait(wg);
    waitgone();
    keyseen[2] = atomic_load(&dtorcalls);   /* dtor2 x3; keydead's: 1 */
    /* A deleted key's values are gone and its number refused. */
    goro_key_set(keydead, (void *)(intptr_t)7);
    keyseen[3] = goro_key_delete(keydead);
    keyseen[4] = goro_key_get(keydead) == NULL;
    keyseen[5] = goro_key_set(keydead, NULL);
    int again = goro_key_new(NULL);
    keyseen[6] = goro_key_get(again) == NULL;  /* same slot, new key */
    keyseen[7] = goro_key_set(-1, NULL);
}

Test(sync, g_local_destructors_run_when_the_g_ends, .timeout = 30)
{
    cr_assert_eq(test_run(2, keymain, NULL), 0);
    cr_expect_eq(keyseen[0], 100 * 101 / 2);
    cr_expect_eq(keyseen[1], 100);
    cr_expect_eq(keyseen[2], 3 + 1);
    cr_expect_eq(keyseen[3], 0);
    cr_expect(keyseen[4]);
    cr_expect_eq(keyseen[5], -EINVAL);
    cr_expect(keyseen[6]);
    cr_expect_eq(keyseen[7], -EINVAL);
}

/* ---- waiters whose stacks move ------------------------------------------------- */

enum { NMOVE = 48 };
static long movesum;
static goro_mutex *movemu;

static void movewaiter(void *arg)
{
    long i = (long)(intptr_t)arg;
    long local = 1000 + i;
    test_recurse(200);  /* grow to ~64 KiB; the scans shrink it */
    switch (i % 3) {
    case 0:
        goro_mutex_lock(movemu);
        while (!ready_flag)
            goro_cond_wait(cv, movemu);
        goro_mutex_unlock(movemu);
        break;
    case 1:
        goro_rwmutex_rlock(rw);
        goro_rwmutex_runlock(rw);
        break;
    default:
        goro_sem_acquire(sem, 1);
        goro_sem_release(sem, 1);
    }
    goro_mutex_lock(movemu);
    movesum += local;
    goro_mutex_unlock(movemu);
    goro_wg_done(wg);
}

static int moveshrunk;

static void movemain(void *arg)
{
    (void)arg;
    movemu = goro_mutex_new();
    cv = goro_cond_new();
    rw = goro_rwmutex_new();
    sem = goro_sem_new(1);
    wg = goro_wg_new();
    goro_rwmutex_lock(rw);
    goro_sem_acquire(sem, 1);
    goro_wg_add(wg, NMOVE);
    for (long i = 0; i < NMOVE; i++)
        goro_go(movewaiter, (void *)(intptr_t)i);
    test_wait_waiting(NMOVE);
    moveshrunk = goro_stack_scan();
    moveshrunk += goro_stack_scan();
    goro_mutex_lock(movemu);
    ready_flag = 1;
    goro_cond_broadcast(cv);
    goro_mutex_unlock(movemu);
    goro_rwmutex_unlock(rw);
    goro_sem_release(sem, 1);
    goro_wg_wait(wg);
    goro_sem_free(sem);
    goro_rwmutex_free(rw);
    goro_cond_free(cv);
    goro_mutex_free(movemu);
    goro_wg_free(wg);
}

Test(sync, waiters_survive_their_stacks_moving, .timeout = 60)
{
    cr_assert_eq(test_run(2, movemain, NULL), 0);
    cr_expect_geq(moveshrunk, NMOVE, "the scans shrank %d stacks",
                  moveshrunk);
    long want = 0;
    for (long i = 0; i < NMOVE; i++)
        want += 1000 + i;
    cr_expect_eq(movesum, want);
}

/* ---- wait group ----------------------------------------------------------- */

/* A Done that brings the count to zero races the waiter round after
 * round: a G on the other P spins until the waiter is about to wait, then
 * does the Done, so that the two meet inside the wait (where a waiter that
 * had seen the count above zero once counted itself as a waiter after the
 * Done had looked for waiters, and slept for ever). The window is a few
 * instructions wide, so the test does not hit it every run; any lost
 * wake-up between the two hangs it. */
enum { WG_ROUNDS = 20000 };
static goro_wg *racewg;
static _Atomic long racego;
static long raced;

/* racelook is a call, so that the spinning G stops at its prologue when
 * the scheduler asks (a G readied into this P's queue while the other P
 * found nothing would otherwise wait for the spinner's end). */
static __attribute__((noinline)) long racelook(void)
{
    return atomic_load(&racego);
}

static void racedone(void *arg)
{
    (void)arg;
    for (long i = 1; i <= WG_ROUNDS; i++) {
        while (racelook() != i) {
        }
        for (volatile int d = 0; d < (int)(i % 64); d++) {
        }
        goro_wg_done(racewg);
    }
}

static void wgracemain(void *arg)
{
    (void)arg;
    racewg = goro_wg_new();
    goro_go(racedone, NULL);
    for (long i = 1; i <= WG_ROUNDS; i++) {
        goro_wg_add(racewg, 1);
        atomic_store(&racego, i);
        goro_wg_wait(racewg);
        raced++;
    }
    goro_wg_free(racewg);
}

Test(sync, wait_group_done_racing_a_waiter_wakes_it, .timeout = 120)
{
    cr_assert_eq(test_run(2, wgracemain, NULL), 0);
    cr_assert_eq(raced, WG_ROUNDS);
}

/* ---- context forms of the cond and the rwmutex ------------------------------ */

static int rc_cond_before, rc_cond_timed, rc_cond_trylock_before;
static int rc_cond_trylock_timed, plainwoken, plainwoken_many;
static goro_mutex *cmu;
static goro_cond *ccv;
static _Atomic int cwoken;

static void plain_waiter(void *arg)
{
    goro_wg *wg = arg;
    goro_mutex_lock(cmu);
    goro_cond_wait(ccv, cmu);
    atomic_fetch_add(&cwoken, 1);
    goro_mutex_unlock(cmu);
    goro_wg_done(wg);
}

static void ctx_waiter(void *arg)
{
    goro_wg *wg = arg;
    goro_ctx *ctx = goro_ctx_new_deadline(NULL, goro_now() + 5000000);
    goro_mutex_lock(cmu);
    goro_cond_wait_ctx(ctx, ccv, cmu);
    goro_mutex_unlock(cmu);
    goro_ctx_free(ctx);
    goro_wg_done(wg);
}

/* Some waiters with contexts that end, queued before a plain waiter:
 * one signal after they left must wake the plain one. */
static int signal_after_cancels(int nctx)
{
    atomic_store(&cwoken, 0);
    goro_wg *ctxdone = goro_wg_new(), *plaindone = goro_wg_new();
    goro_wg_add(ctxdone, nctx);
    goro_wg_add(plaindone, 1);
    uint64_t w0 = test_gs_waiting();
    for (int i = 0; i < nctx; i++)
        goro_go(ctx_waiter, ctxdone);
    test_wait_waiting(w0 + nctx);
    goro_go(plain_waiter, plaindone);
    test_wait_waiting(w0 + nctx + 1);
    goro_wg_wait(ctxdone);          /* their deadlines ended their waits */
    goro_mutex_lock(cmu);
    goro_cond_signal(ccv);
    goro_mutex_unlock(cmu);
    int woken = 0;
    for (int i = 0; i < 1000 && !woken; i++) {
        goro_sleep_ns(1000000);
        woken = atomic_load(&cwoken);
    }
    if (!woken)
        goro_cond_broadcast(ccv);   /* let it go: the signal was lost */
    goro_wg_wait(plaindone);
    goro_wg_free(ctxdone);
    goro_wg_free(plaindone);
    return woken;
}

static void cond_ctx(void *arg)
{
    (void)arg;
    cmu = goro_mutex_new();
    ccv = goro_cond_new();
    goro_ctx *done = goro_ctx_new(NULL);
    goro_ctx_cancel(done, 0);
    goro_mutex_lock(cmu);
    rc_cond_before = goro_cond_wait_ctx(done, ccv, cmu);
    rc_cond_trylock_before = goro_mutex_trylock(cmu);   /* held: -EBUSY */
    goro_ctx *soon = goro_ctx_new_deadline(NULL, goro_now() + 2000000);
    rc_cond_timed = goro_cond_wait_ctx(soon, ccv, cmu);
    rc_cond_trylock_timed = goro_mutex_trylock(cmu);
    goro_mutex_unlock(cmu);
    goro_ctx_free(done);
    goro_ctx_free(soon);
    plainwoken = signal_after_cancels(1);
    /* More than the cond remembers: the cancels wake everyone. */
    plainwoken_many = signal_after_cancels(10);
}

Test(sync, cond_wait_ctx_returns_holding_the_mutex_and_loses_no_signal,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, cond_ctx, NULL), 0);
    cr_expect_eq(rc_cond_before, -ECANCELED);
    cr_expect_eq(rc_cond_trylock_before, -EBUSY);
    cr_expect_eq(rc_cond_timed, -ETIMEDOUT);
    cr_expect_eq(rc_cond_trylock_timed, -EBUSY);
    cr_expect(plainwoken, "a signal was lost on a waiter that left");
    cr_expect(plainwoken_many, "a signal was lost on one of 10 that left");
}

static int rc_r_timed, rc_r_after, rc_w_timed, rc_w_after, rc_w_readers;
static int rc_r_free;
static goro_rwmutex *crw;

static void rw_ctx(void *arg)
{
    (void)arg;
    crw = goro_rwmutex_new();
    rc_r_free = goro_rwmutex_rlock_ctx(NULL, crw);
    goro_ctx *soon = goro_ctx_new_deadline(NULL, goro_now() + 2000000);
    /* A reader inside: a writer waits for it, with its own deadline
     * passing, and comes in once it leaves. */
    goro_rwmutex_runlock(crw);
    goro_rwmutex_lock(crw);
    rc_r_timed = goro_rwmutex_rlock_ctx(soon, crw);   /* a writer in */
    goro_ctx_free(soon);
    soon = goro_ctx_new_deadline(NULL, goro_now() + 2000000);
    rc_w_timed = goro_rwmutex_lock_ctx(soon, crw);    /* a writer in */
    goro_ctx_free(soon);
    goro_rwmutex_unlock(crw);
    rc_r_after = goro_rwmutex_rlock_ctx(NULL, crw);
    goro_rwmutex_runlock(crw);
    rc_w_after = goro_rwmutex_lock_ctx(NULL, crw);
    goro_rwmutex_unlock(crw);
    /* Readers after all that: the counts are right (a stale unit would
     * let a reader in beside the writer, a lost one hang it). */
    goro_rwmutex_rlock(crw);
    goro_rwmutex_rlock(crw);
    goro_rwmutex_runlock(crw);
    goro_rwmutex_runlock(crw);
    rc_w_readers = goro_rwmutex_lock_ctx(NULL, crw);
    goro_rwmutex_unlock(crw);
    goro_rwmutex_free(crw);
}

Test(sync, rwmutex_ctx_forms_end_their_waits_and_leave_the_counts_right,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, rw_ctx, NULL), 0);
    cr_expect_eq(rc_r_free, 0);
    cr_expect_eq(rc_r_timed, -ETIMEDOUT);
    cr_expect_eq(rc_w_timed, -ETIMEDOUT);
    cr_expect_eq(rc_r_after, 0);
    cr_expect_eq(rc_w_after, 0);
    cr_expect_eq(rc_w_readers, 0);
}
