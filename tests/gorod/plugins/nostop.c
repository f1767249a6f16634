/*
 * nostop.c - a plugin that does not stop, for the shutdown deadline test.
 *
 * start spawns a G that sleeps in 10 ms slices until the stop flag is set,
 * and returns 0. stop sets the flag and then never returns (it sleeps for
 * ever), so gorod's call of stop outlives the shutdown deadline: gorod must
 * exit 1 and name this plugin among the stragglers. The G itself ends once
 * the flag is set.
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>

static _Atomic bool stopping;

static void idle(void *arg)
{
    while (!atomic_load_explicit(&stopping, memory_order_relaxed))
        goro_sleep_ns(10 * 1000 * 1000);
}

static int nostop_start(const char *args)
{
    return goro_go(idle, NULL) > 0 ? 0 : 1;
}

static void nostop_stop(void)
{
    atomic_store_explicit(&stopping, true, memory_order_relaxed);
    for (;;)
        goro_sleep_ns(1000LL * 1000 * 1000);
}

GORO_PLUGIN_DEFINE("nostop", "1.0", nostop_start, nostop_stop);
