/* test_operator.c - gorod as an operator first meets it: goroctl with no
 * --socket and no GOROD_SOCKET finds a gorod whose socket is its own (the
 * per-user record, src/gorod/sockrecord.h), gorod says where to connect,
 * a reload whose plugin fails to start has one verdict in the reply,
 * `goroctl status` and the metrics, and `make run`'s script moves the
 * ports of a file and names those taken. The real gorod and goroctl, each
 * test with an XDG_RUNTIME_DIR of its own. */
#include "admutil.h"

/* ops_init: d (adm_init) and XDG_RUNTIME_DIR=DIR/xdg for gorod and
 * goroctl, which inherit it. Skips when the system's socket is there:
 * goroctl with no socket would ask that gorod first. */
static void ops_init(adm_daemon *d, char *xdg, size_t len)
{
    struct stat st;
    if (lstat("/run/gorod/gorod.sock", &st) == 0)
        cr_skip_test("/run/gorod/gorod.sock is there: goroctl asks that "
                     "gorod first");
    adm_init(d, "ops");
    snprintf(xdg, len, "%s/xdg", d->dir);
    cr_assert_eq(mkdir(xdg, 0700), 0, "%s: %s", xdg, strerror(errno));
    cr_assert_eq(setenv("XDG_RUNTIME_DIR", xdg, 1), 0);
    unsetenv("GOROD_SOCKET");
}

/* ops_ctl runs `$GOROCTL args...` (NULL-terminated): no --socket, no
 * GOROD_SOCKET. */
static adm_run ops_ctl(const adm_daemon *d, ...)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = getenv("GOROCTL");
    ADM_ARGS(argv, n, d);
    return adm_ctlv(d, argv, true);
}

/* ops_log_wait waits up to ms for text in d's log. */
static bool ops_log_wait(adm_daemon *d, const char *text, int ms)
{
    int64_t deadline = adm_now_ms() + ms;
    do {
        char *log = adm_slurp(d->log);
        bool found = strstr(log, text) != NULL;
        free(log);
        if (found)
            return true;
        adm_sleep_ms(20);
    } while (adm_now_ms() < deadline);
    return false;
}

/* A listening loopback socket on a free port, held by the test. */
static int ops_hold_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    cr_assert(listen(fd, 4) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* ---- finding the daemon ------------------------------------------------------ */

/* A gorod whose socket is not the system's records its path for the user;
 * goroctl given no socket reads it and reaches that daemon; at exit the
 * record goes, and goroctl then names every place it looked. */
Test(operator, goroctl_with_no_socket_finds_the_gorod_of_this_user,
     .timeout = 60)
{
    adm_daemon d;
    char xdg[128], rec[192], *want;
    ops_init(&d, xdg, sizeof xdg);
    snprintf(rec, sizeof rec, "%s/gorod/socket", xdg);
    int port = adm_free_port();
    char p[1024];
    snprintf(p, sizeof p,
             "  - {name: echo, path: %s, args: \"listener=echo\"}\n"
             "  - {name: hello, path: %s}\n", EP("echo"), TP("hello"));
    char extra[256];
    snprintf(extra, sizeof extra, "listeners:\n  - {name: echo, address: "
             "\"127.0.0.1:%d\"}\n", port);
    adm_write_conf(&d, extra, p);
    adm_spawn(&d);
    adm_wait_ready(&d);

    char *r = adm_slurp(rec);
    cr_assert(asprintf(&want, "%s\n", d.sock) > 0);
    cr_expect_str_eq(r, want, "the record %s", rec);
    free(want);
    free(r);
    struct stat st;
    cr_assert_eq(stat(xdg, &st), 0);
    cr_expect_eq(stat(rec, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "%s: mode %o", rec,
                 (unsigned)(st.st_mode & 0777));

    adm_run c = ops_ctl(&d, "status", (char *)NULL);
    cr_expect_eq(c.status, 0, "goroctl status: exit %d\n%s", c.status, c.err);
    cr_assert(asprintf(&want, "pid:           %d\n", (int)d.pid) > 0);
    cr_expect(strstr(c.out, want) != NULL, "not this gorod:\n%s", c.out);
    free(want);
    adm_run_free(&c);

    /* Where to connect, once it runs: the listener's address, the
     * metrics' URL, and the goroctl line that needs no --socket. */
    cr_assert(ops_log_wait(&d, "info:   goroctl ", 5000));
    char *log = adm_slurp(d.log), *line;
    cr_expect(strstr(log, "info: where to connect:\n") != NULL, "%s", log);
    cr_assert(asprintf(&line, "  echo       127.0.0.1:%d (listener echo)\n",
                       port) > 0);
    cr_expect(strstr(log, line) != NULL, "no\n%sin\n%s", line, log);
    free(line);
    cr_expect(strstr(log, "  hello      no address in its args\n") != NULL,
              "%s", log);
    cr_assert(asprintf(&line, "  metrics    http://127.0.0.1:%d/metrics",
                       d.metrics_port) > 0);
    cr_expect(strstr(log, line) != NULL, "no\n%s\nin\n%s", line, log);
    free(line);
    cr_assert(asprintf(&line, "/goroctl status (it finds %s through %s)\n",
                       d.sock, rec) > 0);
    cr_expect(strstr(log, line) != NULL, "no\n%sin\n%s", line, log);
    free(line);
    free(log);

    /* Gone with the daemon: goroctl says where it looked. */
    char keep[128];
    snprintf(keep, sizeof keep, "%s", d.dir);
    kill(d.pid, SIGTERM);
    int wst;
    cr_assert_eq(waitpid(d.pid, &wst, 0), d.pid);
    d.pid = 0;
    cr_expect(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    cr_expect_neq(lstat(rec, &st), 0, "%s is left after exit", rec);
    c = ops_ctl(&d, "status", (char *)NULL);
    cr_expect_eq(c.status, 2);
    cr_expect(strstr(c.err, "/run/gorod/gorod.sock") != NULL &&
              strstr(c.err, rec) != NULL &&
              strstr(c.err, "--socket") && strstr(c.err, "GOROD_SOCKET"),
              "goroctl does not name every place it looked:\n%s", c.err);
    adm_run_free(&c);
    adm_stop(&d);
}

/* A record whose directory others may write to is neither written nor
 * read (anyone could point goroctl at a socket of theirs); a record
 * naming a socket that is gone is named as such. */
Test(operator, a_record_in_a_directory_others_can_write_is_not_used,
     .timeout = 60)
{
    adm_daemon d;
    char xdg[128], dir[160], rec[192];
    ops_init(&d, xdg, sizeof xdg);
    snprintf(dir, sizeof dir, "%s/gorod", xdg);
    snprintf(rec, sizeof rec, "%s/socket", dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(chmod(dir, 0777), 0);
    adm_write_conf(&d, NULL, " []\n");
    adm_spawn(&d);
    adm_wait_ready(&d);
    struct stat st;
    cr_expect_neq(lstat(rec, &st), 0, "a record was written in %s", dir);
    cr_expect(ops_log_wait(&d, "writable by others", 5000));
    cr_expect(ops_log_wait(&d, "--socket", 5000));

    /* A record planted there: not read. */
    char *text;
    cr_assert(asprintf(&text, "%s\n", d.sock) > 0);
    adm_writefile(rec, text);
    free(text);
    adm_run c = ops_ctl(&d, "status", (char *)NULL);
    cr_expect_eq(c.status, 2, "a record in a directory of mode 0777 was "
                 "used:\n%s", c.out);
    cr_expect(strstr(c.err, "writable by others: not used") != NULL, "%s",
              c.err);
    adm_run_free(&c);

    /* A record of ours naming a socket that is gone. */
    cr_assert_eq(chmod(dir, 0700), 0);
    cr_assert(asprintf(&text, "%s/gone.sock\n", d.dir) > 0);
    adm_writefile(rec, text);
    free(text);
    c = ops_ctl(&d, "status", (char *)NULL);
    cr_expect_eq(c.status, 2);
    cr_expect(strstr(c.err, "gone.sock, recorded in ") != NULL &&
              strstr(c.err, strerror(ENOENT)) != NULL, "%s", c.err);
    adm_run_free(&c);
    cr_assert_eq(adm_stop(&d), 0);
}

/* ---- one verdict for a reload ---------------------------------------------------
 * A reload that starts a plugin whose start() fails at once (here the
 * example httphello on a port the test holds) is not a success: goroctl
 * reload says so and exits 1, status and the metrics say the same, and
 * the next reload, with the port free, starts it again and is "ok". */
Test(operator, a_reload_whose_plugin_fails_to_start_has_one_verdict,
     .timeout = 60)
{
    adm_daemon d;
    char xdg[128];
    ops_init(&d, xdg, sizeof xdg);
    /* echo's start() runs as long as it serves: up = 1 (hello's returns
     * at once, leaving its G: up = 0, its start done). */
    char p[1024];
    int eport = adm_free_port();
    snprintf(p, sizeof p, "  - {name: echo, path: %s, args: \"port=%d\"}\n",
             EP("echo"), eport);
    adm_write_conf(&d, NULL, p);
    adm_spawn(&d);
    adm_wait_ready(&d);

    int port;
    int held = ops_hold_port(&port);
    snprintf(p, sizeof p,
             "  - {name: echo, path: %s, args: \"port=%d\"}\n"
             "  - {name: web, path: %s, args: \"port=%d\"}\n",
             EP("echo"), eport, EP("httphello"), port);
    adm_write_conf(&d, NULL, p);
    adm_run r = ops_ctl(&d, "reload", (char *)NULL);
    cr_expect_eq(r.status, 1, "a reload whose plugin failed: exit %d\n%s%s",
                 r.status, r.out, r.err);
    cr_expect(strstr(r.err, "error: reloaded") &&
              strstr(r.err, "1 plugin(s) failed to start") &&
              strstr(r.err, "plugin web: ") &&
              strstr(r.err, "start returned 1"), "the reply:\n%s", r.err);
    adm_run_free(&r);

    r = ops_ctl(&d, "status", (char *)NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strstr(r.out, "last_reload:   applied, 1 plugin(s) failed to "
                     "start") && strstr(r.out, "  plugin web: "),
              "status:\n%s", r.out);
    cr_expect(strstr(r.out, "1 running, 1 failed, 0 refused, 2 loaded"),
              "status:\n%s", r.out);
    cr_expect(strstr(r.out, "reloads:       1 (failed 1)"), "status:\n%s",
              r.out);
    adm_run_free(&r);

    r = ops_ctl(&d, "metrics", (char *)NULL);
    cr_expect(strstr(r.out, "gorod_plugin_up{plugin=\"web\"} 0\n") &&
              strstr(r.out, "gorod_plugin_up{plugin=\"echo\"} 1\n") &&
              strstr(r.out, "gorod_reloads_total 1\n") &&
              strstr(r.out, "gorod_reload_failures_total 1\n"),
              "metrics:\n%s", r.out);
    adm_run_free(&r);

    /* The port free: the failed plugin is started again. */
    close(held);
    r = ops_ctl(&d, "reload", (char *)NULL);
    cr_expect_eq(r.status, 0, "reload with the port free: exit %d\n%s%s",
                 r.status, r.out, r.err);
    adm_run_free(&r);
    r = ops_ctl(&d, "status", (char *)NULL);
    cr_expect(strstr(r.out, "last_reload:   ok\n") &&
              strstr(r.out, "2 running, 0 failed, 0 refused, 2 loaded") &&
              strstr(r.out, "reloads:       2 (failed 1)"),
              "status:\n%s", r.out);
    adm_run_free(&r);
    r = ops_ctl(&d, "metrics", (char *)NULL);
    cr_expect(strstr(r.out, "gorod_plugin_up{plugin=\"web\"} 1\n") &&
              strstr(r.out, "gorod_reload_failures_total 1\n"),
              "metrics:\n%s", r.out);
    adm_run_free(&r);
    cr_assert_eq(adm_stop(&d), 0);
}

/* ---- make run ----------------------------------------------------------------- */

/* scripts/run-gorod with PORTS=+N: every port of the file moved (not a
 * client's address, not port 0), the relative paths made absolute, and
 * the file still one gorod accepts; a port taken is named, with a PORTS
 * under which all are free, and gorod is not started. */
Test(operator, make_run_moves_the_ports_and_names_those_taken,
     .timeout = 60)
{
    const char *src = getenv("GOROD_SRCDIR"), *gorod = getenv("GOROD");
    if (src == NULL || gorod == NULL)
        cr_skip_test("GOROD_SRCDIR and GOROD (make test)");
    adm_daemon d;
    adm_init(&d, "run");
    char cfgdir[160], *cmd;
    snprintf(cfgdir, sizeof cfgdir, "%s/conf", d.dir);
    cr_assert_eq(mkdir(cfgdir, 0700), 0);
    char *text;
    cr_assert(asprintf(&text,
                       "admin:\n  socket: run/gorod.sock\n"
                       "metrics:\n  listen: 127.0.0.1:20001   # scraped\n"
                       "listeners:\n"
                       "  - name: echo\n    address: \"127.0.0.1:20002\"\n"
                       "  - name: any\n    address: 127.0.0.1:0\n"
                       "plugins:\n"
                       "  - name: web\n    path: ../p/web.so\n"
                       "    args: \"port=20003 redis=127.0.0.1:6379\"\n") > 0);
    char conf[200];
    snprintf(conf, sizeof conf, "%s/gorod.yaml", cfgdir);
    adm_writefile(conf, text);
    free(text);

    /* GOROD=echo: the script's last step prints what it would run. */
    cr_assert(asprintf(&cmd, "cd %s && sh scripts/run-gorod /bin/echo %s "
                       "+1000 %s/build > %s/run.out 2>&1", src, conf, d.dir,
                       d.dir) > 0);
    int st = system(cmd);
    free(cmd);
    char out[200];
    snprintf(out, sizeof out, "%s/run.out", d.dir);
    char *o = adm_slurp(out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run-gorod:\n%s", o);
    char moved[200], *want;
    snprintf(moved, sizeof moved, "%s/build/run/gorod.yaml", d.dir);
    cr_assert(asprintf(&want, "--foreground --config %s\n", moved) > 0);
    cr_expect(strstr(o, want) != NULL, "%s", o);
    free(want);
    free(o);
    char *m = adm_slurp(moved);
    cr_assert(asprintf(&want,
                       "admin:\n  socket: %s/run/gorod.sock\n"
                       "metrics:\n  listen: 127.0.0.1:21001   # scraped\n"
                       "listeners:\n"
                       "  - name: echo\n    address: \"127.0.0.1:21002\"\n"
                       "  - name: any\n    address: 127.0.0.1:0\n"
                       "plugins:\n"
                       "  - name: web\n    path: %s/../p/web.so\n"
                       "    args: \"port=21003 redis=127.0.0.1:6379\"\n",
                       cfgdir, cfgdir) > 0);
    cr_expect_str_eq(m, want);
    free(want);
    free(m);
    cr_assert(asprintf(&cmd, "%s --check --config %s > /dev/null", gorod,
                       moved) > 0);
    cr_expect_eq(system(cmd), 0, "gorod --check refuses %s", moved);
    free(cmd);

    /* A port of the file taken: named, with a way out, and no gorod. */
    int port;
    int held = ops_hold_port(&port);
    cr_assert(asprintf(&text, "listeners:\n  - name: echo\n    address: "
                       "127.0.0.1:%d\n", port) > 0);
    adm_writefile(conf, text);
    free(text);
    cr_assert(asprintf(&cmd, "cd %s && sh scripts/run-gorod /bin/echo %s "
                       "'' %s/build > %s/run.out 2>&1", src, conf, d.dir,
                       d.dir) > 0);
    st = system(cmd);
    free(cmd);
    close(held);
    o = adm_slurp(out);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "run-gorod:\n%s", o);
    char *portstr;
    cr_assert(asprintf(&portstr, "port(s) %d of %s already taken", port,
                       conf) > 0);
    cr_expect(strstr(o, portstr) != NULL, "%s", o);
    cr_expect(strstr(o, "make run PORTS=+") != NULL, "%s", o);
    cr_expect(strstr(o, "--foreground") == NULL, "gorod was started:\n%s",
              o);
    free(portstr);
    free(o);
    adm_stop(&d);
}
