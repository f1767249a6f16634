/*
 * ubsan.c - UndefinedBehaviorSanitizer handlers that code on G stacks may
 * call (built into libgoro only with `make SAN=undefined`).
 *
 * Code compiled with -fsanitize=undefined calls __ubsan_handle_NAME when a
 * check fails. libubsan, which defines them, is not split-stack code, so
 * gold would rewrite the prologue of every function holding such a call
 * (nearly all of them) to demand the non-split headroom on each call: every
 * G would grow to 16 KiB at its first call, whether or not anything is
 * ever reported, and the runtime's own growth counts would mean nothing.
 *
 * So this file defines every handler libubsan has, in an object that
 * carries the split-stack note (it is compiled -fsplit-stack) while the
 * functions themselves are no_split_stack: gold leaves the callers alone.
 * A handler that is reached forwards its arguments, unchanged, to
 * libubsan's own (found with dlsym(RTLD_NEXT)), which reports as usual:
 * the same message, the stack trace with UBSAN_OPTIONS=print_stacktrace=1,
 * the exit with -fno-sanitize-recover. It runs on a stack with room for it:
 *
 *  - on a G's stack, it switches to the M's g0 stack (systemstack): the G
 *    may have a few hundred bytes left, libubsan wants kilobytes;
 *  - on g0, on a thread that is not an M, or on a signal stack (the
 *    preemption handler), it calls libubsan where it is: those stacks are
 *    the thread's own or the 32 KiB signal stack.
 *
 * Nothing here may run a split-stack check or be instrumented itself: every
 * function is no_split_stack (a prologue check on a signal stack would
 * compare it with the interrupted G's guard) and the file is compiled with
 * -fno-sanitize=all. What runs before the switch stays within the few
 * hundred bytes that StackGuard leaves for unchecked frames (runtime2.h).
 *
 * libgoro exports the handlers: gorod and plugins built with the sanitizer
 * bind to these rather than to libubsan's (libgoro comes first in the
 * lookup order: it is what names libubsan). The test binary, which links
 * the runtime's objects, has its own copy.
 *
 * A handler missing from the list below (a newer libubsan) would bind to
 * libubsan's own: gold would rewrite the prologue of every function holding
 * a call to it, each call of those would demand the non-split headroom,
 * and the tests that count growth (a million spawns with no growth, in
 * sched) would fail in the SAN build if such a function runs in their Gs.
 *
 * Each handler takes at most four word-sized arguments (the check's static
 * data, then values or pointers), all in integer registers; forwarding four
 * is right for all of them.
 */
#include <dlfcn.h>

#include "runtime2.h"

#define NOSPLIT __attribute__((no_split_stack))
#define EXPORT  __attribute__((visibility("default")))

typedef void ubsanhandler(uintptr_t, uintptr_t, uintptr_t, uintptr_t);

typedef struct ubsancall {
    const char    *name;       /* libubsan's symbol */
    ubsanhandler **real;       /* where its address is kept once found */
    ubsanhandler  *self;       /* ours, which dlsym must not return */
    uintptr_t      arg[4];
} ubsancall;

/* ubsan_forward runs libubsan's handler for c. On g0 or a thread's own
 * stack: dlsym and libubsan need room. */
static NOSPLIT uintptr_t ubsan_forward(void *arg)
{
    ubsancall *c = arg;
    ubsanhandler *h = __atomic_load_n(c->real, __ATOMIC_ACQUIRE);
    if (h == NULL) {
        h = (ubsanhandler *)dlsym(RTLD_NEXT, c->name);
        if (h == NULL || h == c->self) {
            print("goro: a check of -fsanitize=undefined failed, but "
                  "libubsan's %s cannot be found (dlsym: %s): link libubsan "
                  "after libgoro\n", c->name, h == NULL ? dlerror() : "ours");
            throw("ubsan handler not found");
        }
        __atomic_store_n(c->real, h, __ATOMIC_RELEASE);
    }
    h(c->arg[0], c->arg[1], c->arg[2], c->arg[3]);
    return 0;
}

/* ubsan_call moves to a stack that has room, if on a G's, and forwards. */
static NOSPLIT __attribute__((noinline)) void ubsan_call(ubsancall *c)
{
    g *gp = getg();
    uintptr_t sp = getsp();
    if (onG(gp) && sp >= gp->stack.lo && sp < gp->stack.hi)
        systemstack(ubsan_forward, c);
    else
        ubsan_forward(c);
}

/* The handlers: NAME (the check goes on after the report) and, for most,
 * NAME_abort (-fno-sanitize-recover: libubsan's never returns). The trap
 * after a handler that must not return is never reached. */
#define UBSAN_HANDLER(name)                                                  \
    static ubsanhandler *real_##name;                                        \
    EXPORT NOSPLIT void __ubsan_handle_##name(uintptr_t a, uintptr_t b,      \
                                              uintptr_t c, uintptr_t d)      \
    {                                                                        \
        ubsancall call = {"__ubsan_handle_" #name, &real_##name,             \
                          (ubsanhandler *)__ubsan_handle_##name,             \
                          {a, b, c, d}};                                     \
        ubsan_call(&call);                                                   \
    }

#define UBSAN_HANDLER_ABORT(name)                                            \
    UBSAN_HANDLER(name)                                                      \
    static ubsanhandler *real_##name##_abort;                                \
    EXPORT NOSPLIT NORETURN void __ubsan_handle_##name##_abort(              \
        uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t d)                  \
    {                                                                        \
        ubsancall call = {"__ubsan_handle_" #name "_abort",                  \
                          &real_##name##_abort,                              \
                          (ubsanhandler *)__ubsan_handle_##name##_abort,     \
                          {a, b, c, d}};                                     \
        ubsan_call(&call);                                                   \
        __builtin_trap();                                                    \
    }

/* The handlers of checks that libubsan always treats as fatal. */
#define UBSAN_HANDLER_FATAL(name)                                            \
    static ubsanhandler *real_##name;                                        \
    EXPORT NOSPLIT NORETURN void __ubsan_handle_##name(                      \
        uintptr_t a, uintptr_t b, uintptr_t c, uintptr_t d)                  \
    {                                                                        \
        ubsancall call = {"__ubsan_handle_" #name, &real_##name,             \
                          (ubsanhandler *)__ubsan_handle_##name,             \
                          {a, b, c, d}};                                     \
        ubsan_call(&call);                                                   \
        __builtin_trap();                                                    \
    }

/* Every handler libubsan (gcc 12) defines, so that none is reached
 * directly: nm -D --defined-only libubsan.so.1 | grep __ubsan_handle */
UBSAN_HANDLER_ABORT(add_overflow)
UBSAN_HANDLER_ABORT(alignment_assumption)
UBSAN_HANDLER_FATAL(builtin_unreachable)
UBSAN_HANDLER_ABORT(cfi_bad_icall)
UBSAN_HANDLER(cfi_bad_type)
UBSAN_HANDLER_ABORT(cfi_check_fail)
UBSAN_HANDLER_ABORT(divrem_overflow)
UBSAN_HANDLER_ABORT(dynamic_type_cache_miss)
UBSAN_HANDLER_ABORT(float_cast_overflow)
UBSAN_HANDLER_ABORT(function_type_mismatch_v1)
UBSAN_HANDLER_ABORT(implicit_conversion)
UBSAN_HANDLER_ABORT(invalid_builtin)
UBSAN_HANDLER_ABORT(invalid_objc_cast)
UBSAN_HANDLER_ABORT(load_invalid_value)
UBSAN_HANDLER_FATAL(missing_return)
UBSAN_HANDLER_ABORT(mul_overflow)
UBSAN_HANDLER_ABORT(negate_overflow)
UBSAN_HANDLER_ABORT(nonnull_arg)
UBSAN_HANDLER_ABORT(nonnull_return_v1)
UBSAN_HANDLER_ABORT(nullability_arg)
UBSAN_HANDLER_ABORT(nullability_return_v1)
UBSAN_HANDLER_ABORT(out_of_bounds)
UBSAN_HANDLER_ABORT(pointer_overflow)
UBSAN_HANDLER_ABORT(shift_out_of_bounds)
UBSAN_HANDLER_ABORT(sub_overflow)
UBSAN_HANDLER_ABORT(type_mismatch_v1)
UBSAN_HANDLER_ABORT(vla_bound_not_positive)
