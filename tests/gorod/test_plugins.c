/* test_plugins.c - one plugin at a time, as operators handle them, through
 * the real gorod and goroctl: `goroctl restart NAME` (its port comes back,
 * its start count rises, a failure exits 1 with the reason), a reload that
 * restarts a plugin whose shared object was replaced or rewritten, the
 * version and start count `goroctl plugins` shows, and args given as a
 * YAML mapping reaching the plugin through goro_plugin_arg (the test
 * plugin kvecho writes back what it got). */
#include "admutil.h"

#include <fcntl.h>

/* pl_write writes d's configuration with the given plugins section. */
static void pl_write(adm_daemon *d, const char *plugins)
{
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n  level: info\n  target: stderr\n"
                       "admin:\n  socket: %s\n  mode: 0600\n"
                       "metrics:\n  listen: 127.0.0.1:%d\n"
                       "status_interval: 0\nshutdown_timeout: 5s\n"
                       "plugins:\n%s",
                       d->sock, d->metrics_port, plugins) > 0);
    adm_writefile(d->conf, text);
    free(text);
}

static void pl_run(adm_daemon *d, const char *plugins)
{
    pl_write(d, plugins);
    adm_spawn(d);
    adm_wait_ready(d);
}

/* pl_install puts a copy of the plugin src at dst as an upgrade does:
 * written beside it, then renamed over it (a new inode; the running
 * instance keeps its mapping of the old file). */
static void pl_install(const char *src, const char *dst)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.new", dst);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    cr_assert(in >= 0, "%s: %s", src, strerror(errno));
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    cr_assert(out >= 0, "%s: %s", tmp, strerror(errno));
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        cr_assert(write(out, buf, (size_t)n) == n);
    close(in);
    cr_assert(close(out) == 0);
    cr_assert(rename(tmp, dst) == 0, "rename %s: %s", dst, strerror(errno));
}

/* pl_row: the row of `goroctl plugins` for name, malloc'd (NULL: none). */
static char *pl_row(adm_daemon *d, const char *name)
{
    adm_run r = adm_ctl(d, "plugins", (char *)NULL);
    cr_assert_eq(r.status, 0, "goroctl plugins: %s", r.err);
    size_t n = strlen(name);
    char *row = NULL;
    for (char *l = r.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1
                                                       : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ') {
            row = strndup(l, strcspn(l, "\n"));
            break;
        }
    adm_run_free(&r);
    return row;
}

/* pl_field: the i-th blank-separated field of row (0: NAME, 1: STATE,
 * 2: VERSION, 3: STARTS), into buf. */
static const char *pl_field(const char *row, int i, char *buf, size_t len)
{
    const char *s = row;
    for (int k = 0; k < i; k++) {
        s += strcspn(s, " ");
        s += strspn(s, " ");
    }
    size_t n = strcspn(s, " ");
    snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), s);
    return buf;
}

static int pl_starts(adm_daemon *d, const char *name)
{
    char *row = pl_row(d, name);
    cr_assert(row != NULL, "no row for %s", name);
    char f[32];
    int n = atoi(pl_field(row, 3, f, sizeof f));
    free(row);
    return n;
}

/* pl_ask connects to 127.0.0.1:port (retrying for up to ms while it is
 * refused: a plugin coming back) and returns what kvecho wrote, or NULL
 * when nothing listens. */
static char *pl_ask(int port, int ms)
{
    int fd = adm_tcp_connect_wait(port, ms);
    if (fd < 0)
        return NULL;
    char *r = adm_read_all(fd, NULL);
    close(fd);
    return r;
}

/* ---- restart ------------------------------------------------------------------- */

Test(plugins, restart_stops_and_starts_one_plugin, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "plugins");
    int port = adm_free_port();
    char p[1024];
    snprintf(p, sizeof p,
             "  - {name: kv, path: %s, args: {port: %d}}\n"
             "  - {name: other, path: %s}\n",
             TP("kvecho"), port, TP("hello"));
    pl_run(&d, p);
    char *got = pl_ask(port, 5000);
    cr_assert(got && strstr(got, "port="), "kvecho does not answer: %s",
              got ? got : "(nothing listens)");
    free(got);
    cr_expect_eq(pl_starts(&d, "kv"), 1);

    adm_run r = adm_ctl(&d, "restart", "kv", (char *)NULL);
    cr_assert_eq(r.status, 0, "goroctl restart kv: exit %d\n%s%s", r.status,
                 r.out, r.err);
    cr_expect(strstr(r.out, "plugin kv restarted") &&
              strstr(r.out, "kvecho 2.0, start #2"), "%s", r.out);
    adm_run_free(&r);

    /* Its port is back, its start count rose; the other was left alone. */
    got = pl_ask(port, 5000);
    cr_expect(got && strstr(got, "port="), "no answer after the restart: %s",
              got ? got : "(nothing listens)");
    free(got);
    char *row = pl_row(&d, "kv");
    char f[32];
    cr_assert(row != NULL);
    cr_expect_str_eq(pl_field(row, 1, f, sizeof f), "running", "%s", row);
    cr_expect_str_eq(pl_field(row, 2, f, sizeof f), "2.0", "%s", row);
    cr_expect_str_eq(pl_field(row, 3, f, sizeof f), "2", "%s", row);
    free(row);
    cr_expect_eq(pl_starts(&d, "other"), 1);

    r = adm_ctl(&d, "restart", "kv", (char *)NULL);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    cr_expect_eq(pl_starts(&d, "kv"), 3);
    char *log = adm_slurp(d.log);
    cr_expect(strstr(log, "restart: plugin kv: stopping") &&
              strstr(log, "(kvecho 2.0, copying stacks, start #3)"), "%s",
              log);
    free(log);
    cr_assert_eq(adm_stop(&d), 0);
}

/* Every way a restart fails exits 1 with the reason on stderr: no such
 * plugin, no name, a disabled entry, a file that cannot be loaded, a
 * start() that fails (here on an argument the plugin refused, named with
 * the file and line). A refused plugin whose file is fixed restarts. */
Test(plugins, a_failed_restart_exits_1_with_the_reason, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "plugins");
    char kv[600];
    snprintf(kv, sizeof kv, "%s/kv.so", d.dir);
    char p[2048];
    snprintf(p, sizeof p,
             "  - {name: hello, path: %s}\n"
             "  - {name: off, path: %s, enabled: false}\n"
             "  - name: kv\n"
             "    path: kv.so\n"
             "    args:\n"
             "      port: %d\n"
             "  - name: bad\n"
             "    path: %s\n"
             "    args:\n"
             "      greeting: hi\n"
             "      port: x\n",
             TP("hello"), TP("hello"), adm_free_port(),
             TP("kvecho"));
    pl_run(&d, p);

    adm_run r = adm_ctl(&d, "restart", "nope", (char *)NULL);
    cr_expect_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "error: restart: ") &&
              strstr(r.err, "has no plugin named \"nope\" (plugins: hello "
                            "off kv bad)"), "%s", r.err);
    adm_run_free(&r);

    r = adm_ctl(&d, "restart", (char *)NULL);
    cr_expect_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "restart: which plugin?"), "%s", r.err);
    adm_run_free(&r);

    r = adm_ctl(&d, "restart", "off", (char *)NULL);
    cr_expect_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "plugin off is disabled"), "%s", r.err);
    adm_run_free(&r);

    /* kv.so is not there: refused at start, and by a restart. */
    r = adm_ctl(&d, "restart", "kv", (char *)NULL);
    cr_expect_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "error: restart: plugin kv: ") &&
              strstr(r.err, "kv.so: No such file or directory"), "%s",
              r.err);
    adm_run_free(&r);
    char *row = pl_row(&d, "kv");
    char f[32];
    cr_expect(row && strcmp(pl_field(row, 1, f, sizeof f), "refused") == 0,
              "%s", row ? row : "(no row)");
    free(row);
    /* Once the file is there, the restart loads it: no longer refused. */
    pl_install(TP("kvecho"), kv);
    r = adm_ctl(&d, "restart", "kv", (char *)NULL);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    row = pl_row(&d, "kv");
    cr_expect(row && strcmp(pl_field(row, 1, f, sizeof f), "running") == 0,
              "%s", row ? row : "(no row)");
    free(row);
    adm_run ps = adm_ctl(&d, "plugins", (char *)NULL);
    cr_expect(strstr(ps.out, "\nrefused:") == NULL, "%s", ps.out);
    adm_run_free(&ps);

    /* bad refuses its port: start() returns 1, and the message names the
     * file, the line, the value and what is allowed. */
    char want[512];
    snprintf(want, sizeof want, "%s:22: plugins[3].args.port: x is not a "
             "port number from 1 to 65535", d.conf);
    r = adm_ctl(&d, "restart", "bad", (char *)NULL);
    cr_expect_eq(r.status, 1, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "error: restart: plugin bad: start returned 1") &&
              strstr(r.err, want), "%s\nnot\n%s", r.err, want);
    adm_run_free(&r);
    ps = adm_ctl(&d, "plugins", (char *)NULL);
    cr_expect(strstr(ps.out, "arguments refused:") && strstr(ps.out, want),
              "%s", ps.out);
    adm_run_free(&ps);
    char *log = adm_slurp(d.log);
    cr_expect(strstr(log, want), "%s", log);
    free(log);
    cr_assert_eq(adm_stop(&d), 0);
}

/* ---- a reload and the plugin's file ------------------------------------------ */

/* A reload restarts a plugin whose entry did not change but whose shared
 * object did: replaced by another file (here another plugin, whose
 * version the listing then shows), or rewritten in place (another mtime).
 * A reload with nothing changed restarts nothing. */
Test(plugins, a_reload_restarts_a_plugin_whose_file_changed, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "plugins");
    char kv[600];
    snprintf(kv, sizeof kv, "%s/kv.so", d.dir);
    pl_install(TP("kvecho"), kv);
    int port = adm_free_port();
    char p[1024];
    snprintf(p, sizeof p, "  - {name: kv, path: kv.so, args: {port: %d}}\n",
             port);
    pl_run(&d, p);
    char *got = pl_ask(port, 5000);
    cr_assert(got != NULL, "kvecho does not answer");
    free(got);

    adm_run r = adm_ctl(&d, "reload", (char *)NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    cr_expect_eq(pl_starts(&d, "kv"), 1, "an unchanged plugin restarted");

    /* Another plugin's file over it: restarted on the new file. */
    pl_install(TP("hello"), kv);
    r = adm_ctl(&d, "reload", (char *)NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    char *row = pl_row(&d, "kv");
    char f[32];
    cr_assert(row != NULL);
    cr_expect_str_eq(pl_field(row, 2, f, sizeof f), "1.0", "%s", row);
    cr_expect_str_eq(pl_field(row, 3, f, sizeof f), "2", "%s", row);
    free(row);
    char *log = adm_slurp(d.log);
    char want[700];
    snprintf(want, sizeof want, "reload: plugin kv restarted: its file %s "
             "was replaced (another inode)", kv);
    cr_expect(strstr(log, want), "%s", log);
    free(log);

    /* Back to kvecho: its port answers again. */
    pl_install(TP("kvecho"), kv);
    r = adm_ctl(&d, "reload", (char *)NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    cr_expect_eq(pl_starts(&d, "kv"), 3);
    got = pl_ask(port, 5000);
    cr_expect(got && strstr(got, "port="), "no answer from the new file");
    free(got);

    /* The same inode, rewritten: a new mtime is enough. */
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    cr_assert(utimensat(AT_FDCWD, kv, ts, 0) == 0);
    r = adm_ctl(&d, "reload", (char *)NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    cr_expect_eq(pl_starts(&d, "kv"), 4);
    log = adm_slurp(d.log);
    cr_expect(strstr(log, "was rewritten (another mtime)"), "%s", log);
    free(log);
    r = adm_ctl(&d, "reload", (char *)NULL);
    adm_run_free(&r);
    cr_expect_eq(pl_starts(&d, "kv"), 4, "an unchanged plugin restarted");
    cr_assert_eq(adm_stop(&d), 0);
}

/* ---- arguments --------------------------------------------------------------- */

/* args as a YAML mapping reach the plugin as pairs (goro_plugin_arg_at,
 * values with blanks whole), and start() gets them as key=value words;
 * the string form is passed as it is, its key=value words as the pairs. */
Test(plugins, mapping_args_reach_the_plugin_as_pairs, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "plugins");
    int pm = adm_free_port(), ps = adm_free_port();
    char p[1024];
    snprintf(p, sizeof p,
             "  - name: map\n"
             "    path: %s\n"
             "    args:\n"
             "      port: %d\n"
             "      greeting: \"hello world\"\n"
             "      tls: false\n"
             "  - {name: str, path: %s, args: \"port=%d a=b junk\"}\n",
             TP("kvecho"), pm, TP("kvecho"), ps);
    pl_run(&d, p);
    char *got = pl_ask(pm, 5000), want[256];
    cr_assert(got != NULL, "map does not answer");
    snprintf(want, sizeof want,
             "string: port=%d greeting=hello world tls=false\n"
             "port=%d\ngreeting=hello world\ntls=false\n", pm, pm);
    cr_expect_str_eq(got, want);
    free(got);
    got = pl_ask(ps, 5000);
    cr_assert(got != NULL, "str does not answer");
    snprintf(want, sizeof want, "string: port=%d a=b junk\nport=%d\na=b\n",
             ps, ps);
    cr_expect_str_eq(got, want);
    free(got);
    cr_assert_eq(adm_stop(&d), 0);
}

/* A bad args value stops gorod at start as any bad key does: the file,
 * the line, the value and what is allowed. */
Test(plugins, a_bad_args_value_is_refused_at_start, .timeout = 30)
{
    adm_daemon d;
    adm_init(&d, "plugins");
    char p[1024];
    snprintf(p, sizeof p,
             "  - name: kv\n"
             "    path: %s\n"
             "    args:\n"
             "      port: [7007, 7008]\n", TP("kvecho"));
    pl_write(&d, p);
    adm_spawn(&d);
    int st;
    cr_assert_eq(waitpid(d.pid, &st, 0), d.pid);
    d.pid = 0;
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
    char *log = adm_slurp(d.log), want[512];
    snprintf(want, sizeof want, "%s:15: plugins[0].args.port: a list is not "
             "a single value (a string, a number, true or false)\n", d.conf);
    cr_expect(strstr(log, want), "%s\nnot\n%s", log, want);
    free(log);
    adm_stop(&d);
}

/* ---- a start() that returns and leaves its Gs serving ------------------------- */

/* hello's start() spawns its G and returns 0 at once: the plugin runs on
 * in that G. goroctl shows it running with an uptime, the metrics up 1,
 * and a reload that changed nothing keeps it (its start count stays 1).
 * Once stop() has ended its G it is exited(0), up 0. */
Test(plugins, a_start_that_returns_leaving_gs_is_a_running_plugin,
     .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "plugins");
    char p[1024];
    snprintf(p, sizeof p, "  - {name: hello, path: %s}\n", TP("hello"));
    pl_run(&d, p);
    char *row = pl_row(&d, "hello");
    char f[32];
    cr_assert(row != NULL);
    cr_expect_str_eq(pl_field(row, 1, f, sizeof f), "running", "%s", row);
    /* NAME STATE VERSION STARTS STACK SERVED GS FDS UP PATH */
    cr_expect_str_neq(pl_field(row, 8, f, sizeof f), "-", "%s", row);
    free(row);
    char *m = adm_http(&d, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                           "Connection: close\r\n\r\n");
    cr_expect(m && strstr(m, "gorod_plugin_up{plugin=\"hello\"} 1"), "%s", m);
    free(m);
    adm_run r = adm_ctl(&d, "reload", (char *)NULL);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    cr_expect_eq(pl_starts(&d, "hello"), 1, "a reload that changed nothing "
                 "restarted it");
    /* Disabled: stop() ends its G; the entry goes. */
    snprintf(p, sizeof p, "  - {name: hello, path: %s, enabled: false}\n",
             TP("hello"));
    pl_write(&d, p);
    r = adm_ctl(&d, "reload", (char *)NULL);
    cr_expect_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    m = adm_http(&d, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n");
    cr_expect(m && !strstr(m, "gorod_plugin_up{plugin=\"hello\"} 1"), "%s", m);
    free(m);
    cr_assert_eq(adm_stop(&d), 0);
}
