/* test_sched.c - the scheduler through the public API: spawning and joining,
 * spreading over Ps, wait groups and mutexes under contention, sleeping,
 * errno per G, and misuse; and, through export_test.h, a steal in the
 * middle of a hand-over. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export_test.h"

static int64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- a million Gs ---------------------------------------------------- */

static goro_wg *wg;
static atomic_long counter;
static goro_stats stats_after;
static int spawnfailures;  /* asserted after goro_run: never assert in a G */

static void addone(void *arg)
{
    atomic_fetch_add_explicit(&counter, (long)(intptr_t)arg,
                              memory_order_relaxed);
    goro_wg_done(wg);
}

static void million(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, 1000000);
    for (int i = 0; i < 1000000; i++)
        spawnfailures += goro_go(addone, (void *)(intptr_t)1) <= 0;
    goro_wg_wait(wg);
    goro_wg_free(wg);
    goro_stats_get(&stats_after);
}

Test(sched, spawns_and_joins_a_million_gs_on_two_procs, .timeout = 120)
{
    cr_assert_eq(test_run(2, million, NULL), 0);
    cr_assert_eq(spawnfailures, 0);
    cr_assert_eq(atomic_load(&counter), 1000000);
    cr_assert_eq(stats_after.procs, 2);
    cr_assert_geq(stats_after.gs_created, 1000001);
    /* Gs that only call the API never need more than their 2 KiB. */
    cr_assert_eq(stats_after.stack_grows, 0);
}

/* ---- a spawning loop waits for what it spawned ------------------------ */

static long maxlive;

static void pileup(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, 300000);
    for (int i = 0; i < 300000; i++) {
        spawnfailures += goro_go(addone, (void *)(intptr_t)1) <= 0;
        if (i % 500 == 0) {
            goro_stats st;
            goro_stats_get(&st);
            if ((long)st.gs_live > maxlive)
                maxlive = (long)st.gs_live;
        }
    }
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

/* A G that spawns in a loop while the Ps are busy goes behind the Gs it
 * made (spawnbackoff), so that they do not pile up, each with its stack:
 * without that, on one P, all 300,000 would be live at the loop's end. The
 * bound is the global queue's backlog (4 local queues), what the local
 * queues and one spill hold, and room to spare; it holds however slowly
 * the Ps run. */
static void pileup_on(int procs)
{
    maxlive = 0;
    spawnfailures = 0;
    atomic_store(&counter, 0);
    cr_assert_eq(test_run(procs, pileup, NULL), 0);
    cr_assert_eq(spawnfailures, 0);
    cr_assert_eq(atomic_load(&counter), 300000);
    cr_assert_lt(maxlive, 8192, "%ld Gs live at once", maxlive);
    cr_assert_gt(maxlive, 0);
}

Test(sched, a_spawning_loop_on_one_proc_waits_for_what_it_spawned,
     .timeout = 60)
{
    pileup_on(1);
}

Test(sched, a_spawning_loop_on_two_procs_waits_for_what_it_spawned,
     .timeout = 60)
{
    pileup_on(2);
}

/* ---- spreading over the Ps ---------------------------------------------------- */

static atomic_int seen[2];

static void spinwork(void *arg)
{
    (void)arg;
    /* Keep busy, yielding and noting the P each time, until both Ps have
     * run one of us (or 2 s have passed: on a loaded machine the second
     * M's thread may wait a while for a CPU). */
    int64_t end = now() + 2000000000;
    while (now() < end && !(atomic_load(&seen[0]) && atomic_load(&seen[1]))) {
        atomic_store(&seen[test_curp()], 1);
        goro_yield();
    }
    goro_wg_done(wg);
}

static void spread(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, 64);
    for (int i = 0; i < 64; i++)
        goro_go(spinwork, NULL);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

Test(sched, gs_spread_across_both_procs, .timeout = 30)
{
    cr_assert_eq(test_run(2, spread, NULL), 0);
    cr_assert(atomic_load(&seen[0]) && atomic_load(&seen[1]),
              "Gs ran on P0: %d, P1: %d", seen[0], seen[1]);
}

/* ---- a G taken from runnext before its status changed ------------------- */

/* On several Ps goready publishes the G in its P's runnext before the CAS
 * that makes it Grunnable (proc.c): a thief that takes it in between must
 * wait for that CAS before running it. The test holds the window open:
 * its G stores a parked G into its own runnext by hand, keeps it Gwaiting
 * until the other P's M has taken it, and 20 ms longer, then makes it
 * runnable. The other P's M is started by a plain thread's send to a G,
 * which runs there and ends, leaving that M to steal. */
static g *_Atomic rnparked;
static goro_chan *rnkick;
static atomic_int rnwindow;     /* the window is open: kick */
static atomic_long rnran;       /* when the parked G ran again */
static atomic_int rnranon = -1; /* on which P */
static int64_t rnreadied;       /* when its status became Grunnable */
static int rnstolen, rnrunnextbusy, rnstatus;
static int rnmainp;             /* the P the test's G holds (the victim) */

static bool rnpark(g *gp, void *arg)
{
    (void)arg;
    atomic_store(&rnparked, gp);
    return true;
}

static void rnparkee(void *arg)
{
    (void)arg;
    gopark(rnpark, NULL, waitReasonSemacquire);
    atomic_store(&rnranon, test_curp());
    atomic_store(&rnran, now());
}

static void rnkicked(void *arg)
{
    (void)arg;
    int v;
    goro_chan_recv(rnkick, &v);
}

static void *rnkicker(void *arg)
{
    (void)arg;
    while (!atomic_load(&rnwindow))
        usleep(100);
    int v = 1;
    goro_chan_send(rnkick, &v);
    return NULL;
}

static void rnmain(void *arg)
{
    (void)arg;
    rnkick = goro_chan_new(sizeof(int), 0);
    goro_go(rnparkee, NULL);
    goro_go(rnkicked, NULL);
    while (atomic_load(&rnparked) == NULL || test_gs_waiting() < 2)
        goro_yield();
    pthread_t t;
    pthread_create(&t, NULL, rnkicker, NULL);
    g *gp = atomic_load(&rnparked);
    m *mp = getg()->m;
    mp->locks++;    /* no preemption, no move to another P */
    p *pp = mp->p;
    rnmainp = test_curp();
    rnrunnextbusy = atomic_load(&pp->runnext) != NULL;
    if (!rnrunnextbusy) {
        atomic_store(&pp->runnext, gp);
        atomic_store(&rnwindow, 1);
        int64_t t0 = now();
        while (atomic_load(&pp->runnext) != NULL && now() - t0 < 10000000000)
            __builtin_ia32_pause();
        rnstolen = atomic_load(&pp->runnext) == NULL;
        t0 = now();
        while (now() - t0 < 20000000)
            __builtin_ia32_pause();
        rnstatus = (int)readgstatus(gp);
        rnreadied = now();
        casgstatus(gp, Gwaiting, Grunnable);
    }
    mp->locks--;
    pthread_join(t, NULL);
    while (atomic_load(&rnran) == 0)
        goro_yield();
    goro_chan_free(rnkick);
}

Test(sched, a_g_taken_from_runnext_before_its_status_cas_waits_for_it,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, rnmain, NULL), 0);
    cr_assert(!rnrunnextbusy, "the test's P had a G in runnext already");
    cr_assert(rnstolen, "the other P's M did not take the G in 10 s");
    cr_assert_eq(rnstatus, Gwaiting, "status %#x while in the window",
                 rnstatus);
    /* The test's G may be on either P by then (its yields). */
    cr_assert_eq(atomic_load(&rnranon), 1 - rnmainp,
                 "it ran on P%d, not the thief's (the test's G held P%d)",
                 atomic_load(&rnranon), rnmainp);
    cr_assert(atomic_load(&rnran) >= rnreadied,
              "it ran %lld ns before it was made runnable",
              (long long)(rnreadied - atomic_load(&rnran)));
}

/* ---- wait group and mutex under contention -------------------------------- */

static goro_mutex *mu;
static long plain;  /* protected by mu only */

static void locker(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        goro_mutex_lock(mu);
        long v = plain;
        if (i % 64 == 0)
            goro_yield();  /* hold the lock across a switch */
        plain = v + 1;
        goro_mutex_unlock(mu);
    }
    goro_wg_done(wg);
}

static void contention(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    wg = goro_wg_new();
    goro_wg_add(wg, 16);
    for (int i = 0; i < 16; i++)
        goro_go(locker, (void *)(intptr_t)20000);
    goro_wg_wait(wg);
    goro_mutex_free(mu);
    goro_wg_free(wg);
}

Test(sync, mutex_keeps_a_counter_exact_under_contention, .timeout = 60)
{
    cr_assert_eq(test_run(2, contention, NULL), 0);
    cr_assert_eq(plain, 16 * 20000);
}

static goro_wg *inner;
static atomic_int waiters_released;

static void waiter(void *arg)
{
    (void)arg;
    goro_wg_wait(inner);
    atomic_fetch_add(&waiters_released, 1);
    goro_wg_done(wg);
}

static void doer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        goro_wg_done(inner);
        if (i % 10 == 0)
            goro_yield();
    }
    goro_wg_done(wg);
}

static void wgcontention(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    inner = goro_wg_new();
    goro_wg_add(inner, 50 * 100);
    goro_wg_add(wg, 50 + 50);
    for (int i = 0; i < 50; i++)
        goro_go(waiter, NULL);
    for (int i = 0; i < 50; i++)
        goro_go(doer, NULL);
    goro_wg_wait(wg);
    goro_wg_free(inner);
    goro_wg_free(wg);
}

Test(sync, wait_group_releases_every_waiter_once_the_count_is_zero,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, wgcontention, NULL), 0);
    cr_assert_eq(atomic_load(&waiters_released), 50);
}

/* ---- sleeping ----------------------------------------------------------------- */

#define NSLEEP 1000
static int64_t wake_late[NSLEEP];

static goro_wg *sleepgate;

static void sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    int64_t d = 1000000 + (int64_t)(i % 50) * 1000000;  /* 1..50 ms */
    /* The first clock call grows the stack (libc needs the non-split
     * headroom); then wait until every sleeper is here, so that the timers
     * are measured, not the start of 1,000 Gs. */
    (void)now();
    goro_wg_wait(sleepgate);
    int64_t t0 = now();
    goro_sleep_ns(d);
    wake_late[i] = now() - t0 - d;
    goro_wg_done(wg);
}

static int64_t sleepwait;  /* test_runqwait over the sleeps */

static void sleepers(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    sleepgate = goro_wg_new();
    goro_wg_add(wg, NSLEEP);
    goro_wg_add(sleepgate, 1);
    for (int i = 0; i < NSLEEP; i++)
        goro_go(sleeper, (void *)(intptr_t)i);
    test_wait_waiting(NSLEEP);
    int64_t wait0 = test_runqwait();
    goro_wg_done(sleepgate);
    goro_wg_wait(wg);
    sleepwait = test_runqwait() - wait0;
    goro_wg_free(wg);
    goro_wg_free(sleepgate);
}

Test(time, sleep_never_wakes_early_and_rarely_late, .timeout = 30)
{
    cr_assert_eq(test_run(2, sleepers, NULL), 0);
    int64_t worst = 0;
    int late2ms = 0;
    for (int i = 0; i < NSLEEP; i++) {
        cr_assert_geq(wake_late[i], 0, "G %d woke %lld ns early", i,
                      (long long)-wake_late[i]);
        if (wake_late[i] > worst)
            worst = wake_late[i];
        late2ms += wake_late[i] > 2000000;
    }
    /* Most wake within 1 ms. A shared 2-core virtual machine stalls now
     * and then for a few milliseconds, which makes every sleeper due then
     * late (some 20 a millisecond here, NSLEEP over 50 ms): most must
     * still be on time, but for those due while other work kept the
     * runtime's threads from a CPU (sleepwait, which counts every thread's
     * wait and so errs on the generous side). */
    int64_t stalled = sleepwait / 1000000 * (NSLEEP / 50);
    cr_expect_lt(late2ms, NSLEEP / 4 + stalled, "%d of %d woke > 2 ms late "
                 "(worst %lld ns, %lld ns spent waiting for a CPU)", late2ms,
                 NSLEEP, (long long)worst, (long long)sleepwait);
    /* And none by much more than other work on the machine kept the
     * runtime's threads from running. */
    cr_expect_lt(worst, 200000000 + sleepwait, "worst wake-up %lld ns late, "
                 "%lld ns spent waiting for a CPU", (long long)worst,
                 (long long)sleepwait);
}

/* ---- errno and the FP control state per G ----------------------------------- */

#define NERR 8
static int errno_ok[NERR], fpctl_ok[NERR], moved[NERR];
static _Atomic int anymove;      /* some G has moved (errnoG) */

/* The MXCSR and the x87 control word (callee-saved in the psABI, so each G
 * keeps its own across a switch); inline asm, not <fenv.h>: no libm. */
static inline uint32_t getmxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static inline uint16_t getfpucw(void)
{
    uint16_t v;
    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}

static void errnoG(void *arg)
{
    int i = (int)(intptr_t)arg;
    int start = test_curm();
    errno = 1000 + i;
    errno_ok[i] = 1;
    fpctl_ok[i] = 1;
    /* Half of the Gs keep the defaults; the others each set another
     * rounding mode (MXCSR bits 13-14, x87 CW bits 10-11). */
    uint32_t mx = 0x1f80 | (uint32_t)(i / 2 % 4) << 13;
    uint16_t cw = (uint16_t)(0x037f | (i / 2 % 4) << 10);
    if (i % 2) {
        mx = 0x1f80;
        cw = 0x037f;
    }
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1" :: "m"(mx), "m"(cw));
    /* 20,000 yields, and on until some G has moved to another thread
     * (at most 2M): on a busy machine, or with the other P seldom idle,
     * a steal may take longer to come. */
    for (int k = 0; k < 20000 || (!atomic_load(&anymove) && k < 2000000);
         k++) {
        goro_yield();
        if (errno != 1000 + i)
            errno_ok[i] = 0;
        if (getmxcsr() != mx || getfpucw() != cw)
            fpctl_ok[i] = 0;
        if (test_curm() != start) {
            moved[i] = 1;
            atomic_store(&anymove, 1);
        }
        /* Spend a little time so that the other P has time to steal. */
        for (volatile int spin = 0; spin < 50; spin++)
            ;
    }
    goro_wg_done(wg);
}

static void errnos(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, NERR);
    for (int i = 0; i < NERR; i++)
        goro_go(errnoG, (void *)(intptr_t)i);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

Test(sched, errno_and_fp_control_are_kept_across_a_yield_that_moves_the_g,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, errnos, NULL), 0);
    int anymoved = 0;
    for (int i = 0; i < NERR; i++) {
        cr_expect(errno_ok[i], "G %d saw another errno after a yield", i);
        cr_expect(fpctl_ok[i], "G %d saw another MXCSR or x87 control word "
                  "after a yield", i);
        anymoved |= moved[i];
    }
    cr_assert(anymoved, "no G ever moved to another thread");
}

/* ---- ids, misuse, the end of goro_run -------------------------------------- */

static int64_t ids[3];

static void noop(void *arg)
{
    (void)arg;
}

static void idmain(void *arg)
{
    (void)arg;
    ids[0] = goro_id();
    ids[1] = goro_go(noop, NULL);
    ids[2] = goro_go(noop, NULL);
    *(int64_t *)arg = goro_go(NULL, NULL);
}

Test(api, ids_are_positive_and_distinct_and_null_fn_is_einval)
{
    int64_t nullrc = 0;
    cr_assert_eq(test_run(2, idmain, &nullrc), 0);
    cr_assert_gt(ids[0], 0);
    cr_assert_gt(ids[1], 0);
    cr_assert(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    cr_assert_eq(nullrc, -EINVAL);
}

Test(api, calls_outside_a_g_are_refused)
{
    cr_assert_eq(goro_go(noop, NULL), -EPERM);
    cr_assert_eq(goro_id(), 0);
    cr_assert_eq(goro_run(NULL, NULL), -EINVAL);
}

Test(api, goro_run_runs_once_per_process)
{
    cr_assert_eq(test_run(1, noop, NULL), 0);
    cr_assert_eq(goro_run(noop, NULL), -EALREADY);
}

static goro_wg *never;

static void parkforever(void *arg)
{
    (void)arg;
    goro_wg_wait(never);
}

static void leaveparked(void *arg)
{
    (void)arg;
    never = goro_wg_new();
    goro_wg_add(never, 1);
    for (int i = 0; i < 100; i++)
        goro_go(parkforever, NULL);
    goro_sleep_ns(1000000);
}

Test(api, goro_run_returns_when_main_returns_even_with_parked_gs,
     .timeout = 10)
{
    cr_assert_eq(test_run(2, leaveparked, NULL), 0);
}

/* ---- main returns, whatever the other Gs do ----------------------------------
 * Go's rule: when main returns the program exits. goro_run returns on its
 * own thread, so that thread must not be one that a G can keep: each case
 * runs in a child whose goro_run must come back within the deadline, 20
 * times (the hang depended on which thread the main G and the busy G
 * shared: it showed in 17 of 20 runs). The test binary is not built
 * against goro, so its call-free loops are never preempted at all. */

static atomic_bool mainexit_stop;   /* never set: the loops run for ever */

static void spin_callfree(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&mainexit_stop, memory_order_relaxed))
        ;
}

static __attribute__((noinline)) void spin_step(volatile long *x)
{
    ++*x;
}

static void spin_calling(void *arg)
{
    (void)arg;
    volatile long x = 0;
    while (!atomic_load_explicit(&mainexit_stop, memory_order_relaxed))
        spin_step(&x);
}

static int mainexit_pipe[2];

static void read_blocked(void *arg)
{
    (void)arg;
    char c;
    goro_syscall_enter();
    ssize_t n = read(mainexit_pipe[0], &c, 1);   /* nobody ever writes */
    goro_syscall_exit();
    (void)n;
}

struct mainexit_case {
    const char *name;
    int procs;
    goro_fn fn;
    int count;
};

static const struct mainexit_case *mainexit_cur;

static void mainexit_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < mainexit_cur->count; i++)
        goro_go(mainexit_cur->fn, NULL);
    goro_sleep_ns(100 * 1000 * 1000);
}

/* mainexit_run: one child; true when its goro_run returned 0 in time. */
static bool mainexit_run(const struct mainexit_case *c, int64_t *ms)
{
    cr_assert_eq(pipe(mainexit_pipe), 0);
    int64_t t0 = now();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        mainexit_cur = c;
        _exit(test_run(c->procs, mainexit_main, NULL) == 0 ? 0 : 3);
    }
    close(mainexit_pipe[0]);
    close(mainexit_pipe[1]);
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now() - t0 < 5000000000)
        usleep(2000);
    *ms = (now() - t0) / 1000000;
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return false;
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void mainexit_check(const struct mainexit_case *c)
{
    int hung = 0;
    int64_t worst = 0;
    for (int i = 0; i < 20; i++) {
        int64_t ms;
        if (!mainexit_run(c, &ms))
            hung++;
        if (ms > worst)
            worst = ms;
    }
    cr_assert_eq(hung, 0, "%s: goro_run did not return within 5 s in %d of "
                 "20 runs", c->name, hung);
    cr_log_info("%s: 20 runs, the slowest returned after %lld ms", c->name,
                (long long)worst);
}

Test(api, goro_run_returns_when_main_returns_beside_a_call_free_loop,
     .timeout = 120)
{
    static const struct mainexit_case c = {"a call-free loop, 2 Ps", 2,
                                           spin_callfree, 1};
    mainexit_check(&c);
}

Test(api, goro_run_returns_when_main_returns_beside_loops_that_call,
     .timeout = 120)
{
    static const struct mainexit_case c2 = {"loops that call, 2 Ps", 2,
                                            spin_calling, 2};
    static const struct mainexit_case c1 = {"a loop that calls, 1 P", 1,
                                            spin_calling, 1};
    mainexit_check(&c2);
    mainexit_check(&c1);
}

Test(api, goro_run_returns_when_main_returns_beside_blocked_reads,
     .timeout = 120)
{
    static const struct mainexit_case c = {"two bracketed reads, 2 Ps", 2,
                                           read_blocked, 2};
    mainexit_check(&c);
}

Test(api, bad_environment_is_refused_with_a_message, .init = cr_redirect_stderr)
{
    setenv("GORO_STACK_MIN_SIZE", "3000", 1);
    cr_assert_eq(goro_run(noop, NULL), -EINVAL);
    fflush(stderr);
    cr_assert_stderr_eq_str("goro: GORO_STACK_MIN_SIZE=3000: not a power of "
                            "two between 2048 and 65536\n");
}

Test(api, size_suffixes_are_accepted_and_junk_is_not)
{
    uint64_t v;
    cr_assert_eq(goro_parse_size("2KiB", &v), 0);
    cr_assert_eq(v, 2048);
    cr_assert_eq(goro_parse_size("1MiB", &v), 0);
    cr_assert_eq(v, 1 << 20);
    cr_assert_eq(goro_parse_size("4096", &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(goro_parse_size("12abc", &v), -EINVAL);
    cr_assert_eq(goro_parse_size("-5", &v), -EINVAL);
    cr_assert_eq(goro_parse_size("", &v), -EINVAL);
    cr_assert_eq(goro_parse_size("99999999999999999999", &v), -EINVAL);
    cr_assert_eq(goro_parse_size("17179869184GiB", &v), -EINVAL);
}

Test(api, whole_number_knobs_take_digits_only)
{
    goro_config c;
    setenv("GORO_STACK_ORDERS", "4B", 1);  /* a size suffix is no count */
    cr_expect_eq(test_config_fromenv(&c), -EINVAL);
    setenv("GORO_STACK_ORDERS", "3", 1);
    setenv("GORO_PROCS", "+2", 1);
    cr_expect_eq(test_config_fromenv(&c), -EINVAL);
    setenv("GORO_PROCS", " 2", 1);
    cr_expect_eq(test_config_fromenv(&c), -EINVAL);
    setenv("GORO_PROCS", "2", 1);
    cr_assert_eq(test_config_fromenv(&c), 0);
    cr_expect_eq(c.procs, 2);
    cr_expect_eq(c.stack_orders, 3);
}

/* ---- deadlock ---------------------------------------------------------------- */

static void blocked_forever(void *arg)
{
    goro_chan *c = arg;
    int v;
    goro_chan_recv(c, &v);
}

static void deadlocked_main(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(int), 0);
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(blocked_forever, c);
    goro_wg_wait(wg);  /* nobody calls done */
}

Test(deadlock, all_goroutines_asleep_is_reported, .timeout = 30)
{
    int status;
    char *buf = test_run_child(2, deadlocked_main, NULL, &status);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2,
              "status %#x:\n%s", status, buf);
    cr_expect(strstr(buf, "fatal error: all goroutines are asleep - deadlock!") != NULL,
              "%s", buf);
    cr_expect(strstr(buf, "[wait group]") != NULL, "%s", buf);
    cr_expect(strstr(buf, "[chan receive]") != NULL, "%s", buf);
}

static void late_done(void *arg)
{
    goro_sleep_ns(50000000);
    goro_wg_done(arg);
}

static int sleeper_done;

static void waits_for_sleeper(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(late_done, wg);
    goro_wg_wait(wg);  /* every P idle meanwhile, but a timer will end it */
    goro_wg_free(wg);
    sleeper_done = 1;
}

Test(deadlock, a_G_asleep_on_a_timer_is_not_a_deadlock, .timeout = 30)
{
    cr_assert_eq(test_run(2, waits_for_sleeper, NULL), 0);
    cr_expect_eq(sleeper_done, 1);
}

/* ---- Gs locked to their threads (goro_lock_thread) -------------------------
 * The checks under preemption run in tests/link/lockthread.c, built against
 * goro the four ways (the test binary's own loops are never preempted by
 * the signal); each mode of each build here. */

static const char *const lock_variants[] = {
    "gcc_O0", "gcc_O2", "clang_O0", "clang_O2",
};

static void run_lockthread(const char *mode, const char *env)
{
    const char *base = getenv("GORO_LOCKPROG");
    cr_assert_not_null(base, "GORO_LOCKPROG is not set (run through make "
                       "test)");
    for (size_t i = 0; i < sizeof lock_variants / sizeof lock_variants[0];
         i++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s %s_%s %s 2>&1", env, base,
                 lock_variants[i], mode);
        char *out = test_command(cmd);
        cr_expect(strstr(out, "\nok\n") != NULL, "%s:\n%s", cmd, out);
    }
}

Test(lockthread, a_locked_g_never_changes_threads_under_preemption,
     .timeout = 240)
{
    run_lockthread("stay", "GORO_PROCS=2");
}

Test(lockthread, a_parked_locked_g_gives_its_thread_s_p_to_the_other_gs,
     .timeout = 120)
{
    run_lockthread("handoff", "GORO_PROCS=1");
}

Test(lockthread, a_g_that_ends_locked_ends_its_thread_and_the_rest_go_on,
     .timeout = 120)
{
    run_lockthread("exit", "GORO_PROCS=2");
}

static int lockrc[4];
static int lockm_while_locked, lockm_after;

static void lock_nests(void *arg)
{
    (void)arg;
    lockrc[0] = goro_lock_thread();
    lockrc[1] = goro_lock_thread();
    lockrc[2] = goro_unlock_thread();
    /* Still locked once: a sleep comes back to the same M. */
    int mid = test_curm();
    goro_sleep_ns(1000000);
    lockm_while_locked = test_curm() == mid;
    lockrc[3] = goro_unlock_thread();
    lockm_after = getg()->m->lockedg == NULL && getg()->lockedm == NULL;
}

Test(lockthread, locks_nest_and_calls_outside_a_g_are_refused,
     .timeout = 30)
{
    cr_assert_eq(goro_lock_thread(), -EPERM);
    cr_assert_eq(goro_unlock_thread(), -EPERM);
    cr_assert_eq(test_run(2, lock_nests, NULL), 0);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(lockrc[i], 0, "call %d returned %d", i, lockrc[i]);
    cr_expect(lockm_while_locked, "a G locked once of twice moved");
    cr_expect(lockm_after, "the last unlock left the G locked");
}

/* A locked G parked for ever keeps its M asleep in stoplockedm, off the
 * idle list: exitall must wake it too, or goro_run waits out its grace and
 * leaves the runtime up for it. */
static goro_chan *lockforever;

static void locked_parks(void *arg)
{
    (void)arg;
    goro_lock_thread();
    int v;
    goro_chan_recv(lockforever, &v);
}

static void leave_locked_parked(void *arg)
{
    (void)arg;
    lockforever = goro_chan_new(sizeof(int), 0);
    for (int i = 0; i < 3; i++)
        goro_go(locked_parks, NULL);
    test_wait_waiting(3);
}

Test(lockthread, goro_run_ends_the_threads_of_parked_locked_gs,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, leave_locked_parked, NULL), 0);
    /* goro_run gives the Ms exitGrace and then returns, leaving the
     * runtime up for any M still on its way out: on a loaded machine a
     * woken M may not get a CPU in time. Each must end all the same (an M
     * nobody woke never would). */
    test_assert_ms_end();
}
