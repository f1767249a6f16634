/*
 * goro/plugin.h - the task plugin ABI of gorod.
 *
 * A plugin is a shared object built with the flags of
 * `pkg-config --cflags --libs goro` (`cc -shared -fPIC $(pkg-config
 * --cflags --libs goro) plugin.c -o plugin.so`) that defines its entry with
 * GORO_PLUGIN_DEFINE. gorod runs start(args) as a G (it may spawn more) and
 * calls stop() when asked to stop or reload; once stop() returns it
 * cancels the plugin's group (goro_group_cancel, cause -ESHUTDOWN), so the
 * waits of every G start spawned end with -ECANCELED (goro.h, "Contexts").
 */
#ifndef GORO_PLUGIN_H
#define GORO_PLUGIN_H

#include <stdint.h>
#include "../goro.h"

#define GORO_PLUGIN_ABI 1

typedef struct goro_plugin {
    uint32_t    abi;                  /* GORO_PLUGIN_ABI */
    const char *name;
    const char *version;
    int  (*start)(const char *args);  /* runs as a G; may spawn more */
    void (*stop)(void);               /* asked to stop; may be NULL */
} goro_plugin;

#define GORO_PLUGIN_DEFINE(name_, version_, start_, stop_)                   \
    GORO_EXTERN const goro_plugin goro_plugin_entry = {                      \
        GORO_PLUGIN_ABI, (name_), (version_), (start_), (stop_)}

/* goro_plugin_served(n): count n requests served, for gorod's status line
 * and metrics (per plugin: the calling G's group). A no-op outside gorod. */
extern void gorod_served(uint64_t n) __attribute__((weak));
static inline void goro_plugin_served(uint64_t n)
{
    if (gorod_served)
        gorod_served(n);
}

#endif
