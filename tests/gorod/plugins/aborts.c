/*
 * aborts.c - a plugin whose G calls abort() 100 ms after start, as a
 * failed assert() does, for the reliability tests (the process dies of
 * SIGABRT after a report that names the plugin).
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stdlib.h>

__attribute__((noinline)) static void give_up(void)
{
    abort();
}

static void later(void *arg)
{
    (void)arg;
    goro_sleep_ns(100 * 1000 * 1000);
    give_up();
}

static int aborts_start(const char *args)
{
    (void)args;
    return goro_go(later, NULL) > 0 ? 0 : 1;
}

GORO_PLUGIN_DEFINE("aborts", "1.0", aborts_start, NULL);
