/* test_join.c - joining Gs by id (join.c): the result before and after the
 * G ended, one join per G, self-join, detach, contexts, and many joins
 * with the joined Gs' stacks moving. Results are checked after goro_run:
 * never assert in a G. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "export_test.h"

static int sevenfold(void *arg)
{
    return 7 * (int)(intptr_t)arg;
}

static int sleeps_then_returns(void *arg)
{
    goro_sleep_ns(20 * 1000000);
    return (int)(intptr_t)arg;
}

/* ---- before and after the end ---------------------------------------------- */

static int rc_after, res_after, rc_before, res_before, rc_again;
static uint64_t kept_after;

static void before_and_after(void *arg)
{
    (void)arg;
    int64_t id = goro_go_joinable(sevenfold, (void *)6);
    goro_sleep_ns(5 * 1000000);   /* it ended long since */
    rc_after = goro_join(id, &res_after);
    rc_again = goro_join(id, NULL);
    int64_t id2 = goro_go_joinable(sleeps_then_returns, (void *)99);
    rc_before = goro_join(id2, &res_before);
    kept_after = joinrecords();
}

Test(join, returns_the_result_whether_the_g_ended_before_or_after,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, before_and_after, NULL), 0);
    cr_expect_eq(rc_after, 0);
    cr_expect_eq(res_after, 42);
    cr_expect_eq(rc_before, 0);
    cr_expect_eq(res_before, 99);
    cr_expect_eq(rc_again, -ESRCH, "a second join: %d", rc_again);
    cr_expect_eq(kept_after, 0, "%llu records kept",
                 (unsigned long long)kept_after);
}

/* ---- G-local destructors -------------------------------------------------- */

static _Atomic int destroyed;
static int destroyed_at_join, rc_keyed;

static void destroy(void *v)
{
    (void)v;
    goro_sleep_ns(1000000);   /* a destructor that parks */
    atomic_fetch_add(&destroyed, 1);
}

static int keyed(void *arg)
{
    goro_key_set((int)(intptr_t)arg, &destroyed);
    return 0;
}

static void join_after_destructors(void *arg)
{
    (void)arg;
    int key = goro_key_new(destroy);
    int64_t id = goro_go_joinable(keyed, (void *)(intptr_t)key);
    rc_keyed = goro_join(id, NULL);
    destroyed_at_join = atomic_load(&destroyed);
}

Test(join, returns_after_the_g_s_local_destructors_ran, .timeout = 30)
{
    cr_assert_eq(test_run(2, join_after_destructors, NULL), 0);
    cr_expect_eq(rc_keyed, 0);
    cr_expect_eq(destroyed_at_join, 1);
}

/* ---- misuse ---------------------------------------------------------------- */

static int rc_self_main, rc_self_g, rc_detached_g, rc_unknown, rc_null;
static int rc_second_joiner, rc_first_joiner, res_first;
static int64_t selfid;
static goro_wg *joined;

static int joins_itself(void *arg)
{
    (void)arg;
    rc_self_g = goro_join(goro_id(), NULL);
    return 0;
}

static int64_t slowid;

static void first_joiner(void *arg)
{
    (void)arg;
    rc_first_joiner = goro_join(slowid, &res_first);
    goro_wg_done(joined);
}

static void noop(void *arg)
{
    (void)arg;
}

/* The joined G of the two-joiner case: it returns 5 once released, so the
 * second join certainly comes while the first waits. */
static goro_wg *release;

static int waits_then_returns(void *arg)
{
    goro_wg_wait(release);
    return (int)(intptr_t)arg;
}

static void misuse(void *arg)
{
    (void)arg;
    rc_self_main = goro_join(goro_id(), NULL);
    selfid = goro_go_joinable(joins_itself, NULL);
    goro_join(selfid, NULL);
    rc_detached_g = goro_join(goro_go(noop, NULL), NULL);
    rc_unknown = goro_join(1 << 30, NULL);
    rc_null = (int)goro_go_joinable(NULL, NULL);

    /* Two joiners: the second is refused while the first waits. */
    joined = goro_wg_new();
    release = goro_wg_new();
    goro_wg_add(joined, 1);
    goro_wg_add(release, 1);
    slowid = goro_go_joinable(waits_then_returns, (void *)5);
    goro_go(first_joiner, NULL);
    test_wait_waiting(2);   /* the joined G and its joiner */
    rc_second_joiner = goro_join(slowid, NULL);
    goro_wg_done(release);
    goro_wg_wait(joined);
    goro_wg_free(release);
}

Test(join, misuse_is_refused_with_pthreads_errors, .timeout = 30)
{
    cr_assert_eq(goro_join(1, NULL), -EPERM);
    cr_assert_eq(goro_go_joinable(sevenfold, NULL), -EPERM);
    cr_assert_eq(goro_detach(1), -EPERM);
    cr_assert_eq(test_run(2, misuse, NULL), 0);
    cr_expect_eq(rc_self_main, -EDEADLK);
    cr_expect_eq(rc_self_g, -EDEADLK);
    cr_expect_eq(rc_detached_g, -ESRCH);
    cr_expect_eq(rc_unknown, -ESRCH);
    cr_expect_eq(rc_null, -EINVAL);
    cr_expect_eq(rc_second_joiner, -EINVAL);
    cr_expect_eq(rc_first_joiner, 0);
    cr_expect_eq(res_first, 5);
}

/* ---- detach ---------------------------------------------------------------- */

static int rc_detach_running, rc_detach_ended, rc_join_detached;
static int rc_detach_twice;
static uint64_t kept_detached;

static void detaches(void *arg)
{
    (void)arg;
    int64_t running = goro_go_joinable(sleeps_then_returns, (void *)1);
    rc_detach_running = goro_detach(running);
    rc_join_detached = goro_join(running, NULL);
    rc_detach_twice = goro_detach(running);
    int64_t ended = goro_go_joinable(sevenfold, (void *)1);
    goro_sleep_ns(5 * 1000000);
    rc_detach_ended = goro_detach(ended);
    /* Once the sleeper has ended (20 ms, or later on a loaded machine),
     * no record is left; 10 s at most. */
    for (int i = 0; i < 10000 && (kept_detached = joinrecords()) != 0; i++)
        goro_sleep_ns(1000000);
}

Test(join, a_detached_g_frees_its_record_when_it_ends, .timeout = 30)
{
    cr_assert_eq(test_run(2, detaches, NULL), 0);
    cr_expect_eq(rc_detach_running, 0);
    cr_expect_eq(rc_join_detached, -ESRCH);
    cr_expect_eq(rc_detach_twice, -ESRCH);
    cr_expect_eq(rc_detach_ended, 0);
    cr_expect_eq(kept_detached, 0, "%llu records kept",
                 (unsigned long long)kept_detached);
}

/* ---- contexts -------------------------------------------------------------- */

static int rc_timed, rc_cancelled, rc_late, res_late;

static void join_ctx(void *arg)
{
    (void)arg;
    /* The joined G returns only once released, after the two joins that
     * end first. */
    release = goro_wg_new();
    goro_wg_add(release, 1);
    int64_t id = goro_go_joinable(waits_then_returns, (void *)3);
    goro_ctx *ctx = goro_ctx_new_deadline(NULL, goro_now() + 2000000);
    rc_timed = goro_join_ctx(ctx, id, NULL);
    goro_ctx_free(ctx);
    ctx = goro_ctx_new(NULL);
    goro_ctx_cancel(ctx, 0);
    rc_cancelled = goro_join_ctx(ctx, id, NULL);
    goro_ctx_free(ctx);
    goro_wg_done(release);
    /* Still joinable. */
    rc_late = goro_join_ctx(NULL, id, &res_late);
    goro_wg_free(release);
}

Test(join, a_join_that_its_context_ends_leaves_the_g_joinable,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, join_ctx, NULL), 0);
    cr_expect_eq(rc_timed, -ETIMEDOUT);
    cr_expect_eq(rc_cancelled, -ECANCELED);
    cr_expect_eq(rc_late, 0);
    cr_expect_eq(res_late, 3);
}

/* ---- many ------------------------------------------------------------------ */

enum { njoinable = 20000, njoiners = 8 };
static int64_t ids[njoinable];
static _Atomic long sum, errors;
static uint64_t kept_many;
static goro_wg *joinersdone;

static int grows_then_returns(void *arg)
{
    long i = (long)(intptr_t)arg;
    /* Some grow their stacks before they return, some after a sleep (a
     * scan may shrink them meanwhile). */
    if (i % 3 == 0)
        test_recurse(40);
    if (i % 5 == 0)
        goro_sleep_ns(1000000);
    if (i % 7 == 0)
        goro_yield();
    return (int)i;
}

static void joiner(void *arg)
{
    long k = (long)(intptr_t)arg;
    for (long i = njoinable - 1 - k; i >= 0; i -= njoiners) {
        int r = -1;
        if (goro_join(ids[i], &r) != 0 || r != (int)i)
            atomic_fetch_add(&errors, 1);
        atomic_fetch_add(&sum, r);
    }
    goro_wg_done(joinersdone);
}

static void many(void *arg)
{
    (void)arg;
    joinersdone = goro_wg_new();
    goro_wg_add(joinersdone, njoiners);
    /* In reverse order: the last Gs spawned have not run yet when their
     * joins come, the first have ended. */
    for (long i = 0; i < njoinable; i++)
        ids[i] = goro_go_joinable(grows_then_returns, (void *)(intptr_t)i);
    for (long k = 0; k < njoiners; k++)
        goro_go(joiner, (void *)(intptr_t)k);
    goro_wg_wait(joinersdone);
    kept_many = joinrecords();
}

Test(join, twenty_thousand_gs_joined_from_eight_gs_in_reverse_order,
     .timeout = 120)
{
    cr_assert_eq(test_run(2, many, NULL), 0);
    cr_expect_eq(atomic_load(&errors), 0, "%ld joins failed",
                 atomic_load(&errors));
    cr_expect_eq(atomic_load(&sum),
                 (long)njoinable * (njoinable - 1) / 2);
    cr_expect_eq(kept_many, 0, "%llu records kept",
                 (unsigned long long)kept_many);
}
