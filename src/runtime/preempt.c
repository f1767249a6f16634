/*
 * preempt.c - stopping a G that runs too long (Go's preempt.go).
 *
 * A G gives its P back only when it parks, yields or exits. One that
 * computes for seconds would keep every other G of its P waiting, so sysmon
 * (proc.c, on the loop thread) watches how long each P has been running the
 * same G and, past the time slice, asks that G to stop. Two mechanisms:
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
 * The XSAVE area lives on the heap, not on the stack: with AVX-512 it is
 * 2.7 KiB, more than a whole minimum stack, and a signal cannot grow one.
 *
 * Rejected: a timer signal per M (Gs that yield often would be interrupted
 * for nothing); preempting anywhere in the runtime (it would need every
 * runtime data structure to be consistent at every instruction); saving
 * only the SSE registers as Go does (C code may keep AVX values live).
 */
#include <jemalloc/jemalloc.h>
#include <cpuid.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include "runtime2.h"
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

/* preemptmdrop undoes preemptminit on a thread that goes on living without
 * the runtime (m0, when goro_run returns). */
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
    if (signal)
        cf = callfreeSlices;
    else if (cf == 0)
        return false;           /* the guard alone */
    else
        cf--;
    __atomic_store_n(&gp->callfree, cf, __ATOMIC_RELAXED);
    if (!signal && cf == 0)
        return true;            /* the guard alone, to see whether it
                                   still ignores it */
    if (!rtconf.async_preempt || !preemptmodules_refresh())
        return false;
    /* tgkill itself: glibc's pthread_kill adds two sigprocmask calls and
     * a getpid to guard against a thread that exits meanwhile, which the
     * caller rules out (sysmonlock, mp->dead). */
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&mp->signalpending, &zero, 1) &&
        rawsyscall6(SYS_tgkill, mypid, mp->tid, SIGPREEMPT, 0, 0, 0) != 0)
        atomic_store(&mp->signalpending, 0);
    return false;
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
    void *b = gp->asyncctx;
    gp->asyncctx = mp->xsavebuf;
    mp->xsavebuf = b != NULL ? b : xsavealloc();
    mystats()->preempt_async++;
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
