/*
 * test_lock.c - the runtime's mutex (lock.c): mutual exclusion, and no lost
 * wakeup between an unlock that is a plain store and a locker that sleeps,
 * with membarrier and with the fenced fallback (lockfence).
 *
 * The lockers are plain threads (not Ms): lock works on any thread.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "export_test.h"

enum { nlockers = 6 };

static mutex mu;
static long counter;      /* guarded by mu */
static long iterations;

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Each locker adds 1 iterations times, with a read-yield-write on every
 * 64th hold so that the others give up spinning and sleep. */
static void *locker(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        lock(&mu);
        long v = counter;
        if ((i & 63) == 0)
            sched_yield();
        counter = v + 1;
        unlock(&mu);
    }
    return NULL;
}

/* The threads counted in mu's sleepers word. */
static uint32_t sleepers(void)
{
    return atomic_load(&mu.sleepers) & mutexSleepers;
}

static void run_lockers(long n)
{
    pthread_t t[nlockers];
    iterations = n;
    counter = 0;
    for (int i = 0; i < nlockers; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, locker, NULL), 0);
    for (int i = 0; i < nlockers; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(counter, nlockers * n, "counter %ld, want %ld", counter,
                 nlockers * n);
    cr_assert_eq(sleepers(), 0);
    cr_assert_eq(atomic_load(&mu.key), mutex_unlocked);
}

/* Lockers that find the lock held for long all end up asleep in lock2,
 * and one unlock at a time lets every one of them through. */
static void held_then_released(void)
{
    pthread_t t[nlockers];
    iterations = 1;
    counter = 0;
    lock(&mu);
    for (int i = 0; i < nlockers; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, locker, NULL), 0);
    for (int waited = 0; sleepers() < nlockers; waited++) {
        cr_assert(waited < 10000, "only %u of %d lockers went to sleep",
                  sleepers(), nlockers);
        sleep_ms(1);
    }
    cr_assert_eq(counter, 0);
    unlock(&mu);
    for (int i = 0; i < nlockers; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(counter, nlockers);
    cr_assert_eq(sleepers(), 0);
}

Test(lock, sleepers_behind_a_held_lock_all_get_it, .timeout = 30)
{
    if (lockfence)
        cr_skip_test("membarrier(2) is not available here");
    cr_assert_eq(atomic_load(&mu.sleepers), 0);
    held_then_released();
    /* The first sleeper made the lock's unlocks fence from then on. */
    cr_assert_eq(atomic_load(&mu.sleepers), mutexFencing | mutexFenced);
}

/* ... until lock_unfence_after unlocks pass with no new sleeper; the next
 * sleeper fences them again. */
Test(lock, a_lock_nobody_slept_on_lately_is_unfenced_again, .timeout = 30)
{
    if (lockfence)
        cr_skip_test("membarrier(2) is not available here");
    lock_unfence_after = 1000;
    held_then_released();   /* and 7 unlocks since the last sleeper came */
    for (int i = 0; i < 900; i++) {
        lock(&mu);
        unlock(&mu);
    }
    cr_assert_eq(atomic_load(&mu.sleepers), mutexFencing | mutexFenced);
    for (int i = 0; i < 100; i++) {
        lock(&mu);
        unlock(&mu);
    }
    cr_assert_eq(atomic_load(&mu.sleepers), 0);
    held_then_released();
    cr_assert_eq(atomic_load(&mu.sleepers), mutexFencing | mutexFenced);
}

/* A lock nobody has slept on keeps the unfenced unlock. */
Test(lock, an_uncontended_lock_stays_unfenced)
{
    for (int i = 0; i < 1000; i++) {
        lock(&mu);
        counter++;
        unlock(&mu);
    }
    cr_assert_eq(counter, 1000);
    cr_assert_eq(atomic_load(&mu.sleepers), 0);
    cr_assert_eq(atomic_load(&lock_sleeps), 0);
}

Test(lock, many_threads_on_one_lock_lose_no_update_and_no_wakeup,
     .timeout = 60)
{
    run_lockers(20000);
}

/* The same with the lock unfenced again after every unlock that finds no
 * sleeper: the race between a new sleeper and the unlock that clears the
 * fence, many times over. */
Test(lock, unfencing_often_loses_no_update_and_no_wakeup, .timeout = 60)
{
    lock_unfence_after = 1;
    run_lockers(20000);
}

/* The fallback for kernels without membarrier: unlock fences itself.
 * (Each Criterion test is its own process, so this does not leak.) */
Test(lock, the_fenced_unlock_loses_no_update_and_no_wakeup, .timeout = 60)
{
    lockfence = true;
    held_then_released();
    run_lockers(20000);
}

/* Two threads, one per core, hand one lock back and forth with no
 * spinning: every contended lock sleeps at once, so the window between an
 * unlocker's store and its look for sleepers is crossed often, and on
 * every 8th hold the holder waits until the other is going to sleep. A lost wakeup
 * leaves a locker asleep for good: the join times out. */
static _Atomic long hammered;
static _Atomic int hammersdone;
static pthread_barrier_t start;

static void *hammer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    for (long i = 0; i < iterations; i++) {
        lock(&mu);
        counter++;
        if ((i & 7) == 0) {     /* yield: the other may need this CPU */
            while (sleepers() == 0 &&
                   atomic_load(&hammersdone) == 0)
                sched_yield();
            for (int k = 0; k < 3; k++)     /* time to reach the futex */
                sched_yield();
        }
        else
            for (int k = 0; k < 20; k++)   /* a hold worth contending for */
                __builtin_ia32_pause();
        unlock(&mu);
        atomic_fetch_add(&hammered, 1);
    }
    atomic_fetch_add(&hammersdone, 1);
    return NULL;
}

static void hammer_pair(long n)
{
    lock_active_spin = 0;
    lock_passive_spin = 0;
    iterations = n;
    counter = 0;
    pthread_t t[2];
    pthread_barrier_init(&start, NULL, 2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    /* A lost wakeup stops the count for good; a loaded machine only
     * slows it (each forced wait yields the CPU a few times). */
    long seen = -1;
    int still = 0;
    for (int i = 0; i < 2;) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        if (pthread_timedjoin_np(t[i], NULL, &dl) == 0) {
            i++;
            continue;
        }
        long now = atomic_load(&hammered);
        still = now == seen ? still + 1 : 0;
        seen = now;
        cr_assert_lt(still, 10,
                     "a locker never woke after %ld of %ld locks (lost "
                     "wakeup): key %u sleepers %#x done %d sleeps %lu",
                     now, 2 * n, atomic_load(&mu.key),
                     atomic_load(&mu.sleepers), atomic_load(&hammersdone),
                     (unsigned long)atomic_load(&lock_sleeps));
    }
    cr_assert_eq(counter, 2 * n);
    /* How many forced waits end in a sleep depends on the machine's load;
     * some must. */
    cr_assert_gt(atomic_load(&lock_sleeps), 0, "no locker ever slept");
}

Test(lock, sleeping_at_once_on_every_contention_loses_no_wakeup,
     .timeout = 180)
{
    hammer_pair(16000);
}

/* The same with the lock unfenced again after every quiet unlock: the
 * race between a new sleeper and the unlock that clears the fence. */
Test(lock, unfencing_often_while_sleeping_at_once_loses_no_wakeup,
     .timeout = 180)
{
    lock_unfence_after = 1;
    hammer_pair(16000);
}

Test(lock, the_fenced_unlock_sleeping_at_once_loses_no_wakeup,
     .timeout = 180)
{
    lockfence = true;
    hammer_pair(16000);
}

Test(lock, unlocking_an_unlocked_lock_throws, .signal = SIGABRT)
{
    mutex m = {0};
    unlock(&m);
}
