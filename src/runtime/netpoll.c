/*
 * netpoll.c - the runtime's libuv loop thread: timers now, I/O readiness
 * and file operations as they come.
 *
 * One thread runs a libuv loop for the whole runtime. Ms never call into the
 * loop (libuv loops are not thread-safe); they hand it work through a
 * lock-free list and uv_async_send, which coalesces: the async callback
 * drains the whole list each time. The loop's callbacks make the waiting Gs
 * runnable (injectglist: onto the global run queue, starting idle Ms).
 *
 * Timers: sleeping Gs sit in a binary min-heap ordered by wake time
 * (nanoseconds, CLOCK_MONOTONIC); a single uv_timer_t is armed for the
 * earliest. libuv counts in milliseconds and may fire up to 1 ms before a
 * deadline that does not fall on a millisecond, so the callback wakes only
 * the Gs whose time has come and re-arms for the rest: nobody wakes early,
 * and the heap keeps wake order.
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
 * (the P would be lost to the sleep).
 */
#include <jemalloc/jemalloc.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
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

/* Gs whose timers are to be added: a Treiber stack through g->schedlink,
 * pushed by Ms, taken whole by the loop. */
static g *_Atomic pendingtimers;

/* The timer heap. Loop thread only. */
static g **heap;
static size_t heaplen, heapcap;

static void heapup(size_t i)
{
    g *x = heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap[parent]->waketime <= x->waketime)
            break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = x;
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
        heap[i] = heap[c];
        i = c;
    }
    heap[i] = x;
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
}

static g *heappop(void)
{
    g *top = heap[0];
    heap[0] = heap[--heaplen];
    if (heaplen > 0)
        heapdown(0);
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

static void timer_cb(uv_timer_t *t)
{
    (void)t;
    int64_t now = nanotime();
    g *head = NULL, **tailp = &head;
    while (heaplen > 0 && heap[0]->waketime <= now) {
        g *gp = heappop();
        *tailp = gp;
        tailp = &gp->schedlink;
    }
    *tailp = NULL;
    injectglist(head);
    armtimer();
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

static void wakeup_cb(uv_async_t *a)
{
    (void)a;
    if (atomic_load(&stopping)) {
        uv_close((uv_handle_t *)&timer, close_cb);
        uv_close((uv_handle_t *)&scantimer, close_cb);
        uv_close((uv_handle_t *)&sysmonpoll, close_cb);
        uv_close((uv_handle_t *)&wakeup, close_cb);
        return;
    }
    if (atomic_exchange(&sysmonkick, false))
        sysmon_arm(0);
    g *list = atomic_exchange_explicit(&pendingtimers, NULL,
                                       memory_order_acquire);
    bool any = false;
    while (list != NULL) {
        g *next = list->schedlink;
        heappush(list);
        list = next;
        any = true;
    }
    if (any)
        armtimer();
}

static void *loopmain(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

int netpollinit(void)
{
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
    running = false;
}

/* netpoll_sysmonwake restarts sysmon after it stopped (every P idle).
 * Any thread. */
void netpoll_sysmonwake(void)
{
    atomic_store(&sysmonkick, true);
    uv_async_send(&wakeup);
}

/* netpoll_addtimer hands gp (Gwaiting, waketime set) to the loop thread.
 * Any thread. */
void netpoll_addtimer(g *gp)
{
    g *old = atomic_load_explicit(&pendingtimers, memory_order_relaxed);
    do {
        gp->schedlink = old;
    } while (!atomic_compare_exchange_weak_explicit(
        &pendingtimers, &old, gp, memory_order_release,
        memory_order_relaxed));
    uv_async_send(&wakeup);
}
