/*
 * test_config.c - the daemon's configuration, through the real daemon:
 * `gorod --check --config FILE` exits 1 with one message per line on
 * stderr for a bad file, and 0 with the effective configuration on stdout
 * for a good one. That printed configuration must load again and print
 * identically.
 *
 * Each bad file is written as c.yaml into a scratch directory and checked
 * from there, so that the messages start "c.yaml:LINE:".
 */
#include <limits.h>

#include <goro.h>

#include "cfgutil.h"
#include "config.h" /* gorod_key_at */

#define TOP "sched, stack, traceback, log, admin, metrics, status_interval, " \
            "shutdown_timeout, listeners, plugins"
#define SCHED "procs, time_slice, async_preempt, stall_report"
#define STACK "min_size, max_size, orders, cache_size, non_split_headroom, " \
              "scan_interval, debug, poison_copy, from_system, " \
              "fault_on_free, no_shrink"
#define PLUGIN "name, path, args, stack, fixed_stack_size, enabled"
#define LISTENER "name, address, backlog"
#define NOTLISTEN "is not \"\" or HOST:PORT with an IPv4 address or a " \
                  "[bracketed] IPv6 address and a port from 1 to 65535"

/* A file and exactly what gorod must say about it (without the last
 * newline). */
struct bad {
    const char *yaml, *msg;
};

static const struct bad bad[] = {
    /* What libcyaml alone would have let through. */
    {"sched:\n  procs: 12abc\n",
     "c.yaml:2: sched.procs: 12abc is not a whole number from 0 to 4096"},
    {"sched:\n  procs: -5\n",
     "c.yaml:2: sched.procs: -5 is not a whole number from 0 to 4096"},
    {"sched:\n  async_preempt: maybe\n",
     "c.yaml:2: sched.async_preempt: maybe is not true or false"},
    {"", "c.yaml: empty configuration (no YAML document)"},
    {"# nothing but a comment\n\n",
     "c.yaml: empty configuration (no YAML document)"},
    {"---\n", "c.yaml: empty configuration (an empty YAML document)"},

    /* The shape of the file. */
    {"- sched\n- stack\n",
     "c.yaml:1: a list is not a mapping of sections (" TOP ")"},
    {"hello\n", "c.yaml:1: hello is not a mapping of sections (" TOP ")"},
    {"sched: 4\n",
     "c.yaml:1: sched: 4 is not a mapping (keys: " SCHED ")"},
    {"stack: [1, 2]\n",
     "c.yaml:1: stack: a list is not a mapping (keys: " STACK ")"},
    {"sched:\n  procs: [1]\n",
     "c.yaml:2: sched.procs: a list is not a single value"},
    {"status_interval: {s: 1}\n",
     "c.yaml:1: status_interval: a mapping is not a single value"},
    {"plugins: {name: echo}\n", "c.yaml:1: plugins: a mapping is not a list"},
    {"plugins:\n  - echo\n",
     "c.yaml:2: plugins[0]: echo is not a mapping (keys: " PLUGIN ")"},
    {"listeners:\n  - {name: web, address: \"localhost:80\"}\n",
     "c.yaml:2: listeners[0].address: localhost:80 is not HOST:PORT with an "
     "IPv4 address or a [bracketed] IPv6 address and a port from 0 to 65535"},
    {"listeners:\n  - name: web\n",
     "c.yaml:2: listeners[0]: address missing (every listener needs a name "
     "and an address)"},
    {"listeners:\n  - {name: web, address: \"127.0.0.1:80\"}\n"
     "  - {name: web, address: \"[::1]:80\", backlog: lots}\n",
     "c.yaml:3: listeners[1].name: web is not unique (listeners[0] on line 2 "
     "has it too)\n"
     "c.yaml:3: listeners[1].backlog: lots is not a whole number from 0 to "
     "65535"},
    {"listeners:\n  - {name: web, port: 80}\n",
     "c.yaml:2: listeners[0].port: unknown key (allowed: " LISTENER ")\n"
     "c.yaml:2: listeners[0]: address missing (every listener needs a name "
     "and an address)"},
    {"bogus: 1\n",
     "c.yaml:1: bogus: unknown key (allowed: " TOP ")"},
    {"sched:\n  procs: 1\n  Procs: 2\n",
     "c.yaml:3: sched.Procs: unknown key (allowed: " SCHED ")"},
    {"plugins:\n  - name: a\n    path: a.so\n    argv: x\n",
     "c.yaml:4: plugins[0].argv: unknown key (allowed: " PLUGIN ")"},
    {"sched:\n  procs: 1\n  procs: 2\n",
     "c.yaml:3: sched.procs: duplicate key (first on line 2)"},
    {"log:\n  level: info\nlog:\n  level: warn\n",
     "c.yaml:3: log: duplicate key (first on line 1)"},
    {"x: &n 4\nsched:\n  procs: *n\n",
     "c.yaml:1: x: unknown key (allowed: " TOP ")\n"
     "c.yaml:3: sched.procs: an alias (*n) is not allowed"},
    {"sched: {}\n---\nstack: {}\n",
     "c.yaml:2: a second YAML document is not allowed"},
    {"? [a]\n: 1\n", "c.yaml:1: a list is not allowed as a key"},
    {"sched:\n  procs: \"1\\0\"\n",
     "c.yaml:2: sched.procs: a value holding a NUL byte (\\0) is not "
     "allowed"},

    /* Syntax errors, with the line libyaml found them on. */
    {"sched:\n  procs: 1\n  time_slice: [10ms\n",
     "c.yaml:3: sched.time_slice: a list is not a single value\n"
     "c.yaml:4: syntax error: did not find expected ',' or ']' (while "
     "parsing a flow sequence on line 3)"},
    {"sched:\n  procs: 1\n  time_slice: \"\xff\"\n",
     "c.yaml:3: syntax error: invalid leading UTF-8 octet"},
    {"sched:\n\tprocs: 1\n",
     "c.yaml:2: syntax error: found character that cannot start any token "
     "(while scanning for the next token on line 2)"},
    {"sched:\n  procs: 1\n time_slice: 1ms\n",
     "c.yaml:3: syntax error: did not find expected key (while parsing a "
     "block mapping on line 1)"},

    /* sched */
    {"sched:\n  procs: 4097\n",
     "c.yaml:2: sched.procs: 4097 is not a whole number from 0 to 4096"},
    {"sched:\n  procs: 4.0\n",
     "c.yaml:2: sched.procs: 4.0 is not a whole number from 0 to 4096"},
    {"sched:\n  procs: 0x10\n",
     "c.yaml:2: sched.procs: 0x10 is not a whole number from 0 to 4096"},
    {"sched:\n  procs:\n",
     "c.yaml:2: sched.procs: \"\" is not a whole number from 0 to 4096"},
    {"sched:\n  time_slice: 50us\n",
     "c.yaml:2: sched.time_slice: 50us is not 0 or a duration from 100us "
     "to 10s (e.g. 10ms)"},
    {"sched:\n  time_slice: 10\n",
     "c.yaml:2: sched.time_slice: 10 is not 0 or a duration from 100us to "
     "10s (e.g. 10ms)"},
    {"sched:\n  time_slice: 1.5ms\n",
     "c.yaml:2: sched.time_slice: 1.5ms is not 0 or a duration from 100us "
     "to 10s (e.g. 10ms)"},
    {"sched:\n  stall_report: 500us\n",
     "c.yaml:2: sched.stall_report: 500us is not 0 or a duration from 1ms "
     "to 1h (e.g. 100ms)"},
    {"sched:\n  async_preempt: yes\n",
     "c.yaml:2: sched.async_preempt: yes is not true or false"},
    {"sched:\n  async_preempt: 1\n",
     "c.yaml:2: sched.async_preempt: 1 is not true or false"},

    /* stack */
    {"stack:\n  min_size: 3000\n",
     "c.yaml:2: stack.min_size: 3000 is not a power of two between 2048 "
     "and 65536"},
    {"stack:\n  min_size: 1KiB\n",
     "c.yaml:2: stack.min_size: 1KiB is not a power of two between 2048 "
     "and 65536"},
    {"stack:\n  min_size: 2KB\n",
     "c.yaml:2: stack.min_size: 2KB is not a power of two between 2048 "
     "and 65536"},
    {"stack:\n  min_size: \" 2KiB\"\n",
     "c.yaml:2: stack.min_size: \" 2KiB\" is not a power of two between "
     "2048 and 65536"},
    {"stack:\n  max_size: 32KiB\n",
     "c.yaml:2: stack.max_size: 32KiB is not a size between 64KiB and "
     "64GiB"},
    {"stack:\n  max_size: 65GiB\n",
     "c.yaml:2: stack.max_size: 65GiB is not a size between 64KiB and "
     "64GiB"},
    {"stack:\n  max_size: 99999999999999999999\n",
     "c.yaml:2: stack.max_size: 99999999999999999999 is not a size between "
     "64KiB and 64GiB"},
    {"stack:\n  orders: 0\n",
     "c.yaml:2: stack.orders: 0 is not a whole number from 1 to 8"},
    {"stack:\n  orders: 9\n",
     "c.yaml:2: stack.orders: 9 is not a whole number from 1 to 8"},
    {"stack:\n  cache_size: 5000\n",
     "c.yaml:2: stack.cache_size: 5000 is not a multiple of 4096 between "
     "4KiB and 64MiB"},
    {"stack:\n  cache_size: 128MiB\n",
     "c.yaml:2: stack.cache_size: 128MiB is not a multiple of 4096 between "
     "4KiB and 64MiB"},
    {"stack:\n  non_split_headroom: 4100\n",
     "c.yaml:2: stack.non_split_headroom: 4100 is not a multiple of 16 "
     "between 4KiB and 1MiB"},
    {"stack:\n  non_split_headroom: 2MiB\n",
     "c.yaml:2: stack.non_split_headroom: 2MiB is not a multiple of 16 "
     "between 4KiB and 1MiB"},
    {"stack:\n  scan_interval: 500us\n",
     "c.yaml:2: stack.scan_interval: 500us is not 0 or a duration from 1ms "
     "to 1h (e.g. 500ms, 2s)"},
    {"stack:\n  scan_interval: 2h\n",
     "c.yaml:2: stack.scan_interval: 2h is not 0 or a duration from 1ms to "
     "1h (e.g. 500ms, 2s)"},
    {"stack:\n  debug: 5\n",
     "c.yaml:2: stack.debug: 5 is not a whole number from 0 to 4"},
    {"stack:\n  poison_copy: on\n",
     "c.yaml:2: stack.poison_copy: on is not true or false"},
    {"stack:\n  from_system: 0\n",
     "c.yaml:2: stack.from_system: 0 is not true or false"},
    {"stack:\n  fault_on_free: yes\n",
     "c.yaml:2: stack.fault_on_free: yes is not true or false"},
    {"stack:\n  no_shrink: truly\n",
     "c.yaml:2: stack.no_shrink: truly is not true or false"},

    /* traceback, the runtime's knob outside a section */
    {"traceback: full\n",
     "c.yaml:1: traceback: full is not none, single, all or crash"},

    /* Rules between keys: the line of the later key; a default named. */
    {"stack:\n  max_size: 64KiB\n  cache_size: 128KiB\n  min_size: 64KiB\n"
     "  orders: 1\n",
     "c.yaml:4: stack.max_size: 64KiB is not at least twice stack.min_size "
     "(64KiB)"},
    {"stack:\n  min_size: 64KiB\n",
     "c.yaml:2: stack.cache_size: 32KiB (the default) is not at least "
     "1MiB, twice the largest cached stack (stack.min_size << "
     "(stack.orders - 1) = 512KiB)"},
    {"stack:\n  cache_size: 16KiB\n  orders: 3\n  min_size: 4KiB\n",
     "c.yaml:4: stack.cache_size: 16KiB is not at least 32KiB, twice the "
     "largest cached stack (stack.min_size << (stack.orders - 1) = "
     "16KiB)"},

    /* log, admin, metrics and the durations at the top */
    {"log:\n  level: loud\n",
     "c.yaml:2: log.level: loud is not one of error, warn, info, debug"},
    {"log:\n  level: INFO\n",
     "c.yaml:2: log.level: INFO is not one of error, warn, info, debug"},
    {"log:\n  target: \"\"\n",
     "c.yaml:2: log.target: \"\" is not stderr, syslog or a file path"},
    {"admin:\n  mode: 0999\n",
     "c.yaml:2: admin.mode: 0999 is not an octal mode from 0 to 0777"},
    {"admin:\n  mode: 01000\n",
     "c.yaml:2: admin.mode: 01000 is not an octal mode from 0 to 0777"},
    {"admin:\n  mode: rw-rw----\n",
     "c.yaml:2: admin.mode: rw-rw---- is not an octal mode from 0 to 0777"},
    {"admin:\n  mode: -0660\n",
     "c.yaml:2: admin.mode: -0660 is not an octal mode from 0 to 0777"},
    {"admin:\n  socket: /" /* 1 + 109 bytes */
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     "c.yaml:2: admin.socket: /" /* the first 80 bytes */
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaa... is not a socket path of at most 107 bytes once resolved"},
    {"metrics:\n  listen: localhost:9464\n",
     "c.yaml:2: metrics.listen: localhost:9464 " NOTLISTEN},
    {"metrics:\n  listen: 127.0.0.1\n",
     "c.yaml:2: metrics.listen: 127.0.0.1 " NOTLISTEN},
    {"metrics:\n  listen: 127.0.0.1:0\n",
     "c.yaml:2: metrics.listen: 127.0.0.1:0 " NOTLISTEN},
    {"metrics:\n  listen: 127.0.0.1:65536\n",
     "c.yaml:2: metrics.listen: 127.0.0.1:65536 " NOTLISTEN},
    {"metrics:\n  listen: \"::1:9464\"\n",
     "c.yaml:2: metrics.listen: ::1:9464 " NOTLISTEN},
    {"metrics:\n  listen: \"[::1]:http\"\n",
     "c.yaml:2: metrics.listen: [::1]:http " NOTLISTEN},
    {"status_interval: 500ms\n",
     "c.yaml:1: status_interval: 500ms is not 0 or a duration from 1s to "
     "1h"},
    {"shutdown_timeout: 0\n",
     "c.yaml:1: shutdown_timeout: 0 is not a duration from 100ms to 10m"},
    {"shutdown_timeout: 11m\n",
     "c.yaml:1: shutdown_timeout: 11m is not a duration from 100ms to 10m"},

    /* plugins */
    {"plugins:\n  - name: a\n",
     "c.yaml:2: plugins[0]: path missing (every plugin needs a name and a "
     "path)"},
    {"plugins:\n  - path: a.so\n",
     "c.yaml:2: plugins[0]: name missing (every plugin needs a name and a "
     "path)"},
    {"plugins:\n  - args: x\n",
     "c.yaml:2: plugins[0]: name and path missing (every plugin needs a "
     "name and a path)"},
    {"plugins:\n  - name: my plugin\n    path: a.so\n",
     "c.yaml:2: plugins[0].name: \"my plugin\" is not 1 to 31 letters, "
     "digits, '_' or '-'"},
    {"plugins:\n  - name: abcdefghijklmnopqrstuvwxyz012345\n    path: a.so\n",
     "c.yaml:2: plugins[0].name: abcdefghijklmnopqrstuvwxyz012345 is not 1 "
     "to 31 letters, digits, '_' or '-'"},
    {"plugins:\n  - name: a\n    path: a.so\n  - name: b\n    path: b.so\n"
     "  - name: a\n    path: c.so\n",
     "c.yaml:6: plugins[2].name: a is not unique (plugins[0] on line 2 has "
     "it too)"},
    {"plugins:\n  - name: a\n    path: \"\"\n",
     "c.yaml:3: plugins[0].path: \"\" is not the path of a shared object"},
    {"plugins:\n  - name: a\n    path: a.so\n    stack: moving\n",
     "c.yaml:4: plugins[0].stack: moving is not copy or fixed"},
    {"plugins:\n  - name: a\n    path: a.so\n    fixed_stack_size: 16KiB\n",
     "c.yaml:4: plugins[0].fixed_stack_size: 16KiB is not a multiple of "
     "4096 between 32KiB and 1GiB"},
    {"plugins:\n  - name: a\n    path: a.so\n    fixed_stack_size: 33000\n",
     "c.yaml:4: plugins[0].fixed_stack_size: 33000 is not a multiple of "
     "4096 between 32KiB and 1GiB"},
    /* args: a string, or a mapping of keys to single values. */
    {"plugins:\n  - name: a\n    path: a.so\n    args: [port, 7007]\n",
     "c.yaml:4: plugins[0].args: a list is not a string or a mapping of keys "
     "to single values ({port: 7007})"},
    {"plugins:\n  - name: a\n    path: a.so\n    args: {port: [1, 2]}\n",
     "c.yaml:4: plugins[0].args.port: a list is not a single value (a "
     "string, a number, true or false)"},
    {"plugins:\n  - name: a\n    path: a.so\n    args:\n      port: 1\n"
     "      tls: {cert: x}\n",
     "c.yaml:6: plugins[0].args.tls: a mapping is not a single value (a "
     "string, a number, true or false)"},
    {"plugins:\n  - name: a\n    path: a.so\n    args:\n      port: 1\n"
     "      port: 2\n",
     "c.yaml:6: plugins[0].args.port: duplicate key (first on line 5)"},
    {"plugins:\n  - name: a\n    path: a.so\n    args: {\"the port\": 1}\n",
     "c.yaml:4: plugins[0].args: \"the port\" is not a key of 1 to 63 "
     "letters, digits, '_', '-' or '.'"},
    {"plugins:\n  - name: a\n    path: a.so\n    args:\n"
     "      banner: \"a\\nb\"\n",
     "c.yaml:5: plugins[0].args.banner: \"a\\x0ab\" is not a value without "
     "control characters (tabs, newlines)"},
    {"plugins:\n  - name: a\n    path: a.so\n    args: &x {port: 1}\n"
     "  - name: b\n    path: b.so\n    args: {port: *x}\n",
     "c.yaml:7: plugins[1].args.port: an alias (*x) is not allowed"},
    {"plugins:\n  - name: a\n    path: a.so\n    enabled: no\n",
     "c.yaml:4: plugins[0].enabled: no is not true or false"},

    /* Every error found, in the order of the file's lines. */
    {"plugins:\n  - name: a\n    path: a.so\n    enabled: maybe\n"
     "sched:\n  procs: many\n  colour: blue\nstack:\n  orders: 0\n",
     "c.yaml:4: plugins[0].enabled: maybe is not true or false\n"
     "c.yaml:6: sched.procs: many is not a whole number from 0 to 4096\n"
     "c.yaml:7: sched.colour: unknown key (allowed: " SCHED ")\n"
     "c.yaml:9: stack.orders: 0 is not a whole number from 1 to 8"},
};

Test(config, bad_files_are_refused_with_exact_messages, .timeout = 60)
{
    char *dir = cfg_tmpdir();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        free(cfg_write(dir, "c.yaml", bad[i].yaml));
        struct cfg_run r = cfg_check(dir, "c.yaml");
        char *want;
        cr_assert(asprintf(&want, "%s\n", bad[i].msg) > 0);
        cr_expect_eq(r.status, 1, "case %zu (%s): exit status %d", i,
                     bad[i].msg, r.status);
        cr_expect_str_eq(r.err, want, "case %zu: stderr\n%s\nnot\n%s", i,
                         r.err, want);
        cr_expect_str_empty(r.out, "case %zu: stdout\n%s", i, r.out);
        free(want);
        cfg_run_free(&r);
    }
    cfg_rmtree(dir);
}

Test(config, messages_name_the_file_as_given, .timeout = 10)
{
    char *dir = cfg_tmpdir();
    char *path = cfg_write(dir, "sub/x.yaml", "sched:\n  procs: -1\n");
    struct cfg_run r = cfg_check("/", path);
    char *want;
    cr_assert(asprintf(&want, "%s:2: sched.procs: -1 is not a whole number "
                              "from 0 to 4096\n", path) > 0);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, want);
    r = (cfg_run_free(&r), cfg_check(dir, "sub/../sub/x.yaml"));
    cr_expect_str_eq(r.err, "sub/../sub/x.yaml:2: sched.procs: -1 is not a "
                            "whole number from 0 to 4096\n");
    cfg_run_free(&r);
    free(want);
    free(path);
    cfg_rmtree(dir);
}

Test(config, a_missing_file_is_refused, .timeout = 10)
{
    struct cfg_run r = cfg_check("/", "/nonexistent/gorod.yaml");
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "/nonexistent/gorod.yaml: cannot open: No such "
                            "file or directory\n");
    cfg_run_free(&r);
}

Test(config, past_twenty_errors_the_rest_are_counted, .timeout = 10)
{
    char *dir = cfg_tmpdir(), yaml[2048] = "", want[4096] = "";
    for (int i = 1; i <= 25; i++) {
        snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml),
                 "k%d: 1\n", i);
        if (i <= 20)
            snprintf(want + strlen(want), sizeof want - strlen(want),
                     "c.yaml:%d: k%d: unknown key (allowed: " TOP ")\n", i,
                     i);
    }
    strcat(want, "c.yaml: 5 more errors not shown\n");
    free(cfg_write(dir, "c.yaml", yaml));
    struct cfg_run r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, want);
    cfg_run_free(&r);
    cfg_rmtree(dir);
}

/* check_prints_again writes what gorod printed for a good file into another
 * directory, checks it there and expects the very same output. */
static void check_prints_again(const char *dir, const char *printed)
{
    char *again = cfg_write(dir, "again/printed.yaml", printed);
    struct cfg_run r = cfg_check("/", again);
    cr_expect_eq(r.status, 0, "the printed configuration: %s", r.err);
    cr_expect_str_eq(r.out, printed, "printed again:\n%s\nfirst:\n%s", r.out,
                     printed);
    cfg_run_free(&r);
    free(again);
}

/* The whole printed configuration with every default; %s is the socket. */
#define DEFAULTS_HEAD \
    "sched:\n  procs: 0\n  time_slice: 10ms\n  async_preempt: true\n" \
    "  stall_report: 0\n" \
    "stack:\n  min_size: 2KiB\n  max_size: 1GiB\n  orders: 4\n" \
    "  cache_size: 32KiB\n  non_split_headroom: 16KiB\n" \
    "  scan_interval: 1s\n  debug: 0\n  poison_copy: false\n" \
    "  from_system: false\n  fault_on_free: false\n  no_shrink: false\n" \
    "traceback: single\n" \
    "log:\n  level: info\n  target: \"stderr\"\n"
#define DEFAULTS_TAIL \
    "metrics:\n  listen: \"127.0.0.1:9464\"\nstatus_interval: 5s\n" \
    "shutdown_timeout: 10s\n"

Test(config, every_key_has_a_default, .timeout = 10)
{
    static const char *const files[] = {
        "{}\n",
        "# every section empty or absent\nsched:\nstack:\nlog: {}\nadmin:\n"
        "metrics:\nplugins:\n",
        "plugins: []\n",
    };
    char *dir = cfg_tmpdir();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        free(cfg_write(dir, "c.yaml", files[i]));
        struct cfg_run r = cfg_check(dir, "c.yaml");
        cr_expect_eq(r.status, 0, "file %zu: %s", i, r.err);
        cr_expect_str_empty(r.err);
        cr_expect_str_eq(r.out,
                         DEFAULTS_HEAD "admin:\n  socket: "
                         "\"/run/gorod/gorod.sock\"\n  mode: 0660\n"
                         DEFAULTS_TAIL "listeners: []\nplugins: []\n");
        check_prints_again(dir, r.out);
        cfg_run_free(&r);
    }
    cfg_rmtree(dir);
}

Test(config, every_key_is_read_and_printed_back, .timeout = 10)
{
    char *dir = cfg_tmpdir();
    char *rdir = realpath(dir, NULL);
    free(cfg_write(dir, "etc/c.yaml",
                   "sched:\n  procs: \"16\"\n  time_slice: 500us\n"
                   "  async_preempt: False\n  stall_report: 250ms\n"
                   "stack: {min_size: 4096, max_size: 65536M, orders: 8,\n"
                   "        cache_size: 2048K, non_split_headroom: 32784B,\n"
                   "        scan_interval: 0, debug: 4, poison_copy: TRUE,\n"
                   "        from_system: true, fault_on_free: true,\n"
                   "        no_shrink: true}\n"
                   "traceback: crash\n"
                   "log:\n  level: debug\n  target: ../log/./gorod.log\n"
                   "admin:\n  socket: run//g.sock\n  mode: 0o600\n"
                   "metrics:\n  listen: \"[::1]:9100\"\n"
                   "status_interval: 0\nshutdown_timeout: 90s\n"
                   "listeners:\n  - name: web\n    address: \"[::]:0\"\n"
                   "    backlog: 16\n  - {name: x_1, address: 10.0.0.1:8}\n"
                   "plugins:\n"
                   "  - name: Echo_1\n    path: /opt/p/echo.so\n"
                   "    args: 'say \"hi\"\\ there\tand tab'\n"
                   "    stack: fixed\n    fixed_stack_size: 1GiB\n"
                   "    enabled: false\n"
                   "  - {name: b-2, path: ../plugins/b.so}\n"));
    char *cfg;
    cr_assert(asprintf(&cfg, "%s/etc/c.yaml", dir) > 0);
    struct cfg_run r = cfg_check("/", cfg);
    char *want;
    cr_assert(asprintf(&want,
        "sched:\n  procs: 16\n  time_slice: 500us\n  async_preempt: false\n"
        "  stall_report: 250ms\n"
        "stack:\n  min_size: 4KiB\n  max_size: 64GiB\n  orders: 8\n"
        "  cache_size: 2MiB\n  non_split_headroom: 32784\n"
        "  scan_interval: 0\n  debug: 4\n  poison_copy: true\n"
        "  from_system: true\n  fault_on_free: true\n  no_shrink: true\n"
        "traceback: crash\n"
        "log:\n  level: debug\n  target: \"%s/log/gorod.log\"\n"
        "admin:\n  socket: \"%s/etc/run/g.sock\"\n  mode: 0600\n"
        "metrics:\n  listen: \"[::1]:9100\"\n"
        "status_interval: 0\nshutdown_timeout: 90s\n"
        "listeners:\n  - name: web\n    address: \"[::]:0\"\n"
        "    backlog: 16\n  - name: x_1\n    address: \"10.0.0.1:8\"\n"
        "    backlog: 0\n"
        "plugins:\n"
        "  - name: Echo_1\n    path: \"/opt/p/echo.so\"\n"
        "    args: \"say \\\"hi\\\"\\\\ there\\tand tab\"\n"
        "    stack: fixed\n    fixed_stack_size: 1GiB\n    enabled: false\n"
        "  - name: b-2\n    path: \"%s/plugins/b.so\"\n    args: \"\"\n"
        "    stack: copy\n    fixed_stack_size: 256KiB\n    enabled: true\n",
        rdir, rdir, rdir) > 0);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, want);
    check_prints_again(dir, r.out);
    cfg_run_free(&r);
    free(want);
    free(cfg);
    free(rdir);
    cfg_rmtree(dir);
}

/* knob_yaml writes key: value as YAML: "sched.procs" under its section
 * sched, "traceback" at the top. */
static void knob_yaml(char *buf, size_t len, const char *key,
                      const char *value)
{
    const char *dot = strchr(key, '.');
    if (dot == NULL)
        snprintf(buf, len, "%s: %s\n", key, value);
    else
        snprintf(buf, len, "%.*s:\n  %s: %s\n", (int)(dot - key), key,
                 dot + 1, value);
}

/* Every knob of the runtime's table is a key of gorod.yaml, under the
 * table's key, without gorod knowing it by name: its default is taken
 * and printed back on the line knob_yaml wrote, and a value refused gets
 * goro_config_set's own message after "c.yaml:LINE: ". */
/* A plugin's args as a mapping: each pair checked and kept, printed back
 * as a mapping that loads to the same pairs; start() gets them as
 * "key=value" words (the daemon tests see them arrive). */
Test(config, plugin_args_as_a_mapping_print_back_as_one, .timeout = 10)
{
    char *dir = cfg_tmpdir();
    free(cfg_write(dir, "c.yaml",
                   "plugins:\n"
                   "  - name: a\n    path: /p/a.so\n"
                   "    args:\n      port: 7007\n      greeting: hello world\n"
                   "      tls: true\n      'x.y-z_1': \"\"\n"
                   "  - {name: b, path: /p/b.so, args: {}}\n"));
    struct cfg_run r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "    args: {\"port\": \"7007\", \"greeting\": "
                            "\"hello world\", \"tls\": \"true\", "
                            "\"x.y-z_1\": \"\"}\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "    args: {}\n") != NULL, "%s", r.out);
    check_prints_again(dir, r.out);
    cfg_run_free(&r);
    cfg_rmtree(dir);
}

Test(config, every_knob_of_the_runtime_is_a_key, .timeout = 60)
{
    char *dir = cfg_tmpdir();
    const goro_knob *k;
    size_t i;
    for (i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        char yaml[256];
        knob_yaml(yaml, sizeof yaml, k->key, k->def);
        free(cfg_write(dir, "c.yaml", yaml));
        struct cfg_run r = cfg_check(dir, "c.yaml");
        cr_expect_eq(r.status, 0, "%s: %s", k->key, r.err);
        const char *line = strchr(yaml, '\n') + 1;
        cr_expect(strstr(r.out, *line ? line : yaml) != NULL,
                  "%s: no line %s in\n%s", k->key, yaml, r.out);
        cfg_run_free(&r);

        goro_config cfg;
        goro_config_error err;
        goro_config_default(&cfg);
        cr_assert_neq(goro_config_set(&cfg, k->key, "?", &err), 0);
        knob_yaml(yaml, sizeof yaml, k->key, "\"?\"");
        free(cfg_write(dir, "c.yaml", yaml));
        r = cfg_check(dir, "c.yaml");
        char *want;
        cr_assert(asprintf(&want, "c.yaml:%d: %s\n",
                           strchr(k->key, '.') ? 2 : 1, err.msg) > 0);
        cr_expect_eq(r.status, 1, "%s", k->key);
        cr_expect_str_eq(r.err, want);
        free(want);
        cfg_run_free(&r);
    }
    cr_expect_gt(i, 15, "the table has %zu knobs", i);
    cfg_rmtree(dir);
}

/* Every row of gorod's own table (configkeys.c) is a key of gorod.yaml:
 * its default loads and is printed back on the line knob_yaml wrote
 * (quoted, for a string), and its row's words are the message for a value
 * refused. */
Test(config, every_key_of_gorod_s_table_is_a_key, .timeout = 60)
{
    char *dir = cfg_tmpdir();
    const gorod_key *g;
    size_t i;
    for (i = 0; (g = gorod_key_at(i)) != NULL; i++) {
        char yaml[512], quoted[256], printed[512];
        knob_yaml(yaml, sizeof yaml, g->pub.key, g->pub.def);
        free(cfg_write(dir, "c.yaml", yaml));
        struct cfg_run r = cfg_check(dir, "c.yaml");
        cr_expect_eq(r.status, 0, "%s: %s", g->pub.key, r.err);
        snprintf(quoted, sizeof quoted, "\"%s\"", g->pub.def);
        knob_yaml(printed, sizeof printed, g->pub.key,
                  g->kind == KEY_PATH || g->kind == KEY_LISTEN ? quoted
                                                               : g->pub.def);
        const char *line = strchr(printed, '\n') + 1;
        cr_expect(strstr(r.out, *line ? line : printed) != NULL,
                  "%s: no line %s in\n%s", g->pub.key, printed, r.out);
        cfg_run_free(&r);

        /* A value refused: "?" by every kind but a path, which takes it
         * as a file's name; "" by a path that does not allow it (one that
         * does, admin.socket, is refused over its length among the bad
         * files above). */
        const char *bad = g->kind == KEY_PATH ? "\"\"" : "\"?\"";
        if (g->kind == KEY_PATH && g->zero)
            continue;
        knob_yaml(yaml, sizeof yaml, g->pub.key, bad);
        free(cfg_write(dir, "c.yaml", yaml));
        r = cfg_check(dir, "c.yaml");
        char *want;
        cr_assert(asprintf(&want, "c.yaml:%d: %s: %s is not %s\n",
                           strchr(g->pub.key, '.') ? 2 : 1, g->pub.key,
                           g->kind == KEY_PATH ? "\"\"" : "?",
                           g->pub.allowed) > 0);
        cr_expect_eq(r.status, 1, "%s", g->pub.key);
        cr_expect_str_eq(r.err, want);
        free(want);
        cfg_run_free(&r);
    }
    cr_expect_gt(i, 5, "gorod's table has %zu keys", i);
    cfg_rmtree(dir);
}

/* The GORO_* variables of gorod's environment stand for the keys the file
 * leaves out; a key in the file wins; a bad variable is refused by name. */
Test(config, the_environment_stands_for_keys_the_file_leaves_out,
     .timeout = 20)
{
    char *dir = cfg_tmpdir();
    setenv("GORO_TRACEBACK", "all", 1);
    setenv("GORO_STACK_DEBUG", "1", 1);
    free(cfg_write(dir, "c.yaml", "stack:\n  debug: 2\n"));
    struct cfg_run r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "\ntraceback: all\n") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "  debug: 2\n") != NULL, "%s", r.out);
    cfg_run_free(&r);
    setenv("GORO_STACK_ORDERS", "9", 1);
    r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "c.yaml: GORO_STACK_ORDERS=9: not a whole "
                            "number from 1 to 8\n");
    cfg_run_free(&r);
    unsetenv("GORO_TRACEBACK");
    unsetenv("GORO_STACK_DEBUG");
    unsetenv("GORO_STACK_ORDERS");
    cfg_rmtree(dir);
}

Test(config, sizes_and_durations_take_every_unit, .timeout = 30)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"stack: {min_size: 4096, cache_size: 64KiB}", "  min_size: 4KiB\n"},
        {"stack: {min_size: 4K, cache_size: 64KiB}", "  min_size: 4KiB\n"},
        {"stack: {min_size: 4KiB, cache_size: 64KiB}", "  min_size: 4KiB\n"},
        {"stack: {min_size: 4096B, cache_size: 64KiB}", "  min_size: 4KiB\n"},
        {"stack: {max_size: 1M}", "  max_size: 1MiB\n"},
        {"stack: {max_size: 1G}", "  max_size: 1GiB\n"},
        {"stack: {max_size: 65537}", "  max_size: 65537\n"},
        {"sched: {time_slice: 1000000ns}", "  time_slice: 1ms\n"},
        {"sched: {time_slice: 100us}", "  time_slice: 100us\n"},
        {"sched: {time_slice: 10s}", "  time_slice: 10s\n"},
        {"sched: {time_slice: 0}", "  time_slice: 0\n"},
        {"stack: {scan_interval: 60m}", "  scan_interval: 1h\n"},
        {"stack: {scan_interval: 90s}", "  scan_interval: 90s\n"},
        {"shutdown_timeout: 10m", "shutdown_timeout: 10m\n"},
        {"shutdown_timeout: 100ms", "shutdown_timeout: 100ms\n"},
        {"admin: {mode: 0}", "  mode: 0000\n"},
        {"admin: {mode: 777}", "  mode: 0777\n"},
        {"admin: {mode: \"0640\"}", "  mode: 0640\n"},
        {"admin: {socket: \"\"}", "  socket: \"\"\n"},
        {"metrics: {listen: \"\"}", "  listen: \"\"\n"},
        {"metrics: {listen: 0.0.0.0:1}", "  listen: \"0.0.0.0:1\"\n"},
        {"log: {target: syslog}", "  target: \"syslog\"\n"},
        {"sched: {procs: 4096}", "  procs: 4096\n"},
    };
    char *dir = cfg_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, "%s\n", cases[i].in);
        free(cfg_write(dir, "c.yaml", yaml));
        struct cfg_run r = cfg_check(dir, "c.yaml");
        cr_expect_eq(r.status, 0, "%s: %s", cases[i].in, r.err);
        cr_expect(strstr(r.out, cases[i].out) != NULL,
                  "%s: no line %s in\n%s", cases[i].in, cases[i].out, r.out);
        cfg_run_free(&r);
    }
    cfg_rmtree(dir);
}

Test(config, a_plugin_file_that_does_not_exist_is_not_a_config_error,
     .timeout = 10)
{
    char *dir = cfg_tmpdir();
    free(cfg_write(dir, "c.yaml",
                   "plugins:\n  - name: ghost\n    path: nowhere/ghost.so\n"));
    struct cfg_run r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cfg_run_free(&r);
    cfg_rmtree(dir);
}

Test(config, the_repository_config_loads_and_prints_again_identically,
     .timeout = 10)
{
    const char *src = getenv("GOROD_SRCDIR");
    cr_assert(src != NULL, "GOROD_SRCDIR must name the repository");
    char *root = realpath(src, NULL), *cfg, *echo, *sock;
    cr_assert(root != NULL);
    cr_assert(asprintf(&cfg, "%s/config/gorod.yaml", root) > 0);
    cr_assert(asprintf(&echo, "  - name: echo\n    path: "
                              "\"%s/build/plugins/echo.so\"\n"
                              "    args: \"listener=echo\"\n", root) > 0);
    cr_assert(asprintf(&sock, "  socket: \"%s/build/gorod.sock\"\n", root) >
              0);
    struct cfg_run r = cfg_check("/", cfg);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_empty(r.err);
    cr_expect(strstr(r.out, echo) != NULL, "no\n%s\nin\n%s", echo, r.out);
    cr_expect(strstr(r.out, sock) != NULL, "no\n%s\nin\n%s", sock, r.out);
    static const char *const more[] = {
        "  - name: httphello\n", "  - name: stackwave\n",
        "  - name: spinner\n",   "  listen: \"127.0.0.1:9464\"\n",
        "status_interval: 5s\n", "  mode: 0660\n",
        "listeners:\n  - name: echo\n    address: \"127.0.0.1:7007\"\n"};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        cr_expect(strstr(r.out, more[i]) != NULL, "no %s", more[i]);
    char *dir = cfg_tmpdir();
    check_prints_again(dir, r.out);
    cfg_rmtree(dir);
    cfg_run_free(&r);
    free(root);
    free(cfg);
    free(echo);
    free(sock);
}

/* ---- what is not a configuration ------------------------------------------
 * Refused quickly and by name, instead of read until memory runs out (a
 * device), waited on for ever (a FIFO) or parsed for minutes (a file of
 * 100,000 nested lists): the limits of gorod/config.c. */

Test(config, a_fifo_or_a_device_is_refused_without_waiting, .timeout = 20)
{
    char *dir = cfg_tmpdir(), *fifo;
    cr_assert(asprintf(&fifo, "%s/fifo.yaml", dir) > 0);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    struct cfg_run r = cfg_check(dir, "fifo.yaml");
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "fifo.yaml: not a regular file\n");
    cfg_run_free(&r);
    r = cfg_check("/", "/dev/zero");
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "/dev/zero: not a regular file\n");
    cfg_run_free(&r);
    free(fifo);
    cfg_rmtree(dir);
}

Test(config, a_file_over_the_size_limit_is_refused, .timeout = 20)
{
    char *dir = cfg_tmpdir();
    size_t n = (1u << 20) + 1;
    char *big = malloc(n + 1);
    cr_assert_not_null(big);
    memset(big, '#', n);  /* a comment: valid YAML, only too long */
    big[n] = '\0';
    free(cfg_write(dir, "c.yaml", big));
    struct cfg_run r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "c.yaml: 1048577 bytes: more than a "
                            "configuration may hold (1048576)\n");
    cfg_run_free(&r);
    free(big);
    cfg_rmtree(dir);
}

Test(config, deep_nesting_is_refused_at_the_limit, .timeout = 20)
{
    char *dir = cfg_tmpdir();
    enum { depth = 100000 };
    char *yaml = malloc(2 * depth + 16);
    cr_assert_not_null(yaml);
    size_t n = 0;
    n += (size_t)sprintf(yaml, "sched: ");
    memset(yaml + n, '[', depth);
    memset(yaml + n + depth, ']', depth);
    strcpy(yaml + n + 2 * depth, "\n");
    free(cfg_write(dir, "c.yaml", yaml));
    struct cfg_run r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "c.yaml:1: nested deeper than 32 mappings and "
                            "lists\n") != NULL, "%s", r.err);
    cfg_run_free(&r);
    free(yaml);
    cfg_rmtree(dir);
}

/* 30,000 plugin entries (each key's line looked up by path; the file just
 * under the size limit): before the index, a quadratic search took
 * seconds (15 s for 40,000); the timeout is the assertion. */
Test(config, many_keys_are_looked_up_in_linear_time, .timeout = 20)
{
    char *dir = cfg_tmpdir();
    enum { nplugins = 30000 };
    size_t cap = (size_t)nplugins * 64 + 64, n = 0;
    char *yaml = malloc(cap);
    cr_assert_not_null(yaml);
    n += (size_t)snprintf(yaml, cap, "plugins:\n");
    for (int i = 0; i < nplugins; i++)
        n += (size_t)snprintf(yaml + n, cap - n,
                              "  - {name: p%d, path: /n.so}\n", i);
    free(cfg_write(dir, "c.yaml", yaml));
    struct cfg_run r = cfg_check(dir, "c.yaml");
    cr_expect_eq(r.status, 0, "%s", r.err);
    cfg_run_free(&r);
    free(yaml);
    cfg_rmtree(dir);
}
