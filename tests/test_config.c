/* test_config.c - the table of knobs (src/runtime/config.c) through the
 * public API: every knob's parsing and range by key and by environment,
 * with the messages gorod and goro_run print; the rules between keys; the
 * text of a value loading back; goro_run_config taking the struct and
 * nothing else; and README.md and config/gorod.yaml kept equal to the
 * table, and gorod.yaml's comments on gorod's own keys to gorod's table
 * (scripts/knobdoc.c, included here, which includes that). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "export_test.h"

#define KNOBDOC_LIB
#include "../scripts/knobdoc.c"

/* ---- the documents ----------------------------------------------------- */

/* A file of the tree: under GORO_SRCDIR (make test sets it), else here. */
static const char *srcpath(const char *name)
{
    static char path[4096];
    const char *dir = getenv("GORO_SRCDIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", name);
    return path;
}

static void expect_in_sync(const char *name)
{
    const char *path = srcpath(name);
    char *text = knobdoc_read(path);
    cr_assert_not_null(text, "%s cannot be read (run from the repository "
                       "root, or set GORO_SRCDIR)", path);
    const char *why = NULL;
    char *want = knobdoc_splice(path, text, &why);
    cr_assert_not_null(want, "%s: %s", path, why);
    /* The first line that differs, for the message. */
    const char *a = text, *b = want;
    int line = 1;
    while (*a && *a == *b) {
        line += *a == '\n';
        a++, b++;
    }
    cr_expect(strcmp(text, want) == 0,
              "%s:%d differs from the tables of keys (make knobdoc "
              "rewrites it): has \"%.60s\", the table says \"%.60s\"",
              name, line, a, b);
    free(text);
    free(want);
}

Test(config, readme_s_table_is_the_table_of_knobs)
{
    expect_in_sync("README.md");
}

Test(config, gorod_yaml_s_generated_parts_are_the_tables)
{
    expect_in_sync("config/gorod.yaml");
}

/* gorod.yaml's part of gorod's own keys: the comments are the table's,
 * the values the file's own (a key the part lacks is written at its
 * default); the runtime's part is the table's in both. */
Test(config, gorod_yaml_s_own_keys_keep_their_values_not_their_comments)
{
    const char *why = NULL;
    char *text = knobdoc_read(srcpath("config/gorod.yaml")), *want;
    cr_assert_not_null(text);
    char *v = strstr(text, "\nshutdown_timeout: 10s\n");
    cr_assert_not_null(v, "config/gorod.yaml has no shutdown_timeout: 10s");
    v[strlen("\nshutdown_timeout: ")] = '2';
    want = knobdoc_splice("config/gorod.yaml", text, &why);
    cr_assert_not_null(want, "%s", why);
    cr_expect_str_eq(want, text);
    free(want);

    char *doc = strstr(text, "# How long shutdown waits");
    cr_assert_not_null(doc);
    doc[2] = 'h';
    want = knobdoc_splice("config/gorod.yaml", text, &why);
    cr_assert_not_null(want, "%s", why);
    cr_expect(strstr(want, "\n# How long shutdown waits") != NULL &&
              strstr(want, "\nshutdown_timeout: 20s\n") != NULL, "%s", want);
    free(want);

    char *line = strstr(text, "\nshutdown_timeout: 20s\n");
    memmove(line, line + strlen("\nshutdown_timeout: 20s"),
            strlen(line + strlen("\nshutdown_timeout: 20s")) + 1);
    want = knobdoc_splice("config/gorod.yaml", text, &why);
    cr_assert_not_null(want, "%s", why);
    cr_expect(strstr(want, "\nshutdown_timeout: 10s\n") != NULL, "%s", want);
    free(want);

    char *orders = strstr(text, "\n  orders: 4\n");
    cr_assert_not_null(orders);
    orders[strlen("\n  orders: ")] = '5';
    want = knobdoc_splice("config/gorod.yaml", text, &why);
    cr_assert_not_null(want, "%s", why);
    cr_expect(strstr(want, "\n  orders: 4\n") != NULL, "%s", want);
    free(want);
    free(text);
}

Test(config, the_check_fails_when_a_document_drifts)
{
    char *want = NULL;
    const char *why = NULL;
    char *text = knobdoc_read(srcpath("README.md"));
    cr_assert_not_null(text);
    char *edit = strstr(text, "| `GORO_STACK_ORDERS` | `stack.orders` | 4 |");
    cr_assert_not_null(edit, "README.md has no row for GORO_STACK_ORDERS");
    edit[strlen("| `GORO_STACK_ORDERS` | `stack.orders` | ")] = '5';
    want = knobdoc_splice("README.md", text, &why);
    cr_assert_not_null(want);
    cr_expect_str_neq(text, want);
    cr_expect_null(knobdoc_splice("README.txt", text, &why));
    cr_expect_null(knobdoc_splice("x.md", "no markers\n", &why));
    free(want);
    free(text);
}

/* ---- the table --------------------------------------------------------- */

Test(config, every_default_is_allowed_and_reads_back_as_written)
{
    goro_config c;
    goro_config_default(&c);
    cr_expect_eq(c.set, 0);
    cr_expect_eq(goro_config_check(&c, NULL, 0), 0);
    const goro_knob *k;
    size_t n = 0;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++, n++) {
        char buf[64];
        cr_expect_eq(goro_config_get(&c, k->key, buf, sizeof buf), 0);
        cr_expect_str_eq(buf, k->def, "%s", k->key);
        goro_config d;
        goro_config_default(&d);
        cr_expect_eq(goro_config_set(&d, k->key, k->def, NULL), 0, "%s",
                     k->key);
        cr_expect(strncmp(k->env, "GORO_", 5) == 0, "%s", k->env);
        cr_expect(k->doc != NULL && k->doc[0] != '\0' && k->allowed != NULL,
                  "%s", k->key);
        /* The environment's default is the same value. */
        setenv(k->env, k->env_def, 1);
        goro_config e;
        goro_config_default(&e);
        cr_expect_eq(goro_config_from_env(&e, NULL), 0, "%s=%s", k->env,
                     k->env_def);
        unsetenv(k->env);
        e.set = e.set_by_env = 0;
        cr_expect(memcmp(&e, &c, sizeof c) == 0, "%s=%s is not the default",
                  k->env, k->env_def);
    }
    cr_expect_eq(n, 16);
    cr_expect_null(goro_config_knob(n));
}

Test(config, defaults_are_the_runtime_s)
{
    goro_config c;
    goro_config_default(&c);
    cr_expect_eq(c.procs, 0);
    cr_expect_eq(c.time_slice_ns, 10000000);
    cr_expect(c.async_preempt);
    cr_expect_eq(c.stack_min, 2048);
    cr_expect_eq(c.stack_max, 1ull << 30);
    cr_expect_eq(c.stack_orders, 4);
    cr_expect_eq(c.stack_cache_size, 32768);
    cr_expect_eq(c.nonsplit_headroom, 16384);
    cr_expect_eq(c.scan_interval_ns, 1000000000);
    cr_expect_eq(c.stack_debug, 0);
    cr_expect(!c.poison_copy && !c.from_system && !c.fault_on_free &&
              !c.no_shrink);
    cr_expect_eq(c.traceback, GORO_TRACEBACK_SINGLE);
}

/* One knob's edges: the values at its bounds (taken, and written back as
 * given), and values just past them or malformed (refused). */
struct edges {
    const char *key;
    const char *good[4];
    const char *bad[8];
};

static const struct edges edges[] = {
    {"sched.procs", {"0", "1", "4096"},
     {"4097", "-1", "+2", " 2", "2 ", "0x10", "4.0", "12abc"}},
    {"sched.time_slice", {"0", "100us", "10s", "10ms"},
     {"99us", "10001ms", "10", "1.5ms", "-1ms", "abc", "10 ms", "1d"}},
    {"sched.async_preempt", {"true", "false"},
     {"1", "0", "yes", "on", "maybe", "", "tRUE"}},
    {"stack.min_size", {"2KiB", "64KiB", "4KiB"},
     {"1KiB", "128KiB", "3000", "2KB", " 2KiB", "2kib", "0", "6KiB"}},
    {"stack.max_size", {"64KiB", "64GiB", "1GiB", "100000KiB"},
     {"32KiB", "65GiB", "99999999999999999999", "65535", "1TiB", "-1"}},
    {"stack.orders", {"1", "8"}, {"0", "9", "4B", "", "3 "}},
    {"stack.cache_size", {"4KiB", "64MiB", "12KiB"},
     {"5000", "128MiB", "0", "4095", "64MiB4"}},
    {"stack.non_split_headroom", {"4KiB", "1MiB", "4112"},
     {"4100", "2MiB", "4080", "1MiB16"}},
    {"stack.scan_interval", {"0", "1ms", "1h", "500ms"},
     {"500us", "2h", "61m", "5 seconds", "10"}},
    {"stack.debug", {"0", "4"}, {"5", "-1", "x"}},
    {"stack.poison_copy", {"true", "False", "TRUE"}, {"on", "1", "no"}},
    {"stack.from_system", {"false", "true"}, {"0", "yes"}},
    {"stack.fault_on_free", {"false", "true"}, {"yes", "1"}},
    {"stack.no_shrink", {"false", "true"}, {"truly", "0"}},
    {"traceback", {"none", "single", "all", "crash"},
     {"everything", "Single", "2", ""}},
};

static const goro_knob *knobof(const char *key)
{
    const goro_knob *k;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++)
        if (strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

/* The canonical text of v for key: as goro_config_get writes it. */
static void canon(const char *key, const char *v, char *out, size_t len)
{
    goro_config c;
    goro_config_default(&c);
    cr_assert_eq(goro_config_set(&c, key, v, NULL), 0, "%s: %s", key, v);
    cr_assert_eq(goro_config_get(&c, key, out, len), 0);
}

Test(config, every_knob_takes_its_bounds_and_refuses_past_them_by_key)
{
    cr_assert_eq(sizeof edges / sizeof edges[0], 15, "a knob has no edges");
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        const struct edges *e = &edges[i];
        const goro_knob *k = knobof(e->key);
        cr_assert_not_null(k, "%s", e->key);
        for (int j = 0; j < 4 && e->good[j]; j++) {
            goro_config c;
            goro_config_error err;
            goro_config_default(&c);
            cr_expect_eq(goro_config_set(&c, e->key, e->good[j], &err), 0,
                         "%s: %s refused: %s", e->key, e->good[j], err.msg);
            cr_expect_eq(c.set, c.set & -c.set, "one bit for %s", e->key);
            /* The text written back loads to the same value. */
            char buf[64], again[64];
            cr_expect_eq(goro_config_get(&c, e->key, buf, sizeof buf), 0);
            canon(e->key, buf, again, sizeof again);
            cr_expect_str_eq(again, buf);
        }
        for (int j = 0; j < 8 && e->bad[j]; j++) {
            goro_config c, before;
            goro_config_error err;
            goro_config_default(&c);
            before = c;
            cr_expect_eq(goro_config_set(&c, e->key, e->bad[j], &err),
                         -EINVAL, "%s: %s taken", e->key, e->bad[j]);
            cr_expect(memcmp(&c, &before, sizeof c) == 0,
                      "%s: %s changed the struct", e->key, e->bad[j]);
            char want[256];
            bool quote = e->bad[j][0] == '\0' || strchr(e->bad[j], ' ');
            snprintf(want, sizeof want, quote ? "%s: \"%s\" is not %s"
                                              : "%s: %s is not %s",
                     e->key, e->bad[j], k->allowed);
            cr_expect_str_eq(err.msg, want);
            cr_expect_str_eq(err.keys[0], e->key);
            cr_expect_null(err.keys[1]);
        }
    }
}

Test(config, every_knob_takes_its_bounds_and_refuses_past_them_in_the_environment)
{
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        const struct edges *e = &edges[i];
        const goro_knob *k = knobof(e->key);
        bool isbool = k->type == GORO_KNOB_BOOL;
        for (int j = 0; j < 4 && e->good[j]; j++) {
            /* Booleans are 0 and 1 there: the same value otherwise. */
            const char *v = e->good[j];
            if (isbool)
                v = strcasecmp(v, "true") == 0 ? "1" : "0";
            setenv(k->env, v, 1);
            goro_config c;
            goro_config_error err;
            goro_config_default(&c);
            cr_expect_eq(goro_config_from_env(&c, &err), 0, "%s=%s: %s",
                         k->env, v, err.msg);
            char got[64], want[64];
            goro_config_get(&c, e->key, got, sizeof got);
            canon(e->key, e->good[j], want, sizeof want);
            cr_expect_str_eq(got, want, "%s=%s", k->env, v);
            cr_expect_neq(c.set_by_env, 0);
        }
        for (int j = 0; j < 8 && e->bad[j]; j++) {
            const char *v = e->bad[j];
            if (isbool && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0))
                v = "true"; /* YAML's words are not the environment's */
            setenv(k->env, v, 1);
            goro_config c, before;
            goro_config_error err;
            goro_config_default(&c);
            before = c;
            cr_expect_eq(goro_config_from_env(&c, &err), -EINVAL, "%s=%s",
                         k->env, v);
            cr_expect(memcmp(&c, &before, sizeof c) == 0);
            char want[256];
            snprintf(want, sizeof want, "%s=%s: not %s", k->env, v,
                     k->env_allowed);
            cr_expect_str_eq(err.msg, want);
        }
        unsetenv(k->env);
    }
}

Test(config, the_messages_are_gorod_s_and_goro_run_s)
{
    goro_config c;
    goro_config_error err;
    goro_config_default(&c);
    cr_expect_eq(goro_config_set(&c, "stack.min_size", "3000", &err), -EINVAL);
    cr_expect_str_eq(err.msg, "stack.min_size: 3000 is not a power of two "
                     "between 2048 and 65536");
    cr_expect_eq(goro_config_set(&c, "sched.procs", "", &err), -EINVAL);
    cr_expect_str_eq(err.msg, "sched.procs: \"\" is not a whole number from "
                     "0 to 4096");
    cr_expect_eq(goro_config_set(&c, "sched.time_slice", "50us", &err),
                 -EINVAL);
    cr_expect_str_eq(err.msg, "sched.time_slice: 50us is not 0 or a duration "
                     "from 100us to 10s (e.g. 10ms)");
    cr_expect_eq(goro_config_set(&c, "stack.no_shrink", "truly", &err),
                 -EINVAL);
    cr_expect_str_eq(err.msg, "stack.no_shrink: truly is not true or false");
    cr_expect_eq(goro_config_set(&c, "sched.colour", "red", &err), -ENOENT);
    cr_expect_str_eq(err.msg, "sched.colour: unknown key");
    cr_expect_null(err.keys[0]);
    cr_expect_eq(goro_config_set(&c, "stack.orders", NULL, &err), -EINVAL);

    setenv("GORO_STACK_MIN_SIZE", "3000", 1);
    cr_expect_eq(goro_config_from_env(&c, &err), -EINVAL);
    cr_expect_str_eq(err.msg, "GORO_STACK_MIN_SIZE=3000: not a power of two "
                     "between 2048 and 65536");
    setenv("GORO_STACK_MIN_SIZE", "4KiB", 1);
    setenv("GORO_STACK_NO_SHRINK", "yes", 1);
    cr_expect_eq(goro_config_from_env(&c, &err), -EINVAL);
    cr_expect_str_eq(err.msg, "GORO_STACK_NO_SHRINK=yes: not 0 or 1");
}

/* The sizes and durations of the table, public for a program's own
 * settings (gorod's): each written in the largest unit that divides it,
 * and read back to the same value. */
Test(config, sizes_and_durations_format_as_they_parse)
{
    static const struct {
        bool duration;
        int64_t v;
        const char *text;
    } cases[] = {
        {false, 2048, "2KiB"},           {false, 1ll << 30, "1GiB"},
        {false, 3000, "3000"},           {false, 0, "0"},
        {false, 64ll << 30, "64GiB"},    {false, 3ll << 20, "3MiB"},
        {true, 10000000, "10ms"},        {true, 0, "0"},
        {true, 1500, "1500ns"},          {true, 3600000000000, "1h"},
        {true, 90000000000, "90s"},      {true, 100000, "100us"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ns = -1;
        uint64_t bytes = 1;
        int n = cases[i].duration
                    ? goro_format_duration(cases[i].v, buf, sizeof buf)
                    : goro_format_size((uint64_t)cases[i].v, buf, sizeof buf);
        cr_expect_eq(n, (int)strlen(cases[i].text));
        cr_expect_str_eq(buf, cases[i].text);
        int rc = cases[i].duration ? goro_parse_duration(buf, &ns)
                                   : goro_parse_size(buf, &bytes);
        cr_expect_eq(rc, 0, "%s", buf);
        cr_expect_eq(cases[i].duration ? ns : (int64_t)bytes, cases[i].v,
                     "%s", buf);
    }
    uint64_t v = 7;
    int64_t ns = 7;
    cr_expect_eq(goro_parse_size("2KB", &v), -EINVAL);
    cr_expect_eq(goro_parse_duration("10", &ns), -EINVAL);
    cr_expect(v == 7 && ns == 7, "a refused text leaves *out as it was");
}

Test(config, fault_on_free_implies_from_system)
{
    goro_config c;
    goro_config_default(&c);
    cr_assert_eq(goro_config_set(&c, "stack.fault_on_free", "true", NULL), 0);
    cr_expect(c.fault_on_free && c.from_system);
    goro_config_default(&c);
    setenv("GORO_STACK_FAULT_ON_FREE", "1", 1);
    cr_assert_eq(goro_config_from_env(&c, NULL), 0);
    cr_expect(c.fault_on_free && c.from_system);
}

Test(config, the_environment_goes_over_what_the_program_set)
{
    goro_config c;
    goro_config_default(&c);
    cr_assert_eq(goro_config_set(&c, "stack.orders", "2", NULL), 0);
    cr_assert_eq(goro_config_set(&c, "stack.debug", "1", NULL), 0);
    setenv("GORO_STACK_ORDERS", "6", 1);
    cr_assert_eq(goro_config_from_env(&c, NULL), 0);
    cr_expect_eq(c.stack_orders, 6);
    cr_expect_eq(c.stack_debug, 1);
    cr_expect_eq(c.set_by_env, 1ull << 6); /* the table's seventh row */
    cr_expect_str_eq(goro_config_knob(6)->key, "stack.orders");
}

/* ---- the rules between keys -------------------------------------------- */

/* check sets the pairs of keys and values in order and returns
 * goro_config_check's first message ("" when every rule holds). */
static const char *check(const char *const *kv, goro_config_error *err)
{
    static goro_config_error e[4];
    goro_config c;
    goro_config_default(&c);
    for (; kv[0] != NULL; kv += 2)
        cr_assert_eq(goro_config_set(&c, kv[0], kv[1], NULL), 0, "%s: %s",
                     kv[0], kv[1]);
    int rc = goro_config_check(&c, e, 4);
    cr_expect_eq(rc, e[0].msg[0] ? -EINVAL : 0);
    if (err)
        *err = e[0];
    return e[0].msg;
}

Test(config, the_rules_between_keys_read_as_gorod_s)
{
    goro_config_error err;
    cr_expect_str_eq(check((const char *[]){"stack.max_size", "64KiB",
                                            "stack.cache_size", "128KiB",
                                            "stack.min_size", "64KiB",
                                            "stack.orders", "1", NULL},
                           &err),
                     "stack.max_size: 64KiB is not at least twice "
                     "stack.min_size (64KiB)");
    cr_expect_str_eq(err.keys[0], "stack.max_size");
    cr_expect_str_eq(err.keys[1], "stack.min_size");
    cr_expect_null(err.keys[2]);
    cr_expect_str_eq(check((const char *[]){"stack.min_size", "64KiB", NULL},
                           &err),
                     "stack.cache_size: 32KiB (the default) is not at least "
                     "1MiB, twice the largest cached stack (stack.min_size "
                     "<< (stack.orders - 1) = 512KiB)");
    cr_expect_str_eq(err.keys[2], "stack.orders");
    cr_expect_str_eq(check((const char *[]){"stack.cache_size", "16KiB",
                                            "stack.orders", "3",
                                            "stack.min_size", "4KiB", NULL},
                           NULL),
                     "stack.cache_size: 16KiB is not at least 32KiB, twice "
                     "the largest cached stack (stack.min_size << "
                     "(stack.orders - 1) = 16KiB)");
    cr_expect_str_eq(check((const char *[]){"stack.cache_size", "64KiB",
                                            "stack.orders", "3",
                                            "stack.min_size", "8KiB", NULL},
                           NULL),
                     "");
    cr_expect_str_eq(check((const char *[]){"stack.max_size", "128KiB",
                                            "stack.min_size", "64KiB",
                                            "stack.orders", "1",
                                            "stack.cache_size", "128KiB",
                                            NULL},
                           NULL),
                     "");
}

Test(config, every_broken_rule_and_value_is_reported)
{
    goro_config c;
    goro_config_error e[4];
    goro_config_default(&c);
    c.stack_min = 65536;
    c.stack_max = 65536;
    c.stack_orders = 9; /* written directly: the check still sees it */
    cr_expect_eq(goro_config_check(&c, e, 4), -EINVAL);
    cr_expect_str_eq(e[0].msg, "stack.orders: 9 is not a whole number from 1 "
                     "to 8");
    /* Not set by key, but not the default either: no "(the default)". */
    cr_expect_str_eq(e[1].msg, "stack.max_size: 64KiB is not at least twice "
                     "stack.min_size (64KiB)");
    /* The cache rule reads stack.orders, which is refused: no guess. */
    cr_expect_str_eq(e[2].msg, "");
    cr_expect_eq(goro_config_check(&c, e, 1), -EINVAL);
    c.stack_orders = 4;
    c.time_slice_ns = -1;
    cr_expect_eq(goro_config_check(&c, e, 4), -EINVAL);
    cr_expect_str_eq(e[0].msg, "sched.time_slice: -1ns is not 0 or a duration "
                     "from 100us to 10s (e.g. 10ms)");
}

Test(config, a_rule_about_the_environment_names_its_variables)
{
    setenv("GORO_STACK_MIN_SIZE", "64KiB", 1);
    setenv("GORO_STACK_MAX_SIZE", "64KiB", 1);
    setenv("GORO_STACK_CACHE_SIZE", "1MiB", 1);
    goro_config c;
    goro_config_error e[2];
    goro_config_default(&c);
    cr_assert_eq(goro_config_from_env(&c, NULL), 0);
    cr_expect_eq(goro_config_check(&c, e, 2), -EINVAL);
    cr_expect_str_eq(e[0].msg, "GORO_STACK_MAX_SIZE=64KiB: not at least twice "
                     "GORO_STACK_MIN_SIZE (64KiB)");
}

/* ---- goro_run_config ---------------------------------------------------- */

static uintptr_t ran_stack, ran_min;
static int32_t ran_procs;

static void record(void *arg)
{
    (void)arg;
    ran_stack = test_stacksize();
    ran_min = rtconf.stack_min;
    ran_procs = rtconf.procs;
}

Test(config, goro_run_config_takes_the_struct_and_not_the_environment,
     .timeout = 30)
{
    setenv("GORO_STACK_MIN_SIZE", "16KiB", 1);
    setenv("GORO_PROCS", "3", 1);
    goro_config c;
    goro_config_default(&c);
    cr_assert_eq(goro_config_set(&c, "stack.min_size", "4KiB", NULL), 0);
    cr_assert_eq(goro_config_set(&c, "stack.cache_size", "64KiB", NULL), 0);
    cr_assert_eq(goro_config_set(&c, "sched.procs", "2", NULL), 0);
    cr_assert_eq(goro_run_config(&c, record, NULL), 0);
    cr_expect_eq(ran_min, 4096);
    cr_expect_geq(ran_stack, 4096);
    cr_expect_eq(ran_procs, 2);
}

Test(config, zero_procs_are_the_cpus, .timeout = 30)
{
    goro_config c;
    goro_config_default(&c);
    setenv("GORO_PROCS", "0", 1);
    cr_assert_eq(goro_config_from_env(&c, NULL), 0);
    cr_assert_eq(goro_run_config(&c, record, NULL), 0);
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    cr_expect_eq(ran_procs, CPU_COUNT(&set));
}

Test(config, a_refused_struct_starts_nothing_and_may_be_fixed,
     .init = cr_redirect_stderr, .timeout = 30)
{
    goro_config c;
    goro_config_default(&c);
    c.stack_min = 3000;
    cr_expect_eq(goro_run_config(&c, record, NULL), -EINVAL);
    cr_expect_eq(goro_run_config(NULL, record, NULL), -EINVAL);
    fflush(stderr);
    cr_expect_stderr_eq_str("goro: stack.min_size: 3000 is not a power of two "
                            "between 2048 and 65536\n");
    c.stack_min = 4096;
    c.stack_orders = 3;
    c.procs = 1;
    cr_expect_eq(goro_run_config(&c, record, NULL), 0);
    cr_expect_eq(ran_min, 4096);
}
