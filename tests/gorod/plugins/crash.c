/*
 * crash.c - a plugin whose G dereferences NULL 100 ms after start, for the
 * reliability tests (what gorod reports when a plugin kills the process).
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stddef.h>

/* A store through NULL that reaches the CPU even in a UBSan build. */
__attribute__((noinline, no_sanitize("undefined")))
static void store(volatile int *p)
{
    *p = 1;
}

static void boom(void *arg)
{
    goro_sleep_ns(100 * 1000 * 1000);
    store(NULL);
}

static int crash_start(const char *args)
{
    return goro_go(boom, NULL) > 0 ? 0 : 1;
}

static void crash_stop(void)
{
}

GORO_PLUGIN_DEFINE("crash", "1.0", crash_start, crash_stop);
