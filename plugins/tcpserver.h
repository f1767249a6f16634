/*
 * tcpserver.h - the TCP server skeleton of the example network plugins
 * (echo, httphello): the shape of every server built on goro. One G
 * accepts (start itself) and one G per connection serves it; each
 * goro_accept/goro_read/goro_write that would block parks only its G, and
 * the plugin holds no thread of its own. A plugin fills a tcpserver with
 * its name, default port, connection size and serve function, and its
 * start and stop call tcpserver_start and tcpserver_stop.
 *
 * Arguments (space-separated key=value): port=N (1..65535, default the
 * plugin's), host=ADDR (a numeric IPv4 or IPv6 address, default
 * 127.0.0.1), listener=NAME (accept on gorod's listener of that name,
 * goro_plugin_listener, instead of opening host:port: the socket stays
 * open while the plugin restarts, so no connection is refused meanwhile;
 * not with port or host), and the plugin's own keys, which its arg
 * function takes (known lists them all, for the message). An unknown key
 * or a bad value is reported on stderr and start returns 1.
 *
 * tcpserver_start runs the accept loop and returns when the plugin's work
 * is done: after stop, once the listener is closed and every connection G
 * has finished (a wait group). It returns 0 then, or nonzero at once when
 * the arguments are bad or the port cannot be bound.
 *
 * Stopping: stop runs in another G (gorod's NAME/stop group). It cancels the
 * group start runs in (goro_group_cancel, cause -ESHUTDOWN): the listener
 * parked in goro_accept and every connection parked in goro_read or
 * goro_write wake with -ECANCELED, wherever they are, and so does any wait
 * they make later; each G closes its own fd. Nothing else is needed: no
 * list of connections to shut down, no fd touched by another G (which
 * could race a close and hit a number the kernel had reused). The accept
 * loop also looks at the group's context between accepts, for a listener
 * that never waits because connections keep coming. The mutex and the
 * wait group are made when the object is loaded (tcpserver_init, from a
 * constructor) and freed when it is unloaded, so stop may come at any
 * time, even before start or after it failed.
 *
 * State is global: one instance per loaded object (gorod loads each plugin
 * entry once). A connection's state is on the heap and handed to its G, as
 * the copying stacks require.
 */
#ifndef GORO_PLUGINS_TCPSERVER_H
#define GORO_PLUGINS_TCPSERVER_H

#include <goro.h>
#include <goro/plugin.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

/* The head of a connection: a plugin's own connection struct starts with
 * it (conn_size bytes in all; only the head is initialised here). */
typedef struct tcpconn {
    int fd;
    struct tcpserver *srv;
} tcpconn;

typedef struct tcpserver {
    const char *plugin;
    int         default_port;
    size_t      conn_size;
    /* serve c until it ends (end of file, an error, stop); the skeleton
     * then unlinks it, closes its fd and frees it. */
    void (*serve)(tcpconn *c);
    /* The plugin's own arguments, or NULL: arg takes key=val as args.h's
     * take does; known names every key ("port, host, ..."). */
    int (*arg)(const char *key, const char *val);
    const char *known;

    goro_mutex *mu;             /* guards group and stopping */
    goro_group *group;          /* start's, while it runs */
    bool        stopping;
    goro_wg    *wg;             /* the connection Gs */
} tcpserver;

static inline void tcpserver_init(tcpserver *s)
{
    s->mu = goro_mutex_new();
    s->wg = goro_wg_new();
}

static inline void tcpserver_fini(tcpserver *s)
{
    goro_mutex_free(s->mu);
    goro_wg_free(s->wg);
    s->mu = NULL;
    s->wg = NULL;
}

struct tcpserver_args {
    const char *plugin;
    int (*arg)(const char *key, const char *val);
    int port;
    char host[64];
    char listener[64];          /* "": open host:port */
    bool addr_given;            /* port or host was given */
};

static inline int tcpserver_arg(const char *key, const char *val, void *ctx)
{
    struct tcpserver_args *a = ctx;
    uint64_t v;
    if (strcmp(key, "port") == 0) {
        if (!plugin_parse_uint(val, 1, 65535, &v)) {
            fprintf(stderr, "%s: port: '%s' is not a port number "
                    "(1..65535)\n", a->plugin, val);
            return ARG_BAD;
        }
        a->port = (int)v;
        a->addr_given = true;
    } else if (strcmp(key, "listener") == 0) {
        if (*val == '\0' || strlen(val) >= sizeof a->listener) {
            fprintf(stderr, "%s: listener: '%s' is not a listener's name "
                    "(1 to 31 letters, digits, '_' or '-')\n", a->plugin,
                    val);
            return ARG_BAD;
        }
        snprintf(a->listener, sizeof a->listener, "%s", val);
    } else if (strcmp(key, "host") == 0) {
        if (*val == '\0' || strlen(val) >= sizeof a->host) {
            fprintf(stderr, "%s: host: '%s' is not a numeric IPv4 or "
                    "IPv6 address\n", a->plugin, val);
            return ARG_BAD;
        }
        snprintf(a->host, sizeof a->host, "%s", val);
        a->addr_given = true;
    } else if (a->arg != NULL) {
        return a->arg(key, val);
    } else {
        return ARG_UNKNOWN;
    }
    return ARG_OK;
}

/* tcpserver_conn: a connection's G. Owns c and c->fd. */
static void tcpserver_conn(void *arg)
{
    tcpconn *c = arg;
    tcpserver *s = c->srv;
    s->serve(c);
    goro_close(c->fd);
    free(c);
    goro_wg_done(s->wg);
}

/* tcpserver_start: the plugin's start. */
static inline int tcpserver_start(tcpserver *s, const char *args)
{
    struct tcpserver_args a = {s->plugin, s->arg, s->default_port,
                               "127.0.0.1", "", false};
    if (!plugin_args(s->plugin, args,
                     s->known ? s->known : "port, host, listener",
                     tcpserver_arg, &a))
        return 1;
    if (a.listener[0] != '\0' && a.addr_given) {
        fprintf(stderr, "%s: listener=%s and port or host: the listener's "
                "address is gorod's (listeners: in its configuration); give "
                "one or the other\n", s->plugin, a.listener);
        return 1;
    }
    if (s->mu == NULL || s->wg == NULL) {
        fprintf(stderr, "%s: out of memory\n", s->plugin);
        return 1;
    }

    /* A listener of gorod's is gorod's to close, not ours. */
    bool own = a.listener[0] == '\0';
    int fd = own ? goro_tcp_listen(a.host, a.port, 0)
                 : goro_plugin_listener(a.listener);
    if (fd < 0 && own) {
        fprintf(stderr, "%s: cannot listen on %s port %d: %s\n", s->plugin,
                a.host, a.port, strerror(-fd));
        return 1;
    }
    if (fd < 0) {
        fprintf(stderr, "%s: listener %s: %s\n", s->plugin, a.listener,
                fd == -ENOENT ? "gorod's configuration has no listener of "
                                "that name (listeners:)"
                : fd == -ENOSYS ? "not running under gorod"
                                : strerror(-fd));
        return 1;
    }
    goro_group *grp = goro_group_self();
    goro_ctx *ctx = goro_group_ctx(grp);
    goro_mutex_lock(s->mu);
    bool stopped = s->stopping;
    if (!stopped)
        s->group = grp;
    goro_mutex_unlock(s->mu);

    while (!stopped && goro_ctx_err(ctx) == 0) {
        int cfd = goro_accept(fd);
        if (cfd < 0) {
            if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS ||
                cfd == -ENOMEM) {
                goro_sleep_ns(10 * 1000 * 1000);   /* out of fds: back off */
                continue;
            }
            break;      /* cancelled by stop (-ECANCELED), or broken */
        }
        tcpconn *c = malloc(s->conn_size);
        if (c == NULL) {
            goro_close(cfd);
            continue;
        }
        c->fd = cfd;
        c->srv = s;
        goro_wg_add(s->wg, 1);
        if (goro_go(tcpserver_conn, c) < 0)
            tcpserver_conn(c);  /* cannot fail on a G; if it did, clean up */
    }

    if (own)
        goro_close(fd);
    goro_wg_wait(s->wg);
    goro_mutex_lock(s->mu);
    s->group = NULL;
    s->stopping = false;   /* the object may be started again */
    goro_mutex_unlock(s->mu);
    return 0;
}

/* tcpserver_stop: cancel start's group: the listener and every connection
 * stop waiting; each closes its own fd. */
static inline void tcpserver_stop(tcpserver *s)
{
    if (s->mu == NULL)
        return;
    goro_mutex_lock(s->mu);
    s->stopping = true;
    goro_group *grp = s->group;
    if (grp != NULL)
        goro_group_cancel(grp, -ESHUTDOWN);
    goro_mutex_unlock(s->mu);
}

#endif
