/*
 * config.c - the runtime's knobs.
 *
 * A program using goro_run configures the runtime through the environment;
 * the daemon fills the same runtimeconfig from its YAML file. Every value is
 * checked, and a bad one is refused with a message naming the variable, the
 * value and what is allowed: goro_run then returns -EINVAL.
 *
 *   GORO_PROCS                    Ps (threads running Gs at once); default:
 *                                 the CPUs this process may run on; 1..4096
 *   GORO_STACK_MIN_SIZE           starting stack; power of two, 2KiB..64KiB
 *   GORO_STACK_ORDERS             small stack sizes cached (min, 2*min, ...);
 *                                 1..8, default 4
 *   GORO_STACK_CACHE_SIZE         per-P cache per order; default 32KiB;
 *                                 a multiple of 4KiB, at least twice the
 *                                 largest small stack, at most 64MiB
 *   GORO_STACK_MAX_SIZE           largest stack a G may grow to; default 1GiB;
 *                                 from 64KiB to 64GiB
 *   GORO_STACK_NONSPLIT_HEADROOM  stack required before calling code built
 *                                 without -fsplit-stack (libc, ...); default
 *                                 16KiB; 4KiB..1MiB, a multiple of 16
 *   GORO_TIME_SLICE               a G running longer is preempted; default
 *                                 10ms; 0 (never) or 100us..10s
 *   GORO_ASYNC_PREEMPT            0: preempt only at function calls (loops
 *                                 that call nothing run on); default 1
 *
 *   GORO_STACK_SCAN_INTERVAL      how often parked Gs' stacks are scanned and
 *                                 shrunk; default 1s; 0 (never) or 1ms..1h
 *   GORO_STACK_NO_SHRINK          1: scans never shrink stacks; default 0
 *   GORO_STACK_DEBUG              0..4: log per stack, per copy, per word
 *                                 adjusted, per word read (stackDebug)
 *   GORO_STACK_POISON_COPY        1: fill new stacks with 0xfd before a copy
 *                                 and old ones with 0xfc before freeing
 *   GORO_STACK_FROM_SYSTEM        1: every stack its own mmap with a
 *                                 PROT_NONE guard page below it
 *   GORO_STACK_FAULT_ON_FREE      1: freed stacks are made no-access and
 *                                 never reused (implies FROM_SYSTEM)
 *   GORO_TRACEBACK                which stacks a crash, a fatal error and
 *                                 SIGQUIT print: none, single (default),
 *                                 all, crash (traceback.c)
 *   GORO_TRACE                    a file to write the execution trace of the
 *                                 whole run to (trace.c); default none
 *   GORO_SCHEDTRACE               INTERVAL or INTERVAL,detail: the
 *                                 scheduler's state on stderr every
 *                                 INTERVAL, 1ms..1h (schedtrace.c); off
 *
 * Sizes are bytes, or a number with K/KiB, M/MiB or G/GiB. Durations are a
 * number with ns, us, ms, s, m or h.
 */

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime2.h"

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

/* parse_size reads a byte count: digits, then optionally K, KiB, M, MiB,
 * G, GiB (powers of 1024) or B. Returns 0, or -EINVAL for anything else
 * (empty, sign, junk, overflow). */
int parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    if (parse_digits(&s, &v) != 0)
        return -EINVAL;
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"", 0},     {"B", 0},   {"K", 10}, {"KiB", 10},
                 {"M", 20},   {"MiB", 20}, {"G", 30}, {"GiB", 30}};
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

/* parse_duration reads a duration: digits and a unit (ns, us, ms, s, m,
 * h); "0" alone is accepted. Returns 0, or -EINVAL. */
int parse_duration(const char *s, int64_t *out)
{
    uint64_t v;
    if (parse_digits(&s, &v) != 0)
        return -EINVAL;
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {{"ns", 1},           {"us", 1000},
                 {"ms", 1000000},     {"s", 1000000000},
                 {"m", 60000000000},  {"h", 3600000000000}};
    if (*s == '\0' && v == 0) {
        *out = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(s, units[i].unit) == 0) {
            if (v > (uint64_t)INT64_MAX / units[i].ns)
                return -EINVAL;
            *out = (int64_t)(v * units[i].ns);
            return 0;
        }
    }
    return -EINVAL;
}

static bool ispow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static int bad(const char *name, const char *val, const char *allowed)
{
    print("goro: %s=%s: %s\n", name, val, allowed);
    return -EINVAL;
}

/* envint reads variable name, if set, as a whole number from lo to hi
 * (digits only). */
static int envint(const char *name, uint64_t *out, uint64_t lo, uint64_t hi,
                  const char *allowed)
{
    const char *v = getenv(name);
    if (v == NULL)
        return 0;
    const char *s = v;
    uint64_t x;
    if (parse_digits(&s, &x) != 0 || *s != '\0' || x < lo || x > hi)
        return bad(name, v, allowed);
    *out = x;
    return 0;
}

/* envbool reads a 0/1 variable into *out if it is set. */
static int envbool(const char *name, bool *out)
{
    const char *v = getenv(name);
    if (v == NULL)
        return 0;
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
        return bad(name, v, "not 0 or 1");
    *out = v[0] == '1';
    return 0;
}

/* envsize reads variable name into *out if it is set; checks range and
 * the extra condition. */
static int envsize(const char *name, uint64_t *out, uint64_t lo, uint64_t hi,
                   bool pow2, uint64_t multiple, const char *allowed)
{
    const char *v = getenv(name);
    if (v == NULL)
        return 0;
    uint64_t x;
    if (parse_size(v, &x) != 0 || x < lo || x > hi || (pow2 && !ispow2(x)) ||
        (multiple && x % multiple != 0))
        return bad(name, v, allowed);
    *out = x;
    return 0;
}

static int32_t ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

int runtimeconfig_fromenv(runtimeconfig *c)
{
    uint64_t procs = 0, min = 2048, orders = 4, cache = 32768,
             max = 1ull << 30, headroom = 16384;
    int err = envint("GORO_PROCS", &procs, 1, 4096,
                     "not a whole number from 1 to 4096");
    if (err == 0)
        err = envsize("GORO_STACK_MIN_SIZE", &min, 2048, 65536, true, 0,
                      "not a power of two between 2048 and 65536");
    if (err == 0)
        err = envint("GORO_STACK_ORDERS", &orders, 1, 8,
                     "not a whole number from 1 to 8");
    if (err == 0)
        err = envsize("GORO_STACK_CACHE_SIZE", &cache, 4096, 64ull << 20,
                      false, 4096,
                      "not a multiple of 4096 between 4KiB and 64MiB");
    if (err == 0 && cache < 2 * (min << (orders - 1))) {
        print("goro: GORO_STACK_CACHE_SIZE=%llu: must be at least twice the "
              "largest cached stack (%llu bytes)\n",
              (unsigned long long)cache,
              (unsigned long long)(min << (orders - 1)));
        return -EINVAL;
    }
    if (err == 0)
        err = envsize("GORO_STACK_MAX_SIZE", &max, 65536, 64ull << 30, false,
                      0, "not a size between 64KiB and 64GiB");
    if (err == 0)
        err = envsize("GORO_STACK_NONSPLIT_HEADROOM", &headroom, 4096,
                      1 << 20, false, 16,
                      "not a multiple of 16 between 4KiB and 1MiB");
    if (err != 0)
        return err;
    if (max < 2 * min) {
        print("goro: GORO_STACK_MAX_SIZE=%llu: must be at least twice "
              "GORO_STACK_MIN_SIZE (%llu)\n", (unsigned long long)max,
              (unsigned long long)min);
        return -EINVAL;
    }
    int64_t interval = 1000000000;
    const char *v = getenv("GORO_STACK_SCAN_INTERVAL");
    if (v != NULL && (parse_duration(v, &interval) != 0 ||
                      (interval != 0 && (interval < 1000000 ||
                                         interval > 3600000000000))))
        return bad("GORO_STACK_SCAN_INTERVAL", v,
                   "not 0 or a duration from 1ms to 1h (e.g. 500ms, 2s)");
    int64_t slice = 10000000;
    v = getenv("GORO_TIME_SLICE");
    if (v != NULL && (parse_duration(v, &slice) != 0 ||
                      (slice != 0 && (slice < 100000 ||
                                      slice > 10000000000))))
        return bad("GORO_TIME_SLICE", v,
                   "not 0 or a duration from 100us to 10s (e.g. 10ms)");
    bool noshrink = false, poison = false, fromsys = false, faultfree = false,
         async = true;
    if ((err = envbool("GORO_ASYNC_PREEMPT", &async)) != 0 ||
        (err = envbool("GORO_STACK_NO_SHRINK", &noshrink)) != 0 ||
        (err = envbool("GORO_STACK_POISON_COPY", &poison)) != 0 ||
        (err = envbool("GORO_STACK_FROM_SYSTEM", &fromsys)) != 0 ||
        (err = envbool("GORO_STACK_FAULT_ON_FREE", &faultfree)) != 0)
        return err;
    uint64_t debug = 0;
    if ((err = envint("GORO_STACK_DEBUG", &debug, 0, 4,
                      "not a whole number from 0 to 4")) != 0)
        return err;
    c->traceback = tracebackSingle;
    if ((v = getenv("GORO_TRACEBACK")) != NULL) {
        static const char *const levels[] = {"none", "single", "all", "crash"};
        int i = 0;
        while (i < 4 && strcmp(v, levels[i]) != 0)
            i++;
        if (i == 4)
            return bad("GORO_TRACEBACK", v, "not none, single, all or crash");
        c->traceback = i;
    }
    c->schedtrace_ns = 0;
    c->schedtrace_detail = false;
    if ((v = getenv("GORO_SCHEDTRACE")) != NULL && v[0] != '\0') {
        char iv[32];
        const char *comma = strchr(v, ',');
        size_t n = comma ? (size_t)(comma - v) : strlen(v);
        int64_t d = 0;
        if (n >= sizeof iv || (comma && strcmp(comma, ",detail") != 0))
            d = -1;
        else {
            memcpy(iv, v, n);
            iv[n] = '\0';
            if (parse_duration(iv, &d) != 0)
                d = -1;
        }
        if (d < 1000000 || d > 3600000000000)
            return bad("GORO_SCHEDTRACE", v,
                       "not a duration from 1ms to 1h, optionally followed "
                       "by \",detail\" (e.g. 1s, 500ms,detail)");
        c->schedtrace_ns = d;
        c->schedtrace_detail = comma != NULL;
    }
    c->trace_file = NULL;
    if ((v = getenv("GORO_TRACE")) != NULL && v[0] != '\0')
        c->trace_file = v;
    c->stack_debug = (int32_t)debug;
    c->poison_copy = poison;
    c->from_system = fromsys || faultfree;
    c->fault_on_free = faultfree;
    c->scan_interval_ns = interval;
    c->time_slice_ns = slice;
    c->async_preempt = async;
    c->no_shrink = noshrink;
    c->procs = procs ? (int32_t)procs : ncpu();
    c->stack_min = min;
    c->stack_orders = (int32_t)orders;
    c->stack_cache_size = cache;
    c->stack_max = max;
    c->nonsplit_headroom = headroom;
    return 0;
}
