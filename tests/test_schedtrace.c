/*
 * test_schedtrace.c - GORO_SCHEDTRACE (src/runtime/schedtrace.c): Go's
 * schedtrace line on stderr every interval, with every P and G after
 * ",detail"; a bad value stops goro_run with -EINVAL.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_test.h"

static _Atomic bool busystop;

static void busy(void *arg)
{
    int64_t end = goro_now() + 10000000000;   /* 10 s at most */
    while (!busystop && goro_now() < end)
        ;
    goro_wg_done(arg);
}

/* One G computes (calling goro_now, so it is preempted at calls) while
 * the main G sleeps 10 times 10 ms: until then, not for a fixed time, so
 * that the lines printed meanwhile see it even when a loaded machine
 * holds the runtime's threads back. */
static void work(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(busy, wg);
    for (int i = 0; i < 10; i++)
        goro_sleep_ns(10000000);
    busystop = true;
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

Test(schedtrace, prints_gos_schedtrace_line_every_interval, .timeout = 30)
{
    setenv("GORO_SCHEDTRACE", "20ms", 1);
    int status;
    char *err = test_run_child(2, work, NULL, &status);
    cr_assert_eq(status, 0, "%s", err);
    int lines = 0;
    for (char *l = strstr(err, "SCHED "); l; l = strstr(l + 1, "SCHED ")) {
        long long ms;
        int procs, idle, threads, spinning, idlem, runq, q0, q1;
        int n = sscanf(l, "SCHED %lldms: gomaxprocs=%d idleprocs=%d "
                       "threads=%d spinningthreads=%d idlethreads=%d "
                       "runqueue=%d [%d %d]", &ms, &procs, &idle, &threads,
                       &spinning, &idlem, &runq, &q0, &q1);
        cr_assert_eq(n, 9, "not a schedtrace line: %.200s", l);
        cr_expect_eq(procs, 2);
        cr_expect(idle >= 0 && idle <= 2, "%.200s", l);
        cr_expect_geq(threads, 1);
        cr_expect_geq(ms, 20);
        lines++;
    }
    /* 100 ms at least, a line every 20 ms. */
    cr_expect_geq(lines, 2, "%s", err);
}

Test(schedtrace, detail_lists_every_p_and_g, .timeout = 30)
{
    setenv("GORO_SCHEDTRACE", "20ms,detail", 1);
    int status;
    char *err = test_run_child(2, work, NULL, &status);
    cr_assert_eq(status, 0, "%s", err);
    cr_expect(strstr(err, "SCHED ") != NULL, "%s", err);
    cr_expect(strstr(err, "\n  P0: status=") != NULL, "%s", err);
    cr_expect(strstr(err, "\n  P1: status=") != NULL, "%s", err);
    cr_expect(strstr(err, "\n  G1: status=") != NULL, "%s", err);
    /* The busy G (G2 or a later id) computes or waits for its P. */
    cr_expect(strstr(err, "(running) m=") != NULL ||
              strstr(err, "(runnable) m=") != NULL, "%s", err);
}

static void nothing(void *arg)
{
    (void)arg;
}

Test(schedtrace, a_bad_value_is_refused)
{
    setenv("GORO_SCHEDTRACE", "1s,verbose", 1);
    cr_expect_eq(goro_run(nothing, NULL), -EINVAL);
}
