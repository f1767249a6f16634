/* many.c - a test plugin with a crowd: start spawns `gs=N` Gs (default
 * 100000) that each wait on one channel until stop() closes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <goro/plugin.h>

static goro_chan *quit;

static void waiter(void *arg)
{
    (void)arg;
    goro_chan_recv(quit, NULL);
}

static int start(const char *args)
{
    long n = 100000;
    if (args != NULL && strncmp(args, "gs=", 3) == 0)
        n = strtol(args + 3, NULL, 10);
    quit = goro_chan_new(0, 0);
    if (quit == NULL)
        return 1;
    for (long i = 0; i < n; i++)
        if (goro_go(waiter, NULL) < 0)
            return 1;
    goro_plugin_served((uint64_t)n);
    return 0;
}

static void stop(void)
{
    goro_chan_close(quit);
}

GORO_PLUGIN_DEFINE("many", "1.0", start, stop);
