/*
 * config.c - the runtime's knobs: one table, read by everything.
 *
 * Each knob is one row of knobs[] below, in the manner of Redis's
 * standardConfig: its key (as gorod.yaml spells it), its GORO_* variable,
 * its type, its default (as text, parsed like any value), the values
 * allowed (bounds and flags, and the words that say so in a message), a
 * rule between it and other keys where there is one, and one line of
 * documentation. Everything that deals with a knob reads the row:
 *
 *   goro_config_default      the defaults (by parsing each row's text);
 *   goro_config_set          a key and a text: gorod's YAML values, and any
 *                            program's own;
 *   goro_config_from_env     the GORO_* variables (goro_run);
 *   goro_config_check        every value and the rules between keys, for
 *                            a struct a program may have written itself;
 *   goro_config_get          a value as text that loads back (gorod's
 *                            printer);
 *   goro_config_knob         the rows themselves, from which README.md's
 *                            table and gorod.yaml's comments are written
 *                            (scripts/knobdoc.c; tests/test_config.c fails
 *                            when they drift).
 *   goro_parse_size, goro_parse_duration, goro_format_size,
 *   goro_format_duration     the texts of sizes and durations, public so
 *                            that a program's own settings (gorod's) read
 *                            and print as the knobs do.
 *
 * Two spellings of a message, one set of facts: a value given by key is
 * refused as gorod has always printed it, "stack.min_size: 3000 is not a
 * power of two between 2048 and 65536"; one from the environment as goro_run
 * has, "GORO_STACK_MIN_SIZE=3000: not a power of two between 2048 and
 * 65536". Booleans are true/false by key (YAML's words) and 0/1 in the
 * environment; nothing else differs.
 *
 * The parsers are strict: digits only (no sign, blank, base prefix or
 * fraction), a unit spelled exactly, nothing after it, no overflow. A value
 * refused leaves the struct as it was.
 *
 * Rejected: a parser and a range check per knob written out in code (the
 * runtime and gorod each had theirs, and they drifted); bounds derived from
 * the words of the message or the other way round (the messages are an
 * interface: tests and operators' scripts match them, and "between 2048 and
 * 65536" against "between 4KiB and 64MiB" is not a pattern worth
 * generating); defaults kept as numbers beside a text to print (two facts
 * that may disagree).
 *
 * These functions touch only the struct given (and the environment), so
 * they may be called from any thread or G, before or after goro_run_config.
 */

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime2.h"
#include "show.h"

_Static_assert(GORO_TRACEBACK_NONE == tracebackNone &&
                   GORO_TRACEBACK_SINGLE == tracebackSingle &&
                   GORO_TRACEBACK_ALL == tracebackAll &&
                   GORO_TRACEBACK_CRASH == tracebackCrash,
               "GORO_TRACEBACK_* and traceback.c's levels");

/* ---- the parsers ----------------------------------------------------------- */

/* parse_digits reads one or more decimal digits at *sp into *v and
 * advances *sp past them. Returns -EINVAL for no digit (a sign or a blank
 * included) or a value past 2^64. */
static int parse_digits(const char **sp, uint64_t *v)
{
    const char *s = *sp;
    if (s == NULL || *s < '0' || *s > '9')
        return -EINVAL;
    uint64_t x = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -EINVAL;
        x = x * 10 + d;
        s++;
    }
    *v = x;
    *sp = s;
    return 0;
}

/* goro_parse_size reads a byte count: digits, then optionally K, KiB, M,
 * MiB, G, GiB (powers of 1024) or B. Returns 0, or -EINVAL for anything
 * else (empty, sign, junk, overflow). */
int goro_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"", 0},    {"B", 0},    {"K", 10}, {"KiB", 10},
                 {"M", 20},  {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    uint64_t v;
    if (parse_digits(&s, &v) != 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s, units[i].suffix) == 0) {
            if (v > (UINT64_MAX >> units[i].shift))
                return -EINVAL;
            *out = v << units[i].shift;
            return 0;
        }
    }
    return -EINVAL;
}

/* A duration's units, largest first (goro_format_duration writes the
 * first that divides). */
static const struct {
    const char *unit;
    int64_t ns;
} durunits[] = {{"h", 3600000000000}, {"m", 60000000000}, {"s", 1000000000},
                {"ms", 1000000},      {"us", 1000},       {"ns", 1}};

/* goro_parse_duration reads a duration: digits and a unit (ns, us, ms, s,
 * m, h); "0" alone is accepted. Returns 0, or -EINVAL. */
int goro_parse_duration(const char *s, int64_t *out)
{
    uint64_t v;
    if (parse_digits(&s, &v) != 0)
        return -EINVAL;
    if (*s == '\0' && v == 0) {
        *out = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof durunits / sizeof durunits[0]; i++) {
        if (strcmp(s, durunits[i].unit) == 0) {
            if (v > (uint64_t)(INT64_MAX / durunits[i].ns))
                return -EINVAL;
            *out = (int64_t)v * durunits[i].ns;
            return 0;
        }
    }
    return -EINVAL;
}

/* goro_format_size writes bytes in the largest unit that divides them:
 * 2KiB, 1GiB, 3000. */
int goro_format_size(uint64_t v, char *buf, size_t len)
{
    static const char *const unit[] = {"GiB", "MiB", "KiB"};
    for (int i = 0; i < 3; i++) {
        int shift = 30 - 10 * i;
        if (v != 0 && v % (1ull << shift) == 0)
            return snprintf(buf, len, "%llu%s",
                            (unsigned long long)(v >> shift), unit[i]);
    }
    return snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* goro_format_duration writes ns in the largest unit that divides it:
 * 10ms, 5s, 0. */
int goro_format_duration(int64_t ns, char *buf, size_t len)
{
    if (ns == 0)
        return snprintf(buf, len, "0");
    size_t i = 0;
    while (ns % durunits[i].ns != 0)
        i++;
    return snprintf(buf, len, "%lld%s", (long long)(ns / durunits[i].ns),
                    durunits[i].unit);
}

/* ---- the table ------------------------------------------------------------- */

/* Flags of a row. */
enum {
    fPow2 = 1,  /* a power of two */
    fZero = 2,  /* 0 too, outside lo..hi (durations: 0 is "never") */
};

static const char *const tracebacknames[] = {"none", "single", "all", "crash",
                                             NULL};

typedef struct knob {
    goro_knob pub;
    size_t off;          /* the field in goro_config */
    size_t width;        /* its size: 1 (bool), 4 or 8 */
    uint64_t lo, hi;     /* bounds, inclusive (enums: the names' count) */
    uint64_t multiple;   /* 0, or the value must be a multiple of it */
    int flags;           /* f* */
    const char *const *names; /* an enum's, NULL-terminated */
    size_t implies;      /* a bool that turns true with this one, or 0 */
} knob;

#define FIELD(f) offsetof(goro_config, f), sizeof(((goro_config *)0)->f)
#define ROWR(key, env, type, def, allowed, envdef, envallowed, rule, doc) \
    {key, env, type, def, allowed, envdef, envallowed, rule, doc}
#define ROW(key, env, type, def, allowed, envdef, envallowed, doc) \
    ROWR(key, env, type, def, allowed, envdef, envallowed, NULL, doc)
#define NUMBER(key, env, f, def, lo, hi, allowed, doc) \
    {ROW(key, env, GORO_KNOB_NUMBER, def, allowed, def, allowed, doc), \
     FIELD(f), lo, hi, 0, 0, NULL, 0}
#define SIZE(key, env, f, def, lo, hi, mult, flags, allowed, rule, doc) \
    {ROWR(key, env, GORO_KNOB_SIZE, def, allowed, def, allowed, rule, doc), \
     FIELD(f), lo, hi, mult, flags, NULL, 0}
#define DURATION(key, env, f, def, lo, hi, flags, allowed, doc) \
    {ROW(key, env, GORO_KNOB_DURATION, def, allowed, def, allowed, doc), \
     FIELD(f), lo, hi, 0, flags, NULL, 0}
#define BOOLIMPLIES(key, env, f, def, implied, doc) \
    {ROW(key, env, GORO_KNOB_BOOL, (def) ? "true" : "false", \
         "true or false", (def) ? "1" : "0", "0 or 1", doc), \
     FIELD(f), 0, 1, 0, 0, NULL, implied}
#define BOOL(key, env, f, def, doc) BOOLIMPLIES(key, env, f, def, 0, doc)
#define ENUM(key, env, f, def, names, allowed, doc) \
    {ROW(key, env, GORO_KNOB_ENUM, def, allowed, def, allowed, doc), \
     FIELD(f), 0, sizeof(names) / sizeof(names[0]) - 2, 0, 0, names, 0}

/* The knobs, in the order gorod.yaml and README.md list them. A row's
 * index is its bit in goro_config.set. */
static const knob knobs[] = {
    NUMBER("sched.procs", "GORO_PROCS", procs, "0", 0, 4096,
           "a whole number from 0 to 4096",
           "Ps: threads running Gs at once; 0: the CPUs this process may "
           "run on."),
    DURATION("sched.time_slice", "GORO_TIME_SLICE", time_slice_ns, "10ms",
             100000, 10000000000, fZero,
             "0 or a duration from 100us to 10s (e.g. 10ms)",
             "A G running longer is preempted; 0: never."),
    BOOL("sched.async_preempt", "GORO_ASYNC_PREEMPT", async_preempt, true,
         "Stop a G in a loop that calls nothing by a signal; off: only at "
         "function calls."),
        DURATION("sched.stall_report", "GORO_STALL_REPORT", stall_report_ns,
             "0", 1000000, 3600000000000, fZero,
             "0 or a duration from 1ms to 1h (e.g. 100ms)",
             "Print the stack of a G that has held its P this long in code "
             "that cannot be preempted (libc, a library), once per stall; "
             "0: never."),
    SIZE("stack.min_size", "GORO_STACK_MIN_SIZE", stack_min, "2KiB", 2048,
         65536, 0, fPow2, "a power of two between 2048 and 65536", NULL,
         "A G's first stack."),
    SIZE("stack.max_size", "GORO_STACK_MAX_SIZE", stack_max, "1GiB", 65536,
         64ull << 30, 0, 0, "a size between 64KiB and 64GiB",
         "at least twice stack.min_size",
         "The largest stack a G may grow to; beyond it a G stops the "
         "process with a diagnostic."),
    NUMBER("stack.orders", "GORO_STACK_ORDERS", stack_orders, "4", 1, 8,
           "a whole number from 1 to 8",
           "How many small stack sizes are cached: min_size, 2*min_size, "
           "..."),
    SIZE("stack.cache_size", "GORO_STACK_CACHE_SIZE", stack_cache_size,
         "32KiB", 4096, 64ull << 20, 4096, 0,
         "a multiple of 4096 between 4KiB and 64MiB",
         "at least twice the largest cached stack (stack.min_size << "
         "(stack.orders - 1))",
         "Each P's cache of stacks, per size."),
    SIZE("stack.non_split_headroom", "GORO_STACK_NONSPLIT_HEADROOM",
         nonsplit_headroom, "16KiB", 4096, 1 << 20, 16, 0,
         "a multiple of 16 between 4KiB and 1MiB", NULL,
         "Stack required before calling code built without -fsplit-stack "
         "(libc, ...)."),
    DURATION("stack.scan_interval", "GORO_STACK_SCAN_INTERVAL",
             scan_interval_ns, "1s", 1000000, 3600000000000, fZero,
             "0 or a duration from 1ms to 1h (e.g. 500ms, 2s)",
             "How often parked Gs' stacks are shrunk and idle dead Gs' "
             "stacks freed; 0: never (goro_stack_scan() runs one now)."),
    NUMBER("stack.debug", "GORO_STACK_DEBUG", stack_debug, "0", 0, 4,
           "a whole number from 0 to 4",
           "Log stack allocations and copies (1), each word adjusted (3), "
           "each word read (4)."),
    BOOL("stack.poison_copy", "GORO_STACK_POISON_COPY", poison_copy, false,
         "Fill new stacks with 0xfd before a copy and old ones with 0xfc "
         "before freeing them."),
    BOOL("stack.from_system", "GORO_STACK_FROM_SYSTEM", from_system, false,
         "Every stack its own mapping with a no-access guard page below "
         "it."),
    BOOLIMPLIES("stack.fault_on_free", "GORO_STACK_FAULT_ON_FREE",
         fault_on_free, false, offsetof(goro_config, from_system),
         "Freed stacks become no-access and are never reused (a stale "
         "pointer into a moved stack faults); implies from_system."),
    BOOL("stack.no_shrink", "GORO_STACK_NO_SHRINK", no_shrink, false,
         "Scans never shrink stacks."),
    ENUM("traceback", "GORO_TRACEBACK", traceback, "single", tracebacknames,
         "none, single, all or crash",
         "Which stacks a crash, a fatal error and SIGQUIT print, as Go's "
         "GOTRACEBACK."),
};

#define NKNOBS (sizeof knobs / sizeof knobs[0])
_Static_assert(NKNOBS <= 64, "goro_config.set has 64 bits");

enum {
    kProcs, kTimeSlice, kAsyncPreempt, kStallReport, kMin, kMax, kOrders, kCache,
    kHeadroom, kScanInterval, kDebug, kPoison, kFromSystem, kFaultOnFree,
    kNoShrink, kTraceback,
};

/* The rules between keys. Each is about its subject (the key whose
 * message it is, and whose row's rule says it in words) and holds only
 * when every key it reads has a value allowed on its own. */
typedef struct rule {
    int subject;
    int keys[3];         /* the others it reads; -1 after the last */
    /* broken writes the message's tail after "is not " (names by name())
     * and returns true when the rule does not hold. */
    bool (*broken)(const goro_config *c, bool env, char *buf, size_t len);
} rule;

static const char *name(int k, bool env)
{
    return env ? knobs[k].pub.env : knobs[k].pub.key;
}

static bool maxrule(const goro_config *c, bool env, char *buf, size_t len)
{
    char a[32];
    goro_format_size(c->stack_min, a, sizeof a);
    snprintf(buf, len, "at least twice %s (%s)", name(kMin, env), a);
    return c->stack_max < 2 * c->stack_min;
}

static bool cacherule(const goro_config *c, bool env, char *buf, size_t len)
{
    uint64_t largest = (uint64_t)c->stack_min << (c->stack_orders - 1);
    char a[32], b[32];
    goro_format_size(2 * largest, a, sizeof a);
    goro_format_size(largest, b, sizeof b);
    snprintf(buf, len, "at least %s, twice the largest cached stack (%s << "
             "(%s - 1) = %s)", a, name(kMin, env), name(kOrders, env), b);
    return c->stack_cache_size < 2 * largest;
}

static const rule rules[] = {
    {kMax, {kMin, -1}, maxrule},
    {kCache, {kMin, kOrders, -1}, cacherule},
};

/* ---- values ------------------------------------------------------------------ */

static uint64_t getfield(const goro_config *c, const knob *k)
{
    const char *p = (const char *)c + k->off;
    switch (k->width) {
    case 1:
        return *(const bool *)p;
    case 4:
        return (uint64_t)*(const int32_t *)p;
    default:
        return *(const uint64_t *)p;
    }
}

static void setfield(goro_config *c, const knob *k, uint64_t v)
{
    char *p = (char *)c + k->off;
    switch (k->width) {
    case 1:
        *(bool *)p = v != 0;
        break;
    case 4:
        *(int32_t *)p = (int32_t)v;
        break;
    default:
        *(uint64_t *)p = v;
        break;
    }
}

/* allowed says whether v is one of k's values. v is read from a field that
 * a program may have written: an int32_t below 0 arrives huge, a duration
 * below 0 too, and both are refused. */
static bool allowed(const knob *k, uint64_t v)
{
    if (v == 0 && (k->flags & fZero))
        return true;
    if (v < k->lo || v > k->hi)
        return false;
    if ((k->flags & fPow2) && (v & (v - 1)) != 0)
        return false;
    return k->multiple == 0 || v % k->multiple == 0;
}

/* parse reads text s as k's value; env selects the environment's booleans.
 * 0 or -EINVAL. */
static int parse(const knob *k, const char *s, bool env, uint64_t *v)
{
    int64_t d;
    switch (k->pub.type) {
    case GORO_KNOB_NUMBER:
        if (parse_digits(&s, v) != 0 || *s != '\0')
            return -EINVAL;
        break;
    case GORO_KNOB_SIZE:
        if (goro_parse_size(s, v) != 0)
            return -EINVAL;
        break;
    case GORO_KNOB_DURATION:
        if (goro_parse_duration(s, &d) != 0)
            return -EINVAL;
        *v = (uint64_t)d;
        break;
    case GORO_KNOB_BOOL: {
        /* YAML 1.2's core-schema booleans by key; 0 and 1 in the
         * environment, as C programs' flags are. */
        static const char *const yes[] = {"true", "True", "TRUE", NULL};
        static const char *const no[] = {"false", "False", "FALSE", NULL};
        static const char *const one[] = {"1", NULL}, *const zero[] = {"0", NULL};
        const char *const *t = env ? one : yes, *const *f = env ? zero : no;
        for (*v = 2; *v == 2 && *t != NULL; t++)
            if (strcmp(s, *t) == 0)
                *v = 1;
        for (; *v == 2 && *f != NULL; f++)
            if (strcmp(s, *f) == 0)
                *v = 0;
        if (*v == 2)
            return -EINVAL;
        break;
    }
    case GORO_KNOB_ENUM:
        for (*v = 0; k->names[*v] != NULL; (*v)++)
            if (strcmp(s, k->names[*v]) == 0)
                break;
        if (k->names[*v] == NULL)
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    return allowed(k, *v) ? 0 : -EINVAL;
}

/* format writes v as k's text (by key: booleans true or false). Returns
 * snprintf's count. */
static int format(const knob *k, uint64_t v, char *buf, size_t len)
{
    switch (k->pub.type) {
    case GORO_KNOB_SIZE:
        return goro_format_size(v, buf, len);
    case GORO_KNOB_DURATION:
        return goro_format_duration((int64_t)v, buf, len);
    case GORO_KNOB_BOOL:
        return snprintf(buf, len, "%s", v ? "true" : "false");
    case GORO_KNOB_ENUM:
        /* A number a program wrote past the names is shown as one. */
        if (v <= k->hi)
            return snprintf(buf, len, "%s", k->names[v]);
        return snprintf(buf, len, "%lld", (long long)(int64_t)v);
    default:
        return snprintf(buf, len, "%lld", (long long)(int64_t)v);
    }
}

static void assign(goro_config *c, int i, uint64_t v)
{
    setfield(c, &knobs[i], v);
    if (knobs[i].implies != 0 && v != 0)
        *(bool *)((char *)c + knobs[i].implies) = true;
}

static int lookup(const char *key)
{
    for (size_t i = 0; key != NULL && i < NKNOBS; i++)
        if (strcmp(key, knobs[i].pub.key) == 0)
            return (int)i;
    return -1;
}


static void seterr(goro_config_error *err, int k0, int k1, int k2,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void seterr(goro_config_error *err, int k0, int k1, int k2,
                   const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    int ks[3] = {k0, k1, k2}, n = 0;
    for (int i = 0; i < 3; i++)
        if (ks[i] >= 0)
            err->keys[n++] = knobs[ks[i]].pub.key;
    while (n < 4)
        err->keys[n++] = NULL;
}

/* ---- the API ------------------------------------------------------------------ */

void goro_config_default(goro_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKNOBS; i++) {
        uint64_t v = 0;
        /* The defaults are the table's text; tests/test_config.c proves
         * each one parses and is allowed. */
        parse(&knobs[i], knobs[i].pub.def, false, &v);
        assign(cfg, (int)i, v);
    }
}

int goro_config_set(goro_config *cfg, const char *key, const char *value,
                    goro_config_error *err)
{
    int i = lookup(key);
    char buf[128];
    if (i < 0) {
        seterr(err, -1, -1, -1, "%s: unknown key",
               show(key ? key : "", buf, sizeof buf));
        return -ENOENT;
    }
    uint64_t v;
    if (value == NULL || parse(&knobs[i], value, false, &v) != 0) {
        seterr(err, i, -1, -1, "%s: %s is not %s", knobs[i].pub.key,
               show(value ? value : "", buf, sizeof buf),
               knobs[i].pub.allowed);
        return -EINVAL;
    }
    assign(cfg, i, v);
    cfg->set |= 1ull << i;
    cfg->set_by_env &= ~(1ull << i);
    return 0;
}

int goro_config_from_env(goro_config *cfg, goro_config_error *err)
{
    for (size_t i = 0; i < NKNOBS; i++) {
        const knob *k = &knobs[i];
        const char *s = getenv(k->pub.env);
        uint64_t v;
        if (s == NULL)
            continue;
        if (parse(k, s, true, &v) != 0) {
            seterr(err, (int)i, -1, -1, "%s=%s: not %s", k->pub.env, s,
                   k->pub.env_allowed);
            return -EINVAL;
        }
        assign(cfg, (int)i, v);
        cfg->set |= 1ull << i;
        cfg->set_by_env |= 1ull << i;
    }
    return 0;
}

int goro_config_check(const goro_config *cfg, goro_config_error *err,
                      size_t nerr)
{
    size_t n = 0;
    uint64_t bad = 0;
    char a[40], tail[160];
    for (size_t i = 0; i < NKNOBS; i++) {
        const knob *k = &knobs[i];
        uint64_t v = getfield(cfg, k);
        if (allowed(k, v))
            continue;
        bad |= 1ull << i;
        format(k, v, a, sizeof a);
        if (n < nerr)
            seterr(&err[n], (int)i, -1, -1, "%s: %s is not %s", k->pub.key, a,
                   k->pub.allowed);
        n++;
    }
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        const rule *ru = &rules[r];
        uint64_t keys = 1ull << ru->subject;
        for (int j = 0; j < 3 && ru->keys[j] >= 0; j++)
            keys |= 1ull << ru->keys[j];
        if (keys & bad)
            continue;
        /* A rule about a value from the environment names the variables,
         * as the value's own message would. */
        bool env = (cfg->set_by_env & keys) != 0;
        if (!ru->broken(cfg, env, tail, sizeof tail))
            continue;
        /* "(the default)": the key was not set, so the value is not in
         * the file or the environment the reader looks at. */
        const knob *k = &knobs[ru->subject];
        uint64_t v = getfield(cfg, k), dv = 0;
        parse(k, k->pub.def, false, &dv);
        const char *def =
            !(cfg->set & (1ull << ru->subject)) && v == dv ? " (the default)"
                                                           : "";
        format(k, v, a, sizeof a);
        if (n < nerr) {
            if (env)
                seterr(&err[n], ru->subject, ru->keys[0], ru->keys[1],
                       "%s=%s%s: not %s", k->pub.env, a, def, tail);
            else
                seterr(&err[n], ru->subject, ru->keys[0], ru->keys[1],
                       "%s: %s%s is not %s", k->pub.key, a, def, tail);
        }
        n++;
    }
    if (n < nerr)
        seterr(&err[n], -1, -1, -1, "%s", "");
    return n == 0 ? 0 : -EINVAL;
}

int goro_config_get(const goro_config *cfg, const char *key, char *buf,
                    size_t len)
{
    int i = lookup(key);
    if (i < 0)
        return -ENOENT;
    int n = format(&knobs[i], getfield(cfg, &knobs[i]), buf, len);
    return n >= 0 && (size_t)n < len ? 0 : -ERANGE;
}

const goro_knob *goro_config_knob(size_t i)
{
    if (i >= NKNOBS)
        return NULL;
    const knob *k = &knobs[i];
    return &k->pub;
}

/* ---- the runtime's copy ----------------------------------------------------- */

static int32_t ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

int rtconfinit(const goro_config *cfg)
{
    goro_config_error errs[4];
    if (goro_config_check(cfg, errs, 4) != 0) {
        for (int i = 0; i < 4 && errs[i].msg[0] != '\0'; i++)
            print("goro: %s\n", errs[i].msg);
        return -EINVAL;
    }
    rtconf = *cfg;
    if (rtconf.procs == 0)
        rtconf.procs = ncpu();
    rtconf.from_system |= rtconf.fault_on_free;
    return 0;
}

int goro_run(goro_fn main_fn, void *arg)
{
    goro_config cfg;
    goro_config_error err;
    goro_config_default(&cfg);
    if (goro_config_from_env(&cfg, &err) != 0) {
        print("goro: %s\n", err.msg);
        return -EINVAL;
    }
    return goro_run_config(&cfg, main_fn, arg);
}

/* ---- debugging switches -------------------------------------------------
 * GORO_TRACE and GORO_SCHEDTRACE are read from the environment by every
 * start, goro_run and goro_run_config alike (as Go reads GODEBUG): they
 * switch on what a person debugging a process wants to see, not knobs a
 * program or gorod.yaml sets, so they are not rows of the table. */

int debugconfig_fromenv(debugconfig *d)
{
    d->schedtrace_ns = 0;
    d->schedtrace_detail = false;
    const char *v = getenv("GORO_SCHEDTRACE");
    if (v != NULL && v[0] != '\0') {
        char iv[32];
        const char *comma = strchr(v, ',');
        size_t n = comma ? (size_t)(comma - v) : strlen(v);
        int64_t dur = 0;
        if (n >= sizeof iv || (comma && strcmp(comma, ",detail") != 0))
            dur = -1;
        else {
            memcpy(iv, v, n);
            iv[n] = '\0';
            if (goro_parse_duration(iv, &dur) != 0)
                dur = -1;
        }
        if (dur < 1000000 || dur > 3600000000000) {
            print("goro: GORO_SCHEDTRACE=%s: not a duration from 1ms to 1h, "
                  "optionally followed by \",detail\" (e.g. 1s, "
                  "500ms,detail)\n", v);
            return -EINVAL;
        }
        d->schedtrace_ns = dur;
        d->schedtrace_detail = comma != NULL;
    }
    d->trace_file = NULL;
    if ((v = getenv("GORO_TRACE")) != NULL && v[0] != '\0')
        d->trace_file = v;
    return 0;
}
