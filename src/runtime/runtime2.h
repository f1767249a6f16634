/*
 * runtime2.h - the runtime's data structures: G, M, P, the scheduler, and
 * the internal interfaces between proc.c, stack.c, lock.c, netpoll.c, loop.c
 * and the rest. Names follow Go's runtime2.go so that a reader of Go's
 * runtime finds their way: a G is a goroutine, an M an OS thread, a P a
 * processor (the right to run Gs, with its run queue and caches).
 */
#ifndef GORO_RUNTIME2_H
#define GORO_RUNTIME2_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>

#include "asmdefs.h"
#include "goro.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define NORETURN __attribute__((noreturn))
/* gcc takes functions that never return for cold code and optimizes them
 * for size (a `div` for a constant modulus, ...): the scheduler's switch
 * path is the hottest code there is. */
#define HOT __attribute__((hot))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

typedef struct g g;
typedef struct m m;
typedef struct p p;
typedef struct sudog sudog;

/* ---- stacks ---------------------------------------------------------- */

/* Stack describes a G's stack: the bounds are exactly [lo, hi), with no
 * implicit data structures on either side. */
typedef struct stack {
    uintptr_t lo;
    uintptr_t hi;
} stack;

/* StackGuard: stackguard0 sits this many bytes above stack.lo. It must
 * cover, below a prologue check that passed: a small frame that is not
 * checked against its own size (gcc and clang compare %rsp itself for
 * frames under 256 bytes), the return address and morestack frame that
 * __morestack pushes (MF_SIZE + 8 = 280), and what runs without a check of
 * its own in between: the switch frame of an mcall or the words of a
 * systemstack (< 80), or a no_split_stack function (clang users must mark
 * variadic functions so: its register save area alone is 176 bytes). 928,
 * Go's value on linux/amd64, leaves 392 bytes for such unchecked frames. */
#define PAGESIZE        4096

#define StackGuard      928
#define StackSmall      256

/* Goroutine preemption request, stored into stackguard0 (and the M's guard
 * slot) to make the next prologue check fail. Greater than any real sp.
 * 0xfffffffffffffade. */
#define stackPreempt    ((uintptr_t)STACK_PREEMPT)

/* A free stack of the small orders is linked through its first word. */
typedef struct gclink {
    struct gclink *next;
} gclink;

/* The per-P cache of free small stacks of one order. Touched only by the
 * M that holds the P, on g0. */
typedef struct stackfreelist {
    gclink   *list;     /* linked list of free stacks */
    uintptr_t size;     /* total size of stacks in list */
} stackfreelist;

/* ---- gobuf, G -------------------------------------------------------- */

/* A stopped G's context: sp points at the switch frame (asmdefs.h) on the
 * G's own stack. Meaningless while the G runs. */
typedef struct gobuf {
    uintptr_t sp;
} gobuf;

/* G status values (Go's _G*). The Gscan bit may be or-ed into Grunnable,
 * Gwaiting and Gsyscall: a scan owns the stack meanwhile. All changes go
 * through casgstatus; reads through readgstatus. */
enum {
    /* Gidle: just allocated, not yet initialized. */
    Gidle = 0,
    /* Grunnable: on a run queue. Not executing user code; the stack is not
     * owned, but nobody else may take it either: scans take only Gwaiting
     * Gs, so the M that dequeues a G makes it Grunning with a store. */
    Grunnable = 1,
    /* Grunning: may execute user code; the stack is owned by this G; it is
     * not on a run queue; it has an M and a P. Only the G's own M changes
     * the status of a Grunning G (scans skip it). */
    Grunning = 2,
    /* Gsyscall: executing a blocking call; no user code; the stack is owned
     * by this G; it has an M, maybe no P. */
    Gsyscall = 3,
    /* Gwaiting: blocked in the runtime (parked). Not on a run queue; it is
     * recorded somewhere (a wait list, the timer heap) so it can be readied.
     * The stack is not owned, except that a channel operation may read or
     * write it under the channel's lock. */
    Gwaiting = 4,
    /* Gdead: unused: just exited, on a free list, or just created. No user
     * code; it may or may not have a stack allocated. */
    Gdead = 6,
    /* Gcopystack: its stack is being moved (newstack). Not on a run queue. */
    Gcopystack = 8,
    Gscan = 0x1000,
};
/* Status changes and who may make them (see casgstatus):
 *   Gidle -> Gdead                 malg, on g0
 *   Gdead -> Grunnable             newproc1 (owner P)
 *   Grunnable -> Grunning          execute (the M that dequeued it: store)
 *   Grunning -> Grunnable/Gwaiting/Gdead/Gcopystack  its own M (store)
 *   Gcopystack -> Grunning         newstack, its own M
 *   Gwaiting -> Grunnable          ready/injectglist (CAS: a scan may hold
 *                                  the G as Gwaiting|Gscan)
 *   Gwaiting -> Gwaiting|Gscan -> Gwaiting   a stack scan */

/* Why a G is Gwaiting (Go's waitReason). */
enum {
    waitReasonZero = 0,
    waitReasonSleep,
    waitReasonWaitGroup,
    waitReasonMutex,
    waitReasonChanReceive,
    waitReasonChanSend,
    waitReasonSelect,
    waitReasonIORead,        /* netpoll: fd readable (g->waitfd, on the
                                list of g->waitpd) */
    waitReasonIOWrite,       /* netpoll: fd writable (likewise) */
    waitReasonIOWait,        /* netpoll: fd readable or writable
                                (goro_wait_fd; likewise) */
    waitReasonFileIO,        /* netpoll: a uv_fs request (g->param); the
                                stack is pinned (stackscan skips the G) */
    waitReasonBlocking,      /* goro_blocking: fn runs on libuv's pool */
    waitReasonLoopCall,      /* a call on the loop thread (loopcall) */
    waitReasonCond,          /* sync.c: goro_cond_wait */
    waitReasonRWMutexRLock,  /* sync.c: a reader behind a writer */
    waitReasonRWMutexLock,   /* sync.c: a writer waiting for readers */
    waitReasonSemacquire,    /* sync.c: goro_sem_acquire */
    waitReasonJoin,          /* join.c: goro_join */
    waitReasonCount
};
HIDDEN extern const char *const waitReasonStrings[waitReasonCount];
/* Waits that only another G can end (a channel, a wait group, a mutex):
 * when every G waits so, none ever runs again (checkdead). Any other reason
 * has something outside the Gs that ends it (a timer, I/O). */
/* Waits on an fd's pollDesc (netpoll.c). */
static inline bool waitReasonIO(uint8_t r)
{
    return r == waitReasonIORead || r == waitReasonIOWrite ||
           r == waitReasonIOWait;
}
static inline bool waitReasonInternal(uint8_t r)
{
    return r == waitReasonWaitGroup || r == waitReasonMutex ||
           r == waitReasonChanReceive || r == waitReasonChanSend ||
           r == waitReasonSelect || r == waitReasonCond ||
           r == waitReasonRWMutexRLock || r == waitReasonRWMutexLock ||
           r == waitReasonSemacquire || r == waitReasonJoin;
}

struct g {
    /* The fields are grouped by who touches them, a cache line each
     * (galloc puts every G at the start of a line). The M that creates a
     * G and the M that runs and ends it are often on different cores, and
     * each line both touch moves between their caches twice in every life
     * of the G; the creator touches two lines (and line 1 one time in
     * eight, trackstamp), and not the G's stack (gogo starts a new G).
     * Offsets read by asm: asmdefs.h; the lines: runtime2.h's asserts.
     *
     * Line 0: both the creator (gfget, newproc1) and the M that runs
     * the G (execute, gogo, goexit0). */
    stack     stack;         /* [lo, hi); owned per the status above */
    gobuf     sched;         /* sp of the switch frame while not running */
    goro_fn   fn;            /* entry point and its argument */
    void     *arg;
    g        *schedlink;     /* run queue / free list / wait list link;
                                owned by whoever holds the G's list */
    struct goro_group *group; /* its group (group.c), inherited from the
                                creator; counted in group->live from
                                newproc1 to goexit0 */
    _Atomic uint32_t atomicstatus; /* Gidle..Gcopystack, | Gscan */
    uint8_t   trackseq;      /* scheduling latency sampling: every 8th time
                                the G becomes runnable, trackstamp ... */
    bool      fixedstack;    /* the stack is the group's fixed kind: never
                                moved, shrunk or cached (stack.c) */
    /* Line 1: the M that runs the G (execute, gogo, goexit0, the
     * scheduler's checks). */
    uintptr_t stackguard0;   /* compared with sp in the prologue (a copy
                                lives in %fs:0x70 while the G runs):
                                stack.lo + StackGuard, or stackPreempt to
                                force a trip into newstack */
    m        *m;             /* current M while running, else NULL */
    void     *asyncctx;      /* an asynchronously preempted G's extended
                                register state (XSAVE area), restored when
                                it resumes; owned by the G */
    int64_t   trackstamp;    /* ... this is cputicks() then, until execute
                                records the wait (0: not tracked) */
    m        *lockedm;       /* the M it is locked to (goro_lock_thread),
                                or NULL: written by the G on g0 while it
                                runs, read by the M that takes it from a
                                run queue (schedule: startlockedm) */
    void    **locals;        /* G-local values (sync.c): nlocals slots,
                                each a value and its key's generation;
                                allocated at the first goro_key_set */
    int       goerrno;       /* errno, saved when the G stops */
    uint32_t  stackneed;     /* free bytes below sched.sp that the G's live
                                frames were promised by their prologues
                                (up to the non-split headroom) and that a
                                shrink took away: execute gives them back
                                before the G runs (stackrestore); else 0 */
    int32_t   preemptoff;    /* goro_preempt_disable depth: no preemption
                                while > 0. Own G only. */
    uint8_t   waitreason;    /* meaningful in Gwaiting */
    bool      preempt;       /* preemption requested (sysmon, preempt.c);
                                cleared when the G is preempted or next
                                scheduled */
    uint8_t   callfree;      /* it ran on past a preemption request
                                until sysmon sent the signal: so many
                                later requests send the signal at once
                                (preemptone); a stop at a call clears it
                                (sysmon, newstack; a hint) */
    /* Line 2: the creator (newproc1), for ids and tracebacks; then
     * fields that only rare calls touch. */
    int64_t   goid;
    int64_t   createdat;     /* coarse nanotime at newproc1 (goro_ginfo's
                                age) */
    uintptr_t gopc;          /* return address of the goro_go (or
                                goro_group_go) that created it; 0 for the
                                main G */
    int64_t   parentgoid;    /* the creating G's goid; set with gopc */
    uint32_t  allgindex;     /* index in allgs */
    uint32_t  nlocals;
    struct goro_ctx *callctx; /* the context of the *_ctx call it is in,
                                or NULL; own G only */
    struct ctxwait *ctxw;    /* its registrations with the contexts of a
                                wait (ctxwaitMax), allocated at its first
                                wait with one; kept with the G */
    /* The rest: waits, timers, cancellation, the trace. */
    int64_t   waitsince;     /* coarse nanotime when first seen parked by
                                a stack scan or a dump; 0 when unknown
                                (gopark clears it) */
    struct goro_timer *after; /* its goro_after timer (time.c): stopped
                                when the G ends, kept with the G */
    int64_t   waketime;      /* for timers: nanotime() to wake at */
    _Atomic uint32_t selectDone; /* a select's cases: set by the one waker
                                   that wins (CAS) */
    int32_t   waitfd;        /* the fd of an I/O wait (waitReasonIO*) */
    uint32_t  heapidx;       /* index + 1 in time.c's heap of Gs; 0: not
                                in it (loop thread only) */
    int32_t   waitres;       /* how an I/O wait ended: 0 ready (retry the
                                call), or -errno (-ETIMEDOUT, -ECANCELED);
                                written by the loop thread before it
                                readies the G */
    sudog    *waiting;       /* sudogs this G waits on (channel ops), in
                                lock order; their elems may point into the
                                stack: copystack adjusts them */
    void     *param;         /* the sudog that woke this G (channels) */
    sudog    *mysudog;       /* this G's sudog for plain channel ops,
                                allocated on its first blocking one */
    struct pollDesc *waitpd; /* the pollDesc of an fd wait (set on g0 by
                                netpollcommit; pollDescs are never freed) */
    uint32_t  waitseq;       /* waitpd's seq then: a different seq means
                                the fd was closed meanwhile */
    uint32_t  waitcgen;      /* netpoll_closegen[waitfd] before the call
                                that gave EAGAIN (set by the G) */
    uint32_t  rdedges;       /* waitpd's edges before the G's last
                                goro_read (netpoll_rdknown) */
    bool      rdempty;       /* that read was short, of a TCP socket known
                                to waitpd: it took everything there was if
                                edges has not moved since (netpoll.c) */
    bool      waitskipped;   /* this read wait skipped its call: the
                                commit checks rdempty's claim (set by the
                                G, cleared by netpollcommit) */
    struct timer *waittimer; /* the deadline of its wait (a select, a
                                semaphore; time.c's gtimer): allocated at
                                its first such wait, pending only while it
                                waits; kept with the G, as mysudog */
    int64_t   waitarg;       /* sync.c's waits: a cond wait's ticket, a
                                semaphore acquire's weight; an fd wait
                                with contexts: its deadline */
    int32_t   waitres2;      /* sync.c's waits: how it ended (0, or
                                -ETIMEDOUT, -ECANCELED) */
    uint8_t   nwaitctx;      /* registrations the current wait uses */
    void    (*waitcancel)(g *gp, int err); /* ends its current
                                cancellable wait early with err (if the
                                wait has not ended otherwise): set by the
                                G before it parks, called by its wait
                                timer and its contexts' cancels */
    uint64_t  tracetick;     /* trace.c: cputicks() when its current state
                                began, written with each of its events by
                                whoever owns the G then */
    uint64_t  traceunpark;   /* trace.c: cputicks() of its unpark by a
                                running G (goready), recorded with its
                                start (0: none); by traceunparkby. Written
                                by the readier before it queues the G */
    int64_t   traceunparkby;
};

/* A G waiting on a channel (Go's sudog). Owned by the channel's wait queue
 * while queued, under the channel's lock. */
struct sudog {
    g        *gp;
    sudog    *next, *prev;   /* in the channel's waitq */
    void     *elem;          /* data element; may point into gp's stack */
    struct goro_chan *c;
    sudog    *waitlink;      /* g->waiting list */
    int32_t   caseidx;       /* select: index of the case */
    bool      isSelect;
    bool      success;       /* woken by a communication (not a close) */
    int16_t   cancelerr;     /* -errno: a context ended the wait (ctx.c);
                                in the padding, so that the sudog stays
                                64 bytes */
    struct note *tnote;      /* gp NULL: a thread that is not a G waits
                                on this note (foreign.c), the sudog on its
                                stack */
};

/* ---- M --------------------------------------------------------------- */

/* One-time notification on a futex: notesleep waits for notewakeup. */
typedef struct note {
    _Atomic uint32_t key;
} note;

/* A futex mutex (Go's lock_futex, with an unlock that is a plain store:
 * lock.c says why and how). Held only for short critical sections; while a
 * G holds one it must not be preempted or move (m->locks counts them). */
typedef struct mutex {
    _Atomic uint32_t key;       /* mutex_unlocked or mutex_locked */
    _Atomic uint32_t sleepers;  /* the threads in lock2's sleeping loop
                                   (mutexSleepers: unlock wakes one when
                                   non-zero) and how unlock fences
                                   (mutexFencing, mutexFenced): one word,
                                   so that a sleeper counts itself and
                                   reads the fence state in one step */
    _Atomic uint32_t waking;    /* a woken sleeper has yet to try again */
    _Atomic uint32_t wakeseq;   /* the futex sleepers sleep on: bumped by
                                   each wake */
    _Atomic uint32_t quiet;     /* fenced unlocks since a thread last began
                                   to sleep on the lock; a hint, counted
                                   without a locked instruction */
} mutex;
enum { mutex_unlocked = 0, mutex_locked = 1 };
/* mutexFencing: unlock fences (a thread has slept on the lock, and fewer
 * than lock_unfence_after unlocks have passed since). mutexFenced: and a
 * membarrier has run since mutexFencing was set, so a new sleeper need not
 * make one. lock.c, lock2, says why. */
enum { mutexFencing = 1u << 31, mutexFenced = 1u << 30,
       mutexSleepers = mutexFenced - 1 };

/* A group of Gs (group.c). name, fixed and udata are set at creation and
 * never change. */
struct goro_group {
    char      *name;
    struct goro_ctx *ctx;     /* the group's context (goro_group_cancel):
                                 created and freed with the group */
    uintptr_t  fixed;         /* fixed stack size, or 0: copying stacks */
    void      *udata;
    _Atomic int64_t live;     /* Gs from newproc1 to goexit0 */
    mutex      lock;          /* orders the last exit's wakeup against
                                 goro_group_wait and goro_group_free */
    int        waitfd;        /* eventfd a waiter reads, or -1; under lock */
    bool       waiting;       /* a G is in goro_group_wait; under lock */
    _Atomic int64_t fds;      /* fds its Gs opened through goro and did not
                                 goro_close (fdowner.c, under fdownlock) */
};

/* A file of /proc the runtime keeps open: fd -1 not open, -2 cannot be;
 * its device and inode tell whether the fd is still the runtime's. */
typedef struct procfile {
    int      fd;
    uint64_t dev, ino;
} procfile;

struct m {
    g        *g0;            /* goroutine with the scheduling stack; offset
                                known to asm */
    g        *curg;          /* current running G */
    p        *p;             /* attached P for executing Gs (NULL if none) */
    p        *nextp;         /* P to acquire when woken (set by startm) */
    m        *schedlink;     /* idle M list, under sched.lock */
    int32_t   id;
    int32_t   locks;         /* runtime locks held: no preemption when > 0 */
    bool      spinning;      /* looking for work, counted in sched.nmspinning */
    note      park;          /* stopm sleeps here */
    pthread_t thread;
    int      *errnop;        /* this thread's errno slot */
    /* This thread's split-stack guard (%fs:0x70), which sysmon writes to
     * ask the running G to stop (preemptone). */
    _Atomic uintptr_t *guardslot;
    p        *oldp;          /* the P it held when its G entered a syscall */
    void     *xsavebuf;      /* where asyncPreempt saves the interrupted
                                G's extended state (swapped into
                                g->asyncctx on g0) */
    void     *sigstack;      /* the signal stack the runtime gave it */
    _Atomic uint32_t signalpending; /* a preemption signal is on its way */
    bool      dead;          /* exited: sysmon must not touch its thread
                                (under sched.sysmonlock) */
    /* gopark's arguments, for park_m on g0. */
    bool    (*waitunlockf)(g *, void *);
    void     *waitlock;
    uint64_t  fastrand;      /* per-M random state */
    /* The MXCSR and x87 control word this thread holds whenever it runs
     * on g0 (read and written by asm): set from the switch frame when a G
     * leaves for g0 (mcall, __morestack) and by gogo when it loads a G's;
     * g0's code changes neither. gogo loads a G's values only when they
     * differ. An MXCSR with reserved bits set (~0, allocm) means unknown. */
    uint32_t  fpmxcsr;
    uint16_t  fpucw;
    pid_t     tid;           /* its kernel thread id (preemptone's tgkill) */
    /* What sysmon reads of its thread before signalling it (threadsleeps,
     * preempt.c), under sched.sysmonlock: /proc/self/task/TID/stat,
     * opened the first time it is needed; whether it was seen waiting
     * since it was last seen computing, and its run time (ns) at the first
     * look that saw it running since (-1: none). Its CPU clock, set by
     * minit (hascpuclock false when pthread_getcpuclockid failed). */
    procfile  statf;
    procfile  syscallf;      /* .../TID/syscall (sysblocktake) */
    clockid_t cpuclock;
    bool      hascpuclock;
    bool      waited;
    int64_t   runbase;
    /* sysmon's: the thread's run time (ns) when the guard last went alone
     * to its G, or -1 (not read); see preemptone. */
    int64_t   guardrun;
    /* The lock whose unlock this thread is in, from before the store that
     * releases it until its last touch of it (NULL outside): lockquiesce
     * waits until no M shows a lock about to be freed (lock.c). */
    mutex *_Atomic unlocking;
    m        *alllink;       /* allm: every M made, never unlinked */
    /* sysmon taking the P of this M's thread while it is blocked in the
     * kernel without goro_syscall_enter (preempt.c, sysblocktake):
     * sysblockTaking while it decides, sysblockTaken once it took it;
     * cleared by the M in newstack (sysblockback), where the thread's
     * first call after the block takes it (the guard is stackPreempt). */
    _Atomic uint32_t sysblock;
    /* A stall report asked of the signal handler (stallone, preempt.c):
     * sysmon stores the ns the G has held its P in stallns and the P's
     * switch count of that run (p->stats.ctx_switches) in stallrun, then
     * the G's id in stallgoid (store-release); the handler takes the id
     * with an exchange (acquire) and reports only when its curg is that
     * G in that same run (the G may have been stopped, and run again,
     * since sysmon looked). */
    _Atomic int64_t stallgoid;
    _Atomic int64_t stallns;
    _Atomic uint64_t stallrun;
    /* asyncpreempt_m until gopreempt_m has dropped the G: the G is on its
     * way off this M, and a stall report would blame it for the runtime's
     * stop (an allocation, a lock) on a thread the machine held back.
     * Written and read by this M's thread only (the handler). */
    _Atomic bool stopping;
    /* Locked Gs (proc.c, "Locked Gs"). lockedg and lockedExt are written
     * only by the locked G on g0 while it runs on this M (and by goexit0);
     * lockedg != NULL iff lockedExt > 0 iff lockedg->lockedm == this M. */
    g        *lockedg;       /* the G locked to this M, or NULL */
    uint32_t  lockedExt;     /* goro_lock_thread nesting depth */
    bool      lockedwake;    /* its note was woken for stoplockedm and it
                                has not yet woken from it (sched.lock) */
    m        *lockedlink;    /* in sched.mlocked while lockedg != NULL
                                (sched.lock) */
};
enum { sysblockNone = 0, sysblockTaking = 1, sysblockTaken = 2 };

/* ---- P --------------------------------------------------------------- */

#define RUNQ_SIZE 256

/* P status. Pidle: on the idle list or being handed over, no M.
 * Prunning: owned by an M running user code or the scheduler.
 * Psyscall: its G is in a blocking call (goro_syscall_enter); the P has no
 * M and whoever wins a CAS out of Psyscall owns it: the M coming back
 * (exitsyscall), or sysmon taking it away (retake -> handoffp). */
enum { Pidle = 0, Prunning = 1, Psyscall = 2 };

/* What sysmon last saw of a P and did about it (sysmon only): retake
 * (proc.c) writes it, the policy (preempt.c) reads it. */
typedef struct sysmontick {
    uint32_t schedtick;      /* p->schedtick at schedwhen */
    int64_t  schedwhen;      /* when sysmon first saw that tick */
    uint32_t syscalltick;
    int64_t  syscallwhen;
    bool     preempted;      /* sysmon asked the G of schedtick to stop */
    bool     quick;          /* ... with the guard alone although it was
                                known to call nothing: the signal follows
                                asyncPreemptQuick later if it still runs */
    int64_t  preemptwhen;    /* ... at this time */
    int64_t  blockedwhen;    /* the last look for a blocked thread */
    /* GORO_STALL_REPORT: p->stats.ctx_switches when sysmon last saw it
     * change, at stallwhen; whether the G that has run since was
     * reported (once). */
    uint64_t stallswitches;
    int64_t  stallwhen;
    bool     stalled;
} sysmontick;

/* The statistics a P accumulates without atomics; goro_stats_get sums them
 * (reads are racy but each field is a whole word). */
/* Buckets of the scheduling latency histogram: i holds waits <= 1us << i
 * (the last: all longer ones). */
typedef struct pstats {
    uint64_t gs_created, gs_exited;
    uint64_t schedlat_count, schedlat_sum_ns;
    uint64_t schedlat_bucket[GORO_SCHEDLAT_BUCKETS];
    uint64_t ctx_switches;
    uint64_t stack_grows, stack_shrinks, stack_copied_bytes;
    int64_t  stack_bytes_inuse;
    uint64_t preempt_sync, preempt_async;
    uint64_t read_skips;     /* goro_reads that parked without a call */
} pstats;

struct p {
    int32_t   id;
    _Atomic uint32_t status; /* Pidle, Prunning or Psyscall (above) */
    m        *m;             /* back-link to associated M (NULL if idle) */
    p        *link;          /* idle P list, under sched.lock */
    uint32_t  schedtick;     /* incremented each time a G starts a new time
                                slice here; read by sysmon */
    uint32_t  syscalltick;   /* incremented on every goro_syscall_enter */
    sysmontick sysmontick;   /* sysmon only */

    /* Queue of runnable Gs. Accessed without lock: the owner M writes the
     * tail (store-release) and takes from the head; thieves take from the
     * head with CAS. */
    _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    g        *_Atomic runq[RUNQ_SIZE];
    /* runnext, if non-NULL, is a runnable G that was readied by the current
     * G and should run next instead of what's in runq if there's time left
     * in the running G's slice. It inherits that slice. */
    g        *_Atomic runnext;

    /* Free Gs (Gdead), with their starting stack. Owner M only. */
    g        *gfree;
    int32_t   gfreecnt;

    /* goid cache: ids [goidcache, goidcacheend) belong to this P. */
    int64_t   goidcache, goidcacheend;
    /* Gs spawned by the running G since stats.ctx_switches was
     * spawnswitch, i.e. in its current run (newproc1; spawnbackoff). */
    uint64_t  spawnswitch;
    uint32_t  spawnrun;

    stackfreelist stackcache[8];  /* per order; owner M on g0 only */

    /* trace.c: the P's recording slot; set by the first trace before it
     * sets traceon, never changed after. */
    struct tracepslot *traceslot;

    pstats    stats;
} __attribute__((aligned(64)));

/* ---- the scheduler ---------------------------------------------------- */

typedef struct schedt {
    mutex     lock;          /* protects everything below not atomic */

    m        *midle;         /* idle Ms waiting for work */
    int32_t   nmidle;
    int32_t   mnext;         /* number of Ms created, next M id */
    _Atomic int32_t nmspinning; /* Ms looking for work */

    p        *pidle;         /* idle Ps */
    _Atomic int32_t npidle;

    /* Global runnable queue: a schedlink chain, cut into segments (runs
     * of Gs put there together, proc.c's runqseg): runqseg is a ring of
     * rsegcap, rsegn of them from rseghead, oldest first, whose lengths
     * sum to runqsize. Under lock. */
    g        *runqhead, *runqtail;
    int32_t   runqsize;
    struct runqseg *runqseg;
    uint32_t  rsegcap, rseghead, rsegn;

    /* Global cache of dead Gs, in two generations (gfscan): gfree holds
     * the Gs put there since the last stack scan, gfreeold those of the
     * interval before, which the next scan releases; each a list of batches
     * (proc.c, gfbatchpush). Under gflock. */
    mutex     gflock;
    g        *gfree, *gfreeold;
    int32_t   ngfree, ngfreeold;

    /* sysmon: held for a whole retake, and by an exiting M while it marks
     * itself dead, so that sysmon never signals or writes the guard of a
     * thread that is gone. */
    mutex     sysmonlock;
    bool      sysmonwait;    /* sysmon stopped: every P idle (sched.lock) */

    _Atomic int64_t goidgen;
    _Atomic bool exiting;    /* main G returned: Ms exit */
    g        *maing;
    m        *mlocked;       /* Ms with a locked G (m->lockedlink), for
                                exitall to wake those asleep in stoplockedm */
    /* The end of the runtime (proc.c, "exit"): goro_run's thread sleeps on
     * mainexit until exitall; mdone is woken when the last M has ended
     * (nmexited == mnext, both under lock; no M is made once exiting). */
    note      mainexit, mdone;
    int32_t   nmexited;
} schedt;

/* ---- configuration -------------------------------------------------- */

/* The runtime's knobs are goro_config (goro.h), one table of them in
 * config.c; rtconf is the copy the runtime reads, set once by goro_run_config
 * before any thread starts and never written again. */

/* Debugging switches from the environment (GORO_TRACE, GORO_SCHEDTRACE;
 * config.c's debugconfig_fromenv), read by every start; dbgconf is set
 * once before any thread starts. */
typedef struct debugconfig {
    const char *trace_file;      /* GORO_TRACE: the execution trace's file
                                    (trace.c), or NULL */
    int64_t   schedtrace_ns;     /* GORO_SCHEDTRACE: report interval; 0 off */
    bool      schedtrace_detail; /* ... with every P and G (",detail") */
} debugconfig;

/* GORO_TRACEBACK levels (Go's GOTRACEBACK; traceback.c says what each
 * prints), equal to goro.h's GORO_TRACEBACK_*. */
enum { tracebackNone = 0, tracebackSingle, tracebackAll, tracebackCrash };

/* ---- globals ---------------------------------------------------------- */

extern HIDDEN schedt sched;
extern HIDDEN p **allp;
extern HIDDEN int32_t gomaxprocs;
extern HIDDEN goro_config rtconf;
extern HIDDEN debugconfig dbgconf;
extern uintptr_t goro_nonsplit_headroom; /* read by asm */
extern HIDDEN __thread g *goro_tls_g __attribute__((tls_model("initial-exec")));

/* Every G ever created, under allglock (proc.c). */
extern HIDDEN mutex allglock;
extern HIDDEN g **allgs;
extern HIDDEN uint32_t allglen;
HIDDEN void forallg(void (*fn)(g *gp, void *arg), void *arg);
/* gfscan: the stack scan's part of the G free lists: releases the dead Gs
 * that sat unused for a whole scan interval (proc.c). */
HIDDEN int gfscan(void);

/* Global statistics for work done without a P (atomics). */
extern HIDDEN pstats gstats;
/* sumstats: gstats plus every P's stats (metrics.c). */
HIDDEN pstats sumstats(void);

/* ---- asm (amd64.S) --------------------------------------------------- */

HIDDEN NORETURN void gogo(g *gp);
HIDDEN void mcall(void (*fn)(g *));
HIDDEN uintptr_t systemstack(uintptr_t (*fn)(void *), void *arg);

/* getg returns the running G (g0 on the scheduler stack, NULL on a thread
 * that is not an M). Reloaded from TLS at every use: a G may have moved to
 * another thread across any call, and the compiler would otherwise reuse the
 * thread pointer it read before the call. */
static inline g *getg(void)
{
    g *gp;
    __asm__ volatile("movq goro_tls_g@gottpoff(%%rip), %0\n\t"
                     "movq %%fs:(%0), %0" : "=r"(gp));
    return gp;
}

static inline void setg(g *gp)
{
    __asm__ volatile("movq goro_tls_g@gottpoff(%%rip), %%rax\n\t"
                     "movq %0, %%fs:(%%rax)" :: "r"(gp) : "rax", "memory");
}

/* rawsyscall6 makes a system call with an inline `syscall` instruction:
 * usable on a G stack (no call into code without the split-stack check,
 * which would make gold demand the non-split headroom of the caller) and
 * leaves errno alone. Returns the kernel's value: >= 0, or -errno. */
static inline long rawsyscall6(long nr, long a, long b, long c, long d,
                               long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
                       "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* onG: gp (getg()) is a G running user code: not g0 (the scheduler's
 * stack) and not a thread the runtime does not run (NULL). The public
 * entry points that need a G check this first. */
static inline bool onG(g *gp)
{
    return gp != NULL && gp != gp->m->g0;
}

/* The split-stack guard of this thread (%fs:0x70). */
/* memmove_nolibc / memclr_nolibc: copies on G stacks without calling libc
 * (which would make the caller demand the non-split headroom). */
static inline void memmove_nolibc(void *dst, const void *src, size_t n)
{
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) :: "memory");
}

static inline void memclr_nolibc(void *dst, size_t n)
{
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0) : "memory");
}

static inline void setguard(uintptr_t v)
{
    __asm__ volatile("movq %0, %%fs:0x70" :: "r"(v) : "memory");
}

static inline uintptr_t getguard(void)
{
    uintptr_t v;
    __asm__ volatile("movq %%fs:0x70, %0" : "=r"(v));
    return v;
}

static inline uintptr_t getsp(void)
{
    uintptr_t sp;
    __asm__ volatile("movq %%rsp, %0" : "=r"(sp));
    return sp;
}

/* ---- proc.c ------------------------------------------------------------ */

HIDDEN uint32_t readgstatus(g *gp);
HIDDEN int64_t nanotime(void);
/* cputicks reads the time-stamp counter (Go's cputicks): no call, so it
 * may run on a G's stack where nanotime's libc call would demand the
 * non-split headroom. schedlat_record converts ticks to time. */
static inline uint64_t cputicks(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
HIDDEN void casgstatus_slow(g *gp, uint32_t oldval, uint32_t newval);

/* casgstatus moves gp from oldval to newval; the only way a status changes.
 * If a scan holds gp (the Gscan bit is set) it waits for the scan to end;
 * any other mismatch is a broken invariant and throws.
 *
 * Leaving Grunning, Grunnable or Gdead needs no CAS: only the G's own M
 * changes the status of a running G, only the M that took a G off a run
 * queue changes a runnable one, and only the holder of a dead G (the P
 * whose free list it was on, or malg's caller) revives it (scans take only
 * Gwaiting Gs; a preemption request writes stackguard0, not the status), so
 * a checked store-release suffices: two locked instructions fewer on every
 * switch and every spawn. Inline: it is on the switch path. */
static inline bool casgstatus_owned(uint32_t oldval)
{
    return oldval == Grunning || oldval == Grunnable || oldval == Gdead;
}

static inline __attribute__((always_inline)) void
casgstatus(g *gp, uint32_t oldval, uint32_t newval)
{
    /* Sample one in eight runnable periods for the scheduling latency
     * histogram (Go's gTrackingPeriod); execute records them. */
    if (newval == Grunnable && unlikely((++gp->trackseq & 7) == 0))
        gp->trackstamp = (int64_t)cputicks();
    if (casgstatus_owned(oldval) && newval != oldval &&
        !(newval & Gscan) &&
        likely(atomic_load_explicit(&gp->atomicstatus,
                                    memory_order_relaxed) == oldval)) {
        atomic_store_explicit(&gp->atomicstatus, newval, memory_order_release);
        return;
    }
    /* Readying a parked G (goready, every hand-over): one CAS here; the
     * slow path waits out a scan that holds it. */
    if (oldval == Gwaiting && newval == Grunnable) {
        uint32_t cur = Gwaiting;
        if (likely(atomic_compare_exchange_strong_explicit(
                &gp->atomicstatus, &cur, Grunnable, memory_order_acq_rel,
                memory_order_acquire)))
            return;
    }
    casgstatus_slow(gp, oldval, newval);
}
HIDDEN void groupexit(g *gp);    /* goexit0's half of group.c, on g0 */
/* newproc: from a G; pc is the creator's (g->gopc) */
HIDDEN int64_t newproc(goro_fn fn, void *arg, struct goro_group *grp,
                       uintptr_t pc);
HIDDEN stack stackallocfixed(uintptr_t n);  /* a group's fixed stack */
HIDDEN void stackfreefixed(stack stk);
HIDDEN int64_t nanotime_coarse(void);
HIDDEN bool castogscanstatus(g *gp, uint32_t oldval, uint32_t newval);
HIDDEN NORETURN void schedule(void);
HIDDEN void gopark(bool (*unlockf)(g *, void *), void *lock, uint8_t reason);
HIDDEN void goready(g *gp);
HIDDEN void ready(g *gp);            /* must run on g0 or a non-M thread */
HIDDEN void injectglist(g *head);    /* Gwaiting list -> runnable, any thread */
HIDDEN uint32_t fastrandn(uint32_t n);
HIDDEN void badmcall(void);
HIDDEN bool runqput(p *pp, g *gp, bool next);
HIDDEN g *runqget(p *pp, bool *inheritTime);
HIDDEN g *runqsteal(p *pp, p *p2, bool stealRunNextG);
HIDDEN bool runqempty(p *pp);
HIDDEN uint32_t runqlen(p *pp);
HIDDEN void globrunqput(g *gp);
HIDDEN pstats *mystats(void);
HIDDEN NORETURN void gopreempt_m(g *gp);
HIDDEN int64_t sysmon(void);          /* one tick, on the loop thread */

/* ---- preempt.c ----------------------------------------------------------- */

/* The signal sysmon sends to preempt a G that calls nothing (Go's too). */
#define SIGPREEMPT SIGURG

/* The preemption policy's bounds, in ns but callfreeSlices: what sysmon
 * waits for before it acts, and how often it looks. The states and
 * transitions they time are the table at the top of preempt.c; the time
 * slice (sched.time_slice) and the stall threshold (sched.stall_report)
 * are knobs (rtconf, config.c). */
enum {
    sysmonMinDelay = 20000,          /* sysmon's tick while it takes Ps */
    sysmonMaxDelay = 10000000,       /* ... doubled up to this when not */
    sysmonSliceTick = 1000000,       /* shortest tick kept for slices: a
                                        G runs 1 to 1.125 slices, or this
                                        more for slices under 8 of it */
    forceSyscallRetake = 10000000,   /* a P in a system call this long is
                                        taken even with nothing waiting */
    asyncPreemptGrace = 200000,      /* guard alone to signal: a G that
                                        calls stops within it */
    asyncPreemptQuick = 50000,       /* guard alone to signal for a G
                                        known to call nothing */
    ranSinceGuard = 50000,           /* CPU a G needs to reach a call and
                                        stop at the guard: run this long
                                        past it, it calls nothing */
    callfreeSlices = 8,              /* requests that send the signal at
                                        once to a G known to call nothing,
                                        before the guard goes alone again */
    sliceLook = 100000,              /* looks this often after a stop, */
    sliceLookFor = 1000000,          /* for this long, */
    sliceLookMin = 4000000,          /* for slices this long or more */
    blockedLook = 1000000,           /* a G that has run this long while
                                        Gs wait: is its thread blocked in
                                        the kernel? (preemptblocked) */
    wokeRun = 100000,                /* CPU a thread seen waiting must run
                                        before it is taken as computing:
                                        far more than a call's way out */
};
/* What sysmon is to do at a look at a P running the G of the slice it
 * has timed since pd->schedwhen (preemptpolicy): nothing; look whether
 * its thread is blocked in the kernel; ask the G to stop (the slice is
 * over); send the signal (asked, the grace is over); wait (asked). From
 * preemptAsk on, the slice is over. */
enum { preemptNone, preemptBlocked, preemptAsk, preemptSignal, preemptWait };
HIDDEN int preemptpolicy(p *pp, const sysmontick *pd, int64_t now,
                         int64_t slice);
/* the next look due for a G sysmon asked to stop, or INT64_MAX */
HIDDEN int64_t preemptnextlook(const sysmontick *pd, int64_t now,
                               int64_t slice);
/* report the P's G as stalled now (stallone) */
HIDDEN bool stalldue(const sysmontick *pd, int64_t now, int64_t stall,
                     int64_t slice);
/* take the P from its M in a system call and hand it off (handoffp) */
HIDDEN bool syscallhandoff(p *pp, const sysmontick *pd, int64_t now);
HIDDEN int preemptinit(void);        /* the preemption signal's handler */
HIDDEN void preemptshutdown(void);
HIDDEN bool preemptone(p *pp, bool signal); /* ask pp's G to stop (sysmon) */
HIDDEN void preemptblocked(p *pp);  /* its P, if its thread is blocked */
HIDDEN bool syscallenterfor(p *pp, m *mp, g *gp);
HIDDEN bool sysblockback(m *mp, g *gp);
HIDDEN void gostart(void);          /* where every G begins (proc.c) */
HIDDEN extern _Atomic bool forkedchild;  /* see proc.c */
static inline bool inforkedchild(void)
{
    return __builtin_expect(
        atomic_load_explicit(&forkedchild, memory_order_relaxed), 0);
}
/* Where gogo resumes a G stopped in its prologue (amd64.S): reached by
 * a ret from a switch frame, never a live return address. */
HIDDEN void morestack_resume(void);
HIDDEN void alloc_resume(void);
HIDDEN NORETURN void exitsyscall0(g *gp);
/* report pp's G stalled in its run of P switch count run (sysmon) */
HIDDEN void stallone(p *pp, int64_t ns, uint64_t run);
HIDDEN bool canpreempt(m *mp, g *gp);
HIDDEN int preemptminit(m *mp);      /* per-M state for async preemption */
HIDDEN void preemptmdrop(m *mp);
HIDDEN void preemptmexit(m *mp);     /* its thread ends (sysmonlock held) */
HIDDEN void asyncPreempt(void);      /* asm: where a preempted thread lands */
HIDDEN void asyncPreemptEnd(void);   /* asm: the end of asyncPreempt's code */
HIDDEN NORETURN void asyncpreempt_m(g *gp);
extern uint32_t goro_xsave_mode;     /* read by asm: 0 FXSAVE, 1 XSAVE */

/* ---- signal.c ---------------------------------------------------------- */

HIDDEN void sigfatalinit(void);     /* the crash report for SIGSEGV & co */
HIDDEN void minitSignalMask(sigset_t *old); /* an M blocks process signals */

/* ---- traceback.c ------------------------------------------------------- */

HIDDEN void tracebackinit(void);    /* the SIGQUIT dump (goro_run) */
HIDDEN void tracebackthrow(void);   /* every G's stack, for throw */
extern HIDDEN _Atomic int throwing; /* a throw is printing (panic.c) */
HIDDEN void tracebackcrash(void *ucontext, g *self); /* signal.c */
/* The stall report of gp, running on mp, which has held P pid for ns: its
 * stack from ucontext (the preemption signal's handler), or, NULL, its
 * header alone (sysmon, for a thread that waits in the kernel). */
HIDDEN void tracebackstall(void *ucontext, g *gp, m *mp, int32_t pid,
                           int64_t ns);

/* ---- schedtrace.c ------------------------------------------------------ */

HIDDEN void schedtraceinit(void);     /* GORO_SCHEDTRACE (goro_run) */
HIDDEN void schedtraceshutdown(void);

/* ---- stack.c ----------------------------------------------------------- */

HIDDEN void stackinit(void);
HIDDEN stack stackalloc(uintptr_t n);
HIDDEN void stackfree(stack stk);
HIDDEN void stackrestore(g *gp);    /* undo a shrink before gp runs */
HIDDEN void stackcacherefill(p *pp, int order);
HIDDEN void stackcacherelease(p *pp, int order);
HIDDEN void stackcache_clear(p *pp);
HIDDEN int stackorder(uintptr_t n);
HIDDEN void newstack(g *gp);
HIDDEN void morestackbad(g *gp, uintptr_t frame);
HIDDEN void copystack(g *gp, uintptr_t newsize);
HIDDEN uintptr_t stackpool_bytes(int order); /* free bytes in the global pool */
HIDDEN bool shrinkstack(g *gp);
HIDDEN void adjustsudogs(g *gp, uintptr_t oldsp, uintptr_t oldhi,
                         uintptr_t delta);
HIDDEN int stackscan(void);
/* A span of the stack allocator's chunks for other runtime structures
 * (the Gs): its base; *size bytes, aligned to them; given back whole by
 * spanput (with the *chunk spanget set), its pages at the next scan. */
HIDDEN void *spanget(void **chunk, uintptr_t *size);
HIDDEN void spanput(void *base, void *chunk);

/* ---- chan.c ------------------------------------------------------------ */

HIDDEN void lockwaiting(g *gp);   /* lock the channels gp waits on */
HIDDEN void unlockwaiting(g *gp);
HIDDEN size_t chansize(size_t elemsize, size_t capacity);
HIDDEN void chaninit(goro_chan *c, size_t elemsize, size_t capacity);
HIDDEN void chanfreecheck(goro_chan *c);
HIDDEN void chanquiesce(goro_chan *c);
HIDDEN bool chansendnb(goro_chan *c, const void *elem); /* any thread */
HIDDEN bool chanrecvnb(goro_chan *c, void *elem);       /* any thread */

/* ---- sema.c ------------------------------------------------------------ */

HIDDEN void *zalloc(size_t size); /* zeroed, via g0; NULL when out of memory */
HIDDEN void zfree(void *ptr);

/* ---- foreign.c ---------------------------------------------------------- */

/* Threads that are not Gs and may still hand work to Gs: while > 0 a
 * runtime whose Gs all wait on each other is not deadlocked (checkdead). */
extern HIDDEN _Atomic int32_t foreignthreads;
HIDDEN void foreignthread(void);  /* count the calling thread until it exits */
/* foreignblock queues the calling thread (not a G) on q with elem, releases
 * c->lock and sleeps until a partner or a close wakes it: 0, or -EPIPE. */
HIDDEN int foreignblock(struct goro_chan *c, mutex *lk, void *q, void *elem,
                        void (*enq)(void *q, sudog *sg));

/* ---- hosts.c ----------------------------------------------------------- */

/* hostslookup answers node from /etc/hosts where getaddrinfo would, with
 * the same list: 1 and *gai (getaddrinfo's code; 0: *res, for
 * freeaddrinfo), or 0: ask getaddrinfo. hints has no address, name or
 * next. On g0. */
struct addrinfo;
HIDDEN int hostslookup(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res,
                       int *gai);
HIDDEN void hostsrecheck(void);  /* the next lookup checks the files */

/* ---- panic.c ----------------------------------------------------------- */

/* Ahead of lock.c's section: its inline unlock throws. */
HIDDEN NORETURN void throw(const char *s);
HIDDEN void printlock(void);
HIDDEN void printunlock(void);
HIDDEN void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
HIDDEN void vprint(const char *fmt, va_list ap);  /* print, without stack checks */

/* ---- lock.c ------------------------------------------------------------ */

HIDDEN extern _Atomic uint32_t unlockers; /* threads that are no M in unlock */
HIDDEN extern m *_Atomic allm;
HIDDEN void lockquiesce(mutex *l);
HIDDEN void lock2(mutex *l);
HIDDEN void unlock2(mutex *l);
/* lockfence: membarrier(2) is unavailable, so every unlock must order its
 * store before its load of sleepers itself (lock.c). Set once, before any
 * lock is used. */
HIDDEN extern bool lockfence;
HIDDEN extern int lock_active_spin, lock_passive_spin;
HIDDEN extern uint32_t lock_unfence_after;
HIDDEN uint32_t unlockfence(mutex *l);
HIDDEN extern _Atomic uint64_t lock_sleeps;

/* lock acquires l. May be called on a G, on g0, or on a thread that is not
 * an M (the netpoller's loop thread). The uncontended case, inline (one
 * exchange); lock2 (lock.c) spins and sleeps. */
static inline void lock(mutex *l)
{
    g *gp = getg();
    if (gp != NULL)
        gp->m->locks++;
    if (unlikely(atomic_exchange_explicit(&l->key, mutex_locked,
                                          memory_order_acquire) !=
                 mutex_unlocked))
        lock2(l);
}

/* unlock releases l: a store, then a look for sleepers, fenced only while
 * the lock has had one lately (lock2 says why that is enough). */
static inline void unlock(mutex *l)
{
    if (unlikely(atomic_load_explicit(&l->key, memory_order_relaxed) !=
                 mutex_locked))
        throw("unlock of unlocked lock");
    /* The store below lets another thread take l, and that one may free
     * it at once; this thread still reads l after the store. So it shows
     * l in its M (or counts itself in unlockers: a thread that is no M)
     * until its last touch, and frees of lock-bearing objects wait for
     * that (lockquiesce). A signal handler's unlock on this thread puts
     * back what it found. */
    g *gp = getg();
    m *mp = gp != NULL ? gp->m : NULL;
    mutex *outer = NULL;
    if (mp != NULL) {
        outer = atomic_load_explicit(&mp->unlocking, memory_order_relaxed);
        atomic_store_explicit(&mp->unlocking, l, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&unlockers, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&l->key, mutex_unlocked, memory_order_release);
    atomic_signal_fence(memory_order_seq_cst);  /* fenced after the store */
    uint32_t s = atomic_load_explicit(&l->sleepers, memory_order_relaxed);
    if (unlikely(lockfence | (s & mutexFencing)))
        s = unlockfence(l);
    if (unlikely(s & mutexSleepers))
        unlock2(l);
    if (mp != NULL) {
        atomic_store_explicit(&mp->unlocking, outer, memory_order_release);
        mp->locks--;
    } else {
        atomic_fetch_sub_explicit(&unlockers, 1, memory_order_release);
    }
}
HIDDEN void noteclear(note *n);
HIDDEN void notewakeup(note *n);
HIDDEN void notesleep(note *n);
HIDDEN long futexsleep(_Atomic uint32_t *addr, uint32_t val, int64_t ns);
HIDDEN void futexwakeup(_Atomic uint32_t *addr, uint32_t cnt);
HIDDEN void osyield(void);

/* ---- netpoll.c --------------------------------------------------------- */

struct uv_loop_s;  /* uv.h's uv_loop_t */
/* netpollinit maps the fd tables and makes the epoll fd; netpollshutdown
 * undoes it (loopinit, loopshutdown). */
HIDDEN int netpollinit(void);
HIDDEN void netpollshutdown(void);
/* netpoll_closegen[fd] counts goro_closes of fd (netpollclosing bumps it
 * before it looks for fd's pollDesc, whether or not fd has one: a G
 * between its EAGAIN and its park may be registering it right now). A G
 * loads it before the call that may give EAGAIN (g->waitcgen): if it
 * changed when the G comes to park, the fd was closed meanwhile and the G
 * must not sleep on it. */
extern HIDDEN _Atomic uint32_t *netpoll_closegen;
extern HIDDEN size_t netpoll_nfds;
static inline uint32_t netpoll_closegen_of(int fd)
{
    return (size_t)fd < netpoll_nfds
        ? atomic_load_explicit(&netpoll_closegen[fd], memory_order_acquire)
        : 0;
}
/* netpollcommit registers a G parking for fd I/O (gopark's unlockf, g0):
 * false when it must not sleep (readiness came first, fd closed; waitres
 * says which: the poll(2) events that came, > 0, or -errno). arg: NULL,
 * or goro_wait_fd's pollsnap: then it first checks that the fd's
 * registration is not stale (an fd closed without goro_close). */
HIDDEN bool netpollcommit(g *gp, void *arg);
/* What a goro_wait_fd saw of fd's pollDesc before its poll(2) (netpoll_snap,
 * any thread), passed to netpollcommit: if no event came since, the
 * readiness its latches hold is older than the poll that found the fd not
 * ready, and is dropped. */
typedef struct pollsnap {
    struct pollDesc *pd;
    uint32_t edges;
} pollsnap;
HIDDEN void netpoll_snap(int fd, pollsnap *s);
/* netpoll_rdknown: fd is the TCP socket of gp's last wait, its pollDesc
 * unchanged and no event has said end of file, an error or urgent data;
 * then *edges is the events seen so far. A lockless hint, for goro_read's
 * skip (netpoll.c); netpollcommit checks it under the lock. On gp. */
HIDDEN bool netpoll_rdknown(g *gp, int fd, uint32_t *edges);
/* netpollpark parks gp (the caller) until fd is ready for reason
 * (waitReasonIORead, IOWrite or IOWait), deadline (absolute, 0: none)
 * passes, the fd is closed, or a context of the call or of its group ends
 * the wait (ctx.c); cgen: netpoll_closegen_of(fd) before the call that gave
 * EAGAIN; snap: goro_wait_fd's, or NULL. Returns g->waitres: the events
 * that came (> 0), or -errno. On a G. */
HIDDEN int netpollpark(g *gp, int fd, uint32_t cgen, int64_t deadline,
                       uint8_t reason, pollsnap *snap);
/* goro_close's two halves: netpollclosing (any thread) counts the close
 * in netpoll_closegen[fd] and says whether fd has a pollDesc; if so,
 * netpollclose (on g0) drops it, waking its waiters with -ECANCELED. Both
 * before the fd itself is closed. */
HIDDEN bool netpollclosing(int fd);
HIDDEN void netpollclose(int fd);
/* netpoll takes what became ready from the runtime's epoll fd and returns
 * the Gs to make runnable (a schedlink list, still Gwaiting); NULL when
 * nothing (or no fd) is polled. Without block, any thread, at once; with
 * it, an M without a P that won netpollclaim, until readiness or a
 * netpollbreak (and it ends the claim). */
HIDDEN g *netpoll(bool block);
HIDDEN bool netpollinuse(void);          /* some fd is registered */
/* netpollclaim: true if the caller may block in netpoll (no other M
 * does); netpollblocked: an M blocks there now; netpollbreak wakes it (g0
 * or a thread that is not an M). */
HIDDEN bool netpollclaim(void);
HIDDEN bool netpollblocked(void);
HIDDEN void netpollbreak(void);
/* netpollwait puts gp, waiting on its fd with a deadline, in the heap of
 * Gs and then on its pollDesc's list. Loop thread. */
HIDDEN void netpollwait(g *gp);
/* netpollunblock takes gp, an fd wait, off its pollDesc's list: false if
 * readiness or a close took it first (then it is readied with what they
 * said: netpoll, pendready). Any thread. */
HIDDEN bool netpollunblock(g *gp);
/* The netpoller's part of the loop thread: netpollwakeup runs at each of
 * the loop's wakeups (the Gs Ms handed over). */
HIDDEN void netpollwakeup(void);
/* nanotime of the last netpoll, 0 while an M blocks there (sysmon's
 * tick polls when it is old). */
extern HIDDEN _Atomic int64_t netpoll_lastpoll;

/* ---- loop.c ------------------------------------------------------------ */

/* loopinit starts the loop thread (and the netpoller: netpollinit);
 * loopshutdown ends it, once the Ms are gone. */
HIDDEN int loopinit(void);
HIDDEN void loopshutdown(void);
/* loopsubmit hands a parked G to the loop thread; what it waits for is
 * its waitreason: waitReasonSleep (waketime), waitReasonIORead/IOWrite
 * with a deadline (waitfd, waitpd, waketime = the deadline), a loop call
 * (waitReasonFileIO, Blocking, LoopCall: param = the loopcall). Any
 * thread; called from gopark's unlock function, once the G's context is
 * saved. */
HIDDEN void loopsubmit(g *gp);
/* A call a G makes on the loop thread: loopcallrun parks the G,
 * the loop thread runs fn(lc), and fn (or a callback it starts) ends the
 * wait with loopcalldone(lc). lc lives on the parked G's stack, which
 * is pinned meanwhile (stackscan skips these waits). */
typedef struct loopcall loopcall;
struct loopcall {
    void (*fn)(loopcall *lc);
    g    *gp;
    int   result;
};
HIDDEN int loopcallrun(loopcall *lc, uint8_t reason);
HIDDEN void loopcalldone(loopcall *lc);  /* loop thread */
HIDDEN struct uv_loop_s *loopuv(void);  /* loop thread only */
/* loopready queues gp (Gwaiting, no longer recorded anywhere) to be made
 * runnable, its wait ended by res, at the loopflush that ends the loop's
 * callback. Loop thread. */
HIDDEN void loopready(g *gp, int res);
HIDDEN void loopflush(void);
HIDDEN void loopwake(void);   /* wake the loop thread; any thread */
/* loopfileio runs a read (write false) or write of the regular file fd
 * through libuv's thread pool, the calling G parked meanwhile. On a G. */
HIDDEN long loopfileio(bool write, int fd, void *buf, size_t len,
                       int64_t off);
/* sysmondisarm: sysmon stops (every P idle), its ticks off; sysmonwake
 * restarts it, its first tick ns from now, off its timerfd, which the
 * caller sets: no thread is woken for it. Both under sched.lock (the loop
 * thread's sysmon, pidleget on an M's g0 or any thread off G stacks). */
HIDDEN void sysmondisarm(void);
HIDDEN void sysmonwake(int64_t ns);
/* The loop thread's wake-ups by other threads (its async callbacks), for
 * the tests. */
HIDDEN extern _Atomic uint64_t loopwakeups;

/* ---- sigqueue.c -------------------------------------------------------- */

HIDDEN void sigqueue_close(void);                /* loop thread, at exit */

/* ---- time.c ----------------------------------------------------------- */

/* A timer on time.c's heap. when, period, heapidx and status are under
 * time.c's lock; f and arg are set before the timer is first added. */
struct timer {
    int64_t   when;          /* nanotime() to fire at */
    int64_t   period;        /* > 0: fire again every period ns */
    /* f runs on the loop thread, with no lock held; it must not block. */
    void    (*f)(struct timer *t, int64_t now);
    void     *arg;
    uint32_t  heapidx;       /* index + 1 in the heap; 0: not in it */
    uint8_t   status;        /* timerNone, timerWaiting, timerRunning */
};
/* timeradd (re)schedules t at when; timerdel takes it off. Both wait for
 * a run of t's f in progress to end, and say whether t was pending. Any
 * thread; on a G too. */
HIDDEN bool timeradd(struct timer *t, int64_t when);
HIDDEN bool timerdel(struct timer *t);
HIDDEN bool timerspending(void);        /* checkdead: a timer may fire */
HIDDEN uint32_t timerscount(void);      /* timers pending (tests) */
HIDDEN int timeinit(struct uv_loop_s *loop); /* loopinit, before the loop runs */
HIDDEN void timeclose(void);            /* loop thread, at exit */
/* The heap of Gs (sleeps, fd deadlines), ordered by g->waketime, the
 * index in g->heapidx. Loop thread only. gheappush puts gp in it,
 * gheapdelete takes it out (gp in it), gheapsync re-arms the heap's timer
 * if the heap's top may have changed (the end of every loop callback). */
HIDDEN void gheappush(g *gp);
HIDDEN void gheapdelete(g *gp);
HIDDEN void gheapsync(void);
/* gtimer: gp's wait timer, to run f(t, now) with t->arg = arg. */
HIDDEN struct timer *gtimer(g *gp, void (*f)(struct timer *t, int64_t now),
                            void *arg);
HIDDEN void timegexit(g *gp);           /* goexit0, on g0 */
HIDDEN bool timerinf(void);  /* the caller is a timer's f (loop thread) */
HIDDEN void timegfree(g *gp);           /* gfrelease: the G's timers go */

/* ---- fdowner.c --------------------------------------------------------- */

HIDDEN void fdown(int fd);     /* fd, just opened, is the caller's group's */
HIDDEN void fddisown(int fd);  /* fd is being closed (goro_close) */
HIDDEN void fdownfree(goro_group *grp);  /* goro_group_free: none left */

/* ---- join.c ------------------------------------------------------------ */

HIDDEN uint64_t joinrecords(void);  /* records kept (not joined or ended) */

/* ---- ctx.c ------------------------------------------------------------- */

/* A cancellable wait: the G parks with up to ctxwaitMax contexts (the
 * call's, g->callctx, and its group's), each of which may end it early
 * through g->waitcancel. The protocol, for every kind of wait:
 *   1. on the G, before it queues itself: waitctxbegin (an error: a
 *      context is done already; return it without waiting);
 *   2. in gopark's unlockf, with the wait's own lock(s) still held:
 *      waitctxarm, which registers the G with its contexts and returns
 *      the error of one that is done meanwhile (0: none); then, once the
 *      locks are released, waitctxfire(gp, err) if err != 0;
 *   3. on the G, once awake: waitctxend, which waits until no cancel is
 *      running for it and unregisters it (also when the park was called
 *      off); the wait's waitcancel recorded how it ended (g->waitres2,
 *      or a place of the wait's own). A wait that returns between 1 and
 *      2 calls waitctxend too.
 * waitcancel(gp, err) takes the wait's lock, and if the G is still
 * queued, takes it off, sets g->waitres2 = err and readies it; otherwise
 * (woken already, by its partner or another canceller) it does nothing. */
#define ctxwaitMax 2
typedef struct ctxwait ctxwait;
HIDDEN int waitctxbegin_slow(g *gp, bool group, void (*cancel)(g *, int))
    __attribute__((cold));
/* group: the group's context ends this wait too; cancel: the wait's
 * waitcancel, set when a context is involved (a wait with a deadline
 * timer sets g->waitcancel itself). g->nwaitctx is 0 between waits
 * (waitctxend): the common case stores nothing. */
static inline int waitctxbegin(g *gp, bool group, void (*cancel)(g *, int))
{
    if (likely(gp->callctx == NULL && (!group || gp->group == NULL)))
        return 0;
    return waitctxbegin_slow(gp, group, cancel);
}
HIDDEN int waitctxarm(g *gp) __attribute__((cold));
HIDDEN void waitctxfire(g *gp, int err) __attribute__((cold));
HIDDEN void waitctxend_slow(g *gp) __attribute__((cold));
static inline void waitctxend(g *gp)
{
    if (unlikely(gp->nwaitctx != 0))
        waitctxend_slow(gp);
}
/* waittimer: the G's wait timer (gtimer) set to end its wait through
 * waitcancel with -ETIMEDOUT; armed by the caller's unlockf. */
HIDDEN struct timer *waittimer(g *gp);
HIDDEN void ctxgfree(g *gp);    /* gfrelease */
/* selcancel: the waitcancel of a select (and of a sleep): the one that
 * wins g->selectDone ends it with err. */
HIDDEN void selcancel(g *gp, int err);
HIDDEN struct goro_ctx *ctxnewroot(void); /* a group's, no errno */

/* ---- sync.c ------------------------------------------------------------ */

HIDDEN void localsexit(g *gp);  /* the G's last act: G-local destructors */
HIDDEN void localsfree(g *gp);  /* gfrelease */

/* ---- config.c ------------------------------------------------------------ */

/* rtconfinit checks cfg (a message on stderr when it is refused) and
 * copies it into rtconf with its defaults resolved (procs 0: the CPUs).
 * 0 or -EINVAL. */
HIDDEN int rtconfinit(const goro_config *cfg);
HIDDEN int debugconfig_fromenv(debugconfig *d);

/* The asm side's view of the structures (asmdefs.h). */
_Static_assert(offsetof(g, stackguard0) == G_STACKGUARD0, "G_STACKGUARD0");
_Static_assert(offsetof(g, stack.lo) == G_STACK_LO, "G_STACK_LO");
_Static_assert(offsetof(g, stack.hi) == G_STACK_HI, "G_STACK_HI");
_Static_assert(offsetof(g, sched.sp) == G_SCHED_SP, "G_SCHED_SP");
_Static_assert(offsetof(g, m) == G_M, "G_M");
_Static_assert(offsetof(m, g0) == M_G0, "M_G0");
_Static_assert(offsetof(m, xsavebuf) == M_XSAVEBUF, "M_XSAVEBUF");
_Static_assert(offsetof(m, fpmxcsr) == M_FPMXCSR, "M_FPMXCSR");
_Static_assert(offsetof(m, fpucw) == M_FPUCW, "M_FPUCW");
_Static_assert(offsetof(g, asyncctx) == G_ASYNCCTX, "G_ASYNCCTX");
/* The G's lines (struct g): who touches which. */
_Static_assert(offsetof(g, fixedstack) < 64, "g: line 0 overflows");
_Static_assert(offsetof(g, stackguard0) == 64 && offsetof(g, callfree) < 128,
               "g: line 1 moved or overflows");
_Static_assert(offsetof(g, goid) == 128, "g: line 2 moved");



/* The switch frame and the morestack frame, as C sees them. */
typedef struct switchframe {
    uint32_t  mxcsr;
    uint16_t  fpucw, pad;
    uintptr_t r15, r14, r13, r12, rbx, rbp, rip;
} switchframe;
_Static_assert(offsetof(switchframe, fpucw) == SF_FPCTL + 4, "SF_FPCTL");
_Static_assert(offsetof(switchframe, r15) == SF_R15, "SF_R15");
_Static_assert(offsetof(switchframe, r12) == SF_R12, "SF_R12");
_Static_assert(offsetof(switchframe, rbx) == SF_RBX, "SF_RBX");
_Static_assert(offsetof(switchframe, rbp) == SF_RBP, "SF_RBP");
_Static_assert(offsetof(switchframe, rip) == SF_RIP, "SF_RIP");
_Static_assert(sizeof(switchframe) == SF_SIZE, "SF_SIZE");

typedef struct morestackframe {
    switchframe sf;
    uintptr_t rdi, rsi, rdx, rcx, r8, r9, rax, r10, r11, pad;
    uint8_t   xmm[8][16];
    uintptr_t retaddr;
} morestackframe;
_Static_assert(offsetof(morestackframe, rdi) == MF_RDI, "MF_RDI");
_Static_assert(offsetof(morestackframe, rax) == MF_RAX, "MF_RAX");
_Static_assert(offsetof(morestackframe, r10) == MF_R10, "MF_R10");
_Static_assert(offsetof(morestackframe, r11) == MF_R11, "MF_R11");
_Static_assert(offsetof(morestackframe, xmm) == MF_XMM0, "MF_XMM0");
_Static_assert(offsetof(morestackframe, retaddr) == MF_RETADDR, "MF_RETADDR");

#endif
