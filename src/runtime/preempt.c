/*
 * preempt.c - stopping a G that runs too long (Go's preempt.go).
 *
 * A G gives its P back only when it parks, yields or exits. One that
 * computes for seconds would keep every other G of its P waiting, so sysmon
 * (proc.c, on the loop thread) watches how long each P has been running the
 * same G and, past the time slice, asks that G to stop (when, and what
 * comes next: the table "The policy" below). Two mechanisms:
 *
 * Cooperative (the seeds' stackPreempt). preemptone writes stackPreempt
 * (0xfffffffffffffade, above any stack address) into the G's stackguard0 and
 * into its M's split-stack guard, the word at %fs:0x70 that every
 * -fsplit-stack prologue compares %rsp with (the M keeps the slot's address:
 * on glibc a thread's TCB is its pthread_t, SPLIT-STACK.md section 1). The
 * G's next function call therefore enters __morestack; newstack (stack.c)
 * does any growth the call needs, then, if canpreempt allows, stops the G
 * as if it had yielded (gopreempt_m: onto the global run queue). When it may
 * not stop now -- the M holds a runtime lock, the G is inside
 * goro_preempt_disable, or it is in a system call -- the real guard goes
 * back and the request stays pending in g->preempt, to be honoured at
 * goro_preempt_enable or the next time sysmon asks.
 *
 * The guard write races with the M switching Gs: it may land while the M
 * runs the scheduler on g0 (asm/amd64.S puts g0's guard back and goes on)
 * or another G (which then enters newstack for nothing and resumes).
 * execute() clears any stale request when a G starts a new slice.
 *
 * Asynchronous (Go 1.14's). A loop that calls nothing never reaches a
 * prologue. So preemptone also sends the M the preemption signal (SIGURG,
 * as Go: rarely used by programs, harmless when it arrives unexpected). The
 * handler runs on the M's signal stack and preempts only at a point that is
 * safe for any register state: the interrupted pc lies in split-stack code
 * of the program or of a plugin (never libc or another library without
 * checks, never the runtime, whose data may be half-updated), the G is
 * running, a request is pending, preemption is enabled and the M holds no
 * runtime lock. It then makes the thread "call" asyncPreempt (amd64.S):
 * below the interrupted %rsp it skips the 128-byte red zone (leaf code may
 * keep live data there), stores the interrupted pc and points %rip at
 * asyncPreempt, which saves the flags and every general register on the
 * G's stack and the SSE/AVX state with XSAVE into the M's buffer, and
 * mcalls asyncpreempt_m. That hands the buffer to the G (g->asyncctx; the M
 * takes a new one) and stops the G like gopreempt_m. When the G runs again,
 * on any M, asyncPreempt restores everything and returns with `ret $128`
 * to the interrupted instruction with the interrupted %rsp.
 *
 * Which code is the program's or a plugin's is told by a note the stubs of
 * libgoro_morestack.a put in every module built against goro. The table of
 * preemptible text ranges is rebuilt by sysmon when the set of loaded modules changes (dl_iterate_phdr
 * counts loads and unloads) and published for the handler through one
 * atomic pointer.
 *
 * Not to a thread that waits in the kernel. A G may block its thread in a
 * call the runtime is not told about (sleep, poll, read on a pipe, ...
 * outside goro_syscall_enter/exit). Its P stays Prunning, so past the
 * slice sysmon asks it to stop and, the guard not being honoured, would
 * signal it at every look. The handler cannot preempt it there (libc is
 * not preemptible code), and the signal only cuts the call short: sleep
 * returns early, nanosleep, poll, select, epoll_wait and usleep fail with
 * EINTR (SA_RESTART does not restart calls with timeouts). So before the
 * signal goes, threadsleeps reads the thread's state from
 * /proc/self/task/TID/stat: S, D or I (waiting), T or t (stopped) get no
 * signal; the guard stays set, so the G stops at its first call after
 * its call returns, and sysmon looks again at its next tick (and signals
 * then if the thread computes). A thread that waits is not running the
 * G's code, so no preemption is lost. R (on a CPU or waiting for one)
 * gets the signal, and so does a thread whose state cannot be read (no
 * /proc: the behaviour before). But a thread is R from its wake-up until
 * it is back in user code, and sysmon's ticks and a call's timeout are
 * timers alike: with the state alone 7 of 264 timed polls and selects of
 * 200 ms got EINTR at their end, and on a loaded machine, where a woken
 * thread waits milliseconds for a CPU, most of them. So a thread seen
 * waiting is taken as computing again only once it has run wokeRun of
 * CPU since a look that saw it R: its run time is read from the thread's
 * CPU clock (pthread_getcpuclockid, a clock_gettime of about 0.5 us,
 * exact for a running thread, where /proc/self/task/TID/schedstat lags
 * by up to a scheduler tick; without it the thread is spared one look).
 * A G that blocks again at once is still exposed while it passes from
 * user code into the next call (the microseconds between the look and
 * the signal's arrival), and a G that blocks then computes without calls
 * gets its signal a look or two later.
 *   The fds are opened by sysmon the first time it needs them for that M
 * (most Ms never do) and kept: a look is fstat and pread, 3 us
 * (bench/threadstate; reopening each time costs 6-11 us). fstat checks
 * the inode, so that a program that closed an fd
 * (and got the number again for another file) does not have its file
 * read or closed by the runtime; then the file is opened anew. The M
 * closes them as it exits.
 * While a G blocks so, sysmon looks at the tick of the slice (an eighth of
 * it), about 800 looks (2.5 ms of sysmon's CPU) per second at 10 ms.
 * Rejected for this look: /proc/self/task/TID/syscall ("running" or the call's number,
 * 0.7-1.4 us), which for a thread that is going to sleep waits until it
 * has left its CPU (wait_task_inactive, which may sleep a tick), on
 * sysmon's thread, and is the owner's only (root's in a process that is
 * not dumpable); schedstat's run time alone (0.6 us), which needs two looks to tell
 * anything; a flag the G sets around its calls, which needs the calls
 * wrapped (goro_syscall_enter/exit is that flag); blocking the signal in
 * the G around such calls, which needs the same. Under valgrind, whose
 * threads all wait while one runs, the state says nothing: the signal
 * goes as before.
 *
 * Its P goes to the other Gs (sysblocktake; Go's retake does this for
 * system calls it is told of). A thread seen waiting where sysmon would
 * signal it keeps a P that other Gs may need for as long as the call
 * lasts. So sysmon makes goro_syscall_enter's transitions on its behalf
 * (the G Gsyscall, the P Psyscall), and retake hands the P off as for any
 * system call; the G comes back in newstack (sysblockback: its P if
 * nobody took it, an idle one, or it waits on the global queue), because
 * the guard is stackPreempt and the thread's first call after the block
 * traps there. That is safe only if (1) no runtime code runs on the
 * thread's way back before such a call, and (2) the thread has not run
 * since sysmon looked. (1): /proc/self/task/TID/syscall gives the sp of
 * the call the thread is blocked in; it must lie in the G's stack (not
 * g0's: runtime code and the SYSTEM wrappers run there), and no word from
 * it to the stack's top may point into the runtime's code but gostart
 * (whose next step, goexit1, is a call with a check) and the resume
 * points of switch frames (reached by ret, never return addresses): a
 * conservative scan, whose stale words only make sysmon leave the P
 * alone. The runtime linked into the program (the test binary) cannot be
 * told from the program's code: then it never does this. (2): the
 * thread's CPU clock is read before that look and again after m->sysblock
 * is set to sysblockTaking and the guard stored, with a fence between:
 * unchanged, the thread cannot have left the call since, and whatever it
 * does next begins at a check, where newstack waits until sysmon has
 * either made the transitions (sysblockTaken) or given up (none). The
 * stack is read with process_vm_readv, which fails instead of faulting if
 * the thread wakes and moves it meanwhile. When: where sysmon would
 * signal the G (past its slice), and earlier when Gs wait for the P:
 * retake looks (preemptblocked) once the G has run blockedLook, and
 * again every blockedLook, a read of the stat file (3 us) per look
 * for a P whose G runs on while others wait; the syscall file is read
 * only for a thread seen waiting. tests/link/preempt's handoff mode: the
 * ticker G beside the blocked one ticks again about 2 ms into the block.
 *
 * Stall reports (GORO_STALL_REPORT, Seastar's reactor-stall reports). A G
 * in code nothing can preempt -- a library or libc, goro_cgocall, a
 * goro_preempt_disable region, any code when preemption is off -- keeps
 * its P's other Gs waiting however often sysmon asks. So when a P has
 * run one G (no switch, p->stats.ctx_switches) for the threshold since
 * sysmon first saw it, and sysmon has asked that G to stop (or preemption
 * is off), stallone reports it, once for that run. The stack has to be
 * walked where it is, on another thread that computes: stallone sends the
 * preemption signal with the G's id and its run (the P's switch count) in
 * the M. The handler acts only on that G in that run (an earlier signal
 * may have stopped it, and it may be running again with no request
 * pending, when it would look unstoppable: a test caught that, 4 runs in
 * 25 on a loaded machine). Having the interrupted registers, the handler
 * either preempts the G (it is at a
 * point where it can be stopped after all: no report, so a G the runtime
 * can stop is never reported) or writes the report: the G's header, its
 * frames walked by libunwind from the signal's context through the G's
 * (or, in a call on g0, the thread's) stack, named from the symbol tables
 * as a crash report is (traceback.c; no malloc in a handler), straight to
 * stderr with write(2). A thread seen waiting in the kernel gets no
 * signal (it would cut the call short, see above): sysmon reports that
 * G's header alone.
 *   Off by default, as Go's debugging output is (GODEBUG): a library
 * must not write on its program's stderr nor interrupt its threads
 * unasked, where Seastar, which owns its process and its log, reports
 * by default (blocked-reactor-notify-ms). 100 ms, ten default slices, is
 * the value to start from: far past any G that can be stopped (1 to 1.125
 * slices).
 *   Rejected: reading the stack of the running thread from outside
 * (ptrace, which a process cannot do to its own threads, or /proc/TID/
 * syscall's sp and pc, which give one frame, and only in the kernel);
 * walking the G's stack from sysmon while it runs (it changes under the
 * walk and may move: traceback.c refuses that too); a report per sysmon
 * tick (one stall would print hundreds); a timer signal per thread as
 * Seastar arms (sysmon already times every P's G).
 *
 * The policy. The states of a P's running G as sysmon sees them, where
 * each is recorded, and the events that move it. The bounds are the enum
 * of runtime2.h; retake (proc.c) keeps the books in p->sysmontick and
 * asks the functions of "the policy" below what to do.
 *
 *   running     in its slice: p->schedtick, first seen at pd->schedwhen
 *   asked       past its slice, the guard set: pd->preempted at
 *               pd->preemptwhen, g->preempt, stackPreempt in the guards,
 *               m->guardrun (the thread's CPU time then)
 *   quick       asked with the guard alone at the last of a call-free
 *               G's requests: pd->quick
 *   signalled   the guard ignored, the signal sent: m->signalpending
 *   callfree    known to call nothing, across slices: g->callfree, the
 *               requests left that send the signal at once
 *   sysblock    blocked in the kernel, P taken: m->sysblock, G Gsyscall,
 *               P Psyscall (sysblocktake)
 *   syscall     in a system call told of (goro_syscall_enter): G
 *               Gsyscall, P Psyscall
 *
 *   from       event (decided by; acted on by)               to
 *   running    the slice ends at a look (preemptpolicy:      asked
 *              preemptAsk; preemptone): the guard alone
 *   running    the same, g->callfree > 1: guard and signal,  signalled
 *              g->callfree - 1 (preemptone)
 *   running    the same, g->callfree 1: the guard alone,     quick
 *              g->callfree 0, a look asyncPreemptQuick later
 *              (preemptone returns true; preemptnextlook)
 *   running    Gs wait, it has run blockedLook of its slice  sysblock
 *              (and no look for as long), its thread waits in
 *              the kernel (preemptpolicy: preemptBlocked;
 *              preemptblocked)
 *   asked,     a call hits the guard (newstack: canpreempt;  next G
 *   quick,     gopreempt_m), g->callfree 0
 *   signalled
 *   asked      a look asyncPreemptGrace on (preemptpolicy:   signalled,
 *              preemptSignal; preemptone): the thread ran    callfree
 *              ranSinceGuard since the guard: g->callfree
 *              callfreeSlices; less: no signal, next look
 *   quick      a look asyncPreemptQuick on: as asked's       signalled
 *   signalled  the signal handled at a preemptible pc        next G
 *              (sigpreempt; asyncpreempt_m); elsewhere it
 *              stays signalled, and each look signals again
 *   asked,     its thread seen waiting where sysmon would    sysblock
 *   signalled, signal it (threadsleeps; sysblocktake):
 *   callfree   no signal
 *   sysblock,  a later look: Gs in the P's queue, nobody     P handed
 *   syscall    free to look for work, or the call            off
 *              forceSyscallRetake old (syscallhandoff;
 *              handoffp)
 *   sysblock   the call returns: its first call traps in     running
 *              newstack (sysblockback: its P, an idle one,
 *              or the global queue)
 *   syscall    goro_syscall_exit                             running
 *   any        a new slice (execute bumps p->schedtick):     running
 *              sysmon takes it to begin at pd->preemptwhen
 *              if it stopped the previous G, else at the look
 *   asked, or  GORO_STALL_REPORT since the P's last switch   reported,
 *   any with   (stalldue; stallone), once a run              once
 *   no slice
 * A G inside goro_preempt_disable keeps the request in g->preempt and
 * honours it at goro_preempt_enable; nothing above signals it.
 *
 * The XSAVE area lives on the heap, not on the stack: with AVX-512 it is
 * 2.7 KiB, more than a whole minimum stack, and a signal cannot grow one.
 *
 * Rejected: a timer signal per M (Gs that yield often would be interrupted
 * for nothing); preempting anywhere in the runtime (it would need every
 * runtime data structure to be consistent at every instruction); saving
 * only the SSE registers as Go does (C code may keep AVX values live).
 */
#define UNW_LOCAL_ONLY
#include <jemalloc/jemalloc.h>
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "runtime2.h"
#include "trace.h"
#include "vg.h"

/* Bytes asyncPreempt uses below the interrupted %rsp: the red zone (128),
 * the pc, flags and 15 registers (136), alignment and mcall's switch frame
 * and return address (88); rounded up. */
#define AsyncPreemptRoom 512

HIDDEN uint32_t goro_xsave_mode;   /* 1: XSAVE/XRSTOR, 0: FXSAVE/FXRSTOR */
static size_t xsavesize;           /* bytes of the save area */
static pid_t mypid;
static struct sigaction oldaction;
static bool installed;

/* ---- preemptible code ------------------------------------------------------ */

typedef struct textrange {
    uintptr_t lo, hi;
} textrange;

typedef struct modtable {
    size_t n;
    struct modtable *retired;  /* older tables not yet freed */
    textrange r[];
} modtable;

/* The handler reads the current table; sysmon replaces it. */
static modtable *_Atomic preemptible;
static _Atomic int inhandler;       /* handlers that may hold a table */
static unsigned long long seenadds = ~0ull, seensubs = ~0ull;

/* A module is preemptible when it carries goro's note (a PT_NOTE entry
 * named "goro", asmdefs.h): the split-stack entry stubs every program and
 * plugin links (libgoro_morestack.a) bring it, so its code was built with
 * goro's flags. Library code (libc, libuv, ...) has no such note, and the
 * runtime's own module is excluded by address. The ELF section
 * .note.GNU-split-stack cannot serve: it is not mapped, and gold does not
 * keep it in executables. */
static bool hasgoronote(const struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const char *name = p + sizeof *nh;
            size_t nsz = (nh->n_namesz + 3) & ~3u, dsz = (nh->n_descsz + 3) & ~3u;
            if (nh->n_type == GORO_NOTE_TYPE && nh->n_namesz == 5 &&
                name + 5 <= end && memcmp(name, "goro", 5) == 0)
                return true;
            p = name + nsz + dsz;
        }
    }
    return false;
}

/* The executable segments of the preemptible modules, gathered by
 * dl_iterate_phdr. */
typedef struct modscan {
    unsigned long long adds, subs;
    textrange *r;              /* NULL: just read the counters */
    size_t n, cap;
} modscan;

/* execseg: the bounds of info's executable segment that holds addr. */
static bool execseg(const struct dl_phdr_info *info, uintptr_t addr,
                    uintptr_t *lo, uintptr_t *hi)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        *lo = info->dlpi_addr + ph->p_vaddr;
        *hi = *lo + ph->p_memsz;
        if (addr >= *lo && addr < *hi)
            return true;
    }
    return false;
}

static int modscan_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    modscan *ms = arg;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
                    sizeof info->dlpi_subs) {
        ms->adds = info->dlpi_adds;
        ms->subs = info->dlpi_subs;
    }
    if (ms->r == NULL || !hasgoronote(info))
        return 0;
    uintptr_t self = (uintptr_t)&preemptinit;
    size_t first = ms->n;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        uintptr_t hi = lo + ph->p_memsz;
        if (self >= lo && self < hi) {
            ms->n = first;  /* the runtime's own module */
            return 0;
        }
        if (ms->n == ms->cap)
            return 1;       /* the caller retries with more room */
        ms->r[ms->n++] = (textrange){lo, hi};
    }
    return 0;
}

/* freeretired frees the tables t replaced, once no handler can be reading
 * them (a handler counts itself in before it loads the pointer). */
static void freeretired(modtable *t)
{
    if (atomic_load(&inhandler) != 0)
        return;
    for (modtable *x = t->retired, *next; x != NULL; x = next) {
        next = x->retired;
        dallocx(x, 0);
    }
    t->retired = NULL;
}

/* preemptmodules_refresh rebuilds the table of preemptible text when
 * modules were loaded or unloaded since the last look. Loop thread only
 * (sysmon). Returns whether any code may be preempted asynchronously. */
static bool preemptmodules_refresh(void)
{
    modscan ms = {0};
    dl_iterate_phdr(modscan_cb, &ms);
    modtable *cur = atomic_load(&preemptible);
    if (ms.adds == seenadds && ms.subs == seensubs) {
        if (cur != NULL && cur->retired != NULL)
            freeretired(cur);
        return cur != NULL && cur->n > 0;
    }
    modtable *t = NULL;
    for (size_t cap = 64;; cap *= 2) {
        t = mallocx(sizeof *t + cap * sizeof t->r[0], 0);
        if (t == NULL)
            return cur != NULL && cur->n > 0;
        ms.r = t->r;
        ms.n = 0;
        ms.cap = cap;
        if (dl_iterate_phdr(modscan_cb, &ms) == 0)
            break;
        dallocx(t, 0);
    }
    t->n = ms.n;
    seenadds = ms.adds;
    seensubs = ms.subs;
    /* Publish; the old tables go once no handler can be reading them. */
    t->retired = cur;
    atomic_store(&preemptible, t);
    freeretired(t);
    return t->n > 0;
}

/* ---- the signal handler ---------------------------------------------------
 * Runs on the M's signal stack, whose address has nothing to do with the
 * guard in %fs:0x70: it and everything it calls must be no_split_stack. */

#define NOSPLIT __attribute__((no_split_stack))
#define NOSPLIT_INLINE __attribute__((no_split_stack, always_inline)) inline

static NOSPLIT_INLINE bool inpreemptible(uintptr_t pc)
{
    modtable *t = atomic_load(&preemptible);
    if (t == NULL)
        return false;
    for (size_t i = 0; i < t->n; i++)
        if (pc >= t->r[i].lo && pc < t->r[i].hi)
            return true;
    return false;
}

/* wantasyncpreempt: the interrupted state is a safe point (see the top). */
static NOSPLIT_INLINE bool wantasyncpreempt(m *mp, g *gp, ucontext_t *uc)
{
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    return gp != mp->g0 && mp->curg == gp && gp->preempt &&
           gp->preemptoff == 0 && mp->locks == 0 && mp->p != NULL &&
           mp->xsavebuf != NULL && rtconf.async_preempt &&
           atomic_load_explicit(&gp->atomicstatus, memory_order_relaxed) ==
               Grunning &&
           sp >= gp->stack.lo + AsyncPreemptRoom && sp <= gp->stack.hi &&
           inpreemptible(pc);
}

static NOSPLIT void forward(int sig, siginfo_t *info, void *ctx)
{
    if (oldaction.sa_flags & SA_SIGINFO) {
        if (oldaction.sa_sigaction != NULL)
            oldaction.sa_sigaction(sig, info, ctx);
    } else if (oldaction.sa_handler != SIG_DFL &&
               oldaction.sa_handler != SIG_IGN) {
        oldaction.sa_handler(sig);
    }
}

static NOSPLIT void sigpreempt(int sig, siginfo_t *info, void *ctx)
{
    ucontext_t *uc = ctx;
    g *gp = getg();
    if (gp != NULL) {
        m *mp = gp->m;
        atomic_store(&mp->signalpending, 0);
        atomic_fetch_add(&inhandler, 1);
        bool want = wantasyncpreempt(mp, gp, uc);
        atomic_fetch_sub(&inhandler, 1);
        /* A stall report (stallone): only for the G sysmon saw, and only
         * when it cannot be stopped here; else it is, as any. On g0 the
         * G is in a call of libc that goro runs there, or goro_cgocall.
         * Not in asyncPreempt or while asyncpreempt_m runs (mp->stopping):
         * an earlier signal has already sent the G there to stop, and its
         * thread then waited for a CPU; or it is resuming from such a
         * stop. */
        int64_t stall = atomic_exchange_explicit(&mp->stallgoid, 0,
                                                 memory_order_acquire);
        g *sg = mp->curg;
        uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
        bool stopping = (pc >= (uintptr_t)asyncPreempt &&
                         pc < (uintptr_t)asyncPreemptEnd) ||
                        atomic_load_explicit(&mp->stopping,
                                             memory_order_relaxed);
        if (stall != 0 && !want && !stopping && sg != NULL &&
            sg != mp->g0 &&
            (gp == sg || gp == mp->g0) && sg->goid == stall &&
            mp->p != NULL &&
            mp->p->stats.ctx_switches ==
                atomic_load_explicit(&mp->stallrun, memory_order_relaxed))
            tracebackstall(uc, sg, mp, mp->p != NULL ? mp->p->id : -1,
                           atomic_load_explicit(&mp->stallns,
                                                memory_order_relaxed));
        if (want) {
            /* Make the thread call asyncPreempt from the interrupted pc,
             * past the red zone. */
            greg_t *r = uc->uc_mcontext.gregs;
            uintptr_t sp = (uintptr_t)r[REG_RSP] - 128 - 8;
            /* memcheck takes the bytes below the red zone for dead and
             * does not see %rsp move at sigreturn: the return address and
             * the red zone below the new %rsp are live stack. */
            VALGRIND_MAKE_MEM_UNDEFINED((void *)(sp - 128), 128 + 8);
            *(uintptr_t *)sp = (uintptr_t)r[REG_RIP];
            r[REG_RSP] = (greg_t)sp;
            r[REG_RIP] = (greg_t)(uintptr_t)asyncPreempt;
            return;
        }
        if (info->si_code == SI_TKILL && info->si_pid == mypid)
            return;  /* ours, at a point where it cannot act: pending */
    }
    forward(sig, info, ctx);
}

/* ---- set-up ------------------------------------------------------------------ */

static void *xsavealloc(void)
{
    /* Zeroed: XSAVE writes only XSTATE_BV of the header, and XRSTOR wants
     * the rest of it zero. */
    return mallocx((xsavesize + 63) & ~(size_t)63,
                   MALLOCX_ALIGN(64) | MALLOCX_ZERO);
}

static bool sysblockinit(void);

int preemptinit(void)
{
    unsigned a, b, c, d;
    goro_xsave_mode = 0;
    xsavesize = 512;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) &&
        __get_cpuid_count(0xd, 0, &a, &b, &c, &d) && b >= 576) {
        goro_xsave_mode = 1;
        xsavesize = b;  /* for the features the OS enabled (XCR0) */
    }
    mypid = getpid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigpreempt;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGPREEMPT, &sa, &oldaction) != 0) {
        int err = errno;
        print("goro: cannot install the preemption signal handler: %s\n",
              strerror(err));
        return -err;
    }
    installed = true;
    /* Now rather than at the first thread sysmon finds blocked: libunwind
     * opens a pipe at its first use, which belongs among the descriptors
     * a program has from its start, not among those that appear later. */
    sysblockinit();
    return 0;
}

void preemptshutdown(void)
{
    if (installed)
        sigaction(SIGPREEMPT, &oldaction, NULL);
    installed = false;
    modtable *t = atomic_exchange(&preemptible, NULL);
    while (t != NULL) {
        modtable *next = t->retired;
        dallocx(t, 0);
        t = next;
    }
    seenadds = seensubs = ~0ull;
}

/* preemptminit gives the calling thread, mp's, what the handler needs: a
 * signal stack (unless the thread has one), an XSAVE buffer, and the
 * signal unblocked (threads the loop thread starts inherit its mask, which
 * blocks it). Returns 0 or -ENOMEM. */
int preemptminit(m *mp)
{
    enum { sigstacksize = 32 * 1024 };
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
        void *s = mallocx(sigstacksize, 0);
        if (s == NULL)
            return -ENOMEM;
        stack_t ss = {.ss_sp = s, .ss_size = sigstacksize, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) == 0)
            mp->sigstack = s;
        else
            dallocx(s, 0);
    }
    if (mp->xsavebuf == NULL)
        mp->xsavebuf = xsavealloc();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPREEMPT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return mp->xsavebuf != NULL ? 0 : -ENOMEM;
}

/* preemptmdrop undoes preemptminit on a thread that is done with the
 * runtime: one whose G ended locked to it ends (mexitlocked, with every
 * signal blocked). */
void preemptmdrop(m *mp)
{
    if (mp->sigstack != NULL) {
        stack_t ss = {.ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        dallocx(mp->sigstack, 0);
        mp->sigstack = NULL;
    }
    if (mp->xsavebuf != NULL)
        dallocx(mp->xsavebuf, 0);
    mp->xsavebuf = NULL;
}

/* ---- is the thread in the kernel? ------------------------------------------ */

/* procopen opens /proc/self/task/TID/NAME, TID mp's thread, into f, or
 * marks it as one that cannot be. */
static void procopen(m *mp, procfile *f, const char *name)
{
    char path[64] = "/proc/self/task/", digits[12];
    size_t n = 0, k = strlen(path);
    for (unsigned t = (unsigned)mp->tid; n == 0 || t != 0; t /= 10)
        digits[n++] = (char)('0' + t % 10);
    while (n > 0)
        path[k++] = digits[--n];
    path[k++] = '/';
    memcpy(path + k, name, strlen(name) + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) != 0) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        f->fd = -2;
        return;
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
}

/* procours: f->fd is still the file procopen opened (the program may have
 * closed it, and the number may name another file now). */
static bool procours(const procfile *f)
{
    struct stat st;
    return f->fd >= 0 && fstat(f->fd, &st) == 0 && st.st_dev == f->dev &&
           st.st_ino == f->ino;
}

/* procread reads the first bytes of f (opening it the first time) into
 * buf; <= 0 when it cannot. */
static ssize_t procread(m *mp, procfile *f, const char *name, char *buf,
                        size_t size)
{
    if (f->fd >= 0 && !procours(f))
        f->fd = -1;  /* not ours any more: forget it, open anew */
    if (f->fd == -1)
        procopen(mp, f, name);
    if (f->fd < 0)
        return -1;
    return pread(f->fd, buf, size, 0);
}

/* threadrun: the CPU time mp's thread has run, in ns, from its CPU clock
 * (exact even while it runs), or -1 when it cannot be read. sysmon, under
 * sched.sysmonlock. */
static int64_t threadrun(m *mp)
{
    struct timespec ts;
    if (!mp->hascpuclock || clock_gettime(mp->cpuclock, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* threadsleeps: mp's thread waits in the kernel, or may be on its way out
 * of a wait (see the top): no signal. false when it computes or cannot be
 * told; then the signal goes. sysmon, under sched.sysmonlock. */
/* threadstate: mp's thread's state letter from /proc/self/task/TID/stat,
 * 0 when it cannot be read. No side effects (preemptblocked's looks must
 * not spend the grace threadsleeps gives a thread that woke). */
static char threadstate(m *mp)
{
    if (RUNNING_ON_VALGRIND)
        return 0;  /* its threads all wait while one runs */
    /* "TID (comm) S ...", comm being any 15 bytes: the state follows the
     * last ')' among the first 64 bytes (after it come only numbers). */
    char buf[64];
    ssize_t n = procread(mp, &mp->statf, "stat", buf, sizeof buf);
    char digits[12];
    int k = 0;
    for (unsigned t = (unsigned)mp->tid; k == 0 || t != 0; t /= 10)
        digits[k++] = (char)('0' + t % 10);
    if (n < k + 2)
        return 0;
    for (int i = 0; i < k; i++)
        if (buf[i] != digits[k - 1 - i])
            return 0;  /* not its line */
    if (buf[k] != ' ' || buf[k + 1] != '(')
        return 0;
    ssize_t rp = -1;
    for (ssize_t i = n - 1; i > k + 1; i--)
        if (buf[i] == ')') {
            rp = i;
            break;
        }
    if (rp < 0 || rp + 2 >= n || buf[rp + 1] != ' ')
        return 0;
    return buf[rp + 2];
}

static inline bool waitstate(char s)
{
    return s == 'S' || s == 'D' || s == 'I' || s == 'T' || s == 't';
}

static bool threadsleeps(m *mp)
{
    char st = threadstate(mp);
    if (st == 0)
        return false;
    if (waitstate(st)) {
        mp->waited = true;
        mp->runbase = -1;
        return true;
    }
    if (!mp->waited)
        return false;
    /* Runnable, and seen waiting since it last computed: it computes once
     * it has run wokeRun since a look that saw it runnable. Without
     * its CPU clock: spared once. */
    int64_t run = threadrun(mp);
    if (run < 0 || mp->runbase < 0) {
        mp->runbase = run;
        mp->waited = run >= 0;
        return true;
    }
    if (run - mp->runbase < wokeRun)
        return true;
    mp->waited = false;
    return false;
}

/* preemptmexit closes mp's /proc files as its thread ends (mexit, under
 * sched.sysmonlock: sysmon is not reading them). */
void preemptmexit(m *mp)
{
    if (mp->statf.fd >= 0 && procours(&mp->statf))
        close(mp->statf.fd);
    mp->statf.fd = -1;
    if (mp->syscallf.fd >= 0 && procours(&mp->syscallf))
        close(mp->syscallf.fd);
    mp->syscallf.fd = -1;
}

/* ---- a thread blocked without goro_syscall_enter ---------------------------- */

static uintptr_t selflo, selfhi;   /* the runtime's executable segment */
static uintptr_t startlo, starthi; /* gostart's code */
static int sysblockok;             /* 0 not looked yet, 1 on, -1 off */

static int selfseg_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    uintptr_t lo, hi;
    if (!execseg(info, (uintptr_t)&preemptinit, &lo, &hi))
        return 0;
    if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0')
        return -1;  /* linked into the program: its code is ours too */
    selflo = lo;
    selfhi = hi;
    return 1;
}

/* sysblockinit: whether the runtime's code can be told from the program's
 * (libgoro.so, not linked into the program), and gostart's extent. */
static bool sysblockinit(void)
{
    if (sysblockok == 0) {
        unw_proc_info_t pi;
        sysblockok = dl_iterate_phdr(selfseg_cb, NULL) == 1 &&
                             unw_get_proc_info_by_ip(
                                 unw_local_addr_space,
                                 (unw_word_t)(uintptr_t)&gostart, &pi,
                                 NULL) == 0
                         ? 1
                         : -1;
        if (sysblockok > 0) {
            startlo = (uintptr_t)pi.start_ip;
            starthi = (uintptr_t)pi.end_ip;
        }
    }
    return sysblockok > 0;
}

/* blockedsp: the user stack pointer of the system call mp's thread is
 * blocked in, from /proc/self/task/TID/syscall ("NR ARG1 .. ARG6 SP PC",
 * or "running", or "-1 SP PC" outside a call); 0 when it is in none or the
 * file cannot be read (a process that is not dumpable). */
static uintptr_t blockedsp(m *mp)
{
    char buf[256];
    ssize_t n = procread(mp, &mp->syscallf, "syscall", buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (buf[0] < '0' || buf[0] > '9')
        return 0;
    char *f = buf;
    for (int i = 0; i < 7; i++) {
        f = strchr(f, ' ');
        if (f == NULL)
            return 0;
        f++;
    }
    return (uintptr_t)strtoull(f, NULL, 16);
}

/* runtimelive: a word of [sp, hi) may be a return address into the
 * runtime (any word pointing into its code but gostart's, and the resume
 * points of a switch frame, which are never return addresses): runtime
 * code would run on the thread's way back, before any check. Also true
 * when the stack cannot be read: it is read with process_vm_readv, which
 * fails rather than faults if the thread woke and freed it meanwhile. */
static bool runtimelive(uintptr_t sp, uintptr_t hi)
{
    uintptr_t buf[512];
    for (uintptr_t a = sp & ~(uintptr_t)7; a < hi;) {
        size_t len = hi - a < sizeof buf ? hi - a : sizeof buf;
        struct iovec local = {buf, len}, remote = {(void *)a, len};
        if (process_vm_readv(mypid, &local, 1, &remote, 1, 0) !=
            (ssize_t)len)
            return true;
        for (size_t i = 0; i < len / sizeof buf[0]; i++) {
            uintptr_t v = buf[i];
            if (v >= selflo && v < selfhi && !(v >= startlo && v < starthi) &&
                v != (uintptr_t)&morestack_resume &&
                v != (uintptr_t)&alloc_resume)
                return true;
        }
        a += len;
    }
    return false;
}

/* sysblocktake takes pp from mp, whose thread runs gp and waits in the
 * kernel (threadsleeps), as if gp had called goro_syscall_enter; retake
 * then hands the P to another M when there is work for it, and the G
 * comes back through newstack at the thread's first call (sysblockback).
 * See the top for why this is safe. sysmon, under sched.sysmonlock. */
static void sysblocktake(p *pp, m *mp, g *gp)
{
    if (!sysblockinit() || mp->locks != 0 || gp->preemptoff != 0)
        return;
    int64_t ran = threadrun(mp);
    if (ran < 0)
        return;
    uintptr_t sp = blockedsp(mp);
    if (sp < gp->stack.lo || sp >= gp->stack.hi ||
        runtimelive(sp, gp->stack.hi))
        return;
    uint32_t none = sysblockNone;
    if (!atomic_compare_exchange_strong(&mp->sysblock, &none,
                                        sysblockTaking))
        return;
    /* Any call the thread makes from now on goes to newstack, which waits
     * while we decide. The thread has not run since ran if its clock has
     * not moved: then it is still in the call whose sp was read, and the
     * guard is what it will see first. */
    __atomic_store_n(&gp->stackguard0, stackPreempt, __ATOMIC_RELEASE);
    atomic_store_explicit(mp->guardslot, stackPreempt, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (threadrun(mp) != ran || !syscallenterfor(pp, mp, gp)) {
        atomic_store_explicit(&mp->sysblock, sysblockNone,
                              memory_order_release);
        return;
    }
    atomic_store_explicit(&mp->sysblock, sysblockTaken, memory_order_release);
}

/* preemptblocked takes pp from its M if the M's thread waits in the
 * kernel without goro_syscall_enter (sysblocktake): retake, when Gs wait
 * for pp before its G's slice is over. sysmon, under sched.sysmonlock. */
void preemptblocked(p *pp)
{
    m *mp = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (mp == NULL || mp->dead)
        return;
    g *gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
    if (gp == NULL || gp == mp->g0)
        return;
    if (waitstate(threadstate(mp)))
        sysblocktake(pp, mp, gp);
}

/* ---- the policy ---------------------------------------------------------------- */

/* preemptpolicy: what sysmon does at this look at pp, running the G whose
 * slice it has timed from pd->schedwhen (the table at the top).
 *  - Gs wait while this one runs: if its thread is blocked in the kernel
 *    without goro_syscall_enter, its P can go to them now rather than at
 *    the end of the slice.
 *  - Past its slice: a G that calls functions stops at its next prologue
 *    once the guard says so, and a signal costs its thread more than that
 *    stop: the guard goes alone, and the signal follows only if the G
 *    still runs at a later look. A G known to call nothing is spared the
 *    wait (g->callfree, preemptone).
 * sysmon (retake keeps pd), under sched.sysmonlock. */
int preemptpolicy(p *pp, const sysmontick *pd, int64_t now, int64_t slice)
{
    if (now - pd->schedwhen >= blockedLook &&
        now - pd->blockedwhen >= blockedLook &&
        (slice <= 0 || now - pd->schedwhen < slice) &&
        (!runqempty(pp) ||
         __atomic_load_n(&sched.runqsize, __ATOMIC_RELAXED)))
        return preemptBlocked;
    if (slice <= 0 || now - pd->schedwhen < slice)
        return preemptNone;
    if (!pd->preempted)
        return preemptAsk;
    if (now - pd->preemptwhen >=
        (pd->quick ? asyncPreemptQuick : asyncPreemptGrace))
        return preemptSignal;
    return preemptWait;
}

/* preemptnextlook: the look due sooner than sysmon's tick for a G asked
 * to stop at pd->preemptwhen, or INT64_MAX. The guard alone to a G known
 * to call nothing (pd->quick) is followed up asyncPreemptQuick after it.
 * And the next G's slice begins as soon as this one stops; unless the P
 * goes straight on to it (then sysmon takes it to begin at preemptwhen),
 * the look that first sees it is when sysmon takes it to begin: look
 * every sliceLook until it does (for a while), where a look costs little
 * against the slice. sysmon, under sched.sysmonlock. */
int64_t preemptnextlook(const sysmontick *pd, int64_t now, int64_t slice)
{
    int64_t next = INT64_MAX;
    int64_t quick = pd->preemptwhen + asyncPreemptQuick;
    if (pd->quick && quick > now)
        next = quick;
    int64_t look = now + sliceLook;
    if (slice >= sliceLookMin && now - pd->preemptwhen < sliceLookFor &&
        look < next)
        next = look;
    return next;
}

/* stalldue: the G that has held its P since pd->stallwhen (one run, no
 * switch) is to be reported now (stallone, see the top): stall
 * (GORO_STALL_REPORT) has passed, sysmon asked it to stop (or, preemption
 * off, any G), and it was not reported yet. sysmon, under
 * sched.sysmonlock. */
bool stalldue(const sysmontick *pd, int64_t now, int64_t stall, int64_t slice)
{
    return !pd->stalled && now - pd->stallwhen >= stall &&
           (slice == 0 || pd->preempted);
}

/* syscallhandoff: pp, in a system call since pd->syscallwhen (seen at an
 * earlier look), is to be taken from its M and handed off. It stays while
 * nothing waits for it and somebody is free to look for work, unless the
 * call has lasted forceSyscallRetake. A thread blocked without telling
 * (sysblocktake) is in a system call too. sysmon, under
 * sched.sysmonlock. */
bool syscallhandoff(p *pp, const sysmontick *pd, int64_t now)
{
    return !(runqempty(pp) &&
             atomic_load(&sched.nmspinning) + atomic_load(&sched.npidle) >
                 0 &&
             now - pd->syscallwhen < forceSyscallRetake);
}

/* ---- requests ------------------------------------------------------------------ */

/* preemptone asks the G running on pp to stop: the guard, and the signal
 * for code that calls nothing either with signal (the G ignored the guard:
 * it is known to call nothing for the next callfreeSlices requests,
 * g->callfree) or at once for a G known so, except at the last of those
 * requests: then the guard goes alone, and preemptone returns true (sysmon
 * follows up soon, asyncPreemptQuick). sysmon, under sched.sysmonlock. */
bool preemptone(p *pp, bool signal)
{
    m *mp = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (mp == NULL || mp->dead)
        return false;
    g *gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
    if (gp == NULL || gp == mp->g0)
        return false;
    gp->preempt = true;
    if (gp->preemptoff > 0)
        return false;  /* goro_preempt_enable acts on the request */
    __atomic_store_n(&gp->stackguard0, stackPreempt, __ATOMIC_RELEASE);
    atomic_store_explicit(mp->guardslot, stackPreempt, memory_order_release);
    /* callfree is also cleared by the G's own M (newstack): a hint, read
     * and written whole. */
    uint8_t cf = __atomic_load_n(&gp->callfree, __ATOMIC_RELAXED);
    if (signal) {
        /* The G has not stopped at a call since the guard went alone. On
         * a busy machine that may be because its thread has hardly run
         * since: it gets no signal, nor the name of a G that calls
         * nothing, before it has run ranSinceGuard (sysmon looks again at
         * its next tick). */
        if (mp->guardrun >= 0 && rtconf.async_preempt) {
            int64_t run = threadrun(mp);
            if (run >= 0 && run - mp->guardrun < ranSinceGuard) {
                if (threadsleeps(mp))
                    sysblocktake(pp, mp, gp);
                return false;
            }
        }
        cf = callfreeSlices;
    } else if (cf == 0) {
        /* The guard alone: note how long the thread has run. */
        mp->guardrun = rtconf.async_preempt ? threadrun(mp) : -1;
        return false;
    } else {
        cf--;
    }
    if (!signal || !rtconf.async_preempt)
        __atomic_store_n(&gp->callfree, cf, __ATOMIC_RELAXED);
    if (!signal && cf == 0)
        return true;            /* the guard alone, to see whether it
                                   still ignores it */
    if (!rtconf.async_preempt || !preemptmodules_refresh()) {
        if (signal && threadsleeps(mp))
            sysblocktake(pp, mp, gp);
        return false;
    }
    if (atomic_load(&mp->signalpending) != 0)
        return false;           /* one is on its way */
    /* A thread blocked in the kernel is not running the G: the signal
     * would only cut its call short. The guard stays; sysmon looks again
     * at its next tick. Not known to call nothing either: callfree keeps
     * what it was. */
    if (threadsleeps(mp)) {
        sysblocktake(pp, mp, gp);
        return false;
    }
    __atomic_store_n(&gp->callfree, cf, __ATOMIC_RELAXED);
    /* tgkill itself: glibc's pthread_kill adds two sigprocmask calls and
     * a getpid to guard against a thread that exits meanwhile, which the
     * caller rules out (sysmonlock, mp->dead). */
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&mp->signalpending, &zero, 1) &&
        rawsyscall6(SYS_tgkill, mypid, mp->tid, SIGPREEMPT, 0, 0, 0) != 0)
        atomic_store(&mp->signalpending, 0);
    return false;
}

/* stallone reports the G running on pp, which has held it for ns past
 * GORO_STALL_REPORT (see the top): through the preemption signal, whose
 * handler walks the G's stack from the interrupted registers when the G
 * cannot be stopped there (and stops it otherwise); or, for a thread that
 * waits in the kernel, which the signal would only cut short, from here
 * with the G's header alone. sysmon, under sched.sysmonlock. */
void stallone(p *pp, int64_t ns, uint64_t run)
{
    m *mp = __atomic_load_n(&pp->m, __ATOMIC_ACQUIRE);
    if (mp == NULL || mp->dead)
        return;
    g *gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
    if (gp == NULL || gp == mp->g0)
        return;
    if (threadsleeps(mp)) {
        tracebackstall(NULL, gp, mp, pp->id, ns);
        return;
    }
    /* The handler tells preemptible code by the table, which only the
     * signals of preemptone have built so far: without it every G would
     * be taken for one that cannot be stopped. */
    preemptmodules_refresh();
    atomic_store_explicit(&mp->stallns, ns, memory_order_relaxed);
    atomic_store_explicit(&mp->stallrun, run, memory_order_relaxed);
    /* store-release: the handler's exchange-acquire then reads both */
    atomic_store_explicit(&mp->stallgoid, gp->goid, memory_order_release);
    rawsyscall6(SYS_tgkill, mypid, mp->tid, SIGPREEMPT, 0, 0, 0);
}

/* canpreempt: gp, running on mp, may be stopped here and now. */
bool canpreempt(m *mp, g *gp)
{
    return mp->locks == 0 && gp->preemptoff == 0 && mp->p != NULL &&
           readgstatus(gp) == Grunning;
}

/* asyncpreempt_m: asyncPreempt's part on g0. The interrupted state is in
 * mp->xsavebuf and on gp's stack; the buffer goes with gp. */
void asyncpreempt_m(g *gp)
{
    m *mp = gp->m;
    atomic_store_explicit(&mp->stopping, true, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    void *b = gp->asyncctx;
    gp->asyncctx = mp->xsavebuf;
    mp->xsavebuf = b != NULL ? b : xsavealloc();
    mystats()->preempt_async++;
    traceGo(traceEvPreemptAsync, gp);
    gopreempt_m(gp);
}

/* ---- public API ------------------------------------------------------------------ */

void goro_preempt_disable(void)
{
    g *gp = getg();
    if (onG(gp))
        gp->preemptoff++;
}

void goro_preempt_enable(void)
{
    g *gp = getg();
    if (!onG(gp) || gp->preemptoff == 0)
        return;
    if (--gp->preemptoff == 0 && gp->preempt) {
        /* A request came meanwhile: honour it at the next call. */
        gp->stackguard0 = stackPreempt;
        setguard(stackPreempt);
    }
}
