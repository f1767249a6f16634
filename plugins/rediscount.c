/*
 * rediscount.c - a gorod task plugin that uses Redis through goro's
 * hiredis adapter (goro/hiredis.h): a line server that counts names.
 *
 * Each line a client sends is a name; the plugin runs INCR count:NAME on
 * Redis and answers with the new count ("3\n"), or "-ERR why\n". On the
 * server skeleton of tcpserver.h (one G per connection); every connection
 * G shares one Redis connection, on which their commands are pipelined:
 * a G parks until its own reply, and no thread waits for Redis.
 *
 * Arguments: port=N (default 7010), host=ADDR (default 127.0.0.1), and
 * redis=ADDR: "host:port" for TCP (a host name is resolved), or a path
 * for a Unix socket (default 127.0.0.1:6379). start fails (1) when Redis
 * cannot be reached within 5 s. A lost Redis connection is not made
 * again: the lines get "-ERR" answers until the plugin is reloaded.
 *
 * Built with `pkg-config --cflags --libs goro goro-hiredis` (the
 * Makefile's PLUGIN_PKGS_rediscount).
 */
#include <goro.h>
#include <goro/hiredis.h>
#include <goro/plugin.h>

#include "tcpserver.h"

#define PLUGIN   "rediscount"
#define BUFSIZE  4096
#define MAXNAME  256

static char redis_addr[256] = "127.0.0.1:6379";
static goro_redis *rds;

static int rc_arg(const char *key, const char *val)
{
    if (strcmp(key, "redis") != 0)
        return ARG_UNKNOWN;
    if (*val == '\0' || strlen(val) >= sizeof redis_addr) {
        fprintf(stderr, "%s: redis: '%s' is not host:port or a path\n",
                PLUGIN, val);
        return ARG_BAD;
    }
    snprintf(redis_addr, sizeof redis_addr, "%s", val);
    return ARG_OK;
}

/* answer: the reply line for one name, into out. */
static size_t answer(const char *name, char *out, size_t outsz)
{
    redisReply *rep;
    int rc = goro_redis_command(rds, &rep, 0, "INCR count:%s", name);
    if (rc < 0)
        return (size_t)snprintf(out, outsz, "-ERR redis: %s\n", strerror(-rc));
    size_t n;
    if (rep->type == REDIS_REPLY_INTEGER)
        n = (size_t)snprintf(out, outsz, "%lld\n", rep->integer);
    else
        n = (size_t)snprintf(out, outsz, "-ERR %s\n",
                             rep->str != NULL ? rep->str : "unexpected reply");
    goro_redis_free_reply(rep);
    return n < outsz ? n : outsz - 1;
}

/* rc_serve: answer every line until end of file, an error or stop. */
static void rc_serve(tcpconn *c)
{
    char *buf = malloc(BUFSIZE), *out = malloc(MAXNAME + 64);
    size_t have = 0;
    while (buf != NULL && out != NULL) {
        ssize_t n = goro_read(c->fd, buf + have, BUFSIZE - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        char *line = buf, *nl;
        bool bad = false;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
            *nl = '\0';
            if (nl > line && nl[-1] == '\r')
                nl[-1] = '\0';
            size_t len = strlen(line);
            size_t m = len == 0 || len > MAXNAME
                           ? (size_t)snprintf(out, MAXNAME + 64,
                                              "-ERR a name is 1..%d bytes\n",
                                              MAXNAME)
                           : answer(line, out, MAXNAME + 64);
            if (goro_write(c->fd, out, m) != (ssize_t)m) {
                bad = true;
                break;
            }
            goro_plugin_served(1);
            line = nl + 1;
        }
        if (bad)
            break;
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == BUFSIZE)
            break;  /* a line longer than the buffer: not a client of ours */
    }
    free(buf);
    free(out);
}

static tcpserver srv = {.plugin = PLUGIN, .default_port = 7010,
                        .conn_size = sizeof(tcpconn), .serve = rc_serve,
                        .arg = rc_arg, .known = "port, host, listener, redis"};

__attribute__((constructor)) static void rc_init(void)
{
    tcpserver_init(&srv);
}

__attribute__((destructor)) static void rc_fini(void)
{
    tcpserver_fini(&srv);
}

static int rc_start(const char *args)
{
    /* The arguments first (redis= among them), then Redis, then serve. */
    struct tcpserver_args a = {PLUGIN, rc_arg, 0, "", "", false};
    if (!plugin_args(PLUGIN, args, srv.known, tcpserver_arg, &a))
        return 1;
    bool unix_path = strchr(redis_addr, '/') != NULL;
    int rc = goro_redis_dial(&rds, unix_path ? "unix" : "tcp", redis_addr,
                             goro_now() + 5000000000LL);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot reach Redis at %s: %s\n", PLUGIN,
                redis_addr, strerror(-rc));
        return 1;
    }
    rc = tcpserver_start(&srv, args);
    goro_redis_close(rds);
    rds = NULL;
    return rc;
}

static void rc_stop(void)
{
    tcpserver_stop(&srv);
}

GORO_PLUGIN_DEFINE(PLUGIN, "1.0", rc_start, rc_stop);
