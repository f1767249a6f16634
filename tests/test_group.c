/* test_group.c - groups of Gs (counted, inherited, waited for, on fixed
 * stacks), goro_blocking, signals delivered to channels, and what the
 * runtime tells about itself (goro_metrics_get, goro_gs_snapshot). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "export_test.h"

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- counting and waiting ------------------------------------------------------ */

static goro_group *grp;
static goro_wg *release, *parked;
static _Atomic int inside;   /* Gs that saw goro_group_self() == grp */
static int udata_tag;

static void child(void *arg)
{
    (void)arg;
    if (goro_group_self() == grp && goro_group_udata(grp) == &udata_tag)
        atomic_fetch_add(&inside, 1);
    goro_wg_done(parked);
    goro_wg_wait(release);
}

static void parent(void *arg)
{
    (void)arg;
    goro_go(child, NULL);   /* inherits the group */
    child(NULL);
}

static struct {
    int64_t live_parked, live_after;
    int timedout, waited, freed_busy, freed, self_outside;
    int64_t shown, shown_in_group;
    int64_t waitms;
} grres;

static void groups(void *arg)
{
    (void)arg;
    grp = goro_group_new("workers", 0, &udata_tag);
    cr_assert_not_null(grp);
    release = goro_wg_new();
    parked = goro_wg_new();
    goro_wg_add(release, 1);
    goro_wg_add(parked, 200);
    for (int i = 0; i < 100; i++)
        cr_assert_gt(goro_group_go(grp, parent, NULL), 0);
    goro_wg_wait(parked);
    grres.live_parked = goro_group_live(grp);
    grres.self_outside = goro_group_self() == NULL;

    goro_ginfo *gi = calloc(1000, sizeof *gi);
    grres.shown = goro_gs_snapshot(gi, 1000);
    for (int64_t i = 0; i < grres.shown && i < 1000; i++)
        grres.shown_in_group += strcmp(gi[i].group, "workers") == 0;
    free(gi);

    int64_t t0 = monotonic_ns();
    grres.timedout = goro_group_wait(grp, t0 + 20000000);
    grres.waitms = (monotonic_ns() - t0) / 1000000;
    grres.freed_busy = goro_group_free(grp);
    goro_wg_done(release);
    grres.waited = goro_group_wait(grp, 0);
    grres.live_after = goro_group_live(grp);
    grres.freed = goro_group_free(grp);
}

Test(group, counts_inherits_and_waits_for_its_gs)
{
    cr_assert_eq(test_run(2, groups, NULL), 0);
    cr_assert_eq(grres.live_parked, 200);
    cr_assert_eq(atomic_load(&inside), 200, "Gs spawned by group members "
                 "belong to the group");
    cr_assert(grres.self_outside);
    cr_assert_eq(grres.shown_in_group, 200);
    cr_assert_geq(grres.shown, 201);
    cr_assert_eq(grres.timedout, -ETIMEDOUT);
    cr_assert_geq(grres.waitms, 19);
    cr_assert_eq(grres.freed_busy, -EBUSY);
    cr_assert_eq(grres.waited, 0);
    cr_assert_eq(grres.live_after, 0);
    cr_assert_eq(grres.freed, 0);
}

static struct {
    goro_group *bad1, *bad2, *bad3;
    int64_t nullgo, waitself;
} misuse;

static void selfwait(void *arg)
{
    misuse.waitself = goro_group_wait(arg, 0);
}

static void groupmisuse(void *arg)
{
    (void)arg;
    misuse.bad1 = goro_group_new("", 0, NULL);
    misuse.bad2 = goro_group_new("x", 5000, NULL);      /* not pages */
    misuse.bad3 = goro_group_new("x", 16384, NULL);     /* under 32 KiB */
    goro_group *g = goro_group_new("x", 0, NULL);
    misuse.nullgo = goro_group_go(g, NULL, NULL);
    goro_group_go(g, selfwait, g);
    cr_assert_eq(goro_group_wait(g, 0), 0);
    cr_assert_eq(goro_group_free(g), 0);
}

Test(group, refuses_bad_arguments)
{
    cr_assert_eq(test_run(1, groupmisuse, NULL), 0);
    cr_assert_null(misuse.bad1);
    cr_assert_null(misuse.bad2);
    cr_assert_null(misuse.bad3);
    cr_assert_eq(misuse.nullgo, -EINVAL);
    cr_assert_eq(misuse.waitself, -EDEADLK);
}

/* ---- fixed stacks ----------------------------------------------------------------- */

/* Code without prologue checks, as a plugin built without -fsplit-stack:
 * about 48 KiB of frames. */
__attribute__((no_split_stack, noinline)) static long deep_nocheck(int n)
{
    volatile char pad[1024];
    pad[0] = (char)n;
    pad[1023] = (char)n;
    if (n == 0)
        return 0;
    return deep_nocheck(n - 1) + (pad[0] == (char)n) + (pad[1023] == (char)n);
}

static struct {
    long depth;
    uint64_t fixedbytes, stacksize;
    uint64_t fixed_after;
    uintptr_t lo0, lo1;
} fx;

static goro_wg *fxdone, *fxgo;

static void fixedg(void *arg)
{
    (void)arg;
    fx.lo0 = getg()->stack.lo;
    fx.depth = deep_nocheck(48);
    fx.stacksize = test_stacksize();
    goro_wg_done(fxdone);
    goro_wg_wait(fxgo);     /* a scan runs meanwhile */
    fx.lo1 = getg()->stack.lo;
}

static void fixedstacks(void *arg)
{
    (void)arg;
    goro_group *g = goro_group_new("fixed", 128 << 10, NULL);
    fxdone = goro_wg_new();
    fxgo = goro_wg_new();
    goro_wg_add(fxdone, 1);
    goro_wg_add(fxgo, 1);
    goro_group_go(g, fixedg, NULL);
    goro_wg_wait(fxdone);
    goro_metrics m = {.size = sizeof m};
    goro_metrics_get(&m);
    fx.fixedbytes = m.stack_bytes_fixed;
    goro_stack_scan();      /* never shrinks a fixed stack */
    goro_wg_done(fxgo);
    goro_group_wait(g, 0);
    goro_group_free(g);
    goro_metrics_get(&m);
    fx.fixed_after = m.stack_bytes_fixed;
}

Test(group, fixed_stacks_run_code_without_checks_and_never_move)
{
    cr_assert_eq(test_run(1, fixedstacks, NULL), 0);
    cr_assert_eq(fx.depth, 2 * 48);
    cr_assert_eq(fx.stacksize, 128 << 10);
    cr_assert_eq(fx.fixedbytes, 128 << 10);
    cr_assert_eq(fx.fixed_after, 0);
    cr_assert_eq(fx.lo1, fx.lo0, "the fixed stack never moves");
}

static void overflowg(void *arg)
{
    (void)arg;
    test_recurse(1000);     /* ~240 KiB of checked frames */
}

static void fixedoverflow(void *arg)
{
    (void)arg;
    goro_group *g = goro_group_new("tiny", 32 << 10, NULL);
    goro_group_go(g, overflowg, NULL);
    goro_group_wait(g, 0);
}

Test(group, a_checked_frame_past_a_fixed_stack_is_reported)
{
    int status;
    char *err = test_run_child(1, fixedoverflow, NULL, &status);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "status %#x, stderr:\n%s", status, err);
    cr_assert_not_null(strstr(err, "of group tiny ran past its fixed "
                                   "32768-byte stack"), "%s", err);
    cr_assert_not_null(strstr(err, "fatal error: fixed stack overflow"),
                       "%s", err);
}

/* ---- goro_blocking ---------------------------------------------------------------- */

static struct {
    long gtid, btid;
    uintptr_t glo, ghi, bsp;
    long sum;
    int rc;
    uint64_t grows_before, grows_after;
} bl;

static void bigstack(void *arg)
{
    long *out = arg;
    volatile char buf[1 << 20];    /* more than any G stack here */
    for (size_t i = 0; i < sizeof buf; i += 4096)
        buf[i] = (char)(i >> 12);
    long s = 0;
    for (size_t i = 0; i < sizeof buf; i += 4096)
        s += buf[i];
    *out = s;
    bl.btid = syscall(SYS_gettid);
    bl.bsp = (uintptr_t)__builtin_frame_address(0);
}

static void blocking(void *arg)
{
    (void)arg;
    goro_stats st;
    goro_stats_get(&st);
    bl.grows_before = st.stack_grows;
    bl.gtid = syscall(SYS_gettid);
    g *gp = getg();
    bl.glo = gp->stack.lo;
    bl.ghi = gp->stack.hi;
    long sum = -1;
    bl.rc = goro_blocking(bigstack, &sum);
    bl.sum = sum;
    goro_stats_get(&st);
    bl.grows_after = st.stack_grows;
}

Test(group, blocking_runs_on_a_pool_thread_with_a_stack_of_its_own)
{
    cr_assert_eq(test_run(1, blocking, NULL), 0);
    cr_assert_eq(bl.rc, 0);
    long expect = 0;
    for (size_t i = 0; i < (1 << 20); i += 4096)
        expect += (char)(i >> 12);
    cr_assert_eq(bl.sum, expect);
    cr_assert_neq(bl.btid, bl.gtid);
    cr_assert(bl.bsp < bl.glo || bl.bsp >= bl.ghi);
    cr_assert_eq(bl.grows_after, bl.grows_before);
}

/* ---- signals ------------------------------------------------------------------------ */

static struct {
    int got[3], rcbad[3];
    int nothing;
} sg;

static void signals(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(int), 8);
    cr_assert_eq(goro_signal_notify(SIGUSR1, c), 0);
    cr_assert_eq(goro_signal_notify(SIGUSR2, c), 0);
    kill(getpid(), SIGUSR1);
    cr_assert_eq(goro_chan_recv(c, &sg.got[0]), 0);
    kill(getpid(), SIGUSR2);
    cr_assert_eq(goro_chan_recv(c, &sg.got[1]), 0);
    cr_assert_eq(goro_signal_stop(SIGUSR2), 0);
    /* SIGUSR2's default action would end the test: ignore it now. */
    signal(SIGUSR2, SIG_IGN);
    kill(getpid(), SIGUSR2);
    kill(getpid(), SIGUSR1);
    cr_assert_eq(goro_chan_recv(c, &sg.got[2]), 0);
    goro_sleep_ns(20000000);
    goro_select_case sc = {c, GORO_RECV, &sg.nothing, NULL};
    sg.nothing = goro_select(&sc, 1, 0);
    sg.rcbad[0] = goro_signal_notify(SIGURG, c);
    sg.rcbad[1] = goro_signal_notify(SIGKILL, c);
    sg.rcbad[2] = goro_signal_notify(SIGUSR1, NULL);
    goro_signal_stop(SIGUSR1);
}

Test(group, signals_arrive_on_channels)
{
    cr_assert_eq(test_run(2, signals, NULL), 0);
    cr_assert_eq(sg.got[0], SIGUSR1);
    cr_assert_eq(sg.got[1], SIGUSR2);
    cr_assert_eq(sg.got[2], SIGUSR1, "a stopped signal is not delivered");
    cr_assert_eq(sg.nothing, -EAGAIN);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sg.rcbad[i], -EINVAL);
}

/* ---- metrics ------------------------------------------------------------------------- */

static goro_chan *never;
static struct {
    goro_metrics m;
    uint64_t bucketsum, histo_count_before;
    goro_metrics small;
} mt;

static void waiter(void *arg)
{
    (void)arg;
    goro_chan_recv(never, NULL);
}

static void yielder(void *arg)
{
    for (int i = 0; i < 1000; i++)
        goro_yield();
    goro_wg_done(arg);
}

static void metrics(void *arg)
{
    (void)arg;
    never = goro_chan_new(0, 0);
    for (int i = 0; i < 50; i++)
        goro_go(waiter, NULL);
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 4);
    for (int i = 0; i < 4; i++)
        goro_go(yielder, wg);
    for (int i = 0; i < 100; i++)
        goro_yield();
    goro_wg_wait(wg);   /* every switch made, however slow the machine */
    mt.m.size = sizeof mt.m;
    goro_metrics_get(&mt.m);
    memset(&mt.small, 0xee, sizeof mt.small);
    mt.small.size = 3 * sizeof(uint64_t);
    goro_metrics_get(&mt.small);
    goro_wg_free(wg);
    goro_chan_close(never);
}

Test(group, metrics_count_gs_by_status_and_the_scheduling_latency)
{
    cr_assert_eq(test_run(1, metrics, NULL), 0);
    goro_metrics *m = &mt.m;
    cr_assert_geq(m->gs_waiting, 50);
    cr_assert_eq(m->gs_running, 1);
    cr_assert_eq(m->ps, 1);
    cr_assert_geq(m->ms, 1);
    cr_assert_geq(m->gs_created, 55);
    cr_assert_gt(m->schedlat_count, 100, "one in 8 of ~4000 runs sampled");
    uint64_t sum = 0;
    for (int i = 0; i < GORO_SCHEDLAT_BUCKETS; i++)
        sum += m->schedlat_bucket[i];
    cr_assert_eq(sum, m->schedlat_count);
    uint64_t bysize = m->stack_bytes_large + m->stack_bytes_fixed;
    for (int i = 0; i < 8; i++)
        bysize += m->stack_bytes_by_order[i];
    cr_assert_eq(bysize, m->stack_bytes_inuse);
    /* Only the first size bytes are written. */
    cr_assert_eq(mt.small.size, 3 * sizeof(uint64_t));
    cr_assert_eq(mt.small.gs_syscall, 0xeeeeeeeeeeeeeeeeull);
}

/* ---- who holds the fds ---------------------------------------------------------- */

static struct {
    int64_t listened, dialled, closedhalf, outside, reused_a, reused_b,
        passed, end_a, end_b;
} fdres;
static goro_group *fda, *fdb;
static goro_wg *fdtaken;  /* not goro_group_wait: its eventfd would take
                             the number fdtaker waits for */
static int fdconns[2 * 16];
static int fdlisten;

/* In group A: a listener, 8 connections to it (both ends), half of them
 * closed again. */
static void fdholder(void *arg)
{
    (void)arg;
    char addr[64];
    fdlisten = goro_listen("tcp", "127.0.0.1:0", 16);
    cr_assert_geq(fdlisten, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    cr_assert_eq(getsockname(fdlisten, (struct sockaddr *)&sa, &sl), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    fdres.listened = goro_group_fds(fda);
    for (int i = 0; i < 8; i++) {
        fdconns[2 * i] = goro_dial("tcp", addr, 0);
        cr_assert_geq(fdconns[2 * i], 0);
        fdconns[2 * i + 1] = goro_accept(fdlisten);
        cr_assert_geq(fdconns[2 * i + 1], 0);
    }
    fdres.dialled = goro_group_fds(fda);
    for (int i = 0; i < 8; i++)
        goro_close(fdconns[i]);
    fdres.closedhalf = goro_group_fds(fda);
}

/* In group B: a number A's G let go of without goro_close, opened again,
 * now B's; an fd passed over a socket pair, B's too. */
static void fdtaker(void *arg)
{
    (void)arg;
    int lost = fdconns[8];
    close(lost);  /* not through goro: A still has it on its count */
    /* Open until the number comes back (the kernel gives the lowest free
     * one, and the numbers A closed are lower). */
    int d, extra[64], nextra = 0;
    while ((d = goro_listen("tcp", "127.0.0.1:0", 1)) != lost) {
        cr_assert_geq(d, 0);
        cr_assert_lt(nextra, 64, "fd %d never came back", lost);
        extra[nextra++] = d;
    }
    for (int i = 0; i < nextra; i++)
        goro_close(extra[i]);
    fdres.reused_a = goro_group_fds(fda);
    fdres.reused_b = goro_group_fds(fdb);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(goro_send_fds(sv[0], "x", 1, &d, 1, 0), 1);
    char c;
    int got[1], ngot = 1;
    cr_assert_eq(goro_recv_fds(sv[1], &c, 1, got, &ngot, 0), 1);
    cr_assert_eq(ngot, 1);
    fdres.passed = goro_group_fds(fdb);
    goro_close(got[0]);
    goro_close(d);
    goro_close(sv[0]);
    goro_close(sv[1]);
    fdres.end_b = goro_group_fds(fdb);
    goro_wg_done(fdtaken);
}

static void fdcounts(void *arg)
{
    (void)arg;
    fda = goro_group_new("holder", 0, NULL);
    fdb = goro_group_new("taker", 0, NULL);
    cr_assert(fda != NULL && fdb != NULL);
    goro_group_go(fda, fdholder, NULL);
    cr_assert_eq(goro_group_wait(fda, 0), 0);
    /* outside every group, this G's own fds are nobody's */
    int mine = goro_listen("tcp", "127.0.0.1:0", 1);
    cr_assert_geq(mine, 0);
    fdres.outside = goro_group_fds(fda) + goro_group_fds(fdb);
    goro_close(mine);
    fdtaken = goro_wg_new();
    goro_wg_add(fdtaken, 1);
    goro_group_go(fdb, fdtaker, NULL);
    goro_wg_wait(fdtaken);
    cr_assert_eq(goro_group_wait(fdb, 0), 0);
    goro_wg_free(fdtaken);
    for (int i = 9; i < 16; i++)
        goro_close(fdconns[i]);
    goro_close(fdlisten);
    fdres.end_a = goro_group_fds(fda);
    cr_assert_eq(goro_group_free(fda), 0);
    cr_assert_eq(goro_group_free(fdb), 0);
}

Test(group, counts_the_fds_its_gs_opened_until_goro_close)
{
    cr_assert_eq(test_run(2, fdcounts, NULL), 0);
    cr_expect_eq(fdres.listened, 1);
    cr_expect_eq(fdres.dialled, 1 + 16);
    cr_expect_eq(fdres.closedhalf, 1 + 8);
    cr_expect_eq(fdres.outside, 9, "a G outside every group counts for none");
    /* fdconns[8] was closed behind goro's back: A keeps it until the
     * number is taken again, then it is B's */
    cr_expect_eq(fdres.reused_a, 8);
    cr_expect_eq(fdres.reused_b, 1);
    cr_expect_eq(fdres.passed, 2, "a received fd is the receiver's group's");
    cr_expect_eq(fdres.end_b, 0);
    cr_expect_eq(fdres.end_a, 0);
}
