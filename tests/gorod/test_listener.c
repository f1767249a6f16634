/*
 * test_listener.c - gorod's named listeners (listener.c): a socket the
 * daemon holds while the plugin that accepts on it restarts, and the
 * sockets systemd passes it (LISTEN_FDS).
 *
 * Each test runs the real gorod as admutil.h starts it, with the echo
 * example plugin taking its listener by name (args listener=NAME), and
 * plain clients: blocking sockets in threads of this process, which count
 * what the kernel says to each connect. A listener at 127.0.0.1:0 gets
 * its port from the kernel; gorod's log line "listener NAME: listening on
 * 127.0.0.1:PORT" gives it back. systemd-socket-activate (Debian's
 * systemd package) starts gorod the way systemd's socket units do; where
 * it is missing, that test skips and the test that sets LISTEN_FDS,
 * LISTEN_PID and LISTEN_FDNAMES itself, as sd_listen_fds(3) documents,
 * still runs.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "admutil.h"

/* ---- helpers -------------------------------------------------------------- */

/* lt_conf writes d's configuration: the admin socket, no metrics, the
 * text of listeners and plugins as given. */
static void lt_conf(adm_daemon *d, const char *rest)
{
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n  level: debug\n  target: stderr\n"
                       "admin:\n  socket: %s\n  mode: 0600\n"
                       "metrics:\n  listen: \"\"\n"
                       "status_interval: 0\nshutdown_timeout: 5s\n%s",
                       d->sock, rest) > 0);
    adm_writefile(d->conf, text);
    free(text);
}

/* lt_echo: the echo plugin's path, or the test skips. */
static const char *lt_echo(void)
{
    static char path[512];
    const char *pdir = getenv("GOROD_PLUGINS");
    if (pdir == NULL)
        cr_skip_test("GOROD_PLUGINS names the example plugins (make test)");
    snprintf(path, sizeof path, "%s/echo.so", pdir);
    return path;
}

/* lt_count: how many times s occurs in text. */
static int lt_count(const char *text, const char *s)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, s)) != NULL; p += strlen(s))
        n++;
    return n;
}

/* lt_logged_port: the port of the log's line "listener NAME: listening on
 * HOST:PORT" or "... HOST:PORT from systemd", waiting up to 5 s; 0 when
 * none. */
static int lt_logged_port(const adm_daemon *d, const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "listener %s: ", name);
    int64_t deadline = adm_now_ms() + 5000;
    do {
        char *log = adm_slurp(d->log);
        char *at = strstr(log, key);
        int port = 0;
        if (at != NULL) {
            at += strlen(key);
            if (strncmp(at, "listening on ", 13) == 0)
                at += 13;
            at[strcspn(at, " \n")] = '\0';
            char *colon = strrchr(at, ':');
            if (colon != NULL)
                port = atoi(colon + 1);
        }
        free(log);
        if (port > 0)
            return port;
        adm_sleep_ms(20);
    } while (adm_now_ms() < deadline);
    return 0;
}

/* Outcomes of one client connection: echoed; refused (the connect met a
 * reset: nothing listened, or the connection was dropped from a closing
 * listener's backlog); cut (connected, but the echo did not come back: a
 * stopping echo closed it); failed (another error of connect). */
enum { LT_ECHOED, LT_REFUSED, LT_CUT, LT_FAILED, LT_OUTCOMES };

/* lt_echo_once connects to port, sends a line and reads it back. Runs in
 * the client threads: no assertion here. */
static int lt_echo_once(int port)
{
    int fd = adm_tcp_connect(port);
    if (fd == -ECONNREFUSED || fd == -ECONNRESET)
        return LT_REFUSED;
    if (fd < 0)
        return LT_FAILED;
    static const char msg[] = "ping\n";
    char buf[sizeof msg];
    size_t got = 0;
    if (send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL) == sizeof msg - 1)
        while (got < sizeof msg - 1) {
            ssize_t n = read(fd, buf + got, sizeof msg - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
    close(fd);
    return got == sizeof msg - 1 && memcmp(buf, msg, got) == 0 ? LT_ECHOED
                                                                : LT_CUT;
}

/* Clients connecting in a loop until stop is set. */
struct lt_load {
    int port;
    atomic_bool stop;
    atomic_long n[LT_OUTCOMES];           /* by outcome */
};

static void *lt_client(void *arg)
{
    struct lt_load *l = arg;
    while (!atomic_load(&l->stop))
        atomic_fetch_add(&l->n[lt_echo_once(l->port)], 1);
    return NULL;
}

#define LT_CLIENTS 4

/* lt_reloads runs n reloads through goroctl, each with the configuration
 * conf[i % 2], while LT_CLIENTS clients connect to port in a loop, and
 * returns their counts in out. */
static void lt_reloads(adm_daemon *d, int port, const char *const conf[2],
                       int n, long out[LT_OUTCOMES])
{
    struct lt_load load = {.port = port};
    pthread_t t[LT_CLIENTS];
    for (int i = 0; i < LT_CLIENTS; i++)
        cr_assert(pthread_create(&t[i], NULL, lt_client, &load) == 0);
    for (int i = 0; i < n; i++) {
        lt_conf(d, conf[(i + 1) % 2]);
        adm_run r = adm_ctl(d, "reload", NULL);
        cr_assert_eq(r.status, 0, "reload %d: %s%s", i, r.out, r.err);
        adm_run_free(&r);
    }
    atomic_store(&load.stop, true);
    for (int i = 0; i < LT_CLIENTS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < LT_OUTCOMES; i++)
        out[i] = atomic_load(&load.n[i]);
    cr_log_info("%d reloads: %ld connections echoed, %ld refused, %ld cut, "
                "%ld failed", n, out[LT_ECHOED], out[LT_REFUSED], out[LT_CUT],
                out[LT_FAILED]);
}

/* ---- reloads ---------------------------------------------------------------- */

/* The two configurations differ in echo's entry only (a blank in its
 * args, which echo reads as the same arguments): every reload stops the
 * running echo and starts a new one, as a changed entry does. */
Test(listener, a_hundred_reloads_that_restart_the_plugin_refuse_no_connection,
     .timeout = 300)
{
    adm_daemon d;
    adm_init(&d, "listener");
    const char *echo = lt_echo();
    char *conf[2];
    for (int i = 0; i < 2; i++)
        cr_assert(asprintf(&conf[i],
                           "listeners:\n"
                           "  - name: echo\n"
                           "    address: 127.0.0.1:0\n"
                           "plugins:\n"
                           "  - name: echo\n"
                           "    path: %s\n"
                           "    args: \"listener=echo%s\"\n",
                           echo, i ? " " : "") > 0);
    lt_conf(&d, conf[0]);
    adm_spawn(&d);
    adm_wait_ready(&d);
    int port = lt_logged_port(&d, "echo");
    cr_assert(port > 0, "no listener line in the log");

    long n[LT_OUTCOMES];
    lt_reloads(&d, port, (const char *const *)conf, 100, n);
    char *log = adm_slurp(d.log);
    int restarts = lt_count(log, "reload: plugin echo changed");
    int opened = lt_count(log, "listener echo: listening on");
    free(log);
    cr_expect_eq(restarts, 100, "echo restarted %d times in 100 reloads",
                 restarts);
    cr_expect_eq(opened, 1, "the listener was opened %d times", opened);
    cr_expect_eq(n[LT_REFUSED], 0,
                 "%ld of %ld connections refused across 100 restarts "
                 "(%ld echoed, %ld cut by a stopping echo)", n[LT_REFUSED],
                 n[0] + n[1] + n[2] + n[3], n[LT_ECHOED], n[LT_CUT]);
    cr_expect_eq(n[LT_FAILED], 0, "%ld connects failed otherwise",
                 n[LT_FAILED]);
    cr_expect_gt(n[LT_ECHOED], 100, "only %ld connections echoed",
                 n[LT_ECHOED]);
    cr_expect_eq(lt_echo_once(port), LT_ECHOED);
    cr_expect_eq(adm_stop(&d), 0);
    free(conf[0]);
    free(conf[1]);
}

/* The same load and restarts with echo opening its own port: the counting
 * above sees refusals when there are some. */
Test(listener, a_plugin_that_opens_its_own_port_refuses_connections_while_it_restarts,
     .timeout = 300)
{
    adm_daemon d;
    adm_init(&d, "ownport");
    const char *echo = lt_echo();
    int port = adm_free_port();
    char *conf[2];
    for (int i = 0; i < 2; i++)
        cr_assert(asprintf(&conf[i],
                           "plugins:\n"
                           "  - name: echo\n"
                           "    path: %s\n"
                           "    args: \"port=%d%s\"\n",
                           echo, port, i ? " " : "") > 0);
    lt_conf(&d, conf[0]);
    adm_spawn(&d);
    adm_wait_ready(&d);
    long n[LT_OUTCOMES];
    lt_reloads(&d, port, (const char *const *)conf, 100, n);
    cr_expect_gt(n[LT_REFUSED], 0,
                 "no connection refused across 100 restarts of a plugin "
                 "that closes its port (%ld echoed, %ld cut)", n[LT_ECHOED],
                 n[LT_CUT]);
    cr_expect_eq(adm_stop(&d), 0);
    free(conf[0]);
    free(conf[1]);
}

Test(listener, a_removed_listener_is_closed_once_its_plugin_has_stopped,
     .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "removed");
    const char *echo = lt_echo();
    char *text;
    cr_assert(asprintf(&text,
                       "listeners:\n"
                       "  - name: echo\n"
                       "    address: 127.0.0.1:0\n"
                       "plugins:\n"
                       "  - name: echo\n"
                       "    path: %s\n"
                       "    args: \"listener=echo\"\n", echo) > 0);
    lt_conf(&d, text);
    free(text);
    adm_spawn(&d);
    adm_wait_ready(&d);
    int port = lt_logged_port(&d, "echo");
    cr_assert(port > 0, "no listener line in the log");
    cr_assert_eq(lt_echo_once(port), LT_ECHOED);
    adm_run st = adm_ctl(&d, "status", NULL);
    char want[96];
    snprintf(want, sizeof want, "\nlisteners:     echo 127.0.0.1:%d\n", port);
    cr_expect(strstr(st.out, want) != NULL, "no\n%s\nin\n%s", want, st.out);
    adm_run_free(&st);

    lt_conf(&d, "plugins: []\n");
    adm_run r = adm_ctl(&d, "reload", NULL);
    cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
    adm_run_free(&r);
    cr_expect_eq(lt_echo_once(port), LT_REFUSED);
    char *log = adm_slurp(d.log);
    char *stopped = strstr(log, "plugin echo: start returned 0");
    char *closed = strstr(log, "listener echo: 127.0.0.1:");
    cr_expect(stopped != NULL && closed != NULL && stopped < closed &&
              strstr(closed, "closed") != NULL,
              "the listener was not closed after echo stopped:\n%s", log);
    free(log);
    cr_expect_eq(adm_stop(&d), 0);
}

Test(listener, a_listener_that_cannot_be_opened_is_in_the_reload_verdict,
     .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "badaddr");
    lt_conf(&d, "plugins: []\n");
    adm_spawn(&d);
    adm_wait_ready(&d);
    /* TEST-NET-1: no address of this machine. */
    lt_conf(&d, "listeners:\n  - {name: web, address: \"192.0.2.1:7\"}\n"
                "plugins: []\n");
    adm_run r = adm_ctl(&d, "reload", NULL);
    cr_expect_neq(r.status, 0);
    /* goroctl writes an error reply to its stderr. */
    cr_expect(strstr(r.err, ", but 0 plugin(s) refused, 1 listener(s) not "
                            "opened (the rest of the new configuration is "
                            "in effect)") != NULL, "%s%s", r.out, r.err);
    cr_expect(strstr(r.err, "listener web: cannot listen on 192.0.2.1:7: ")
              != NULL, "%s%s", r.out, r.err);
    adm_run_free(&r);
    r = adm_ctl(&d, "status", NULL);
    cr_expect(strstr(r.out, "last_reload:   applied, 0 plugin(s) refused, "
                            "1 listener(s) not opened") != NULL, "%s", r.out);
    adm_run_free(&r);
    cr_expect_eq(adm_stop(&d), 0);
}

Test(listener, a_plugin_asking_for_an_unknown_listener_is_told_its_name,
     .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "unknown");
    const char *echo = lt_echo();
    char *text;
    cr_assert(asprintf(&text,
                       "plugins:\n"
                       "  - name: echo\n"
                       "    path: %s\n"
                       "    args: \"listener=web\"\n", echo) > 0);
    lt_conf(&d, text);
    free(text);
    adm_spawn(&d);
    adm_wait_ready(&d);
    int64_t deadline = adm_now_ms() + 5000;
    char *log = NULL;
    do {
        free(log);
        adm_sleep_ms(20);
        log = adm_slurp(d.log);
    } while (strstr(log, "start returned 1") == NULL &&
             adm_now_ms() < deadline);
    cr_expect(strstr(log, "echo: listener web: gorod's configuration has no "
                          "listener of that name") != NULL, "%s", log);
    free(log);
    adm_stop(&d);
}

/* ---- systemd's sockets ------------------------------------------------------ */

/* The configured address is one gorod cannot bind (TEST-NET-1 is no
 * address of this machine): the echo that answers is on systemd's socket. */
#define LT_UNBINDABLE "192.0.2.1:7"

static void lt_activation_conf(adm_daemon *d, const char *echo)
{
    char *text;
    cr_assert(asprintf(&text,
                       "listeners:\n"
                       "  - name: echo\n"
                       "    address: " LT_UNBINDABLE "\n"
                       "plugins:\n"
                       "  - name: echo\n"
                       "    path: %s\n"
                       "    args: \"listener=echo\"\n", echo) > 0);
    lt_conf(d, text);
    free(text);
}

Test(listener, systemd_socket_activate_hands_gorod_its_named_socket,
     .timeout = 60)
{
    const char *sa = "/usr/bin/systemd-socket-activate";
    if (access(sa, X_OK) != 0)
        cr_skip_test("%s is missing (Debian package systemd)", sa);
    adm_daemon d;
    adm_init(&d, "activate");
    const char *echo = lt_echo();
    lt_activation_conf(&d, echo);
    const char *gorod = getenv("GOROD");

    /* systemd-socket-activate takes no port 0: a free port, tried again
     * should another process take it first. */
    int port = 0;
    for (int attempt = 0; attempt < 5 && port == 0; attempt++) {
        int p = adm_free_port();
        char listen[32];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", p);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            int fd = open(d.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                          0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execl(sa, sa, "-l", listen, "--fdname=echo", gorod,
                  "--foreground", "--config", d.conf, (char *)NULL);
            _exit(127);
        }
        d.pid = pid;
        /* It listens, then execs gorod at the first connection, which
         * waits in the socket's backlog meanwhile. */
        int64_t deadline = adm_now_ms() + 5000;
        char *log = NULL;
        bool listening = false;
        while (adm_now_ms() < deadline && adm_alive(&d)) {
            free(log);
            log = adm_slurp(d.log);
            if ((listening = strstr(log, "Listening on") != NULL))
                break;
            adm_sleep_ms(20);
        }
        free(log);
        if (listening) {
            port = p;
        } else {
            kill(d.pid, SIGKILL);
            waitpid(d.pid, NULL, 0);
            d.pid = 0;
        }
    }
    cr_assert(port > 0, "systemd-socket-activate did not listen");
    cr_expect_eq(lt_echo_once(port), LT_ECHOED);
    adm_wait_ready(&d);
    cr_expect_eq(lt_echo_once(port), LT_ECHOED);
    char *log = adm_slurp(d.log);
    cr_expect(strstr(log, "listener echo: 127.0.0.1:") != NULL &&
              strstr(log, "from systemd (LISTEN_FDS)") != NULL, "%s", log);
    free(log);
    cr_expect_eq(adm_stop(&d), 0);
}

Test(listener, gorod_takes_sockets_named_by_listen_fdnames_as_sd_listen_fds_documents,
     .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "listenfds");
    const char *echo = lt_echo();
    lt_activation_conf(&d, echo);
    const char *gorod = getenv("GOROD");

    /* Two sockets, as systemd passes them: fds 3 and 4, named in order. */
    int s[2];
    int port = 0;
    for (int i = 0; i < 2; i++) {
        s[i] = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(s[i] >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof sa;
        cr_assert(bind(s[i], (struct sockaddr *)&sa, sizeof sa) == 0);
        cr_assert(listen(s[i], 128) == 0);
        cr_assert(getsockname(s[i], (struct sockaddr *)&sa, &sl) == 0);
        if (i == 1)
            port = ntohs(sa.sin_port);
    }
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(d.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        /* Above 4 first, so that neither dup2 closes the other's. */
        int a = fcntl(s[0], F_DUPFD, 10), b = fcntl(s[1], F_DUPFD, 10);
        if (a < 0 || b < 0 || dup2(a, 3) != 3 || dup2(b, 4) != 4)
            _exit(126);
        close(a);
        close(b);
        char pidbuf[16];
        snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
        setenv("LISTEN_PID", pidbuf, 1);
        setenv("LISTEN_FDS", "2", 1);
        setenv("LISTEN_FDNAMES", "spare:echo", 1);
        execl(gorod, gorod, "--foreground", "--config", d.conf,
              (char *)NULL);
        _exit(127);
    }
    d.pid = pid;
    close(s[0]);
    close(s[1]);
    adm_wait_ready(&d);
    cr_expect_eq(lt_echo_once(port), LT_ECHOED);
    char *log = adm_slurp(d.log);
    char want[96];
    snprintf(want, sizeof want, "listener echo: 127.0.0.1:%d from systemd",
             port);
    cr_expect(strstr(log, want) != NULL, "%s", log);
    adm_run st = adm_ctl(&d, "status", NULL);
    snprintf(want, sizeof want, "listeners:     echo 127.0.0.1:%d (systemd)\n",
             port);
    cr_expect(strstr(st.out, want) != NULL, "no\n%s\nin\n%s", want, st.out);
    adm_run_free(&st);
    cr_expect(strstr(log, "LISTEN_FDS: socket spare (fd 3) is named by no "
                          "listener") != NULL, "%s", log);
    free(log);
    cr_expect_eq(adm_stop(&d), 0);
}
