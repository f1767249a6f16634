/*
 * proc.c - the goroutine scheduler.
 *
 * The scheduler's job is to distribute ready-to-run Gs over worker threads,
 * as in Go (runtime/proc.go), whose design and names this file keeps:
 *
 *   G - a green thread: a function, its stack and its saved context.
 *   M - worker thread (machine): an OS thread with its own scheduling stack
 *       (g0, the pthread stack) on which the scheduler and newstack run.
 *   P - processor: the right to run Gs. An M must hold a P to run a G. There
 *       are exactly `procs` Ps. Each has a local run queue, a free G list and
 *       the stack cache, touched by its M without locks.
 *
 * Running: schedule() takes a G from the P's runnext slot, then its local run
 * queue (every 61st time the global queue first, for fairness), then
 * findrunnable(): the global queue, then the Gs whose sockets became ready
 * (netpoll, without blocking), then stealing half of another P's queue; an
 * M that finds nothing gives up its P and blocks in the netpoller if no
 * other M does (netpoll.c), else sleeps until startm hands it a P.
 * execute() switches to the G (gogo). A G gives the M back to the scheduler
 * through mcall: it yields (goro_yield -> gosched_m), parks (gopark ->
 * park_m: a wait list now records it and someone will goready it) or exits
 * (goexit0: the G goes to the P's free list with its stack, so that spawning
 * is cheap).
 *
 * Worker thread parking/unparking (Go's design, kept because it avoids both
 * lost wakeups and an idle core burning): an M with nothing to run becomes
 * "spinning" (at most half of the busy Ps' worth of Ms spin at once) and
 * looks for work to steal; if it finds none it gives its P back, re-checks
 * every run queue once more, and sleeps on its note (a futex) or in the
 * netpoller. Whoever makes a G runnable calls wakep(), which starts an M
 * only if there is an idle P and no M already spinning; a spinning M that
 * finds work stops spinning and calls wakep() in its turn. So a burst of
 * work wakes Ms one at a time, and an idle runtime makes no system calls
 * at all.
 *
 * The end (Go's rule: when main returns, the program exits, whatever the
 * other Gs do). goro_run's thread runs no G: it makes the main G, starts
 * m0 on a thread of its own to run it, and sleeps until the main G returns
 * (exitall). A thread that runs Gs can be kept by one of them for ever (a
 * loop that calls nothing, a blocking read, a region with preemption
 * disabled), so goro_run's thread must not be one. exitall tells every M to
 * end and asks every running G to stop (sysmon goes on asking while Ms are
 * left); goro_run waits up to exitGrace for the Ms to end, then tears the
 * runtime down -- or, when some are still kept by their Gs, leaves it up
 * for them and returns all the same: those Gs are abandoned, running until
 * the process exits. Rejected: running Gs on goro_run's thread and pulling
 * it out of whatever G it runs by a signal whose handler longjmps to
 * goro_run (the G may hold a lock of libc's or another library's, which the
 * caller's exit would then need); waiting for every M (a G in a read never
 * lets its M go).
 *
 * Gs that talk across Ps. A G that readies another (a channel hand-over)
 * puts it in its P's runnext and nearly always blocks right after, so that
 * P was about to run it. A spinning M that finds nothing but a running P's
 * runnext therefore yields the CPU once (sched_yield) before taking it, and
 * takes nothing if that P ran it meanwhile (runqgrab). Taking it at once
 * splits every producer/consumer pair over the two Ps: the victim goes
 * idle, its M sleeps on its futex, and the next hand-over wakes it again,
 * a futex call or two for every value passed (bench/RESULTS.md has the
 * figures, for the pipeline, ping-pong and fan-out). Go backs off here
 * too, with usleep(3), which timer slack stretches to tens of
 * microseconds: better than taking at once, worse than the yield.
 * Such a steal now and then still lets the pair meet on two Ps and one
 * side sleep on a channel's lock; that lock's unlocks then fence only
 * until it has been quiet for a while (lock.c), not for good, which had
 * been most of what a round trip on two Ps paid beyond one on one P.
 * What was left were two locked instructions per hand-over that one P
 * does without: wakepwanted's fence and runqget's compare-and-swap of
 * runnext (thieves may take it). The fence is gone: goready puts the G in
 * runnext before the compare-and-swap of its status, which every readying
 * makes anyway and which then orders the runnext store before the look
 * at the idle Ps as the fence did; a thief that takes the G in between
 * waits for the status (runqgrab). Go makes that status change a
 * compare-and-swap too, and its runqput another. Measured and rejected:
 * having the spinning M that goes idle pay for both sides of the fence (a
 * membarrier before its last look at the queues): a few percent in the
 * ping-pong, nothing elsewhere, for an interrupt of every CPU running one
 * of our threads each time a spinning M gives up, which a ring of Gs does
 * thousands of times a second. Left: runqget's compare-and-swap, which
 * only a protocol with the thieves (a membarrier of theirs against the
 * owner's plain take, and a claim that runqput's exchange would have to
 * respect) could remove.
 *
 * Spawning on several Ps. The M that creates a G and the one that runs
 * and ends it are usually on different cores, so a spawn costs what moves
 * between their caches. newproc1 therefore writes no switch frame on the
 * new stack (gogo starts a G whose sched.sp is 0 in gostart) and touches
 * two of the G's cache lines, only one of which the runner touches too
 * (struct g says which). The global queue is cut into segments (runqseg,
 * below) so that a P takes a spilled batch without walking it under
 * sched.lock, which kept the spilling P waiting. And a G that spawns
 * hundreds in a row while the global queue is long yields to the Gs it
 * made (spawnbackoff): otherwise they pile up, each with its stack, and go
 * cold before they run (on one P, a loop of a million goro_go made a
 * million stacks). Go does none of the three: it writes the frame
 * (gostartcallfn), walks its global queue under the lock, and lets a
 * spawning loop run on. bench/RESULTS.md has the figures. Measured and
 * rejected: no wakepwanted fence after runnext's locked exchange (which
 * orders as a fence does): nothing gained in spawn, and the fan-out ran
 * 6% slower over 10 alternated runs.
 *
 * Locked Gs (Go's LockOSThread; goro_lock_thread). A library that keeps
 * state per thread (a locale, a thread's namespaces or credentials, a GL
 * context) needs its G to stay on one thread. While a G is locked, its M
 * runs no other G: when the G parks, yields, is preempted (at a call or by
 * the signal) or loses its P in a system call, the M hands its P to others
 * (handoffp) and sleeps in stoplockedm, off the idle list. The G goes on a
 * run queue as any other when it is readied, by a G, a timer or netpoll;
 * whichever M's schedule() takes it does not run it but gives its own P to
 * the locked M, wakes it (startlockedm) and goes idle itself. So every
 * path by which a G becomes runnable stays as it is, and the cost is paid
 * by locked Gs alone: two thread wake-ups each time one stops. Nested
 * locks count (Go's lockedExt). A G that ends locked ends its thread too,
 * as in Go: the G may have left the thread in a state the next G must not
 * inherit (a changed signal mask, namespace or identity), which the
 * runtime cannot undo; the thread's P goes to others and the runtime makes
 * a new thread when it needs one. Its M record (the m and g0 structs, not
 * their buffers) stays allocated, as every M's does. exitall wakes locked Ms
 * asleep in stoplockedm (sched.mlocked) so that they end with the others.
 * Rejected: letting a locked G's M run other Gs while it waits (Go's
 * rule is that the thread is the G's alone: per-thread state the G set up
 * would leak into them); resetting a thread whose locked G ended and
 * reusing it (nothing can list what the G changed).
 *
 * Rejected: one global queue under one lock (contention at every switch); a
 * thread per G (the cost this runtime exists to avoid); waking every idle M
 * on new work (thundering herd). Measured and rejected: busy-waiting 3 or
 * 20 us before taking runnext instead of the yield (slower in the pipeline,
 * and it burns a core another process could use); moving a batch from the
 * global queue into the local ring with one store of the tail instead of
 * a runqput per G (no change in the tree of 1M Gs or spawn: the cost there
 * is the walk of the Gs' schedlink chain, cache misses that batching does
 * not remove); a new G in runnext only when runnext is empty, else at the
 * tail, to spare the spawner a locked exchange against thieves (spawn on
 * 2 Ps no faster, and a loop's Gs then run oldest first, not as Go's).
 */

#include <jemalloc/jemalloc.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "runtime2.h"
#include "trace.h"

HIDDEN schedt sched;
HIDDEN p **allp;
HIDDEN int32_t gomaxprocs;
HIDDEN goro_config rtconf;
HIDDEN debugconfig dbgconf;
HIDDEN pstats gstats;
HIDDEN __thread g *goro_tls_g __attribute__((tls_model("initial-exec")));

/* Every G not yet released (gfscan), for scans, metrics and checkdead.
 * allgs, allglen and what follows under allglock. A released G leaves a
 * NULL in its slot (walkers skip it); the slots are compacted when no walk
 * is under way (allgwalkers == 0), so that a batched walk (forallg), which
 * lets go of the lock between batches, never misses or repeats a G. */
HIDDEN mutex allglock;
HIDDEN g **allgs;
HIDDEN uint32_t allglen;
static uint32_t allgcap;
static uint32_t allgholes;      /* NULL slots in allgs[0, allglen) */
static uint32_t allgwalkers;    /* forallg walks under way */

static _Atomic int runtime_state;  /* 0 never ran, 1 running, 2 done */

/* A child made by fork() while the runtime runs has the runtime's memory
 * but only the thread that forked: no other M, no loop thread (timers,
 * the netpoller, sysmon). Nothing would ever end a wait there, so waits
 * fail at once: channel operations, selects and I/O waits with -ECHILD
 * (chancaller, selectgo, netpollpark), goro_go too, and any other park
 * (sleep, mutex, wait group, ...) stops the child with a message (gopark)
 * rather than hang it. What a child may do is exec or _exit, as in Go
 * (syscall.ForkExec). Set by the pthread_atfork child handler. */
_Atomic bool forkedchild;

static void atforkchild(void)
{
    if (atomic_load(&runtime_state) == 1)
        atomic_store_explicit(&forkedchild, true, memory_order_relaxed);
}

static void atforkinit(void)
{
    pthread_atfork(NULL, NULL, atforkchild);
}
static _Atomic bool mainStarted;
static m *m0;                       /* the M that starts with the main G */

enum { g0StackSize = 512 * 1024, g0GuardRoom = 32 * 1024 };

/* How long goro_run waits, once the main G returned, for the Ms to end
 * before it returns and leaves the runtime up for the Gs that keep them. */
enum { exitGrace = 100 * 1000 * 1000 };

/* ---- small helpers --------------------------------------------------- */

int64_t nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* nanotime_coarse: the same clock at the kernel tick's resolution (a few
 * ms), for a fraction of the cost: for ages shown to people. */
__attribute__((noinline)) int64_t nanotime_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* fastrand: a per-M xorshift generator. Must run on an M. */
static inline uint32_t fastrand(void)
{
    uint64_t *s = &getg()->m->fastrand;
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return (uint32_t)(x >> 32);
}

uint32_t fastrandn(uint32_t n)
{
    return (uint32_t)(((uint64_t)fastrand() * n) >> 32);
}

/* mystats: the running P's counters, or the global ones (then the caller
 * must accept racy increments; only rare paths run without a P). */
pstats *mystats(void)
{
    g *gp = getg();
    p *pp = gp ? gp->m->p : NULL;
    return pp ? &pp->stats : &gstats;
}

/* ---- G status -------------------------------------------------------- */

uint32_t readgstatus(g *gp)
{
    return atomic_load_explicit(&gp->atomicstatus, memory_order_acquire);
}

/* casgstatus_slow: the CAS path of casgstatus (runtime2.h), for the
 * transitions a scan may race with, and the diagnostics. */
void casgstatus_slow(g *gp, uint32_t oldval, uint32_t newval)
{
    if ((oldval & Gscan) || (newval & Gscan) || oldval == newval) {
        print("runtime: casgstatus: oldval=%#x newval=%#x\n", oldval, newval);
        throw("casgstatus: bad incoming values");
    }
    if (casgstatus_owned(oldval)) {
        /* No scan takes these (see casgstatus): a mismatch is a bug. */
        uint32_t cur = readgstatus(gp);
        if (cur != oldval) {
            print("runtime: casgstatus: goroutine %lld status %#x, wanted "
                  "%#x -> %#x\n", (long long)gp->goid, cur, oldval, newval);
            throw("casgstatus: bad status");
        }
        atomic_store_explicit(&gp->atomicstatus, newval, memory_order_release);
        return;
    }
    for (;;) {
        uint32_t cur = oldval;
        if (atomic_compare_exchange_weak_explicit(&gp->atomicstatus, &cur,
                                                  newval, memory_order_acq_rel,
                                                  memory_order_acquire))
            return;
        if (cur != oldval && cur != (oldval | Gscan)) {
            print("runtime: casgstatus: goroutine %lld status %#x, wanted "
                  "%#x -> %#x\n", (long long)gp->goid, cur, oldval, newval);
            throw("casgstatus: bad status");
        }
        if (cur == (oldval | Gscan))
            __builtin_ia32_pause();
    }
}

/* castogscanstatus sets the Gscan bit on gp if its status is oldval. */
bool castogscanstatus(g *gp, uint32_t oldval, uint32_t newval)
{
    if (newval != (oldval | Gscan))
        throw("castogscanstatus: bad values");
    uint32_t cur = oldval;
    return atomic_compare_exchange_strong_explicit(
        &gp->atomicstatus, &cur, newval, memory_order_acq_rel,
        memory_order_acquire);
}

/* ---- allgs, malg, free Gs ---------------------------------------------- */

/* allggrow doubles allgs (under allglock). Apart from allgadd, like every
 * call into code without stack checks (jemalloc, libc) on a hot path's
 * rare branch: inlined, it would give newproc1 the prologue of a function
 * that calls such code, which enters __morestack_non_split every time. */
static __attribute__((noinline, cold)) void allggrow(void)
{
    uint32_t ncap = allgcap ? allgcap * 2 : 1024;
    g **n = rallocx(allgs ? (void *)allgs : mallocx(8, MALLOCX_TCACHE_NONE),
                    ncap * sizeof *n, MALLOCX_TCACHE_NONE);
    if (n == NULL)
        throw("out of memory (allgs)");
    allgs = n;
    allgcap = ncap;
}

static void allgadd(g *gp)
{
    lock(&allglock);
    if (allglen == allgcap)
        allggrow();
    gp->allgindex = allglen;
    allgs[allglen++] = gp;
    unlock(&allglock);
}

/* Gs live in spans of the stack allocator's chunks (spanget), carved
 * into equal slots, not in jemalloc: a burst of Gs that gfscan releases
 * then gives back its memory whole (a span whose Gs are all released goes
 * back to its chunk, whose pages the same scan returns), where jemalloc
 * would keep the metadata of every slab it ever made for them. The header
 * at the start of each span says which chunk it came from and which of its
 * slots are free. Under gspanlock. Allocating a G is rare (gfget reuses
 * dead ones), so one lock is enough. */
typedef struct gspan {
    struct gspan *next, *prev;   /* in gspans while it has a free slot */
    void     *chunk;             /* for spanput */
    gclink   *free;              /* free slots */
    uint32_t  inuse;             /* Gs allocated */
    bool      inlist;
} gspan;

/* A slot a whole number of cache lines (spans are line-aligned): struct
 * g's fields are grouped by line. */
#define GSLOT ((sizeof(g) + 63) & ~(uintptr_t)63)
#define GSPANHDR ((sizeof(gspan) + 63) & ~(uintptr_t)63)

static mutex gspanlock;
static gspan *gspans;            /* spans with a free slot */
static uintptr_t gspansize;      /* the chunks' span size (set once) */

static void gspan_insert(gspan *s)
{
    s->prev = NULL;
    s->next = gspans;
    if (s->next)
        s->next->prev = s;
    gspans = s;
    s->inlist = true;
}

static void gspan_remove(gspan *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        gspans = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->inlist = false;
}

/* galloc allocates a zeroed G. Any thread. */
static g *galloc(void)
{
    lock(&gspanlock);
    gspan *s = gspans;
    if (s == NULL) {
        void *chunk;
        uintptr_t size;
        s = spanget(&chunk, &size);
        gspansize = size;
        s->chunk = chunk;
        s->free = NULL;
        s->inuse = 0;
        /* Top down, so that the list hands out low addresses first. */
        uintptr_t base = (uintptr_t)s;
        uintptr_t nslots = (size - GSPANHDR) / GSLOT;
        for (uintptr_t i = nslots; i-- > 0;) {
            gclink *x = (gclink *)(base + GSPANHDR + i * GSLOT);
            x->next = s->free;
            s->free = x;
        }
        gspan_insert(s);
    }
    gclink *x = s->free;
    s->free = x->next;
    s->inuse++;
    if (s->free == NULL)
        gspan_remove(s);
    unlock(&gspanlock);
    memset(x, 0, sizeof(g));
    return (g *)x;
}

/* gfreemem gives gp's slot back; a span left with no G goes back to its
 * chunk. Any thread. */
static void gfreemem(g *gp)
{
    gspan *s = (gspan *)((uintptr_t)gp & ~(gspansize - 1));
    lock(&gspanlock);
    if (!s->inlist)
        gspan_insert(s);
    gclink *x = (gclink *)gp;
    x->next = s->free;
    s->free = x;
    if (--s->inuse == 0) {
        gspan_remove(s);
        unlock(&gspanlock);
        spanput(s, s->chunk);
        return;
    }
    unlock(&gspanlock);
}

/* malg allocates a new G with a stack of stacksize bytes (0: none).
 * Must run on g0. */
static g *malg(uintptr_t stacksize)
{
    g *newg = galloc();
    if (stacksize) {
        newg->stack = stackalloc(stacksize);
        newg->stackguard0 = newg->stack.lo + StackGuard;
    }
    return newg;
}

/* The global free lists (sched.gfree, gfreeold) hold batches: a batch is
 * a schedlink chain of dead Gs whose first G holds the next batch and the
 * chain's length, in two fields a dead G does not use (param, waketime).
 * A P takes a whole batch as its list without walking it: the Gs were last
 * touched by the P that freed them, and a walk would be a cache miss per
 * G, one after the other, under gflock. sched.gflock held. */
static void gfbatchpush(g **list, g *batch, int32_t n)
{
    batch->param = *list;
    batch->waketime = n;
    *list = batch;
}

static g *gfbatchpop(g **list, int32_t *n)
{
    g *batch = *list;
    *list = batch->param;
    *n = (int32_t)batch->waketime;
    batch->param = NULL;
    batch->waketime = 0;
    return batch;
}

/* gfput puts a dead G on pp's free list, keeping its stack only if it has
 * the starting size. If the local list is long, half of it moves to the
 * global list. Owner M, on g0. */
static void gfput(p *pp, g *gp)
{
    if (readgstatus(gp) != Gdead)
        throw("gfput: bad status (not Gdead)");
    uintptr_t stksize = gp->stack.hi - gp->stack.lo;
    if (stksize != rtconf.stack_min && gp->stack.lo != 0) {
        /* A grown stack is not kept with a dead G. */
        stackfree(gp->stack);
        gp->stack.lo = gp->stack.hi = 0;
        gp->stackguard0 = 0;
    }
    gp->schedlink = pp->gfree;
    pp->gfree = gp;
    pp->gfreecnt++;
    if (pp->gfreecnt >= 64) {
        /* The 32 newest go as one batch: the walk is of this P's own,
         * recently touched Gs. */
        g *tail = pp->gfree;
        for (int i = 1; i < 32; i++)
            tail = tail->schedlink;
        g *batch = pp->gfree;
        pp->gfree = tail->schedlink;
        pp->gfreecnt -= 32;
        tail->schedlink = NULL;
        lock(&sched.gflock);
        gfbatchpush(&sched.gfree, batch, 32);
        sched.ngfree += 32;
        unlock(&sched.gflock);
    }
}

/* gfget takes a G from pp's free list (refilling it from the global one,
 * the younger generation first), giving it a starting stack if it has none.
 * Owner M, on g0. */
static g *gfget(p *pp)
{
    if (pp->gfree == NULL &&
        (sched.gfree != NULL || sched.gfreeold != NULL)) {
        lock(&sched.gflock);
        int32_t n = 0;
        if (sched.gfree != NULL) {
            pp->gfree = gfbatchpop(&sched.gfree, &n);
            sched.ngfree -= n;
        } else if (sched.gfreeold != NULL) {
            pp->gfree = gfbatchpop(&sched.gfreeold, &n);
            sched.ngfreeold -= n;
        }
        pp->gfreecnt = n;
        unlock(&sched.gflock);
    }
    g *gp = pp->gfree;
    if (gp == NULL)
        return NULL;
    pp->gfree = gp->schedlink;
    pp->gfreecnt--;
    /* The next G was last touched by the P that freed it: fetch it while
     * this one is made ready. */
    if (pp->gfree != NULL)
        __builtin_prefetch(pp->gfree, 1);
    if (gp->stack.lo == 0) {
        gp->stack = stackalloc(rtconf.stack_min);
        gp->stackguard0 = gp->stack.lo + StackGuard;
    }
    return gp;
}

/* ---- run queues ----------------------------------------------------------
 * The local queue is a ring of RUNQ_SIZE: the owner puts at the tail and
 * gets from the head; thieves grab from the head. head and tail only grow
 * (mod 2^32). */

static inline uint32_t loadacq(_Atomic uint32_t *x)
{
    return atomic_load_explicit(x, memory_order_acquire);
}

bool runqempty(p *pp)
{
    /* Observe a consistent head, tail and runnext: the tail must not have
     * moved while we read runnext. */
    for (;;) {
        uint32_t head = loadacq(&pp->runqhead);
        uint32_t tail = loadacq(&pp->runqtail);
        g *next = atomic_load_explicit(&pp->runnext, memory_order_acquire);
        if (tail == loadacq(&pp->runqtail))
            return head == tail && next == NULL;
    }
}

uint32_t runqlen(p *pp)
{
    return loadacq(&pp->runqtail) - loadacq(&pp->runqhead);
}

/* The global queue's segments (sched.runqseg). A segment is a run of Gs
 * put on the global queue together: half a local queue spilled
 * (runqputslow), a list injected, or single Gs (globrunqput) up to
 * rsegMax; last is its last G. globrunqget detaches whole segments without
 * touching their Gs, and its caller puts them on its P's queue after
 * letting go of sched.lock: the walk of their schedlink chain is a cache
 * miss per G (the P that spilled them wrote them last), and under the lock
 * it kept that P, spilling again, waiting (bench/RESULTS.md: spawn). */
typedef struct runqseg {
    g      *last;
    int32_t n;
} runqseg;
#define rsegMax (RUNQ_SIZE / 2 + 1)

/* rseggrow doubles the segment ring. Off a G's stack only: it calls
 * jemalloc, so gold makes its prologue demand the non-split headroom,
 * which is why it is a function of its own (rsegpush runs on Gs too:
 * goready, runqput, runqputslow). sched.lock held. */
static __attribute__((noinline)) void rseggrow(void)
{
    uint32_t cap = 2 * sched.rsegcap;
    runqseg *r = mallocx(cap * sizeof *r, 0);
    if (r == NULL)
        throw("out of memory for the global run queue");
    for (uint32_t i = 0; i < sched.rsegn; i++)
        r[i] = sched.runqseg[(sched.rseghead + i) % sched.rsegcap];
    dallocx(sched.runqseg, 0);
    sched.runqseg = r;
    sched.rsegcap = cap;
    sched.rseghead = 0;
}

/* rsegpush records n Gs, up to last, just appended to the global queue:
 * into the newest segment if they fit, else as a new one. The ring grows
 * only off a G's stack (rseggrow); on a G a full ring makes the newest
 * segment longer, which costs only a walk when it is taken. sched.lock
 * held. */
static void rsegpush(g *last, int32_t n)
{
    bool full = sched.rsegn == sched.rsegcap;
    if (sched.rsegn > 0) {
        runqseg *s = &sched.runqseg[(sched.rseghead + sched.rsegn - 1) %
                                    sched.rsegcap];
        if (s->n + n <= rsegMax || (full && onG(getg()))) {
            s->last = last;
            s->n += n;
            return;
        }
    }
    if (full)
        rseggrow();
    sched.runqseg[(sched.rseghead + sched.rsegn) % sched.rsegcap] =
        (runqseg){last, n};
    sched.rsegn++;
}

/* runqputslow moves half of pp's local queue plus gp to the global queue.
 * Owner only. Returns false if a thief raced us (the caller retries). */
static bool runqputslow(p *pp, g *gp, uint32_t head, uint32_t tail)
{
    g *batch[RUNQ_SIZE / 2 + 1];
    uint32_t n = (tail - head) / 2;
    if (n != RUNQ_SIZE / 2)
        throw("runqputslow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&pp->runq[(head + i) % RUNQ_SIZE],
                                        memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&pp->runqhead, &head,
                                                 head + n,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire))
        return false;
    batch[n] = gp;
    for (uint32_t i = 0; i < n; i++)
        batch[i]->schedlink = batch[i + 1];
    batch[n]->schedlink = NULL;
    lock(&sched.lock);
    if (sched.runqtail)
        sched.runqtail->schedlink = batch[0];
    else
        sched.runqhead = batch[0];
    sched.runqtail = batch[n];
    sched.runqsize += n + 1;
    rsegpush(batch[n], (int32_t)n + 1);
    unlock(&sched.lock);
    return true;
}

/* runqput puts gp on pp's local queue: in runnext if next (kicking the old
 * runnext to the tail), else at the tail; a full queue spills half to the
 * global queue. Owner only. */
HOT bool runqput(p *pp, g *gp, bool next)
{
    if (next) {
        /* Only the owner stores a G into runnext; thieves only take one
         * out (CAS to NULL). So an empty runnext stays empty until we
         * store: a store-release (which makes gp's fields visible to the
         * thief that takes it with its acquire CAS) does without the
         * locked exchange. A full one may be taken meanwhile: exchange. */
        g *old = atomic_load_explicit(&pp->runnext, memory_order_relaxed);
        if (old == NULL) {
            atomic_store_explicit(&pp->runnext, gp, memory_order_release);
            return true;
        }
        old = atomic_exchange_explicit(&pp->runnext, gp,
                                       memory_order_acq_rel);
        if (old == NULL)
            return true;
        gp = old;
    }
    for (;;) {
        uint32_t head = loadacq(&pp->runqhead);
        uint32_t tail = atomic_load_explicit(&pp->runqtail,
                                             memory_order_relaxed);
        if (tail - head < RUNQ_SIZE) {
            atomic_store_explicit(&pp->runq[tail % RUNQ_SIZE], gp,
                                  memory_order_relaxed);
            /* store-release: makes the G available to thieves */
            atomic_store_explicit(&pp->runqtail, tail + 1,
                                  memory_order_release);
            return true;
        }
        if (runqputslow(pp, gp, head, tail))
            return true;
    }
}

/* runqget takes a G from pp's local queue: runnext first (the G then
 * inherits the time slice), else the head. Owner only. Inline on the
 * switch path (schedule_next); runqget is the out-of-line copy. */
static inline __attribute__((always_inline)) g *
runqget_inline(p *pp, bool *inheritTime)
{
    g *next = atomic_load_explicit(&pp->runnext, memory_order_acquire);
    if (gomaxprocs == 1) {
        /* With one P there are no thieves: runqgrab runs only for another
         * P, and gomaxprocs never changes after schedinit. Everything that
         * writes runnext and runqhead is then this P's owner (others only
         * read them: runqempty), so plain loads and release stores take a
         * G without a locked instruction. */
        if (next != NULL) {
            atomic_store_explicit(&pp->runnext, NULL, memory_order_relaxed);
            *inheritTime = true;
            return next;
        }
        uint32_t head = atomic_load_explicit(&pp->runqhead,
                                             memory_order_relaxed);
        if (head == atomic_load_explicit(&pp->runqtail, memory_order_relaxed))
            return NULL;
        g *gp = atomic_load_explicit(&pp->runq[head % RUNQ_SIZE],
                                     memory_order_relaxed);
        atomic_store_explicit(&pp->runqhead, head + 1, memory_order_release);
        *inheritTime = false;
        return gp;
    }
    if (next != NULL &&
        atomic_compare_exchange_strong_explicit(&pp->runnext, &next, NULL,
                                                memory_order_acq_rel,
                                                memory_order_acquire)) {
        *inheritTime = true;
        return next;
    }
    for (;;) {
        uint32_t head = loadacq(&pp->runqhead);
        uint32_t tail = atomic_load_explicit(&pp->runqtail,
                                             memory_order_relaxed);
        if (tail == head)
            return NULL;
        g *gp = atomic_load_explicit(&pp->runq[head % RUNQ_SIZE],
                                     memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&pp->runqhead, &head,
                                                  head + 1,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *inheritTime = false;
            return gp;
        }
    }
}

HOT g *runqget(p *pp, bool *inheritTime)
{
    return runqget_inline(pp, inheritTime);
}

/* runqgrab copies half of pp's queue into batch (a ring at batchHead) and
 * returns how many. May be called by any P. */
static uint32_t runqgrab(p *pp, g *_Atomic *batch, uint32_t batchHead,
                         bool stealRunNextG)
{
    for (;;) {
        uint32_t head = loadacq(&pp->runqhead);
        uint32_t tail = loadacq(&pp->runqtail);
        uint32_t n = tail - head;
        n = n - n / 2;
        if (n == 0) {
            if (stealRunNextG) {
                g *next = atomic_load_explicit(&pp->runnext,
                                               memory_order_acquire);
                if (next != NULL) {
                    /* The G that readied next usually blocks at once
                     * (a send to a waiting receiver, then a receive):
                     * its P is about to run next itself, and taking it
                     * now would leave that P idle, to be woken again
                     * with a futex for the next hand-over. So when pp is
                     * running, give it a moment first, as Go does
                     * (proc.go: runqgrab). Go sleeps usleep(3), which
                     * is 60-70 us here (timer slack); a sched_yield
                     * (under 1 us on an idle core; on a busy one it lets
                     * pp's M run if it waits for this core) measured
                     * better: see the essay. */
                    if (atomic_load_explicit(&pp->status,
                                             memory_order_relaxed) ==
                        Prunning) {
                        osyield();
                        /* pp ran it: pp is busy with its own Gs. */
                        if (atomic_load_explicit(&pp->runnext,
                                                 memory_order_acquire) !=
                            next)
                            return 0;
                    }
                    if (atomic_compare_exchange_strong_explicit(
                            &pp->runnext, &next, NULL, memory_order_acq_rel,
                            memory_order_acquire)) {
                        /* goready may have published it before its
                         * status CAS (see there): wait for Grunnable. */
                        for (int spin = 0;
                             atomic_load_explicit(&next->atomicstatus,
                                                  memory_order_acquire) !=
                             Grunnable;
                             spin++) {
                            if (spin < 64)
                                __builtin_ia32_pause();
                            else
                                osyield();
                        }
                        atomic_store_explicit(&batch[batchHead % RUNQ_SIZE],
                                              next, memory_order_relaxed);
                        return 1;
                    }
                    continue;
                }
            }
            return 0;
        }
        if (n > RUNQ_SIZE / 2)  /* read inconsistent head and tail */
            continue;
        for (uint32_t i = 0; i < n; i++) {
            g *gp = atomic_load_explicit(&pp->runq[(head + i) % RUNQ_SIZE],
                                         memory_order_relaxed);
            atomic_store_explicit(&batch[(batchHead + i) % RUNQ_SIZE], gp,
                                  memory_order_relaxed);
        }
        if (atomic_compare_exchange_strong_explicit(&pp->runqhead, &head,
                                                    head + n,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire))
            return n;
    }
}

/* runqsteal steals half of p2's queue into pp's and returns one of the Gs.
 * Executed by pp's owner. */
g *runqsteal(p *pp, p *p2, bool stealRunNextG)
{
    uint32_t tail = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
    uint32_t n = runqgrab(p2, pp->runq, tail, stealRunNextG);
    if (n == 0)
        return NULL;
    n--;
    g *gp = atomic_load_explicit(&pp->runq[(tail + n) % RUNQ_SIZE],
                                 memory_order_relaxed);
    if (n == 0)
        return gp;
    uint32_t head = loadacq(&pp->runqhead);
    if (tail - head + n >= RUNQ_SIZE)
        throw("runqsteal: runq overflow");
    atomic_store_explicit(&pp->runqtail, tail + n, memory_order_release);
    return gp;
}

/* globrunqput puts gp at the tail of the global queue. sched.lock held. */
void globrunqput(g *gp)
{
    gp->schedlink = NULL;
    if (sched.runqtail)
        sched.runqtail->schedlink = gp;
    else
        sched.runqhead = gp;
    sched.runqtail = gp;
    sched.runqsize++;
    rsegpush(gp, 1);
}

/* globrunqget detaches a batch from the head of the global queue: whole
 * segments, as many as fit in a P's share (runqsize / procs + 1, at most
 * max if max > 0, at most half a local queue); when max is 0, at least the
 * first segment whole if it is no longer than rsegMax; else the share of
 * the first segment, walked. Returns the batch, a schedlink chain ending
 * in NULL, for globrunqtake. sched.lock held. */
static g *globrunqget(int32_t max)
{
    if (sched.runqsize == 0)
        return NULL;
    int32_t n = sched.runqsize / gomaxprocs + 1;
    if (n > sched.runqsize)
        n = sched.runqsize;
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    g *head = sched.runqhead, *last = NULL;
    int32_t took = 0;
    while (sched.rsegn > 0 && took < n) {
        runqseg *s = &sched.runqseg[sched.rseghead];
        if (took + s->n > n && (took > 0 || max > 0 || s->n > rsegMax))
            break;
        took += s->n;
        last = s->last;
        sched.rseghead = (sched.rseghead + 1) % sched.rsegcap;
        sched.rsegn--;
    }
    if (took == 0) {
        if (sched.rsegn == 0)
            throw("globrunqget: Gs queued outside every segment");
        last = head;
        for (int32_t i = 1; i < n; i++)
            last = last->schedlink;
        sched.runqseg[sched.rseghead].n -= n;
        took = n;
    }
    sched.runqhead = last->schedlink;
    if (sched.runqhead == NULL)
        sched.runqtail = NULL;
    last->schedlink = NULL;
    sched.runqsize -= took;
    return head;
}

/* globrunqtake puts a batch from globrunqget on pp's local queue, all but
 * its first G, which it returns. Owner, without sched.lock. */
static g *globrunqtake(p *pp, g *batch)
{
    if (batch == NULL)
        return NULL;
    for (g *g1 = batch->schedlink; g1 != NULL;) {
        g *next = g1->schedlink;   /* before a thief may run g1 */
        runqput(pp, g1, false);
        g1 = next;
    }
    return batch;
}

/* ---- Ps and Ms ----------------------------------------------------------- */

static void acquirep(m *mp, p *pp)
{
    if (mp->p != NULL || pp->m != NULL || pp->status != Pidle)
        throw("acquirep: invalid p state");
    mp->p = pp;
    pp->m = mp;
    atomic_store_explicit(&pp->status, Prunning, memory_order_release);
}

static p *releasep(m *mp)
{
    p *pp = mp->p;
    if (pp == NULL || pp->m != mp || pp->status != Prunning)
        throw("releasep: invalid p state");
    mp->p = NULL;
    pp->m = NULL;
    atomic_store_explicit(&pp->status, Pidle, memory_order_release);
    return pp;
}

/* pidleput puts pp on the idle list. sched.lock held; pp's queue empty. */
static void pidleput(p *pp)
{
    if (!runqempty(pp))
        throw("pidleput: P has non-empty run queue");
    pp->link = sched.pidle;
    sched.pidle = pp;
    atomic_fetch_add_explicit(&sched.npidle, 1, memory_order_acq_rel);
}

static int64_t sysmonrestartdelay(void);

/* pidleget takes an idle P. sched.lock held. A P going to work restarts
 * sysmon if it stopped because every P was idle. */
static p *pidleget(void)
{
    p *pp = sched.pidle;
    if (pp != NULL) {
        sched.pidle = pp->link;
        atomic_fetch_sub_explicit(&sched.npidle, 1, memory_order_acq_rel);
        if (sched.sysmonwait) {
            sched.sysmonwait = false;
            sysmonwake(sysmonrestartdelay());
        }
    }
    return pp;
}

static void mput(m *mp)
{
    mp->schedlink = sched.midle;
    sched.midle = mp;
    sched.nmidle++;
}

static m *mget(void)
{
    m *mp = sched.midle;
    if (mp != NULL) {
        sched.midle = mp->schedlink;
        sched.nmidle--;
    }
    return mp;
}

static NORETURN void mexit(m *mp);

/* stopm parks the M until startm hands it a P. On g0, without a P. */
static void stopm(m *mp)
{
    if (mp->locks)
        throw("stopm holding locks");
    if (mp->p)
        throw("stopm holding p");
    if (mp->spinning)
        throw("stopm spinning");
    lock(&sched.lock);
    /* exitall sets sched.exiting and wakes the idle Ms under sched.lock:
     * checked under the same lock, an M cannot go to sleep after it. */
    if (atomic_load(&sched.exiting)) {
        unlock(&sched.lock);
        mexit(mp);
    }
    mput(mp);
    unlock(&sched.lock);
    notesleep(&mp->park);
    noteclear(&mp->park);
    if (atomic_load(&sched.exiting))
        mexit(mp);
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
}

/* allocm makes an M; NULL once the runtime is exiting (no M is made then:
 * see mexit). */
static m *allocm(void)
{
    m *mp = mallocx(sizeof(m), MALLOCX_ZERO);
    g *g0 = mallocx(sizeof(g), MALLOCX_ZERO);
    if (mp == NULL || g0 == NULL)
        throw("out of memory (allocm)");
    mp->g0 = g0;
    g0->m = mp;
    atomic_store(&g0->atomicstatus, Grunning);
    lock(&sched.lock);
    if (atomic_load(&sched.exiting)) {
        unlock(&sched.lock);
        dallocx(g0, 0);
        dallocx(mp, 0);
        return NULL;
    }
    mp->id = sched.mnext++;
    mp->alllink = atomic_load_explicit(&allm, memory_order_relaxed);
    atomic_store_explicit(&allm, mp, memory_order_release);
    unlock(&sched.lock);
    mp->fastrand = 0x9e3779b97f4a7c15ull * (uint64_t)(mp->id + 1) | 1;
    mp->fpmxcsr = ~(uint32_t)0;  /* unknown: the first gogo loads */
    mp->statf.fd = -1;
    mp->syscallf.fd = -1;
    mp->guardrun = -1;
    return mp;
}

/* minit sets up the calling thread as mp's: TLS, the g0 stack bounds and
 * guard, the errno slot. */
static void minit(m *mp)
{
    g *g0 = mp->g0;
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    mp->thread = pthread_self();
    mp->hascpuclock = pthread_getcpuclockid(mp->thread, &mp->cpuclock) == 0;
    mp->tid = (pid_t)rawsyscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    if (addr != NULL && size > 2 * g0GuardRoom) {
        g0->stack.lo = (uintptr_t)addr;
        g0->stack.hi = (uintptr_t)addr + size;
        g0->stackguard0 = g0->stack.lo + g0GuardRoom;
    } else {
        g0->stack.lo = g0->stack.hi = 0;
        g0->stackguard0 = 0;  /* unknown bounds: never check */
    }
    mp->errnop = __errno_location();
    /* glibc: a thread's pthread_t is its TCB, the guard slot at +0x70. */
    mp->guardslot = (_Atomic uintptr_t *)((char *)mp->thread +
                                          TCB_STACKGUARD);
    /* Signals sent to the process go to threads without G stacks
     * (signal.c). */
    minitSignalMask(NULL);
    if (preemptminit(mp) != 0)
        print("goro: m%d: no memory for asynchronous preemption; its Gs "
              "are preempted only at function calls\n", mp->id);
    setg(g0);
    setguard(g0->stackguard0);
}

/* mstart1 records where g0's scheduling stack begins (every mcall restarts
 * from there) and enters the scheduler. Never returns. */
static NORETURN __attribute__((noinline)) void mstart1(m *mp)
{
    mp->g0->sched.sp = (getsp() - 256) & ~(uintptr_t)15;
    if (mp->nextp) {
        acquirep(mp, mp->nextp);
        mp->nextp = NULL;
    }
    schedule();
}

static void *mstart(void *arg)
{
    m *mp = arg;
    minit(mp);
    mstart1(mp);
}

static void newosproc(m *mp);

/* newm creates a thread for a new M that will run with pp; nothing once
 * the runtime is exiting. */
static void newm(p *pp, bool spinning)
{
    m *mp = allocm();
    if (mp == NULL)
        return;
    mp->nextp = pp;
    mp->spinning = spinning;
    newosproc(mp);
}

/* newosproc starts mp's thread. */
static void newosproc(m *mp)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, g0StackSize);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int err = pthread_create(&t, &attr, mstart, mp);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        print("runtime: failed to create new OS thread (have %d already; "
              "errno=%d)\n", sched.mnext, err);
        throw("newosproc");
    }
}

/* startmundo: startm started no M for the caller's count in nmspinning
 * (spinning). */
static void startmundo(bool spinning)
{
    if (spinning &&
        atomic_fetch_sub_explicit(&sched.nmspinning, 1,
                                  memory_order_acq_rel) - 1 < 0)
        throw("startm: negative nmspinning");
}

/* startm schedules some M to run pp (an idle P if pp is NULL); if there is
 * none, does nothing. spinning means the caller incremented nmspinning and
 * the new M will be counted as spinning. */
static void startm(p *pp, bool spinning)
{
    lock(&sched.lock);
    if (pp == NULL) {
        pp = pidleget();
        if (pp == NULL) {
            unlock(&sched.lock);
            startmundo(spinning);
            return;
        }
    }
    m *nmp = mget();
    if (nmp == NULL && runqempty(pp) && netpollblocked()) {
        /* An M blocks in the netpoller: it takes pp rather than a new
         * thread (it looks for an idle P when it wakes). Ordered by
         * sched.lock: if it ended its claim after the load above, its
         * pidleget comes after this pidleput. */
        pidleput(pp);
        unlock(&sched.lock);
        startmundo(spinning);
        netpollbreak();
        return;
    }
    unlock(&sched.lock);
    if (nmp == NULL) {
        newm(pp, spinning);
        return;
    }
    if (nmp->spinning)
        throw("startm: m is spinning");
    if (nmp->nextp)
        throw("startm: m has p");
    nmp->spinning = spinning;
    nmp->nextp = pp;
    notewakeup(&nmp->park);
}

/* wakepwanted: there is an idle P and no M already looking for work, so
 * wakep would start one. A cheap test that needs no g0.
 *
 * Called right after work was put on a queue, it is one side of a Dekker
 * with an M going idle (findrunnable: it gives up its P and drops
 * nmspinning, then looks at every queue once more): the store of the work
 * must be visible before npidle and nmspinning are read, or both sides
 * miss each other and the G waits in the queue of a P whose G never stops
 * (x86 lets a load pass an earlier store; a runnext store is a plain one).
 * Hence the fence, which only more than one P needs. wakepwanted_fenced is
 * the test alone, for a caller whose locked instruction since the store
 * serves as the fence (goready). */
static inline bool wakepwanted_fenced(void)
{
    return atomic_load_explicit(&sched.npidle, memory_order_acquire) > 0 &&
           atomic_load_explicit(&sched.nmspinning, memory_order_acquire) == 0;
}

static inline bool wakepwanted(void)
{
    if (gomaxprocs > 1)
        atomic_thread_fence(memory_order_seq_cst);
    return wakepwanted_fenced();
}

/* wakep tries to add one more P to execute Gs: called when a G is made
 * runnable. Starts a spinning M only if none is spinning already. */
static void wakep(void)
{
    int32_t zero = 0;
    if (!wakepwanted() ||
        !atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1))
        return;
    startm(NULL, true);
}

static void resetspinning(m *mp)
{
    if (!mp->spinning)
        throw("resetspinning: not a spinning m");
    mp->spinning = false;
    int32_t n = atomic_fetch_sub_explicit(&sched.nmspinning, 1,
                                          memory_order_acq_rel) - 1;
    if (n < 0)
        throw("findrunnable: negative nmspinning");
    /* We were the last spinning M and found work: another may be needed. */
    if (n == 0)
        wakep();
}

/* ---- locked Gs (the essay, "Locked Gs") --------------------------------- */

static void handoffp(p *pp);

/* wakelockedm wakes mp from stoplockedm, or makes its next sleep there
 * return at once, unless that is done already: startlockedm and exitall
 * may both want to, and a note takes one wakeup. sched.lock held. */
static void wakelockedm(m *mp)
{
    if (mp->lockedwake)
        return;
    mp->lockedwake = true;
    notewakeup(&mp->park);
}

/* stoplockedm parks an M whose locked G has stopped, after handing its P
 * (if it has one) to others, until an M takes the G from a run queue and
 * hands this one its P (startlockedm). Returns with that P, the G
 * runnable. On g0; ends the thread when the runtime exits meanwhile. */
static void stoplockedm(m *mp)
{
    g *gp = mp->lockedg;
    if (gp == NULL || gp->lockedm != mp)
        throw("stoplockedm: inconsistent locking");
    if (mp->p != NULL)
        handoffp(releasep(mp));
    /* exitall sets sched.exiting before it wakes the locked Ms: a note
     * woken meanwhile makes the sleep below return at once. */
    if (atomic_load(&sched.exiting))
        mexit(mp);
    notesleep(&mp->park);
    noteclear(&mp->park);
    lock(&sched.lock);
    mp->lockedwake = false;
    unlock(&sched.lock);
    if (atomic_load(&sched.exiting))
        mexit(mp);
    if ((readgstatus(gp) & ~(uint32_t)Gscan) != Grunnable) {
        print("runtime: stoplockedm: goroutine %lld status %#x\n",
              (long long)gp->goid, readgstatus(gp));
        throw("stoplockedm: not runnable");
    }
    acquirep(mp, mp->nextp);
    mp->nextp = NULL;
}

/* startlockedm: mp's schedule() took gp, which is locked to another M.
 * Hand mp's P to that M, wake it to run gp, and park mp until startm gives
 * it a P again. On g0. */
static void startlockedm(m *mp, g *gp)
{
    m *lm = gp->lockedm;
    if (lm == mp)
        throw("startlockedm: locked to me");
    if (lm->nextp != NULL)
        throw("startlockedm: m has p");
    p *pp = releasep(mp);
    lock(&sched.lock);
    lm->nextp = pp;
    wakelockedm(lm);
    unlock(&sched.lock);
    stopm(mp);
}

/* lockm locks gp to its M mp: the first goro_lock_thread. On g0. */
static void lockm(m *mp, g *gp)
{
    gp->lockedm = mp;
    mp->lockedg = gp;
    lock(&sched.lock);
    mp->lockedlink = sched.mlocked;
    sched.mlocked = mp;
    unlock(&sched.lock);
}

/* unlockm undoes lockm: the last goro_unlock_thread, or gp's end. On
 * g0. */
static void unlockm(m *mp, g *gp)
{
    gp->lockedm = NULL;
    mp->lockedg = NULL;
    mp->lockedExt = 0;
    lock(&sched.lock);
    m **pm = &sched.mlocked;
    while (*pm != mp)
        pm = &(*pm)->lockedlink;
    *pm = mp->lockedlink;
    mp->lockedlink = NULL;
    unlock(&sched.lock);
}

/* mexitlocked ends the thread of mp, whose G ended locked to it; its P
 * goes to others. The thread's signal stack and XSAVE buffer are freed
 * once no signal can reach it (all blocked, and sysmon told it is dead).
 * On g0, holding the P. Never returns. */
static NORETURN void mexitlocked(m *mp)
{
    handoffp(releasep(mp));
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    lock(&sched.sysmonlock);
    mp->dead = true;
    unlock(&sched.sysmonlock);
    preemptmdrop(mp);
    mexit(mp);
}

/* ---- exit ------------------------------------------------------------- */

/* mexit ends an M's thread once the main G has returned; the last one
 * tells goro_run. */
static NORETURN void mexit(m *mp)
{
    /* From now on sysmon leaves this thread alone. */
    lock(&sched.sysmonlock);
    mp->dead = true;
    preemptmexit(mp);
    unlock(&sched.sysmonlock);
    lock(&sched.lock);
    if (++sched.nmexited == sched.mnext)
        notewakeup(&sched.mdone);
    unlock(&sched.lock);
    pthread_exit(NULL);
}

/* exitpreempt asks the G of every running P to stop, so that its M finds
 * the runtime exiting at its next call (or signal) and ends. Returns
 * whether any P was running. Under sched.sysmonlock, once exiting. */
static bool exitpreempt(void)
{
    bool any = false;
    for (int32_t i = 0; i < gomaxprocs; i++) {
        p *pp = allp[i];
        if (atomic_load_explicit(&pp->status, memory_order_acquire) ==
            Prunning) {
            preemptone(pp, true);
            any = true;
        }
    }
    return any;
}

/* exitall: the main G returned. Tell every M; idle ones are woken to end,
 * busy ones end when their G next enters the scheduler, which each is asked
 * to do now (and by sysmon while Ms are left). goro_run's thread wakes. */
static void exitall(void)
{
    lock(&sched.lock);
    atomic_store(&sched.exiting, true);
    for (m *mp = sched.midle; mp != NULL; mp = mp->schedlink)
        notewakeup(&mp->park);
    sched.midle = NULL;
    for (m *mp = sched.mlocked; mp != NULL; mp = mp->lockedlink)
        wakelockedm(mp);
    unlock(&sched.lock);
    netpollbreak();  /* an M blocked there is on no list */
    lock(&sched.sysmonlock);
    exitpreempt();
    unlock(&sched.sysmonlock);
    notewakeup(&sched.mainexit);
}

/* ---- scheduling ------------------------------------------------------------ */

/* forallg calls fn(gp, arg) for every G, holding allglock in batches of
 * 1024 so that creating Gs (allgadd) is not held up for a whole walk;
 * allgs may be reallocated between batches, not compacted (allgwalkers).
 * fn must not take allglock. */
void forallg(void (*fn)(g *gp, void *arg), void *arg)
{
    lock(&allglock);
    allgwalkers++;
    for (uint32_t i = 0;;) {
        uint32_t end = i + 1024 < allglen ? i + 1024 : allglen;
        for (; i < end; i++)
            if (allgs[i] != NULL)
                fn(allgs[i], arg);
        if (i >= allglen)
            break;
        unlock(&allglock);
        lock(&allglock);
    }
    allgwalkers--;
    unlock(&allglock);
}

/* allgcompact closes the holes released Gs left in allgs, keeping the
 * order, and gives back the part of the array a burst of Gs grew that is
 * no longer needed (the capacity halves while it is over four times what
 * is used, down to the first 1024). allglock held, no walk under way. */
static void allgcompact(void)
{
    if (allgholes == 0 || allgwalkers != 0)
        return;
    uint32_t j = 0;
    for (uint32_t i = 0; i < allglen; i++) {
        g *gp = allgs[i];
        if (gp == NULL)
            continue;
        gp->allgindex = j;
        allgs[j++] = gp;
    }
    allglen = j;
    allgholes = 0;
    uint32_t ncap = allgcap;
    while (ncap > 1024 && ncap / 4 > allglen)
        ncap /= 2;
    if (ncap != allgcap) {
        /* Shrinking in place or moving: rallocx may fail only to grow. */
        g **n = rallocx(allgs, ncap * sizeof *n, MALLOCX_TCACHE_NONE);
        if (n != NULL) {
            allgs = n;
            allgcap = ncap;
        }
    }
}

/* gfrelease frees a schedlink list (maybe empty) of dead Gs that nobody
 * else can reach any more but through allgs: their slots, their stacks,
 * their sudogs, the Gs. On g0 or the loop thread. */
static void gfrelease(g *list)
{
    lock(&allglock);
    uint32_t k = 0;
    for (g *gp = list; gp != NULL; gp = gp->schedlink) {
        if (allgs[gp->allgindex] != gp)
            throw("gfrelease: G not in its allgs slot");
        allgs[gp->allgindex] = NULL;
        allgholes++;
        /* Let creating Gs in now and then. */
        if (++k % 1024 == 0) {
            unlock(&allglock);
            lock(&allglock);
        }
    }
    /* Also closes the holes a release left while a walk was under way. */
    allgcompact();
    unlock(&allglock);
    if (list == NULL)
        return;
    /* sysmon (preemptone) may have read a G as some M's curg just before
     * it exited; it uses that pointer only under sched.sysmonlock, and
     * every retake after this one sees Gs that are not ours. Taking the
     * lock once waits out a retake under way. */
    lock(&sched.sysmonlock);
    unlock(&sched.sysmonlock);
    while (list != NULL) {
        g *gp = list;
        list = gp->schedlink;
        if (readgstatus(gp) != Gdead)
            throw("gfrelease: G not dead");
        if (gp->stack.lo != 0)
            stackfree(gp->stack);
        /* Past this thread's cache: straight back to its slab, which the
         * scan's purge can then give back whole. */
        if (gp->mysudog != NULL)
            dallocx(gp->mysudog, MALLOCX_TCACHE_NONE);
        timegfree(gp);
        localsfree(gp);
        ctxgfree(gp);
        gfreemem(gp);
    }
}

/* gfscan is the stack scan's part of the dead Gs (stackscan): Go keeps a
 * dead G for ever, so a burst of a million Gs would keep a million G
 * structs, their starting stacks and their allgs slots for the life of
 * the process. Here the global free list has two generations: gfput adds
 * to sched.gfree; each scan releases sched.gfreeold (the Gs that sat
 * unused through a whole scan interval) and ages sched.gfree into it. A
 * list in use keeps its Gs (gfget takes them back, gfput renews them), so
 * spawning stays cheap. The Ps' own lists (at most 63 Gs each) join the
 * global one when their P is idle (it belongs to nobody while it sits on
 * the idle list) or is the caller's (goro_stack_scan: the P runs nothing
 * else meanwhile): left with their owners, the few dead Gs of a burst
 * would keep a partly used stack span each. Returns how many Gs it
 * released. On g0 or the loop thread; two scans may run at once (the
 * periodic one and goro_stack_scan): gflock orders them. */
static void gfputall(p *pp)
{
    if (pp->gfree == NULL)
        return;
    lock(&sched.gflock);
    gfbatchpush(&sched.gfree, pp->gfree, pp->gfreecnt);
    sched.ngfree += pp->gfreecnt;
    unlock(&sched.gflock);
    pp->gfree = NULL;
    pp->gfreecnt = 0;
}

int gfscan(void)
{
    g *self = getg();
    if (self != NULL && self->m->p != NULL)
        gfputall(self->m->p);
    lock(&sched.lock);
    for (p *pp = sched.pidle; pp != NULL; pp = pp->link)
        gfputall(pp);
    unlock(&sched.lock);

    lock(&sched.gflock);
    g *old = sched.gfreeold;
    int n = sched.ngfreeold;
    sched.gfreeold = sched.gfree;
    sched.ngfreeold = sched.ngfree;
    sched.gfree = NULL;
    sched.ngfree = 0;
    unlock(&sched.gflock);
    /* One chain of the batches, for gfrelease. */
    g *list = NULL;
    while (old != NULL) {
        int32_t k;
        g *batch = gfbatchpop(&old, &k);
        g *tail = batch;
        while (tail->schedlink != NULL)
            tail = tail->schedlink;
        tail->schedlink = list;
        list = batch;
    }
    gfrelease(list);
    return n;
}

/* schedlat_record counts how long gp, a sampled G, waited to run. */
static uint64_t ticks0;   /* cputicks() and nanotime() at schedinit */
static int64_t nanotime0;
static _Atomic uint64_t nsPerTickQ32; /* ns per tick << 32, measured since
                                        start-up; 0: not yet */

/* tickrate measures ns per tick over the time since start-up: at the first
 * sample and now and then after (every 65536 samples of a P), so that the
 * record itself needs no clock call. Integer arithmetic: a floating-point
 * operation would set MXCSR flags the G then sees. */
static uint64_t tickmeasure(uint64_t q);

static inline uint64_t tickrate(p *pp)
{
    uint64_t q = atomic_load_explicit(&nsPerTickQ32, memory_order_relaxed);
    if (likely(q != 0 && (pp->stats.schedlat_count & 0xffff) != 0))
        return q;
    return tickmeasure(q);
}

/* tickmeasure is tickrate's measurement, apart: its clock call and 128-bit
 * division (libc and libgcc, without stack checks) would otherwise make
 * gold give execute, where it is inlined, the prologue of a function that
 * calls such code, which enters __morestack_non_split on every switch. */
static __attribute__((noinline, cold)) uint64_t tickmeasure(uint64_t q)
{
    uint64_t ticks = cputicks() - ticks0;
    int64_t ns = nanotime() - nanotime0;
    if (ticks == 0 || ns <= 0)
        return q;
    q = (uint64_t)(((unsigned __int128)ns << 32) / ticks);
    atomic_store_explicit(&nsPerTickQ32, q, memory_order_relaxed);
    return q;
}

/* Inline in both copies of execute: as a call it costs the switch path an
 * instruction a switch on average (one switch in eight is sampled). */
static inline __attribute__((always_inline)) void
schedlat_record(p *pp, g *gp)
{
    uint64_t now = cputicks();
    uint64_t q = tickrate(pp);
    int64_t d = 0;
    if (now > (uint64_t)gp->trackstamp)
        d = (int64_t)(((unsigned __int128)(now - (uint64_t)gp->trackstamp) *
                       q) >> 32);
    gp->trackstamp = 0;
    int i = 0;
    while (i < GORO_SCHEDLAT_BUCKETS - 1 && d > (1000ll << i))
        i++;
    pp->stats.schedlat_bucket[i]++;
    pp->stats.schedlat_count++;
    pp->stats.schedlat_sum_ns += (uint64_t)d;
}

/* execute runs gp on the current M. Must run on g0. Never returns.
 * next: gp starts straight after the G that stopped on this P a moment
 * ago, nothing between (schedule_next's fast path), which lets the trace
 * give both one record and one time (trace.c); a constant in each copy. */
static inline __attribute__((always_inline, noreturn)) void
execute_(m *mp, g *gp, bool inheritTime, bool next)
{
    p *pp = mp->p;
    if (unlikely(mp->lockedg != NULL && mp->lockedg != gp))
        throw("execute: a locked M runs another G");
    if (unlikely(gp->stackneed != 0))
        stackrestore(gp);
    mp->curg = gp;
    gp->m = mp;
    casgstatus(gp, Grunnable, Grunning);
    traceGoStart(pp, gp, next);
    /* A request made while gp waited is stale: it starts a new slice, or
     * inherits one sysmon is still timing. */
    gp->preempt = false;
    gp->stackguard0 = gp->stack.lo + StackGuard;
    if (!inheritTime)
        pp->schedtick++;
    pp->stats.ctx_switches++;
    if (unlikely(gp->trackstamp != 0))
        schedlat_record(pp, gp);
    *mp->errnop = gp->goerrno;
    gogo(gp);
}

HOT static NORETURN void execute(m *mp, g *gp, bool inheritTime)
{
    execute_(mp, gp, inheritTime, false);
}

/* executenext: execute for schedule_next's fast path (next above). */
HOT static NORETURN void executenext(m *mp, g *gp, bool inheritTime)
{
    execute_(mp, gp, inheritTime, true);
}

/* findrunnable finds a runnable G to execute: from the local or global
 * queue, the netpoller, or stolen from another P. Blocks while there is
 * none: in the netpoller if no other M does (netpollclaim), else in stopm.
 * Returns NULL only when the runtime is exiting. */
static g *netpollrun(p *pp, g *list, bool *inheritTime);

static g *findrunnable(m *mp, bool *inheritTime)
{
top:;
    if (atomic_load(&sched.exiting))
        return NULL;
    p *pp = mp->p;
    g *gp = runqget(pp, inheritTime);
    if (gp)
        return gp;
    if (sched.runqsize != 0) {
        lock(&sched.lock);
        gp = globrunqget(0);
        unlock(&sched.lock);
        gp = globrunqtake(pp, gp);
        if (gp) {
            *inheritTime = false;
            return gp;
        }
    }

    /* Network readiness, without blocking (Go's netpoll(0)): the first G
     * runs here, the rest go on this P's queue for the others to steal.
     * Not when every other P is idle and no M blocks in the netpoller:
     * this M is the one that will block there, and that poll returns at
     * once what this one would find; a look that finds nothing (the
     * common case: this P's last G just parked on its fd) would be one
     * system call more per wake-up (bench/RESULTS.md, "No poll before
     * stealing"). */
    if (netpollinuse() &&
        (atomic_load(&sched.npidle) != gomaxprocs - 1 || netpollblocked())) {
        g *list = netpoll(false);
        if (list != NULL)
            return netpollrun(pp, list, inheritTime);
    }

    /* Steal work from other Ps. Limit the number of spinning Ms to half
     * the number of busy Ps: when procs >> busy Ps, spinning costs CPU. */
    int32_t procs = gomaxprocs;
    if (mp->spinning ||
        2 * atomic_load(&sched.nmspinning) <
            procs - atomic_load(&sched.npidle)) {
        if (!mp->spinning) {
            mp->spinning = true;
            atomic_fetch_add(&sched.nmspinning, 1);
        }
        for (int i = 0; i < 4; i++) {
            uint32_t off = fastrandn(procs);
            for (int32_t j = 0; j < procs; j++) {
                p *p2 = allp[(off + j) % procs];
                if (p2 == pp)
                    continue;
                /* On the last round also take runnext. */
                gp = runqsteal(pp, p2, i == 3);
                if (gp) {
                    traceProcSteal(gp, p2);
                    *inheritTime = false;
                    return gp;
                }
            }
        }
    }

    /* Nothing. Give up the P. */
    lock(&sched.lock);
    if (atomic_load(&sched.exiting)) {
        unlock(&sched.lock);
        return NULL;
    }
    if (sched.runqsize != 0) {
        gp = globrunqget(0);
        unlock(&sched.lock);
        *inheritTime = false;
        return globrunqtake(pp, gp);
    }
    if (releasep(mp) != pp)
        throw("findrunnable: wrong p");
    pidleput(pp);
    unlock(&sched.lock);

    /* Delicate dance (Go's): a new G may have been readied while we were
     * spinning and everyone else saw nmspinning > 0 and did not wake an M.
     * So after dropping nmspinning, look at every queue once more. */
    bool wasSpinning = mp->spinning;
    if (mp->spinning) {
        mp->spinning = false;
        if (atomic_fetch_sub(&sched.nmspinning, 1) - 1 < 0)
            throw("findrunnable: negative nmspinning");
    }
    if (wasSpinning) {
        for (int32_t i = 0; i <= procs; i++) {
            /* Every P's queue, then the global one. */
            if (i < procs ? !runqempty(allp[i])
                          : __atomic_load_n(&sched.runqsize,
                                            __ATOMIC_SEQ_CST) != 0) {
                lock(&sched.lock);
                pp = pidleget();
                unlock(&sched.lock);
                if (pp) {
                    acquirep(mp, pp);
                    mp->spinning = true;
                    atomic_fetch_add(&sched.nmspinning, 1);
                    goto top;
                }
                break;
            }
        }
    }
    /* Block in the netpoller, unless another M does (netpoll.c's essay):
     * readiness then wakes this M, which runs what it brings on an idle P,
     * and startm hands it a P when there is work but no idle M. */
    if (netpollinuse() && netpollclaim()) {
        g *list = netpoll(true);
        lock(&sched.lock);
        pp = pidleget();
        unlock(&sched.lock);
        if (pp == NULL) {
            injectglist(list);  /* every P runs: they will find them */
        } else {
            acquirep(mp, pp);
            if (list == NULL)
                goto top;
            return netpollrun(pp, list, inheritTime);
        }
    }
    stopm(mp);
    goto top;
}

/* schedule finds a runnable G and runs it. Must run on g0. Never returns. */
HOT void schedule(void)
{
    g *g0 = getg();
    m *mp = g0->m;
    if (mp->locks)
        throw("schedule: holding locks");
    if (g0 != mp->g0)
        throw("schedule: not on g0");
    if (unlikely(mp->lockedg != NULL)) {
        /* This M runs its locked G only: wait until it is taken from a run
         * queue (startlockedm). */
        stoplockedm(mp);
        execute(mp, mp->lockedg, false);
    }
    for (;;) {
        if (atomic_load(&sched.exiting))
            mexit(mp);
        p *pp = mp->p;
        g *gp = NULL;
        bool inheritTime = false;
        /* Check the global queue once in a while for fairness; otherwise
         * two Gs could keep the local queue busy forever. */
        if (pp->schedtick % 61 == 0 && sched.runqsize > 0) {
            lock(&sched.lock);
            gp = globrunqget(1);
            unlock(&sched.lock);
        }
        if (gp == NULL)
            gp = runqget(pp, &inheritTime);
        if (gp == NULL)
            gp = findrunnable(mp, &inheritTime);
        if (gp == NULL)
            continue;  /* exiting */
        if (mp->spinning)
            resetspinning(mp);
        if (unlikely(gp->lockedm != NULL)) {
            /* Its own M runs it, with this M's P; this M waits for
             * another. */
            startlockedm(mp, gp);
            continue;
        }
        execute(mp, gp, inheritTime);
    }
}

/* schedule_next is schedule's common case, for the switch path (park_m,
 * gosched_m): the M holds no locks and is not spinning, the runtime is not
 * exiting, no fairness check of the global queue is due, and the local
 * queue (runnext first) has a G: run it at once, without schedule()'s frame
 * and loop. Anything else goes through schedule(). On g0; never returns. */
static inline __attribute__((always_inline, noreturn)) void
schedule_next(m *mp)
{
    p *pp = mp->p;
    if (likely(mp->locks == 0 && !mp->spinning && mp->lockedg == NULL &&
               !atomic_load_explicit(&sched.exiting, memory_order_relaxed) &&
               (sched.runqsize == 0 || pp->schedtick % 61 != 0))) {
        bool inheritTime;
        g *gp = runqget_inline(pp, &inheritTime);
        if (gp != NULL) {
            if (likely(gp->lockedm == NULL))
                executenext(mp, gp, inheritTime);
            startlockedm(mp, gp);
        }
    }
    schedule();
}

/* ---- making Gs runnable ------------------------------------------------ */

/* ready makes a Gwaiting gp runnable: on the current P's runnext (it
 * inherits the time slice of whoever readied it, as in Go), or on the
 * global queue from a thread without a P. Must run on g0 or on a non-M
 * thread. */
void ready(g *gp)
{
    casgstatus(gp, Gwaiting, Grunnable);
    traceGoUnpark(gp);
    g *cur = getg();
    p *pp = cur ? cur->m->p : NULL;
    if (pp != NULL) {
        runqput(pp, gp, true);
    } else {
        lock(&sched.lock);
        globrunqput(gp);
        unlock(&sched.lock);
    }
    wakep();
}

static uintptr_t ready_sys(void *arg)
{
    ready(arg);
    return 0;
}

static uintptr_t wakep_sys(void *arg)
{
    (void)arg;
    wakep();
    return 0;
}

/* goready readies gp from wherever the caller runs (a G, g0, or a thread
 * that is not an M). On a G that holds a P it puts gp on the P's runnext
 * right there, with no trip to g0 (m->locks keeps the G on its P
 * meanwhile); only starting an M for an idle P needs g0 (pthread_create
 * would otherwise run on the G's small stack). */
void goready(g *gp)
{
    g *cur = getg();
    if (cur != NULL && cur != cur->m->g0 && cur->m->p != NULL) {
        m *mp = cur->m;
        mp->locks++;
        p *pp = mp->p;
        bool need;
        /* Only this P's owner fills an empty runnext (runqput): if it is
         * empty now, it stays so until the store below. */
        bool empty = atomic_load_explicit(&pp->runnext,
                                          memory_order_relaxed) == NULL;
        if (empty && gomaxprocs > 1) {
            /* runqput's first case (an empty runnext, see there), inline,
             * with one locked instruction where the order status, queue,
             * fence has two: gp goes into runnext first, and the status
             * CAS after it is the fence of wakepwanted's Dekker. Until
             * that CAS a thief may take gp from runnext still Gwaiting;
             * runqgrab waits for it to become Grunnable (this M holds
             * m->locks meanwhile, so that is a few instructions away). */
            bool traced = traceGoReadyBegin(gp);
            atomic_store_explicit(&pp->runnext, gp, memory_order_release);
            casgstatus(gp, Gwaiting, Grunnable);
            need = wakepwanted_fenced();
            if (traced)
                traceGoReadyEnd(gp);
        } else {
            casgstatus(gp, Gwaiting, Grunnable);
            traceGoReady(gp);
            if (empty)
                atomic_store_explicit(&pp->runnext, gp, memory_order_release);
            else
                runqput(pp, gp, true);
            need = wakepwanted();
        }
        mp->locks--;
        if (need)
            systemstack(wakep_sys, NULL);
        return;
    }
    systemstack(ready_sys, gp);
}

/* injectglist makes a schedlink list of Gwaiting Gs runnable, all onto the
 * global queue in order, and starts as many idle Ms as there are Gs (at
 * most one per idle P). Any thread. */
void injectglist(g *head)
{
    if (head == NULL)
        return;
    int n = 0;
    g *tail = NULL;
    for (g *gp = head; gp != NULL; gp = gp->schedlink) {
        casgstatus(gp, Gwaiting, Grunnable);
        traceGoUnpark(gp);
        tail = gp;
        n++;
    }
    lock(&sched.lock);
    if (sched.runqtail)
        sched.runqtail->schedlink = head;
    else
        sched.runqhead = head;
    sched.runqtail = tail;
    tail->schedlink = NULL;
    sched.runqsize += n;
    rsegpush(tail, n);
    unlock(&sched.lock);
    for (; n > 0 && atomic_load(&sched.npidle) > 0; n--)
        startm(NULL, false);
}

/* netpollrun takes a list from netpoll: its first G is returned to run
 * here, the rest go runnable on pp's queue (its overflow to the global
 * one) and an idle P is woken to share them. On g0 with pp. */
static g *netpollrun(p *pp, g *list, bool *inheritTime)
{
    g *first = list;
    list = list->schedlink;
    casgstatus(first, Gwaiting, Grunnable);
    traceGoUnpark(first);
    *inheritTime = false;
    if (list == NULL)
        return first;
    while (list != NULL) {
        g *gp = list;
        list = gp->schedlink;
        casgstatus(gp, Gwaiting, Grunnable);
        traceGoUnpark(gp);
        runqput(pp, gp, false);
    }
    wakep();
    return first;
}

/* ---- G entry points on g0 (targets of mcall) --------------------------- */

static inline void saveerrno(g *gp)
{
    gp->goerrno = *gp->m->errnop;
}

static void dropg(m *mp, g *gp)
{
    gp->m = NULL;
    mp->curg = NULL;
}

/* park_m: the second half of gopark, on g0. */
HOT static void park_m(g *gp)
{
    m *mp = gp->m;
    saveerrno(gp);
    traceGoPark(mp->p, gp, gp->waitreason);
    casgstatus(gp, Grunning, Gwaiting);
    dropg(mp, gp);
    bool (*fn)(g *, void *) = mp->waitunlockf;
    void *lk = mp->waitlock;
    mp->waitunlockf = NULL;
    mp->waitlock = NULL;
    /* Once fn has published gp (released the lock that guards the list it
     * is on), another M may run it at once: gp must not be touched. */
    if (fn != NULL && !fn(gp, lk)) {
        casgstatus(gp, Gwaiting, Grunnable);
        traceGoUnpark(gp);
        execute(mp, gp, true);  /* resume at once */
    }
    schedule_next(mp);
}

/* gopark puts the current G into Gwaiting and calls unlockf(gp, lock) on
 * g0; if that returns false the G resumes at once. unlockf is where the G
 * is published to whoever will goready it (typically by releasing the lock
 * of the wait list it was put on): the G's context is saved by then. */
void gopark(bool (*unlockf)(g *, void *), void *lk, uint8_t reason)
{
    g *gp = getg();
    m *mp = gp->m;
    if (gp == mp->g0)
        throw("gopark on g0");
    if (unlikely(inforkedchild())) {
        print("goro: goroutine %lld waits (%s) in a child of fork(), where "
              "the runtime's other threads are not and nothing would end "
              "the wait: a child may exec or _exit (README.md, \"fork\")\n",
              (long long)gp->goid, waitReasonStrings[reason]);
        throw("wait in a forked child");
    }
    mp->waitunlockf = unlockf;
    mp->waitlock = lk;
    gp->waitreason = reason;
    gp->waitsince = 0;
    mcall(park_m);
}

/* gopreempt_m stops the running gp for a preemption: like a yield, but
 * onto the global queue, behind everything that waited meanwhile. On g0. */
void gopreempt_m(g *gp)
{
    m *mp = gp->m;
    saveerrno(gp);
    traceGo(traceEvGoPreempt, gp);
    casgstatus(gp, Grunning, Grunnable);
    dropg(mp, gp);
    atomic_store_explicit(&mp->stopping, false, memory_order_relaxed);
    lock(&sched.lock);
    globrunqput(gp);
    unlock(&sched.lock);
    wakep();
    schedule();
}

HOT static void gosched_m(g *gp)
{
    m *mp = gp->m;
    saveerrno(gp);
    traceGo(traceEvGoSched, gp);
    casgstatus(gp, Grunning, Grunnable);
    dropg(mp, gp);
    runqput(mp->p, gp, false);
    schedule_next(mp);
}

HOT static void goexit0(g *gp)
{
    m *mp = gp->m;
    p *pp = mp->p;
    bool locked = mp->lockedg != NULL;
    if (unlikely(locked))
        unlockm(mp, gp);
    traceGo(traceEvGoEnd, gp);
    casgstatus(gp, Grunning, Gdead);
    dropg(mp, gp);
    gp->fn = NULL;
    gp->arg = NULL;
    gp->waitreason = 0;
    gp->goerrno = 0;
    gp->preemptoff = 0;
    if (unlikely(gp->asyncctx != NULL)) {
        dallocx(gp->asyncctx, MALLOCX_ALIGN(64));
        gp->asyncctx = NULL;
    }
    gp->trackstamp = 0;
    if (unlikely(gp->after != NULL))
        timegexit(gp);
    if (gp->group != NULL)
        groupexit(gp);
    if (unlikely(gp->fixedstack)) {
        stackfreefixed(gp->stack);
        gp->fixedstack = false;
        gp->stack.lo = gp->stack.hi = 0;
        gp->stackguard0 = 0;
    }
    pp->stats.gs_exited++;
    if (gp == sched.maing)
        exitall();
    gfput(pp, gp);
    if (unlikely(locked))
        mexitlocked(mp);
    schedule();
}

static void goexit1(g *gp);

/* gostart is where every G begins: the switch frame newproc1 builds on the
 * new stack returns here. */
void gostart(void)
{
    g *gp = getg();
    gp->fn(gp->arg);
    goexit1(gp);
}

/* goexit1 ends the G whose function returned. A function of its own, so
 * that the first thing after that return is a call with a stack check:
 * a G that blocked in the kernel without telling may have lost its P to
 * sysmon (sysblocktake), and only newstack gives it one back; gostart's
 * return address is the one address of the runtime that sysblocktake
 * allows on the G's stack. */
static __attribute__((noinline)) void goexit1(g *gp)
{
    if (gp->locals != NULL)
        localsexit(gp);   /* G-local destructors, on the G */
    mcall(goexit0);
    __builtin_unreachable();
}

/* ---- sysmon ---------------------------------------------------------------
 * Go's system monitor, here a timer on the runtime's loop thread (loop.c
 * calls sysmon() and sleeps for as long as it says). Each tick it looks at
 * every P (retake):
 *  - a P that has run the same G for longer than the time slice: ask that G
 *    to stop (preemptone, preempt.c). "The same G" is seen through
 *    p->schedtick, which execute() bumps for every new slice, and the time
 *    is sysmon's own (the first tick that saw the schedtick): the switch
 *    path reads no clock.
 *  - a P whose G has sat in a system call since the previous tick
 *    (goro_syscall_enter), while there is work it could do: take it from
 *    that M and hand it to another (handoffp), so the other Gs go on.
 * The tick starts at sysmonMinDelay and, after 50 ticks that took no P
 * back from a system call, doubles up to sysmonMaxDelay, as Go's. While
 * Ps are running, sysmon also wakes when a slice it timed ends, and at
 * least every eighth of a slice (but not more often than sysmonSliceTick)
 * to see new slices begin: a G is stopped between 1 and 1.125 slices
 * after it started. After stopping a G, sysmon takes the next
 * slice on that P to begin then, so a CPU-bound P costs about one tick per
 * slice. When every P is idle sysmon stops; pidleget restarts it, and
 * goes on with the tick it had, as Go's sysmon goes on with its delay
 * after its sleep: a server whose Ps go idle between requests would
 * otherwise start over at 20 us at each wake-up, fifty ticks of the loop
 * thread for nothing. The restart sets sysmon's timerfd from the M for a
 * first look when a slice that began then could need one (an eighth of
 * a slice, sysmonrestartdelay), rather than waking the loop thread for a
 * look at once: a server with one connection went idle and busy again at
 * each request, and paid a wake-up of the loop thread for each
 * (bench/RESULTS.md, "sysmon restarts without waking a thread"). */

/* sysmonrestartdelay: the first look after a restart, as late as the
 * slices allow (the slice's end is timed from the first look that sees
 * it, so it keeps its bound of 1 to 1.125 slices); without slices,
 * sysmon's longest tick. */
static int64_t sysmonrestartdelay(void)
{
    int64_t slice = rtconf.time_slice_ns;
    if (slice <= 0)
        return sysmonMaxDelay;
    return slice / 8 > sysmonSliceTick ? slice / 8 : sysmonSliceTick;
}

/* handoffp finds work for pp, which nobody owns (Pidle, no M, not on the
 * idle list): an M to run its queue or the global one, a spinning M if
 * nobody looks for work, else the idle list. Any thread but a G's. */
static void handoffp(p *pp)
{
    if (!runqempty(pp) || sched.runqsize != 0) {
        startm(pp, false);
        return;
    }
    int32_t zero = 0;
    if (atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) == 0 &&
        atomic_compare_exchange_strong(&sched.nmspinning, &zero, 1)) {
        startm(pp, true);
        return;
    }
    lock(&sched.lock);
    /* Work may have arrived in the global queue meanwhile. */
    if (sched.runqsize != 0) {
        unlock(&sched.lock);
        startm(pp, false);
        return;
    }
    /* The last running P going idle, and no M blocks in the netpoller:
     * one must (Go's rule), or readiness would wait for sysmon's poll. */
    if (sched.npidle == gomaxprocs - 1 && netpollinuse() &&
        !netpollblocked()) {
        unlock(&sched.lock);
        startm(pp, false);
        return;
    }
    pidleput(pp);
    unlock(&sched.lock);
}

/* retake does one pass over the Ps (above). Returns how many Ps it took
 * from system calls; *busy tells whether any P is running, *next the
 * earliest time a running G's slice ends, *followup the earliest look
 * due for a G asked to stop (preemptnextlook). Under sched.sysmonlock. */
static int retake(int64_t now, bool *busy, int64_t *next, int64_t *followup)
{
    int n = 0;
    int64_t slice = rtconf.time_slice_ns;
    for (int32_t i = 0; i < gomaxprocs; i++) {
        p *pp = allp[i];
        sysmontick *pd = &pp->sysmontick;
        uint32_t s = atomic_load_explicit(&pp->status, memory_order_acquire);
        if (s == Prunning) {
            *busy = true;
            uint32_t t = __atomic_load_n(&pp->schedtick, __ATOMIC_RELAXED);
            if (pd->schedtick != t) {
                /* A new slice began since the last look: when sysmon
                 * stopped the previous G (and this is the next one), or
                 * at the latest now. */
                pd->schedwhen = pd->preempted && t == pd->schedtick + 1
                                    ? pd->preemptwhen : now;
                pd->schedtick = t;
                pd->preempted = false;
            } else {
                /* What to do is preemptpolicy's (preempt.c); what sysmon
                 * saw and did is kept here. */
                int step = preemptpolicy(pp, pd, now, slice);
                if (step == preemptBlocked) {
                    pd->blockedwhen = now;
                    preemptblocked(pp);
                } else if (step == preemptAsk) {
                    pd->quick = preemptone(pp, false);
                    pd->preempted = true;
                    pd->preemptwhen = now;
                } else if (step == preemptSignal) {
                    preemptone(pp, true);
                    pd->quick = false;
                }
                if (step >= preemptAsk) {
                    int64_t look = preemptnextlook(pd, now, slice);
                    if (look < *followup)
                        *followup = look;
                }
            }
            /* A G's run is counted by the P's switches (a slice may pass
             * from G to G) from the look that first saw it; when it is
             * reported is stalldue's (preempt.c). */
            int64_t stall = rtconf.stall_report_ns;
            if (stall > 0) {
                uint64_t sw = __atomic_load_n(&pp->stats.ctx_switches,
                                              __ATOMIC_RELAXED);
                if (sw != pd->stallswitches) {
                    pd->stallswitches = sw;
                    pd->stallwhen = now;
                    pd->stalled = false;
                } else if (stalldue(pd, now, stall, slice)) {
                    pd->stalled = true;
                    stallone(pp, now - pd->stallwhen, sw);
                }
            }
            if (slice > 0 && pd->schedwhen + slice > now &&
                pd->schedwhen + slice < *next)
                *next = pd->schedwhen + slice;
        } else if (s == Psyscall) {
            *busy = true;
            uint32_t t = __atomic_load_n(&pp->syscalltick, __ATOMIC_RELAXED);
            if (pd->syscalltick != t) {
                pd->syscalltick = t;
                pd->syscallwhen = now;
                continue;
            }
            if (!syscallhandoff(pp, pd, now))
                continue;
            uint32_t want = Psyscall;
            if (atomic_compare_exchange_strong(&pp->status, &want, Pidle)) {
                n++;
                handoffp(pp);
            }
        }
    }
    return n;
}

const char *const waitReasonStrings[waitReasonCount] = {
    [waitReasonZero] = "",
    [waitReasonSleep] = "sleep",
    [waitReasonWaitGroup] = "wait group",
    [waitReasonMutex] = "mutex",
    [waitReasonChanReceive] = "chan receive",
    [waitReasonChanSend] = "chan send",
    [waitReasonSelect] = "select",
    [waitReasonIORead] = "IO wait (read)",
    [waitReasonIOWrite] = "IO wait (write)",
    [waitReasonIOWait] = "IO wait",
    [waitReasonFileIO] = "file IO",
    [waitReasonBlocking] = "blocking call",
    [waitReasonLoopCall] = "loop call",
    [waitReasonCond] = "cond wait",
    [waitReasonRWMutexRLock] = "rwmutex rlock",
    [waitReasonRWMutexLock] = "rwmutex lock",
    [waitReasonSemacquire] = "semaphore",
    [waitReasonJoin] = "join",
};

/* checkdead reports a deadlock (Go's "all goroutines are asleep"): every P
 * is idle, nothing is queued, and every live G waits for another G (a
 * channel, a wait group, a mutex), so none will ever run again. A pending
 * timer (time.c: it may send on a channel or end a select), a G asleep
 * on a timer or waiting for I/O, in a system call, or anything queued means
 * no deadlock. Called by sysmon as it stops (every P idle); loop thread. */
static void checkdead(void)
{
    if (atomic_load(&sched.exiting) || sched.runqsize != 0 ||
        timerspending())
        return;
    /* A thread that is not a G may still send (foreign.c). */
    if (atomic_load(&foreignthreads) > 0)
        return;
    for (int32_t i = 0; i < gomaxprocs; i++)
        if (!runqempty(allp[i]))
            return;
    uint32_t waiting = 0;
    lock(&allglock);
    for (uint32_t i = 0; i < allglen; i++) {
        g *gp = allgs[i];
        if (gp == NULL)
            continue;
        uint32_t s = readgstatus(gp) & ~(uint32_t)Gscan;
        if (s == Gdead || s == Gidle)
            continue;
        if (s != Gwaiting || !waitReasonInternal(gp->waitreason)) {
            unlock(&allglock);
            return;
        }
        waiting++;
    }
    if (waiting == 0 || atomic_load(&sched.npidle) != gomaxprocs) {
        unlock(&allglock);
        return;
    }
    print("fatal error: all goroutines are asleep - deadlock!\n\n");
    uint32_t shown = 0;
    for (uint32_t i = 0; i < allglen && shown < 20; i++) {
        g *gp = allgs[i];
        if (gp == NULL || (readgstatus(gp) & ~(uint32_t)Gscan) != Gwaiting)
            continue;
        print("goroutine %lld [%s]\n", (long long)gp->goid,
              waitReasonStrings[gp->waitreason]);
        shown++;
    }
    if (waiting > shown)
        print("... and %u more waiting\n", waiting - shown);
    _exit(2);
}

static int64_t sysmondelay = sysmonMinDelay;
static int sysmonidle;

/* sysmon runs one tick and returns how many ns to sleep before the next,
 * or -1 when it stopped (its ticks disarmed) until sysmonwake. Loop
 * thread only. */
int64_t sysmon(void)
{
    int64_t now = nanotime();
    bool busy = false;
    int64_t next = INT64_MAX, followup = INT64_MAX;
    lock(&sched.sysmonlock);
    if (atomic_load(&sched.exiting)) {
        /* Keep asking the Gs that still run to stop (exitall). */
        bool any = exitpreempt();
        unlock(&sched.sysmonlock);
        if (!any)
            sysmondisarm();
        return any ? sysmonSliceTick : -1;
    }
    int n = retake(now, &busy, &next, &followup);
    unlock(&sched.sysmonlock);

    if (n > 0)
        sysmonidle = 0;
    else
        sysmonidle++;
    if (sysmonidle == 0)
        sysmondelay = sysmonMinDelay;
    else if (sysmonidle > 50 && sysmondelay < sysmonMaxDelay)
        sysmondelay *= 2;
    if (sysmondelay > sysmonMaxDelay)
        sysmondelay = sysmonMaxDelay;

    if (!busy) {
        lock(&sched.lock);
        if (atomic_load(&sched.npidle) == gomaxprocs) {
            sysmondisarm();
            sched.sysmonwait = true;
            unlock(&sched.lock);
            checkdead();
            return -1;
        }
        unlock(&sched.lock);
    }
    int64_t d = sysmondelay;
    int64_t slice = rtconf.time_slice_ns;
    if (busy && slice > 0) {
        int64_t cap = slice / 8 > sysmonSliceTick ? slice / 8 : sysmonSliceTick;
        if (d > cap)
            d = cap;
        if (next != INT64_MAX && next - now < d) {
            /* Serve the slices that end soon after the first with the same
             * wake-up: each costs a thread switch on a busy machine. */
            int64_t last = next;
            for (int32_t i = 0; i < gomaxprocs; i++) {
                sysmontick *pd = &allp[i]->sysmontick;
                int64_t end = pd->schedwhen + slice;
                if (end > last && end <= next + slice / 8 &&
                    atomic_load_explicit(&allp[i]->status,
                                         memory_order_relaxed) == Prunning)
                    last = end;
            }
            d = last - now;
        }
        if (followup - now < d)
            d = followup - now;
    }
    return d < sysmonMinDelay ? sysmonMinDelay : d;
}

/* ---- system calls -----------------------------------------------------------
 * goro_syscall_enter/exit (Go's entersyscall/exitsyscall) bracket a call that
 * may block the thread. The G keeps its M but lets go of the P: the P stays
 * in Psyscall with no M, and the first to CAS it out of that state owns it:
 * the G coming back (the common, fast case: nothing else happened), or
 * sysmon taking it away for other Gs. A G that finds its P gone takes an
 * idle one, or waits on the global queue while its M sleeps. */

void goro_syscall_enter(void)
{
    g *gp = getg();
    if (!onG(gp) || readgstatus(gp) != Grunning)
        return;
    /* First: the hook's call may stop the G at its prologue (a
     * preemption), after which its M and P are others. */
    traceGo(traceEvGoSysCall, gp);
    m *mp = gp->m;
    p *pp = mp->p;
    casgstatus(gp, Grunning, Gsyscall);
    pp->syscalltick++;
    pp->m = NULL;
    mp->p = NULL;
    mp->oldp = pp;
    atomic_store_explicit(&pp->status, Psyscall, memory_order_release);
}

/* exitsyscall0: no P to come back to; on g0. */
void exitsyscall0(g *gp)
{
    m *mp = gp->m;
    saveerrno(gp);
    traceGoSysExit(gp, false);
    casgstatus(gp, Gsyscall, Grunnable);
    dropg(mp, gp);
    lock(&sched.lock);
    p *pp = pidleget();
    if (pp == NULL)
        globrunqput(gp);
    unlock(&sched.lock);
    if (pp != NULL) {
        acquirep(mp, pp);
        execute(mp, gp, false);
    }
    if (mp->lockedg != NULL) {
        /* gp is locked to this M: wait until an M takes it from the
         * global queue and hands this one a P. */
        stoplockedm(mp);
        execute(mp, gp, false);
    }
    stopm(mp);
    schedule();
}

/* exitsyscallfast: gp, back from a system call on mp, takes the P it left
 * again if nobody took it meanwhile (Go's exitsyscallfast). */
static bool exitsyscallfast(m *mp, g *gp)
{
    p *pp = mp->oldp;
    mp->oldp = NULL;
    uint32_t want = Psyscall;
    if (pp == NULL ||
        !atomic_compare_exchange_strong(&pp->status, &want, Prunning))
        return false;
    pp->m = mp;
    mp->p = pp;
    casgstatus(gp, Gsyscall, Grunning);
    return true;
}

/* exitsyscall_pidle takes an idle P for the calling M, if there is one.
 * On g0 (systemstack's signature). */
static uintptr_t exitsyscall_pidle(void *arg)
{
    (void)arg;
    lock(&sched.lock);
    p *pp = pidleget();
    unlock(&sched.lock);
    if (pp != NULL)
        acquirep(getg()->m, pp);
    return pp != NULL;
}

/* syscallenterfor makes goro_syscall_enter's transitions for gp, running
 * on mp with pp, whose thread is blocked in the kernel and has not run
 * since sysmon looked (sysblocktake, preempt.c): the G is Gsyscall, the P
 * Psyscall without an M, and retake hands it off as for any system call.
 * False when gp is not Grunning. sysmon, under sched.sysmonlock. */
bool syscallenterfor(p *pp, m *mp, g *gp)
{
    uint32_t want = Grunning;
    if (!atomic_compare_exchange_strong(&gp->atomicstatus, &want, Gsyscall))
        return false;
    pp->syscalltick++;
    pp->m = NULL;
    mp->p = NULL;
    mp->oldp = pp;
    atomic_store_explicit(&pp->status, Psyscall, memory_order_release);
    return true;
}

/* sysblockback: newstack (on g0) found mp->sysblock set. It waits while
 * sysmon decides; if sysmon took the P, the G comes back from its
 * "system call" as goro_syscall_exit would: its P if nobody took it
 * meanwhile, or an idle one. False when there is none: the G is still
 * Gsyscall and must wait for one (exitsyscall0, once newstack is done). */
bool sysblockback(m *mp, g *gp)
{
    uint32_t s;
    while ((s = atomic_load_explicit(&mp->sysblock, memory_order_acquire)) ==
           sysblockTaking)
        osyield();
    if (s == sysblockNone)
        return true;
    atomic_store_explicit(&mp->sysblock, sysblockNone, memory_order_relaxed);
    if (readgstatus(gp) != Gsyscall || exitsyscallfast(mp, gp))
        return true;
    if (!exitsyscall_pidle(NULL))
        return false;
    casgstatus(gp, Gsyscall, Grunning);
    return true;
}

void goro_syscall_exit(void)
{
    g *gp = getg();
    if (!onG(gp) || readgstatus(gp) != Gsyscall)
        return;
    m *mp = gp->m;
    if (exitsyscallfast(mp, gp)) {
        traceGoSysExit(gp, true);
        return;
    }
    /* sysmon gave the P away. Another idle one? (systemstack: the lock
     * and the wakeups run on g0; errno is left alone.) */
    if (atomic_load(&sched.npidle) > 0 && systemstack(exitsyscall_pidle, NULL)) {
        casgstatus(gp, Gsyscall, Grunning);
        traceGoSysExit(gp, true);
        return;
    }
    mcall(exitsyscall0);
}

/* ---- creating Gs --------------------------------------------------------- */

struct newprocargs {
    goro_fn fn;
    void *arg;
    goro_group *grp;   /* the new G's group */
    uintptr_t pc;      /* the creator's return address (g->gopc) */
};

/* newproc1 creates a G running fn(arg) and puts it on the current P's
 * runnext. Must run on g0, with a P. Returns the G's id. */
static uintptr_t newproc1(void *a)
{
    struct newprocargs *na = a;
    m *mp = getg()->m;
    p *pp = mp->p;
    g *newg = gfget(pp);
    if (newg == NULL) {
        newg = malg(rtconf.stack_min);
        casgstatus(newg, Gidle, Gdead);
        allgadd(newg);  /* published as Gdead: scans skip it */
    }
    if (newg->stack.hi == 0)
        throw("newproc1: newg missing stack");
    newg->group = na->grp;
    if (na->grp != NULL) {
        atomic_fetch_add(&na->grp->live, 1);
        if (na->grp->fixed != 0) {
            /* Its code may not check the stack: one fixed stack, never
             * moved (the starting one goes back to the cache). */
            stackfree(newg->stack);
            newg->stack = stackallocfixed(na->grp->fixed);
            newg->stackguard0 = newg->stack.lo + StackGuard;
            newg->fixedstack = true;
        }
    }
    newg->createdat = nanotime_coarse();
    newg->gopc = na->pc;
    newg->parentgoid = mp->curg != NULL ? mp->curg->goid : 0;
    /* Only lines 0 and 2 of the G (runtime2.h): a dead G's other fields
     * are as goexit0 (or galloc) left them, and no switch frame: gogo
     * starts a G whose sched.sp is 0 in gostart. */
    newg->sched.sp = 0;
    newg->fn = na->fn;
    newg->arg = na->arg;
    if (pp->goidcache == pp->goidcacheend) {
        /* Take ids in batches so that Ps do not fight over sched.goidgen. */
        pp->goidcache = atomic_fetch_add(&sched.goidgen, 16) + 1;
        pp->goidcacheend = pp->goidcache + 16;
    }
    newg->goid = pp->goidcache++;
    if (pp->spawnswitch != pp->stats.ctx_switches) {
        pp->spawnswitch = pp->stats.ctx_switches;
        pp->spawnrun = 0;
    }
    pp->spawnrun++;
    traceGoCreate(newg, newg->parentgoid);
    casgstatus(newg, Gdead, Grunnable);
    pp->stats.gs_created++;
    runqput(pp, newg, true);
    if (atomic_load_explicit(&mainStarted, memory_order_relaxed))
        wakep();
    return (uintptr_t)newg->goid;
}

/* spawnbackoff: a G that spawns faster than the Ps run what it spawns
 * goes to the back of the global queue, behind the Gs it made (as a
 * preempted G does), once it has spawned more than a local queue's worth
 * in its current run while the global queue holds more than spawnBacklog
 * Gs. Without it a loop of goro_go piles up Gs, each with its
 * stack, for as long as it runs: memory grows, and the Gs go cold in the
 * caches before they run, so the Ps run them slower still
 * (bench/RESULTS.md: spawn). Gs that spawn a few each (a tree of Gs) are
 * left alone: a yield there only reorders work that must all be live
 * anyway. Not while the G keeps preemption off or holds a runtime lock. */
enum { spawnBacklog = 4 * RUNQ_SIZE };

static inline void spawnbackoff(g *gp)
{
    if (unlikely(gp->m->p->spawnrun > RUNQ_SIZE) &&
        __atomic_load_n(&sched.runqsize, __ATOMIC_RELAXED) > spawnBacklog &&
        gp->preemptoff == 0 && gp->m->locks == 0)
        mcall(gopreempt_m);
}

/* ---- public API ----------------------------------------------------------- */

int64_t goro_go(goro_fn fn, void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    if (inforkedchild())
        return -ECHILD;
    struct newprocargs na = {fn, arg, gp->group,
                             (uintptr_t)__builtin_return_address(0)};
    int64_t id = (int64_t)systemstack(newproc1, &na);
    spawnbackoff(gp);
    return id;
}

/* newproc spawns fn(arg) into grp (NULL: no group), from a G; pc is the
 * creator's return address, for tracebacks. */
int64_t newproc(goro_fn fn, void *arg, goro_group *grp, uintptr_t pc)
{
    struct newprocargs na = {fn, arg, grp, pc};
    int64_t id = (int64_t)systemstack(newproc1, &na);
    spawnbackoff(getg());
    return id;
}

void goro_yield(void)
{
    if (onG(getg()))
        mcall(gosched_m);
}

/* lockthread_sys: goro_lock_thread on g0, where no preemption can stop
 * it half done. */
static uintptr_t lockthread_sys(void *arg)
{
    g *gp = arg;
    m *mp = gp->m;
    if (mp->lockedExt == INT32_MAX)
        return (uintptr_t)-EOVERFLOW;
    if (mp->lockedExt++ == 0)
        lockm(mp, gp);
    return 0;
}

static uintptr_t unlockthread_sys(void *arg)
{
    g *gp = arg;
    m *mp = gp->m;
    if (mp->lockedExt > 0 && --mp->lockedExt == 0)
        unlockm(mp, gp);
    return 0;
}

int goro_lock_thread(void)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    return (int)(intptr_t)systemstack(lockthread_sys, gp);
}

int goro_unlock_thread(void)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    return (int)(intptr_t)systemstack(unlockthread_sys, gp);
}

int64_t goro_id(void)
{
    g *gp = getg();
    return onG(gp) ? gp->goid : 0;
}

/* Not split-stack: calling libc's __errno_location from a split-stack
 * function would make every user of errno demand the non-split headroom.
 * This frame is 8 bytes and __errno_location a leaf. */
__attribute__((no_split_stack)) int *goro_errno_location(void)
{
    return __errno_location();
}

/* schedinit sets up the Ps and the stack allocator from rtconf. */
static int schedinit(void)
{
    ticks0 = cputicks();
    nanotime0 = nanotime();
    stackinit();
    gomaxprocs = rtconf.procs;
    allp = mallocx(sizeof(p *) * gomaxprocs, MALLOCX_ZERO);
    if (allp == NULL)
        return -ENOMEM;
    for (int32_t i = 0; i < gomaxprocs; i++) {
        p *pp = mallocx(sizeof(p), MALLOCX_ZERO | MALLOCX_ALIGN(64));
        if (pp == NULL)
            return -ENOMEM;
        pp->id = i;
        atomic_init(&pp->status, Pidle);
        allp[i] = pp;
    }
    /* The global queue's segments: a ring to start with, so that a G
     * never needs to allocate one (rsegpush). */
    sched.rsegcap = 64;
    sched.runqseg = mallocx(sched.rsegcap * sizeof(runqseg), 0);
    if (sched.runqseg == NULL)
        return -ENOMEM;
    /* All but P0 start idle; m0 takes P0. */
    lock(&sched.lock);
    for (int32_t i = gomaxprocs - 1; i >= 1; i--)
        pidleput(allp[i]);
    unlock(&sched.lock);
    return 0;
}

/* addressspace checks, under a limit on the address space (RLIMIT_AS,
 * `ulimit -v`), that there is room for what the runtime maps as it starts:
 * the stacks of its first threads (the loop thread's and an M's per P)
 * and startRoom for the allocator's first extents and the stack chunks.
 * (Measured with tests/link/link.c on 2 Ps: it ran from a limit of 49 MiB
 * up, 30 MiB above what the program had mapped before goro_run; counting
 * one M for both Ps, the check let it start, and crash, from 41 MiB.)
 * Without it, a small limit ended in a crash inside jemalloc on the new
 * thread (it does not survive a failed mapping there); with it, goro_run
 * returns -ENOMEM and says what is missing. A reservation of that size,
 * never touched and given back at once, is the test. */
enum { startRoom = 12 << 20 };

static int addressspace(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    size_t stack = 8 << 20;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_getstacksize(&attr, &stack);
        pthread_attr_destroy(&attr);
    }
    size_t need = (size_t)(rtconf.procs + 1) * stack + startRoom;
    void *p = mmap(NULL, need, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        print("goro: the address-space limit (RLIMIT_AS, ulimit -v: %llu "
              "KiB) leaves less than the %zu MiB the runtime maps as it "
              "starts (%d thread stacks of %zu KiB, and %d MiB)\n",
              (unsigned long long)(rl.rlim_cur >> 10), need >> 20,
              (int)rtconf.procs + 1, stack >> 10, startRoom >> 20);
        return -ENOMEM;
    }
    munmap(p, need);
    return 0;
}

int goro_run_config(const goro_config *cfg, goro_fn main_fn, void *arg)
{
    if (main_fn == NULL || cfg == NULL)
        return -EINVAL;
    if (getg() != NULL)
        return -EBUSY;
    /* The runtime leaves %fs:0x70 at 0 on threads it does not run. A value
     * there now was put by libgcc's segmented-stack support, whose
     * constructor sets it on the main thread: the program was linked with
     * libgcc's __morestack instead of goro's, and its first function call
     * on a G stack would start a segmented stack there. */
    if (getguard() != 0) {
        print("goro: this program's split-stack code is linked with libgcc's "
              "__morestack, not goro's: link with the flags of `pkg-config "
              "--libs goro` (they include -Wl,--whole-archive "
              "-lgoro_morestack)\n");
        return -ENOEXEC;
    }
    static pthread_once_t atfork = PTHREAD_ONCE_INIT;
    pthread_once(&atfork, atforkinit);
    int expected = 0;
    if (!atomic_compare_exchange_strong(&runtime_state, &expected, 1))
        return -EALREADY;
    /* A configuration refused starts nothing: the program may fix it and
     * call again. */
    int err = rtconfinit(cfg);
    if (err == 0)
        err = debugconfig_fromenv(&dbgconf);
    if (err == 0)
        err = addressspace();
    if (err != 0) {
        atomic_store(&runtime_state, 0);
        return err;
    }
    err = schedinit();
    if (err == 0)
        err = preemptinit();
    if (err == 0)
        err = loopinit();
    if (err == 0) {
        sigfatalinit();
        tracebackinit();
        traceinit();
        schedtraceinit();
    }
    if (err != 0) {
        preemptshutdown();
        atomic_store(&runtime_state, 2);
        return err;
    }

    /* The main G is made on m0's behalf here (newproc1 wants an M with a
     * P), then m0 starts on a thread of its own with P0 and runs it, and
     * this thread waits: it must be free to return (the essay, "The end"). */
    m0 = allocm();
    setg(m0->g0);
    acquirep(m0, allp[0]);
    struct newprocargs na = {main_fn, arg, NULL, 0};
    newproc1(&na);
    sched.maing = atomic_load(&allp[0]->runnext);
    releasep(m0);
    setg(NULL);
    m0->nextp = allp[0];
    atomic_store(&mainStarted, true);
    newosproc(m0);

    notesleep(&sched.mainexit);
    /* The main G returned (exitall). Give the Ms exitGrace to end. */
    int64_t deadline = nanotime() + exitGrace;
    for (int64_t now = nanotime(); now < deadline; now = nanotime())
        if (atomic_load_explicit(&sched.mdone.key, memory_order_acquire) ||
            futexsleep(&sched.mdone.key, 0, deadline - now) == 0)
            break;
    traceshutdown();
    schedtraceshutdown();
    if (atomic_load_explicit(&sched.mdone.key, memory_order_acquire) == 0) {
        /* Some G keeps its M: leave it what it may use (the loop thread,
         * the preemption signal); the process is about to exit. */
        atomic_store(&runtime_state, 2);
        return 0;
    }
    loopshutdown();
    preemptshutdown();
    atomic_store(&runtime_state, 2);
    return 0;
}
