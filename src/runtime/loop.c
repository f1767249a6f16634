/*
 * loop.c - the runtime's loop thread: one libuv loop that serves the Gs
 * parked on it (sleeps and fd deadlines, in time.c's heap of Gs; loop
 * calls: file I/O, goro_blocking, name lookups, signal watches), and runs
 * time.c's timers, sysmon's tick and the periodic stack scan.
 *
 * One thread runs a libuv loop for the whole runtime. Ms never call into the
 * loop (libuv loops are not thread-safe); they hand it parked Gs through one
 * lock-free list and uv_async_send, which coalesces: the async callback
 * drains the whole list each time, oldest first. What a G wants is its
 * waitreason: a timer (sleep), readiness of an fd with a deadline (waitfd,
 * read or write, the deadline in waketime), or a loop call (a request on
 * its pinned stack). The loop's callbacks make the Gs runnable
 * (injectglist: onto the global run queue, starting idle Ms) with
 * g->waitres saying how the wait ended. Socket readiness does not go
 * through the loop: Ms poll the netpoller's epoll fd, and an idle one
 * blocks in it (netpoll.c); only sysmon's tick polls it from here, when
 * nobody did for 10 ms.
 *
 * File I/O and goro_blocking are loop calls (loopcallrun): the G parks, the
 * loop thread submits uv_fs_read/uv_fs_write or uv_queue_work, so libuv's
 * thread pool is started by it and inherits its signal mask, and the
 * request's callback readies the G. The request and the buffer stay on the
 * G's stack, which does not move meanwhile: stackscan never takes a G parked
 * in such a wait.
 *
 * sysmon (proc.c) ticks here too, from 20 us up. A tick of a millisecond
 * or more is a uv timer: the loop's epoll_wait timeout is then its only
 * system call, as Go's sysmon has its usleep. Finer ticks than libuv's
 * milliseconds run off a timerfd watched by a uv_poll_t (a
 * timerfd_settime besides). sysmon stops when every P is idle; the M
 * whose P goes to work again restarts it by setting the timerfd (proc.c,
 * sysmonrestartdelay), which wakes no thread until that tick.
 * The periodic stack scan (stackscan, stack.c) runs here too, off a uv
 * timer, every stack.scan_interval.
 *
 * The loop sleeps in epoll_wait when there is nothing to do: an idle runtime
 * makes no system calls.
 *
 * The loop thread blocks the preemption signal (preempt.c), and so do the
 * threads it starts: libuv's thread pool and new Ms (which unblock it).
 *
 * Rejected: the loop thread doing the read or write for the G (the buffer
 * may be on the G's stack, which moves, and the data would cross threads
 * twice).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include "runtime2.h"

static uv_loop_t loop;
static uv_async_t wakeup;
static uv_timer_t scantimer;  /* the periodic stack scan */
static uv_poll_t sysmonpoll;  /* sysmon's timerfd */
static int sysmonfd = -1;
static pthread_t loopthread;
static bool running;
static _Atomic bool stopping;

/* Gs handed to the loop (loopsubmit): a Treiber stack through
 * g->schedlink, pushed by Ms, taken whole by the loop. */
static g *_Atomic pending;

/* Gs the current callback made runnable, in order; flushed (injectglist)
 * at its end. Loop thread only. */
static g *readyhead, **readytail = &readyhead;

/* loopready queues gp (Gwaiting, no longer recorded anywhere) to be made
 * runnable at the end of the callback, its wait ended by res. */
void loopready(g *gp, int res)
{
    gp->waitres = res;
    if (gp->heapidx != 0)
        gheapdelete(gp);
    gp->schedlink = NULL;
    *readytail = gp;
    readytail = &gp->schedlink;
}

/* loopflush ends every callback: the Gs it readied go to the run queues,
 * and the timer follows the heap's top (time.c's heap of Gs). */
void loopflush(void)
{
    g *list = readyhead;
    readyhead = NULL;
    readytail = &readyhead;
    injectglist(list);
    gheapsync();
}

/* ---- sysmon's tick and the stack scan ------------------------------------ */

static void scan_cb(uv_timer_t *t)
{
    (void)t;
    stackscan();
}

/* sysmon's ticks (the essay above): sysmontimer for those of a
 * millisecond or more, due in whole milliseconds rounded down (sysmon
 * looks again early rather than late), the timerfd for the shorter ones
 * and for a restart (sysmonwake, set by an M). fdarmed: the timerfd is
 * set (or has fired and not been set since). The loop thread (and
 * loopinit before it starts) sets them, but an M restarting a stopped
 * sysmon: sysmondisarm and sysmonwake run under sched.lock, and sysmon
 * sets no tick while it is stopped, so the two never overlap. */
static uv_timer_t sysmontimer;
static _Atomic bool fdarmed;

static void sysmon_tick(void);

static void sysmontimer_cb(uv_timer_t *t)
{
    (void)t;
    sysmon_tick();
}

/* sysmonfdset sets the timerfd to fire ns from now; ns < 0 disarms. */
static void sysmonfdset(int64_t ns)
{
    struct itimerspec its = {0};
    if (ns >= 0) {
        if (ns == 0)
            ns = 1;
        its.it_value.tv_sec = ns / 1000000000;
        its.it_value.tv_nsec = ns % 1000000000;
    }
    timerfd_settime(sysmonfd, 0, &its, NULL);
    atomic_store_explicit(&fdarmed, ns >= 0, memory_order_relaxed);
}

/* sysmon_arm sets sysmon's next tick ns from now; ns < 0 disarms. */
static void sysmon_arm(int64_t ns)
{
    if (ns >= 1000000) {
        uv_update_time(&loop);
        uv_timer_start(&sysmontimer, sysmontimer_cb,
                       (uint64_t)ns / 1000000, 0);
        ns = -1;  /* the timerfd: off */
    } else {
        uv_timer_stop(&sysmontimer);
    }
    if (ns < 0 && !atomic_load_explicit(&fdarmed, memory_order_relaxed))
        return;   /* off already */
    sysmonfdset(ns);
}

void sysmondisarm(void)
{
    sysmon_arm(-1);
}

void sysmonwake(int64_t ns)
{
    sysmonfdset(ns);
}

static void sysmon_cb(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)status;
    (void)events;
    /* No read of the expirations: the tick ends by setting the timerfd
     * again or disarming it (fdarmed is still true), which clears its
     * readiness too. */
    sysmon_tick();
}

/* sysmon_tick runs one tick of sysmon and sets the next. */
static void sysmon_tick(void)
{
    /* Gs whose fd became ready while every P runs a G that does not
     * return to the scheduler: nobody polled for 10 ms (Go's sysmon). */
    int64_t last = atomic_load_explicit(&netpoll_lastpoll,
                                        memory_order_relaxed);
    if (netpollinuse() && last != 0 &&
        nanotime() - last > 10 * 1000 * 1000) {
        g *list = netpoll(false);
        while (list != NULL) {
            g *next = list->schedlink;
            loopready(list, list->waitres);
            list = next;
        }
        loopflush();
    }
    /* Stopped (-1): sysmon disarmed itself, and an M may have set the
     * timerfd for its restart since. */
    int64_t d = sysmon();
    if (d >= 0)
        sysmon_arm(d);
}

/* ---- the loop ------------------------------------------------------------ */

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

HIDDEN _Atomic uint64_t loopwakeups;

static void wakeup_cb(uv_async_t *a)
{
    (void)a;
    atomic_fetch_add_explicit(&loopwakeups, 1, memory_order_relaxed);
    if (atomic_load(&stopping)) {
        uv_close((uv_handle_t *)&scantimer, close_cb);
        uv_close((uv_handle_t *)&sysmonpoll, close_cb);
        uv_close((uv_handle_t *)&sysmontimer, close_cb);
        uv_close((uv_handle_t *)&wakeup, close_cb);
        sigqueue_close();
        timeclose();
        return;
    }
    /* The Gs an M took off a pollDesc while they wait with a deadline. */
    netpollwakeup();
    g *list = atomic_exchange_explicit(&pending, NULL, memory_order_acquire);
    /* The stack holds the newest first: reverse it, to serve in order. */
    g *fifo = NULL;
    while (list != NULL) {
        g *next = list->schedlink;
        list->schedlink = fifo;
        fifo = list;
        list = next;
    }
    while (fifo != NULL) {
        g *gp = fifo;
        fifo = gp->schedlink;
        gp->schedlink = NULL;
        switch (gp->waitreason) {
        case waitReasonSleep:
            gheappush(gp);
            break;
        case waitReasonIORead:
        case waitReasonIOWrite:
            netpollwait(gp);
            break;
        case waitReasonFileIO:
        case waitReasonBlocking:
        case waitReasonLoopCall: {
            loopcall *lc = gp->param;
            lc->fn(lc);
            break;
        }
        default:
            throw("netpoll: G submitted with an unknown wait reason");
        }
    }
    loopflush();
}

static void *loopmain(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

int loopinit(void)
{
    int err = netpollinit();
    if (err != 0)
        return err;
    sysmonfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (sysmonfd < 0) {
        int e = errno;
        print("goro: cannot create sysmon's timer: %s\n", strerror(e));
        return -e;
    }
    err = uv_loop_init(&loop);
    if (err == 0)
        err = uv_async_init(&loop, &wakeup, wakeup_cb);
    if (err == 0)
        err = uv_poll_init(&loop, &sysmonpoll, sysmonfd);
    if (err == 0)
        err = uv_poll_start(&sysmonpoll, UV_READABLE, sysmon_cb);
    if (err == 0)
        err = uv_timer_init(&loop, &sysmontimer);
    if (err == 0)
        err = uv_timer_init(&loop, &scantimer);
    if (err == 0)
        err = timeinit(&loop);   /* time.c's timers and heap of Gs */
    if (err == 0 && rtconf.scan_interval_ns > 0) {
        uint64_t ms = (uint64_t)(rtconf.scan_interval_ns + 999999) / 1000000;
        err = uv_timer_start(&scantimer, scan_cb, ms, ms);
    }
    if (err != 0) {
        print("goro: cannot start the event loop: %s\n", uv_strerror(err));
        return err;
    }
    sysmon_arm(0);
    /* The loop thread (and the threads it starts) never take the
     * preemption signal. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGPREEMPT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    err = pthread_create(&loopthread, NULL, loopmain, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        print("goro: cannot start the event loop thread: errno %d\n", err);
        return -err;
    }
    running = true;
    return 0;
}

void loopshutdown(void)
{
    if (!running)
        return;
    atomic_store(&stopping, true);
    uv_async_send(&wakeup);
    pthread_join(loopthread, NULL);
    uv_loop_close(&loop);
    close(sysmonfd);
    sysmonfd = -1;
    netpollshutdown();
    running = false;
}

/* loopsubmit hands gp (Gwaiting) to the loop thread. Any thread. */
void loopsubmit(g *gp)
{
    g *old = atomic_load_explicit(&pending, memory_order_relaxed);
    do {
        gp->schedlink = old;
    } while (!atomic_compare_exchange_weak_explicit(
        &pending, &old, gp, memory_order_release, memory_order_relaxed));
    /* Only the push onto an empty list needs to wake the loop: whoever
     * pushed onto a non-empty one finds a wakeup already on its way (the
     * loop takes the list whole after the async is delivered). */
    if (old == NULL)
        uv_async_send(&wakeup);
}

/* loopwake wakes the loop thread: the netpoller handed it Gs (pendready).
 * Any thread. */
void loopwake(void)
{
    uv_async_send(&wakeup);
}

/* ---- calls on the loop thread -------------------------------------------- */

uv_loop_t *loopuv(void)
{
    return &loop;
}

void loopcalldone(loopcall *lc)
{
    loopready(lc->gp, 0);
    loopflush();
}

static bool loopcommit(g *gp, void *arg)
{
    (void)arg;
    loopsubmit(gp);
    return true;
}

int loopcallrun(loopcall *lc, uint8_t reason)
{
    lc->gp = getg();
    lc->gp->param = lc;
    gopark(loopcommit, NULL, reason);
    getg()->param = NULL;
    return lc->result;
}

/* ---- file I/O ------------------------------------------------------------ */

/* A file operation, on the parked G's stack (pinned: see stackscan): a
 * loop call whose fn submits the request; the request's callback ends it. */
typedef struct fsreq {
    loopcall  lc;
    uv_fs_t   req;        /* data = the fsreq */
    uv_buf_t  buf;
    int       fd;
    bool      write;
    int64_t   off;
    long      result;     /* bytes or -errno, when the G is readied */
} fsreq;

static void fs_cb(uv_fs_t *req)
{
    fsreq *r = req->data;
    r->result = (long)req->result;
    uv_fs_req_cleanup(req);
    loopcalldone(&r->lc);
}

static void fsstart(loopcall *lc)
{
    fsreq *r = (fsreq *)lc;
    r->req.data = r;
    int err = r->write
        ? uv_fs_write(&loop, &r->req, r->fd, &r->buf, 1, r->off, fs_cb)
        : uv_fs_read(&loop, &r->req, r->fd, &r->buf, 1, r->off, fs_cb);
    if (err < 0) {
        r->result = err;
        loopcalldone(lc);
    }
}

long loopfileio(bool write, int fd, void *buf, size_t len, int64_t off)
{
    fsreq r;
    memclr_nolibc(&r, sizeof r);
    r.buf.base = buf;
    r.buf.len = len;
    r.fd = fd;
    r.write = write;
    r.off = off;
    r.lc.fn = fsstart;
    loopcallrun(&r.lc, waitReasonFileIO);
    return r.result;
}

/* ---- goro_blocking ------------------------------------------------------- */

/* goro_blocking: fn runs on libuv's thread pool (a thread stack of its
 * own), the G parked meanwhile. */
typedef struct blockreq {
    loopcall  lc;
    uv_work_t work;
    goro_fn   fn;
    void     *arg;
} blockreq;

static void blocking_work(uv_work_t *w)
{
    blockreq *r = w->data;
    r->fn(r->arg);
}

static void blocking_done(uv_work_t *w, int status)
{
    (void)status;
    blockreq *r = w->data;
    loopcalldone(&r->lc);
}

static void blocking_start(loopcall *lc)
{
    blockreq *r = (blockreq *)lc;
    r->work.data = r;
    int err = uv_queue_work(&loop, &r->work, blocking_work, blocking_done);
    if (err < 0) {
        lc->result = err;
        loopcalldone(lc);
    }
}

int goro_blocking(goro_fn fn, void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    blockreq r;
    memclr_nolibc(&r, sizeof r);
    r.lc.fn = blocking_start;
    r.fn = fn;
    r.arg = arg;
    return loopcallrun(&r.lc, waitReasonBlocking);
}
