/* test_stack.c - the stack allocator (pool, per-P cache, large stacks), the
 * non-split fast path, growth to large sizes and back, and the overflow
 * diagnostic. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export_test.h"

/* ---- the per-P cache ------------------------------------------------------ */

struct cachecheck {
    uintptr_t after_first, after_drain, after_refill, at_full, after_release;
    bool cleared;
    bool reused[8];
    int status;
};

static uintptr_t cachework(void *arg)
{
    struct cachecheck *c = arg;
    p *pp = getg()->m->p;
    stackfreelist *sc = &pp->stackcache[0];

    stackcache_clear(pp);
    if (sc->size != 0 || sc->list != NULL)
        return 1;
    stack s[17];
    s[0] = stackalloc(2048);            /* refill: half of 32 KiB, less one */
    c->after_first = sc->size;
    for (int i = 1; i < 8; i++)         /* take the other 7 */
        s[i] = stackalloc(2048);
    c->after_drain = sc->size;
    for (int i = 8; i < 17; i++)        /* two more refills */
        s[i] = stackalloc(2048);
    c->after_refill = sc->size;         /* 7 cached, 17 handed out */
    for (int i = 0; i < 9; i++)         /* 7 + 9 = 16 stacks = 32 KiB */
        stackfree(s[i]);
    c->at_full = sc->size;
    stackfree(s[9]);                    /* full: release to half, then push */
    c->after_release = sc->size;
    for (int i = 10; i < 17; i++)
        stackfree(s[i]);

    /* Every order is reused from the cache: freed, then handed out again. */
    for (int order = 0; order < rtconf.stack_orders; order++) {
        uintptr_t n = rtconf.stack_min << order;
        stack a = stackalloc(n);
        stackfree(a);
        stack b = stackalloc(n);
        c->reused[order] = a.lo == b.lo && b.hi - b.lo == n;
        stackfree(b);
    }
    stackcache_clear(pp);
    c->cleared = sc->size == 0 && sc->list == NULL;
    return 0;
}

static void cachemain(void *arg)
{
    struct cachecheck *c = arg;
    c->status = (int)systemstack(cachework, arg);
}

Test(stack, cache_refills_half_and_releases_down_to_half)
{
    struct cachecheck c = {0};
    cr_assert_eq(test_run(1, cachemain, &c), 0);
    cr_expect_eq(c.status, 0, "the cache was not empty after a clear");
    cr_expect_eq(c.after_first, 16384 - 2048);
    cr_expect_eq(c.after_drain, 0);
    cr_expect_eq(c.after_refill, 16384 - 2048);
    cr_expect_eq(c.at_full, 32768);
    cr_expect_eq(c.after_release, 16384 + 2048);
    for (int i = 0; i < 4; i++)
        cr_expect(c.reused[i], "order %d not reused", i);
    cr_expect(c.cleared, "stackcache_clear left stacks in the cache");
}

/* ---- the pool, without a P ---------------------------------------------- */

Test(stack, without_a_p_stacks_come_from_the_pool_and_empty_spans_go_back)
{
    cr_assert_eq(test_config_fromenv(&rtconf), 0);
    stackinit();
    /* This thread is no M: getg() is NULL, so there is no P cache. */
    cr_assert_eq(stackpool_bytes(0), 0);
    stack a = stackalloc(2048);
    cr_assert_eq(a.hi - a.lo, 2048);
    cr_assert_eq(stackpool_bytes(0), 32768 - 2048);
    stack b = stackalloc(2048);
    cr_assert_eq(stackpool_bytes(0), 32768 - 4096);
    stackfree(a);
    cr_assert_eq(stackpool_bytes(0), 32768 - 2048);
    stackfree(b);  /* the span is empty: back to the allocator */
    cr_assert_eq(stackpool_bytes(0), 0);
    /* Large: runs of spans of a chunk, aligned to their size; above a
     * chunk (2 MiB), a mapping of its own, aligned too. */
    uintptr_t sizes[] = {32768, 65536, 32768, 1 << 20, 131072, 4 << 20};
    enum { nlarge = sizeof sizes / sizeof sizes[0] };
    stack big[nlarge];
    for (int i = 0; i < nlarge; i++) {
        big[i] = stackalloc(sizes[i]);
        cr_assert_eq(big[i].hi - big[i].lo, sizes[i]);
        cr_assert_eq(big[i].lo % sizes[i], 0, "%zu-byte stack at %#lx",
                     (size_t)sizes[i], (unsigned long)big[i].lo);
        memset((void *)big[i].lo, i + 1, sizes[i]);
    }
    for (int i = 0; i < nlarge; i++) {
        for (int j = 0; j < nlarge; j++)
            cr_assert(i == j || big[i].hi <= big[j].lo ||
                      big[j].hi <= big[i].lo, "stacks %d and %d overlap", i, j);
        const unsigned char *b = (const unsigned char *)big[i].lo;
        cr_assert(b[0] == i + 1 && b[sizes[i] - 1] == i + 1,
                  "stack %d was written by another", i);
    }
    /* A freed run is handed out again before new memory. */
    uintptr_t lo = big[1].lo;
    stackfree(big[1]);
    big[1] = stackalloc(65536);
    cr_expect_eq(big[1].lo, lo);
    for (int i = 0; i < nlarge; i++)
        stackfree(big[i]);
}

/* ---- growth to 1 MiB and back --------------------------------------------- */

static volatile long sink;

static goro_stats before, grown, after;
static uintptr_t maxsize;
static goro_wg *wg;

static void deep(void *arg)
{
    sink = test_recurse(4000);  /* ~ 4000 * 240 bytes: past 512 KiB */
    maxsize = test_stacksize();
    goro_stats_get(&grown);
    goro_wg_done(wg);
}

static void deepmain(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_stats_get(&before);
    goro_wg_add(wg, 1);
    goro_go(deep, NULL);
    goro_wg_wait(wg);
    goro_yield();
    goro_stats_get(&after);
    goro_wg_free(wg);
}

Test(stack, grows_by_doubling_to_a_megabyte_and_frees_it_at_exit,
     .timeout = 30)
{
    cr_assert_eq(test_run(1, deepmain, NULL), 0);
    cr_expect_eq(sink, 4000);
    cr_expect_eq(maxsize, 1 << 20, "stack was %zu", (size_t)maxsize);
    /* 2 KiB -> 1 MiB by doubling: 9 copies. */
    cr_expect_eq(grown.stack_grows - before.stack_grows, 9);
    cr_expect_geq(grown.stack_bytes_inuse - before.stack_bytes_inuse,
                  (1 << 20) - 2048);
    /* The dead G keeps only a minimum stack. */
    cr_expect_leq(after.stack_bytes_inuse, before.stack_bytes_inuse + 2048);
}

/* ---- the non-split fast path --------------------------------------------- */

/* Calls libc (built without -fsplit-stack): gold rewrites this function's
 * prologue to call __morestack_non_split on every call. */
__attribute__((noinline)) static size_t callslibc(const char *s)
{
    return strlen(s) + 1;
}

static size_t total;
static goro_stats nsbefore, nsafter;
static uintptr_t nssize;

static void nonsplit(void *arg)
{
    (void)arg;
    goro_stats_get(&nsbefore);
    for (int i = 0; i < 100000; i++)
        total += callslibc("goro");
    goro_stats_get(&nsafter);
    nssize = test_stacksize();
    goro_wg_done(wg);
}

static void nonsplitmain(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(nonsplit, NULL);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

Test(stack, calls_into_non_split_code_grow_once_then_take_the_fast_path)
{
    cr_assert_eq(test_run(1, nonsplitmain, NULL), 0);
    cr_expect_eq(total, 500000);
    /* The first call needs frame + 16 KiB headroom: one copy to 32 KiB;
     * the 99,999 others return from the fast path. */
    cr_expect_eq(nsafter.stack_grows - nsbefore.stack_grows, 1);
    cr_expect_eq(nssize, 32768);
}

/* ---- the overflow diagnostic ---------------------------------------------- */

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static long forever(long n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return forever(n + 1) + pad[0];
}

static void overflow(void *arg)
{
    (void)arg;
    sink = forever(0);
}

static void overflowmain(void *arg)
{
    (void)arg;
    goro_go(overflow, NULL);
    goro_sleep_ns(10LL * 1000000000);
}

Test(stack, exceeding_the_maximum_is_a_fatal_diagnostic, .timeout = 30)
{
    setenv("GORO_STACK_MAX_SIZE", "256KiB", 1);
    int st;
    char *buf = test_run_child(1, overflowmain, NULL, &st);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
              "status %#x, stderr:\n%s", st, buf);
    cr_expect(strstr(buf, "runtime: goroutine stack exceeds 262144-byte "
                          "limit\n") != NULL, "%s", buf);
    cr_expect(strstr(buf, "runtime: goroutine 2: stack size 262144") != NULL,
              "%s", buf);
    cr_expect(strstr(buf, "fatal error: stack overflow\n") != NULL, "%s",
              buf);
}

/* ---- the seeds' debug modes ------------------------------------------------ */

/* A deliberately broken G: it keeps a pointer to its own local where it
 * outlives a stack move (what the contract forbids), then reads through it. */
/* volatile pointer object: read back from the global, not from a register
 * that the copy would have moved along with the stack. */
static volatile unsigned char *volatile stale;
static volatile int stalebyte = -1;

static void keepstale(void *arg)
{
    (void)arg;
    unsigned char local[64];
    /* No libc here: a call into non-split code would make this function
     * take the 16 KiB headroom (a bigger stack) before local exists. */
    for (size_t i = 0; i < sizeof local; i++)
        ((volatile unsigned char *)local)[i] = 0x11;
    stale = local + 32;
    sink = test_recurse(1000);  /* the stack moves: local is now elsewhere */
    stalebyte = *stale;   /* reads the old, freed stack */
    goro_wg_done(wg);
}

static void stalemain(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(keepstale, NULL);
    goro_wg_wait(wg);
    goro_wg_free(wg);
}

Test(stackdebug, fault_on_free_turns_a_stale_pointer_into_sigsegv,
     .signal = SIGSEGV, .timeout = 30)
{
    setenv("GORO_STACK_FAULT_ON_FREE", "1", 1);
    test_run(1, stalemain, NULL);
}

Test(stackdebug, poison_copy_makes_the_old_stack_read_0xfc, .timeout = 30)
{
    setenv("GORO_STACK_POISON_COPY", "1", 1);
    cr_assert_eq(test_run(1, stalemain, NULL), 0);
    cr_expect_eq(stalebyte, 0xfc, "read %#x", stalebyte);
}

Test(stackdebug, without_poisoning_the_stale_read_sees_the_old_bytes,
     .timeout = 30)
{
    cr_assert_eq(test_run(1, stalemain, NULL), 0);
    cr_expect_eq(stalebyte, 0x11, "read %#x", stalebyte);
}

static void belowstack(void *arg)
{
    (void)arg;
    volatile char *lo = (volatile char *)getg()->stack.lo;
    lo[0] = 1;   /* the stack itself is writable */
    lo[-1] = 1;  /* the guard page below it is not */
    goro_wg_done(wg);
}

static void guardmain(void *arg)
{
    (void)arg;
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(belowstack, NULL);
    goro_wg_wait(wg);
}

Test(stackdebug, from_system_stacks_have_a_guard_page_below,
     .signal = SIGSEGV, .timeout = 30)
{
    setenv("GORO_STACK_FROM_SYSTEM", "1", 1);
    test_run(1, guardmain, NULL);
}

Test(stackdebug, debug_level_one_logs_every_copy, .init = cr_redirect_stderr,
     .timeout = 30)
{
    setenv("GORO_STACK_DEBUG", "1", 1);
    cr_assert_eq(test_run(1, deepmain, NULL), 0);
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    char line[512];
    int copies = 0, allocs = 0;
    while (fgets(line, sizeof line, f)) {
        copies += strncmp(line, "copystack gp=", 13) == 0;
        allocs += strncmp(line, "stackalloc ", 11) == 0;
    }
    cr_expect_eq(copies, 9, "%d copystack lines", copies);
    cr_expect_geq(allocs, 10);
}

Test(stackdebug, bad_debug_values_are_refused)
{
    goro_config c;
    setenv("GORO_STACK_DEBUG", "5", 1);
    cr_expect_eq(test_config_fromenv(&c), -EINVAL);
    setenv("GORO_STACK_DEBUG", "2", 1);
    setenv("GORO_STACK_POISON_COPY", "yes", 1);
    cr_expect_eq(test_config_fromenv(&c), -EINVAL);
    setenv("GORO_STACK_POISON_COPY", "1", 1);
    setenv("GORO_STACK_FAULT_ON_FREE", "1", 1);
    cr_expect_eq(test_config_fromenv(&c), 0);
    cr_expect_eq(c.stack_debug, 2);
    cr_expect(c.poison_copy && c.fault_on_free && c.from_system);
}
