/*
 * goro/ssl.h - TLS from Gs: OpenSSL over goro's sockets, a call that would
 * block parking the G, not the thread.
 *
 * Built into libgoro_ssl.so; build with
 *     cc $(pkg-config --cflags --libs goro goro-ssl) prog.c -o prog
 * (goro-ssl.pc requires Debian's libssl-dev, OpenSSL 1.1.1 or 3).
 *
 * The program makes its SSL_CTX with OpenSSL as usual (certificates,
 * verification, ALPN) and hands the adapter a connected or accepted
 * non-blocking socket (goro_accept, goro_dial); goro_tls_server and
 * goro_tls_client make the SSL on it. The fd stays the caller's: close
 * it with goro_close after goro_tls_free.
 *
 * goro_tls_handshake: the handshake (read and write do it too when it was
 * not done). goro_tls_read: up to len bytes (> 0), 0 once the peer sent
 * close_notify. goro_tls_write: all len bytes, parking as often as needed
 * (the count, or the error when none was written). goro_tls_shutdown:
 * sends close_notify (without waiting for the peer's). deadline_ns is
 * absolute (goro_now's clock; 0: none), as goro_read's.
 *
 * Errors, negative errno values: -ETIMEDOUT at the deadline; -EPROTO for
 * a TLS failure (a bad certificate, a handshake failure, a corrupt
 * record): goro_tls_error then gives OpenSSL's error code
 * (ERR_error_string_n turns it into text); -ECONNRESET when the peer
 * closed the connection without close_notify; the socket's errno
 * (-EPIPE, ...) for a failed system call; -ECANCELED when another G
 * closed the fd with goro_close; -ENOMEM; -EINVAL for bad arguments;
 * -EPERM outside a G. One G reads and one G writes a goro_tls at a time,
 * as with OpenSSL's own SSL objects.
 *
 * OpenSSL's error queue is per thread, and a G may move to another thread
 * at any function call (goro.h): an error left on the queue by one G's
 * call could be read by another G, or lost. The adapter makes each SSL
 * call in one goro_cgocall (on the thread's own stack, where the G is
 * neither preempted nor moved) with ERR_clear_error before it, the queue
 * read after it and cleared again: a G never leaves a thread with errors
 * on its queue, nor finds another's. Programs that call OpenSSL
 * themselves from Gs must do the same (goro.h, goro_cgocall: "Libraries
 * with per-thread state").
 *
 * Writes raise no SIGPIPE: as goro/hiredis.h, the first goro_tls_server
 * or goro_tls_client of the process sets SIGPIPE to SIG_IGN when its
 * action is still the default (OpenSSL writes sockets with write(2)).
 *
 * OpenSSL runs on the thread's own stack (goro_cgocall), not the G's: an
 * RSA handshake takes more stack than a G's non-split headroom, and a G
 * of a TLS session stays at its own size.
 */
#ifndef GORO_SSL_H
#define GORO_SSL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#include "../goro.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goro_tls goro_tls;

GORO_EXTERN int     goro_tls_server(goro_tls **out, SSL_CTX *ctx, int fd);
GORO_EXTERN int     goro_tls_client(goro_tls **out, SSL_CTX *ctx, int fd,
                                    const char *servername);
GORO_EXTERN int     goro_tls_handshake(goro_tls *t, int64_t deadline_ns);
GORO_EXTERN ssize_t goro_tls_read(goro_tls *t, void *buf, size_t len,
                                  int64_t deadline_ns);
GORO_EXTERN ssize_t goro_tls_write(goro_tls *t, const void *buf, size_t len,
                                   int64_t deadline_ns);
GORO_EXTERN int     goro_tls_shutdown(goro_tls *t, int64_t deadline_ns);
GORO_EXTERN void    goro_tls_free(goro_tls *t);
GORO_EXTERN SSL    *goro_tls_ssl(goro_tls *t);
GORO_EXTERN unsigned long goro_tls_error(const goro_tls *t);

#ifdef __cplusplus
}
#endif
#endif /* GORO_SSL_H */
