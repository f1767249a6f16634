/*
 * traceback.c - the stacks of every G (Go's traceback.go, and the dump Go
 * prints on SIGQUIT and on a fatal error).
 *
 * What a dump looks like, one block per live G, as Go's:
 *
 *     goroutine 17 [chan receive, 3 minutes, group "echo", 8 KiB stack]:
 *     gopark(...)
 *             src/runtime/proc.c:1464 +0x43
 *     chanrecv(...)
 *             src/runtime/chan.c:300 +0x12f
 *     reader(...)
 *             /home/me/prog.c:12 +0x1d
 *     created by main_fn in goroutine 1
 *             /home/me/prog.c:30 +0x2a
 *
 * Arguments are not known (C has no such metadata at run time): every
 * function shows "(...)". The duration is that of the wait, in whole
 * minutes from one minute on (Go's rule): the periodic stack scan stamps
 * a parked G it finds unstamped, so it is known to within
 * GORO_STACK_SCAN_INTERVAL and unknown when scans are off.
 *
 * Which Gs are walked. A parked G (Gwaiting) is held with the Gscan bit,
 * as the stack scan holds it: nobody can ready it, run it or move its
 * stack meanwhile, so its saved context (g->sched.sp: the switch frame of
 * asmdefs.h, with rip, rsp after the frame, rbp, rbx and r12-r15) is
 * turned into a ucontext and handed to libunwind, which walks it by the
 * DWARF call frame information (so frames without a frame pointer, at -O2
 * with clang, are walked too). The calling G's own stack and, in a crash,
 * the crashing thread's are walked from their live registers. A running G
 * of another thread cannot be walked safely (its stack changes under the
 * walk, and may move): it is shown "stack unavailable", as Go does. A
 * runnable one is not held either: the M that dequeues it makes it
 * Grunning with a plain store (runtime2.h, casgstatus), so nothing stops
 * it from starting during the walk; it is shown without its stack.
 * (Go stops the world for a dump instead; here a dump of a live program
 * holds each parked G for the few microseconds of its walk, and allglock
 * in batches of 1,024 Gs, which only holds up the creation of a G that
 * needs a new slot: the scheduler never stops.)
 *
 * Unwinder and symboliser, measured and chosen: libunwind (walks a
 * constructed context, unw_init_local; documented safe in a signal
 * handler for local unwinding) and elfutils' libdwfl for function,
 * file:line (it reads the DWARF line tables, and re-reads /proc/self/maps
 * at every dump, so plugins loaded since are known). libbacktrace would
 * have done both and is async-signal-safe, but Debian 12 does not ship it;
 * glibc's backtrace() walks only the current thread. libdwfl allocates with
 * malloc, so it is used only where malloc may be called: a live dump
 * (goro_stacks_dump, goroctl stacks), the SIGQUIT dump (made on a thread
 * of its own that the signal handler wakes through a pipe, not in the
 * handler) and a fatal error (throw runs in ordinary code). A crash
 * (SIGSEGV & co, signal.c) may have happened inside malloc with its lock
 * held: its report names functions with libunwind's unw_get_proc_name,
 * which only reads the symbol tables, and gives the module and offset for
 * addr2line instead of file:line (as every dump does when memory is
 * short: libdwfl exits the process when an allocation fails, see
 * dwflMemoryProbe); its output goes straight to stderr,
 * and nothing on that path allocates or takes a lock that a crashed
 * thread could hold (dladdr's, at worst, as signal.c always did).
 *
 * Stacks: every function here runs on g0, on a thread the runtime does
 * not run, or on an M's signal stack, never on a G's. All are
 * no_split_stack: on a signal stack the guard in %fs:0x70 is the
 * interrupted G's (or stackPreempt), and a prologue check against it
 * would call __morestack from a signal handler. A dump's text is built in
 * memory mapped for it (mmap, not malloc) and written out when the walk
 * is over, so that a slow reader of the fd never holds allglock or a G.
 *
 * A stall report (GORO_STALL_REPORT, preempt.c) is the crash report's
 * walk of one running G from a signal's context, made by the preemption
 * signal's handler on the stalled thread, which is not a crash: the
 * process goes on, and the report does not count as the fatal dump.
 *
 * GORO_TRACEBACK (Go's GOTRACEBACK): none prints no stacks; single (the
 * default) prints the crashing G in a crash, and every G on SIGQUIT and on
 * a fatal error of the runtime; all prints every G in a crash too; crash
 * is all, then SIGABRT for a core dump where SIGQUIT would exit 2.
 *
 * Rejected: a frame-pointer walk of our own (the pkg-config flags do not
 * force frame pointers, and clang -O2 omits them); stopping the world for
 * a dump (the scheduler has no such mechanism, and a dump of 100,000 Gs
 * would stop it for the whole walk); walking runnable Gs racily.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime2.h"

#define NOSPLIT __attribute__((no_split_stack))

/* Go's limit: a stack deeper than this prints its first frames only. */
#define tracebackMaxFrames 100

/* ---- output ---------------------------------------------------------------
 * tbw writes a dump: to fd through a small buffer (crash, fatal error), or
 * into memory mapped for it, written to fd at the end (live dumps). */
typedef struct tbw {
    int    fd;
    bool   grow;        /* in memory: buf grows, written by tbclose */
    char  *buf;
    size_t n, cap;
    char   small[4096];
} tbw;

NOSPLIT static void writeall(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

NOSPLIT static void tbinit(tbw *w, int fd, bool grow)
{
    w->fd = fd;
    w->n = 0;
    w->grow = false;
    w->buf = w->small;
    w->cap = sizeof w->small;
    if (grow) {
        void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            w->buf = p;
            w->cap = 1 << 20;
            w->grow = true;
        }
    }
}

NOSPLIT static void tbflush(tbw *w)
{
    writeall(w->fd, w->buf, w->n);
    w->n = 0;
}

NOSPLIT static void tbput(tbw *w, const char *s, size_t n)
{
    if (w->n + n > w->cap) {
        if (w->grow) {
            size_t cap = w->cap;
            while (w->n + n > cap)
                cap *= 2;
            void *p = mremap(w->buf, w->cap, cap, MREMAP_MAYMOVE);
            if (p == MAP_FAILED) {
                tbflush(w);     /* out of memory: write as we go */
            } else {
                w->buf = p;
                w->cap = cap;
            }
        } else {
            tbflush(w);
        }
    }
    if (n > w->cap) {
        writeall(w->fd, s, n);
        return;
    }
    memcpy(w->buf + w->n, s, n);
    w->n += n;
}

/* tbprintf: at most four arguments after fmt. A no_split_stack variadic
 * function compiled with -fsplit-stack does not find the arguments passed
 * on the stack (gcc 12 reads them through %r11, which only a split-stack
 * prologue sets). */
NOSPLIT __attribute__((format(printf, 2, 3)))
static void tbprintf(tbw *w, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof tmp)
        n = sizeof tmp - 1;
    tbput(w, tmp, (size_t)n);
}

NOSPLIT static void tbclose(tbw *w)
{
    tbflush(w);
    if (w->grow)
        munmap(w->buf, w->cap);
}

/* ---- symbols ----------------------------------------------------------------
 * One dump at a time (dumplock): libdwfl is not thread-safe, and the cache
 * below is the dump's. */
static _Atomic int dumplock;
static Dwfl *dwfl;
static const Dwfl_Callbacks dwflcallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

/* What a pc is: function and offset from its entry, file:line when the
 * debug information has it, else the module and the offset in it. */
typedef struct sym {
    uintptr_t   pc;
    uint32_t    gen;      /* cache entry valid when == symgen */
    int         line;
    const char *func;
    uintptr_t   off;
    const char *file;
    const char *compdir;  /* the directory a relative file is in */
    const char *mod;
    uintptr_t   modoff;
} sym;

/* The cache of a dump: most Gs of a program are parked in a few places. */
#define symcacheSize 8192
static sym symcache[symcacheSize];
static uint32_t symgen;

/* dwflreport (re)reads the modules of the process. Under dumplock. */
NOSPLIT static void dwflreport(void)
{
    if (dwfl == NULL && (dwfl = dwfl_begin(&dwflcallbacks)) == NULL)
        return;
    dwfl_report_begin(dwfl);
    dwfl_linux_proc_report(dwfl, getpid());
    dwfl_report_end(dwfl, NULL, NULL);
}

/* modof names the module pc lies in, as dladdr knows it. */
NOSPLIT static void modof(uintptr_t pc, sym *s)
{
    Dl_info di;
    if (dladdr((void *)pc, &di) != 0 && di.dli_fname != NULL) {
        s->mod = di.dli_fname;
        s->modoff = pc - (uintptr_t)di.dli_fbase;
    }
}

/* symfull: pc through libdwfl (and the dump's cache). isret: pc is a
 * return address, so the call is the instruction before it. */
NOSPLIT static void symfull(uintptr_t pc, bool isret, sym *out)
{
    uintptr_t key = pc ^ (uintptr_t)isret;
    sym *e = &symcache[(key * 0x9e3779b97f4a7c15ull) >> 51];
    if (e->gen == symgen && e->pc == key) {
        *out = *e;
        return;
    }
    memset(out, 0, sizeof *out);
    uintptr_t addr = isret ? pc - 1 : pc;
    Dwfl_Module *mod = dwfl ? dwfl_addrmodule(dwfl, addr) : NULL;
    if (mod != NULL) {
        GElf_Off off = 0;
        GElf_Sym es;
        out->func = dwfl_module_addrinfo(mod, addr, &off, &es, NULL, NULL,
                                         NULL);
        out->off = off + (isret ? 1 : 0);
        Dwfl_Line *l = dwfl_module_getsrc(mod, addr);
        if (l != NULL) {
            out->file = dwfl_lineinfo(l, NULL, &out->line, NULL, NULL, NULL);
            if (out->file != NULL && out->file[0] != '/')
                out->compdir = dwfl_line_comp_dir(l);
        }
        Dwarf_Addr start;
        out->mod = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL,
                                    NULL, NULL);
        out->modoff = pc - start;
    } else {
        modof(pc, out);
    }
    out->pc = key;
    out->gen = symgen;
    *e = *out;
}

/* symsafe: pc through libunwind's symbol table reader alone (crashes).
 * name is the caller's buffer. */
NOSPLIT static void symsafe(uintptr_t pc, bool isret, sym *out, char *name,
                            size_t n)
{
    memset(out, 0, sizeof *out);
    unw_context_t uc;
    unw_cursor_t c;
    unw_word_t off;
    unw_getcontext(&uc);
    if (unw_init_local(&c, &uc) == 0 &&
        unw_set_reg(&c, UNW_REG_IP, isret ? pc - 1 : pc) == 0 &&
        unw_get_proc_name(&c, name, n, &off) == 0) {
        out->func = name;
        out->off = off + (isret ? 1 : 0);
    }
    modof(pc, out);
}

/* The runtime's helpers for these are split-stack (proc.c): on a signal
 * stack their prologue would compare it with a G's guard. */
NOSPLIT static inline uint32_t loadgstatus(g *gp)
{
    return atomic_load_explicit(&gp->atomicstatus, memory_order_acquire);
}

/* holdg: Gwaiting -> Gwaiting|Gscan, as castogscanstatus. */
NOSPLIT static inline bool holdg(g *gp)
{
    uint32_t cur = Gwaiting;
    return atomic_compare_exchange_strong_explicit(
        &gp->atomicstatus, &cur, Gwaiting | Gscan, memory_order_acq_rel,
        memory_order_acquire);
}

NOSPLIT static int64_t nowcoarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- walking ----------------------------------------------------------------- */

typedef struct tbctx {
    tbw         w;
    bool        safe;    /* crash: symsafe only */
    const char *group;   /* only the Gs of this group (NULL: all) */
    int64_t     now;
    int         n;       /* Gs printed */
} tbctx;

NOSPLIT static void lookup(tbctx *t, uintptr_t pc, bool isret, sym *s,
                           char *name, size_t n)
{
    if (t->safe)
        symsafe(pc, isret, s, name, n);
    else
        symfull(pc, isret, s);
}

NOSPLIT static void printsym(tbctx *t, uintptr_t pc, const sym *s)
{
    if (s->file != NULL) {
        if (s->compdir != NULL)
            tbprintf(&t->w, "\t%s/", s->compdir);
        else
            tbput(&t->w, "\t", 1);
        tbprintf(&t->w, "%s:%d +0x%lx\n", s->file, s->line,
                 (unsigned long)s->off);
    }
    else if (s->mod != NULL)
        tbprintf(&t->w, "\t%s+0x%lx\n", s->mod, (unsigned long)s->modoff);
    else
        tbprintf(&t->w, "\t?:0 pc=0x%lx\n", (unsigned long)pc);
}

/* walk prints the frames of cursor c, from the first whose function is
 * named from (NULL: the first), to the G's entry (gostart is not shown).
 * firstret: the first frame's pc is a return address. entry: the G's
 * function (g->fn), or NULL: when tail calls left it off the stack (its
 * last call was a jump), it is shown anyway, at its first line. */
NOSPLIT static void walk(tbctx *t, unw_cursor_t *c, bool firstret,
                         const char *from, goro_fn entry)
{
    bool isret = firstret;
    uintptr_t lastentry = 0;
    int shown = 0;
    for (int i = 0; i < 4 * tracebackMaxFrames; i++) {
        unw_word_t ip = 0;
        if (unw_get_reg(c, UNW_REG_IP, &ip) < 0 || ip == 0)
            break;
        char name[256];
        sym s;
        lookup(t, ip, isret, &s, name, sizeof name);
        if (from != NULL && (s.func == NULL || strcmp(s.func, from) != 0)) {
            isret = unw_is_signal_frame(c) <= 0;
            if (unw_step(c) <= 0)
                return;
            continue;
        }
        from = NULL;
        if (s.func != NULL && strcmp(s.func, "gostart") == 0) {
            uintptr_t e = (uintptr_t)entry;
            if (e != 0 && e != lastentry) {
                lookup(t, e, false, &s, name, sizeof name);
                tbprintf(&t->w, "%s(...)\n", s.func ? s.func : "?");
                printsym(t, e, &s);
            }
            return;
        }
        if (shown == tracebackMaxFrames) {
            tbprintf(&t->w, "...additional frames elided...\n");
            return;
        }
        tbprintf(&t->w, "%s(...)\n", s.func ? s.func : "?");
        printsym(t, ip, &s);
        lastentry = ip - s.off;
        shown++;
        /* A signal frame's caller was interrupted, not calling. */
        isret = unw_is_signal_frame(c) <= 0;
        if (unw_step(c) <= 0)
            return;
    }
}

NOSPLIT static const char *statusstr(g *gp, uint32_t st)
{
    switch (st & ~(uint32_t)Gscan) {
    case Grunnable:  return "runnable";
    case Grunning:   return "running";
    case Gsyscall:   return "syscall";
    case Gcopystack: return "copystack";
    case Gwaiting:
        return gp->waitreason < waitReasonCount
                   ? waitReasonStrings[gp->waitreason] : "waiting";
    }
    return "unknown";
}

NOSPLIT static void header(tbctx *t, g *gp, const char *status)
{
    tbprintf(&t->w, "goroutine %lld [%s", (long long)gp->goid, status);
    if ((loadgstatus(gp) & ~(uint32_t)Gscan) == Gwaiting &&
        gp->waitsince != 0 && t->now > gp->waitsince) {
        int64_t min = (t->now - gp->waitsince) / 60000000000;
        if (min >= 1)
            tbprintf(&t->w, ", %lld minutes", (long long)min);
    }
    if (gp->lockedm != NULL)
        tbprintf(&t->w, ", locked to thread");   /* as Go's */
    if (gp->group != NULL)
        tbprintf(&t->w, ", group \"%s\"", gp->group->name);
    uintptr_t size = gp->stack.hi - gp->stack.lo;
    if (size % 1024 == 0)
        tbprintf(&t->w, ", %lu KiB stack]:\n", (unsigned long)(size / 1024));
    else
        tbprintf(&t->w, ", %lu-byte stack]:\n", (unsigned long)size);
}

NOSPLIT static void createdby(tbctx *t, g *gp)
{
    if (gp->gopc == 0)
        return;
    char name[256];
    sym s;
    lookup(t, gp->gopc, true, &s, name, sizeof name);
    tbprintf(&t->w, "created by %s in goroutine %lld\n",
             s.func ? s.func : "?", (long long)gp->parentgoid);
    printsym(t, gp->gopc, &s);
}

/* walksaved walks a G that is not running from its switch frame. The
 * caller holds gp (Gscan) or is the M it last ran on. */
NOSPLIT static void walksaved(tbctx *t, g *gp)
{
    uintptr_t sp = gp->sched.sp;
    if (sp < gp->stack.lo || sp + SF_SIZE > gp->stack.hi) {
        tbprintf(&t->w, "\tsaved sp 0x%lx outside the stack [0x%lx, 0x%lx)\n",
                 (unsigned long)sp, (unsigned long)gp->stack.lo,
                 (unsigned long)gp->stack.hi);
        return;
    }
    const switchframe *sf = (const switchframe *)sp;
    unw_context_t uc;
    memset(&uc, 0, sizeof uc);
    greg_t *r = uc.uc_mcontext.gregs;
    r[REG_RIP] = (greg_t)sf->rip;
    r[REG_RSP] = (greg_t)(sp + SF_SIZE);   /* after gogo's ret */
    r[REG_RBP] = (greg_t)sf->rbp;
    r[REG_RBX] = (greg_t)sf->rbx;
    r[REG_R12] = (greg_t)sf->r12;
    r[REG_R13] = (greg_t)sf->r13;
    r[REG_R14] = (greg_t)sf->r14;
    r[REG_R15] = (greg_t)sf->r15;
    unw_cursor_t c;
    if (unw_init_local(&c, &uc) != 0) {
        tbprintf(&t->w, "\tcannot unwind\n");
        return;
    }
    /* A parked G resumes after its call of mcall: a return address. */
    walk(t, &c, true, NULL, gp->fn);
}

/* walkself walks the calling thread from the frame named from; self: the
 * G whose stack that is, or NULL. */
NOSPLIT static void walkself(tbctx *t, const char *from, g *self)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_getcontext(&uc);
    if (unw_init_local(&c, &uc) == 0)
        walk(t, &c, false, from, self ? self->fn : NULL);
}

/* dumpg prints gp, another G than the caller's: walked when it is parked
 * (held meanwhile), its header only otherwise. */
NOSPLIT static void dumpg(g *gp, void *arg)
{
    tbctx *t = arg;
    uint32_t st = loadgstatus(gp);
    if (st == Gdead || st == Gidle)
        return;
    if (t->group != NULL &&
        (gp->group == NULL || strcmp(gp->group->name, t->group) != 0))
        return;
    bool held = false;
    for (int i = 0; i < 1000 && (st & ~(uint32_t)Gscan) == Gwaiting; i++) {
        if (holdg(gp)) {
            held = true;
            break;
        }
        __builtin_ia32_pause();   /* a stack scan holds it: briefly */
        st = loadgstatus(gp);
    }
    if (t->n++ > 0)
        tbput(&t->w, "\n", 1);
    header(t, gp, statusstr(gp, st));
    if (held) {
        if (gp->waitsince == 0)
            gp->waitsince = t->now;
        walksaved(t, gp);
        /* release-store: as the stack scan releases a G */
        atomic_store_explicit(&gp->atomicstatus, Gwaiting,
                              memory_order_release);
    } else if ((st & ~(uint32_t)Gscan) == Grunnable) {
        tbprintf(&t->w, "\tstack not walked: runnable, it may start "
                        "running at any moment\n");
    } else if ((st & ~(uint32_t)Gscan) == Gwaiting) {
        tbprintf(&t->w, "\tstack not walked: held by a stack scan\n");
    } else {
        tbprintf(&t->w, "\tgoroutine running on other thread; stack "
                        "unavailable\n");
    }
    createdby(t, gp);
}

/* The skip set by dumpall for the caller's own G, printed first. */
static g *dumpself;

NOSPLIT static void dumpother(g *gp, void *arg)
{
    if (gp != dumpself)
        dumpg(gp, arg);
}

/* allgtrylock takes allglock, waiting at most about a second: a fatal
 * dump must not hang on a lock its own thread (or a stuck one) holds. */
NOSPLIT static bool allgtrylock(void)
{
    for (int i = 0; i < 1000; i++) {
        uint32_t u = mutex_unlocked;
        if (atomic_compare_exchange_strong(&allglock.key, &u, mutex_locked))
            return true;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* dumpall prints every G but self. locked: through forallg (a live
 * process). Else the process is about to die (a fatal error, a crash,
 * SIGQUIT): under allgtrylock, or without the lock if that fails, and
 * the lock is not given back (no G will be created again, and unlock's
 * bookkeeping is the M's, which a signal handler must not touch). */
NOSPLIT static void dumpall(tbctx *t, g *self, bool locked)
{
    if (allgs == NULL)
        return;
    dumpself = self;
    if (locked) {
        forallg(dumpother, t);
        return;
    }
    allgtrylock();
    for (uint32_t i = 0; i < allglen; i++) {
        g *gp = allgs[i];
        if (gp != NULL && gp != self)
            dumpg(gp, t);
    }
}

/* libdwfl's answer to running out of memory is error(3) and exit(1)
 * (elfutils' __libdw_oom): a dump that found memory short would end the
 * process, with the wrong status and no core. So a dump uses it only when
 * this much address space can still be had. */
#define dwflMemoryProbe (64 << 20)

NOSPLIT static bool memoryavailable(void)
{
    void *p = mmap(NULL, dwflMemoryProbe, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    munmap(p, dwflMemoryProbe);
    return true;
}

NOSPLIT static void dumpbegin(tbctx *t, int fd, bool grow, bool safe)
{
    while (atomic_exchange(&dumplock, 1) != 0) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    tbinit(&t->w, fd, grow);
    t->safe = safe || !memoryavailable();
    t->group = NULL;
    t->n = 0;
    t->now = nowcoarse();
    if (!t->safe) {
        symgen++;
        dwflreport();
    }
}

NOSPLIT static void dumpend(tbctx *t)
{
    tbclose(&t->w);
    atomic_store(&dumplock, 0);
}

/* ---- goro_stacks_dump ------------------------------------------------------ */

struct dumpargs {
    int fd;
    const char *group;
    g *self;            /* the calling G, or NULL */
};

/* dump_sys: the calling G first (walked from its live frames, through
 * systemstack), then the others. On g0 or a thread that is not an M. */
NOSPLIT static uintptr_t dump_sys(void *arg)
{
    struct dumpargs *a = arg;
    tbctx t;
    dumpbegin(&t, a->fd, true, false);
    t.group = a->group;
    g *self = a->self;
    if (self != NULL && (a->group == NULL ||
                         (self->group != NULL &&
                          strcmp(self->group->name, a->group) == 0))) {
        header(&t, self, "running");
        walkself(&t, "goro_stacks_dump_group", self);
        createdby(&t, self);
        t.n++;
    }
    dumpall(&t, self, true);
    int n = t.n;
    dumpend(&t);
    return (uintptr_t)n;
}

int goro_stacks_dump_group(int fd, const char *group)
{
    if (fd < 0)
        return -EBADF;
    if (allgs == NULL)
        return 0;
    g *gp = getg();
    struct dumpargs a = {fd, group, onG(gp) ? gp : NULL};
    return (int)systemstack(dump_sys, &a);
}

int goro_stacks_dump(int fd)
{
    return goro_stacks_dump_group(fd, NULL);
}

/* ---- fatal errors and crashes ----------------------------------------------- */

static _Atomic int fataldumping;

/* fatalbegin: the first fatal dump of the process, or false. A stderr
 * whose reader went away must not turn the death into a SIGPIPE (no core,
 * the wrong cause): the writes just fail. */
NOSPLIT static bool fatalbegin(void)
{
    if (rtconf.traceback == tracebackNone ||
        atomic_exchange(&fataldumping, 1) != 0)
        return false;
    signal(SIGPIPE, SIG_IGN);
    return true;
}

struct fatalargs {
    g *self;    /* the G that threw, or NULL (g0, or no M) */
    m *mp;
};

NOSPLIT static uintptr_t throw_sys(void *arg)
{
    struct fatalargs *a = arg;
    tbctx t;
    dumpbegin(&t, 2, false, false);
    tbput(&t.w, "\n", 1);
    if (a->self != NULL) {
        header(&t, a->self, "running");
        walkself(&t, "throw", a->self);
        createdby(&t, a->self);
    } else {
        if (a->mp != NULL)
            tbprintf(&t.w, "runtime stack (m%d, g0):\n", a->mp->id);
        else
            tbprintf(&t.w, "runtime stack (a thread that runs no G):\n");
        walkself(&t, "throw", NULL);
    }
    t.n = 1;
    dumpall(&t, a->self, false);
    dumpend(&t);
    return 0;
}

/* tracebackthrow prints the stacks for a fatal error (throw, after its
 * "fatal error:" line): the thrower's, then every other G's. */
NOSPLIT void tracebackthrow(void)
{
    if (!fatalbegin())
        return;   /* a throw inside the dump: no second one */
    g *gp = getg();
    struct fatalargs a = {onG(gp) ? gp : NULL, gp ? gp->m : NULL};
    systemstack(throw_sys, &a);
}

/* tracebackcrash prints, for signal.c's crash report, the stack of the
 * thread that took the signal from its interrupted context ctx (a
 * ucontext_t), and with GORO_TRACEBACK=all or crash every other G.
 * Signal handler, on the M's signal stack: symbols by libunwind alone. */
NOSPLIT void tracebackcrash(void *ctx, g *self)
{
    if (!fatalbegin())
        return;
    tbctx t;
    tbinit(&t.w, 2, false);
    t.safe = true;
    t.group = NULL;
    t.n = 1;
    t.now = nowcoarse();
    unw_cursor_t c;
    if (unw_init_local2(&c, (unw_context_t *)ctx, UNW_INIT_SIGNAL_FRAME) == 0)
        walk(&t, &c, false, NULL, self ? self->fn : NULL);
    if (self != NULL)
        createdby(&t, self);
    if (rtconf.traceback >= tracebackAll) {
        dumpall(&t, self, false);
    }
    tbflush(&t.w);
}

/* ---- stall reports -------------------------------------------------------------
 * GORO_STALL_REPORT (preempt.c says when and how). One report at a time:
 * two threads that stall together write one after the other. */
static _Atomic int stallreporting;

NOSPLIT void tracebackstall(void *ctx, g *gp, m *mp, int32_t pid, int64_t ns)
{
    /* Another thread's report is being written: wait for it (at most
     * 100 ms, on this thread, which is stalled anyway). */
    for (int i = 0; atomic_exchange(&stallreporting, 1) != 0; i++) {
        if (i == 100)
            return;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    tbctx t;
    tbinit(&t.w, 2, false);
    t.safe = true;       /* in a signal handler: libunwind's symbols alone */
    t.group = NULL;
    t.n = 1;
    t.now = nowcoarse();
    tbprintf(&t.w, "goro: stall: goroutine %lld has held P %d for %lld ms",
             (long long)gp->goid, (int)pid, (long long)(ns / 1000000));
    tbprintf(&t.w, " in code that cannot be preempted (m%d, thread %d):\n",
             mp->id, (int)mp->tid);
    header(&t, gp, "running");
    unw_cursor_t c;
    if (ctx == NULL)
        tbprintf(&t.w, "\tstack not walked: its thread waits in the kernel, "
                       "in a call the runtime was not told of (a signal "
                       "would cut the call short)\n");
    else if (unw_init_local2(&c, (unw_context_t *)ctx,
                             UNW_INIT_SIGNAL_FRAME) == 0)
        walk(&t, &c, false, NULL, gp->fn);
    createdby(&t, gp);
    tbput(&t.w, "\n", 1);
    tbflush(&t.w);
    atomic_store(&stallreporting, 0);
}

/* ---- SIGQUIT ------------------------------------------------------------------
 * The handler only wakes quitter, a thread of its own that makes the dump
 * in ordinary code (libdwfl allocates), then exits 2, or aborts for a
 * core with GORO_TRACEBACK=crash. The signal reaches a thread that is not
 * an M (Ms block it, signal.c): the loop thread, libuv's pool, or one of
 * the program's. */
static int quitpipe[2] = {-1, -1};

NOSPLIT static void sigquit(int sig)
{
    (void)sig;
    int saved = errno;
    char c = 1;
    if (write(quitpipe[1], &c, 1) < 0) {
        /* Nothing to do: the dump is already on its way. */
    }
    errno = saved;
}

NOSPLIT static void *quitter(void *arg)
{
    (void)arg;
    char c;
    while (read(quitpipe[0], &c, 1) != 1)
        ;
    static const char msg[] = "SIGQUIT: quit\n";
    writeall(2, msg, sizeof msg - 1);
    if (fatalbegin()) {
        tbctx t;
        dumpbegin(&t, 2, false, false);
        tbput(&t.w, "\n", 1);
        dumpall(&t, NULL, false);
        dumpend(&t);
    }
    if (rtconf.traceback == tracebackCrash) {
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    _exit(2);
}

/* tracebackinit installs the SIGQUIT dump when SIGQUIT is at its default
 * action (a program that handles it keeps its handler). From goro_run,
 * before the first M starts (so that quitter gets the program's signal
 * mask, less what it blocks itself). */
NOSPLIT void tracebackinit(void)
{
    struct sigaction old;
    if (sigaction(SIGQUIT, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
        old.sa_handler != SIG_DFL)
        return;
    if (pipe2(quitpipe, O_CLOEXEC) != 0)
        return;
    sigset_t all, prev;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &prev);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&th, &attr, quitter, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (err != 0) {
        close(quitpipe[0]);
        close(quitpipe[1]);
        return;
    }
    pthread_setname_np(th, "goro-sigquit");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sigquit;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
}
