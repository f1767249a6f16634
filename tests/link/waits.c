/* waits.c - every kind of wait that a context can end, while the waiting
 * Gs' stacks move, seen from a program built the way users build
 * (pkg-config against libgoro.so), compiled by the Makefile with gcc and
 * clang at -O0 and -O2 (run by tests/test_ctx.c).
 *
 * Each waiter first grows its stack (a recursion that keeps a value in
 * every frame), then waits in one of the *_ctx calls below with a canary
 * array and the recursion's sum live in its frame. Once all are parked,
 * main makes two stack scans (which shrink the stacks they find grown:
 * the waiters' frames move while they wait), then satisfies a few waits
 * (a value sent, a unit released, a signal, a byte written) and cancels
 * the context, which ends all the others with -ECANCELED. Every waiter
 * then checks its canary, its sum, and what its call returned.
 *
 * Prints "waiters=N cancelled=C satisfied=S bad=B shrunk=K" and exits 0
 * when every check held. */
#define _GNU_SOURCE
#include <goro.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    kChanRecv, kChanSend, kSelect, kSleep, kMutex, kSem, kWg, kCond,
    kRLock, kLock, kWaitFd, kRead, kJoin, nKinds
};
static const char *const names[nKinds] = {
    "chan_recv", "chan_send", "select", "sleep", "mutex", "sem", "wg",
    "cond", "rlock", "lock", "wait_fd", "read", "join"};

#define PER_KIND 6
#define NWAIT (nKinds * PER_KIND)

static goro_ctx *ctx;
static goro_chan *rch, *sch;
static goro_mutex *mu, *cmu;
static goro_cond *cv;
static goro_sem *sem;
static goro_wg *never, *done;
static goro_rwmutex *rw;
static int pfd[2], sv[2];
static int64_t joinee[PER_KIND];  /* one joiner each, as goro_join wants */
static volatile long satisfied, cancelled, bad;
static int failed;

/* grow recurses depth levels with a value live in each frame; returns
 * their sum (depth * (depth + 1) / 2 + depth * salt). The volatile
 * store between the call and the sum keeps compilers from turning the
 * recursion into a loop (clang -O2 does, with an accumulator). */
static volatile long growsink;

static __attribute__((noinline)) long grow(int depth, long salt)
{
    volatile char pad[200];
    pad[0] = (char)depth;
    if (depth == 0)
        return pad[0];
    long here = depth + salt;
    long below = grow(depth - 1, salt);
    growsink = below;
    return here + below + pad[0] - (char)depth;
}

static int neverending(void *arg)
{
    (void)arg;
    goro_sleep_ns(3600LL * 1000000000);
    return 7;
}

static void waiter(void *arg)
{
    long i = (long)(intptr_t)arg;
    int kind = (int)(i % nKinds);
    volatile long canary[16];
    for (int k = 0; k < 16; k++)
        canary[k] = i * 1000 + k;
    long depth = 60 + i % 40;
    long sum = grow((int)depth, i);
    long want = depth * (depth + 1) / 2 + depth * i;
    long v = 0;
    char c = 0;
    int r;
    switch (kind) {
    case kChanRecv:
        r = goro_chan_recv_ctx(ctx, rch, &v);
        break;
    case kChanSend:
        v = i;
        r = goro_chan_send_ctx(ctx, sch, &v);
        break;
    case kSelect: {
        goro_select_case cs[1] = {{rch, GORO_RECV, &v, NULL}};
        r = goro_select_ctx(ctx, cs, 1);
        break;
    }
    case kSleep:
        r = goro_sleep_ctx(ctx, 3600LL * 1000000000);
        break;
    case kMutex:
        r = goro_mutex_lock_ctx(ctx, mu);
        if (r == 0)
            goro_mutex_unlock(mu);
        break;
    case kSem:
        r = goro_sem_acquire_ctx(ctx, sem, 1);
        break;
    case kWg:
        r = goro_wg_wait_ctx(ctx, never);
        break;
    case kCond:
        goro_mutex_lock(cmu);
        r = goro_cond_wait_ctx(ctx, cv, cmu);
        goro_mutex_unlock(cmu);
        break;
    case kRLock:
        r = goro_rwmutex_rlock_ctx(ctx, rw);
        if (r == 0)
            goro_rwmutex_runlock(rw);
        break;
    case kLock:
        r = goro_rwmutex_lock_ctx(ctx, rw);
        if (r == 0)
            goro_rwmutex_unlock(rw);
        break;
    case kWaitFd:
        r = goro_wait_fd_ctx(ctx, pfd[0], POLLIN);
        break;
    case kRead:
        r = (int)goro_read_ctx(ctx, sv[0], &c, 1);
        break;
    default: {
        int res = 0;
        r = goro_join_ctx(ctx, joinee[i / nKinds], &res);
        break;
    }
    }
    bool ok = r >= 0 || r == -ECANCELED;
    for (int k = 0; k < 16; k++)
        if (canary[k] != i * 1000 + k)
            ok = false;
    if (sum != want)
        ok = false;
    if (r == -ECANCELED)
        __atomic_fetch_add(&cancelled, 1, __ATOMIC_RELAXED);
    else if (r >= 0)
        __atomic_fetch_add(&satisfied, 1, __ATOMIC_RELAXED);
    if (!ok) {
        __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
        printf("bad: waiter %ld (%s) returned %d, sum %ld of %ld\n", i,
               names[kind], r, sum, want);
    }
    goro_wg_done(done);
}

static void mainfn(void *arg)
{
    (void)arg;
    ctx = goro_ctx_new(NULL);
    rch = goro_chan_new(sizeof(long), 0);
    sch = goro_chan_new(sizeof(long), 0);
    mu = goro_mutex_new();
    cmu = goro_mutex_new();
    cv = goro_cond_new();
    sem = goro_sem_new(1);
    never = goro_wg_new();
    done = goro_wg_new();
    rw = goro_rwmutex_new();
    if (pipe(pfd) != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        abort();
    for (int k = 0; k < PER_KIND; k++)
        joinee[k] = goro_go_joinable(neverending, NULL);
    goro_mutex_lock(mu);
    goro_sem_acquire(sem, 1);
    goro_wg_add(never, 1);
    goro_rwmutex_lock(rw);
    goro_wg_add(done, NWAIT);
    for (long i = 0; i < NWAIT; i++)
        goro_go(waiter, (void *)(intptr_t)i);
    /* Let them all park, then move their stacks. */
    goro_sleep_ns(200 * 1000000);
    int shrunk = goro_stack_scan();
    shrunk += goro_stack_scan();
    /* A few waits end by what they wait for. */
    long v = 1;
    goro_chan_send(rch, &v);
    goro_chan_recv(sch, &v);
    goro_sem_release(sem, 1);
    goro_mutex_lock(cmu);
    goro_cond_signal(cv);
    goro_mutex_unlock(cmu);
    if (write(pfd[1], "x", 1) != 1 || write(sv[1], "y", 1) != 1)
        abort();
    goro_sleep_ns(50 * 1000000);
    /* The rest are cancelled. */
    goro_ctx_cancel(ctx, 0);
    goro_mutex_unlock(mu);
    goro_rwmutex_unlock(rw);
    goro_wg_wait(done);
    printf("waiters=%d cancelled=%ld satisfied=%ld bad=%ld shrunk=%d\n", NWAIT,
           cancelled, satisfied, bad, shrunk);
    failed = bad != 0 || cancelled + satisfied != NWAIT || satisfied < 1 ||
             cancelled < NWAIT / 2 || shrunk < NWAIT / 4;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    setenv("GORO_PROCS", "2", 0);
    int rc = goro_run(mainfn, NULL);
    if (rc != 0) {
        printf("goro_run: %d\n", rc);
        return 2;
    }
    return failed;
}
