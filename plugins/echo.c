/*
 * echo.c - a TCP echo server as a gorod task plugin.
 *
 * The smallest useful network plugin: on the server skeleton of
 * tcpserver.h (one G accepts, one G per connection; arguments port=N,
 * default 7007, and host=ADDR; how stop wakes every G without closing fds
 * under them), each connection's G reads a chunk and writes it back. Every
 * chunk echoed counts as one request served (goro_plugin_served), which
 * gorod shows per plugin.
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

/* echo_serve: echo until end of file, an error or stop. */
static void echo_serve(tcpconn *c)
{
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
}

static tcpserver srv = {.plugin = PLUGIN, .default_port = 7007,
                        .conn_size = sizeof(tcpconn), .serve = echo_serve};

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
    return tcpserver_start(&srv, args);
}

static void echo_stop(void)
{
    tcpserver_stop(&srv);
}

GORO_PLUGIN_DEFINE(PLUGIN, "1.0", echo_start, echo_stop);
