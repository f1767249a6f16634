/* undefsym.c - a plugin that needs a function nobody defines: dlopen with
 * RTLD_NOW fails, and gorod refuses it with dlopen's message. */
#include <goro/plugin.h>

extern int goro_no_such_function(int);

static int start(const char *args)
{
    (void)args;
    return goro_no_such_function(1);
}

GORO_PLUGIN_DEFINE("undefsym", "1.0", start, NULL);
