/*
 * trace.h - the execution trace's hooks (trace.c says what is recorded and
 * why this way). Each hook is one load of a global flag and a branch that
 * is not taken while no trace runs; the recording itself is out of line.
 */
#ifndef GORO_TRACE_H
#define GORO_TRACE_H

#include "runtime2.h"

/* Event types (Go's traceEv*). The transitions of a G end the state it was
 * in, which the type implies: GoStart ends "runnable", GoSched, GoPreempt,
 * GoPark, GoEnd and GoSysCall end "running", GoSysExit ends "syscall",
 * GoUnpark ends "waiting" (for the reason it carries). */
enum {
    traceEvNone = 0,
    traceEvGoCreate,      /* goid: the new G; a: parent goid; b: fn */
    traceEvGoStart,       /* execute */
    /* The four stops that hand the P on; b: the G that starts straight
     * after on the P (0: none), a: when it became runnable (trace.c, "one
     * record a hand-over"). */
    traceEvGoSched,       /* goro_yield: runnable again */
    traceEvGoPreempt,     /* stopped by a preemption: runnable again */
    traceEvGoPark,        /* the wait reason: in the record's kind */
    traceEvGoEnd,         /* its function returned */
    traceEvGoSysCall,     /* goro_syscall_enter */
    traceEvGoSysExit,     /* a: 1 it kept or found a P, 0 it queued */
    traceEvGoUnpark,      /* a: waker's goid (0: the loop thread or the
                             scheduler); b: reason | fd << 8 */
    traceEvProcSteal,     /* goid: the G stolen; a: the victim P */
    traceEvPreemptSync,   /* stopped at a function call */
    traceEvPreemptAsync,  /* stopped by the preemption signal */
    traceEvStackGrow,     /* a: old size, b: new size */
    traceEvStackShrink,   /* likewise */
    traceEvGoExisting,    /* at the start, each live G: a: status, b: fn */
    traceEvCount
};

/* traceon: a trace is being recorded (trace.c). Read relaxed by the hooks
 * (an acquire load would keep the compiler from moving the hot paths'
 * loads above it); the recording functions they call order what follows
 * with an acquire fence: the recording slots are published before it is
 * set. A hook that sees it late records nothing or is ignored by the stop
 * protocol (trace.c). */
extern HIDDEN _Atomic bool traceon;

/* traceevent records one event for gp (NULL for none). Any thread: on g0
 * or a G with a P into that P's buffer (no locks, no calls but a buffer
 * swap on g0), else into the global buffer under its lock. */
HIDDEN void traceevent(uint8_t ev, g *gp, uint64_t a, uint64_t b);
/* The hot hooks' recording, called once traceenabled() was seen true. */
HIDDEN void tracestart(p *pp, g *gp, bool next);   /* traceGoStart */
HIDDEN void tracepark(p *pp, g *gp, uint8_t reason);
HIDDEN void traceunpark(g *gp);

HIDDEN void traceinit(void);      /* GORO_TRACE (goro_run, before the main G) */
HIDDEN void traceshutdown(void);  /* goro_run's end: stop a trace that runs */

static inline __attribute__((always_inline)) bool traceenabled(void)
{
    return unlikely(atomic_load_explicit(&traceon, memory_order_relaxed));
}

static inline void traceGoCreate(g *newg, int64_t parent)
{
    if (traceenabled())
        traceevent(traceEvGoCreate, newg, (uint64_t)parent,
                   (uint64_t)(uintptr_t)newg->fn);
}

static inline void traceGo(uint8_t ev, g *gp)
{
    if (traceenabled())
        traceevent(ev, gp, 0, 0);
}

/* traceGoStart: gp starts on this M's P, pp (execute, on g0). next:
 * straight after the stop this P recorded last, nothing between
 * (schedule_next's fast path): the start joins that record, at its time. */
static inline void traceGoStart(p *pp, g *gp, bool next)
{
    if (traceenabled())
        tracestart(pp, gp, next);
}

/* traceGoPark: gp parks; on g0 of the M holding pp (park_m). */
static inline void traceGoPark(p *pp, g *gp, uint8_t reason)
{
    if (traceenabled())
        tracepark(pp, gp, reason);
}

static inline void traceGoSysExit(g *gp, bool withp)
{
    if (traceenabled())
        traceevent(traceEvGoSysExit, gp, withp, 0);
}

/* traceGoUnpark: gp, Gwaiting, is being made runnable: before it is
 * queued (then another M may run it at once), next to its status CAS. */
static inline void traceGoUnpark(g *gp)
{
    if (traceenabled())
        traceunpark(gp);
}

/* traceGoReady: traceGoUnpark by the running G (goready), before gp is
 * queued: kept in gp, no record and no call, and recorded with gp's start
 * (trace.c: one record a hand-over). The running G is looked up again
 * here, off the path taken while no trace runs: kept in a register
 * across goready it cost that path a saved register, and the 2-P channel
 * benchmarks their fast mode (bench/RESULTS.md). */
static inline __attribute__((always_inline)) void traceGoReady(g *gp)
{
    if (traceenabled()) {
        gp->traceunpark = cputicks();
        gp->traceunparkby = getg()->goid;
    }
}

/* traceGoReadyBegin and traceGoReadyEnd: traceGoReady in two halves, for
 * a goready that queues gp before the compare-and-swap of its status
 * (several Ps): the mark before gp is queued, the clock read after that
 * CAS, which would otherwise wait for it. A start that finds the mark
 * waits for the time (trace.c: unparkwait). Returns whether to end. */
#define traceUnparkPending 1
static inline __attribute__((always_inline)) bool traceGoReadyBegin(g *gp)
{
    if (!traceenabled())
        return false;
    atomic_store_explicit((_Atomic uint64_t *)&gp->traceunpark,
                          traceUnparkPending, memory_order_relaxed);
    gp->traceunparkby = getg()->goid;
    return true;
}

static inline __attribute__((always_inline)) void traceGoReadyEnd(g *gp)
{
    atomic_store_explicit((_Atomic uint64_t *)&gp->traceunpark, cputicks(),
                          memory_order_release);
}

static inline void traceProcSteal(g *gp, p *victim)
{
    if (traceenabled())
        traceevent(traceEvProcSteal, gp, (uint64_t)victim->id, 0);
}

static inline void traceStack(g *gp, uintptr_t oldsize, uintptr_t newsize)
{
    if (traceenabled())
        traceevent(newsize > oldsize ? traceEvStackGrow : traceEvStackShrink,
                   gp, oldsize, newsize);
}

#endif
