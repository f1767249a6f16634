/*
 * hiredis.c - hiredis's asynchronous API on goro's netpoller
 * (goro/hiredis.h): a G issues a Redis command and parks until its reply.
 *
 * hiredis's async API is an event library's client: it asks for read and
 * write interest through five hooks (ev.addRead ... ev.cleanup), is fed
 * readiness through redisAsyncHandleRead/Write, and hands each reply to the
 * callback given with its command. The adapter is that event library, made
 * of Gs:
 *   - the reader, one G per connection, parks in goro_wait_fd(POLLIN) and
 *     calls redisAsyncHandleRead, which runs the callbacks of every reply
 *     its read(2) completed;
 *   - a command's own G formats it into hiredis's output buffer and calls
 *     redisAsyncHandleWrite itself (the addWrite hook only notes that the
 *     buffer has bytes), parking in goro_wait_fd(POLLOUT) only when the
 *     socket's buffer is full; the write also carries the commands that
 *     other Gs queued meanwhile;
 *   - a command's callback (on the reader) moves the reply to the G's call
 *     record and wakes the G through the call's channel (capacity 1, a
 *     try-send that never blocks the reader).
 * hiredis is not thread-safe, so every entry into it holds the
 * connection's goro_mutex (a G waiting for it parks); nothing parks while
 * holding it but goro_close, which does not wait.
 *
 * hiredis frees a reply when its callback returns (0.14 has no way to
 * keep it). The callback moves the reply's contents into a new shell and
 * leaves hiredis an empty REDIS_REPLY_NIL to free: one malloc of 48 bytes
 * instead of a deep copy.
 *
 * Records live on the heap, never on a G's stack (which moves): the call
 * record that hiredis keeps as a callback's privdata, and the connection.
 * A command that times out leaves its record to hiredis, marked
 * abandoned: its callback frees the reply when it comes (commands cannot
 * be taken back from a pipeline).
 *
 * Ends. hiredis frees its context itself when the connection fails (a
 * read of end of file, a write error, a protocol error), from inside
 * redisAsyncHandleRead or Write, after calling every pending callback with
 * a NULL reply and then the cleanup hook. The fd was waited on through goro,
 * so it must be closed through goro (goro_close forgets it in the
 * netpoller and wakes a G parked on it): the cleanup hook takes the fd away
 * from hiredis (c.fd = -1, so redisFree does not close it) and whoever
 * called into hiredis closes it with goro_close once hiredis returns. The
 * reader wakes (-ECANCELED), finds no context and ends. goro_redis_close
 * is the same with redisAsyncFree, then waits until the reader has ended
 * and every command G has left the connection before it frees it.
 *
 * Every call into hiredis runs on the thread's own stack (goro_cgocall,
 * below), so a G that issues commands stays at its own stack size.
 *
 * Rejected: a G per command waiting for POLLIN (1,000 Gs woken by every
 * reply, each taking the mutex to find its reply was read by another);
 * the reader also writing (it is parked for POLLIN, and waking it for each
 * command would cost an eventfd write and a wake); hiredis's own blocking
 * API under goro_syscall_enter (a thread per waiting G); keeping replies by
 * replacing the reader's freeObject (the reader also frees partial replies
 * on errors through it).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/async.h>

#include <goro.h>
#include <goro/hiredis.h>

/* A command's record, hiredis's privdata for its callback. */
typedef struct rcall {
    goro_chan    *done;       /* capacity 1: the callback's wake-up */
    redisReply   *reply;      /* set by the callback; the G takes it */
    int           status;     /* 0, or -ECONNRESET, -EPROTO, -ENOMEM */
    bool          abandoned;  /* its G left (deadline); the callback frees */
    struct rcall *next;       /* on goro_redis.free */
} rcall;

struct goro_redis {
    goro_mutex        *mu;    /* guards everything below, and hiredis */
    goro_cond         *idle;  /* broadcast when inflight or reader drops */
    redisAsyncContext *ac;    /* NULL once hiredis freed it */
    int                fd;    /* -1 once closed through goro */
    int                connerr;   /* the connect's error, onConnect's */
    bool               wantwrite; /* hiredis's output buffer has bytes */
    bool               closing;   /* goro_redis_close began */
    bool               reading;   /* the reader G has not ended */
    int                inflight;  /* command Gs inside */
    rcall             *free;      /* spare call records */
};

/* ---- hiredis's event hooks (called under r->mu) --------------------------- */

static void hook_addwrite(void *data) { ((goro_redis *)data)->wantwrite = true; }
static void hook_delwrite(void *data) { ((goro_redis *)data)->wantwrite = false; }
static void hook_read(void *data) { (void)data; } /* the reader always reads */

/* hook_cleanup: hiredis is freeing the context. Keep the fd from
 * redisFree's close(2): the caller closes it through goro (see the top). */
static void hook_cleanup(void *data)
{
    goro_redis *r = data;
    if (r->ac != NULL)
        r->ac->c.fd = -1;
    r->ac = NULL;
    r->wantwrite = false;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    goro_redis *r = ac->data;
    if (status != REDIS_OK)
        r->connerr = errno > 0 ? -errno : -ECONNREFUSED;
}

/* endfd closes the fd of a context hiredis has freed. r->mu held. */
static void endfd(goro_redis *r)
{
    if (r->ac == NULL && r->fd >= 0) {
        goro_close(r->fd);
        r->fd = -1;
        r->wantwrite = false;
    }
}

/* ---- call records (r->mu held) --------------------------------------------- */

static rcall *callget(goro_redis *r)
{
    rcall *c = r->free;
    if (c != NULL) {
        r->free = c->next;
    } else {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return NULL;
        c->done = goro_chan_new(0, 1);
        if (c->done == NULL) {
            free(c);
            return NULL;
        }
    }
    c->reply = NULL;
    c->status = 0;
    c->abandoned = false;
    return c;
}

/* callput: c back on the free list; its reply was taken or freed (the
 * G's side calls nothing of hiredis's: see goro_cgocall above). */
static void callput(goro_redis *r, rcall *c)
{
    c->reply = NULL;
    c->next = r->free;
    r->free = c;
}

/* on_reply is every command's callback, on whichever G is inside hiredis
 * (the reader; or any G whose call made hiredis give up the connection,
 * with reply NULL). r->mu held. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    goro_redis *r = ac->data;
    rcall *c = privdata;
    if (reply != NULL) {
        redisReply *src = reply, *own = malloc(sizeof *own);
        if (own != NULL) {
            *own = *src;
            src->type = REDIS_REPLY_NIL;  /* hiredis frees the shell only */
            src->str = NULL;
            src->len = 0;
            src->element = NULL;
            src->elements = 0;
        }
        c->reply = own;
        c->status = own != NULL ? 0 : -ENOMEM;
    } else {
        c->status = ac->c.err == REDIS_ERR_PROTOCOL ? -EPROTO : -ECONNRESET;
    }
    if (c->abandoned) {
        if (c->reply != NULL)
            freeReplyObject(c->reply);  /* on g0, as every hiredis call */
        callput(r, c);
        return;
    }
    goro_chan_try_send(c->done, NULL);
}

/* ---- calls into hiredis, on the thread's stack ------------------------------ */

/* hiredis runs on g0 (goro_cgocall), not on the calling G's stack: its
 * read handler alone puts a 16 KiB buffer on the stack (redisBufferRead),
 * all of the non-split headroom, and a G that called it on its own stack
 * would grow to 32 KiB. The callbacks and hooks it calls run there too:
 * they touch the connection (its mutex held by the G) and wake Gs with
 * goro_chan_try_send only, which goro_cgocall allows. */
enum { hRead, hWrite, hFree, hConnect, hAttach, hFreeReply, hCommand };

typedef struct hop {
    int                kind;
    goro_redis        *r;       /* hAttach */
    void              *reply;   /* hFreeReply */
    redisAsyncContext *ac;
    const char        *ip;      /* hConnect: an IP literal, or a path */
    int                port;    /*   < 0: a Unix socket */
    int                err;     /*   out: why it failed */
    rcall             *c;       /* hCommand: its record */
    const char        *fmt;     /*   the format form, or */
    va_list           *ap;
    int                argc;    /*   the argv form */
    const char       **argv;
    const size_t      *argvlen;
    int                rc;      /*   out: REDIS_OK or REDIS_ERR */
} hop;

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_connect(const redisAsyncContext *ac, int status);
static void hook_addwrite(void *data);
static void hook_delwrite(void *data);
static void hook_read(void *data);
static void hook_cleanup(void *data);

static void hop_g0(void *arg)
{
    hop *o = arg;
    switch (o->kind) {
    case hRead: redisAsyncHandleRead(o->ac); break;
    case hWrite: redisAsyncHandleWrite(o->ac); break;
    case hFree: redisAsyncFree(o->ac); break;
    case hFreeReply: freeReplyObject(o->reply); break;
    case hAttach:
        o->ac->data = o->r;
        o->ac->ev.data = o->r;
        o->ac->ev.addRead = hook_read;
        o->ac->ev.delRead = hook_read;
        o->ac->ev.addWrite = hook_addwrite;
        o->ac->ev.delWrite = hook_delwrite;
        o->ac->ev.cleanup = hook_cleanup;
        redisAsyncSetConnectCallback(o->ac, on_connect);
        break;
    case hConnect:
        errno = 0;
        o->ac = o->port < 0 ? redisAsyncConnectUnix(o->ip)
                            : redisAsyncConnect(o->ip, o->port);
        if (o->ac == NULL) {
            o->err = -ENOMEM;
        } else if (o->ac->err) {
            o->err = o->ac->err == REDIS_ERR_OOM ? -ENOMEM
                     : o->ac->err == REDIS_ERR_IO && errno > 0 ? -errno
                                                                : -ECONNREFUSED;
            redisAsyncFree(o->ac);  /* goro never saw this fd */
            o->ac = NULL;
        }
        break;
    default:
        o->rc = o->fmt != NULL
                    ? redisvAsyncCommand(o->ac, on_reply, o->c, o->fmt, *o->ap)
                    : redisAsyncCommandArgv(o->ac, on_reply, o->c, o->argc,
                                            o->argv, o->argvlen);
        break;
    }
}

/* hcall: one call into hiredis on ac (kind hRead, hWrite or hFree). */
static void hcall(int kind, redisAsyncContext *ac)
{
    hop o = {.kind = kind, .ac = ac};
    goro_cgocall(hop_g0, &o);
}

/* ---- the reader ------------------------------------------------------------- */

static void reader(void *arg)
{
    goro_redis *r = arg;
    goro_mutex_lock(r->mu);
    int fd = r->fd;
    goro_mutex_unlock(r->mu);
    for (;;) {
        /* -ECANCELED when a command G or goro_redis_close closed fd. */
        goro_wait_fd(fd, POLLIN, 0);
        goro_mutex_lock(r->mu);
        if (r->ac != NULL)
            hcall(hRead, r->ac);
        bool end = r->ac == NULL;
        endfd(r);
        goro_mutex_unlock(r->mu);
        if (end)
            break;
    }
    goro_mutex_lock(r->mu);
    r->reading = false;
    goro_cond_broadcast(r->idle);
    goro_mutex_unlock(r->mu);
}

/* ---- connecting ------------------------------------------------------------- */

/* Go's runtime ignores SIGPIPE for the program's sockets; hiredis writes
 * with write(2), which raises it when the server went away. */
static void ignore_sigpipe_g0(void *arg)
{
    (void)arg;
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

static void ignore_sigpipe(void)
{
    static atomic_bool done;
    if (!atomic_load(&done) && !atomic_exchange(&done, true))
        goro_cgocall(ignore_sigpipe_g0, NULL);  /* sigaction is not wrapped */
}

/* connect1 makes r's context for one address (ip and port, or a Unix
 * path when port < 0) and waits for the connect. 0, or the error. */
static int connect1(goro_redis *r, const char *ip, int port,
                    int64_t deadline)
{
    hop o = {.kind = hConnect, .ip = ip, .port = port};
    goro_cgocall(hop_g0, &o);
    if (o.ac == NULL)
        return o.err;
    redisAsyncContext *ac = o.ac;
    goro_mutex_lock(r->mu);
    r->ac = ac;
    r->fd = ac->c.fd;
    r->connerr = 0;
    hop at = {.kind = hAttach, .ac = ac, .r = r};
    goro_cgocall(hop_g0, &at);
    int err = 0;
    while (r->ac != NULL && !(r->ac->c.flags & REDIS_CONNECTED)) {
        /* A connect in progress: writable once it is done either way;
         * hiredis's write handler reads SO_ERROR and calls on_connect. */
        int fd = r->fd;
        goro_mutex_unlock(r->mu);
        int ev = goro_wait_fd(fd, POLLOUT, deadline);
        goro_mutex_lock(r->mu);
        if (ev < 0) {
            err = ev;
            break;
        }
        hcall(hWrite, r->ac);
    }
    if (err == 0 && r->ac == NULL)
        err = r->connerr != 0 ? r->connerr : -ECONNREFUSED;
    if (err != 0) {
        if (r->ac != NULL)
            hcall(hFree, r->ac);
        endfd(r);
    }
    goro_mutex_unlock(r->mu);
    return err;
}

/* splithostport splits "host:port" or "[v6]:port" into host and port. */
static int splithostport(const char *addr, char *host, size_t hostsz,
                         char *port, size_t portsz)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL)
        return -EINVAL;
    const char *h = addr, *hend = colon;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (rb == NULL || rb + 1 != colon)
            return -EINVAL;
        h = addr + 1;
        hend = rb;
    } else if (memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
        return -EINVAL;  /* an IPv6 literal without brackets */
    }
    size_t hl = (size_t)(hend - h), pl = strlen(colon + 1);
    if (hl >= hostsz || pl == 0 || pl >= portsz)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return 0;
}

/* dialtcp tries every address of host:port in the resolver's order; the
 * first error when none connects, as goro_dial. */
static int dialtcp(goro_redis *r, const char *address, int64_t deadline)
{
    char host[256], port[32];
    int err = splithostport(address, host, sizeof host, port, sizeof port);
    if (err < 0)
        return err;
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    err = goro_getaddrinfo(host[0] != '\0' ? host : "127.0.0.1", port, &hints,
                           &res, deadline);
    if (err < 0)
        return err;
    int first = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        int p;
        if (ai->ai_family == AF_INET) {
            struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;
            inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
            p = ntohs(sin->sin_port);
        } else if (ai->ai_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ai->ai_addr;
            inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
            p = ntohs(sin6->sin6_port);
        } else {
            continue;
        }
        err = connect1(r, ip, p, deadline);
        if (err == 0 || err == -ETIMEDOUT) {
            first = err;
            break;
        }
        if (first == 0)
            first = err;
    }
    goro_freeaddrinfo(res);
    return first != 0 ? first : (r->ac != NULL ? 0 : -ENOENT);
}

int goro_redis_dial(goro_redis **out, const char *network,
                    const char *address, int64_t deadline_ns)
{
    if (out == NULL || network == NULL || address == NULL)
        return -EINVAL;
    if (goro_id() == 0)
        return -EPERM;
    bool tcp = strcmp(network, "tcp") == 0, unx = strcmp(network, "unix") == 0;
    if (!tcp && !unx)
        return -EINVAL;
    ignore_sigpipe();
    goro_redis *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    r->fd = -1;
    r->mu = goro_mutex_new();
    r->idle = goro_cond_new();
    int err = r->mu != NULL && r->idle != NULL ? 0 : -ENOMEM;
    if (err == 0)
        err = tcp ? dialtcp(r, address, deadline_ns)
                  : connect1(r, address, -1, deadline_ns);
    if (err == 0) {
        r->reading = true;
        if (goro_go(reader, r) < 0) {
            goro_mutex_lock(r->mu);
            hcall(hFree, r->ac);
            endfd(r);
            goro_mutex_unlock(r->mu);
            err = -ENOMEM;
        }
    }
    if (err != 0) {
        if (r->mu != NULL)
            goro_mutex_free(r->mu);
        if (r->idle != NULL)
            goro_cond_free(r->idle);
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

/* ---- commands ------------------------------------------------------------- */

/* issue queues a command (fmt or argv form) and waits for its reply. */
static int issue(goro_redis *r, redisReply **reply, int64_t deadline,
                 const char *fmt, va_list *ap, int argc, const char **argv,
                 const size_t *argvlen)
{
    if (r == NULL || reply == NULL)
        return -EINVAL;
    *reply = NULL;
    if (goro_id() == 0)
        return -EPERM;
    goro_mutex_lock(r->mu);
    if (r->ac == NULL || r->closing) {
        goro_mutex_unlock(r->mu);
        return -ENOTCONN;
    }
    rcall *c = callget(r);
    if (c == NULL) {
        goro_mutex_unlock(r->mu);
        return -ENOMEM;
    }
    hop o = {.kind = hCommand, .ac = r->ac, .c = c, .fmt = fmt, .ap = ap,
             .argc = argc, .argv = argv, .argvlen = argvlen};
    goro_cgocall(hop_g0, &o);
    if (o.rc != REDIS_OK) {
        callput(r, c);
        goro_mutex_unlock(r->mu);
        return -EINVAL;
    }
    r->inflight++;
    int err = 0;
    /* Flush hiredis's output buffer (ours and whatever others queued);
     * park for POLLOUT only while the socket's buffer is full. */
    while (r->ac != NULL && r->wantwrite) {
        hcall(hWrite, r->ac);
        endfd(r);
        if (r->ac == NULL || !r->wantwrite)
            break;
        int fd = r->fd;
        goro_mutex_unlock(r->mu);
        int ev = goro_wait_fd(fd, POLLOUT, deadline);
        goro_mutex_lock(r->mu);
        if (ev == -ETIMEDOUT) {
            err = ev;
            break;
        }
    }
    if (err == 0) {
        goro_mutex_unlock(r->mu);
        goro_select_case sc = {.c = c->done, .dir = GORO_RECV};
        err = deadline > 0 ? goro_select_deadline(&sc, 1, deadline)
                           : goro_chan_recv(c->done, NULL);
        goro_mutex_lock(r->mu);
    }
    /* The reply may have come as the deadline passed (or while this G
     * still flushed commands queued after its own). */
    if (err == -ETIMEDOUT && goro_chan_try_recv(c->done, NULL) == 0)
        err = 0;
    if (err == 0) {
        err = c->status;
        *reply = c->reply;
        c->reply = NULL;
        callput(r, c);
    } else {
        c->abandoned = true;  /* on_reply frees it */
    }
    if (--r->inflight == 0 && r->closing)
        goro_cond_broadcast(r->idle);
    goro_mutex_unlock(r->mu);
    return err;
}

int goro_redis_vcommand(goro_redis *r, redisReply **reply,
                        int64_t deadline_ns, const char *fmt, va_list ap)
{
    if (fmt == NULL)
        return -EINVAL;
    va_list cp;
    va_copy(cp, ap);
    int rc = issue(r, reply, deadline_ns, fmt, &cp, 0, NULL, NULL);
    va_end(cp);
    return rc;
}

/* Variadic: no stack check (clang refuses variadic split-stack functions);
 * it only starts the list and calls the checked goro_redis_vcommand. */
__attribute__((no_split_stack))
int goro_redis_command(goro_redis *r, redisReply **reply, int64_t deadline_ns,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = goro_redis_vcommand(r, reply, deadline_ns, fmt, ap);
    va_end(ap);
    return rc;
}

int goro_redis_command_argv(goro_redis *r, redisReply **reply,
                            int64_t deadline_ns, int argc, const char **argv,
                            const size_t *argvlen)
{
    if (argc <= 0 || argv == NULL)
        return -EINVAL;
    return issue(r, reply, deadline_ns, NULL, NULL, argc, argv, argvlen);
}

void goro_redis_free_reply(redisReply *reply)
{
    if (reply == NULL)
        return;
    hop o = {.kind = hFreeReply, .reply = reply};
    goro_cgocall(hop_g0, &o);
}

int goro_redis_close(goro_redis *r)
{
    if (r == NULL)
        return -EINVAL;
    if (goro_id() == 0)
        return -EPERM;
    goro_mutex_lock(r->mu);
    r->closing = true;
    if (r->ac != NULL)
        hcall(hFree, r->ac);    /* NULL replies to every waiting command */
    endfd(r);                   /* wakes the reader (-ECANCELED) */
    while (r->reading || r->inflight > 0)
        goro_cond_wait(r->idle, r->mu);
    goro_mutex_unlock(r->mu);
    while (r->free != NULL) {
        rcall *c = r->free;
        r->free = c->next;
        goro_chan_free(c->done);
        free(c);
    }
    goro_mutex_free(r->mu);
    goro_cond_free(r->idle);
    free(r);
    return 0;
}
