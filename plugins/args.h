/*
 * args.h - the example plugins' arguments: the string gorod passes to
 * start() as space-separated key=value pairs.
 *
 * plugin_args splits the string and hands each pair to the plugin's take
 * function, which checks the value and stores it. What is wrong is said on
 * stderr with the plugin's name, and start then returns 1:
 *
 *   echo: argument 'port' is not key=value
 *   echo: port: 'x' is not a port number (1..65535)      (take's message)
 *   echo: unknown argument 'bogus' (value '1'); known: port, host
 *
 * Numbers are decimal digits only: no sign, no blank, no base prefix.
 * Durations are a number with ms, s or m (300ms, 10s, 2m), or 0 alone.
 */
#ifndef GORO_PLUGINS_ARGS_H
#define GORO_PLUGINS_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What take says of one pair. */
enum { ARG_OK, ARG_BAD /* take printed why */, ARG_UNKNOWN };

typedef int (*plugin_arg_fn)(const char *key, const char *val, void *ctx);

/* plugin_args: every pair of args to take(key, val, ctx); known lists the
 * keys for the message about an unknown one. false after a message. */
static inline bool plugin_args(const char *plugin, const char *args,
                               const char *known, plugin_arg_fn take,
                               void *ctx)
{
    char *copy = strdup(args ? args : "");
    if (copy == NULL) {
        fprintf(stderr, "%s: out of memory\n", plugin);
        return false;
    }
    bool ok = true;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t", &save); tok != NULL && ok;
         tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            fprintf(stderr, "%s: argument '%s' is not key=value\n", plugin,
                    tok);
            ok = false;
            break;
        }
        *eq = '\0';
        switch (take(tok, eq + 1, ctx)) {
        case ARG_OK:
            break;
        case ARG_UNKNOWN:
            fprintf(stderr, "%s: unknown argument '%s' (value '%s'); known: "
                    "%s\n", plugin, tok, eq + 1, known);
            /* fall through */
        default:
            ok = false;
        }
    }
    free(copy);
    return ok;
}

/* plugin_parse_num: the leading decimal digits of s into *v, the rest of s
 * in *rest; false when s starts with no digit or the number overflows. */
static inline bool plugin_parse_num(const char *s, uint64_t *v,
                                    const char **rest)
{
    if (*s < '0' || *s > '9')
        return false;
    uint64_t x = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (x > (UINT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    *rest = s;
    return true;
}

/* plugin_parse_uint: all of s as a number from lo to hi. */
static inline bool plugin_parse_uint(const char *s, uint64_t lo, uint64_t hi,
                                     uint64_t *out)
{
    uint64_t v;
    const char *rest;
    if (!plugin_parse_num(s, &v, &rest) || *rest != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* plugin_parse_duration: all of s as a duration in ns, a number with
 * ms, s or m ("300ms", "10s", "2m"), or 0 alone; at most max_ns. */
static inline bool plugin_parse_duration(const char *s, int64_t max_ns,
                                         int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {{"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000}};
    uint64_t v;
    const char *rest;
    if (!plugin_parse_num(s, &v, &rest))
        return false;
    if (*rest == '\0' && v == 0) {
        *out = 0;
        return true;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(rest, units[i].unit) == 0) {
            if (v > (uint64_t)(max_ns / units[i].ns))
                return false;
            *out = (int64_t)v * units[i].ns;
            return true;
        }
    return false;
}

#endif
