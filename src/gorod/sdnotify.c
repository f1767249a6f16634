/*
 * sdnotify.c - the sd_notify datagram protocol, without libsystemd.
 *
 * A service of Type=notify tells systemd how it is doing by sending text
 * datagrams ("READY=1", "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1",
 * "STATUS=...", "WATCHDOG=1") to the AF_UNIX socket named by
 * $NOTIFY_SOCKET: a file system path ("/run/systemd/notify") or, when it
 * starts with '@', a name in the abstract namespace (the '@' becomes a NUL
 * byte). The protocol is that and nothing more: one datagram per message,
 * no reply. libsystemd's sd_notify does the same plus credentials and fd
 * passing, which gorod does not need, and linking it would add a dependency
 * for forty lines of code.
 *
 * Each message opens its own socket, sends and closes it. The daemon sends a
 * handful of messages per watchdog interval, so keeping a socket open buys
 * nothing and would need a lock; a fresh socket also follows a
 * $NOTIFY_SOCKET that changed (tests set it per run). The send is blocking
 * (a full queue in systemd is a transient condition, and dropping READY=1
 * would make systemd kill the service), bracketed by goro_syscall_enter/exit
 * so that the G's processor runs other Gs meanwhile; outside a G the bracket
 * does nothing. MSG_NOSIGNAL: a receiver that went away is -EPIPE, never
 * SIGPIPE.
 *
 * Split stacks: clang refuses variadic functions under -fsplit-stack, so
 * sd_notifyf is no_split_stack (gcc accepts it either way; the rule is kept
 * for both). Such a function runs unchecked on whatever the caller left,
 * which may be the 392 bytes of the guard area: its frame is the register
 * save area, a va_list and a call, and it does nothing but hand its va_list
 * to sd_notifyv, an ordinary split-stack function whose prologue grows the
 * stack as needed (moving the va_list's pointers with it) and which alone
 * calls into libc. Rejected: vasprintf in the variadic function itself (libc
 * called from a function without a prologue check gets none of the linker's
 * non-split headroom).
 *
 * sd_watchdog_ns reads $WATCHDOG_USEC, honoured only when $WATCHDOG_PID is
 * unset or names this process (a child that inherited the environment must
 * not feed its parent's watchdog), as sd_watchdog_enabled does.
 */
#include "gorod.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Longer messages are cut: systemd reads datagrams of any size, but a STATUS
 * line should be one line of a terminal. */
#define NOTIFY_MAX 2048

/* sd_notifyv: format and send one message. Runs on a G or on any thread. */
static __attribute__((noinline)) int sd_notifyv(const char *fmt, va_list ap)
{
    const char *e = getenv("NOTIFY_SOCKET");
    if (e == NULL || e[0] == '\0')
        return 0;
    if (e[0] != '/' && e[0] != '@')
        return -EAFNOSUPPORT;   /* "vsock:..." and the like */

    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(e);
    if (n >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, e, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';  /* abstract: no trailing NUL in the length */
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

    char msg[NOTIFY_MAX];
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    if (len < 0)
        return -EINVAL;
    if ((size_t)len >= sizeof msg)
        len = sizeof msg - 1;

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    goro_syscall_enter();
    ssize_t r = sendto(fd, msg, (size_t)len, MSG_NOSIGNAL,
                       (struct sockaddr *)&sa, salen);
    int err = r < 0 ? errno : 0;
    goro_syscall_exit();
    close(fd);
    if (r < 0)
        return -err;
    return 1;
}

/* sd_notifyf: variadic, hence no_split_stack: keep its frame to a va_list. */
__attribute__((no_split_stack)) int sd_notifyf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = sd_notifyv(fmt, ap);
    va_end(ap);
    return r;
}

/* parse_u64: a whole decimal string, no sign, no junk; -1 when malformed. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int64_t sd_watchdog_ns(void)
{
    uint64_t usec, pid;
    const char *p = getenv("WATCHDOG_PID");
    if (p != NULL) {
        if (parse_u64(p, &pid) < 0 || pid != (uint64_t)getpid())
            return 0;
    }
    if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0 || usec == 0)
        return 0;
    if (usec > (uint64_t)INT64_MAX / 1000)
        return 0;
    return (int64_t)usec * 1000;
}
