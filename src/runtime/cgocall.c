/*
 * cgocall.c - calls from Gs into libc without big G stacks (Go's cgocall).
 *
 * Code compiled with -fsplit-stack checks its stack in every prologue;
 * libc, jemalloc and every other library do not. So gold makes a function
 * that calls such code demand the non-split headroom (16 KiB) beyond its
 * frame, and a G that calls malloc, memcpy or snprintf from anywhere grows
 * from 2 KiB to 32 KiB at its first call, pays the copy and the page
 * faults, and after a scan shrinks it grows back at its next call. Go never
 * pays this: cgo runs C on the thread's system stack.
 *
 * goro does the same for the libc functions programs call most, listed in
 * cgocall.h. goro.pc links programs and plugins with -Wl,--wrap=NAME for
 * each, so their calls to NAME reach __wrap_NAME in libgoro.so, a module
 * built split-stack: the caller's check stays the plain one, and
 *   - a leaf routine (string and memory functions) is checked like a small
 *     split-stack frame and entered on the G's stack: it uses a few bytes
 *     (LEAFWRAP, amd64.S; one compare and a jump);
 *   - anything else runs on the M's g0 stack, the thread's own, large one:
 *     asmcgocall (amd64.S) switches the stack and the guard and calls it
 *     with the argument registers as they are;
 *   - a variadic function runs its v-form on g0 (below);
 *   - a call that may block the thread runs on g0 between
 *     goro_syscall_enter and goro_syscall_exit (below), so sysmon hands the
 *     P to another M and the P's other Gs go on meanwhile, as for Go's
 *     system calls; since the P is in Psyscall, sysmon sends that M no
 *     preemption signal, and one it sent just before (for the G that ran
 *     before) is kept from the calls that a handled signal would cut short
 *     even with SA_RESTART (the runtime's handler has it).
 * A G on g0 is still the M's current G (status Grunning or Gsyscall), and
 * nothing there calls back into code of the program, so nothing can park
 * it or move its stack; a stop sysmon asks for meanwhile waits in
 * gp->stackguard0 and takes effect at the G's next call. On g0 itself, or
 * on a thread the runtime does not run, the wrappers call libc directly.
 *
 * What stays: a function that calls a library function not listed (or
 * calls through a pointer to one, or takes its address) still has its
 * check demand the headroom, which keeps deep libraries safe; so does
 * code built without goro's link flags. The wrappers bind only the calls
 * of the modules linked with them (--wrap acts on the link's own objects):
 * libc's calls inside libc, and other libraries', go straight on.
 *
 * Rejected: a smaller headroom for all (no bound holds for every library
 * function: snprintf alone uses over 1 KiB in glibc); switching to g0 in
 * __morestack_non_split's slow path (the function whose check failed is the
 * program's, and it may park between its libc calls: it cannot run on g0);
 * split-stack builds of libc's string routines (glibc's are hand-written
 * assembly with no prologue to rewrite, and the wrappers cost one compare);
 * LD_PRELOAD-style interposition by name (it would catch libc's and
 * libuv's own calls, the runtime's included).
 */
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime2.h"

/* The addresses of the libc functions, words of amd64.S's data: a
 * reference to the function itself from this split-stack code would make
 * gold rewrite its stack check (amd64.S, LIBCADDR). */
#define LEAF(name) extern void *const goro_libc_##name HIDDEN;
#define SYSTEM(name) LEAF(name)
#define VARIADIC(name, vname, ...) LEAF(vname)
#define BLOCKING(name, ...) LEAF(name)
#define INTERRUPTIBLE(name, ...) LEAF(name)
#include "cgocall.h"
#undef LEAF
#undef SYSTEM
#undef VARIADIC
#undef BLOCKING
#undef INTERRUPTIBLE

/* A call of fn with up to six integer or pointer arguments; extra ones are
 * ignored by a function that takes fewer (the psABI passes them in
 * registers). The result comes back whole: the wrapper narrows it to the
 * function's type. */
typedef struct libcall {
    void *fn;
    uintptr_t a[6];
    uintptr_t r;
} libcall;

typedef uintptr_t (*libcfn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t,
                            uintptr_t, uintptr_t);

/* libcall_g0: the call itself, on g0 (systemstack). */
static uintptr_t libcall_g0(void *arg)
{
    libcall *c = arg;
    c->r = ((libcfn)c->fn)(c->a[0], c->a[1], c->a[2], c->a[3], c->a[4],
                           c->a[5]);
    return 0;
}

/* libcall_g0_nopreempt: libcall_g0 with the runtime's preemption signal
 * blocked, for a call that a handled signal would cut short. sysmon signals
 * a thread only while its P runs a G, but it decides from a look taken a
 * moment before: a signal meant for the G that ran before may arrive just
 * as this one enters its call. Kept pending, it is handled when the call
 * is over (and finds nothing to stop). */
static uintptr_t libcall_g0_nopreempt(void *arg)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGPREEMPT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    libcall_g0(arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

/* blockingcall runs c as a system call of the G: its P is free for other Gs
 * while it lasts. Not from a signal handler that interrupted the G (its
 * stack is the M's signal stack, and the G's state may be half-changed
 * under it), and not inside the program's own goro_syscall_enter/exit
 * (they do not nest): there the call is just made on g0. errno is the
 * call's: the runtime keeps it with the G if the G comes back on another
 * M. */
static void blockingcall(libcall *c, uintptr_t (*call)(void *))
{
    g *gp = getg();
    uintptr_t sp = getsp();
    if (!onG(gp) || sp < gp->stack.lo || sp >= gp->stack.hi ||
        readgstatus(gp) != Grunning) {
        systemstack(call, c);
        return;
    }
    goro_syscall_enter();
    systemstack(call, c);
    goro_syscall_exit();
}

#define U (uintptr_t)
#define UNPAREN(...) __VA_ARGS__

#define LEAF(name)
#define SYSTEM(name)
#define VARIADIC(name, vname, ret, params, last, args)                        \
    GORO_EXTERN ret __wrap_##name params                                       \
    {                                                                          \
        va_list ap;                                                            \
        va_start(ap, last);                                                    \
        libcall c = {goro_libc_##vname, {UNPAREN args}, 0};                    \
        systemstack(libcall_g0, &c);                                           \
        va_end(ap);                                                            \
        return (ret)c.r;                                                       \
    }
/* A blocking call's wrapper, its call made on g0 by g0call. */
#define BLOCKINGWRAP(name, ret, params, args, g0call)                          \
    GORO_EXTERN ret __wrap_##name params                                       \
    {                                                                          \
        libcall c = {goro_libc_##name, {UNPAREN args}, 0};                     \
        blockingcall(&c, g0call);                                              \
        return (ret)c.r;                                                       \
    }
#define BLOCKING(name, ret, params, args)                                      \
    BLOCKINGWRAP(name, ret, params, args, libcall_g0)
#define INTERRUPTIBLE(name, ret, params, args)                                 \
    BLOCKINGWRAP(name, ret, params, args, libcall_g0_nopreempt)
#include "cgocall.h"

/* ---- goro_cgocall: a program's function on the thread's stack ------------- */

/* The program's side of the public form of the above: a function of its
 * own (an adapter's call into OpenSSL or hiredis with what must go with
 * it) run on g0, for libraries whose stack use no headroom bounds (an
 * RSA signature in OpenSSL takes over 16 KiB) or whose thread-local state
 * must be read on the thread that made the call. On g0 the G is neither
 * preempted (the signal spares g0, a stop request waits in the G's
 * guard) nor moved, and its stack stays where it is, so fn may be handed
 * pointers into it. fn is code built against goro: its own stack checks
 * compare against g0's guard, which systemstack installs. */
typedef struct cgocallarg {
    goro_fn fn;
    void   *arg;
} cgocallarg;

static uintptr_t cgocall_g0(void *p)
{
    cgocallarg *a = p;
    a->fn(a->arg);
    return 0;
}

int goro_cgocall(goro_fn fn, void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    g *gp = getg();
    if (!onG(gp)) {
        fn(arg);  /* already on a thread's own stack */
        return 0;
    }
    cgocallarg a = {fn, arg};
    systemstack(cgocall_g0, &a);
    return 0;
}
