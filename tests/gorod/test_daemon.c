/* test_daemon.c - the daemon as operators run it: plugin refusals, fixed
 * stacks, reload (a broken file keeps what runs; plugins added, removed),
 * shutdown with 100,000 live Gs and with a plugin whose stop() never
 * returns, and the example plugins driven by real clients (curl, wrk)
 * while the metrics move. Every test starts the real gorod. */
#include "admutil.h"

#include <sys/resource.h>

/* dmn_run starts gorod (d from adm_init) on a configuration with the
 * given extra keys and plugins section, and waits until its admin socket
 * answers. */
static void dmn_run(adm_daemon *d, const char *extra, const char *plugins)
{
    adm_write_conf(d, extra, plugins);
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
    /* The refused ones are listed as such, with their reasons. */
    char *refusedrow = strstr(out, "noentry ");
    cr_assert(refusedrow && strncmp(refusedrow + 17, "refused", 7) == 0,
              "%s", out);
    cr_assert_not_null(strstr(out, "plugin libgcc: "), "%s", out);
    cr_assert_not_null(strstr(out, "without goro's morestack stubs"), "%s",
                       out);
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
    adm_write_conf(&d, NULL, p);
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
    adm_write_conf(&d, "stack:\n  min_size: 3000\n", p);
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
    adm_write_conf(&d, NULL, p);
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

/* A reload whose new configuration has a plugin that is refused: the rest
 * of it takes effect, and the reply, `goroctl status`, the counters and
 * the plugin listings say the same: applied, one plugin refused (named,
 * with the reason, up = 0). A plugin refused at start is listed too. */
Test(daemon, a_reload_with_a_refused_plugin_has_one_verdict, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[2048];
    snprintf(p, sizeof p,
             "  - {name: first, path: %s}\n"
             "  - {name: atstart, path: %s/nothere.so}\n",
             TP("hello"), d.dir);
    dmn_run(&d, NULL, p);
    char *pl = ctl(&d, "plugins");
    cr_expect(strstr(pl, "atstart") && strstr(pl, "refused"),
              "a plugin refused at start is not listed:\n%s", pl);
    free(pl);

    snprintf(p, sizeof p,
             "  - {name: second, path: %s}\n"
             "  - {name: broken, path: %s/nothere.so}\n",
             TP("hello"), d.dir);
    adm_write_conf(&d, NULL, p);
    adm_run r = adm_ctl(&d, "reload", (char *)NULL);
    cr_expect_eq(r.status, 1, "a reload with a refused plugin: exit %d\n%s%s",
                 r.status, r.out, r.err);
    cr_expect(strstr(r.err, "1 plugin(s) refused") &&
              strstr(r.err, "broken") && strstr(r.err, "nothere.so"),
              "the reply:\n%s%s", r.out, r.err);
    adm_run_free(&r);

    char *st = ctl(&d, "status");
    cr_expect(strstr(st, "last_reload:   applied, 1 plugin(s) refused") &&
              strstr(st, "No such file or directory"), "status:\n%s", st);
    cr_expect(strstr(st, "reloads:       1 (failed 1)"), "status:\n%s", st);
    cr_expect(strstr(st, "0 failed, 1 refused, 1 loaded"), "status:\n%s", st);
    free(st);

    pl = ctl(&d, "plugins");
    cr_expect(strstr(pl, "second") && !strstr(pl, "first") &&
              !strstr(pl, "atstart"), "the new configuration is not in "
              "effect:\n%s", pl);
    cr_expect(strstr(pl, "broken") && strstr(pl, "refused"), "%s", pl);
    free(pl);

    char *m = ctl(&d, "metrics");
    cr_expect(strstr(m, "gorod_plugin_up{plugin=\"broken\"} 0") &&
              strstr(m, "gorod_reloads_total 1") &&
              strstr(m, "gorod_reload_failures_total 1"), "%s", m);
    free(m);
    cr_assert_eq(adm_stop(&d), 0);
}

/* A plugin removed by a reload whose Gs ignore stop(): it stays listed as
 * stopping with its Gs, loading the same file again is refused while it
 * is there, and shutdown counts it (exit 1, naming it). */
Test(daemon, a_removed_plugin_that_does_not_stop_stays_listed_and_counted,
     .timeout = 90)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[2048];
    snprintf(p, sizeof p,
             "  - {name: hello, path: %s}\n"
             "  - {name: stubborn, path: %s, args: \"call\"}\n",
             TP("hello"), TP("stubborn"));
    dmn_run(&d, "shutdown_timeout: 1s\n", p);
    snprintf(p, sizeof p, "  - {name: hello, path: %s}\n", TP("hello"));
    adm_write_conf(&d, "shutdown_timeout: 1s\n", p);
    adm_run r = adm_ctl(&d, "reload", (char *)NULL);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);

    char *pl = ctl(&d, "plugins");
    cr_expect(strstr(pl, "stubborn") && strstr(pl, "stopping"),
              "the plugin that did not stop is not listed:\n%s", pl);
    free(pl);
    char *m = ctl(&d, "metrics");
    cr_expect(strstr(m, "gorod_plugin_up{plugin=\"stubborn\"} 0") &&
              strstr(m, "gorod_plugin_gs{plugin=\"stubborn\"} 1"), "%s", m);
    free(m);

    /* The same file again, under another name: refused while the old
     * instance runs (it would share its dlopen handle and globals). */
    snprintf(p, sizeof p,
             "  - {name: hello, path: %s}\n"
             "  - {name: again, path: %s}\n", TP("hello"), TP("stubborn"));
    adm_write_conf(&d, "shutdown_timeout: 1s\n", p);
    r = adm_ctl(&d, "reload", (char *)NULL);
    cr_expect_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "again") && strstr(r.err, "still stopping"),
              "%s%s", r.out, r.err);
    adm_run_free(&r);

    int64_t ms;
    int status = dmn_term(&d, &ms);
    char *log = adm_slurp(d.log);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1,
              "status %#x:\n%s", status, log);
    /* Named at the reload's deadline, and again at shutdown's. */
    const char *named = strstr(log, "plugin stubborn: 1 G(s) still running");
    cr_expect(named && strstr(named + 1, "plugin stubborn: 1 G(s) still "
                              "running"), "%s", log);
    /* shutdown_timeout + 3 s, as plugins_that_ignore_stop_... allows a
     * loaded machine. */
    cr_expect(ms < 4000, "took %lld ms", (long long)ms);
    free(log);
    adm_stop(&d);
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

/* Plugins whose Gs ignore stop() (a loop that calls nothing, a loop of
 * calls, Gs in a blocking read): SIGTERM ends in exit 1 soon after
 * shutdown_timeout, every time (the process used to stay, its main G
 * returned, until systemd's SIGKILL; the test waits 10 s). On a quiet
 * machine it takes about shutdown_timeout + 0.2 s; the bound, +3 s, leaves
 * room for a loaded one, where the spinning plugin and other processes
 * delay the signal's G and the exit (2.7 s seen in a loaded run). */
Test(daemon, plugins_that_ignore_stop_exit_1_at_the_deadline_every_time,
     .timeout = 240)
{
    static const char *const kinds[] = {"spin,read", "call", "spin,call,read"};
    int fails = 0;
    int64_t worst = 0;
    for (int run = 0; run < 20; run++) {
        adm_daemon d;
        adm_init(&d, "stubborn");
        char p[1024];
        snprintf(p, sizeof p,
                 "  - {name: stubborn, path: %s, args: \"%s\"}\n"
                 "  - {name: hello, path: %s}\n",
                 TP("stubborn"), kinds[run % 3], TP("hello"));
        dmn_run(&d, "shutdown_timeout: 1s\n", p);
        /* Started in full (the plugins' grace to fail is over, "where to
         * connect" logged), then the Gs are busy. */
        for (int64_t until = adm_now_ms() + 10000; adm_now_ms() < until;
             adm_sleep_ms(20)) {
            char *l = adm_slurp(d.log);
            bool up = strstr(l, "where to connect") != NULL;
            free(l);
            if (up)
                break;
        }
        adm_sleep_ms(100);
        int64_t t0 = adm_now_ms();
        kill(d.pid, SIGTERM);
        int st = 0;
        pid_t r;
        while ((r = waitpid(d.pid, &st, WNOHANG)) == 0 &&
               adm_now_ms() - t0 < 10000)
            adm_sleep_ms(10);
        int64_t ms = adm_now_ms() - t0;
        if (r == 0) {
            kill(d.pid, SIGKILL);
            waitpid(d.pid, &st, 0);
        }
        d.pid = 0;
        bool ok = r == d.pid || r > 0;
        ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 1 && ms < 4000;
        char *log = adm_slurp(d.log);
        ok = ok && strstr(log, "plugin stubborn: ") != NULL &&
             strstr(log, "1 plugin(s) did not stop within 1000 ms") != NULL;
        if (!ok) {
            fails++;
            cr_log_error("run %d (%s): %s after %lld ms:\n%s", run,
                         kinds[run % 3],
                         r == 0 ? "still running" : "ended", (long long)ms,
                         log);
        }
        if (ms > worst)
            worst = ms;
        free(log);
        adm_stop(&d);
    }
    cr_assert_eq(fails, 0, "%d of 20 runs did not exit 1 within 4 s", fails);
    cr_log_info("20 runs: exit 1, the slowest %lld ms after SIGTERM",
                (long long)worst);
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

/* dmn_crash runs gorod with one plugin, NAME from the test plugin FILE,
 * and the extra keys, and waits until the process dies: its wait status,
 * and its log in *log (malloc'd). Core dumps are off. */
static int dmn_crash(const char *name, const char *file, const char *extra,
                     char **log)
{
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: %s, path: %s}\n", name, TP(file));
    dmn_run(&d, extra, p);
    int status = 0;
    pid_t r = 0;
    for (int64_t deadline = adm_now_ms() + 10000;
         (r = waitpid(d.pid, &status, WNOHANG)) == 0 &&
         adm_now_ms() < deadline;)
        adm_sleep_ms(20);
    *log = adm_slurp(d.log);
    cr_assert_eq(r, d.pid, "gorod is still running:\n%s", *log);
    d.pid = 0;
    adm_stop(&d);
    return status;
}

/* A G of a plugin recursing without end on its copying stack: the
 * runtime's report of the overflow names the G's group, the plugin. */
Test(daemon, a_copying_stack_overflow_in_a_plugin_is_reported_with_its_name,
     .timeout = 60)
{
    char *log;
    int status = dmn_crash("deep", "overflow", "stack:\n  max_size: 64KiB\n",
                           &log);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "status %#x:\n%s", status, log);
    cr_expect_not_null(strstr(log, "runtime: goroutine stack exceeds "
                                   "65536-byte limit\n"), "%s", log);
    const char *g = strstr(log, "runtime: goroutine ");
    g = g ? strstr(g + 1, "runtime: goroutine ") : NULL;
    const char *named = g ? strstr(g, " of group \"deep\": stack size ")
                          : NULL;
    cr_expect(named != NULL && strchr(g, '\n') > named,
              "the overflow's G is not named with its plugin:\n%s", log);
    cr_expect_not_null(strstr(log, "fatal error: stack overflow\n"), "%s",
                       log);
    free(log);
}

/* abort() in a plugin (a failed assert, a library giving up) kills the
 * process as it would without the runtime, after a report naming the G,
 * its plugin and where it was. */
Test(daemon, an_abort_in_a_plugin_is_reported_with_its_name, .timeout = 60)
{
    char *log;
    int status = dmn_crash("quits", "aborts", NULL, &log);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "status %#x:\n%s", status, log);
    cr_expect_not_null(strstr(log, "signal SIGABRT: abort code="), "%s", log);
    cr_expect_not_null(strstr(log, "] of group \"quits\": stack [0x"), "%s",
                       log);
    const char *tb = strstr(log, "traceback:\n");
    cr_expect(tb != NULL && strstr(tb, "give_up(") != NULL &&
              strstr(tb, TP("aborts")) != NULL,
              "no frame of the plugin in the traceback:\n%s", log);
    free(log);
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
    /* The plugins listen once their start() got that far. */
    int wfd = adm_tcp_connect_wait(echo, 10000);
    cr_assert_geq(wfd, 0, "echo does not listen");
    close(wfd);
    wfd = adm_tcp_connect_wait(http, 10000);
    cr_assert_geq(wfd, 0, "httphello does not listen");
    close(wfd);
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

    /* wrk, when installed: every request answered, none refused or cut.
     * Not how fast: the two spinners take both Ps between preemptions, and
     * on a loaded machine a request can wait longer than wrk's default
     * timeout of 2 s (the whole run), which wrk would count as a socket
     * error; --timeout 30s leaves that out. */
    if (shell("command -v wrk >/dev/null") == 0) {
        snprintf(cmd, sizeof cmd,
                 "wrk -t2 -c20 -d2s --timeout 30s http://127.0.0.1:%d/ "
                 "> %s/wrk.out 2>&1",
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

/* ---- probes and the journal ---------------------------------------------------- */

/* dmn_probe: GET path on d's metrics listener: the status code, and the
 * body in *body (malloc'd). -1 when the listener does not answer. */
static int dmn_probe(adm_daemon *d, const char *path, char **body)
{
    *body = NULL;
    int fd = adm_tcp_connect(d->metrics_port);
    if (fd < 0)
        return -1;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n", path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    char *resp = adm_read_all(fd, NULL);
    close(fd);
    int code = -1;
    if (resp != NULL && sscanf(resp, "HTTP/1.1 %d", &code) == 1) {
        char *b = strstr(resp, "\r\n\r\n");
        *body = strdup(b ? b + 4 : "");
    }
    free(resp);
    return code;
}

/* /readyz is 200 once every plugin has started, 503 naming a plugin that
 * was refused; /healthz is 200 either way. */
Test(daemon, readyz_says_whether_every_plugin_started, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: hello, path: %s}\n", TP("hello"));
    dmn_run(&d, NULL, p);
    char *body;
    int code = -1;
    for (int i = 0; i < 250 && code < 0; i++, adm_sleep_ms(20))
        code = dmn_probe(&d, "/readyz", &body);
    cr_assert_eq(code, 200, "/readyz: %d %s", code, body);
    cr_expect_str_eq(body, "ready\n");
    free(body);
    cr_expect_eq(dmn_probe(&d, "/healthz", &body), 200);
    cr_expect_str_eq(body, "ok\n");
    free(body);
    cr_assert_eq(adm_stop(&d), 0);

    adm_init(&d, "daemon");
    snprintf(p, sizeof p, "  - {name: hello, path: %s}\n"
             "  - {name: noentry, path: %s}\n", TP("hello"), TP("noentry"));
    dmn_run(&d, NULL, p);
    code = -1;
    for (int i = 0; i < 250 && code < 0; i++, adm_sleep_ms(20))
        code = dmn_probe(&d, "/readyz", &body);
    cr_expect_eq(code, 503, "/readyz: %d %s", code, body);
    cr_expect_str_eq(body, "plugin noentry: refused\n");
    free(body);
    cr_expect_eq(dmn_probe(&d, "/healthz", &body), 200);
    free(body);
    cr_assert_eq(adm_stop(&d), 0);
}

/* From SIGTERM until the plugins have stopped (here: a stop() that never
 * returns, shutdown_timeout 3s) /readyz is 503 "draining" while /healthz
 * stays 200; then the listener closes and gorod exits. */
Test(daemon, readyz_is_503_while_draining_after_sigterm, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "daemon");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: stuck, path: %s}\n", TP("nostop"));
    dmn_run(&d, "shutdown_timeout: 3s\n", p);
    char *body = NULL;
    int code = -1;
    for (int i = 0; i < 250 && code < 0; i++, adm_sleep_ms(20))
        code = dmn_probe(&d, "/readyz", &body);
    cr_assert_eq(code, 200, "/readyz before SIGTERM: %d %s", code, body);
    free(body);
    int64_t t0 = adm_now_ms();
    kill(d.pid, SIGTERM);
    /* Draining begins at once; look until it is seen (well within the 3 s
     * the drain lasts). */
    do {
        adm_sleep_ms(20);
        code = dmn_probe(&d, "/readyz", &body);
        if (code != 503)
            free(body);
    } while (code == 200 && adm_now_ms() - t0 < 2000);
    cr_assert_eq(code, 503, "/readyz after SIGTERM: %d", code);
    cr_expect_str_eq(body, "draining: shutting down\n");
    free(body);
    cr_expect_lt(adm_now_ms() - t0, 2500, "draining seen only after the "
                 "drain would have ended");
    cr_expect_eq(dmn_probe(&d, "/healthz", &body), 200);
    free(body);
    int status;
    cr_assert_eq(waitpid(d.pid, &status, 0), d.pid);
    d.pid = 0;
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x",
              status);
    cr_expect_geq(adm_now_ms() - t0, 2900, "gorod did not drain for 3 s");
    cr_expect_eq(dmn_probe(&d, "/readyz", &body), -1,
                 "the listener outlived the daemon");
    free(body);
    adm_stop(&d);
}

/* journald's stream: with JOURNAL_STREAM naming gorod's stderr (its
 * device:inode) every line starts with its syslog priority, "<3>" for an
 * error and "<6>" for information, and without "gorod: " (the journal
 * names the unit); with JOURNAL_STREAM naming another file, the lines are
 * as on a terminal. */
Test(daemon, log_lines_carry_journald_priorities_when_stderr_is_the_journal,
     .timeout = 60)
{
    for (int journal = 1; journal >= 0; journal--) {
        adm_daemon d;
        adm_init(&d, "daemon");
        /* The log (gorod's stderr) exists before gorod opens it again;
         * the other file is any other. */
        adm_writefile(d.log, "");
        struct stat st;
        cr_assert_eq(stat(journal ? d.log : d.dir, &st), 0);
        char env[64];
        snprintf(env, sizeof env, "%llu:%llu",
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", env, 1);
        char p[1024];
        snprintf(p, sizeof p, "  - {name: hello, path: %s}\n"
                 "  - {name: noentry, path: %s}\n", TP("hello"),
                 TP("noentry"));
        dmn_run(&d, NULL, p);
        unsetenv("JOURNAL_STREAM");
        cr_assert(dmn_wait_log(&d, "running: 1 of 2 plugin(s)", 5000));
        char *log = adm_slurp(d.log);
        if (journal) {
            cr_expect_not_null(strstr(log, "<3>error: plugin noentry: "),
                               "%s", log);
            cr_expect_not_null(strstr(log, "\n<6>info: running: 1 of 2 "),
                               "%s", log);
            cr_expect_null(strstr(log, "gorod: info:"), "%s", log);
        } else {
            cr_expect_not_null(strstr(log, "gorod: error: plugin noentry: "),
                               "%s", log);
            cr_expect_null(strstr(log, "<6>"), "%s", log);
        }
        free(log);
        cr_assert_eq(adm_stop(&d), 0);
    }
}
