/*
 * undefsym.c - a plugin that calls a function no library defines, so that
 * dlopen with RTLD_NOW fails ("undefined symbol: goro_test_no_such_function")
 * and gorod refuses it with dlerror's message.
 */
#include <goro.h>
#include <goro/plugin.h>

extern int goro_test_no_such_function(void);

static int undefsym_start(const char *args)
{
    return goro_test_no_such_function();
}

GORO_PLUGIN_DEFINE("undefsym", "1.0", undefsym_start, NULL);
