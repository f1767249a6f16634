/*
 * hello.c - the smallest valid plugin, for the daemon's tests.
 *
 * start spawns one G that sleeps in 10 ms slices until stop sets the flag,
 * and returns 0 at once (the plugin lives on in that G). stop sets the flag;
 * the G ends within a slice.
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

static int hello_start(const char *args)
{
    atomic_store_explicit(&stopping, false, memory_order_relaxed);
    return goro_go(idle, NULL) > 0 ? 0 : 1;
}

static void hello_stop(void)
{
    atomic_store_explicit(&stopping, true, memory_order_relaxed);
}

GORO_PLUGIN_DEFINE("hello", "1.0", hello_start, hello_stop);
