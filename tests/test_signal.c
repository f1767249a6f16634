/*
 * test_signal.c - what the process says when a G crashes (signal.c), and
 * when stacks cannot be had (stack.c's out-of-memory reports).
 *
 * Each run that ends the process runs in a child (test_run_child) whose
 * stderr is read back.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "export_test.h"

static volatile long sink;

/* ---- a bad pointer in a G ------------------------------------------------- */

/* A store through NULL that reaches the CPU even in a UBSan build. */
__attribute__((noinline, no_sanitize("undefined")))
static void deref(volatile int *p)
{
    *p = 1;
}

static void crasher(void *arg)
{
    (void)arg;
    test_recurse(20);   /* some depth, so the stack is in use */
    deref(NULL);
}

static void crashmain(void *arg)
{
    (void)arg;
    goro_group *grp = goro_group_new("crashers", 0, NULL);
    goro_group_go(grp, crasher, NULL);
    goro_group_wait(grp, 0);
}

Test(signal, a_nil_dereference_in_a_g_names_the_g_its_group_and_stack,
     .timeout = 30)
{
    int st;
    char *err = test_run_child(2, crashmain, NULL, &st);
    /* The process still dies of the signal (a core, a failure status). */
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
              "status %#x, stderr:\n%s", st, err);
    cr_expect(strstr(err, "signal SIGSEGV: segmentation violation code=1 "
                          "addr=0x0 pc=0x") != NULL, "%s", err);
    /* Its id is 2 when it is made on the main G's P, 17 or more on the
     * other's (each P takes ids in batches of 16). */
    cr_expect(strstr(err, " [running] of group \"crashers\": stack [0x") !=
                  NULL, "%s", err);
    cr_expect(strstr(err, "bytes in use)\n") != NULL, "%s", err);
    cr_expect(strstr(err, "traceback:\n") != NULL, "%s", err);
    cr_expect(strstr(err, "stack overflow") == NULL, "%s", err);
}

/* The same from a signal sent with kill(2): no fault address, still the
 * G and the signal's default action. */
static void killer(void *arg)
{
    (void)arg;
    raise(SIGBUS);
}

Test(signal, a_signal_sent_to_the_process_is_reported_and_kept,
     .timeout = 30)
{
    int st;
    char *err = test_run_child(1, killer, NULL, &st);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
              "status %#x, stderr:\n%s", st, err);
    cr_expect(strstr(err, "signal SIGBUS: bus error code=-6 sent by pid ") != NULL, "%s",
              err);
    cr_expect(strstr(err, "\ngoroutine 1 [running]: stack [0x") != NULL,
              "%s", err);
}

/* ---- overflowing a stack without checks ------------------------------------ */

/* Code built without -fsplit-stack (a plugin of a fixed-stack group) that
 * needs more than the group's stack: it runs into the guard page. */
__attribute__((no_split_stack, noinline)) static long bigframe(void)
{
    volatile char pad[60 * 1024];
    pad[sizeof pad - 1] = 1;
    pad[0] = 1;
    return pad[0] + pad[sizeof pad - 1];
}

static void fixedg(void *arg)
{
    (void)arg;
    sink = bigframe();
}

static void fixedmain(void *arg)
{
    (void)arg;
    goro_group *grp = goro_group_new("small", 32 << 10, NULL);
    goro_group_go(grp, fixedg, NULL);
    goro_group_wait(grp, 0);
}

Test(signal, running_into_a_fixed_stacks_guard_page_is_a_stack_overflow,
     .timeout = 30)
{
    int st;
    char *err = test_run_child(1, fixedmain, NULL, &st);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
              "status %#x, stderr:\n%s", st, err);
    cr_expect(strstr(err, "of group \"small\": stack [0x") != NULL, "%s",
              err);
    cr_expect(strstr(err, "size 32768") != NULL, "%s", err);
    cr_expect(strstr(err, "below this G's fixed stack: stack overflow (the "
                          "group's fixed_stack is too small") != NULL,
              "%s", err);
}

/* A program with its own handler keeps it: the runtime installs nothing
 * over it. */
static volatile sig_atomic_t handled;

static void ownhandler(int sig)
{
    (void)sig;
    handled = 1;
}

static void ownmain(void *arg)
{
    (void)arg;
    raise(SIGFPE);
}

Test(signal, a_programs_own_handler_is_left_alone, .timeout = 30)
{
    signal(SIGFPE, ownhandler);
    cr_assert_eq(test_run(1, ownmain, NULL), 0);
    cr_expect_eq(handled, 1);
}

/* ---- which thread takes a signal sent to the process ------------------------ */

/* A handler installed without SA_ONSTACK runs on the stack of whatever the
 * thread was running: on an M, a G's stack, too small for the kernel's
 * signal frame. So the signals sent to the process must be taken by
 * threads that run no G (getg() is NULL there). */
static _Atomic int sigs_on_m, sigs_taken;
static _Atomic bool sigspin_stop;

__attribute__((no_split_stack))
static void counting_handler(int sig)
{
    (void)sig;
    if (getg() != NULL)
        atomic_fetch_add(&sigs_on_m, 1);
    atomic_fetch_add(&sigs_taken, 1);
}

__attribute__((noinline)) static unsigned long sigspin_step(unsigned long x)
{
    return x * 6364136223846793005ul + 1;
}

static void sigspinner(void *arg)
{
    goro_wg *wg = arg;
    unsigned long x = 1;
    while (!atomic_load(&sigspin_stop))
        x = sigspin_step(x);
    sink = (long)x;
    goro_wg_done(wg);
}

static void sigsendmain(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 2);
    goro_go(sigspinner, wg);
    goro_go(sigspinner, wg);
    for (int i = 0; i < 200; i++) {
        kill(getpid(), SIGUSR2);
        goro_sleep_ns(200000);
    }
    /* Standard signals sent while one is pending merge: some were taken
     * once the sends are over. */
    for (int i = 0; i < 1000 && atomic_load(&sigs_taken) == 0; i++)
        goro_sleep_ns(1000000);
    atomic_store(&sigspin_stop, true);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

static bool samemask(const sigset_t *a, const sigset_t *b)
{
    for (int s = 1; s < NSIG; s++)
        if (sigismember(a, s) != sigismember(b, s))
            return false;
    return true;
}

Test(signal, a_signal_sent_to_the_process_never_runs_on_a_g_stack,
     .timeout = 60)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = counting_handler;   /* no SA_ONSTACK, as libuv's */
    cr_assert_eq(sigaction(SIGUSR2, &sa, NULL), 0);
    sigset_t before, after;
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    cr_assert_eq(test_run(2, sigsendmain, NULL), 0);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    cr_assert_gt(atomic_load(&sigs_taken), 0);
    cr_assert_eq(atomic_load(&sigs_on_m), 0,
                 "%d of %d signals were handled on a thread running Gs",
                 atomic_load(&sigs_on_m), atomic_load(&sigs_taken));
    cr_assert(samemask(&before, &after),
              "goro_run did not give its thread its signal mask back");
}

/* ---- running out of memory for stacks -------------------------------------- */

static void grower(void *arg)
{
    (void)arg;
    sink = test_recurse(4000);   /* ~1 MiB of frames */
    goro_sleep_ns(60LL * 1000000000);
}

static void oommain(void *arg)
{
    (void)arg;
    /* Room for the runtime as it is, and for a few dozen 1 MiB stacks,
     * not for a thousand. */
    struct rlimit rl;
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    rl.rlim_cur = rl.rlim_max = pages * 4096 + (64ul << 20);
    setrlimit(RLIMIT_AS, &rl);
    for (int i = 0; i < 1000; i++)
        goro_go(grower, NULL);
    goro_sleep_ns(60LL * 1000000000);
}

Test(signal, running_out_of_memory_for_stacks_is_reported, .timeout = 60)
{
    int st;
    char *err = test_run_child(1, oommain, NULL, &st);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
              "status %#x, stderr:\n%s", st, err);
    cr_expect(strstr(err, "runtime: out of memory: cannot ") != NULL, "%s",
              err);
    cr_expect(strstr(err, "fatal error: out of memory (stackalloc)") != NULL,
              "%s", err);
}
