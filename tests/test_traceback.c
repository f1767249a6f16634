/*
 * test_traceback.c - the stacks of every G (traceback.c): goro_stacks_dump,
 * the SIGQUIT dump, the dump of a fatal error and of a crash, and
 * GORO_TRACEBACK.
 *
 * The functions the Gs park in are noinline and do something after the
 * call that parks them, so that the call is not a tail call and their
 * frame is on the stack (as in any real program's).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export_test.h"

static volatile long sink;
static goro_chan *parkc;

__attribute__((noinline)) static void parked_on_chan(void *arg)
{
    int v = 0;
    goro_chan_recv(parkc, &v);
    sink += v + (long)arg;
}

__attribute__((noinline)) static void parked_in_sleep(void *arg)
{
    goro_sleep_ns(60LL * 1000000000);
    sink += (long)arg;
}

/* Spawns the parked Gs (one of them in group "sleepers") and waits until
 * all are parked. */
static void park_some(void)
{
    parkc = goro_chan_new(sizeof(int), 0);
    goro_go(parked_on_chan, NULL);
    goro_go(parked_on_chan, NULL);
    goro_group *grp = goro_group_new("sleepers", 0, NULL);
    goro_group_go(grp, parked_in_sleep, NULL);
    test_wait_waiting(3);
}

/* Dump into a memory file and return the text (static buffer). */
static char *dump_group(const char *group, int *n)
{
    static char buf[65536];
    int fd = memfd_create("dump", 0);
    cr_assert_geq(fd, 0);
    *n = goro_stacks_dump_group(fd, group);
    off_t len = lseek(fd, 0, SEEK_CUR);
    cr_assert(len >= 0 && (size_t)len < sizeof buf);
    cr_assert_eq(pread(fd, buf, (size_t)len, 0), len);
    buf[len] = '\0';
    close(fd);
    return buf;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (; (s = strstr(s, what)) != NULL; s++)
        n++;
    return n;
}

struct dumpres {
    int n, ngroup;
    char text[16384], grouptext[4096];
};

static void dumpmain(void *arg)
{
    struct dumpres *r = arg;
    park_some();
    snprintf(r->text, sizeof r->text, "%s", dump_group(NULL, &r->n));
    snprintf(r->grouptext, sizeof r->grouptext, "%s",
             dump_group("sleepers", &r->ngroup));
    /* The parked Gs stay parked: goro_run returns all the same. */
}

Test(traceback, a_dump_walks_every_parked_g_and_names_its_creator,
     .timeout = 30)
{
    static struct dumpres r;
    test_run_forked(2, dumpmain, &r, &r, sizeof r);
    const char *t = r.text;
    cr_assert_eq(r.n, 4, "%d Gs:\n%s", r.n, t);
    /* The caller first, walked from its own frames. */
    cr_expect(strncmp(t, "goroutine 1 [running, ", 22) == 0, "%s", t);
    cr_expect(strstr(t, "\ndumpmain(...)\n\t") != NULL, "%s", t);
    /* Each parked G: header, its frames to its entry, its creator. */
    cr_expect_eq(count(t, " [chan receive, 2 KiB stack]:\n"), 2, "%s", t);
    cr_expect_eq(count(t, "\nparked_on_chan(...)\n\t"), 2, "%s", t);
    cr_expect_eq(count(t, "tests/test_traceback.c:"), 8, "%s", t);
    cr_expect(strstr(t, " [sleep, group \"sleepers\", 2 KiB stack]:\n") !=
                  NULL, "%s", t);
    cr_expect(strstr(t, "\nparked_in_sleep(...)\n\t") != NULL, "%s", t);
    cr_expect_eq(count(t, "\ncreated by park_some in goroutine 1\n\t"), 3,
                 "%s", t);
    /* The runtime's frames are shown too, as Go shows runtime.gopark. */
    cr_expect(strstr(t, "src/runtime/chan.c:") != NULL, "%s", t);
    /* Only the group's with a group; the caller is not in it. */
    cr_expect_eq(r.ngroup, 1, "%s", r.grouptext);
    cr_expect(strstr(r.grouptext, "parked_in_sleep") != NULL, "%s",
              r.grouptext);
    cr_expect(strstr(r.grouptext, "parked_on_chan") == NULL, "%s",
              r.grouptext);
}

/* A dump leaves the parked Gs as they were: they wake and finish. */
static void stillworks(void *arg)
{
    int *ok = arg;
    parkc = goro_chan_new(sizeof(int), 0);
    goro_go(parked_on_chan, NULL);
    test_wait_waiting(1);
    int n;
    dump_group(NULL, &n);
    int v = 1;
    *ok = n == 2 && goro_chan_send(parkc, &v) == 0;
}

Test(traceback, a_dumped_g_still_wakes, .timeout = 30)
{
    int ok = 0;
    test_run_forked(2, stillworks, &ok, &ok, sizeof ok);
    cr_assert(ok);
}

Test(traceback, a_bad_fd_is_refused)
{
    cr_assert_eq(goro_stacks_dump(-1), -EBADF);
}

/* ---- SIGQUIT ---------------------------------------------------------------- */

/* quitter: a plain thread that sends SIGQUIT once G 1 is asleep, so that
 * the dump finds every G parked (a signal sent by the main G itself may be
 * handled before it parks, on a busy machine). */
static void *quitter(void *arg)
{
    (void)arg;
    for (;;) {
        goro_ginfo gi[8];
        int64_t n = goro_gs_snapshot(gi, 8);
        for (int64_t i = 0; i < n && i < 8; i++)
            if (gi[i].id == 1 && strcmp(gi[i].waitreason, "sleep") == 0) {
                kill(getpid(), SIGQUIT);
                return NULL;
            }
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
}

static void quitmain(void *arg)
{
    (void)arg;
    park_some();
    pthread_t t;
    pthread_create(&t, NULL, quitter, NULL);
    goro_sleep_ns(10LL * 1000000000);
}

Test(traceback, sigquit_dumps_every_g_and_exits_2, .timeout = 30)
{
    int st;
    char *err = test_run_child(2, quitmain, NULL, &st);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st,
              err);
    cr_expect(strncmp(err, "SIGQUIT: quit\n", 14) == 0, "%s", err);
    cr_expect(strstr(err, "goroutine 1 [sleep, 32 KiB stack]:\n") != NULL,
              "%s", err);
    cr_expect_eq(count(err, "\nparked_on_chan(...)\n\t"), 2, "%s", err);
    cr_expect(strstr(err, "\nparked_in_sleep(...)\n\t") != NULL, "%s", err);
}

Test(traceback, goro_traceback_none_prints_no_stack, .timeout = 30)
{
    setenv("GORO_TRACEBACK", "none", 1);
    int st;
    char *err = test_run_child(2, quitmain, NULL, &st);
    unsetenv("GORO_TRACEBACK");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x:\n%s", st,
              err);
    cr_expect_str_eq(err, "SIGQUIT: quit\n");
}

Test(traceback, goro_traceback_crash_dumps_core_after_sigquit, .timeout = 30)
{
    setenv("GORO_TRACEBACK", "crash", 1);
    int st;
    char *err = test_run_child(2, quitmain, NULL, &st);
    unsetenv("GORO_TRACEBACK");
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
              "status %#x:\n%s", st, err);
    cr_expect(strstr(err, "\nparked_in_sleep(...)\n\t") != NULL, "%s", err);
}

Test(traceback, a_bad_goro_traceback_is_refused)
{
    setenv("GORO_TRACEBACK", "everything", 1);
    cr_assert_eq(test_run(1, (goro_fn)abort, NULL), -EINVAL);
}

/* ---- fatal errors and crashes ---------------------------------------------- */

__attribute__((noinline)) static void close_twice(void)
{
    goro_chan *c = goro_chan_new(0, 0);
    goro_chan_close(c);
    goro_chan_close(c);
    sink++;
}

static void throwmain(void *arg)
{
    (void)arg;
    park_some();
    close_twice();
}

Test(traceback, a_fatal_error_prints_the_thrower_then_every_g,
     .timeout = 30)
{
    int st;
    char *err = test_run_child(2, throwmain, NULL, &st);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x:\n%s",
              st, err);
    const char *t = strstr(err, "fatal error: close of closed channel\n");
    cr_assert_not_null(t, "%s", err);
    const char *self = strstr(t, "\ngoroutine 1 [running, 32 KiB stack]:\n"
                                 "throw(...)\n\t");
    cr_assert_not_null(self, "%s", err);
    cr_expect(strstr(self, "\ngoro_chan_close(...)\n\t") != NULL, "%s", err);
    cr_expect(strstr(self, "\nclose_twice(...)\n\t") != NULL, "%s", err);
    cr_expect_eq(count(self, "\nparked_on_chan(...)\n\t"), 2, "%s", err);
}

__attribute__((noinline, no_sanitize("undefined")))
static void crash_here(volatile int *p)
{
    *p = 1;
    sink++;
}

static void crashmain(void *arg)
{
    (void)arg;
    park_some();
    crash_here(NULL);
}

Test(traceback, a_crash_names_the_functions_and_with_all_every_g,
     .timeout = 30)
{
    int st;
    char *err = test_run_child(2, crashmain, NULL, &st);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x:\n%s",
              st, err);
    /* single: the crashing G, by function name and module offset. */
    const char *t = strstr(err, "traceback:\ncrash_here(...)\n\t");
    cr_assert_not_null(t, "%s", err);
    cr_expect(strstr(t, "\ncrashmain(...)\n\t") != NULL, "%s", err);
    cr_expect(strncmp(t + 27, "\t", 1) == 0 && strstr(t, "+0x") != NULL,
              "%s", err);
    cr_expect(strstr(t, "parked_on_chan") == NULL, "%s", err);

    setenv("GORO_TRACEBACK", "all", 1);
    err = test_run_child(2, crashmain, NULL, &st);
    unsetenv("GORO_TRACEBACK");
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x:\n%s",
              st, err);
    t = strstr(err, "traceback:\ncrash_here(...)\n\t");
    cr_assert_not_null(t, "%s", err);
    cr_expect_eq(count(t, "\nparked_on_chan(...)\n\t"), 2, "%s", err);
    cr_expect(strstr(t, "\ncreated by park_some in goroutine 1\n") != NULL,
              "%s", err);
}

/* A G locked to its thread says so, as in Go's tracebacks. */
static void parked_locked(void *arg)
{
    (void)arg;
    goro_lock_thread();
    int v;
    goro_chan_recv(parkc, &v);
}

static void lockeddump(void *arg)
{
    struct dumpres *r = arg;
    parkc = goro_chan_new(sizeof(int), 0);
    goro_go(parked_locked, NULL);
    goro_go(parked_on_chan, NULL);
    test_wait_waiting(2);
    snprintf(r->text, sizeof r->text, "%s", dump_group(NULL, &r->n));
}

Test(traceback, a_dump_marks_a_g_locked_to_its_thread, .timeout = 30)
{
    static struct dumpres r;
    test_run_forked(2, lockeddump, &r, &r, sizeof r);
    const char *t = r.text;
    cr_expect_eq(count(t, " [chan receive, locked to thread, 2 KiB "
                          "stack]:\n"), 1, "%s", t);
    cr_expect_eq(count(t, " [chan receive, 2 KiB stack]:\n"), 1, "%s", t);
}
