/*
 * netpoll.c - the runtime's libuv loop thread: timers, I/O readiness (the
 * netpoller, Go's netpoll.go) and file operations.
 *
 * One thread runs a libuv loop for the whole runtime. Ms never call into the
 * loop (libuv loops are not thread-safe); they hand it parked Gs through one
 * lock-free list and uv_async_send, which coalesces: the async callback
 * drains the whole list each time, oldest first. What a G wants is its
 * waitreason: a timer (sleep), readiness of an fd (waitfd, read or write,
 * with an optional deadline in waketime), the teardown of an fd's poller
 * (goro_close), or a file operation (a request on its pinned stack). The
 * loop's callbacks make the Gs runnable (injectglist: onto the global run
 * queue, starting idle Ms) with g->waitres saying how the wait ended.
 *
 * Timers: sleeping Gs, and Gs waiting on an fd with a deadline, sit in a
 * binary min-heap ordered by wake time (nanoseconds, CLOCK_MONOTONIC; each
 * G knows its index, so a G woken by its fd leaves the heap at once); a
 * single uv_timer_t is armed for the earliest. libuv counts in milliseconds
 * and may fire up to 1 ms before a deadline that does not fall on a
 * millisecond, so the callback wakes only the Gs whose time has come and
 * re-arms for the rest: nobody wakes early, and the heap keeps wake order.
 *
 * I/O (Go's pollDesc): the G first tries its call itself (netfd.c); only on
 * EAGAIN does it park here. The loop keeps a pollDesc per fd a G ever
 * waited on: a uv_poll_t, started for readable and/or writable while
 * readers or writers wait and stopped when none does, and the waiting Gs
 * (FIFO lists through schedlink). libuv's epoll is level-triggered and the
 * poll is started only after the G parked, so readiness that arrived
 * between the G's EAGAIN and its registration is reported at once: no lost
 * wakeup. The loop only signals readiness; the G makes the call again on
 * its own thread when it runs (no pointer into a G's stack is kept, and a
 * spurious readiness just costs a retry). goro_close parks the closer while
 * the loop closes the uv_poll_t (epoll forgets the fd at once) and wakes
 * the fd's waiters with -ECANCELED; the closer then closes the fd. So an fd
 * number is never reused while the loop still watches it.
 *
 * File I/O: uv_fs_read/uv_fs_write are submitted on the loop thread, so
 * libuv's thread pool is started by it and inherits its signal mask. The
 * request and the buffer stay on the G's stack, which does not move
 * meanwhile: stackscan never takes a G parked in waitReasonFileIO.
 *
 * sysmon (proc.c) ticks here too, from 20 us up: finer than libuv's
 * millisecond timers, so it runs off a timerfd watched by a uv_poll_t. It
 * stops when every P is idle and is restarted through the async handle.
 *
 * The loop sleeps in epoll_wait when there is nothing to do: an idle runtime
 * makes no system calls.
 *
 * The loop thread blocks the preemption signal (preempt.c), and so do the
 * threads it starts: libuv's thread pool and new Ms (which unblock it).
 *
 * Rejected: a uv_timer_t per sleeping G (150 bytes per G and a libuv heap
 * operation per sleep, for no better precision); sleeping on the M itself
 * (the P would be lost to the sleep); the loop thread doing the read or
 * write for the G (the buffer may be on the G's stack, which moves, and the
 * data would cross threads twice).
 */
#include <jemalloc/jemalloc.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include "runtime2.h"

static uv_loop_t loop;
static uv_async_t wakeup;
static uv_timer_t timer;
static uv_timer_t scantimer;  /* the periodic stack scan */
static uv_poll_t sysmonpoll;  /* sysmon's timerfd */
static int sysmonfd = -1;
static _Atomic bool sysmonkick; /* restart sysmon (netpoll_sysmonwake) */
static pthread_t loopthread;
static bool running;
static _Atomic bool stopping;

/* Gs handed to the loop (netpoll_submit): a Treiber stack through
 * g->schedlink, pushed by Ms, taken whole by the loop. */
static g *_Atomic pending;

/* Gs the current callback made runnable, in order; flushed (injectglist)
 * at its end. Loop thread only. */
static g *readyhead, **readytail = &readyhead;
static bool timersdirty;       /* the heap's top may have changed */

/* A pollDesc per fd a G waited on. Loop thread only. */
typedef struct pollDesc {
    uv_poll_t poll;            /* data = the pollDesc */
    int       fd;
    int       events;          /* UV_READABLE|UV_WRITABLE it is started for */
    g        *rg, *wg;         /* waiting readers, writers (schedlink) */
} pollDesc;
static pollDesc **pds;         /* by fd; NULL: none */
static size_t npds;

/* polled[fd]: a pollDesc may exist for fd (set by the G before it first
 * parks on fd, cleared by goro_close once the loop dropped it): a close of
 * an fd nobody ever waited on needs no trip to the loop. Sized from
 * RLIMIT_NOFILE's hard limit; fds beyond it count as polled. */
static _Atomic uint8_t *polled;
static size_t npolled;

/* The timer heap. Loop thread only. */
static g **heap;
static size_t heaplen, heapcap;

/* heapset puts x at i; g->heapidx is i + 1 (0: not in the heap). */
static inline void heapset(size_t i, g *x)
{
    heap[i] = x;
    x->heapidx = (uint32_t)(i + 1);
}

static void heapup(size_t i)
{
    g *x = heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap[parent]->waketime <= x->waketime)
            break;
        heapset(i, heap[parent]);
        i = parent;
    }
    heapset(i, x);
}

static void heapdown(size_t i)
{
    g *x = heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= heaplen)
            break;
        if (c + 1 < heaplen && heap[c + 1]->waketime < heap[c]->waketime)
            c++;
        if (x->waketime <= heap[c]->waketime)
            break;
        heapset(i, heap[c]);
        i = c;
    }
    heapset(i, x);
}

static void heappush(g *gp)
{
    if (heaplen == heapcap) {
        size_t ncap = heapcap ? heapcap * 2 : 256;
        g **n = heap ? rallocx(heap, ncap * sizeof *n, 0)
                     : mallocx(ncap * sizeof *n, 0);
        if (n == NULL)
            throw("out of memory (timer heap)");
        heap = n;
        heapcap = ncap;
    }
    heap[heaplen++] = gp;
    heapup(heaplen - 1);
    if (heap[0] == gp)
        timersdirty = true;
}

/* heapdelete takes gp, which is in the heap, out of it. */
static void heapdelete(g *gp)
{
    size_t i = gp->heapidx - 1;
    gp->heapidx = 0;
    g *last = heap[--heaplen];
    if (i == 0)
        timersdirty = true;
    if (i == heaplen)
        return;
    heapset(i, last);
    if (i > 0 && heap[(i - 1) / 2]->waketime > last->waketime)
        heapup(i);
    else
        heapdown(i);
}

static g *heappop(void)
{
    g *top = heap[0];
    heapdelete(top);
    return top;
}

static void timer_cb(uv_timer_t *t);

/* armtimer arms the uv timer for the earliest wake time, rounded up to a
 * whole millisecond. */
static void armtimer(void)
{
    if (heaplen == 0) {
        uv_timer_stop(&timer);
        return;
    }
    int64_t d = heap[0]->waketime - nanotime();
    uint64_t ms = d <= 0 ? 0 : (uint64_t)((d + 999999) / 1000000);
    uv_update_time(&loop);
    uv_timer_start(&timer, timer_cb, ms, 0);
}

/* readyg queues gp (Gwaiting, no longer recorded anywhere) to be made
 * runnable at the end of the callback, its wait ended by res. */
static void readyg(g *gp, int res)
{
    gp->waitres = res;
    if (gp->heapidx != 0)
        heapdelete(gp);
    gp->schedlink = NULL;
    *readytail = gp;
    readytail = &gp->schedlink;
}

/* flush ends every callback: the Gs it readied go to the run queues, and
 * the timer follows the heap's top. */
static void flush(void)
{
    g *list = readyhead;
    readyhead = NULL;
    readytail = &readyhead;
    injectglist(list);
    if (timersdirty) {
        timersdirty = false;
        armtimer();
    }
}

static void pdunlink(g **list, g *gp);
static void pdupdate(pollDesc *pd, bool lazy);

static void timer_cb(uv_timer_t *t)
{
    (void)t;
    int64_t now = nanotime();
    while (heaplen > 0 && heap[0]->waketime <= now) {
        g *gp = heappop();
        if (gp->waitreason == waitReasonIORead ||
            gp->waitreason == waitReasonIOWrite) {
            /* A deadline: the G leaves its fd's wait list. */
            pollDesc *pd = pds[gp->waitfd];
            pdunlink(gp->waitreason == waitReasonIORead ? &pd->rg : &pd->wg,
                     gp);
            pdupdate(pd, false);
            readyg(gp, -ETIMEDOUT);
        } else {
            readyg(gp, 0);
        }
    }
    timersdirty = true;
    flush();
}

static void scan_cb(uv_timer_t *t)
{
    (void)t;
    stackscan();
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

/* sysmon_arm sets sysmon's next tick ns from now; ns < 0 disarms. */
static void sysmon_arm(int64_t ns)
{
    struct itimerspec its = {0};
    if (ns >= 0) {
        its.it_value.tv_sec = ns / 1000000000;
        its.it_value.tv_nsec = ns % 1000000000;
        if (ns == 0)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(sysmonfd, 0, &its, NULL);
}

static void sysmon_cb(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)status;
    (void)events;
    uint64_t expirations;
    if (read(sysmonfd, &expirations, sizeof expirations) < 0)
        return;  /* EAGAIN: re-armed or disarmed meanwhile */
    sysmon_arm(sysmon());
}

/* ---- the netpoller (loop thread) ---------------------------------------- */

static void pdappend(g **list, g *gp)
{
    gp->schedlink = NULL;
    while (*list != NULL)
        list = &(*list)->schedlink;
    *list = gp;
}

static void pdunlink(g **list, g *gp)
{
    while (*list != gp) {
        if (*list == NULL)
            throw("netpoll: waiting G not on its fd's list");
        list = &(*list)->schedlink;
    }
    *list = gp->schedlink;
    gp->schedlink = NULL;
}

/* pdwakeall readies every G of list with res; false if there was none. */
static bool pdwakeall(g **list, int res)
{
    g *gp = *list;
    if (gp == NULL)
        return false;
    *list = NULL;
    while (gp != NULL) {
        g *next = gp->schedlink;
        readyg(gp, res);
        gp = next;
    }
    return true;
}

static void netpoll_cb(uv_poll_t *h, int status, int events);

/* pdupdate starts pd's poll for what its waiters want, or stops it.
 *
 * Lazily (lazy true) it leaves a poll started for more than is wanted:
 * starting and stopping a uv_poll_t costs two or three epoll_ctl calls, and
 * a G woken by its fd usually parks on it again soon (read, reply, read).
 * epoll is level-triggered, so an fd left watched that stays ready makes
 * the callback run with nobody to wake: that callback stops the poll (it
 * updates eagerly), so an unwanted poll costs at most one spurious
 * callback. */
static void pdupdate(pollDesc *pd, bool lazy)
{
    int want = (pd->rg ? UV_READABLE : 0) | (pd->wg ? UV_WRITABLE : 0);
    if (want == pd->events || (lazy && (want & ~pd->events) == 0))
        return;
    int err = want ? uv_poll_start(&pd->poll, want, netpoll_cb)
                   : uv_poll_stop(&pd->poll);
    if (err != 0) {
        /* The fd cannot be watched (closed behind our back?): say so to
         * the waiters rather than leave them parked forever. */
        pdwakeall(&pd->rg, err);
        pdwakeall(&pd->wg, err);
        uv_poll_stop(&pd->poll);
        want = 0;
    }
    pd->events = want;
}

static void netpoll_cb(uv_poll_t *h, int status, int events)
{
    pollDesc *pd = h->data;
    bool woke = false;
    if (status < 0) {
        /* libuv says UV_EBADF for any EPOLLERR (a refused connect, a
         * reset) and has stopped the poll: the retried calls tell the
         * real error (and clear it). */
        pd->events = 0;
        pdwakeall(&pd->rg, 0);
        pdwakeall(&pd->wg, 0);
    } else {
        /* Hang-ups and errors come as readable and writable: the retried
         * call reports them. */
        if (events & (UV_READABLE | UV_DISCONNECT))
            woke |= pdwakeall(&pd->rg, 0);
        if (events & UV_WRITABLE)
            woke |= pdwakeall(&pd->wg, 0);
    }
    pdupdate(pd, woke);
    flush();
}

static void pdfree_cb(uv_handle_t *h)
{
    dallocx(h->data, 0);
}

/* pdget returns fd's pollDesc, made on first use; NULL with *err set if
 * the fd cannot be watched. */
static pollDesc *pdget(int fd, int *err)
{
    if ((size_t)fd >= npds) {
        size_t n = npds ? npds : 1024;
        while (n <= (size_t)fd)
            n *= 2;
        pollDesc **t = pds ? rallocx(pds, n * sizeof *t, 0)
                           : mallocx(n * sizeof *t, 0);
        if (t == NULL) {
            *err = -ENOMEM;
            return NULL;
        }
        memset(t + npds, 0, (n - npds) * sizeof *t);
        pds = t;
        npds = n;
    }
    if (pds[fd] != NULL)
        return pds[fd];
    pollDesc *pd = mallocx(sizeof *pd, MALLOCX_ZERO);
    if (pd == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    *err = uv_poll_init(&loop, &pd->poll, fd);
    if (*err != 0) {
        dallocx(pd, 0);
        return NULL;
    }
    pd->poll.data = pd;
    pd->fd = fd;
    pds[fd] = pd;
    return pd;
}

/* pollwait records gp as waiting on its fd (Go's netpollblock, loop side). */
static void pollwait(g *gp)
{
    int err;
    pollDesc *pd = pdget(gp->waitfd, &err);
    if (pd == NULL) {
        readyg(gp, err);
        return;
    }
    pdappend(gp->waitreason == waitReasonIORead ? &pd->rg : &pd->wg, gp);
    if (gp->waketime != 0)
        heappush(gp);
    pdupdate(pd, true);
}

/* pollclose drops gp->waitfd's pollDesc for goro_close: its waiters wake
 * with -ECANCELED, epoll forgets the fd (uv_close stops the poll at once),
 * and the closer is readied to close the fd. */
static void pollclose(g *gp)
{
    int fd = gp->waitfd;
    pollDesc *pd = (size_t)fd < npds ? pds[fd] : NULL;
    if (pd != NULL) {
        pds[fd] = NULL;
        pdwakeall(&pd->rg, -ECANCELED);
        pdwakeall(&pd->wg, -ECANCELED);
        uv_close((uv_handle_t *)&pd->poll, pdfree_cb);
    }
    readyg(gp, 0);
}

/* ---- file I/O (loop thread) -------------------------------------------------- */

/* A file operation, on the parked G's stack (pinned: see stackscan). */
typedef struct fsreq {
    uv_fs_t   req;        /* data = the fsreq */
    uv_buf_t  buf;
    int       fd;
    bool      write;
    int64_t   off;
    long      result;     /* bytes or -errno, when the G is readied */
    g        *gp;
} fsreq;

static void fs_cb(uv_fs_t *req)
{
    fsreq *r = req->data;
    r->result = (long)req->result;
    uv_fs_req_cleanup(req);
    readyg(r->gp, 0);
    flush();
}

static void fsstart(g *gp)
{
    fsreq *r = gp->param;
    r->req.data = r;
    int err = r->write
        ? uv_fs_write(&loop, &r->req, r->fd, &r->buf, 1, r->off, fs_cb)
        : uv_fs_read(&loop, &r->req, r->fd, &r->buf, 1, r->off, fs_cb);
    if (err < 0) {
        r->result = err;
        readyg(gp, 0);
    }
}

static void wakeup_cb(uv_async_t *a)
{
    (void)a;
    if (atomic_load(&stopping)) {
        uv_close((uv_handle_t *)&timer, close_cb);
        uv_close((uv_handle_t *)&scantimer, close_cb);
        uv_close((uv_handle_t *)&sysmonpoll, close_cb);
        uv_close((uv_handle_t *)&wakeup, close_cb);
        /* fds never closed through goro_close */
        for (size_t fd = 0; fd < npds; fd++)
            if (pds[fd] != NULL)
                uv_close((uv_handle_t *)&pds[fd]->poll, pdfree_cb);
        if (pds != NULL)
            dallocx(pds, 0);
        pds = NULL;
        npds = 0;
        return;
    }
    if (atomic_exchange(&sysmonkick, false))
        sysmon_arm(0);
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
            heappush(gp);
            break;
        case waitReasonIORead:
        case waitReasonIOWrite:
            pollwait(gp);
            break;
        case waitReasonIOClose:
            pollclose(gp);
            break;
        case waitReasonFileIO:
            fsstart(gp);
            break;
        default:
            throw("netpoll: G submitted with an unknown wait reason");
        }
    }
    flush();
}

static void *loopmain(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

int netpollinit(void)
{
    struct rlimit rl;
    size_t n = 1 << 20;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < n)
        n = rl.rlim_max;
    /* Untouched pages cost nothing: one byte per possible fd. */
    void *pm = mmap(NULL, n, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (pm != MAP_FAILED) {
        polled = pm;
        npolled = n;
    }
    sysmonfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (sysmonfd < 0) {
        int e = errno;
        print("goro: cannot create sysmon's timer: %s\n", strerror(e));
        return -e;
    }
    int err = uv_loop_init(&loop);
    if (err == 0)
        err = uv_async_init(&loop, &wakeup, wakeup_cb);
    if (err == 0)
        err = uv_poll_init(&loop, &sysmonpoll, sysmonfd);
    if (err == 0)
        err = uv_poll_start(&sysmonpoll, UV_READABLE, sysmon_cb);
    if (err == 0)
        err = uv_timer_init(&loop, &timer);
    if (err == 0)
        err = uv_timer_init(&loop, &scantimer);
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

void netpollshutdown(void)
{
    if (!running)
        return;
    atomic_store(&stopping, true);
    uv_async_send(&wakeup);
    pthread_join(loopthread, NULL);
    uv_loop_close(&loop);
    close(sysmonfd);
    sysmonfd = -1;
    if (polled != NULL)
        munmap((void *)polled, npolled);
    polled = NULL;
    npolled = 0;
    running = false;
}

/* netpoll_sysmonwake restarts sysmon after it stopped (every P idle).
 * Any thread. */
void netpoll_sysmonwake(void)
{
    atomic_store(&sysmonkick, true);
    uv_async_send(&wakeup);
}

/* netpoll_submit hands gp (Gwaiting) to the loop thread. Any thread. */
void netpoll_submit(g *gp)
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

bool netpoll_polled(int fd)
{
    if (fd < 0)
        return false;
    if ((size_t)fd >= npolled)
        return true;
    return atomic_load_explicit(&polled[fd], memory_order_relaxed) != 0;
}

void netpoll_setpolled(int fd, bool on)
{
    if (fd >= 0 && (size_t)fd < npolled &&
        atomic_load_explicit(&polled[fd], memory_order_relaxed) != on)
        atomic_store_explicit(&polled[fd], on, memory_order_relaxed);
}

/* ---- file I/O (G side) ------------------------------------------------------- */

static bool fscommit(g *gp, void *arg)
{
    (void)arg;
    netpoll_submit(gp);
    return true;
}

long netpoll_fileio(bool write, int fd, void *buf, size_t len, int64_t off)
{
    fsreq r;
    memclr_nolibc(&r, sizeof r);
    r.buf.base = buf;
    r.buf.len = len;
    r.fd = fd;
    r.write = write;
    r.off = off;
    r.gp = getg();
    r.gp->param = &r;
    gopark(fscommit, NULL, waitReasonFileIO);
    getg()->param = NULL;
    return r.result;
}
