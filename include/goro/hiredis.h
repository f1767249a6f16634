/*
 * goro/hiredis.h - Redis from Gs: hiredis's asynchronous API driven by
 * goro's netpoller, so that a G issues a command and parks until its reply
 * while the thread runs other Gs.
 *
 * Built into libgoro_hiredis.so; build with
 *     cc $(pkg-config --cflags --libs goro goro-hiredis) prog.c -o prog
 * (goro-hiredis.pc requires Debian's libhiredis-dev, hiredis 0.14 or later).
 *
 * A goro_redis is one connection, shared by any number of Gs: their
 * commands are pipelined on it in the order they were issued, and each G
 * gets its own reply. One G of the connection's own reads the replies
 * (started by goro_redis_dial, ended by goro_redis_close or by the
 * connection's end); a command's G writes it itself, so a command costs
 * its caller one write(2) and one park, and the replies that arrive
 * together are taken by one read(2). hiredis runs on the thread's own
 * stack (goro_cgocall), so a G that issues commands keeps its small one.
 *
 * Every call is for Gs (-EPERM elsewhere) and returns 0 or a negative
 * errno value:
 *
 * goro_redis_dial: network "tcp" (address "host:port"; a host name is
 * resolved as goro_dial does, every address tried in turn) or "unix" (a
 * path). deadline_ns (absolute, goro_now's clock; 0: none) bounds the
 * resolution and the connect. -ECONNREFUSED etc. as the kernel says,
 * -ETIMEDOUT, -ENOMEM, the resolver's errors of goro_dial.
 *
 * goro_redis_command: format and arguments as hiredis's redisCommand
 * ("SET %s %b", key, val, vallen). *reply gets the reply, which the
 * caller frees with goro_redis_free_reply (or freeReplyObject); an error reply of the server
 * (REDIS_REPLY_ERROR) is a reply, returned with 0. -ETIMEDOUT when
 * deadline_ns passed first (the reply, when it comes, is dropped; the
 * connection stays usable), -ECONNRESET when the connection ended before
 * the reply came, -ENOTCONN on a connection that has ended or is being
 * closed, -EINVAL for a format hiredis cannot expand, -EPROTO when the
 * server's bytes were not Redis's protocol (the connection then ends).
 * goro_redis_command_argv: the same with argc arguments of argvlen[i]
 * bytes each (argvlen NULL: strlen).
 *
 * goro_redis_free_reply: freeReplyObject on the thread's own stack
 * (goro_cgocall): hiredis is built without stack checks, and a G that
 * calls freeReplyObject itself grows to 32 KiB for it.
 *
 * goro_redis_close: ends the connection (commands waiting for a reply get
 * -ECONNRESET; later ones -ENOTCONN), waits for its reading G and frees it.
 * No G may use r once it returns.
 *
 * Writes raise no SIGPIPE: the first goro_redis_dial of the process sets
 * SIGPIPE to SIG_IGN when its action is still the default (a write to a
 * server that went away fails with EPIPE instead), as Go's runtime does.
 */
#ifndef GORO_HIREDIS_H
#define GORO_HIREDIS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "../goro.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goro_redis goro_redis;

GORO_EXTERN int  goro_redis_dial(goro_redis **out, const char *network,
                                 const char *address, int64_t deadline_ns);
GORO_EXTERN int  goro_redis_command(goro_redis *r, redisReply **reply,
                                    int64_t deadline_ns, const char *fmt, ...);
GORO_EXTERN int  goro_redis_vcommand(goro_redis *r, redisReply **reply,
                                     int64_t deadline_ns, const char *fmt,
                                     va_list ap);
GORO_EXTERN int  goro_redis_command_argv(goro_redis *r, redisReply **reply,
                                         int64_t deadline_ns, int argc,
                                         const char **argv,
                                         const size_t *argvlen);
GORO_EXTERN void goro_redis_free_reply(redisReply *reply);
GORO_EXTERN int  goro_redis_close(goro_redis *r);

#ifdef __cplusplus
}
#endif
#endif /* GORO_HIREDIS_H */
