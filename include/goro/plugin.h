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

#include <errno.h>
#include <stdint.h>
#include "../goro.h"

#define GORO_PLUGIN_ABI 1

typedef struct goro_plugin {
    uint32_t    abi;                  /* GORO_PLUGIN_ABI */
    const char *name;
    const char *version;              /* goroctl plugins shows it */
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

/* goro_plugin_listener(name): the listening socket named name in gorod's
 * configuration (`listeners:` in gorod.yaml), which gorod took from
 * systemd's socket activation (LISTEN_FDS, FileDescriptorName=name) or
 * opened itself. Returns the fd (non-blocking, close-on-exec, listening:
 * goro_accept on it), -ENOENT when the configuration names no such
 * listener, -ENOSYS outside gorod. The fd stays gorod's: the plugin never
 * closes it, and it stays open while the plugin restarts (a reload that
 * changes its entry), so connections wait in its backlog for the next
 * instance instead of being refused. Call it from a G of the plugin
 * (start() or a G it spawned): gorod counts the plugin as a user of the
 * listener until it is unloaded, and closes a listener removed from the
 * configuration only then. Several plugins may take the same one. */
extern int gorod_listener_fd(const char *name) __attribute__((weak));
static inline int goro_plugin_listener(const char *name)
{
    return gorod_listener_fd ? gorod_listener_fd(name) : -ENOSYS;
}

/* A plugin's arguments as key/value pairs. The entry's `args` in gorod.yaml
 * is a string (`args: "port=7007 host=::1"`) or a mapping of single values
 * (`args: {port: 7007, greeting: "hello world"}`); start() gets the string
 * either way (for a mapping, its pairs as "key=value" joined by spaces, in
 * the file's order), and these read the pairs: a mapping's, or the string's
 * blank-separated key=value words (a word without '=' is no pair). Keys
 * are 1 to 63 letters, digits, '_', '-' or '.'; a value is any text
 * without control characters (a mapping's may hold blanks: read it here,
 * the string form cannot tell them apart).
 *
 * goro_plugin_arg(key): the value of key, NULL when there is no such pair
 * (or outside gorod). goro_plugin_arg_at(i, &key, &value): the i-th pair
 * (from 0): 0, -ENOENT past the last, -ENOSYS outside gorod. The strings
 * are gorod's, valid until the plugin is unloaded. Call them from a G of
 * the plugin (start(), stop() or a G they spawned), as goro_plugin_served.
 *
 * goro_plugin_arg_refuse(key, allowed): the plugin refuses key's value.
 * gorod logs it as it does a bad key of its own, with the file and line of
 * the pair: `gorod.yaml:31: plugins[0].args.port: x is not a port number
 * from 1 to 65535` (allowed: "a port number from 1 to 65535"), and shows
 * it as the plugin's failure (`goroctl plugins`, `goroctl restart`). Then
 * start() returns non-zero. Returns 0, -ENOENT for no such pair, -ENOSYS
 * outside gorod (the plugin then says it on stderr itself). */
extern const char *gorod_plugin_arg(const char *key) __attribute__((weak));
extern int gorod_plugin_arg_at(unsigned i, const char **key,
                               const char **value) __attribute__((weak));
extern int gorod_plugin_arg_refuse(const char *key, const char *allowed)
    __attribute__((weak));
static inline const char *goro_plugin_arg(const char *key)
{
    return gorod_plugin_arg ? gorod_plugin_arg(key) : NULL;
}
static inline int goro_plugin_arg_at(unsigned i, const char **key,
                                     const char **value)
{
    return gorod_plugin_arg_at ? gorod_plugin_arg_at(i, key, value)
                               : -ENOSYS;
}
static inline int goro_plugin_arg_refuse(const char *key, const char *allowed)
{
    return gorod_plugin_arg_refuse ? gorod_plugin_arg_refuse(key, allowed)
                                   : -ENOSYS;
}

#endif
