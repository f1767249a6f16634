/*
 * configvalues.c - the values of a configuration file, parsed strictly.
 *
 * libcyaml hands every scalar over as the string the file has (config.c
 * says why); these turn them into numbers, sizes, durations, booleans,
 * modes, addresses and names, each refusing anything else with a message
 * at the line of its key: "FILE:LINE: KEY: VALUE is not ALLOWED". Sizes
 * and durations are the runtime's own parsers (goro_parse_size,
 * goro_parse_duration), so that one spelling means one thing in the file
 * and in a GORO_* variable.
 *
 * Relative paths (admin.socket, log.target, plugins[].path) are resolved
 * against the directory of the configuration file, made absolute and
 * cleaned lexically, so that the printed configuration loads again to the
 * same values from anywhere.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "show.h"

/* parse_digits reads the digits of a whole number (backlog, a port) as
 * the runtime's table does; sizes and durations are goro_parse_size's and
 * goro_parse_duration's (goro.h), the runtime's own. */
static int parse_digits(const char **sp, uint64_t *v)
{
    const char *s = *sp;
    if (*s < '0' || *s > '9')
        return -1;
    uint64_t x = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
        s++;
    }
    *v = x;
    *sp = s;
    return 0;
}

bool refuse(const struct check *k, const char *allowed)
{
    char buf[128];
    errat(k->l, lineof(k->l, k->path), "%s: %s is not %s", k->path,
          show(k->v, buf, sizeof buf), allowed);
    return false;
}

bool get_uint(const struct check *k, uint64_t lo, uint64_t hi,
                     const char *allowed, uint64_t *out)
{
    if (k->v == NULL)
        return true;
    const char *s = k->v;
    uint64_t x;
    if (parse_digits(&s, &x) != 0 || *s != '\0' || x < lo || x > hi)
        return refuse(k, allowed);
    *out = x;
    return true;
}

bool get_size(const struct check *k, uint64_t lo, uint64_t hi,
                     bool pow2, uint64_t multiple, const char *allowed,
                     uint64_t *out)
{
    if (k->v == NULL)
        return true;
    uint64_t x;
    if (goro_parse_size(k->v, &x) != 0 || x < lo || x > hi ||
        (pow2 && (x & (x - 1)) != 0) || (multiple && x % multiple != 0))
        return refuse(k, allowed);
    *out = x;
    return true;
}

/* get_duration takes 0 when zero_ok, else lo..hi. */
bool get_duration(const struct check *k, bool zero_ok, int64_t lo,
                         int64_t hi, const char *allowed, int64_t *out)
{
    if (k->v == NULL)
        return true;
    int64_t x;
    if (goro_parse_duration(k->v, &x) != 0 || (x == 0 && !zero_ok) ||
        (x != 0 && (x < lo || x > hi)))
        return refuse(k, allowed);
    *out = x;
    return true;
}

/* get_bool takes YAML 1.2's core-schema booleans only. */
bool get_bool(const struct check *k, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    if (k->v == NULL)
        return true;
    for (int i = 0; i < 3; i++)
        if (strcmp(k->v, yes[i]) == 0 || strcmp(k->v, no[i]) == 0) {
            *out = strcmp(k->v, yes[i]) == 0;
            return true;
        }
    return refuse(k, "true or false");
}

/* get_mode reads octal digits, as chmod does, with or without a leading 0
 * or 0o: 0660, 660, 0o660; at most hi. */
bool get_mode(const struct check *k, uint32_t hi, const char *allowed,
              uint32_t *out)
{
    if (k->v == NULL)
        return true;
    const char *s = k->v;
    if (s[0] == '0' && s[1] == 'o')
        s += 2;
    uint32_t m = 0;
    size_t n = strspn(s, "01234567");
    if (n == 0 || s[n] != '\0')
        return refuse(k, allowed);
    for (; *s; s++) {
        m = m * 8 + (uint32_t)(*s - '0');
        if (m > hi)
            return refuse(k, allowed);
    }
    *out = m;
    return true;
}

/* clean_path removes "." and empty components and folds "x/.." of an
 * absolute path in place, like Go's filepath.Clean. The output never
 * runs ahead of the input, and a component is read before it is written. */
static void clean_path(char *p)
{
    char *out = p + 1, *s = p + 1;
    while (*s) {
        char *e = strchrnul(s, '/');
        size_t n = (size_t)(e - s);
        bool last = *e == '\0';
        if (n == 0 || (n == 1 && s[0] == '.')) {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (out > p + 1) {
                out--; /* the '/' after the last component */
                while (out > p + 1 && out[-1] != '/')
                    out--;
            }
        } else {
            memmove(out, s, n);
            out += n;
            *out++ = '/';
        }
        if (last)
            break;
        s = e + 1;
    }
    if (out > p + 1)
        out--;
    *out = '\0';
}

/* resolve returns v made absolute against the file's directory, cleaned,
 * malloc'd ("" stays ""). NULL when out of memory. */
static char *resolve(struct load *l, const char *v)
{
    char *p;
    if (*v == '\0' || *v == '/')
        p = strdup(v);
    else if (asprintf(&p, "%s/%s", l->dir, v) < 0)
        p = NULL;
    if (p == NULL)
        l->nomem = true;
    else if (*p == '/')
        clean_path(p);
    return p;
}

/* set_string replaces *dst with a copy of v (resolved when path). */
void set_string(struct load *l, char **dst, const char *v, bool path)
{
    char *s = path ? resolve(l, v) : strdup(v);
    if (s == NULL) {
        l->nomem = true;
        return;
    }
    free(*dst);
    *dst = s;
}

/* valid_listen: "HOST:PORT" with an IPv4 literal or a bracketed IPv6
 * literal and a port 1..65535 (0..65535 with port0). */
bool valid_address(const char *v, bool port0)
{
    char host[64];
    const char *port;
    unsigned char addr[16];
    if (v[0] == '[') {
        const char *end = strchr(v, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - v - 1) >= sizeof host)
            return false;
        memcpy(host, v + 1, (size_t)(end - v - 1));
        host[end - v - 1] = '\0';
        if (inet_pton(AF_INET6, host, addr) != 1)
            return false;
        port = end + 2;
    } else {
        const char *colon = strrchr(v, ':');
        if (colon == NULL || (size_t)(colon - v) >= sizeof host)
            return false;
        memcpy(host, v, (size_t)(colon - v));
        host[colon - v] = '\0';
        if (inet_pton(AF_INET, host, addr) != 1)
            return false;
        port = colon + 1;
    }
    uint64_t p;
    return parse_digits(&port, &p) == 0 && *port == '\0' &&
           p >= (port0 ? 0 : 1) && p <= 65535;
}

bool valid_listen(const char *v)
{
    return valid_address(v, false);
}

bool valid_name(const char *v)
{
    size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-");
    return n >= 1 && n <= 31 && v[n] == '\0';
}

