/*
 * badabi.c - a plugin whose entry declares ABI 999: gorod must refuse it,
 * naming the ABI it found and the one it speaks.
 */
#include <goro.h>
#include <goro/plugin.h>

static int badabi_start(const char *args)
{
    return 0;
}

GORO_EXTERN const goro_plugin goro_plugin_entry = {
    999, "badabi", "1.0", badabi_start, NULL};
