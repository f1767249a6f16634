/* fixed_nosplit.c - a plugin built WITHOUT -fsplit-stack (no prologue
 * checks, no split-stack note): refused unless configured `stack: fixed`.
 * On a fixed stack its start recurses through ~100 KiB of frames, checks
 * every frame, reports one request served, and idles until stop. */
#include <stdatomic.h>
#include <goro/plugin.h>

static _Atomic int stopping;

__attribute__((noinline)) static long deep(int n)
{
    volatile char pad[1024];
    for (int i = 0; i < 1024; i += 256)
        pad[i] = (char)(n + i);
    long below = n > 0 ? deep(n - 1) : 0;
    for (int i = 0; i < 1024; i += 256)
        if (pad[i] != (char)(n + i))
            return -1000000;
    return below + 1;
}

static int start(const char *args)
{
    (void)args;
    atomic_store(&stopping, 0);
    if (deep(99) != 100)
        return 1;
    goro_plugin_served(1);
    while (!atomic_load(&stopping))
        goro_sleep_ns(10 * 1000 * 1000);
    return 0;
}

static void stop(void)
{
    atomic_store(&stopping, 1);
}

GORO_PLUGIN_DEFINE("fixed", "1.0", start, stop);
