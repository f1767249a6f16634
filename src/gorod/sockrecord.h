/*
 * sockrecord.h - where a gorod whose admin socket is not the system's
 * records that socket's path, so that goroctl finds it with no flag.
 *
 * Shared by gorod (sockrecord.c writes and removes the record) and goroctl
 * (which reads it): both compute the place here, and only here.
 *
 * The record is a file holding the socket's absolute path and a newline:
 *   $XDG_RUNTIME_DIR/gorod/socket  when XDG_RUNTIME_DIR is an absolute path
 *                                  (systemd's per-user /run/user/UID)
 *   /tmp/gorod-UID/socket          else (UID: the effective uid), in a
 *                                  directory of mode 0700 that gorod makes;
 *                                  one of another owner or wider mode is
 *                                  not used (not written, not read).
 * One record per user: the last gorod started with a socket of its own
 * wins; at exit a gorod removes the record if it still names its socket.
 * The system's socket (GOROD_SYSTEM_SOCKET, the installed configuration's)
 * is never recorded: goroctl looks there first anyway.
 *
 * Static inline and free of gorod's headers: goroctl includes it too.
 */
#ifndef GOROD_SOCKRECORD_H
#define GOROD_SOCKRECORD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOROD_SYSTEM_SOCKET "/run/gorod/gorod.sock"

/* sockrecord_dir writes the record's directory into buf: 0, or -1 when it
 * does not fit. */
static inline int sockrecord_dir(char *buf, size_t len)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    int n = x != NULL && x[0] == '/'
                ? snprintf(buf, len, "%s/gorod", x)
                : snprintf(buf, len, "/tmp/gorod-%u", (unsigned)geteuid());
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* sockrecord_path writes the record's path into buf: 0, or -1. */
static inline int sockrecord_path(char *buf, size_t len)
{
    if (sockrecord_dir(buf, len) != 0)
        return -1;
    size_t n = strlen(buf);
    if (n + sizeof "/socket" > len)
        return -1;
    memcpy(buf + n, "/socket", sizeof "/socket");
    return 0;
}

/* sockrecord_dir_ok: whether st (lstat of the record's directory) is one
 * to trust: a directory of ours that no one else may write to. NULL when
 * it is, else why not. */
static inline const char *sockrecord_dir_ok(const struct stat *st)
{
    if (!S_ISDIR(st->st_mode))
        return "not a directory";
    if (st->st_uid != geteuid())
        return "owned by another user";
    if (st->st_mode & 022)
        return "writable by others";
    return NULL;
}

#endif
