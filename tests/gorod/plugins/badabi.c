/* badabi.c - a plugin whose entry speaks another ABI: refused. */
#include <goro/plugin.h>

static int start(const char *args)
{
    (void)args;
    return 0;
}

GORO_EXTERN const goro_plugin goro_plugin_entry = {999, "badabi", "1.0",
                                                   start, NULL};
