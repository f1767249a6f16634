/*
 * time.c - the clock, timers and tickers that deliver on channels, the
 * deadline of goro_select_deadline, sleeping (goro_sleep_ns), and the heap
 * of sleeping Gs and fd deadlines (Go's time.go and the runtime half of
 * its time package).
 *
 * A timer is a small record (timer, runtime2.h) in one four-ary min-heap
 * ordered by its wake time (Go's), guarded by one runtime mutex
 * (timerslock); nothing else waits for it: no G, no libuv handle. 1M
 * pending timers cost 1M records and 1M heap slots, nothing more. Any
 * thread adds, deletes and modifies timers under the lock; the runtime's
 * loop thread (loop.c) runs them. It sleeps on a timerfd
 * (CLOCK_MONOTONIC, absolute, nanosecond resolution) that is always set
 * for the heap's earliest time or earlier: a G whose new timer becomes the
 * earliest sets it itself, with an inline system call, under the lock
 * (armedwhen says for when it is set); the loop re-arms it when it is done
 * running what was due. A timer is never run early: the loop compares the
 * clock with each wake time. An idle runtime with no timers makes no
 * system calls.
 *
 * Running a timer calls its f outside the lock, on the loop thread, with
 * the timer in the timerRunning state; several due timers are taken out
 * of the heap under one hold of the lock (a batch) so that a million timers
 * due at once cost a lock hold per 128 of them. A delete or modify of a
 * running timer waits until f has returned (Go's deltimer did the same
 * with timerRunning before Go 1.23): f is short (a send that never blocks,
 * or readying a G), and after the delete returns f can no longer touch
 * what the timer points at. No other lock is held while timerslock is, and
 * f runs with none: a select may take timerslock under its channels'
 * locks, and a channel timer's f takes a channel's lock, without an order
 * to keep between them.
 *
 * What a timer does when it fires is its f:
 *   - a channel timer (goro_timer_new, goro_ticker_new, goro_after) sends
 *     the time on its own channel, capacity 1, without blocking: a value
 *     nobody took yet stays and the new one is dropped (a slow receiver of
 *     a ticker loses ticks, as in Go). The timer, its channel and the
 *     channel's buffer are one allocation. Stop and reset empty the
 *     channel, so a receive after either returns never sees a value of
 *     before (Go 1.23's semantics: C programs cannot rely on a collector
 *     to make the old semantics safe, and these need no draining dance);
 *   - a select's deadline (g->waittimer, one per G, kept like its sudog,
 *     and used by the other waits with a deadline too) wins the select's
 *     selectDone CAS against the channels and readies the G, which then
 *     returns -ETIMEDOUT (through the wait's waitcancel: the path of a
 *     context's cancel too, ctx.c). The select arms it in its park commit,
 *     on g0, while it still holds its channels' locks, and deletes it when
 *     it wakes: it never fires for a later select.
 *
 * A ticker's next time is its last plus a whole number of periods, the
 * first one not in the past: ticks that could not be delivered in time are
 * skipped, and ticks never drift from start + k * period.
 *
 * goro_after(d) gives the calling G one timer of its own (g->after), reset
 * by each call: a program that selects on goro_after in a loop neither
 * frees nor drains anything, and holds one timer per G whatever it does.
 *
 * The heap of Gs: sleeping Gs, and Gs waiting on an fd with a deadline, are
 * handed to the loop thread (loopsubmit) and sit in a second heap, of Gs,
 * that the loop thread alone touches: a binary min-heap ordered by wake time
 * (g->waketime: nanoseconds, CLOCK_MONOTONIC; each G knows its index,
 * g->heapidx, so a G woken by its fd leaves the heap at once); a single
 * uv_timer_t is armed for the earliest. libuv counts in milliseconds and may
 * fire up to 1 ms before a deadline that does not fall on a millisecond, so
 * the callback wakes only the Gs whose time has come and re-arms for the
 * rest: nobody wakes early, and the heap keeps wake order. The G itself is
 * the timer there, and a deadline's protocol with the pollDescs (netpoll.c:
 * netpollwait, netpollunblock) runs on the loop thread. A wait that contexts
 * may end (ctx.c) waits on the G's wait timer instead, so that its end is
 * decided by one CAS.
 *
 * Rejected: a G per timer (the workaround this replaces: 2 KiB of stack
 * and a G per pending timer); a uv_timer_t per timer (150 bytes each, and
 * libuv's handles belong to the loop thread: every add would be a trip
 * there); the loop thread as the only owner of the heap, as of the heap
 * of Gs (stop must say synchronously whether the timer fired); one
 * uv_timer_t for the earliest (libuv rounds to milliseconds); per-P heaps
 * as Go's (timers would run only when their P looks: the firing costs
 * would move into the scheduler's loop, a change far larger than this);
 * sleeps and fd deadlines on timer records, in one heap with the timers
 * (the G is already the record, and the deadlines' protocol with the
 * pollDescs lives on the loop thread: it would change the netpoller for no
 * gain). For the heap of Gs: a uv_timer_t per sleeping G (150 bytes per G
 * and a libuv heap operation per sleep, for no better precision); sleeping
 * on the M itself (the P would be lost to the sleep).
 */
#include <jemalloc/jemalloc.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include "runtime2.h"

typedef struct timer timer;

enum {
    timerNone = 0,     /* in no heap, not running */
    timerWaiting,      /* in the heap (heapidx != 0) */
    timerRunning,      /* taken out by the loop thread; f is running */
};

/* One slot of the heap: the wake time beside the timer, so that sifting
 * reads no timer. */
typedef struct timerslot {
    int64_t when;
    timer  *t;
} timerslot;

static mutex timerslock;       /* the heap, every timer's when, period,
                                  heapidx and status, armedwhen */
static timerslot *theap;
static uint32_t theaplen, theapcap;
static _Atomic uint32_t ntimers; /* theaplen, for checkdead (any thread) */
/* The time the timerfd is set for: INT64_MAX when it is not; INT64_MIN
 * while the loop runs timers (it arms it when it is done, so nobody else
 * need). */
static int64_t armedwhen = INT64_MAX;
static int timefd = -1;
static uv_poll_t timepoll;     /* the loop's watch on timefd */

/* ---- the clock ------------------------------------------------------------ */

static uintptr_t nanotime_sys(void *arg)
{
    (void)arg;
    return (uintptr_t)nanotime();
}

int64_t goro_now(void)
{
    /* clock_gettime is libc (the vDSO): on g0, so that a G calling this
     * needs no more stack than it has. */
    return (int64_t)systemstack(nanotime_sys, NULL);
}

/* ---- the heap (timerslock held) ------------------------------------------ */

static inline void slotset(uint32_t i, timerslot s)
{
    theap[i] = s;
    s.t->heapidx = i + 1;
}

static void siftup(uint32_t i)
{
    timerslot x = theap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (theap[parent].when <= x.when)
            break;
        slotset(i, theap[parent]);
        i = parent;
    }
    slotset(i, x);
}

static void siftdown(uint32_t i)
{
    timerslot x = theap[i];
    for (;;) {
        uint32_t c = 4 * i + 1;
        if (c >= theaplen)
            break;
        uint32_t best = c;
        uint32_t end = c + 4 < theaplen ? c + 4 : theaplen;
        for (uint32_t k = c + 1; k < end; k++)
            if (theap[k].when < theap[best].when)
                best = k;
        if (x.when <= theap[best].when)
            break;
        slotset(i, theap[best]);
        i = best;
    }
    slotset(i, x);
}

static uintptr_t heapgrow_sys(void *arg)
{
    uint32_t ncap = (uint32_t)(uintptr_t)arg;
    void *n = theap ? rallocx(theap, (size_t)ncap * sizeof *theap, 0)
                    : mallocx((size_t)ncap * sizeof *theap, 0);
    return (uintptr_t)n;
}

/* timerarm sets the timerfd for when (absolute). An inline system call:
 * usable on a G's stack. */
static void timerarm(int64_t when)
{
    if (when < 1)
        when = 1;  /* zero would disarm it */
    struct itimerspec its = {
        .it_value = {.tv_sec = when / 1000000000,
                     .tv_nsec = when % 1000000000},
    };
    rawsyscall6(SYS_timerfd_settime, timefd, TFD_TIMER_ABSTIME,
                (long)(uintptr_t)&its, 0, 0, 0);
    armedwhen = when;
}

/* heapadd puts t in the heap at when. */
static void heapadd(timer *t, int64_t when)
{
    if (theaplen == theapcap) {
        uint32_t ncap = theapcap ? theapcap * 2 : 64;
        timerslot *n = (timerslot *)systemstack(heapgrow_sys,
                                                (void *)(uintptr_t)ncap);
        if (n == NULL)
            throw("out of memory (timer heap)");
        theap = n;
        theapcap = ncap;
    }
    t->when = when;
    t->status = timerWaiting;
    theap[theaplen] = (timerslot){when, t};
    siftup(theaplen++);
    atomic_store_explicit(&ntimers, theaplen, memory_order_relaxed);
    if (when < armedwhen && armedwhen != INT64_MIN)
        timerarm(when);
}

/* heapdel takes t, which is in the heap, out of it. The timerfd may stay
 * set for it: it then fires for nothing, and the loop re-arms it. */
static void heapdel(timer *t)
{
    uint32_t i = t->heapidx - 1;
    t->heapidx = 0;
    t->status = timerNone;
    theaplen--;
    atomic_store_explicit(&ntimers, theaplen, memory_order_relaxed);
    if (i == theaplen)
        return;
    slotset(i, theap[theaplen]);
    if (i > 0 && theap[(i - 1) / 4].when > theap[i].when)
        siftup(i);
    else
        siftdown(i);
}

/* waitrunning returns with timerslock held and t not running: a delete or
 * modify of a timer that the loop is running waits for its f to return. */
static void waitrunning(timer *t)
{
    while (t->status == timerRunning) {
        unlock(&timerslock);
        osyield();
        lock(&timerslock);
    }
}

/* ---- the internal interface (runtime2.h) ---------------------------------- */

bool timeradd(timer *t, int64_t when)
{
    lock(&timerslock);
    waitrunning(t);
    bool was = t->status == timerWaiting;
    if (was)
        heapdel(t);
    heapadd(t, when);
    unlock(&timerslock);
    return was;
}

bool timerdel(timer *t)
{
    lock(&timerslock);
    waitrunning(t);
    bool was = t->status == timerWaiting;
    if (was)
        heapdel(t);
    unlock(&timerslock);
    return was;
}

bool timerspending(void)
{
    return atomic_load_explicit(&ntimers, memory_order_relaxed) != 0;
}

uint32_t timerscount(void)
{
    return atomic_load_explicit(&ntimers, memory_order_relaxed);
}

/* ---- the heap of Gs: sleeps and fd deadlines (loop thread) -------------- */

static uv_timer_t gheaptimer;   /* armed for the heap's earliest */
static bool gheapdirty;         /* the heap's top may have changed */

/* The heap of Gs. Loop thread only. */
static g **gheap;
static size_t gheaplen, gheapcap;

/* gheapset puts x at i; g->heapidx is i + 1 (0: not in the heap). */
static inline void gheapset(size_t i, g *x)
{
    gheap[i] = x;
    x->heapidx = (uint32_t)(i + 1);
}

static void gheapup(size_t i)
{
    g *x = gheap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (gheap[parent]->waketime <= x->waketime)
            break;
        gheapset(i, gheap[parent]);
        i = parent;
    }
    gheapset(i, x);
}

static void gheapdown(size_t i)
{
    g *x = gheap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= gheaplen)
            break;
        if (c + 1 < gheaplen && gheap[c + 1]->waketime < gheap[c]->waketime)
            c++;
        if (x->waketime <= gheap[c]->waketime)
            break;
        gheapset(i, gheap[c]);
        i = c;
    }
    gheapset(i, x);
}

void gheappush(g *gp)
{
    if (gheaplen == gheapcap) {
        size_t ncap = gheapcap ? gheapcap * 2 : 256;
        g **n = gheap ? rallocx(gheap, ncap * sizeof *n, 0)
                      : mallocx(ncap * sizeof *n, 0);
        if (n == NULL)
            throw("out of memory (timer heap)");
        gheap = n;
        gheapcap = ncap;
    }
    gheap[gheaplen++] = gp;
    gheapup(gheaplen - 1);
    if (gheap[0] == gp)
        gheapdirty = true;
}

/* gheapdelete takes gp, which is in the heap, out of it. */
void gheapdelete(g *gp)
{
    size_t i = gp->heapidx - 1;
    gp->heapidx = 0;
    g *last = gheap[--gheaplen];
    if (i == 0)
        gheapdirty = true;
    if (i == gheaplen)
        return;
    gheapset(i, last);
    if (i > 0 && gheap[(i - 1) / 2]->waketime > last->waketime)
        gheapup(i);
    else
        gheapdown(i);
}

static g *gheappop(void)
{
    g *top = gheap[0];
    gheapdelete(top);
    return top;
}

static void gheaptimer_cb(uv_timer_t *t);

/* gheaparm arms the uv timer for the earliest wake time, rounded up to a
 * whole millisecond. */
static void gheaparm(void)
{
    if (gheaplen == 0) {
        uv_timer_stop(&gheaptimer);
        return;
    }
    int64_t d = gheap[0]->waketime - nanotime();
    uint64_t ms = d <= 0 ? 0 : (uint64_t)((d + 999999) / 1000000);
    uv_update_time(loopuv());
    uv_timer_start(&gheaptimer, gheaptimer_cb, ms, 0);
}

static void gheaptimer_cb(uv_timer_t *t)
{
    (void)t;
    int64_t now = nanotime();
    while (gheaplen > 0 && gheap[0]->waketime <= now) {
        g *gp = gheappop();
        if (waitReasonIO(gp->waitreason)) {
            /* A deadline: the G leaves its fd's wait list, unless an M's
             * netpoll (or a close) took it first: then it is on its way
             * here through pendready, with its waitres. */
            if (netpollunblock(gp))
                loopready(gp, -ETIMEDOUT);
        } else {
            loopready(gp, 0);
        }
    }
    gheapdirty = true;
    loopflush();
}

void gheapsync(void)
{
    if (gheapdirty) {
        gheapdirty = false;
        gheaparm();
    }
}

/* ---- the loop thread ------------------------------------------------------ */

enum { timerBatch = 128 };

/* Set while the loop thread runs timers' fs: a context's deadline cancels
 * its descendants, and must not wait for their timers (ctx.c). */
static __thread bool inf;

bool timerinf(void)
{
    return inf;
}

/* runtimers runs every timer that is due, then sets the timerfd for the
 * earliest one left. Loop thread. */
static void runtimers(void)
{
    timer *batch[timerBatch];
    lock(&timerslock);
    armedwhen = INT64_MIN;
    for (;;) {
        int64_t now = nanotime();
        int n = 0;
        while (n < timerBatch && theaplen > 0 && theap[0].when <= now) {
            timer *t = theap[0].t;
            heapdel(t);
            t->status = timerRunning;
            batch[n++] = t;
        }
        if (n == 0)
            break;
        unlock(&timerslock);
        inf = true;
        for (int i = 0; i < n; i++)
            batch[i]->f(batch[i], now);
        inf = false;
        lock(&timerslock);
        for (int i = 0; i < n; i++) {
            timer *t = batch[i];
            if (t->period > 0) {
                /* The next tick not in the past: late ticks are skipped,
                 * and the ticks stay on start + k * period. */
                int64_t next = t->when + t->period;
                if (next <= now)
                    next += (now - next) / t->period * t->period +
                            t->period;
                heapadd(t, next);
            } else {
                t->status = timerNone;
            }
        }
    }
    armedwhen = INT64_MAX;
    if (theaplen > 0)
        timerarm(theap[0].when);
    unlock(&timerslock);
}

static void timepoll_cb(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)status;
    (void)events;
    uint64_t expirations;
    if (read(timefd, &expirations, sizeof expirations) < 0 &&
        errno != EAGAIN)
        return;
    runtimers();
}

int timeinit(struct uv_loop_s *loop)
{
    int err = uv_timer_init(loop, &gheaptimer);
    if (err != 0)
        return err;
    timefd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timefd < 0) {
        int e = errno;
        print("goro: cannot create the timers' timerfd: errno %d\n", e);
        return -e;
    }
    err = uv_poll_init(loop, &timepoll, timefd);
    if (err == 0)
        err = uv_poll_start(&timepoll, UV_READABLE, timepoll_cb);
    return err;
}

static void timeclose_cb(uv_handle_t *h)
{
    (void)h;
    close(timefd);
    timefd = -1;
}

void timeclose(void)
{
    /* The runtime is ending: timers still pending never fire, Gs left in
     * the heap of Gs stay parked. */
    uv_close((uv_handle_t *)&gheaptimer, NULL);
    uv_close((uv_handle_t *)&timepoll, timeclose_cb);
    lock(&timerslock);
    for (uint32_t i = 0; i < theaplen; i++) {
        theap[i].t->heapidx = 0;
        theap[i].t->status = timerNone;
    }
    theaplen = 0;
    atomic_store(&ntimers, 0);
    armedwhen = INT64_MAX;
    unlock(&timerslock);
}

/* ---- timers and tickers on channels --------------------------------------- */

/* A channel timer: the timer, then its channel, then the channel's buffer
 * of one int64_t, in one allocation: 40 + 112 + 8 bytes, jemalloc's
 * 160-byte class (a pointer more would cost 32 bytes). */
struct goro_timer {
    timer t;
};

static inline goro_chan *tchan(goro_timer *ct)
{
    return (goro_chan *)(ct + 1);
}

/* sendtime is a channel timer's f: the time, without blocking. */
static void sendtime(timer *t, int64_t now)
{
    chansendnb(tchan((goro_timer *)t), &now);
}

static goro_timer *chantimer_new(void)
{
    goro_timer *ct = zalloc(sizeof *ct + chansize(sizeof(int64_t), 1));
    if (ct == NULL)
        return NULL;
    chaninit(tchan(ct), sizeof(int64_t), 1);
    ct->t.f = sendtime;
    ct->t.arg = ct;
    return ct;
}

/* timersup: the runtime's loop runs (timers need it). */
static bool timersup(void)
{
    return timefd >= 0;
}

goro_timer *goro_timer_new(int64_t d)
{
    if (!timersup()) {
        errno = EPERM;
        return NULL;
    }
    goro_timer *ct = chantimer_new();
    if (ct == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    timeradd(&ct->t, goro_now() + (d > 0 ? d : 0));
    return ct;
}

goro_chan *goro_timer_chan(goro_timer *t)
{
    return t ? tchan(t) : NULL;
}

/* chantimer_stop takes t out of the heap and empties its channel: true if
 * that kept a firing from the program (it was pending, or its value had
 * not been received). */
static bool chantimer_stop(goro_timer *t)
{
    bool was = timerdel(&t->t);
    int64_t v;
    if (chanrecvnb(tchan(t), &v))
        was = true;
    return was;
}

int goro_timer_stop(goro_timer *t)
{
    if (t == NULL)
        return -EINVAL;
    return chantimer_stop(t) ? 1 : 0;
}

int goro_timer_reset(goro_timer *t, int64_t d)
{
    if (t == NULL)
        return -EINVAL;
    bool was = chantimer_stop(t);
    timeradd(&t->t, goro_now() + (d > 0 ? d : 0));
    return was ? 1 : 0;
}

void goro_timer_free(goro_timer *t)
{
    if (t == NULL)
        return;
    timerdel(&t->t);
    chanfreecheck(tchan(t));
    zfree(t);
}

goro_ticker *goro_ticker_new(int64_t period)
{
    if (period <= 0) {
        errno = EINVAL;
        return NULL;
    }
    if (!timersup()) {
        errno = EPERM;
        return NULL;
    }
    goro_timer *ct = chantimer_new();
    if (ct == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    ct->t.period = period;
    timeradd(&ct->t, goro_now() + period);
    return (goro_ticker *)ct;
}

goro_chan *goro_ticker_chan(goro_ticker *tk)
{
    return tk ? tchan((goro_timer *)tk) : NULL;
}

void goro_ticker_stop(goro_ticker *tk)
{
    if (tk != NULL)
        chantimer_stop((goro_timer *)tk);
}

int goro_ticker_reset(goro_ticker *tk, int64_t period)
{
    if (tk == NULL || period <= 0)
        return -EINVAL;
    goro_timer *ct = (goro_timer *)tk;
    chantimer_stop(ct);
    lock(&timerslock);
    ct->t.period = period;  /* not running nor in the heap: ours */
    unlock(&timerslock);
    timeradd(&ct->t, goro_now() + period);
    return 0;
}

void goro_ticker_free(goro_ticker *tk)
{
    goro_timer_free((goro_timer *)tk);
}

goro_chan *goro_after(int64_t d)
{
    g *gp = getg();
    if (!onG(gp)) {
        errno = EPERM;
        return NULL;
    }
    if (gp->after == NULL) {
        if (!timersup()) {
            errno = EPERM;
            return NULL;
        }
        gp->after = chantimer_new();
        if (gp->after == NULL) {
            errno = ENOMEM;
            return NULL;
        }
    }
    goro_timer_reset(gp->after, d);
    return tchan(gp->after);
}

/* ---- a G's timers --------------------------------------------------------- */

timer *gtimer(g *gp, void (*f)(timer *t, int64_t now), void *arg)
{
    timer *t = gp->waittimer;
    if (t == NULL) {
        t = zalloc(sizeof *t);
        if (t == NULL)
            throw("out of memory (a G's wait timer)");
        gp->waittimer = t;
    }
    /* Neither pending nor running: the G's last wait deleted it. */
    t->f = f;
    t->arg = arg;
    return t;
}

void timegexit(g *gp)
{
    /* Its goro_after must not fire for a dead G (nor keep checkdead from
     * seeing a deadlock). The wait timer is never left pending. */
    if (gp->after != NULL && timersup())
        chantimer_stop(gp->after);
}

void timegfree(g *gp)
{
    if (gp->waittimer != NULL) {
        dallocx(gp->waittimer, 0);
        gp->waittimer = NULL;
    }
    if (gp->after != NULL) {
        dallocx(gp->after, 0);
        gp->after = NULL;
    }
}

/* ---- sleep -------------------------------------------------------------------- */

/* sleepcommit runs on g0 once the G is Gwaiting: the wake time is taken
 * from the clock here (a libc call) and the G handed to the timer heap. */
static bool sleepcommit(g *gp, void *ns)
{
    gp->waketime = nanotime() + (int64_t)(intptr_t)ns;
    loopsubmit(gp);
    return true;
}

/* A sleep that contexts may end waits on the G's wait timer (gtimer)
 * rather than the heap of Gs, so that its end is decided by one CAS
 * (selectDone, as a select's) between the timer and the contexts. */
static void sleepdone(struct timer *t, int64_t now)
{
    (void)now;
    selcancel(t->arg, 0);
}

static bool sleepctxcommit(g *gp, void *arg)
{
    timeradd(gp->waittimer, *(int64_t *)arg);
    int err = gp->nwaitctx != 0 ? waitctxarm(gp) : 0;
    if (err != 0)
        waitctxfire(gp, err);
    return true;
}

static int sleepctx(int64_t ns)
{
    g *gp = getg();
    gp->waitres2 = 0;
    int err = waitctxbegin(gp, true, selcancel);
    if (err != 0)
        return err;
    if (gp->nwaitctx == 0 || ns <= 0) {
        waitctxend(gp);
        goro_sleep_ns(ns);
        return 0;
    }
    gtimer(gp, sleepdone, gp);
    atomic_store(&gp->selectDone, 0);
    int64_t when = goro_now() + ns;
    gopark(sleepctxcommit, &when, waitReasonSleep);
    timerdel(gp->waittimer);
    waitctxend(gp);
    return gp->waitres2;
}

void goro_sleep_ns(int64_t ns)
{
    g *gp = getg();
    if (!onG(gp))
        return;
    if (ns <= 0) {
        goro_yield();
        return;
    }
    if (gp->group != NULL && gp->callctx == NULL) {
        /* Its group's cancel ends it (ctx.c). */
        gp->callctx = gp->group->ctx;
        sleepctx(ns);
        gp->callctx = NULL;
        return;
    }
    gopark(sleepcommit, (void *)(intptr_t)ns, waitReasonSleep);
}

int goro_sleep_ctx(goro_ctx *ctx, int64_t ns)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    gp->callctx = ctx;
    int err = sleepctx(ns);
    gp->callctx = NULL;
    return err;
}
