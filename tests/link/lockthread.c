/* lockthread.c - goro_lock_thread, built with the pkg-config flags by gcc
 * and clang at -O0 and -O2 (tests/test_sched.c runs each mode of each
 * build). Asynchronous preemption acts only on code built against goro, so
 * these checks live in a program built as users build theirs.
 *
 *   stay     2 Ps. A locked G spins without calls (stopped by the signal)
 *            and with calls (stopped at a prologue), sleeps, receives and
 *            sends on channels, grows its stack, calls libc (wrapped and
 *            blocking: usleep, read of a pipe), yields and brackets a long
 *            call with goro_syscall_enter/exit, checking its thread id and
 *            pthread_self after each, while 3 busy Gs check at every step
 *            that they never run on the locked thread. Nested locks count:
 *            after one unlock of two the G is still locked; after the
 *            second, other Gs may run on that thread again.
 *   handoff  1 P. While the locked G sleeps, waits on a channel or blocks
 *            in a call, a spinner counts: the locked thread gave the only P
 *            away, and took it back to run the G.
 *   exit     A G that ends locked ends its thread (its tid leaves
 *            /proc/self/task) and the other Gs go on; then the main G
 *            locks its thread and returns, and goro_run returns.
 * Each mode prints "ok" last when every check held. */
#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            failures++;                                                       \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

static const char *mode;

static pid_t tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static int64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The locked G's thread while it is locked, else 0. */
static _Atomic pid_t lockedtid;
static _Atomic int stop;
static _Atomic long intruders;   /* steps of other Gs on the locked thread */
static _Atomic long steps;

/* Spins that the compiler cannot remove: a loop that calls nothing (the
 * signal stops it), and one that calls a function that is not inlined
 * (its prologue stops it). */
static volatile unsigned long sink;

static void spin_nocall(int64_t ns, int inner)
{
    int64_t end = now() + ns;
    while (now() < end)
        for (int i = 0; i < inner; i++)
            sink += (unsigned long)i;
}

__attribute__((noinline)) static unsigned long step(unsigned long x)
{
    sink += x;
    return x * 7 + 1;
}

static void spin_calls(int64_t ns)
{
    int64_t end = now() + ns;
    unsigned long x = 1;
    while (now() < end)
        for (int i = 0; i < 1000; i++)
            x = step(x);
}

__attribute__((noinline)) static long recurse(int n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    return n == 0 ? frame[0] : recurse(n - 1) + 1 + frame[0] - (char)n;
}

/* A busy G: spins in both ways, and checks at every step that it is not on
 * the locked thread. */
static void busy(void *arg)
{
    goro_wg *wg = arg;
    while (!atomic_load(&stop)) {
        pid_t t = tid();
        if (t == atomic_load(&lockedtid))
            atomic_fetch_add(&intruders, 1);
        spin_nocall(200000, 100000);
        if (tid() == atomic_load(&lockedtid))
            atomic_fetch_add(&intruders, 1);
        spin_calls(200000);
        atomic_fetch_add(&steps, 1);
    }
    goro_wg_done(wg);
}

/* The other end of the locked G's channel operations. */
static goro_chan *c[2];   /* the echo's channels: not on a G's stack,
                             which moves */

static void echo(void *arg)
{
    (void)arg;
    int v;
    while (goro_chan_recv(c[0], &v) == 0)
        if (goro_chan_send(c[1], &v) != 0)
            break;
}

struct where {
    pid_t tid;
    pthread_t self;
};

#define SAME(w, what)                                                         \
    do {                                                                      \
        pid_t t_ = tid();                                                     \
        CHECK(t_ == (w)->tid && pthread_equal(pthread_self(), (w)->self),     \
              "after %s: thread %d, locked to %d", what, (int)t_,             \
              (int)(w)->tid);                                                 \
    } while (0)

static goro_stats stats(void)
{
    goro_stats st;
    goro_stats_get(&st);
    return st;
}

static void locked_round(struct where *w, int fds[2])
{
    /* Loops of 20M iterations, without a call: tens of ms, beyond the
     * time a G is given to stop at a call before the signal is sent. */
    spin_nocall(30000000, 20000000);
    SAME(w, "a spin without calls");
    spin_calls(30000000);
    SAME(w, "a spin with calls");
    goro_sleep_ns(2000000);
    SAME(w, "a sleep");
    int v = 42, r = 0;
    CHECK(goro_chan_send(c[0], &v) == 0, "send");
    SAME(w, "a channel send");
    CHECK(goro_chan_recv(c[1], &r) == 0 && r == 42, "recv %d", r);
    SAME(w, "a channel receive");
    CHECK(recurse(200) == 200, "recursion");
    SAME(w, "a stack growth");
    usleep(3000);
    SAME(w, "usleep");
    char b = 'x';
    CHECK(write(fds[1], &b, 1) == 1 && read(fds[0], &b, 1) == 1, "pipe");
    SAME(w, "a read of a pipe");
    char buf[64];
    snprintf(buf, sizeof buf, "%d %s", 7, "seven");
    CHECK(strcmp(buf, "7 seven") == 0, "snprintf: %s", buf);
    SAME(w, "snprintf");
    goro_yield();
    SAME(w, "a yield");
    goro_syscall_enter();
    struct timespec ts = {0, 25000000};
    nanosleep(&ts, NULL);
    goro_syscall_exit();
    SAME(w, "a long goro_syscall_enter/exit");
}

static void mode_stay(void)
{
    enum { nbusy = 3, rounds = 4 };
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, nbusy);
    for (int i = 0; i < nbusy; i++)
        goro_go(busy, wg);
    c[0] = goro_chan_new(sizeof(int), 0);
    c[1] = goro_chan_new(sizeof(int), 0);
    goro_go(echo, NULL);
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");

    CHECK(goro_lock_thread() == 0, "lock");
    CHECK(goro_lock_thread() == 0, "nested lock");
    struct where w = {tid(), pthread_self()};
    atomic_store(&lockedtid, w.tid);
    goro_stats st0 = stats();
    for (int i = 0; i < rounds; i++)
        locked_round(&w, fds);
    goro_stats st1 = stats();
    /* The spins ran for several slices each: the locked G was stopped by
     * the signal and at calls, and came back to its thread. */
    CHECK(st1.preempt_async > st0.preempt_async, "no preemption by signal");
    CHECK(st1.preempt_sync > st0.preempt_sync, "no preemption at calls");

    /* One unlock of two: still locked. */
    CHECK(goro_unlock_thread() == 0, "unlock");
    locked_round(&w, fds);
    atomic_store(&lockedtid, 0);
    CHECK(goro_unlock_thread() == 0, "second unlock");
    CHECK(goro_unlock_thread() == 0, "an unlock too many does nothing");

    /* Unlocked: the G may move, and other Gs may run on its thread. */
    bool moved = false;
    for (int i = 0; i < 200 && !moved; i++) {
        goro_sleep_ns(1000000);
        moved = tid() != w.tid;
    }
    CHECK(moved, "an unlocked G never changed threads");

    atomic_store(&stop, 1);
    goro_wg_wait(wg);
    CHECK(atomic_load(&intruders) == 0, "%ld steps of other Gs ran on the "
          "locked thread", atomic_load(&intruders));
    CHECK(atomic_load(&steps) > 0, "the busy Gs made no progress");
    goro_chan_close(c[0]);
    printf("async %llu sync %llu steps %ld\n",
           (unsigned long long)(st1.preempt_async - st0.preempt_async),
           (unsigned long long)(st1.preempt_sync - st0.preempt_sync),
           atomic_load(&steps));
}

/* ---- handoff ------------------------------------------------------------- */

static _Atomic long counted;

static void counter(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        atomic_fetch_add(&counted, 1);
        spin_calls(100000);
    }
}

static void waker(void *arg)
{
    goro_chan *c = arg;
    goro_sleep_ns(50000000);
    int v = 1;
    goro_chan_send(c, &v);
}

static void mode_handoff(void)
{
    goro_go(counter, NULL);
    CHECK(goro_lock_thread() == 0, "lock");
    struct where w = {tid(), pthread_self()};
    goro_chan *wc = goro_chan_new(sizeof(int), 0);

    /* Each wait is repeated, up to 5 s, until the counter moved during one:
     * the P goes to the counter at once, but on a loaded machine the
     * thread that takes it may wait for a CPU longer than one wait. */
    long n0 = atomic_load(&counted), n1 = n0;
    for (int i = 0; i < 100 && n1 == n0; i++) {
        n0 = atomic_load(&counted);
        goro_sleep_ns(50000000);
        n1 = atomic_load(&counted);
    }
    CHECK(n1 > n0, "nothing ran while the locked G slept (%ld)", n1 - n0);
    SAME(&w, "a sleep");

    long m1 = n1, n2 = n1;
    for (int i = 0; i < 100 && n2 == m1; i++) {
        m1 = atomic_load(&counted);
        goro_go(waker, wc);
        int v;
        CHECK(goro_chan_recv(wc, &v) == 0, "recv");
        n2 = atomic_load(&counted);
    }
    CHECK(n2 > m1, "nothing ran while the locked G waited on a channel");
    SAME(&w, "a channel receive");

    /* The P goes to the counter once sysmon sees the call last (at once
     * on a quiet machine; on a loaded one sysmon and the thread it starts
     * may wait for a CPU longer than the call): call again, up to 5 s,
     * until the counter moved during one call. */
    long n3 = n2, a = n2;
    for (int i = 0; i < 100 && n3 == a; i++) {
        a = atomic_load(&counted);
        usleep(50000);
        n3 = atomic_load(&counted);
    }
    CHECK(n3 > a, "nothing ran while the locked G was in usleep");
    SAME(&w, "usleep");

    goro_unlock_thread();
    atomic_store(&stop, 1);
    printf("counted %ld %ld %ld\n", n1 - n0, n2 - m1, n3 - a);
}

/* ---- exit ---------------------------------------------------------------- */

static _Atomic pid_t endedtid;

static void ends_locked(void *arg)
{
    (void)arg;
    goro_lock_thread();
    goro_lock_thread();
    atomic_store(&endedtid, tid());
}

static bool task_exists(pid_t t)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)t);
    return access(path, F_OK) == 0;
}

static void adder(void *arg)
{
    goro_wg_done(arg);
}

static void mode_exit(void)
{
    for (int round = 0; round < 3; round++) {
        atomic_store(&endedtid, 0);
        goro_go(ends_locked, NULL);
        while (atomic_load(&endedtid) == 0)
            goro_sleep_ns(100000);
        bool gone = false;
        for (int i = 0; i < 2000 && !gone; i++) {
            goro_sleep_ns(1000000);
            gone = !task_exists(atomic_load(&endedtid));
        }
        CHECK(gone, "the thread of a G that ended locked lives on");
        /* The runtime goes on, with a new thread where it needs one. */
        goro_wg *wg = goro_wg_new();
        goro_wg_add(wg, 100);
        for (int i = 0; i < 100; i++)
            goro_go(adder, wg);
        goro_wg_wait(wg);
        goro_wg_free(wg);
    }
    /* The main G ends locked: goro_run returns all the same. */
    CHECK(goro_lock_thread() == 0, "lock");
}

static void mainfn(void *arg)
{
    (void)arg;
    if (strcmp(mode, "stay") == 0)
        mode_stay();
    else if (strcmp(mode, "handoff") == 0)
        mode_handoff();
    else if (strcmp(mode, "exit") == 0)
        mode_exit();
    else
        CHECK(0, "unknown mode '%s'", mode);
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "";
    CHECK(goro_lock_thread() == -EPERM, "goro_lock_thread outside a G");
    CHECK(goro_unlock_thread() == -EPERM, "goro_unlock_thread outside a G");
    int64_t t0 = now();
    int rc = goro_run(mainfn, NULL);
    CHECK(rc == 0, "goro_run returned %d", rc);
    /* Every M ended (none kept past exitGrace, 100 ms). */
    if (strcmp(mode, "exit") == 0)
        printf("run %lld ms\n", (long long)((now() - t0) / 1000000));
    if (failures == 0)
        printf("ok\n");
    return failures != 0;
}
