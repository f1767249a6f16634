/* test_ctx.c - contexts: cancel before, during and after a wait of every
 * kind (nothing is consumed by a wait that a cancel ended), deadlines that
 * fire after their time, a cancel reaching 10,000 descendants, the done
 * channel in a select, freeing in any order, cancels racing partners
 * (nothing lost or doubled), the mutex's waiter accounting when lockers
 * leave, a group's cancel, and cancelled waiters whose stacks move. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export_test.h"

#define MS (1000 * 1000LL)

/* ---- every kind of wait --------------------------------------------------- */

enum {
    kRecv, kSend, kSelect, kSleep, kMutex, kSem, kWg, kWaitFd, kRead,
    kWrite, kAccept, kGroupWait, kCount
};
static const char *const kname[kCount] = {
    "recv", "send", "select", "sleep", "mutex", "sem", "wg", "wait_fd",
    "read", "write", "accept", "group_wait",
};

/* What the waits wait on: nothing of it becomes ready by itself. */
static struct {
    goro_chan *c, *c2; /* receivers wait on c, senders on c2 */
    goro_mutex *mu;
    goro_sem *sem;
    goro_wg *wg;
    int pipefd[2];
    int sp[2];          /* socketpair: sp[1] is full for the writer */
    int lfd;
    goro_group *grp;
    goro_chan *block;   /* the group's G waits on it */
} w;

typedef struct waitarg {
    int kind;
    goro_ctx *ctx;
    _Atomic int result;
    _Atomic bool done;
} waitarg;

static char bigbuf[1 << 20];

static void groupmember(void *arg)
{
    (void)arg;
    long v;
    goro_chan_recv(w.block, &v);
}

static int dowait(int kind, goro_ctx *ctx)
{
    long v = 42;
    char b[16];
    switch (kind) {
    case kRecv:
        return goro_chan_recv_ctx(ctx, w.c, &v);
    case kSend:
        return goro_chan_send_ctx(ctx, w.c2, &v);
    case kSelect: {
        goro_select_case cs[1] = {{w.c, GORO_RECV, &v, NULL}};
        return goro_select_ctx(ctx, cs, 1);
    }
    case kSleep:
        return goro_sleep_ctx(ctx, 3600 * 1000 * MS);
    case kMutex:
        return goro_mutex_lock_ctx(ctx, w.mu);
    case kSem:
        return goro_sem_acquire_ctx(ctx, w.sem, 2);
    case kWg:
        return goro_wg_wait_ctx(ctx, w.wg);
    case kWaitFd:
        return goro_wait_fd_ctx(ctx, w.pipefd[0], POLLIN);
    case kRead:
        return (int)goro_read_ctx(ctx, w.pipefd[0], b, sizeof b);
    case kWrite:
        return (int)goro_write_ctx(ctx, w.sp[1], bigbuf, sizeof bigbuf);
    case kAccept:
        return goro_accept_ctx(ctx, w.lfd);
    case kGroupWait:
        return goro_group_wait_ctx(ctx, w.grp);
    }
    return -EINVAL;
}

static void waiter(void *arg)
{
    waitarg *a = arg;
    a->result = dowait(a->kind, a->ctx);
    a->done = true;
}

static void setup(void)
{
    w.c = goro_chan_new(sizeof(long), 0);
    w.c2 = goro_chan_new(sizeof(long), 0);
    w.mu = goro_mutex_new();
    goro_mutex_lock(w.mu);
    w.sem = goro_sem_new(2);
    goro_sem_acquire(w.sem, 1);
    w.wg = goro_wg_new();
    goro_wg_add(w.wg, 1);
    cr_expect_eq(pipe2(w.pipefd, O_NONBLOCK | O_CLOEXEC), 0);
    cr_expect_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, w.sp),
                 0);
    w.lfd = goro_listen("tcp", "127.0.0.1:0", 0);
    cr_expect_geq(w.lfd, 0);
    w.block = goro_chan_new(sizeof(long), 0);
    w.grp = goro_group_new("member", 0, NULL);
    goro_group_go(w.grp, groupmember, NULL);
}

/* teardown checks that nothing was consumed by the waits that ended. */
static void teardown(void)
{
    long v = 7;
    /* No waiter is left on the channel: a try fails both ways. */
    cr_expect_eq(goro_chan_try_send(w.c, &v), -EAGAIN);
    cr_expect_eq(goro_chan_try_recv(w.c, &v), -EAGAIN);
    cr_expect_eq(goro_chan_try_recv(w.c2, &v), -EAGAIN);
    goro_chan_free(w.c2);
    /* The mutex is ours still, and free once unlocked. */
    cr_expect_eq(goro_mutex_trylock(w.mu), -EBUSY);
    goro_mutex_unlock(w.mu);
    cr_expect_eq(goro_mutex_trylock(w.mu), 0);
    goro_mutex_unlock(w.mu);
    goro_mutex_free(w.mu);
    /* One unit is free, as before: no waiter took any. */
    cr_expect_eq(goro_sem_tryacquire(w.sem, 2), -EAGAIN);
    cr_expect_eq(goro_sem_tryacquire(w.sem, 1), 0);
    goro_sem_release(w.sem, 2);
    cr_expect_eq(goro_sem_tryacquire(w.sem, 2), 0);
    goro_sem_release(w.sem, 2);
    goro_sem_free(w.sem);
    goro_wg_done(w.wg);
    goro_wg_wait(w.wg);
    goro_wg_free(w.wg);
    /* The pipe's data is whole for the next reader. */
    cr_expect_eq(write(w.pipefd[1], "hello", 5), 5);
    char b[8] = {0};
    cr_expect_eq(goro_read(w.pipefd[0], b, sizeof b), 5);
    cr_expect_str_eq(b, "hello");
    goro_close(w.pipefd[0]);
    close(w.pipefd[1]);
    goro_close(w.sp[0]);
    goro_close(w.sp[1]);
    goro_close(w.lfd);
    goro_chan_free(w.c);
    goro_chan_close(w.block);
    cr_expect_eq(goro_group_wait(w.grp, 0), 0);
    goro_group_free(w.grp);
    goro_chan_free(w.block);
}

static void fillsocket(void)
{
    /* Fill sp[1]'s send buffer so that a write must wait. */
    while (write(w.sp[1], bigbuf, sizeof bigbuf) > 0)
        ;
}

static int results[3][kCount];

static void everykindmain(void *arg)
{
    (void)arg;
    setup();
    fillsocket();
    waitarg a[kCount];
    /* Before: a cancelled context ends every wait at once. */
    goro_ctx *dead = goro_ctx_new(NULL);
    goro_ctx_cancel(dead, -ESHUTDOWN);
    for (int k = 0; k < kCount; k++)
        results[0][k] = dowait(k, dead);
    /* During: every G parks, then one cancel ends them all. */
    goro_ctx *ctx = goro_ctx_new(NULL);
    uint64_t base = test_gs_waiting();
    for (int k = 0; k < kCount; k++) {
        a[k] = (waitarg){.kind = k, .ctx = ctx};
        goro_go(waiter, &a[k]);
    }
    test_wait_waiting(base + kCount);
    goro_sleep_ns(5 * MS);
    for (int k = 0; k < kCount; k++)
        cr_expect(!a[k].done, "%s did not wait", kname[k]);
    goro_ctx_cancel(ctx, -ESHUTDOWN);
    for (int k = 0; k < kCount; k++) {
        while (!a[k].done)
            goro_sleep_ns(MS);
        results[1][k] = a[k].result;
    }
    cr_expect_eq(goro_ctx_cause(ctx), -ESHUTDOWN);
    goro_ctx_free(ctx);
    goro_ctx_free(dead);
    /* A deadline: each wait ends with -ETIMEDOUT, not before it. */
    int64_t dl = goro_now() + 30 * MS;
    goro_ctx *tctx = goro_ctx_new_deadline(NULL, dl);
    for (int k = 0; k < kCount; k++) {
        a[k] = (waitarg){.kind = k, .ctx = tctx};
        goro_go(waiter, &a[k]);
    }
    for (int k = 0; k < kCount; k++) {
        while (!a[k].done)
            goro_sleep_ns(MS);
        results[2][k] = a[k].result;
    }
    cr_expect_geq(goro_now(), dl);
    cr_expect_eq(goro_ctx_err(tctx), -ETIMEDOUT);
    goro_ctx_free(tctx);
    teardown();
}

Test(ctx, every_kind_of_wait_ends_before_during_and_at_a_deadline,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, everykindmain, NULL), 0);
    for (int k = 0; k < kCount; k++) {
        cr_expect_eq(results[0][k], -ECANCELED, "before: %s: %d", kname[k],
                     results[0][k]);
        cr_expect_eq(results[1][k], -ECANCELED, "during: %s: %d", kname[k],
                     results[1][k]);
        cr_expect_eq(results[2][k], -ETIMEDOUT, "deadline: %s: %d",
                     kname[k], results[2][k]);
    }
}

/* After: a cancel once the wait is over changes nothing. */
static int afterres;
static long aftergot;

static void aftersender(void *arg)
{
    long v = 99;
    goro_chan_send(arg, &v);
}

static void aftermain(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(long), 0);
    goro_ctx *ctx = goro_ctx_new(NULL);
    goro_go(aftersender, c);
    afterres = goro_chan_recv_ctx(ctx, c, &aftergot);
    goro_ctx_cancel(ctx, 0);
    goro_ctx_cancel(ctx, -EINTR);  /* a second cancel changes nothing */
    cr_expect_eq(goro_ctx_err(ctx), -ECANCELED);
    cr_expect_eq(goro_ctx_cause(ctx), -ECANCELED);
    goro_ctx_free(ctx);
    goro_chan_free(c);
}

Test(ctx, a_cancel_after_the_wait_changes_nothing, .timeout = 30)
{
    cr_assert_eq(test_run(1, aftermain, NULL), 0);
    cr_expect_eq(afterres, 0);
    cr_expect_eq(aftergot, 99);
}

/* ---- the tree ------------------------------------------------------------- */

#define NDESC 10000

static int treebad, treewoken;

static void leafwaiter(void *arg)
{
    goro_ctx *ctx = arg;
    long v;
    goro_chan *c = goro_chan_new(sizeof v, 0);
    if (goro_chan_recv_ctx(ctx, c, &v) == -ECANCELED)
        __atomic_fetch_add(&treewoken, 1, __ATOMIC_RELAXED);
    goro_chan_free(c);
}

static void treemain(void *arg)
{
    (void)arg;
    goro_ctx *root = goro_ctx_new(NULL);
    goro_ctx **chain = calloc(NDESC, sizeof *chain);
    goro_ctx **wide = calloc(NDESC, sizeof *wide);
    /* A chain 10,000 deep and 10,000 children of one context. */
    goro_ctx *mid = goro_ctx_new(root);
    for (int i = 0; i < NDESC; i++) {
        chain[i] = goro_ctx_new(i == 0 ? root : chain[i - 1]);
        wide[i] = goro_ctx_new(mid);
    }
    uint64_t base = test_gs_waiting();
    for (int i = 0; i < 50; i++) {
        goro_go(leafwaiter, chain[NDESC - 1 - i]);
        goro_go(leafwaiter, wide[i * 97]);
    }
    test_wait_waiting(base + 100);
    /* Freeing a middle child of the wide set first: the rest unaffected. */
    goro_ctx_free(wide[NDESC - 1]);
    goro_ctx_cancel(root, -ESHUTDOWN);
    for (int i = 0; i < NDESC; i++) {
        goro_select_case cs[2] = {
            {goro_ctx_done(chain[i]), GORO_RECV, NULL, NULL},
            {goro_ctx_done(i < NDESC - 1 ? wide[i] : mid), GORO_RECV, NULL,
             NULL},
        };
        int ok = goro_select(cs, 2, 0) >= 0;
        if (!ok || goro_ctx_err(chain[i]) != -ECANCELED ||
            goro_ctx_cause(chain[i]) != -ESHUTDOWN ||
            (i < NDESC - 1 && goro_ctx_cause(wide[i]) != -ESHUTDOWN))
            treebad++;
    }
    while (__atomic_load_n(&treewoken, __ATOMIC_RELAXED) < 100)
        goro_sleep_ns(MS);
    /* A child of a cancelled parent is born cancelled. */
    goro_ctx *late = goro_ctx_new(chain[5]);
    if (goro_ctx_cause(late) != -ESHUTDOWN)
        treebad++;
    goro_ctx_free(late);
    /* Free parents before children. */
    goro_ctx_free(root);
    goro_ctx_free(mid);
    for (int i = 0; i < NDESC; i++) {
        goro_ctx_free(chain[i]);
        if (i < NDESC - 1)
            goro_ctx_free(wide[i]);
    }
    free(chain);
    free(wide);
}

Test(ctx, a_parent_cancel_reaches_10000_descendants, .timeout = 60)
{
    cr_assert_eq(test_run(2, treemain, NULL), 0);
    cr_expect_eq(treebad, 0);
    cr_expect_eq(treewoken, 100);
}

/* A deadline is inherited, fires after its time, and the earlier wins. */
static int64_t dlfired, dlwant, dlchild;
static int dlerr;

static void deadlinemain(void *arg)
{
    (void)arg;
    dlwant = goro_now() + 40 * MS;
    goro_ctx *p = goro_ctx_new_deadline(NULL, dlwant);
    goro_ctx *c = goro_ctx_new_deadline(p, dlwant + 1000 * MS);
    dlchild = goro_ctx_deadline(c);
    goro_select_case cs[1] = {{goro_ctx_done(c), GORO_RECV, NULL, NULL}};
    goro_select(cs, 1, 1);
    dlfired = goro_now();
    dlerr = goro_ctx_err(c);
    goro_ctx_free(c);
    goro_ctx_free(p);
    /* One already past: cancelled at once. */
    goro_ctx *past = goro_ctx_new_deadline(NULL, 1);
    if (goro_ctx_err(past) != -ETIMEDOUT)
        dlerr = 0;
    goro_ctx_free(past);
}

Test(ctx, a_deadline_is_inherited_and_fires_after_its_time, .timeout = 30)
{
    cr_assert_eq(test_run(1, deadlinemain, NULL), 0);
    cr_expect_eq(dlchild, dlwant);
    cr_expect_geq(dlfired, dlwant);
    cr_expect_eq(dlerr, -ETIMEDOUT);
}

/* ---- races: nothing lost, nothing doubled ------------------------------------ */

#define NRACE 4000
static long racesent, racegot, raceparked;

static void racesender(void *arg)
{
    goro_chan *c = arg;
    for (long i = 1; i <= NRACE; i++) {
        goro_ctx *ctx = goro_ctx_new_deadline(
            NULL, goro_now() + (int64_t)(i % 7) * 20000);
        if (goro_chan_send_ctx(ctx, c, &i) == 0)
            __atomic_fetch_add(&racesent, i, __ATOMIC_RELAXED);
        goro_ctx_free(ctx);
    }
    long end = -1;
    goro_chan_send(c, &end);
}

static void racemain(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(long), 0);
    goro_go(racesender, c);
    for (;;) {
        long v;
        /* Receive with a context of our own that a third G may cancel. */
        goro_ctx *ctx = goro_ctx_new_deadline(NULL, goro_now() + 30000);
        int r = goro_chan_recv_ctx(ctx, c, &v);
        goro_ctx_free(ctx);
        if (r == -ETIMEDOUT) {
            raceparked++;
            continue;
        }
        if (r != 0 || v == -1)
            break;
        racegot += v;
    }
    goro_chan_free(c);
}

Test(ctx, deadlines_racing_partners_lose_and_double_nothing, .timeout = 120)
{
    cr_assert_eq(test_run(2, racemain, NULL), 0);
    cr_expect_eq(racegot, racesent);
    cr_expect_gt(racesent, 0);
}

/* The mutex: lockers that leave (their contexts end) among lockers that
 * stay; the count is exact and the mutex ends unlocked, unwaited. */
#define NMU 32
static goro_mutex *mu;
static long mucount, muleft;
static goro_wg *wg;

static void mulocker(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        if (id % 2 == 0) {
            goro_mutex_lock(mu);
        } else {
            goro_ctx *ctx = goro_ctx_new_deadline(
                NULL, goro_now() + (int64_t)(i % 5) * 10000);
            int r = goro_mutex_lock_ctx(ctx, mu);
            goro_ctx_free(ctx);
            if (r != 0) {
                __atomic_fetch_add(&muleft, 1, __ATOMIC_RELAXED);
                continue;
            }
        }
        long c = mucount;
        if (i % 16 == 0)
            goro_yield();
        mucount = c + 1;
        goro_mutex_unlock(mu);
    }
    goro_wg_done(wg);
}

static void mutexmain(void *arg)
{
    (void)arg;
    mu = goro_mutex_new();
    wg = goro_wg_new();
    goro_wg_add(wg, NMU);
    for (long i = 0; i < NMU; i++)
        goro_go(mulocker, (void *)(intptr_t)i);
    goro_wg_wait(wg);
    cr_expect_eq(goro_mutex_trylock(mu), 0);
    goro_mutex_unlock(mu);
    goro_mutex_free(mu);
    goro_wg_free(wg);
}

Test(ctx, mutex_lockers_that_leave_keep_the_count_exact, .timeout = 120)
{
    cr_assert_eq(test_run(2, mutexmain, NULL), 0);
    cr_expect_eq(mucount, NMU * 2000 - muleft);
    cr_expect_gt(muleft, 0, "no locker left: the test proved nothing");
}

/* ---- groups ------------------------------------------------------------------- */

static _Atomic int grpres[6];
static int grpcause;
static int grpfds[2];
static goro_mutex *grpmu;
static goro_rwmutex *grprw;

static void grpmutex(void *arg)
{
    (void)arg;
    grpres[4] = goro_mutex_lock_ctx(NULL, grpmu);
}

static void grpwriter(void *arg)
{
    (void)arg;
    grpres[5] = goro_rwmutex_lock_ctx(NULL, grprw);
}

static void grprecv(void *arg)
{
    (void)arg;
    long v;
    goro_chan *c = goro_chan_new(sizeof v, 0);
    grpres[0] = goro_chan_recv(c, &v);
    goro_chan_free(c);
}

static void grpsleep(void *arg)
{
    (void)arg;
    int64_t t0 = goro_now();
    goro_sleep_ns(3600 * 1000 * MS);
    grpres[1] = goro_now() - t0 < 3600 * 1000 * MS ? 1 : 0;
}

static void grpread(void *arg)
{
    (void)arg;
    char b[8];
    grpres[2] = (int)goro_read(grpfds[0], b, sizeof b);
}

static void grpspawner(void *arg)
{
    (void)arg;
    /* A G spawned by a member is a member: its wait ends too. */
    goro_go(grprecv, NULL);
    goro_go(grpsleep, NULL);
    goro_go(grpread, NULL);
    goro_go(grpmutex, NULL);
    goro_go(grpwriter, NULL);
    goro_ctx *ctx = goro_ctx_new(goro_group_ctx(goro_group_self()));
    goro_chan *c = goro_chan_new(0, 0);
    goro_select_case cs[2] = {
        {c, GORO_RECV, NULL, NULL},
        {goro_ctx_done(ctx), GORO_RECV, NULL, NULL},
    };
    grpres[3] = goro_select(cs, 2, 1);
    grpcause = goro_ctx_cause(ctx);
    goro_ctx_free(ctx);
    goro_chan_free(c);
}

static void groupmain(void *arg)
{
    (void)arg;
    cr_expect_eq(pipe2(grpfds, O_NONBLOCK | O_CLOEXEC), 0);
    goro_group *grp = goro_group_new("cancelme", 0, NULL);
    grpmu = goro_mutex_new();
    grprw = goro_rwmutex_new();
    goro_mutex_lock(grpmu);
    goro_rwmutex_lock(grprw);
    uint64_t base = test_gs_waiting();
    goro_group_go(grp, grpspawner, NULL);
    test_wait_waiting(base + 6);
    cr_expect_eq(goro_group_wait(grp, goro_now() + 20 * MS), -ETIMEDOUT);
    cr_expect_eq(goro_group_cancel(grp, -ESHUTDOWN), 0);
    cr_expect_eq(goro_group_wait(grp, 0), 0);
    cr_expect_eq(goro_group_free(grp), 0);
    goro_mutex_unlock(grpmu);
    goro_rwmutex_unlock(grprw);
    goro_mutex_free(grpmu);
    goro_rwmutex_free(grprw);
    goro_close(grpfds[0]);
    close(grpfds[1]);
}

Test(ctx, a_group_cancel_ends_its_gs_waits, .timeout = 30)
{
    cr_assert_eq(test_run(2, groupmain, NULL), 0);
    cr_expect_eq(grpres[0], -ECANCELED);
    cr_expect_eq(grpres[1], 1);
    cr_expect_eq(grpres[2], -ECANCELED);
    cr_expect_eq(grpres[4], -ECANCELED, "mutex_lock_ctx: %d", grpres[4]);
    cr_expect_eq(grpres[5], -ECANCELED, "rwmutex_lock_ctx: %d", grpres[5]);
    /* Its select ends either through the group's cancel of the wait or
     * through the derived context's done channel. */
    cr_expect(grpres[3] == 1 || grpres[3] == -ECANCELED, "select: %d",
              grpres[3]);
    cr_expect_eq(grpcause, -ESHUTDOWN);
}

/* ---- moving stacks ------------------------------------------------------------ */

#define NMOVE 60
static long movesum, movecancelled;
static goro_ctx *movectx;
static goro_chan *movechan;

static void movewaiter(void *arg)
{
    long i = (long)(intptr_t)arg;
    long local = 1000 + i;
    long v = 0;
    test_recurse(200);  /* grow to ~64 KiB; the scans shrink it */
    int r;
    switch (i % 3) {
    case 0: /* receives into its (moving) stack, or is cancelled */
        r = goro_chan_recv_ctx(movectx, movechan, &v);
        break;
    case 1: {
        goro_select_case cs[1] = {{movechan, GORO_RECV, &v, NULL}};
        r = goro_select_ctx(movectx, cs, 1);
        break;
    }
    default:
        r = goro_sleep_ctx(movectx, 3600 * 1000 * MS);
    }
    __atomic_fetch_add(&movesum, local + (r >= 0 ? v : 0), __ATOMIC_RELAXED);
    if (r == -ECANCELED)
        __atomic_fetch_add(&movecancelled, 1, __ATOMIC_RELAXED);
    goro_wg_done(wg);
}

static int moveshrunk;

static void movemain(void *arg)
{
    (void)arg;
    movectx = goro_ctx_new(NULL);
    movechan = goro_chan_new(sizeof(long), 0);
    wg = goro_wg_new();
    goro_wg_add(wg, NMOVE);
    uint64_t base = test_gs_waiting();
    for (long i = 0; i < NMOVE; i++)
        goro_go(movewaiter, (void *)(intptr_t)i);
    test_wait_waiting(base + NMOVE);
    moveshrunk = goro_stack_scan();
    moveshrunk += goro_stack_scan();
    /* Ten values go to receivers whose stacks moved; the rest cancel. */
    for (long k = 0; k < 10; k++) {
        long v = 100000;
        goro_chan_send(movechan, &v);
    }
    goro_ctx_cancel(movectx, 0);
    goro_wg_wait(wg);
    goro_ctx_free(movectx);
    goro_chan_free(movechan);
    goro_wg_free(wg);
}

Test(ctx, cancelled_waiters_survive_their_stacks_moving, .timeout = 60)
{
    cr_assert_eq(test_run(2, movemain, NULL), 0);
    cr_expect_geq(moveshrunk, NMOVE / 2, "the scans shrank %d stacks",
                  moveshrunk);
    long want = 10 * 100000;
    for (long i = 0; i < NMOVE; i++)
        want += 1000 + i;
    cr_expect_eq(movesum, want);
    cr_expect_eq(movecancelled, NMOVE - 10);
}

/* Every wait a context can end (channel send and receive, select, sleep,
 * mutex, semaphore, wait group, cond, rwmutex read and write, wait_fd,
 * read, join), six waiters of each, with grown stacks that two scans
 * shrink while they wait; a few are satisfied, the rest cancelled; each
 * checks its frame after. tests/link/waits.c, built as users build with
 * gcc and clang at -O0 and -O2. */
Test(ctx, every_wait_ends_right_while_the_stacks_move_in_four_builds,
     .timeout = 120)
{
    const char *base = getenv("GORO_WAITSPROG");
    cr_assert_not_null(base, "GORO_WAITSPROG is not set (run through make "
                             "test)");
    static const char *const variants[] = {"gcc_O0", "gcc_O2", "clang_O0",
                                           "clang_O2"};
    for (int i = 0; i < 4; i++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s_%s 2>&1", base, variants[i]);
        char *out = test_command(cmd);
        cr_expect(strstr(out, " bad=0 ") != NULL, "%s:\n%s", cmd, out);
    }
}
