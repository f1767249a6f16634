/*
 * echo.c - a TCP echo server as a gorod task plugin.
 *
 * The smallest useful network plugin: on the server skeleton of
 * tcpserver.h (one G accepts, one G per connection; arguments port=N,
 * default 7007, host=ADDR and listener=NAME; how stop wakes every G
 * without closing fds under them), each connection's G reads a chunk and
 * writes it back. Every chunk echoed counts as one request served
 * (goro_plugin_served), which gorod shows per plugin.
 *
 * idle_timeout=DURATION (default 60s; 0: never) closes a connection that
 * sent nothing for that long, and one whose echo could not be written for
 * that long (a client that stopped reading): each read and each write has
 * that deadline, so an idle or stuck client does not hold its G and fd for
 * ever. Rejected: a deadline for the whole connection (an echo session
 * that keeps talking is not idle, however long it lasts).
 *
 * start returns when the plugin's work is done: after stop, once every
 * connection G has finished; nonzero at once for bad arguments or a port
 * that cannot be bound. The buffer is on the heap, not the G's stack.
 */
#include <goro.h>
#include <goro/plugin.h>

#include "tcpserver.h"

#define PLUGIN   "echo"
#define BUFSIZE  16384
#define IDLE_DEFAULT_NS (60LL * 1000000000)
#define IDLE_MAX_NS     (24LL * 3600 * 1000000000)

/* idle_timeout, set by start before any connection G runs; 0: none. */
static int64_t idle_ns = IDLE_DEFAULT_NS;

/* deadline: now + idle_ns, or 0 (none). */
static int64_t deadline(void)
{
    return idle_ns > 0 ? goro_now() + idle_ns : 0;
}

/* echo_serve: echo until end of file, an error or stop. */
static void echo_serve(tcpconn *c)
{
    char *buf = malloc(BUFSIZE);
    while (buf != NULL) {
        ssize_t n = goro_read_deadline(c->fd, buf, BUFSIZE, deadline());
        if (n <= 0)
            break;      /* end of file, idle too long, an error or stop */
        if (goro_write_deadline(c->fd, buf, (size_t)n, deadline()) != n)
            break;
        goro_plugin_served(1);
    }
    free(buf);
}

static int echo_arg(const char *key, const char *val)
{
    if (strcmp(key, "idle_timeout") != 0)
        return ARG_UNKNOWN;
    if (!plugin_parse_duration(val, IDLE_MAX_NS, &idle_ns)) {
        fprintf(stderr, "%s: idle_timeout: '%s' is not 0 or a duration "
                "with ms, s or m up to 24h (e.g. 60s)\n", PLUGIN, val);
        return ARG_BAD;
    }
    return ARG_OK;
}

static tcpserver srv = {.plugin = PLUGIN, .default_port = 7007,
                        .conn_size = sizeof(tcpconn), .serve = echo_serve,
                        .arg = echo_arg,
                        .known = "port, host, listener, idle_timeout"};

__attribute__((constructor)) static void echo_init(void)
{
    tcpserver_init(&srv);
}

__attribute__((destructor)) static void echo_fini(void)
{
    tcpserver_fini(&srv);
}

static int echo_start(const char *args)
{
    idle_ns = IDLE_DEFAULT_NS;
    return tcpserver_start(&srv, args);
}

static void echo_stop(void)
{
    tcpserver_stop(&srv);
}

GORO_PLUGIN_DEFINE(PLUGIN, "1.0", echo_start, echo_stop);
