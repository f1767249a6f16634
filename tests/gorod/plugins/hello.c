/* hello.c - the smallest well-formed test plugin: start spawns one G that
 * sleeps in short naps until stop() sets the flag, then returns. */
#include <stdatomic.h>
#include <goro/plugin.h>

static _Atomic int stopping;

static void napper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping))
        goro_sleep_ns(10 * 1000 * 1000);
}

static int start(const char *args)
{
    (void)args;
    atomic_store(&stopping, 0);
    return goro_go(napper, NULL) > 0 ? 0 : 1;
}

static void stop(void)
{
    atomic_store(&stopping, 1);
}

GORO_PLUGIN_DEFINE("hello", "1.0", start, stop);
