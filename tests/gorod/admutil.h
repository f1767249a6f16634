/*
 * admutil.h - a real gorod in a scratch directory, and plain clients of its
 * admin socket and metrics listener, for the admin and metrics tests.
 *
 * adm_start writes a configuration into a mkdtemp directory (the admin
 * socket inside it, the metrics listener on a free loopback port, the echo
 * example plugin on another when $GOROD_PLUGINS has it), starts
 * `$GOROD --foreground --config FILE` with its output in DIR/gorod.log and
 * waits until the socket answers; adm_stop sends SIGTERM, reaps it (SIGKILL
 * after a deadline) and removes the directory. adm_ctl runs $GOROCTL and
 * captures both of its streams.
 *
 * Everything is static inline, prefixed adm_: each test file that includes
 * this gets its own copy and nothing clashes with the other helpers.
 */
#ifndef GOROD_TEST_ADMUTIL_H
#define GOROD_TEST_ADMUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

typedef struct adm_daemon {
    char  dir[64];
    char  conf[128];
    char  sock[128];
    char  log[128];
    int   metrics_port;
    int   echo_port;        /* 0 when the echo plugin is not configured */
    int   nofile;           /* RLIMIT_NOFILE for gorod; 0: inherited */
    pid_t pid;
} adm_daemon;

typedef struct adm_opts {
    unsigned mode;          /* admin.mode; 0: 0600 */
    bool     no_plugins;
    int      nofile;        /* RLIMIT_NOFILE for gorod; 0: inherited */
    const char *knobs;      /* the runtime's keys, YAML; NULL: none */
    const char *plugin;     /* a test plugin (TP) instead of echo */
} adm_opts;

static inline int64_t adm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void adm_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* adm_slurp: the whole file at path, malloc'd ("" when unreadable). */
static inline char *adm_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert(buf != NULL);
    if (f) {
        size_t n;
        while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
            len += n;
            if (cap - len < 2) {
                cap *= 2;
                buf = realloc(buf, cap);
                cr_assert(buf != NULL);
            }
        }
        fclose(f);
    }
    buf[len] = '\0';
    return buf;
}

static inline void adm_writefile(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert(fclose(f) == 0);
}

/* adm_free_port: a loopback TCP port nothing listens on right now. */
static inline int adm_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* adm_unix_connect: a connected unix socket to path, or -errno. */
static inline int adm_unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* adm_write_conf writes d's configuration: quiet logging to stderr, d's
 * admin socket and metrics port, the extra top-level keys (or NULL) and
 * the given plugins section. */
static inline void adm_write_conf(adm_daemon *d, const char *extra,
                                  const char *plugins)
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

/* adm_plugin: the path of plugin name in the directory $dirvar names
 * (the test skips when make test did not set it); TP for the test
 * plugins, EP for the examples. Eight paths live at once. */
static inline char *adm_plugin(const char *dirvar, const char *name)
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
#define TP(name) adm_plugin("GOROD_TESTPLUGINS", name)
#define EP(name) adm_plugin("GOROD_PLUGINS", name)

/* adm_tcp_connect: a connected socket to 127.0.0.1:port, or -errno. */
static inline int adm_tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* adm_tcp_connect_wait: adm_tcp_connect, retried for up to ms while the
 * port refuses: a plugin listens once its start() got that far, which may
 * be after the admin socket answers. */
static inline int adm_tcp_connect_wait(int port, int ms)
{
    int64_t deadline = adm_now_ms() + ms;
    int fd;
    while ((fd = adm_tcp_connect(port)) < 0 && adm_now_ms() < deadline)
        adm_sleep_ms(20);
    return fd;
}

/* adm_read_all reads fd to its end (or a reset/timeout after some data)
 * into a malloc'd string. */
static inline char *adm_read_all(int fd, size_t *lenp)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    cr_assert(buf != NULL);
    for (;;) {
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf != NULL);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

/* adm_raw sends data (as given: no newline added) to the admin socket and
 * returns the whole reply, malloc'd. */
static inline char *adm_raw(const adm_daemon *d, const char *data, size_t len)
{
    int fd = adm_unix_connect(d->sock);
    cr_assert(fd >= 0, "connect %s: %s", d->sock, strerror(-fd));
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;                  /* refused early: read the reply */
        off += (size_t)n;
    }
    char *r = adm_read_all(fd, NULL);
    close(fd);
    return r;
}

static inline bool adm_alive(const adm_daemon *d)
{
    return d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

/* adm_init: a fresh directory /tmp/gorod-NAME-XXXXXX for d's
 * configuration, socket and log, and a free port for the metrics. Skips
 * the test when $GOROD or $GOROCTL is not set. */
static inline void adm_init(adm_daemon *d, const char *name)
{
    if (getenv("GOROD") == NULL || getenv("GOROCTL") == NULL)
        cr_skip_test("GOROD and GOROCTL name the binaries (make test)");
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/gorod-%s-XXXXXX", name);
    cr_assert(mkdtemp(d->dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(d->conf, sizeof d->conf, "%s/gorod.yaml", d->dir);
    snprintf(d->sock, sizeof d->sock, "%s/gorod.sock", d->dir);
    snprintf(d->log, sizeof d->log, "%s/gorod.log", d->dir);
    d->metrics_port = adm_free_port();
}

/* adm_spawn starts `$GOROD --foreground --config d->conf`, its output into
 * d->log. */
/* adm_orphan_dies: in a child just forked, that the child is killed when
 * the test's process ends, as a failed assertion ends it before the test
 * could stop its daemon (a gorod left running its spinner plugin would
 * load the machine under every test after it). */
static inline void adm_orphan_dies(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(125);  /* the parent ended before the prctl */
}

static inline void adm_spawn(adm_daemon *d)
{
    const char *gorod = getenv("GOROD");
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        adm_orphan_dies(parent);
        int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (d->nofile > 0) {
            struct rlimit rl = {(rlim_t)d->nofile, (rlim_t)d->nofile};
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        execl(gorod, gorod, "--foreground", "--config", d->conf,
              (char *)NULL);
        _exit(127);
    }
    d->pid = pid;
}

/* adm_wait_ready waits until gorod has started its plugins ("running:" in
 * the log) and then its admin socket answers (it opened before they
 * started); fails the test (with the log) when gorod exits first or after
 * 15 s. The log first: a connection accepted before the plugins started
 * would hold a descriptor that a plugin taking every one (fdhog) would
 * otherwise have, and free it once the plugin is done taking. */
static inline void adm_wait_ready(adm_daemon *d)
{
    int64_t deadline = adm_now_ms() + 15000;
    for (;;) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = 0;
            char *log = adm_slurp(d->log);
            cr_assert_fail("gorod exited at start-up (status 0x%x):\n%s", st, log);
        }
        char *log = adm_slurp(d->log);
        bool up = strstr(log, "running: ") != NULL;
        free(log);
        if (up) {
            int fd = adm_unix_connect(d->sock);
            if (fd >= 0) {
                close(fd);
                return;
            }
        }
        if (adm_now_ms() > deadline) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, NULL, 0);
            d->pid = 0;
            char *log = adm_slurp(d->log);
            cr_assert_fail("%s did not appear within 15s:\n%s", d->sock, log);
        }
        adm_sleep_ms(20);
    }
}

/* adm_start starts gorod as o says and waits until its admin socket
 * answers. */
static inline void adm_start(adm_daemon *d, const adm_opts *o)
{
    adm_init(d, "admin");

    char plugins[1024] = "plugins: []\n";
    const char *pdir = getenv("GOROD_PLUGINS");
    char echo[512];
    if (o && o->plugin) {
        snprintf(plugins, sizeof plugins,
                 "plugins:\n"
                 "  - name: %s\n"
                 "    path: %s\n", o->plugin, TP(o->plugin));
    } else if (pdir && !(o && o->no_plugins)) {
        snprintf(echo, sizeof echo, "%s/echo.so", pdir);
        if (access(echo, R_OK) == 0) {
            do
                d->echo_port = adm_free_port();
            while (d->echo_port == d->metrics_port);
            snprintf(plugins, sizeof plugins,
                     "plugins:\n"
                     "  - name: echo\n"
                     "    path: %s\n"
                     "    args: \"port=%d\"\n", echo, d->echo_port);
        }
    }
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n"
                       "  level: debug\n"
                       "  target: stderr\n"
                       "admin:\n"
                       "  socket: %s\n"
                       "  mode: %04o\n"
                       "metrics:\n"
                       "  listen: 127.0.0.1:%d\n"
                       "status_interval: 0\n"
                       "shutdown_timeout: 5s\n"
                       "%s%s",
                       d->sock, o && o->mode ? o->mode : 0600,
                       d->metrics_port, plugins,
                       o && o->knobs ? o->knobs : "") > 0);
    adm_writefile(d->conf, text);
    free(text);
    d->nofile = o ? o->nofile : 0;
    adm_spawn(d);
    adm_wait_ready(d);
}

static inline int adm_rm1(const char *path, const struct stat *st, int flag,
                          struct FTW *ftw)
{
    return remove(path);
}

/* adm_stop: SIGTERM, reap (SIGKILL after 15s), remove the directory.
 * Returns the exit status (128 + the signal when killed), -1 if none ran;
 * a gorod that did not exit 0 has its log printed first. */
static inline int adm_stop(adm_daemon *d)
{
    int ret = -1;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        int64_t deadline = adm_now_ms() + 15000;
        int st = 0;
        pid_t r;
        while ((r = waitpid(d->pid, &st, WNOHANG)) == 0 &&
               adm_now_ms() < deadline)
            adm_sleep_ms(10);
        if (r == 0) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &st, 0);
        }
        if (r == d->pid || r == 0)
            ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        d->pid = 0;
        if (ret != 0 && d->dir[0]) {
            /* The log goes with the directory: show it while it is here. */
            char *log = adm_slurp(d->log);
            fprintf(stderr, "gorod (%s) exited with status %d; its log:\n%s\n",
                    d->dir, ret, log ? log : "(none)");
            free(log);
        }
    }
    if (d->dir[0]) {
        nftw(d->dir, adm_rm1, 16, FTW_DEPTH | FTW_PHYS);
        d->dir[0] = '\0';
    }
    return ret;
}

/* A goroctl run: both streams, whole, and its exit status. */
typedef struct adm_run {
    char *out, *err;
    int   status;           /* exit status, or 128 + the signal */
} adm_run;

static inline void adm_run_free(adm_run *r)
{
    free(r->out);
    free(r->err);
}

/* adm_ctlv runs `$GOROCTL args` (argv NULL-terminated, argv[0] the
 * program) with its output in d's directory; unsetsock: without
 * GOROD_SOCKET in its environment. */
static inline adm_run adm_ctlv(const adm_daemon *d, const char **argv,
                               bool unsetsock)
{
    char out[160], err[160];
    snprintf(out, sizeof out, "%s/ctl.out", d->dir);
    snprintf(err, sizeof err, "%s/ctl.err", d->dir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        if (unsetsock)
            unsetenv("GOROD_SOCKET");
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    int st;
    cr_assert(waitpid(pid, &st, 0) == pid);
    adm_run r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = adm_slurp(out);
    r.err = adm_slurp(err);
    return r;
}

/* ADM_ARGS appends the NULL-terminated arguments after last to argv (n
 * words in it already, room for 32). */
#define ADM_ARGS(argv, n, last)                                                \
    do {                                                                       \
        va_list ap;                                                            \
        va_start(ap, last);                                                    \
        const char *a;                                                         \
        while ((a = va_arg(ap, const char *)) != NULL && (n) < 31)             \
            (argv)[(n)++] = a;                                                 \
        va_end(ap);                                                            \
        (argv)[n] = NULL;                                                      \
    } while (0)

/* adm_ctl runs `$GOROCTL --socket SOCK args...` (NULL-terminated). */
static inline adm_run adm_ctl(const adm_daemon *d, ...)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = getenv("GOROCTL");
    argv[n++] = "--socket";
    argv[n++] = d->sock;
    ADM_ARGS(argv, n, d);
    return adm_ctlv(d, argv, false);
}

/* adm_http sends req to the metrics listener and reads the whole response
 * (the request should say Connection: close), malloc'd. Retries the
 * connect for a while: the listener may start after the admin socket. */
static inline char *adm_http(const adm_daemon *d, const char *req)
{
    int fd = -ECONNREFUSED;
    int64_t deadline = adm_now_ms() + 5000;
    while ((fd = adm_tcp_connect(d->metrics_port)) < 0 &&
           adm_now_ms() < deadline)
        adm_sleep_ms(20);
    cr_assert(fd >= 0, "connect 127.0.0.1:%d: %s", d->metrics_port,
              strerror(-fd));
    size_t len = strlen(req);
    cr_assert(send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len);
    char *r = adm_read_all(fd, NULL);
    close(fd);
    return r;
}

#endif
