/*
 * sockrecord.c - the record of the admin socket's path that goroctl reads
 * when it is given no socket (sockrecord.h says where and why).
 *
 * admin_start calls sockrecord_write once its socket listens, admin_stop
 * sockrecord_remove before it removes the socket. The record is written
 * to a temporary file in the same directory and renamed over the old one:
 * a goroctl reading it meanwhile sees the old path or the new, never half
 * of one. A record that cannot be written is a warning, not an error: the
 * daemon serves as before, and goroctl --socket reaches it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gorod.h"
#include "sockrecord.h"

/* The record of ours, while it stands ("" when none): written and read on
 * the daemon's control G (admin_start, admin_stop, start-up). */
static char recorded[PATH_MAX];

const char *sockrecord_current(void)
{
    return recorded[0] ? recorded : NULL;
}

int sockrecord_write(const char *sock)
{
    recorded[0] = '\0';
    if (sock == NULL || sock[0] != '/' ||
        strcmp(sock, GOROD_SYSTEM_SOCKET) == 0)
        return 1;
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 32];
    if (sockrecord_dir(dir, sizeof dir) != 0 ||
        sockrecord_path(path, sizeof path) != 0) {
        gorod_log(GLOG_WARN, "admin: the record of the socket's path: "
                  "$XDG_RUNTIME_DIR is too long; goroctl needs --socket %s",
                  sock);
        return -1;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        gorod_log(GLOG_WARN, "admin: mkdir %s: %s; goroctl needs --socket %s",
                  dir, strerror(errno), sock);
        return -1;
    }
    struct stat st;
    const char *why = lstat(dir, &st) < 0 ? strerror(errno)
                                          : sockrecord_dir_ok(&st);
    if (why != NULL) {
        gorod_log(GLOG_WARN, "admin: %s: %s: the socket's path is not "
                  "recorded there; goroctl needs --socket %s", dir, why, sock);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/.socket.%d", dir, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    size_t n = strlen(sock);
    bool ok = fd >= 0 && write(fd, sock, n) == (ssize_t)n &&
              write(fd, "\n", 1) == 1;
    int err = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        gorod_log(GLOG_WARN, "admin: recording the socket's path in %s: %s; "
                  "goroctl needs --socket %s", path, strerror(err), sock);
        return -1;
    }
    snprintf(recorded, sizeof recorded, "%s", path);
    gorod_log(GLOG_INFO, "admin: recorded the socket's path in %s (goroctl "
              "looks there)", path);
    return 0;
}

void sockrecord_remove(const char *sock)
{
    if (recorded[0] == '\0' || sock == NULL)
        return;
    /* Only while it names our socket: another gorod of the same user may
     * have recorded its own since. */
    char buf[PATH_MAX + 2];
    int fd = open(recorded, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            if (strcmp(buf, sock) == 0)
                unlink(recorded);
        }
    }
    recorded[0] = '\0';
}
