/*
 * test_stall.c - GORO_STALL_REPORT: a G that holds its P in code the
 * runtime cannot preempt is reported once, with its stack; one that is
 * preempted is never. tests/link/stall.c (GORO_STALLPROG), built with the
 * pkg-config flags, calls tests/link/stallslow.c, a library built without
 * -fsplit-stack, with one P.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_test.h"

#define REPORT "goro: stall: goroutine "

static char *runstall(const char *env, const char *mode)
{
    const char *prog = getenv("GORO_STALLPROG");
    cr_assert_not_null(prog, "GORO_STALLPROG is not set (run through make "
                             "test)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "env -u GORO_STALL_REPORT GORO_PROCS=1 %s %s %s "
                              "2>&1", env, prog, mode);
    return test_command(cmd);
}

static int reports(const char *out)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, REPORT)) != NULL; p++)
        n++;
    return n;
}

/* expect_report: out holds one report, of the G the program names, in
 * group "stallers", held for at least 100 ms, with the frames given (in
 * this order, innermost first). */
static void expect_report(const char *out, const char *const *frames)
{
    cr_assert_eq(reports(out), 1, "%s", out);
    const char *g = strstr(out, "stalled_goid=");
    cr_assert_not_null(g, "%s", out);
    long goid = strtol(g + 13, NULL, 10);
    const char *r = strstr(out, REPORT);
    char *end;
    cr_expect_eq(strtol(r + strlen(REPORT), &end, 10), goid, "%s", out);
    long ms = -1;
    cr_assert_eq(sscanf(end, " has held P 0 for %ld ms", &ms), 1, "%s", out);
    cr_expect_geq(ms, 100, "%s", out);
    char head[64];
    snprintf(head, sizeof head, "\ngoroutine %ld [running, group \"stallers\",",
             goid);
    const char *p = strstr(r, head);
    cr_assert_not_null(p, "%s", out);
    for (int i = 0; frames[i] != NULL; i++) {
        const char *f = strstr(p, frames[i]);
        cr_assert_not_null(f, "no frame %s after the last in:\n%s", frames[i],
                           out);
        p = f;
    }
    cr_expect_not_null(strstr(p, "\ncreated by mainfn in goroutine "), "%s",
                       out);
}

/* slow_spin computes for 1.5 s without a call the runtime could stop at:
 * past 100 ms it is reported, and only once. */
Test(stall, a_G_computing_in_a_library_is_reported_once_with_its_stack,
     .timeout = 60)
{
    static const char *const frames[] = {
        "\nslow_spin(...)\n\t", "libstallslow.so+0x", "\ndirect(...)\n\t",
        NULL};
    expect_report(runstall("GORO_STALL_REPORT=100ms", "direct"), frames);
}

/* qsort of libc with a comparator that takes a millisecond, run through
 * goro_cgocall (on the thread's stack, where no G is preempted): the
 * report walks from the comparator through libc and the runtime back to
 * the G's function. */
Test(stall, a_long_qsort_in_cgocall_is_reported_with_the_comparator,
     .timeout = 60)
{
    static const char *const frames[] = {
        "\nslowcmp(...)\n\t", "\nqsort_r(...)\n\t", "\nslow_sort(...)\n\t",
        "\ngoro_cgocall(...)\n\t", "\nviacgocall(...)\n\t", NULL};
    expect_report(runstall("GORO_STALL_REPORT=100ms", "cgocall"), frames);
}

/* A G that holds its P asleep in the kernel (nanosleep in the library
 * through goro_cgocall, on the thread's stack, where the P cannot be
 * handed on) is reported too, without its stack: the signal that would
 * walk it would cut the sleep short, and does not go. */
Test(stall, a_G_asleep_in_the_kernel_is_reported_without_a_signal,
     .timeout = 60)
{
    static const char *const frames[] = {
        "\tstack not walked: its thread waits in the kernel", NULL};
    char *out = runstall("GORO_STALL_REPORT=100ms", "sleep");
    expect_report(out, frames);
    cr_expect_not_null(strstr(out, "cut=0\n"), "the sleep was cut short:\n%s",
                       out);
}

/* A loop of the program's own that calls nothing runs about 50 slices,
 * each stopped by the signal (the ticker runs meanwhile on the one P).
 * With a threshold of 1 ms sysmon asks for a report at every slice's end;
 * the handler finds the G where it can be stopped and stops it instead:
 * the spinner is never reported. (Another G caught in a call of libc as
 * its slice ends may be, on a loaded machine: not counted.) */
Test(stall, a_G_that_is_preempted_is_never_reported, .timeout = 60)
{
    char *out = runstall("GORO_STALL_REPORT=1ms", "spin");
    const char *g = strstr(out, "stalled_goid=");
    cr_assert_not_null(g, "%s", out);
    char mine[64];
    snprintf(mine, sizeof mine, REPORT "%ld has held",
             strtol(g + 13, NULL, 10));
    cr_expect_null(strstr(out, mine), "%s", out);
    const char *t = strstr(out, "ticks=");
    cr_assert_not_null(t, "%s", out);
    cr_expect_geq(strtol(t + 6, NULL, 10), 50, "%s", out);
}

/* The same sleep made on the G's stack is no stall: the runtime hands the
 * P to the ticker while the thread waits in the kernel (preempt.c,
 * sysblocktake), so nothing is reported and the ticker runs on; the sleep
 * is not cut short while the thread is in the kernel. A call the runtime
 * does not wrap can be cut once at its entry (README, "Preemption": a
 * signal sent as the thread still computed, pending as it enters the
 * call), seen on a loaded machine; a thread signalled while it sleeps
 * would be cut every slice (60 times in the 600 ms). */
Test(stall, a_G_asleep_on_its_own_stack_gives_its_P_away_unreported,
     .timeout = 60)
{
    char *out = runstall("GORO_STALL_REPORT=100ms", "sleepg");
    cr_expect_eq(reports(out), 0, "%s", out);
    const char *c = strstr(out, "cut=");
    cr_assert_not_null(c, "%s", out);
    cr_expect_leq(strtol(c + 4, NULL, 10), 1,
                  "the sleep was cut short in the kernel:\n%s", out);
    const char *t = strstr(out, "ticks=");
    cr_assert_not_null(t, "%s", out);
    cr_expect_geq(strtol(t + 6, NULL, 10), 50, "%s", out);
}

Test(stall, reports_are_off_by_default, .timeout = 60)
{
    char *out = runstall("", "direct");
    cr_expect_eq(reports(out), 0, "%s", out);
    cr_expect_not_null(strstr(out, "stalled_goid="), "%s", out);
}
