/*
 * noentry.c - a valid split-stack shared object without goro_plugin_entry:
 * gorod must refuse it, naming the missing symbol.
 */
#include <goro.h>

GORO_EXTERN int noentry_start(const char *args);

int noentry_start(const char *args)
{
    return 0;
}
