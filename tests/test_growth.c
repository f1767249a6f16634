/* test_growth.c - stacks grow by copying under code from both compilers at
 * both optimisation levels: every case of growth_cases.c, each in a fresh G
 * on the minimum stack, must see all its values intact and must have moved
 * its stack. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "export_test.h"
#include "growth_cases.h"

struct run {
    const growth_case *table;
    int results[GROWTH_NCASES];
    uint64_t grows[GROWTH_NCASES];
    uintptr_t startsize[GROWTH_NCASES];
    goro_wg *wg;
    int current;
};

static void one(void *arg)
{
    struct run *r = arg;
    int i = r->current;
    r->startsize[i] = test_stacksize();
    r->results[i] = r->table[i].fn();
    goro_wg_done(r->wg);
}

static void runall(void *arg)
{
    struct run *r = arg;
    r->wg = goro_wg_new();
    for (int i = 0; i < GROWTH_NCASES; i++) {
        goro_stats before, after;
        goro_stats_get(&before);
        r->current = i;
        goro_wg_add(r->wg, 1);
        goro_go(one, r);
        goro_wg_wait(r->wg);
        goro_stats_get(&after);
        r->grows[i] = after.stack_grows - before.stack_grows;
    }
    goro_wg_free(r->wg);
}

static void check_variant(const char *variant, const growth_case *table)
{
    struct run r = {.table = table};
    cr_assert_eq(test_run(2, runall, &r), 0);
    for (int i = 0; i < GROWTH_NCASES; i++) {
        cr_expect_eq(r.results[i], 0, "%s/%s: check %d failed", variant,
                     table[i].name, r.results[i]);
        cr_expect_eq(r.startsize[i], 2048, "%s/%s: started on %zu bytes",
                     variant, table[i].name, (size_t)r.startsize[i]);
        cr_expect_gt(r.grows[i], 1, "%s/%s: the stack grew %llu times",
                     variant, table[i].name,
                     (unsigned long long)r.grows[i]);
    }
}

Test(growth, gcc_O0_keeps_every_value, .timeout = 60)
{
    check_variant("gcc -O0", growth_cases_gcc_O0);
}

Test(growth, gcc_O2_keeps_every_value, .timeout = 60)
{
    check_variant("gcc -O2", growth_cases_gcc_O2);
}

Test(growth, clang_O0_keeps_every_value, .timeout = 60)
{
    check_variant("clang -O0", growth_cases_clang_O0);
}

Test(growth, clang_O2_keeps_every_value, .timeout = 60)
{
    check_variant("clang -O2", growth_cases_clang_O2);
}
