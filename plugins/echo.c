/*
 * echo.c - a TCP echo server as a gorod task plugin.
 *
 * The smallest useful network plugin, and the shape of every server built on
 * goro: one G accepts, one G per connection reads a chunk and writes it
 * back. Each goro_accept/goro_read/goro_write that would block parks only
 * its G; the plugin holds no thread of its own. Every chunk echoed counts as
 * one request served (goro_plugin_served), which gorod shows per plugin.
 *
 * Arguments (space-separated key=value): port=N (1..65535, default 7007),
 * host=ADDR (a numeric IPv4 or IPv6 address, default 127.0.0.1). An unknown
 * key or a bad value is reported on stderr and start returns 1.
 *
 * start runs the accept loop itself and returns when the plugin's work is
 * done: after stop, once the listener is closed and every connection G has
 * finished (a wait group). It returns 0 then, or nonzero at once when the
 * arguments are bad or the port cannot be bound.
 *
 * Stopping: stop runs in another G. It must wake the listener parked in
 * goro_accept and every connection parked in goro_read or goro_write, but it
 * must not close their fds: a G between loading an fd and its system call
 * would then use a number the kernel may already have handed to someone
 * else. So stop only shuts the sockets down (shutdown(2) frees nothing): the
 * parked Gs wake (accept fails, read sees end of file, write fails) and each
 * G closes its own fd with goro_close. The set of open connections is a list
 * under a goro_mutex; a connection leaves it before its fd is closed, so stop
 * never shuts down a number that was reused. The mutex is made when the
 * object is loaded, so stop may come at any time, even before start or after
 * it failed. The wait group lives as long as the object too: a G's
 * goro_wg_done may still be inside the wait group (taking its lock to wake
 * the waiter) when goro_wg_wait has already returned, so freeing it at the
 * end of start would free it under that G; at unload every G has ended.
 *
 * State is global: one instance per loaded object (gorod loads each plugin
 * entry once). A connection's state is on the heap and handed to its G, as
 * the copying stacks require; its buffer is on the heap too.
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PLUGIN   "echo"
#define BUFSIZE  16384

typedef struct conn {
    int fd;
    struct conn *prev, *next;   /* in conns, under mu */
} conn;

static goro_mutex *mu;          /* guards listen_fd, stopping and conns */
static int listen_fd = -1;
static bool stopping;
static conn *conns;
static goro_wg *wg;             /* the connection Gs */

__attribute__((constructor)) static void echo_init(void)
{
    mu = goro_mutex_new();
    wg = goro_wg_new();
}

__attribute__((destructor)) static void echo_fini(void)
{
    goro_mutex_free(mu);
    goro_wg_free(wg);
    mu = NULL;
    wg = NULL;
}

/* parse_int: all of s as a decimal integer in [lo, hi]. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* parse_args: fills *port and host (a buffer of hostlen bytes); false after
 * printing what is wrong. */
static bool parse_args(const char *args, int *port, char *host, size_t hostlen)
{
    char *copy = strdup(args ? args : "");
    if (copy == NULL) {
        fprintf(stderr, "%s: out of memory\n", PLUGIN);
        return false;
    }
    bool ok = true;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t", &save); tok != NULL && ok;
         tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            fprintf(stderr, "%s: argument '%s' is not key=value\n", PLUGIN, tok);
            ok = false;
            break;
        }
        *eq = '\0';
        const char *key = tok, *val = eq + 1;
        long v;
        if (strcmp(key, "port") == 0) {
            if (parse_int(val, 1, 65535, &v)) {
                *port = (int)v;
            } else {
                fprintf(stderr, "%s: port: '%s' is not a port number "
                        "(1..65535)\n", PLUGIN, val);
                ok = false;
            }
        } else if (strcmp(key, "host") == 0) {
            if (*val == '\0' || strlen(val) >= hostlen) {
                fprintf(stderr, "%s: host: '%s' is not a numeric IPv4 or "
                        "IPv6 address\n", PLUGIN, val);
                ok = false;
            } else {
                snprintf(host, hostlen, "%s", val);
            }
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (value '%s'); known: "
                    "port, host\n", PLUGIN, key, val);
            ok = false;
        }
    }
    free(copy);
    return ok;
}

/* conn_main: echo until end of file, an error or stop. Owns c and c->fd. */
static void conn_main(void *arg)
{
    conn *c = arg;
    char *buf = malloc(BUFSIZE);
    while (buf != NULL) {
        ssize_t n = goro_read(c->fd, buf, BUFSIZE);
        if (n <= 0)
            break;
        if (goro_write(c->fd, buf, (size_t)n) != n)
            break;
        goro_plugin_served(1);
    }
    free(buf);
    goro_mutex_lock(mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    goro_mutex_unlock(mu);
    goro_close(c->fd);
    free(c);
    goro_wg_done(wg);
}

static int echo_start(const char *args)
{
    int port = 7007;
    char host[64] = "127.0.0.1";
    if (!parse_args(args, &port, host, sizeof host))
        return 1;
    if (mu == NULL || wg == NULL) {
        fprintf(stderr, "%s: out of memory\n", PLUGIN);
        return 1;
    }

    int fd = goro_tcp_listen(host, port, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot listen on %s port %d: %s\n", PLUGIN, host,
                port, strerror(-fd));
        return 1;
    }
    goro_mutex_lock(mu);
    bool stopped = stopping;
    if (!stopped)
        listen_fd = fd;
    goro_mutex_unlock(mu);

    while (!stopped) {
        int cfd = goro_accept(fd);
        if (cfd < 0) {
            if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS ||
                cfd == -ENOMEM) {
                goro_sleep_ns(10 * 1000 * 1000);   /* out of fds: back off */
                goro_mutex_lock(mu);
                stopped = stopping;
                goro_mutex_unlock(mu);
                continue;
            }
            break;      /* shut down by stop (EINVAL), or broken */
        }
        conn *c = calloc(1, sizeof *c);
        goro_mutex_lock(mu);
        stopped = stopping;
        if (c != NULL && !stopped) {
            c->fd = cfd;
            c->next = conns;
            if (conns)
                conns->prev = c;
            conns = c;
        }
        goro_mutex_unlock(mu);
        if (c == NULL || stopped) {
            free(c);
            goro_close(cfd);
            continue;
        }
        goro_wg_add(wg, 1);
        if (goro_go(conn_main, c) < 0) {
            conn_main(c);   /* cannot fail on a G; if it did, clean up */
        }
    }

    goro_mutex_lock(mu);
    listen_fd = -1;
    goro_mutex_unlock(mu);
    goro_close(fd);
    goro_wg_wait(wg);
    goro_mutex_lock(mu);
    stopping = false;   /* the object may be started again */
    goro_mutex_unlock(mu);
    return 0;
}

/* echo_stop: wake the listener and every connection; each closes its own. */
static void echo_stop(void)
{
    if (mu == NULL)
        return;
    goro_mutex_lock(mu);
    stopping = true;
    if (listen_fd >= 0)
        shutdown(listen_fd, SHUT_RDWR);
    for (conn *c = conns; c != NULL; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    goro_mutex_unlock(mu);
}

GORO_PLUGIN_DEFINE(PLUGIN, "1.0", echo_start, echo_stop);
