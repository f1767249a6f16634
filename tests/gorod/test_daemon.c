/* test_daemon.c - the daemon as operators run it: plugin refusals, fixed
 * stacks, reload (a broken file keeps what runs; plugins added, removed),
 * shutdown with 100,000 live Gs and with a plugin whose stop() never
 * returns, and the example plugins driven by real clients (curl, wrk)
 * while the metrics move. Every test starts the real gorod. */
#include "admutil.h"

#include <sys/resource.h>

static char *plugin(const char *dirvar, const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    const char *dir = getenv(dirvar);
    if (dir == NULL)
        cr_skip_test("%s is not set (make test sets it)", dirvar);
    snprintf(b, 512, "%s/%s.so", dir, name);
    return b;
}
#define TP(name) plugin("GOROD_TESTPLUGINS", name)
#define EP(name) plugin("GOROD_PLUGINS", name)

/* dmn_write writes d's configuration with the given plugins section. */
static void dmn_write(adm_daemon *d, const char *extra, const char *plugins)
{
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n  level: info\n  target: stderr\n"
                       "admin:\n  socket: %s\n  mode: 0600\n"
                       "metrics:\n  listen: 127.0.0.1:%d\n"
                       "status_interval: 0\n"
                       "%s"
                       "plugins:\n%s",
                       d->sock, d->metrics_port, extra ? extra : "",
                       plugins) > 0);
    adm_writefile(d->conf, text);
    free(text);
}

/* dmn_run starts gorod (d from adm_init) on a configuration with the
 * given extra keys and plugins section, and waits until its admin socket
 * answers. */
static void dmn_run(adm_daemon *d, const char *extra, const char *plugins)
{
    dmn_write(d, extra, plugins);
    adm_spawn(d);
    adm_wait_ready(d);
}

/* dmn_term sends SIGTERM and reaps gorod: its wait status, and in *ms how
 * long it took. */
static int dmn_term(adm_daemon *d, int64_t *ms)
{
    int64_t t0 = adm_now_ms();
    kill(d->pid, SIGTERM);
    int status;
    cr_assert_eq(waitpid(d->pid, &status, 0), d->pid);
    *ms = adm_now_ms() - t0;
    d->pid = 0;
    return status;
}

/* dmn_wait_log waits up to ms for text to appear in the log. */
static bool dmn_wait_log(adm_daemon *d, const char *text, int ms)
{
    int64_t deadline = adm_now_ms() + ms;
    do {
        char *log = adm_slurp(d->log);
        bool found = log && strstr(log, text);
        free(log);
        if (found)
            return true;
        adm_sleep_ms(20);
    } while (adm_now_ms() < deadline);
    return false;
}

static char *ctl(adm_daemon *d, const char *cmd)
{
    adm_run r = adm_ctl(d, cmd, (char *)NULL);
    cr_assert_eq(r.status, 0, "goroctl %s: %s", cmd, r.err);
    free(r.err);
    return r.out;
}

/* ---- plugin refusals ------------------------------------------------------------ */

Test(daemon, refuses_bad_plugins_by_name_and_reason_and_runs_the_rest,
     .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[4096];
    snprintf(p, sizeof p,
             "  - {name: noentry, path: %s}\n"
             "  - {name: badabi, path: %s}\n"
             "  - {name: nosplit, path: %s}\n"
             "  - {name: undefsym, path: %s}\n"
             "  - {name: missing, path: %s/nothere.so}\n"
             "  - {name: notelf, path: %s}\n"
             "  - {name: libgcc, path: %s}\n"
             "  - {name: hello, path: %s}\n"
             "  - {name: oneline, path: %s}\n",
             TP("noentry"), TP("badabi"), TP("fixed_nosplit"),
             TP("undefsym"), d.dir, d.conf, TP("hello_libgcc"), TP("hello"),
             TP("hello_oneline"));
    dmn_run(&d, NULL, p);
    char *log = adm_slurp(d.log);
    struct { const char *name, *why; } want[] = {
        {"noentry", "no goro_plugin_entry"},
        {"badabi", "plugin ABI 999, gorod speaks 1"},
        {"nosplit", "no .note.GNU-split-stack section"},
        {"undefsym", "cannot load: "},
        {"missing", "No such file or directory"},
        {"notelf", "not an ELF file"},
        {"libgcc", "without goro's morestack stubs"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "gorod: error: plugin %s: ",
                 want[i].name);
        char *at = strstr(log, line);
        cr_assert_not_null(at, "no refusal of %s in:\n%s", want[i].name, log);
        char *eol = strchr(at, '\n');
        cr_assert(strstr(at, want[i].why) && strstr(at, want[i].why) < eol,
                  "refusal of %s does not say \"%s\":\n%s", want[i].name,
                  want[i].why, log);
        cr_assert(strstr(at, ".so") || strstr(at, ".yaml"),
                  "refusal names no file: %.*s", (int)(eol - at), at);
    }
    char *out = ctl(&d, "plugins");
    cr_assert_not_null(strstr(out, "hello"), "%s", out);
    cr_assert_not_null(strstr(out, "oneline"), "%s", out);
    cr_assert_null(strstr(out, "noentry"), "%s", out);
    cr_assert_null(strstr(out, "libgcc"), "%s", out);
    free(out);
    free(log);
    cr_assert_eq(adm_stop(&d), 0);
}

Test(daemon, exits_1_when_no_plugin_could_be_loaded, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: noentry, path: %s}\n", TP("noentry"));
    dmn_write(&d, NULL, p);
    adm_spawn(&d);
    int st;
    cr_assert_eq(waitpid(d.pid, &st, 0), d.pid);
    d.pid = 0;
    char *log = adm_slurp(d.log);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x:\n%s", st,
              log);
    cr_assert_not_null(strstr(log, "no plugin could be loaded"), "%s", log);
    cr_assert_not_null(strstr(log, "plugin noentry: "), "%s", log);
    free(log);
    adm_stop(&d);
}

Test(daemon, runs_a_plugin_without_split_stack_on_fixed_stacks,
     .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p,
             "  - {name: fixed, path: %s, stack: fixed, "
             "fixed_stack_size: 256KiB}\n", TP("fixed_nosplit"));
    dmn_run(&d, NULL, p);
    int64_t deadline = adm_now_ms() + 10000;
    char *m = NULL;
    for (;;) {
        free(m);
        m = ctl(&d, "metrics");
        if (strstr(m, "gorod_plugin_requests_total{plugin=\"fixed\"} 1"))
            break;
        cr_assert(adm_now_ms() < deadline, "the fixed plugin did not report"
                  " its deep recursion:\n%s\n%s", m, adm_slurp(d.log));
        adm_sleep_ms(50);
    }
    cr_assert_not_null(strstr(m, "goro_stack_fixed_bytes"), "%s", m);
    free(m);
    char *ps = ctl(&d, "ps");
    cr_assert_not_null(strstr(ps, "262144"), "a 256 KiB stack in:\n%s", ps);
    free(ps);
    cr_assert_eq(adm_stop(&d), 0);
}

/* ---- reload ---------------------------------------------------------------------- */

Test(daemon, reload_with_a_broken_file_keeps_the_configuration, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: hello, path: %s}\n", TP("hello"));
    dmn_run(&d, NULL, p);
    dmn_write(&d, "stack:\n  min_size: 3000\n", p);
    kill(d.pid, SIGHUP);
    cr_assert(dmn_wait_log(&d, "keeping the configuration in effect", 10000),
              "%s", adm_slurp(d.log));
    char *st = ctl(&d, "status");
    cr_assert_not_null(strstr(st, "stack.min_size: 3000 is not a power of "
                                  "two"), "%s", st);
    free(st);
    char *pl = ctl(&d, "plugins");
    cr_assert_not_null(strstr(pl, "hello"), "%s", pl);
    free(pl);
    cr_assert(adm_alive(&d));
    cr_assert_eq(adm_stop(&d), 0);
}

Test(daemon, reload_adds_and_removes_plugins, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: first, path: %s}\n", TP("hello"));
    dmn_run(&d, NULL, p);
    snprintf(p, sizeof p, "  - {name: second, path: %s}\n", TP("hello"));
    dmn_write(&d, NULL, p);
    adm_run r = adm_ctl(&d, "reload", (char *)NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    char *pl = ctl(&d, "plugins");
    cr_assert_not_null(strstr(pl, "second"), "%s", pl);
    cr_assert_null(strstr(pl, "first"), "%s", pl);
    free(pl);
    char *log = adm_slurp(d.log);
    cr_assert_not_null(strstr(log, "reload: plugin first removed"), "%s", log);
    free(log);
    cr_assert_eq(adm_stop(&d), 0);
}

/* ---- shutdown ---------------------------------------------------------------------- */

Test(daemon, sigterm_with_100000_live_gs_exits_cleanly_in_time,
     .timeout = 120)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: many, path: %s, args: \"gs=100000\"}\n",
             TP("many"));
    dmn_run(&d, "shutdown_timeout: 10s\n", p);
    int64_t deadline = adm_now_ms() + 30000;
    for (;;) {
        char *m = ctl(&d, "metrics");
        bool up = strstr(m, "gorod_plugin_requests_total{plugin=\"many\"} "
                            "100000") != NULL;
        free(m);
        if (up)
            break;
        cr_assert(adm_now_ms() < deadline, "100000 Gs did not start");
        adm_sleep_ms(50);
    }
    char *st = ctl(&d, "stats");
    free(st);
    int64_t ms;
    int status = dmn_term(&d, &ms);
    char *log = adm_slurp(d.log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "status %#x:\n%s", status, log);
    cr_assert_lt(ms, 10000, "took %lld ms", (long long)ms);
    cr_assert_not_null(strstr(log, "gorod: info: stopped"), "%s", log);
    free(log);
    adm_stop(&d);
}

/* gorod cancels a plugin's group once stop() has returned (here: there
 * is none): Gs parked in channel receives, a select, a sleep and a read
 * end, and with them the plugin, long before the deadline. The echo
 * plugin's stop (tcpserver.h) cancels its group: a client connection left
 * idle does not hold up the exit. */
Test(daemon, sigterm_ends_the_waits_of_every_plugin_g, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    int echo = adm_free_port();
    char p[1024];
    snprintf(p, sizeof p,
             "  - {name: waits, path: %s}\n"
             "  - {name: echo, path: %s, args: \"port=%d\"}\n",
             TP("nostopfn"), EP("echo"), echo);
    dmn_run(&d, "shutdown_timeout: 20s\n", p);
    int64_t deadline = adm_now_ms() + 30000;
    for (;;) {
        char *m = ctl(&d, "metrics");
        bool up = strstr(m, "gorod_plugin_requests_total{plugin=\"waits\"} "
                            "1") != NULL;
        free(m);
        if (up)
            break;
        cr_assert(adm_now_ms() < deadline, "the plugin did not start");
        adm_sleep_ms(50);
    }
    int fd = adm_tcp_connect(echo);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "x\n", 2), 2);
    char got[2];
    cr_assert_eq(read(fd, got, 2), 2);  /* its G now waits in goro_read */
    int64_t ms;
    int status = dmn_term(&d, &ms);
    char *log = adm_slurp(d.log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "status %#x:\n%s", status, log);
    /* Far below the 20 s deadline, which the waits would have reached. */
    cr_assert_lt(ms, 15000, "took %lld ms", (long long)ms);
    cr_assert_not_null(strstr(log, "gorod: info: stopped"), "%s", log);
    free(log);
    close(fd);
    adm_stop(&d);
}

Test(daemon, a_stop_that_never_returns_ends_at_the_deadline, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: stuck, path: %s}\n", TP("nostop"));
    dmn_run(&d, "shutdown_timeout: 1s\n", p);
    int64_t ms;
    int status = dmn_term(&d, &ms);
    char *log = adm_slurp(d.log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
              "status %#x:\n%s", status, log);
    cr_assert(ms >= 900 && ms < 5000, "took %lld ms", (long long)ms);
    cr_assert_not_null(strstr(log, "plugin stuck: "), "%s", log);
    cr_assert_not_null(strstr(log, "stop() has not returned"), "%s", log);
    free(log);
    adm_stop(&d);
}

/* A plugin whose G dereferences NULL: the process dies of SIGSEGV (so that
 * systemd restarts it) after saying which G of which plugin, where. */
Test(daemon, a_crashing_plugin_is_named_with_its_g_and_stack, .timeout = 60)
{
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: boom, path: %s}\n", TP("crash"));
    dmn_run(&d, NULL, p);
    int status = 0;
    pid_t r = 0;
    for (int64_t deadline = adm_now_ms() + 10000;
         (r = waitpid(d.pid, &status, WNOHANG)) == 0 &&
         adm_now_ms() < deadline;)
        adm_sleep_ms(20);
    cr_assert_eq(r, d.pid, "gorod is still running");
    d.pid = 0;
    char *log = adm_slurp(d.log);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
              "status %#x:\n%s", status, log);
    cr_expect_not_null(strstr(log, "signal SIGSEGV: segmentation violation "
                                   "code=1 addr=0x0 pc=0x"), "%s", log);
    char where[600];
    snprintf(where, sizeof where, "is in %s (", TP("crash"));
    cr_expect_not_null(strstr(log, where), "%s", log);
    cr_expect_not_null(strstr(log, " [running] of group \"boom\": stack [0x"),
                       "%s", log);
    cr_expect_not_null(strstr(log, "traceback:\n"), "%s", log);
    free(log);
    adm_stop(&d);
}

/* Detached with a log file, the crash report lands in the log. */
Test(daemon, a_detached_gorods_crash_report_goes_to_its_log_file,
     .timeout = 60)
{
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    adm_daemon d;
    adm_init(&d, "daemon");
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n  target: %s\n"
                       "admin:\n  socket: %s\n"
                       "metrics:\n  listen: \"\"\n"
                       "plugins:\n  - {name: boom, path: %s}\n",
                       d.log, d.sock, TP("crash")) > 0);
    adm_writefile(d.conf, text);
    free(text);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --config %s </dev/null >/dev/null 2>&1",
             getenv("GOROD"), d.conf);
    cr_assert_eq(system(cmd), 0, "gorod did not detach");
    cr_expect(dmn_wait_log(&d, "of group \"boom\": stack [0x", 10000),
              "no crash report in the log");
    char *log = adm_slurp(d.log);
    cr_expect_not_null(strstr(log, "signal SIGSEGV: segmentation violation"),
                       "%s", log);
    free(log);
    adm_stop(&d);
}

/* ---- the example plugins, end to end ----------------------------------------------- */

static double metric(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);
    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[n] == ' ' || p[n] == '{')) {
            const char *sp = strchr(p, ' ');
            return sp ? strtod(sp + 1, NULL) : -1;
        }
        p += n;
    }
    return -1;
}

static int shell(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(daemon, example_plugins_serve_real_clients_and_the_metrics_move,
     .timeout = 120)
{
    if (shell("command -v curl >/dev/null") != 0)
        cr_skip_test("curl is not installed (make deps installs it)");
    adm_daemon d;
    adm_init(&d, "daemon");
    int echo = adm_free_port(), http = adm_free_port();
    while (http == echo || http == d.metrics_port)
        http = adm_free_port();
    char p[2048];
    snprintf(p, sizeof p,
             "  - {name: echo, path: %s, args: \"port=%d\"}\n"
             "  - {name: httphello, path: %s, args: \"port=%d\"}\n"
             "  - {name: stackwave, path: %s, args: \"gs=50 depth=64KiB "
             "period=200ms\"}\n"
             "  - {name: spinner, path: %s, args: \"gs=2\"}\n",
             EP("echo"), echo, EP("httphello"), http, EP("stackwave"),
             EP("spinner"));
    dmn_run(&d, "stack:\n  scan_interval: 100ms\nsched:\n  procs: 2\n", p);
    char *before = ctl(&d, "metrics");

    /* curl, with keep-alive over two requests */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -sf http://127.0.0.1:%d/ http://127.0.0.1:%d/x "
             "> %s/curl.out", http, http, d.dir);
    cr_assert_eq(shell(cmd), 0, "curl failed:\n%s", adm_slurp(d.log));
    char path[256];
    snprintf(path, sizeof path, "%s/curl.out", d.dir);
    char *body = adm_slurp(path);
    cr_assert_str_eq(body, "hello\nhello\n");
    free(body);

    /* wrk, when installed */
    if (shell("command -v wrk >/dev/null") == 0) {
        snprintf(cmd, sizeof cmd,
                 "wrk -t2 -c20 -d2s http://127.0.0.1:%d/ > %s/wrk.out 2>&1",
                 http, d.dir);
        cr_assert_eq(shell(cmd), 0);
        snprintf(path, sizeof path, "%s/wrk.out", d.dir);
        char *w = adm_slurp(path);
        cr_assert_not_null(strstr(w, "Requests/sec"), "%s", w);
        cr_assert_null(strstr(w, "Non-2xx"), "%s", w);
        cr_assert_null(strstr(w, "Socket errors"), "%s", w);
        free(w);
    }

    /* echo: 100 round trips on one connection */
    int fd = adm_tcp_connect(echo);
    cr_assert_geq(fd, 0);
    for (int i = 0; i < 100; i++) {
        char msg[32], got[32];
        int n = snprintf(msg, sizeof msg, "ping %d\n", i);
        cr_assert_eq(write(fd, msg, (size_t)n), n);
        int have = 0;
        while (have < n) {
            ssize_t r = read(fd, got + have, (size_t)(n - have));
            cr_assert_gt(r, 0);
            have += (int)r;
        }
        cr_assert_eq(memcmp(msg, got, (size_t)n), 0);
    }
    close(fd);

    adm_sleep_ms(1500);   /* stackwave's waves, the spinners' slices */
    char *after = ctl(&d, "metrics");
    struct { const char *name; } moved[] = {
        {"goro_stack_grows_total"}, {"goro_stack_shrinks_total"},
        {"goro_context_switches_total"}, {"goro_sched_latency_seconds_count"},
    };
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++)
        cr_assert_gt(metric(after, moved[i].name),
                     metric(before, moved[i].name), "%s did not move:\n%s",
                     moved[i].name, after);
    cr_assert_gt(metric(after, "goro_preemptions_total"), 0, "%s", after);
    cr_assert_geq(metric(after, "gorod_plugin_requests_total{plugin=\"echo\"}"),
                  1, "%s", after);
    cr_assert_geq(
        metric(after, "gorod_plugin_requests_total{plugin=\"httphello\"}"), 2,
        "%s", after);
    free(before);
    free(after);
    cr_assert_eq(adm_stop(&d), 0);
}
