/*
 * signal.c - what the runtime says when a G crashes (Go's sighandler for
 * the synchronous signals, signal_unix.go).
 *
 * A bad pointer in a G kills the process as it would without the runtime,
 * but a bare "Segmentation fault" tells an operator nothing: which of a
 * million Gs, which plugin, was it a stack overflow? And abort() (a failed
 * assert, a library giving up, glibc's "double free" check) says nothing
 * at all: the process just dies of SIGABRT. So for SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL and SIGABRT, when the program has not installed a handler
 * of its own, goro_run installs sigfatal, which prints
 *
 *     signal SIGSEGV: segmentation violation code=1 addr=0x0 pc=0x7f...
 *     pc 0x7f... is in /usr/lib/goro/plugins/x.so (handler+0x1c)
 *
 *     goroutine 17 [running] of group "x": stack [0x7f.., 0x7f..) size 8192,
 *     sp 0x7f.. (416 bytes in use)
 *     m3 p1
 *     traceback:
 *     ...
 *
 * (and, when the faulting address lies just below the G's stack, that this
 * is a stack overflow: the guard page of a fixed or from_system stack, or
 * code built without -fsplit-stack that used more than the headroom), then
 * lets the signal take its default action: the process dies of that signal,
 * with a core dump where enabled, which a supervisor (systemd's
 * Restart=on-failure) counts as a failure. Go exits with status 2 instead;
 * dying of the signal keeps the core and the true cause in the status.
 *
 * The handler runs on the M's signal stack (preemptminit gives every M
 * one), whose address has nothing to do with the split-stack guard in
 * %fs:0x70 -- which sysmon may even set to stackPreempt meanwhile, from the
 * loop thread. So nothing here has stack checks: every function of this
 * file is no_split_stack and prints through its own sigprint, and the rest
 * is libc.
 * The traceback is traceback.c's: libunwind walks from the interrupted
 * context (the signal frame's registers) by the unwind tables, and names
 * each frame from the symbol tables without allocating. SA_RESETHAND makes a second fault inside the
 * handler fatal at once instead of recursive, and only the first thread to
 * crash prints: the others wait for the process to die.
 *
 * A program that handles these signals itself (a test harness, a language
 * runtime) keeps its handler: the runtime does not chain, since there is
 * nothing to resume.
 *
 * Which thread takes a signal (minitSignalMask). The kernel delivers a
 * signal sent to the process (kill(2), a terminal's ^C, a timer's expiry,
 * SIGCHLD) to any thread that does not block it, and a handler installed
 * without SA_ONSTACK runs on that thread's current stack -- on an M, the
 * stack of the G it was running: 2 KiB, and the kernel's signal frame alone
 * (the register file, 3.5 KiB with AVX-512) runs off its bottom into the
 * stacks below it, which belong to other Gs (a G whose return address at
 * the top of its stack was overwritten so returns to 0 when it runs again).
 * libuv's handler, which catches the signals of goro_signal_notify -- a
 * daemon's SIGTERM and SIGHUP -- is installed without it. So every M
 * blocks the signals that are sent to the process, and the kernel gives
 * them to a thread without G stacks: the loop thread, or libuv's pool
 * threads, which keep the program's mask. An M takes only the signals that
 * belong to the code it runs, which blocking would defer or turn fatal: the
 * faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS), abort's
 * SIGABRT, the SIGPIPE and SIGXFSZ a write raises, and the preemption
 * signal. A handler of those must be installed with SA_ONSTACK (every M
 * has a signal stack), as Go asks of C code too. goro_run gives its thread
 * its mask back when it returns.
 *
 * SIGABRT is also how the runtime's own throw ends (panic.c), after a
 * report of its own: while throwing is set, sigfatal prints nothing and
 * lets the signal kill the process at once.
 *
 * Rejected: adding SA_ONSTACK to every handler, as Go does for the ones it
 * installs (a handler compiled -fsplit-stack would compare its signal
 * stack with the interrupted G's guard in %fs:0x70 and call __morestack
 * from a signal; and a program's handler would still interrupt Gs in the
 * middle of anything).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "runtime2.h"

#define NOSPLIT __attribute__((no_split_stack))

/* sigprint is print (panic.c) without stack checks. */
static NOSPLIT __attribute__((format(printf, 1, 2)))
void sigprint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

static const int fatalsigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static _Atomic int crashing;

/* How far below a stack a fault still counts as overflowing it: a frame
 * of code without stack checks may skip the guard page. */
#define OverflowReach (64 * 1024)

static NOSPLIT const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV: segmentation violation";
    case SIGBUS:  return "SIGBUS: bus error";
    case SIGFPE:  return "SIGFPE: floating-point exception";
    case SIGILL:  return "SIGILL: illegal instruction";
    case SIGABRT: return "SIGABRT: abort";
    }
    return "signal";
}

/* printpc names the module and symbol pc lies in, as dladdr knows them. */
static NOSPLIT void printpc(const char *what, uintptr_t pc)
{
    Dl_info di;
    if (pc != 0 && dladdr((void *)pc, &di) != 0 && di.dli_fname != NULL) {
        if (di.dli_sname != NULL)
            sigprint("%s 0x%lx is in %s (%s+0x%lx)\n", what, (unsigned long)pc,
                  di.dli_fname, di.dli_sname,
                  (unsigned long)(pc - (uintptr_t)di.dli_saddr));
        else
            sigprint("%s 0x%lx is in %s (+0x%lx)\n", what, (unsigned long)pc,
                  di.dli_fname,
                  (unsigned long)(pc - (uintptr_t)di.dli_fbase));
    } else {
        sigprint("%s 0x%lx is in no loaded module\n", what, (unsigned long)pc);
    }
}

/* printg describes gp, the G the thread was running, and whether addr,
 * the faulting address, is an overflow of its stack. */
static NOSPLIT void printg(g *gp, const char *state, uintptr_t sp, uintptr_t addr,
                   bool fault)
{
    uintptr_t lo = gp->stack.lo, hi = gp->stack.hi;
    sigprint("\ngoroutine %lld [%s]", (long long)gp->goid, state);
    if (gp->group != NULL)
        sigprint(" of group \"%s\"", gp->group->name);
    sigprint(": stack [0x%lx, 0x%lx) size %lu", (unsigned long)lo,
          (unsigned long)hi, (unsigned long)(hi - lo));
    if (sp >= lo && sp <= hi)
        sigprint(", sp 0x%lx (%lu bytes in use)\n", (unsigned long)sp,
              (unsigned long)(hi - sp));
    else
        sigprint(", sp 0x%lx outside it\n", (unsigned long)sp);
    if (fault && addr < lo && lo - addr <= OverflowReach)
        sigprint("fault address 0x%lx is %lu bytes below this G's %sstack: "
              "stack overflow (%s)\n", (unsigned long)addr,
              (unsigned long)(lo - addr), gp->fixedstack ? "fixed " : "",
              gp->fixedstack ? "the group's fixed_stack is too small for "
                               "what its code needs"
                             : "code without stack checks used more than the "
                               "non-split headroom");
}

/* gstatus is readgstatus (proc.c, split-stack code) for this file. */
static NOSPLIT uint32_t gstatus(g *gp)
{
    return atomic_load_explicit(&gp->atomicstatus, memory_order_acquire);
}

static NOSPLIT void sigfatal(int sig, siginfo_t *info, void *ctx)
{
    if (sig == SIGABRT && atomic_load(&throwing)) {
        /* throw's abort, after its report (or a report that faulted). */
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
        return;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&crashing, &expected, 1)) {
        /* Another thread is printing its report and will kill us all. */
        for (;;)
            pause();
    }
    ucontext_t *uc = ctx;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    uintptr_t addr = (uintptr_t)info->si_addr;
    bool fault = info->si_code > 0;  /* from the CPU, not kill(2) */

    if (fault)
        sigprint("signal %s code=%d addr=0x%lx pc=0x%lx\n", signame(sig),
                 info->si_code, (unsigned long)addr, (unsigned long)pc);
    else
        sigprint("signal %s code=%d sent by pid %d%s pc=0x%lx\n",
                 signame(sig), info->si_code, (int)info->si_pid,
                 info->si_pid != getpid() ? ""
                 : sig == SIGABRT ? " (this process: abort(), a failed "
                                    "assert)"
                                  : " (this process)",
                 (unsigned long)pc);
    printpc("pc", pc);

    g *gp = getg();
    if (gp == NULL) {
        sigprint("\non a thread the runtime does not run\n");
    } else {
        m *mp = gp->m;
        if (gp != mp->g0)
            printg(gp, "running", sp, addr, fault);
        else if (mp->curg != NULL &&
                 (gstatus(mp->curg) == Grunning ||
                  gstatus(mp->curg) == Gsyscall))
            /* A G's libc call runs on g0 (cgocall.c): it is still the
             * G's code that crashed. */
            printg(mp->curg, "running, in a C call on the thread's stack",
                   mp->curg->sched.sp, addr, fault);
        else if (mp->curg != NULL)
            printg(mp->curg, "in the scheduler", mp->curg->sched.sp, addr,
                   fault);
        else
            sigprint("\nin the scheduler, no G\n");
        if (mp->p != NULL)
            sigprint("m%d p%d\n", mp->id, mp->p->id);
        else
            sigprint("m%d\n", mp->id);
    }
    /* The interrupted code's stack (the G's, or g0's), symbolised by
     * libunwind without allocating (traceback.c); with GORO_TRACEBACK=all
     * or crash, every other G's after it. */
    sigprint("traceback:\n");
    tracebackcrash(ctx, gp == NULL ? NULL
                        : gp != gp->m->g0 ? gp : gp->m->curg);

    /* A fault in the dump of a fatal error (throw's report, made with
     * little memory left, say): the process ends as the throw would have,
     * by abort, not by this signal. */
    if (atomic_load(&throwing)) {
        sigprint("runtime: the report of the fatal error above faulted\n");
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    /* SA_RESETHAND restored the default action: a fault happens again as
     * soon as we return; a signal sent by kill(2) is sent again. Blocked
     * until we return either way. */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The signals an M takes itself (see the top). */
static const int msigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
                            SIGSYS, SIGABRT, SIGPIPE, SIGXFSZ, SIGPREEMPT};

/* minitSignalMask blocks on the calling thread, an M's, every signal but
 * msigs (those it blocked already stay blocked; preemptminit unblocks the
 * preemption signal); *old gets the mask it had. */
void minitSignalMask(sigset_t *old)
{
    sigset_t set;
    sigfillset(&set);
    for (size_t i = 0; i < sizeof msigs / sizeof msigs[0]; i++)
        sigdelset(&set, msigs[i]);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

/* sigfatalinit installs sigfatal for every fatal signal still at its
 * default action. From goro_run, before any G runs. */
NOSPLIT void sigfatalinit(void)
{
    for (size_t i = 0; i < sizeof fatalsigs / sizeof fatalsigs[0]; i++) {
        struct sigaction old;
        if (sigaction(fatalsigs[i], NULL, &old) != 0 ||
            (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = sigfatal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
        sigfillset(&sa.sa_mask);
        sigaction(fatalsigs[i], &sa, NULL);
    }
}
