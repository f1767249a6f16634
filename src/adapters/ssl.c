/*
 * ssl.c - OpenSSL over goro's sockets (goro/ssl.h): TLS whose calls park
 * the G, not the thread.
 *
 * The SSL reads and writes the non-blocking socket itself (OpenSSL's
 * socket BIO, SSL_set_fd): a call that would block returns
 * SSL_ERROR_WANT_READ or SSL_ERROR_WANT_WRITE, and the G parks in
 * goro_wait_fd for that direction, then makes the same call again, as
 * OpenSSL's non-blocking contract asks. Nothing else of the runtime's is
 * needed: the netpoller's latch makes a readiness that comes between the
 * call's EAGAIN and the park end the park at once.
 *
 * Every SSL call runs on the thread's own stack (goro_cgocall, Go's cgo
 * way), not the G's: OpenSSL is not built with stack checks, and an RSA
 * handshake takes over 16 KiB of stack (measured: 18 KiB for a 2048-bit
 * server), more than the non-split headroom that would otherwise guard
 * it; and a G that made SSL calls on its own stack would grow to 32 KiB.
 * The call never blocks (the socket is non-blocking), so the thread is
 * held for its computation only (a handshake's signature, a record's
 * cipher).
 *
 * OpenSSL's per-thread error queue (see goro/ssl.h): on g0 the G is
 * neither preempted nor moved, so each call runs between ERR_clear_error
 * and the reading of the queue (and errno) that its result needs, and
 * the queue is empty again before the G is back on its stack and may
 * park.
 *
 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: a write that parked is retried
 * with the same bytes, but maybe at another address (the caller's buffer
 * may be on its G's stack, which moves while it is parked); OpenSSL
 * otherwise refuses the retry ("bad write retry").
 *
 * Rejected: SSL calls on the G's stack between goro_preempt_disable and
 * goro_preempt_enable (the error queue would be safe, the stack not);
 * a BIO of goro's (BIO_meth_new) calling goro_read and
 * goro_write (they would park inside OpenSSL's call, with the error queue
 * and the call's state held across the park, on whichever thread the G
 * then runs); memory BIOs with the adapter moving the bytes (a copy more
 * of every record, and two more system calls' worth of bookkeeping).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <goro.h>
#include <goro/ssl.h>

struct goro_tls {
    SSL          *ssl;
    int           fd;
    unsigned long err;   /* OpenSSL's code of the last -EPROTO */
};

enum { opHandshake, opRead, opWrite, opShutdown };

/* ignore_sigpipe_g0: on g0 (goro_cgocall), as sigaction is not wrapped. */
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
        goro_cgocall(ignore_sigpipe_g0, NULL);
}

/* One SSL call and what its result needs, made on the thread's stack. */
typedef struct sslop {
    goro_tls     *t;
    int           op;
    void         *buf;
    size_t        len;
    size_t        moved;   /* out: the bytes read or written */
    int           e;       /* out: SSL_get_error's verdict */
    int           sys;     /* out: errno after the call */
    unsigned long code;    /* out: the first error on the queue */
} sslop;

/* sslop_g0 runs on g0 (goro_cgocall): the call, its error queue read and
 * emptied, all on this thread. */
static void sslop_g0(void *arg)
{
    sslop *o = arg;
    SSL *ssl = o->t->ssl;
    ERR_clear_error();
    errno = 0;
    int ret;
    switch (o->op) {
    case opHandshake: ret = SSL_do_handshake(ssl); break;
    case opRead: ret = SSL_read_ex(ssl, o->buf, o->len, &o->moved); break;
    case opWrite: ret = SSL_write_ex(ssl, o->buf, o->len, &o->moved); break;
    default:
        ret = SSL_shutdown(ssl);
        if (ret == 0)
            ret = 1;  /* close_notify sent; the peer's is not awaited */
        break;
    }
    o->e = ret > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, ret);
    o->sys = errno;
    o->code = o->e == SSL_ERROR_SSL || o->e == SSL_ERROR_SYSCALL
                  ? ERR_peek_error() : 0;
    ERR_clear_error();
}

/* sslcall makes one SSL call (op) until it completes, parking the G while
 * it would block. The bytes moved in *n. 0, or the error (goro/ssl.h). */
static int sslcall(goro_tls *t, int op, void *buf, size_t len, size_t *n,
                   int64_t deadline)
{
    for (;;) {
        sslop o = {.t = t, .op = op, .buf = buf, .len = len};
        goro_cgocall(sslop_g0, &o);
        int ev;
        switch (o.e) {
        case SSL_ERROR_NONE:
            *n = o.moved;
            return 0;
        case SSL_ERROR_ZERO_RETURN:  /* close_notify */
            *n = 0;
            return 0;
        case SSL_ERROR_WANT_READ:
            ev = goro_wait_fd(t->fd, POLLIN, deadline);
            break;
        case SSL_ERROR_WANT_WRITE:
            ev = goro_wait_fd(t->fd, POLLOUT, deadline);
            break;
        case SSL_ERROR_SYSCALL:
            if (o.code != 0) {
                t->err = o.code;
                return -EPROTO;
            }
            return o.sys != 0 ? -o.sys : -ECONNRESET;  /* EOF mid-record */
        case SSL_ERROR_SSL:
            t->err = o.code;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
            if (ERR_GET_REASON(o.code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                return -ECONNRESET;
#endif
            return -EPROTO;
        default:
            t->err = o.code;
            return -EPROTO;
        }
        if (ev < 0)
            return ev;
    }
}

typedef struct newop {
    goro_tls   *t;
    SSL_CTX    *ctx;
    bool        server, ok;
    const char *servername;
} newop;

static void newop_g0(void *arg)
{
    newop *o = arg;
    goro_tls *t = o->t;
    ERR_clear_error();
    t->ssl = SSL_new(o->ctx);
    o->ok = t->ssl != NULL && SSL_set_fd(t->ssl, t->fd) == 1;
    if (o->ok) {
        SSL_set_mode(t->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (o->server) {
            SSL_set_accept_state(t->ssl);
        } else {
            SSL_set_connect_state(t->ssl);
            if (o->servername != NULL)
                o->ok = SSL_set_tlsext_host_name(t->ssl, o->servername) == 1 &&
                        SSL_set1_host(t->ssl, o->servername) == 1;
        }
    }
    if (!o->ok) {
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    ERR_clear_error();
}

static void free_g0(void *arg)
{
    SSL_free(arg);
    ERR_clear_error();
}

static int tlsnew(goro_tls **out, SSL_CTX *ctx, int fd, bool server,
                  const char *servername)
{
    if (out == NULL || ctx == NULL || fd < 0)
        return -EINVAL;
    if (goro_id() == 0)
        return -EPERM;
    ignore_sigpipe();
    goro_tls *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    t->fd = fd;
    newop o = {t, ctx, server, false, servername};
    goro_cgocall(newop_g0, &o);
    if (!o.ok) {
        free(t);
        return -ENOMEM;
    }
    *out = t;
    return 0;
}

int goro_tls_server(goro_tls **out, SSL_CTX *ctx, int fd)
{
    return tlsnew(out, ctx, fd, true, NULL);
}

int goro_tls_client(goro_tls **out, SSL_CTX *ctx, int fd,
                    const char *servername)
{
    return tlsnew(out, ctx, fd, false, servername);
}

int goro_tls_handshake(goro_tls *t, int64_t deadline_ns)
{
    if (t == NULL)
        return -EINVAL;
    size_t n;
    return sslcall(t, opHandshake, NULL, 0, &n, deadline_ns);
}

ssize_t goro_tls_read(goro_tls *t, void *buf, size_t len, int64_t deadline_ns)
{
    if (t == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    size_t n = 0;
    int rc = sslcall(t, opRead, buf, len, &n, deadline_ns);
    return rc < 0 ? rc : (ssize_t)n;
}

ssize_t goro_tls_write(goro_tls *t, const void *buf, size_t len,
                       int64_t deadline_ns)
{
    if (t == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    size_t done = 0;
    while (done < len) {
        size_t n = 0;
        int rc = sslcall(t, opWrite, (char *)buf + done, len - done, &n,
                         deadline_ns);
        if (rc < 0)
            return done > 0 ? (ssize_t)done : rc;
        done += n;
    }
    return (ssize_t)done;
}

int goro_tls_shutdown(goro_tls *t, int64_t deadline_ns)
{
    if (t == NULL)
        return -EINVAL;
    size_t n;
    return sslcall(t, opShutdown, NULL, 0, &n, deadline_ns);
}

void goro_tls_free(goro_tls *t)
{
    if (t == NULL)
        return;
    goro_cgocall(free_g0, t->ssl);
    free(t);
}

SSL *goro_tls_ssl(goro_tls *t)
{
    return t != NULL ? t->ssl : NULL;
}

unsigned long goro_tls_error(const goro_tls *t)
{
    return t != NULL ? t->err : 0;
}
