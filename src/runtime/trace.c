/*
 * trace.c - the execution trace (Go's trace.go): what the scheduler did,
 * G by G and P by P, written as a file that Perfetto (ui.perfetto.dev) and
 * chrome://tracing open.
 *
 * What is recorded: a G's creation, start, stop (yield, preemption, park
 * with its wait reason, exit), unpark (by which G; a netpoll wake names the
 * fd), system call enter and exit; a P stealing a G; a preemption, at a
 * function call (sync) or by the signal (async); a stack grown or shrunk,
 * with both sizes. Each event is a few words (traceev) appended to a buffer
 * of the P that records it: the M holding a P is the only writer of its
 * buffer, so recording takes no lock and makes no call (a full buffer is
 * swapped on g0). Events recorded without a P (the loop thread's wakes, a
 * stack scan, a G back from a system call whose P was taken) go to one
 * global buffer under a lock.
 *
 * Cost when off: every hook (trace.h) is a load of traceon and a branch
 * not taken; the recording function is out of line. When on: a
 * read of the time-stamp counter (cputicks: no call, so hooks on a G's
 * stack stay leaves) and a few plain stores (no lock, no fence); a thread
 * of its own turns full buffers into text and writes them
 * to the trace's fd, so the program's threads never format or write.
 *
 * One record a hand-over: a switch is two events a moment apart, a stop
 * and a start; recorded as one they take one call's checks, one record and
 * one clock read fewer (bench/RESULTS.md has what each part costs). When
 * a G stops and hands the P on (GoSched, GoPreempt, GoPark, GoEnd) and
 * schedule_next's fast path starts the next G from the P's own queue at
 * once, the start is written into the stop's record (a, b: trace.h) and
 * shown at the stop's time: what lies between is the switch itself,
 * some dozens of instructions that wait for nothing, shown as part of the
 * started G's run. The stop is published first (once it is, another M
 * may take the stopped G); the start joins it only while it is still the
 * P's last event, so nothing recorded between can be shown out of order.
 * Any other start (from schedule, after a steal or a wait for work) reads
 * the clock. And the unpark that made a G runnable, when a running G made
 * it (goready: every channel hand-over), is no record of its own: its time
 * (a clock read at the goready) and its waker are kept in the G
 * (g->traceunpark), and the G's start, wherever it happens, writes them
 * into its own record (traceFlagUnpark). That saves a call and a record
 * per hand-over. The clock read comes after goready's compare-and-swap
 * of the G's status, which would otherwise wait for it (3 ns a hand-over
 * on one P). On several Ps goready queues the G before that CAS, so it
 * marks the G first and reads the clock after; a thief that starts the G
 * in between waits for the time (unparkwait). Rejected: an unpark by a
 * running G without a clock read, shown at the time of the P's previous
 * event or of its next. Either is off by the part of the waker's run before or after
 * the goready, which nothing bounds: taken from the previous event, a G
 * that computed 6 ms and then woke the main G showed the main G runnable
 * for those 6 ms (traceprog's spinner and its wait group, 2 Ps); taken
 * from the next, the unpark can fall after the woken G's start on another
 * P. An unpark keeps its clock read. Rejected too: keeping a P's stop and
 * unpark in its slot until the start that follows (one write of a whole
 * record instead of a record joined later): the slot's bookkeeping cost
 * as much as it saved, and the stopper must then read those pending
 * events too, or a G whose stop was still pending on one P showed its
 * next start on another without it.
 *
 * The format: the Trace Event Format's JSON array ("JSON Array Format" of
 * the Chrome tracing documentation), which Perfetto, chrome://tracing and
 * Catapult load; being an array, a file cut short by a crash still loads
 * (the format allows the closing bracket to be missing). Two processes:
 * "Ps" with a track per P, on which each run of a G is a slice named
 * after it, and "Gs" with a track per G (named "G17 fn"), on which its
 * states follow each other as slices: runnable, running, syscall, or the
 * wait reason ("chan receive", "sleep", "IO wait (read)", ...), with
 * instant events for creation, preemptions, stack changes and netpoll
 * wakes. Every event carries what a script needs to check it ("args").
 * Each event is written at once from what it holds: the state a G leaves
 * is implied by the event, and when it began is kept in the G
 * (g->tracetick), so the writer needs no state across buffers and the
 * buffers of different Ps may be written in any order (the viewers sort).
 * Rejected: Perfetto's protobuf format (TracePacket, track descriptors):
 * denser and faster to load, but it needs protobuf encoding in the
 * runtime or a generated library, and Debian ships no Perfetto tool that
 * could check it (trace_processor is not packaged); JSON is checked by any
 * JSON parser and read by people. Go's own binary format: only `go tool
 * trace` reads it. Formatting in the recording thread: it costs more than
 * the event.
 *
 * Time: cputicks() at each event (a start that joins a stop: the stop's),
 * turned into nanoseconds since the start of the trace by one rate for the
 * whole file (measured by the writer over the first millisecond, or over
 * the whole trace if it is shorter: the events of that time wait for it,
 * each buffer of them fresh memory, so a longer measurement costs page
 * faults), so that the slices of a G that end and begin on the same tick
 * still meet exactly.
 * Relies on a constant, synchronized TSC (every x86-64 Linux of the last
 * decade; the kernel's "tsc" clocksource).
 *
 * Stopping without stopping the world: a buffer's position word holds
 * the trace's number (trace.gen) and its count of events, stored with
 * release by the one M that records into it after each event. The
 * stopper clears traceon and, without waiting for anyone, copies from
 * each P's buffer the events its position word says are complete; a hook
 * that saw traceon just before may still finish an event there, which is
 * after the stop and so left out. The slots and their buffers are never
 * taken from their Ps: the next trace's number makes what they hold count
 * as empty, so only the P's own M ever resets or swaps them, and a
 * recording needs no fence. The global buffer is handled under its lock.
 *
 * When the writer falls behind (the fd is slow), full buffers queue up to
 * traceMaxQueued bytes; beyond that a full buffer is emptied in place and
 * its events are counted as lost; the trace then ends with an event that
 * says how many.
 *
 * Limits: a state that is still current when the trace stops (a G running
 * or waiting then) has no slice, nor has the wait of a G that a running G
 * had made runnable but that had not started yet; a G that existed before
 * the trace started
 * shows its first state from the start of the trace and is named "G17"
 * until it is seen created.
 */
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <jemalloc/jemalloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime2.h"
#include "trace.h"

HIDDEN _Atomic bool traceon;

/* One event (64 bytes). ticks: cputicks() when it happened; since: when
 * the state the event ends began (g->tracetick, 0 if unknown); goid, a,
 * b: per type (trace.h); reason: a GoPark's wait reason, stored with the
 * type as one word (kind). The P that recorded it is its buffer's
 * (tracebuf.pid). A stop that hands the P on may gain its successor (a,
 * the rest, then b: release) after it is published, while it is its P's
 * last event (tracestart).
 *
 * With traceFlagUnpark in flags, a start carries the unpark that made its
 * G runnable (g->traceunpark): a GoStart's G at since, a stop's successor
 * at a; by the G uby, ending a wait that began at usince, for the reason
 * ureason (and fd ufd: an I/O wait). */
typedef struct traceev {
    uint64_t ticks;
    uint64_t since;
    int64_t  goid;
    uint64_t a, b;
    union {
        struct { uint8_t type, reason, ureason, flags; };
        uint32_t kind;
    };
    int32_t  ufd;
    uint64_t usince;
    int64_t  uby;
} traceev;

enum { traceFlagUnpark = 1 };

static inline uint32_t kindof(uint8_t type, uint8_t reason)
{
    return (uint32_t)type | (uint32_t)reason << 8;
}

#define traceBufEvents  1024            /* 64 KiB a buffer */
#define traceMaxQueued  (64u << 20)     /* bytes of full buffers waiting */
#define traceWakeQueued (8 * sizeof(tracebuf)) /* the writer's wake-up */
#define traceCalibrateNs 1000000        /* the tick rate's measurement */
#define tracePollNs     10000000        /* the writer's look at the queue */

/* A buffer of events. pos: the trace it belongs to (trace.gen) << 32 |
 * the events in ev; stored (release) by its one writer after each event,
 * read (acquire) by a stopper: ev[0, n) are complete. A pos of another
 * trace means empty. */
typedef struct tracebuf {
    struct tracebuf *next;              /* on the full or free list */
    _Atomic uint64_t pos;
    int32_t  pid;                       /* the P it records, -1: global;
                                           set when it is given out */
    traceev  ev[traceBufEvents];
} tracebuf;

/* A P's recording slot. buf: only the M holding the P records into it or
 * swaps it (on g0, under trace.lock); the stopper reads it under
 * trace.lock. */
typedef struct tracepslot {
    tracebuf *buf;
} __attribute__((aligned(64))) tracepslot;

static uint32_t bufn(tracebuf *b, uint32_t gen)
{
    uint64_t pos = atomic_load_explicit(&b->pos, memory_order_acquire);
    return (uint32_t)(pos >> 32) == gen ? (uint32_t)pos : 0;
}

/* Trace states: traceOff -> traceOn (goro_trace_start) -> traceStopping
 * (goro_trace_stop, until the writer is joined) -> traceOff. */
enum { traceOff = 0, traceOn = 1, traceStopping = 2 };

static struct {
    _Atomic int state;
    tracepslot *slots;          /* gomaxprocs of them, allocated by the
                                   first trace, never freed (freebufs_sys) */
    int32_t nslots;
    mutex lock;                 /* everything below */
    tracebuf *global;           /* the buffer of events without a P */
    tracebuf *fullhead, *fulltail; /* for the writer, FIFO */
    tracebuf *freelist;
    uint64_t queued;            /* bytes on the full list */
    uint64_t lost;              /* events dropped (traceMaxQueued) */
    bool     done;              /* stop: no buffer will be added */
    uint32_t gen;               /* this trace's number (tracebuf.pos) */
    uint64_t genbase;           /* gen << 32: the least position word of
                                   this trace (set with gen) */
    _Atomic uint32_t wake;      /* the futex the writer sleeps on */
    /* Set by start, read by the writer. */
    int      fd;
    bool     closefd;           /* GORO_TRACE: the runtime opened fd */
    uint64_t tick0;             /* cputicks() and nanotime() at start */
    int64_t  ns0;
    pthread_t writer;
    int      err;               /* the writer's first write error */
} trace;

/* ---- recording ------------------------------------------------------------ */

static tracebuf *bufget(int32_t pid)
{
    tracebuf *b = trace.freelist;
    if (b != NULL)
        trace.freelist = b->next;
    else
        b = mallocx(sizeof *b, 0);
    if (b != NULL) {
        b->next = NULL;
        b->pid = pid;
        atomic_store_explicit(&b->pos, (uint64_t)trace.gen << 32,
                              memory_order_relaxed);
    }
    return b;
}

/* bufqueue hands a full buffer to the writer and returns an empty one: a
 * new one, or b itself (its events lost) when too many wait or memory is
 * short. trace.lock held; on g0 or a thread that is not a G. */
static tracebuf *bufqueue(tracebuf *b)
{
    tracebuf *nb = NULL;
    if (trace.queued + sizeof *b <= traceMaxQueued)
        nb = bufget(b->pid);
    if (nb == NULL) {
        trace.lost += bufn(b, trace.gen);
        atomic_store_explicit(&b->pos, (uint64_t)trace.gen << 32,
                              memory_order_relaxed);
        return b;
    }
    if (trace.fulltail != NULL)
        trace.fulltail->next = b;
    else
        trace.fullhead = b;
    trace.fulltail = b;
    trace.queued += sizeof *b;
    /* The writer looks every tracePollNs anyway and empties the
     * queue each time it wakes: woken only as the queue grows past
     * traceWakeQueued, it costs a futex call and a thread switch per that
     * many buffers instead of per buffer. */
    if (trace.queued >= traceWakeQueued &&
        trace.queued - sizeof *b < traceWakeQueued) {
        atomic_fetch_add_explicit(&trace.wake, 1, memory_order_release);
        futexwakeup(&trace.wake, 1);
    }
    return nb;
}

static uintptr_t swap_sys(void *arg)
{
    tracepslot *s = arg;
    lock(&trace.lock);
    if (trace.done)   /* a hook that saw traceon just before the stop */
        atomic_store_explicit(&s->buf->pos, (uint64_t)trace.gen << 32,
                              memory_order_relaxed);
    else
        s->buf = bufqueue(s->buf);
    unlock(&trace.lock);
    return 0;
}

/* The events that end a state of their G (since: when it began) and so
 * begin the next (g->tracetick); a GoCreate only begins one. */
#define traceEndsState                                                     \
    (1u << traceEvGoStart | 1u << traceEvGoSched | 1u << traceEvGoPreempt | \
     1u << traceEvGoPark | 1u << traceEvGoEnd | 1u << traceEvGoSysCall |   \
     1u << traceEvGoSysExit | 1u << traceEvGoUnpark)

/* handsover: a stop after which another G may take the P (essay: one
 * record a hand-over). */
static inline bool handsover(uint8_t type)
{
    return type == traceEvGoSched || type == traceEvGoPreempt ||
           type == traceEvGoPark || type == traceEvGoEnd;
}

/* unparkpending: gp's readier has not read the unpark's time yet (trace.h:
 * traceGoReadyEnd; a thief may start gp a moment before): tracestart
 * waits (unparkwait), then g->traceunpark holds it (0: none). */
static inline __attribute__((always_inline)) bool unparkpending(g *gp)
{
    return unlikely(atomic_load_explicit((_Atomic uint64_t *)&gp->traceunpark,
                                         memory_order_acquire) ==
                    traceUnparkPending);
}

/* unparkwait waits until gp's readier has its unpark time. */
static __attribute__((noinline, cold)) void unparkwait(g *gp)
{
    for (int spin = 0; unparkpending(gp); spin++) {
        if (spin < 64)
            __builtin_ia32_pause();
        else
            osyield();
    }
}

/* takeunpark moves the unpark gp carries (g->traceunpark: trace.h,
 * traceGoReady) into its start's record e (traceev: flags), all but its
 * time, which it returns for the caller to place; 0: none, or one kept
 * from an earlier trace (dropped). The caller has waited for a pending
 * one (unparkwait). */
static inline __attribute__((always_inline)) uint64_t takeunpark(traceev *e,
                                                                g *gp)
{
    uint64_t ut = gp->traceunpark;
    if (ut == 0)
        return 0;
    gp->traceunpark = 0;
    if (ut < trace.tick0)
        return 0;
    e->usince = gp->tracetick;
    e->uby = gp->traceunparkby;
    e->ureason = gp->waitreason;
    e->ufd = waitReasonIO(gp->waitreason) ? gp->waitfd : -1;
    e->flags = traceFlagUnpark;
    return ut;
}

/* fill writes event ev of gp (NULL: none) at time now into e, each field
 * once, and moves gp's tracetick to now (the state the event begins). A
 * start also writes the unpark gp may carry (takeunpark). */
static inline __attribute__((always_inline)) void
fill(traceev *e, uint8_t ev, g *gp, uint64_t a, uint64_t b, uint64_t now)
{
    uint64_t since = 0;
    int64_t goid = 0;
    uint8_t reason = 0;
    if (ev == traceEvGoStart) {
        e->flags = 0;
        uint64_t ut = takeunpark(e, gp);
        if (ut != 0)
            gp->tracetick = ut;   /* runnable since its unpark */
    }
    if (gp != NULL) {
        goid = gp->goid;
        if (ev == traceEvGoPark) {
            reason = (uint8_t)a;
            a = 0;
        } else if (ev == traceEvGoUnpark) {
            b = gp->waitreason;
            if (waitReasonIO(gp->waitreason))
                b |= (uint64_t)(uint32_t)gp->waitfd << 8;
        }
        if (traceEndsState & (1u << ev))
            since = gp->tracetick;
        if ((traceEndsState | 1u << traceEvGoCreate) & (1u << ev))
            gp->tracetick = now;
    }
    e->ticks = now;
    e->since = since;
    e->goid = goid;
    if (!handsover(ev))     /* a: the successor's, written with b */
        e->a = a;
    e->b = b;
    if (ev == traceEvGoStart) {
        e->type = ev;
        e->reason = 0;
    } else {
        e->kind = kindof(ev, reason);
    }
}

static uintptr_t global_sys(void *arg)
{
    traceev *ev = arg;
    lock(&trace.lock);
    if (atomic_load(&traceon) && !trace.done) {
        uint32_t n = bufn(trace.global, trace.gen);
        if (n == traceBufEvents) {
            trace.global = bufqueue(trace.global);
            n = 0;
        }
        trace.global->ev[n] = *ev;
        atomic_store_explicit(&trace.global->pos,
                              ((uint64_t)trace.gen << 32) | (n + 1),
                              memory_order_release);
    }
    unlock(&trace.lock);
    return 0;
}

/* pslot: the recording slot of the P this thread holds, NULL if none (or
 * a P the first trace did not know). */
static inline __attribute__((always_inline)) tracepslot *pslot(g *cur)
{
    p *pp = cur != NULL ? cur->m->p : NULL;
    return pp != NULL ? pp->traceslot : NULL;
}

/* evpos: s's position word (tracebuf.pos) for its next event, a past
 * trace's counting as empty. */
static inline __attribute__((always_inline)) uint64_t evpos(tracepslot *s)
{
    uint64_t pos = atomic_load_explicit(&s->buf->pos, memory_order_relaxed);
    return pos < trace.genbase ? trace.genbase : pos;
}

/* record: the common path of every event, inline in each entry point so
 * that the type is a constant there: the P's buffer, no call. The rest
 * (no P, a full buffer) is recordslow's. */
static void recordslow(uint8_t ev, g *gp, uint64_t a, uint64_t b);

static inline __attribute__((always_inline)) void
recordin(tracepslot *s, uint8_t ev, g *gp, uint64_t a, uint64_t b)
{
    uint64_t pos;
    if (unlikely(s == NULL) ||
        unlikely((uint32_t)(pos = evpos(s)) == traceBufEvents)) {
        recordslow(ev, gp, a, b);
        return;
    }
    tracebuf *tb = s->buf;
    fill(&tb->ev[(uint32_t)pos], ev, gp, a, b, cputicks());
    atomic_store_explicit(&tb->pos, pos + 1, memory_order_release);
}

static inline __attribute__((always_inline)) void
record(uint8_t ev, g *gp, uint64_t a, uint64_t b)
{
    /* Acquire: the slots start published before it set traceon. */
    if (!atomic_load_explicit(&traceon, memory_order_acquire))
        return;
    g *cur = getg();
    if (ev == traceEvGoUnpark && cur != NULL && cur->m->curg != NULL)
        a = (uint64_t)cur->m->curg->goid;
    recordin(pslot(cur), ev, gp, a, b);
}

/* recordslow: record's other cases. Without a P: the global buffer under
 * its lock. A full buffer: handed to the writer (on g0), then the event
 * goes to the new one. */
static __attribute__((noinline)) void recordslow(uint8_t ev, g *gp,
                                                 uint64_t a, uint64_t b)
{
    g *cur = getg();
    tracepslot *s = pslot(cur);
    if (s == NULL) {
        traceev e;
        fill(&e, ev, gp, a, b, cputicks());
        systemstack(global_sys, &e);
        return;
    }
    systemstack(swap_sys, s);
    record(ev, gp, a, b);
}

/* traceevent: see trace.h. On a G it makes no call but systemstack (a
 * full buffer, or no P), so the G cannot be preempted or moved meanwhile
 * and its P stays its own. */
void traceevent(uint8_t ev, g *gp, uint64_t a, uint64_t b)
{
    record(ev, gp, a, b);
}

/* On g0 only (park_m, execute): no stack check. */
__attribute__((no_split_stack)) void tracepark(p *pp, g *gp, uint8_t reason)
{
    atomic_thread_fence(memory_order_acquire);   /* with the hook's load */
    recordin(pp->traceslot, traceEvGoPark, gp, reason, 0);
}

void traceunpark(g *gp)
{
    record(traceEvGoUnpark, gp, 0, 0);
}

static void tracestartwait(p *pp, g *gp, bool next);

/* tracestart: see traceGoStart. On g0 with a P. */
__attribute__((no_split_stack)) void tracestart(p *pp, g *gp, bool next)
{
    atomic_thread_fence(memory_order_acquire);   /* with the hook's load */
    if (unparkpending(gp)) {
        tracestartwait(pp, gp, next);
        return;
    }
    tracepslot *s = pp->traceslot;
    if (next) {
        uint32_t n = s != NULL ? (uint32_t)evpos(s) : 0;
        traceev *e = n != 0 ? &s->buf->ev[n - 1] : NULL;
        if (e != NULL && handsover(e->type) && e->b == 0) {
            /* The stop's successor, with the unpark it carries; a stopper
             * copying e meanwhile sees b == 0 (no successor) or all of it
             * (stop_sys). */
            uint64_t ut = takeunpark(e, gp);
            uint64_t a = ut != 0 ? ut : gp->tracetick;
            atomic_store_explicit((_Atomic uint64_t *)&e->a, a,
                                  memory_order_relaxed);
            atomic_store_explicit((_Atomic uint64_t *)&e->b,
                                  (uint64_t)gp->goid, memory_order_release);
            gp->tracetick = e->ticks;
            return;
        }
    }
    recordin(s, traceEvGoStart, gp, 0, 0);
}

static __attribute__((noinline, cold)) void tracestartwait(p *pp, g *gp,
                                                           bool next)
{
    unparkwait(gp);
    tracestart(pp, gp, next);
}

/* ---- the writer ---------------------------------------------------------- */

/* The writer's output: text appended here, written out when large. */
typedef struct wout {
    char  *buf;
    size_t n, cap;
    bool   first;               /* no event written yet: no comma */
    uint64_t q;                 /* ns per tick << 32; 0: not measured */
    uint8_t *named;             /* goids given a track name (bitmap) */
    size_t  namedbits;
    Dwfl   *dwfl;               /* the writer's own (libdwfl is not
                                   thread-safe; traceback.c has its own) */
    bool    reported;           /* dwfl knows the modules loaded now */
    int32_t pid;                /* the P of the buffer being written */
    struct { uintptr_t fn; char name[96]; } fncache[256];
} wout;

static void wflush(wout *w)
{
    size_t off = 0;
    while (off < w->n && trace.err == 0) {
        ssize_t r = send(trace.fd, w->buf + off, w->n - off, MSG_NOSIGNAL);
        if (r < 0 && errno == ENOTSOCK)
            r = write(trace.fd, w->buf + off, w->n - off);
        if (r > 0) {
            off += (size_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && errno == EAGAIN) {
            /* A non-blocking fd (gorod's admin socket): wait for room. */
            struct pollfd pfd = {.fd = trace.fd, .events = POLLOUT};
            poll(&pfd, 1, 1000);
        } else {
            trace.err = r < 0 ? -errno : -EIO;
        }
    }
    w->n = 0;
}

static void wputn(wout *w, const char *s, size_t n)
{
    if (w->n + n > w->cap)
        wflush(w);
    if (n > w->cap)
        return;
    memcpy(w->buf + w->n, s, n);
    w->n += n;
}

static void wputs(wout *w, const char *s)
{
    wputn(w, s, strlen(s));
}

static void wputu(wout *w, uint64_t v)
{
    char t[24];
    int i = sizeof t;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    wputn(w, t + i, sizeof t - (size_t)i);
}

static void wputi(wout *w, int64_t v)
{
    if (v < 0) {
        wputn(w, "-", 1);
        wputu(w, (uint64_t)0 - (uint64_t)v);
    } else {
        wputu(w, (uint64_t)v);
    }
}

/* wputstr writes s as a JSON string (quotes, escapes). */
static void wputstr(wout *w, const char *s)
{
    wputn(w, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            wputn(w, e, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            wputn(w, e, 6);
        } else {
            wputn(w, (const char *)&c, 1);
        }
    }
    wputn(w, "\"", 1);
}

static uint64_t tickns(wout *w, uint64_t ticks)
{
    if (ticks <= trace.tick0)
        return 0;
    return (uint64_t)(((unsigned __int128)(ticks - trace.tick0) * w->q) >> 32);
}

/* wputus writes a time in microseconds with three decimals (the format's
 * unit is the microsecond; the decimals keep nanoseconds). */
static void wputus(wout *w, uint64_t ns)
{
    char t[4] = {'.', (char)('0' + ns / 100 % 10), (char)('0' + ns / 10 % 10),
                 (char)('0' + ns % 10)};
    wputu(w, ns / 1000);
    wputn(w, t, 4);
}

/* wbegin opens one event object: {"ph":PH,"pid":PID,"tid":TID,"name":NAME */
static void wbegin(wout *w, const char *ph, int pid, int64_t tid,
                   const char *name)
{
    wputs(w, w->first ? "\n{\"ph\":\"" : ",\n{\"ph\":\"");
    w->first = false;
    wputs(w, ph);
    wputs(w, "\",\"pid\":");
    wputi(w, pid);
    wputs(w, ",\"tid\":");
    wputi(w, tid);
    wputs(w, ",\"name\":");
    wputstr(w, name);
}

enum { pidPs = 1, pidGs = 2 };

static void wname(wout *w, int pid, int64_t tid, const char *what,
                  const char *name)
{
    wbegin(w, "M", pid, tid, what);
    wputs(w, ",\"args\":{\"name\":");
    wputstr(w, name);
    wputs(w, "}}");
}

static const Dwfl_Callbacks dwflcallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

/* fnname: the name of the function at fn (a G's entry point), from the
 * symbol tables (static functions too, which dladdr does not know);
 * NULL when unknown. The modules are read again once after a miss, for
 * plugins loaded since. */
static const char *fnname(wout *w, uintptr_t fn)
{
    if (fn == 0)
        return NULL;
    size_t h = (size_t)((fn * 0x9e3779b97f4a7c15ull) >> 56);
    if (w->fncache[h].fn == fn)
        return w->fncache[h].name[0] ? w->fncache[h].name : NULL;
    const char *name = NULL;
    for (int tries = 0; tries < 2 && name == NULL; tries++) {
        if (w->dwfl == NULL && (w->dwfl = dwfl_begin(&dwflcallbacks)) == NULL)
            break;
        if (!w->reported || tries == 1) {
            dwfl_report_begin(w->dwfl);
            dwfl_linux_proc_report(w->dwfl, getpid());
            dwfl_report_end(w->dwfl, NULL, NULL);
            w->reported = true;
        }
        Dwfl_Module *mod = dwfl_addrmodule(w->dwfl, fn);
        if (mod != NULL)
            name = dwfl_module_addrname(mod, fn);
        if (tries == 0 && name == NULL && w->reported)
            continue;
    }
    w->fncache[h].fn = fn;
    snprintf(w->fncache[h].name, sizeof w->fncache[h].name, "%s",
             name != NULL ? name : "");
    return w->fncache[h].name[0] ? w->fncache[h].name : NULL;
}

/* gname names goid's track the first time it is seen ("G17 fn" once the
 * creation is seen, fn != 0). */
static void gname(wout *w, int64_t goid, uintptr_t fn, bool created)
{
    if (goid <= 0)
        return;
    size_t bit = (size_t)goid;
    if (bit >= w->namedbits) {
        size_t nbits = w->namedbits ? w->namedbits : 1 << 16;
        while (nbits <= bit)
            nbits *= 2;
        uint8_t *nb = realloc(w->named, nbits / 8);
        if (nb == NULL)
            return;
        memset(nb + w->namedbits / 8, 0, (nbits - w->namedbits) / 8);
        w->named = nb;
        w->namedbits = nbits;
    }
    if ((w->named[bit / 8] & (1u << (bit % 8))) && !created)
        return;
    w->named[bit / 8] |= (uint8_t)(1u << (bit % 8));
    char name[160];
    const char *fname = fnname(w, fn);
    if (fname != NULL)
        snprintf(name, sizeof name, "G%lld %s", (long long)goid, fname);
    else
        snprintf(name, sizeof name, "G%lld", (long long)goid);
    wname(w, pidGs, goid, "thread_name", name);
    wbegin(w, "M", pidGs, goid, "thread_sort_index");
    wputs(w, ",\"args\":{\"sort_index\":");
    wputi(w, goid);
    wputs(w, "}}");
}

static const char *evname[traceEvCount] = {
    [traceEvGoCreate] = "GoCreate", [traceEvGoStart] = "GoStart",
    [traceEvGoSched] = "GoSched", [traceEvGoPreempt] = "GoPreempt",
    [traceEvGoPark] = "GoPark", [traceEvGoEnd] = "GoEnd",
    [traceEvGoSysCall] = "GoSysCall", [traceEvGoSysExit] = "GoSysExit",
    [traceEvGoUnpark] = "GoUnpark", [traceEvProcSteal] = "ProcSteal",
    [traceEvPreemptSync] = "PreemptSync",
    [traceEvPreemptAsync] = "PreemptAsync",
    [traceEvStackGrow] = "StackGrow", [traceEvStackShrink] = "StackShrink",
    [traceEvGoExisting] = "GoExisting",
};

/* wslice writes the state a G left: [since, now] on its track, named
 * state; a run also on the P's track. after: the G whose stop it started
 * straight after (one record a hand-over), 0 none. */
static void wslice(wout *w, const traceev *e, const char *state, bool run,
                   const char *next, int64_t after)
{
    uint64_t t1 = tickns(w, e->ticks);
    uint64_t t0 = e->since > trace.tick0 ? tickns(w, e->since) : 0;
    if (t0 > t1)
        t0 = t1;
    for (int k = 0; k < (run && w->pid >= 0 ? 2 : 1); k++) {
        char pname[32];
        if (k == 0) {
            wbegin(w, "X", pidGs, e->goid, state);
        } else {
            snprintf(pname, sizeof pname, "G%lld", (long long)e->goid);
            wbegin(w, "X", pidPs, w->pid, pname);
        }
        wputs(w, ",\"cat\":\"");
        wputs(w, k == 0 ? "state" : "run");
        wputs(w, "\",\"ts\":");
        wputus(w, t0);
        wputs(w, ",\"dur\":");
        wputus(w, t1 - t0);
        wputs(w, ",\"args\":{\"goid\":");
        wputi(w, e->goid);
        wputs(w, ",\"ev\":\"");
        wputs(w, evname[e->type]);
        wputs(w, "\",\"next\":");
        wputstr(w, next);
        if (w->pid >= 0) {
            wputs(w, ",\"p\":");
            wputi(w, w->pid);
        }
        if (after != 0) {
            wputs(w, ",\"after\":");
            wputi(w, after);
        }
        if (e->since <= trace.tick0)
            wputs(w, ",\"before_trace\":true");
        wputs(w, "}}");
    }
}

/* winstant writes an instant event on a G's track (pid pidGs) or a P's. */
static void winstant(wout *w, const traceev *e, int pid, int64_t tid,
                     const char *name)
{
    wbegin(w, "i", pid, tid, name);
    wputs(w, ",\"s\":\"t\",\"cat\":\"event\",\"ts\":");
    wputus(w, tickns(w, e->ticks));
    wputs(w, ",\"args\":{\"goid\":");
    wputi(w, e->goid);
    wputs(w, ",\"ev\":\"");
    wputs(w, evname[e->type]);
    wputs(w, "\"");
}

static const char *reasonstr(uint64_t r)
{
    r &= 0xff;
    return r > 0 && r < waitReasonCount ? waitReasonStrings[r] : "waiting";
}

/* wsuccessor writes the start a stop's record carries (a, b: trace.h): the
 * G's runnable state ends at the stop's time. */
static void wsuccessor(wout *w, const traceev *e)
{
    traceev st = {.ticks = e->ticks, .since = e->a, .goid = (int64_t)e->b,
                  .kind = kindof(traceEvGoStart, 0)};
    gname(w, st.goid, 0, false);
    wslice(w, &st, "runnable", false, "running", e->goid);
}

static void wevent(wout *w, const traceev *e);

/* wfolded writes the unpark of goid at ticks that a start carries
 * (traceFlagUnpark) as the GoUnpark it stands for. */
static void wfolded(wout *w, const traceev *e, uint64_t ticks, int64_t goid)
{
    uint64_t why = e->ureason;
    if (waitReasonIO(e->ureason))
        why |= (uint64_t)(uint32_t)e->ufd << 8;
    traceev u = {.ticks = ticks, .since = e->usince, .goid = goid,
                 .a = (uint64_t)e->uby, .b = why,
                 .kind = kindof(traceEvGoUnpark, 0)};
    wevent(w, &u);
}

static void wevent(wout *w, const traceev *e)
{
    if (e->goid != 0 && e->type != traceEvGoCreate &&
        e->type != traceEvGoExisting)
        gname(w, e->goid, 0, false);
    switch (e->type) {
    case traceEvGoExisting: {
        gname(w, e->goid, (uintptr_t)e->b, true);
        uint32_t st = (uint32_t)e->a & ~(uint32_t)Gscan;
        const char *status =
            st == Grunnable ? "runnable" : st == Grunning ? "running" :
            st == Gsyscall ? "syscall" :
            st == Gwaiting ? reasonstr(e->a >> 32) : "other";
        winstant(w, e, pidGs, e->goid, "existing");
        wputs(w, ",\"status\":");
        wputstr(w, status);
        wputs(w, "}}");
        break;
    }
    case traceEvGoCreate:
        gname(w, e->goid, (uintptr_t)e->b, true);
        winstant(w, e, pidGs, e->goid, "created");
        wputs(w, ",\"parent\":");
        wputi(w, (int64_t)e->a);
        wputs(w, "}}");
        break;
    case traceEvGoStart:
        if (e->flags & traceFlagUnpark)
            wfolded(w, e, e->since, e->goid);
        wslice(w, e, "runnable", false, "running", 0);
        break;
    case traceEvGoSched:
    case traceEvGoPreempt:
        wslice(w, e, "running", true, "runnable", 0);
        break;
    case traceEvGoPark:
        wslice(w, e, "running", true, reasonstr(e->reason), 0);
        break;
    case traceEvGoEnd:
        wslice(w, e, "running", true, "dead", 0);
        break;
    case traceEvGoSysCall:
        wslice(w, e, "running", true, "syscall", 0);
        break;
    case traceEvGoSysExit:
        wslice(w, e, "syscall", false, e->a ? "running" : "runnable", 0);
        break;
    case traceEvGoUnpark: {
        wslice(w, e, reasonstr(e->b), false, "runnable", 0);
        if (waitReasonIO((uint8_t)(e->b & 0xff))) {
            winstant(w, e, pidGs, e->goid, "netpoll wake");
            wputs(w, ",\"fd\":");
            wputi(w, (int32_t)(e->b >> 8));
            wputs(w, "}}");
        }
        winstant(w, e, pidGs, e->goid, "unpark");
        wputs(w, ",\"by\":");
        wputi(w, (int64_t)e->a);
        wputs(w, ",\"reason\":");
        wputstr(w, reasonstr(e->b));
        wputs(w, "}}");
        break;
    }
    case traceEvProcSteal:
        winstant(w, e, pidPs, w->pid, "steal");
        wputs(w, ",\"p\":");
        wputi(w, w->pid);
        wputs(w, ",\"from\":");
        wputi(w, (int64_t)e->a);
        wputs(w, "}}");
        break;
    case traceEvPreemptSync:
    case traceEvPreemptAsync:
        winstant(w, e, pidGs, e->goid,
                 e->type == traceEvPreemptSync ? "preempt (sync)"
                                               : "preempt (async)");
        wputs(w, "}}");
        break;
    case traceEvStackGrow:
    case traceEvStackShrink:
        winstant(w, e, pidGs, e->goid,
                 e->type == traceEvStackGrow ? "stack grow" : "stack shrink");
        wputs(w, ",\"old\":");
        wputu(w, e->a);
        wputs(w, ",\"new\":");
        wputu(w, e->b);
        wputs(w, "}}");
        break;
    }
    if (handsover(e->type) && e->b != 0) {
        if (e->flags & traceFlagUnpark)
            wfolded(w, e, e->a, (int64_t)e->b);
        wsuccessor(w, e);
    }
}

/* measure fixes the tick rate (essay: Time). */
static void measure(wout *w)
{
    uint64_t t = cputicks();
    int64_t ns = nanotime() - trace.ns0;
    if (t > trace.tick0 && ns > 0)
        w->q = (uint64_t)(((unsigned __int128)ns << 32) / (t - trace.tick0));
    else
        w->q = 1ull << 32;
}

static void *writer(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* On the heap: the name cache makes it large for a thread's stack. */
    wout *w = calloc(1, sizeof *w);
    if (w == NULL || (w->buf = malloc(256 << 10)) == NULL) {
        trace.err = -ENOMEM;
        free(w);
        return NULL;
    }
    w->cap = 256 << 10;
    w->first = true;
    wputs(w, "[");
    wname(w, pidPs, 0, "process_name", "Ps");
    wname(w, pidGs, 0, "process_name", "Gs");
    for (int32_t i = 0; i < trace.nslots; i++) {
        char name[16];
        snprintf(name, sizeof name, "P%d", i);
        wname(w, pidPs, i, "thread_name", name);
    }
    wflush(w);
    for (;;) {
        uint32_t seen = atomic_load_explicit(&trace.wake, memory_order_acquire);
        lock(&trace.lock);
        bool done = trace.done;
        tracebuf *b = NULL;
        /* The first buffer waits for the tick rate's measurement. */
        if (w->q != 0 || done ||
            nanotime() - trace.ns0 >= traceCalibrateNs) {
            b = trace.fullhead;
            if (b != NULL) {
                trace.fullhead = b->next;
                if (trace.fullhead == NULL)
                    trace.fulltail = NULL;
                trace.queued -= sizeof *b;
            }
        }
        unlock(&trace.lock);
        if (b == NULL) {
            if (done)
                break;
            int64_t wait = tracePollNs;
            if (w->q == 0) {   /* until the measurement is done */
                wait = traceCalibrateNs - (nanotime() - trace.ns0);
                if (wait <= 0)
                    wait = 1;
            }
            futexsleep(&trace.wake, seen, wait);
            continue;
        }
        if (w->q == 0)
            measure(w);
        /* After a write error the rest is not formatted: it cannot go. */
        uint32_t n = trace.err == 0 ? bufn(b, trace.gen) : 0;
        w->pid = b->pid;
        for (uint32_t i = 0; i < n; i++)
            wevent(w, &b->ev[i]);
        lock(&trace.lock);
        b->next = trace.freelist;
        trace.freelist = b;
        unlock(&trace.lock);
    }
    if (trace.lost != 0) {
        char name[96];
        snprintf(name, sizeof name,
                 "trace: %llu events lost (the writer fell behind)",
                 (unsigned long long)trace.lost);
        wbegin(w, "i", pidPs, 0, name);
        wputs(w, ",\"s\":\"g\",\"ts\":0,\"args\":{\"lost\":");
        wputu(w, trace.lost);
        wputs(w, "}}");
    }
    wputs(w, "\n]\n");
    wflush(w);
    free(w->buf);
    free(w->named);
    if (w->dwfl != NULL)
        dwfl_end(w->dwfl);
    free(w);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

/* freebufs_sys frees the buffers the writer left on the free list. The
 * slots and their buffers stay for the next trace: a hook that saw traceon
 * a moment before a stop may still be finishing an event in its slot's
 * buffer (the essay's protocol), so they are never freed. */
static uintptr_t freebufs_sys(void *arg)
{
    (void)arg;
    lock(&trace.lock);
    tracebuf *b = trace.freelist;
    trace.freelist = NULL;
    unlock(&trace.lock);
    while (b != NULL) {
        tracebuf *nb = b->next;
        dallocx(b, 0);
        b = nb;
    }
    return 0;
}

/* existing records a G that lives as the trace starts: its name and what
 * it does then (read racily: it may be changing). */
static void existing(g *gp, void *arg)
{
    (void)arg;
    uint32_t st = readgstatus(gp) & ~(uint32_t)Gscan;
    if (st == Gdead || st == Gidle)
        return;
    traceevent(traceEvGoExisting, gp,
               st | (uint64_t)gp->waitreason << 32, (uintptr_t)gp->fn);
}

/* start_sys: on g0 or a thread that is not a G. */
static uintptr_t start_sys(void *arg)
{
    int fd = *(int *)arg;
    trace.gen++;     /* every buffer's events are now a past trace's */
    trace.genbase = (uint64_t)trace.gen << 32;
    if (trace.slots == NULL) {
        int32_t n = gomaxprocs;
        tracepslot *slots = mallocx(sizeof(tracepslot) * (size_t)n,
                                    MALLOCX_ZERO | MALLOCX_ALIGN(64));
        if (slots == NULL)
            return (uintptr_t)-ENOMEM;
        lock(&trace.lock);
        for (int32_t i = 0; i < n; i++)
            if ((slots[i].buf = bufget(i)) == NULL)
                break;
        if (slots[n - 1].buf == NULL || (trace.global = bufget(-1)) == NULL) {
            for (int32_t i = 0; i < n; i++)
                if (slots[i].buf != NULL)
                    dallocx(slots[i].buf, 0);
            unlock(&trace.lock);
            dallocx(slots, 0);
            return (uintptr_t)-ENOMEM;
        }
        unlock(&trace.lock);
        trace.nslots = n;
        trace.slots = slots;
        for (int32_t i = 0; i < n; i++)
            allp[i]->traceslot = &slots[i];
    }
    trace.fd = fd;
    trace.err = 0;
    trace.lost = 0;
    trace.done = false;
    trace.fullhead = trace.fulltail = NULL;
    trace.queued = 0;
    trace.ns0 = nanotime();
    trace.tick0 = cputicks();
    if (pthread_create(&trace.writer, NULL, writer, NULL) != 0)
        return (uintptr_t)-EAGAIN;
    atomic_store(&traceon, true);
    forallg(existing, NULL);
    return 0;
}

static int runtimerunning(void)
{
    return allp != NULL && !atomic_load(&sched.exiting);
}

int goro_trace_start(int fd)
{
    if (fd < 0 || fcntl(fd, F_GETFL) < 0)
        return -EBADF;
    if (!runtimerunning())
        return -EPERM;
    int want = traceOff;
    if (!atomic_compare_exchange_strong(&trace.state, &want, traceOn))
        return -EBUSY;
    trace.closefd = false;
    int err = (int)(intptr_t)systemstack(start_sys, &fd);
    if (err != 0)
        atomic_store(&trace.state, traceOff);
    return err;
}

/* stop_sys ends the recording and hands every buffer to the writer; on g0
 * or a thread that is not a G. */
static uintptr_t stop_sys(void *arg)
{
    (void)arg;
    atomic_store_explicit(&traceon, false, memory_order_seq_cst);
    lock(&trace.lock);
    /* Each P's events so far, copied: its M may still be finishing an
     * event it began before the store above, in the buffer it keeps. */
    for (int32_t i = 0; i < trace.nslots; i++) {
        tracebuf *b = trace.slots[i].buf;
        uint32_t n = bufn(b, trace.gen);
        tracebuf *c = n != 0 ? bufget(i) : NULL;
        if (c == NULL) {
            trace.lost += n;
            continue;
        }
        /* The last event may be gaining its successor (tracestart): b
         * (acquire), then the rest, so that all are there or none. */
        traceev *last = &c->ev[n - 1], *src = &b->ev[n - 1];
        uint64_t succ = atomic_load_explicit((_Atomic uint64_t *)&src->b,
                                             memory_order_acquire);
        memcpy(c->ev, b->ev, n * sizeof b->ev[0]);
        last->b = succ;
        if (succ == 0 && handsover(last->type)) {
            last->a = 0;
            last->flags = 0;
        }
        atomic_store_explicit(&c->pos, ((uint64_t)trace.gen << 32) | n,
                              memory_order_relaxed);
        tracebuf *e = bufqueue(c);   /* an empty one, or c emptied */
        e->next = trace.freelist;
        trace.freelist = e;
    }
    if (bufn(trace.global, trace.gen) != 0)
        trace.global = bufqueue(trace.global);
    trace.done = true;
    atomic_fetch_add_explicit(&trace.wake, 1, memory_order_release);
    futexwakeup(&trace.wake, 1);
    unlock(&trace.lock);
    return 0;
}

static void joinwriter(void *arg)
{
    (void)arg;
    pthread_join(trace.writer, NULL);
}

int goro_trace_stop(void)
{
    int want = traceOn;
    if (!atomic_compare_exchange_strong(&trace.state, &want, traceStopping))
        return -ESRCH;
    systemstack(stop_sys, NULL);
    /* The writer may take a while to write what is left: a G waits for it
     * parked, its thread free for other Gs. */
    if (onG(getg()))
        goro_blocking(joinwriter, NULL);
    else
        joinwriter(NULL);
    int err = trace.err;
    if (trace.closefd && close(trace.fd) != 0 && err == 0)
        err = -errno;
    systemstack(freebufs_sys, NULL);
    atomic_store(&trace.state, traceOff);
    return err;
}

/* traceinit starts the trace GORO_TRACE asks for (config.c checked it):
 * the file is created (truncated) with mode 0644. A file that cannot be
 * opened is reported and the program runs untraced. */
void traceinit(void)
{
    if (dbgconf.trace_file == NULL)
        return;
    int fd = open(dbgconf.trace_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);
    if (fd < 0) {
        print("goro: GORO_TRACE=%s: %s; not tracing\n", dbgconf.trace_file,
              strerror(errno));
        return;
    }
    int err = goro_trace_start(fd);
    if (err != 0) {
        print("goro: GORO_TRACE=%s: cannot start the trace (error %d)\n",
              dbgconf.trace_file, err);
        close(fd);
        return;
    }
    trace.closefd = true;
}

void traceshutdown(void)
{
    int err = goro_trace_stop();
    if (err != 0 && err != -ESRCH)
        print("goro: the execution trace is incomplete: write error %d\n",
              err);
}
