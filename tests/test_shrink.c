/* test_shrink.c - stack scans: parked Gs that use under a quarter of their
 * stack are halved, step by step down to the minimum, with every pointer
 * into the stack still right when they run again; dead Gs give back their
 * stacks; the scan also runs by itself. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "export_test.h"

static goro_wg *parked, *release, *done;

/* The three wait groups of a parking test: `parked` counts Gs about to
 * park, `release` (1) lets them go, `done` counts Gs that finished. */
static void parkgroups(int64_t n)
{
    parked = goro_wg_new();
    release = goro_wg_new();
    done = goro_wg_new();
    goro_wg_add(parked, n);
    goro_wg_add(release, 1);
    goro_wg_add(done, n);
}

/* A chain of locals pointing at each other, checked after the stack moved
 * while the G was parked at the bottom of the chain. */
struct link {
    long val;
    struct link *up;
};

static int chainok = -1;

static int parkedchain(int n, struct link *up)
{
    struct link here = {n, up};
    if (n > 0)
        return parkedchain(n - 1, &here);
    goro_wg_done(parked);
    goro_wg_wait(release);  /* shrunk here, several times */
    long expect = 0;
    for (struct link *l = &here; l; l = l->up)
        if (l->val != expect++)
            return 0;
    return expect == 21;
}

static void grower(void *arg)
{
    (void)arg;
    test_recurse(4000);  /* grows to 1 MiB, then returns */
    chainok = parkedchain(20, NULL);
    goro_wg_done(done);
}

static int shrunk_per_scan[12];
static goro_stats st_before, st_after;

static void stepmain(void *arg)
{
    (void)arg;
    parkgroups(1);
    goro_go(grower, NULL);
    goro_wg_wait(parked);
    goro_sleep_ns(1000000);  /* let it park */
    goro_stats_get(&st_before);
    for (int i = 0; i < 12; i++)
        shrunk_per_scan[i] = goro_stack_scan();
    goro_stats_get(&st_after);
    goro_wg_done(release);
    goro_wg_wait(done);
}

Test(shrink, scans_halve_a_parked_stack_step_by_step_and_keep_its_values,
     .timeout = 30)
{
    setenv("GORO_STACK_SCAN_INTERVAL", "0", 1);
    cr_assert_eq(test_run(1, stepmain, NULL), 0);
    /* One halving per scan from 1 MiB until the G (parked 21 frames deep
     * in parkedchain) uses a quarter of its stack: at least down to 4 KiB,
     * 8 halvings; then no scan shrinks it again. */
    int n = 0;
    while (n < 12 && shrunk_per_scan[n] == 1)
        n++;
    cr_expect_geq(n, 8, "only %d halvings", n);
    for (int i = n; i < 12; i++)
        cr_expect_eq(shrunk_per_scan[i], 0, "scan %d shrank again", i);
    cr_expect_eq(st_after.stack_shrinks - st_before.stack_shrinks,
                 (uint64_t)n);
    cr_expect_eq(st_before.stack_bytes_inuse - st_after.stack_bytes_inuse,
                 (1 << 20) - ((1 << 20) >> n));
    cr_expect_eq(chainok, 1, "the chain of locals broke after shrinking");
}

/* 10,000 Gs that grew to 64 KiB and parked. */
#define NG 10000
static int okcount;

static void grow64(void *arg)
{
    (void)arg;
    test_recurse(250);  /* ~ 60 KiB: a 64 KiB stack */
    long local = 42, *p = &local;
    goro_wg_done(parked);
    goro_wg_wait(release);
    if (*p == 42 && p == &local)
        __atomic_fetch_add(&okcount, 1, __ATOMIC_RELAXED);
    goro_wg_done(done);
}

static goro_stats many_grown, many_shrunk;
static int scans;

static void manymain(void *arg)
{
    (void)arg;
    parkgroups(NG);
    for (int i = 0; i < NG; i++)
        goro_go(grow64, NULL);
    goro_wg_wait(parked);
    goro_sleep_ns(10000000);
    goro_stats_get(&many_grown);
    while (goro_stack_scan() > 0 && scans < 20)
        scans++;
    goro_stats_get(&many_shrunk);
    goro_wg_done(release);
    goro_wg_wait(done);
}

Test(shrink, ten_thousand_grown_gs_are_all_shrunk_by_repeated_scans,
     .timeout = 60)
{
    setenv("GORO_STACK_SCAN_INTERVAL", "0", 1);
    cr_assert_eq(test_run(2, manymain, NULL), 0);
    cr_expect_eq(okcount, NG);
    cr_expect_eq(scans, 5, "64 KiB -> 2 KiB takes 5 scans, took %d", scans);
    cr_expect_eq(many_shrunk.stack_shrinks - many_grown.stack_shrinks,
                 5 * NG);
    cr_expect_geq(many_grown.stack_bytes_inuse, (uint64_t)NG * 65536);
    cr_expect_leq(many_shrunk.stack_bytes_inuse,
                  (uint64_t)NG * 2048 + (4 << 20),
                  "%llu bytes of stacks in use after the scans",
                  (unsigned long long)many_shrunk.stack_bytes_inuse);
}

/* The scan runs by itself every GORO_STACK_SCAN_INTERVAL. */
static goro_stats auto_before, auto_after;

static void automain(void *arg)
{
    (void)arg;
    parkgroups(1);
    goro_go(grow64, NULL);
    goro_wg_wait(parked);
    goro_stats_get(&auto_before);
    goro_sleep_ns(300000000);  /* 300 ms: 30 scans at 10 ms */
    goro_stats_get(&auto_after);
    goro_wg_done(release);
    goro_wg_wait(done);
}

Test(shrink, the_periodic_scan_shrinks_parked_stacks_by_itself,
     .timeout = 30)
{
    setenv("GORO_STACK_SCAN_INTERVAL", "10ms", 1);
    cr_assert_eq(test_run(1, automain, NULL), 0);
    cr_expect_eq(auto_after.stack_shrinks - auto_before.stack_shrinks, 5);
    cr_expect_eq(okcount, 1);
}

static int noshrink_result = -1;

static void noshrinkmain(void *arg)
{
    (void)arg;
    parkgroups(1);
    goro_go(grow64, NULL);
    goro_wg_wait(parked);
    goro_sleep_ns(1000000);
    noshrink_result = goro_stack_scan();
    goro_wg_done(release);
    goro_wg_wait(done);
}

Test(shrink, no_shrink_keeps_stacks_as_they_grew)
{
    setenv("GORO_STACK_SCAN_INTERVAL", "0", 1);
    setenv("GORO_STACK_NO_SHRINK", "1", 1);
    cr_assert_eq(test_run(1, noshrinkmain, NULL), 0);
    cr_expect_eq(noshrink_result, 0);
}

/* Dead Gs that stay on the global free list give their stacks back. */
static goro_stats burst_before, burst_after;

static void quick(void *arg)
{
    goro_wg_done(arg);
}

static void burstmain(void *arg)
{
    (void)arg;
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 200000);
    for (int i = 0; i < 200000; i++)
        goro_go(quick, wg);
    goro_wg_wait(wg);
    goro_wg_free(wg);
    goro_stats_get(&burst_before);
    goro_stack_scan();  /* marks the idle free list */
    goro_stack_scan();  /* it sat there a whole interval: stacks go back */
    goro_stats_get(&burst_after);
}

Test(shrink, dead_gs_give_their_stacks_back_at_a_scan, .timeout = 60)
{
    setenv("GORO_STACK_SCAN_INTERVAL", "0", 1);
    cr_assert_eq(test_run(2, burstmain, NULL), 0);
    /* Only Gs on the Ps' own free lists (at most 64 each) and the running
     * ones keep a stack. */
    cr_expect_leq(burst_after.stack_bytes_inuse, 256 * 2048,
                  "before %llu, after %llu",
                  (unsigned long long)burst_before.stack_bytes_inuse,
                  (unsigned long long)burst_after.stack_bytes_inuse);
}

Test(shrink, bad_scan_interval_is_refused)
{
    setenv("GORO_STACK_SCAN_INTERVAL", "5 seconds", 1);
    goro_config c;
    cr_assert_eq(test_config_fromenv(&c), -EINVAL);
    int64_t ns;
    cr_assert_eq(goro_parse_duration("500ms", &ns), 0);
    cr_assert_eq(ns, 500000000);
    cr_assert_eq(goro_parse_duration("2s", &ns), 0);
    cr_assert_eq(ns, 2000000000);
    cr_assert_eq(goro_parse_duration("10", &ns), -EINVAL);
}

/* ---- the room promised to code without checks --------------------------- */

/* promised's prologue demanded the non-split headroom (it calls libc, so
 * gold rewrote it), and after it wakes it uses that room without another
 * check -- here directly: a store 12,000 bytes below its sp, as a libc or
 * jemalloc call would. Scans shrank the stack to the minimum while it was
 * parked; with guard pages below every stack (from_system) a stack that
 * did not get its room back faults. */
static goro_chan *promisech;
static struct {
    size_t len;
    long v;
    uintptr_t woke_size;
    uint64_t shrinks;
} pr;

static void promised(void *arg)
{
    size_t n = strlen((const char *)arg);   /* a call without checks */
    long v = 0;
    goro_wg_done(parked);
    goro_chan_recv(promisech, &v);
    pr.woke_size = test_stacksize();
    __asm__ volatile("movb $1, -12000(%%rsp)" ::: "memory");
    pr.len = n;
    pr.v = v;
    goro_wg_done(done);
}

static void promisedmain(void *arg)
{
    (void)arg;
    parked = goro_wg_new();
    done = goro_wg_new();
    promisech = goro_chan_new(sizeof(long), 0);
    goro_wg_add(parked, 1);
    goro_wg_add(done, 1);
    uint64_t base = test_gs_waiting();
    goro_go(promised, "promised");
    goro_wg_wait(parked);
    test_wait_waiting(base + 1);         /* into the receive */
    goro_stats before, after;
    goro_stats_get(&before);
    for (int i = 0; i < 6; i++)
        goro_stack_scan();
    goro_stats_get(&after);
    pr.shrinks = after.stack_shrinks - before.stack_shrinks;
    long v = 42;
    goro_chan_send(promisech, &v);
    goro_wg_wait(done);
}

Test(shrink, a_shrunk_g_gets_the_room_its_frames_were_promised_back,
     .timeout = 30)
{
    setenv("GORO_STACK_FROM_SYSTEM", "1", 1);
    setenv("GORO_STACK_SCAN_INTERVAL", "0", 1);
    cr_assert_eq(test_run(1, promisedmain, NULL), 0);
    cr_expect_eq(pr.shrinks, 4, "32 KiB down to 2 KiB: %llu shrinks",
                 (unsigned long long)pr.shrinks);
    cr_expect_geq(pr.woke_size, 16384 + 928, "woke on %lu bytes",
                  (unsigned long)pr.woke_size);
    cr_expect_eq(pr.len, 8);
    cr_expect_eq(pr.v, 42);
}
