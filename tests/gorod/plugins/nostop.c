/* nostop.c - a plugin whose stop() never returns: shutdown must still end
 * at its deadline, naming it. */
#include <goro/plugin.h>

static void idler(void *arg)
{
    (void)arg;
    for (;;)
        goro_sleep_ns(100 * 1000 * 1000);
}

static int start(const char *args)
{
    (void)args;
    return goro_go(idler, NULL) > 0 ? 0 : 1;
}

static void stop(void)
{
    for (;;)
        goro_sleep_ns(100 * 1000 * 1000);
}

GORO_PLUGIN_DEFINE("nostop", "1.0", start, stop);
