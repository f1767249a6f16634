/*
 * netfd.c - the network and file API (Go's net/fd_unix.go and
 * internal/poll/fd_unix.go): TCP listen, accept, connect, read, write and
 * close on non-blocking sockets, and file reads and writes through libuv's
 * thread pool.
 *
 * Every call first makes the system call itself, on the G's own thread,
 * with an inline `syscall` instruction (rawsyscall6): no libc on a G stack,
 * and no trip to another thread when the data, the buffer space or the
 * connection is already there. Only on EAGAIN (EINPROGRESS for connect),
 * or for a read of a TCP socket that its last short read emptied when the
 * M polls next (pollsnext; netpoll.c's "Reads that skip their EAGAIN"),
 * does the G park on the netpoller (netpoll.c) until the fd is ready, its
 * deadline passes or the fd is closed, and then it makes the call again: a
 * spurious readiness costs one more EAGAIN. The loop thread never touches
 * the caller's buffer, which may be on the G's stack and move while the G
 * is parked.
 *
 * What needs libc and is off the hot path (parsing an address, creating and
 * binding a socket) runs on g0 through systemstack.
 *
 * Closing: goro_close of an fd a G ever waited on first drops its
 * pollDesc (netpoll.c's netpollclose, on g0: the fd's waiters wake with
 * -ECANCELED, the runtime's epoll fd forgets it) and only then closes the
 * fd, so that the fd number cannot be reused while epoll still watches it.
 * Fds the runtime polled must be closed with goro_close.
 *
 * Writes use send(MSG_NOSIGNAL) on sockets: a peer that went away gives
 * -EPIPE, never a SIGPIPE that would kill the process.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime2.h"

/* netpollblock parks the calling G until fd is readable (or writable), the
 * deadline (absolute nanotime, 0 = none) passes, or the fd is closed.
 * Returns >= 0 (ready: make the call again), -ETIMEDOUT, -ECANCELED, or the
 * error that kept the fd from being polled. cgen: netpoll_closegen_of(fd)
 * before the call that gave EAGAIN. On a G. */
static int netpollblock(int fd, bool write, int64_t deadline, uint32_t cgen)
{
    return netpollpark(getg(), fd, cgen, deadline,
                       write ? waitReasonIOWrite : waitReasonIORead, NULL);
}

static inline long sys3(long nr, long a, long b, long c)
{
    return rawsyscall6(nr, a, b, c, 0, 0, 0);
}

static void setnodelay(int fd)
{
    int one = 1;
    rawsyscall6(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, (long)&one,
                sizeof one, 0);
}

/* ---- reading and writing ---------------------------------------------------- */

/* pollsnext: gp's M will poll the netpoller as soon as gp parks: nothing
 * waits in its P's queue or the global one, so the M goes to findrunnable,
 * which polls (or blocks in the netpoller) before it steals. Only then may
 * a read skip the call that would say EAGAIN: that call also finds what
 * came after a short read before anyone polled, and while every P runs
 * other Gs no M polls until a time slice ends (bench/RESULTS.md, "Reads
 * that skip their EAGAIN"). A hint: a G queued meanwhile delays the poll
 * to the next M that runs out of work, or sysmon's. */
static inline bool pollsnext(g *gp)
{
    return runqempty(gp->m->p) &&
           __atomic_load_n(&sched.runqsize, __ATOMIC_RELAXED) == 0;
}

ssize_t goro_read_deadline(int fd, void *buf, size_t len, int64_t deadline_ns)
{
    if (fd < 0)
        return -EBADF;
    if (buf == NULL && len > 0)
        return -EINVAL;
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    for (;;) {
        uint32_t cgen = netpoll_closegen_of(fd);
        uint32_t edges = 0;
        bool known = netpoll_rdknown(gp, fd, &edges);
        if (known && gp->rdempty && edges == gp->rdedges && pollsnext(gp)) {
            /* The last read took everything and nothing came since: park
             * without the call that would say EAGAIN. */
            gp->rdempty = false;
            gp->waitskipped = true;
            mystats()->read_skips++;
            int err = netpollblock(fd, false, deadline_ns, cgen);
            gp->waitskipped = false;  /* if it ended before the commit */
            if (err < 0)
                return err;
            continue;
        }
        long n = sys3(SYS_read, fd, (long)buf, (long)len);
        gp->rdempty = known && n > 0 && (size_t)n < len;
        gp->rdedges = edges;
        if (n >= 0)
            return n;
        if (n == -EINTR)
            continue;
        if (n != -EAGAIN)
            return n;
        int err = netpollblock(fd, false, deadline_ns, cgen);
        if (err < 0)
            return err;
    }
}

ssize_t goro_read(int fd, void *buf, size_t len)
{
    return goro_read_deadline(fd, buf, len, 0);
}

ssize_t goro_write_deadline(int fd, const void *buf, size_t len,
                            int64_t deadline_ns)
{
    if (fd < 0)
        return -EBADF;
    if (buf == NULL && len > 0)
        return -EINVAL;
    if (len > SSIZE_MAX)
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    size_t done = 0;
    bool sock = true;
    while (done < len) {
        long n;
        uint32_t cgen = netpoll_closegen_of(fd);
        if (sock) {
            n = rawsyscall6(SYS_sendto, fd, (long)buf + (long)done,
                            (long)(len - done), MSG_NOSIGNAL, 0, 0);
            if (n == -ENOTSOCK) {
                sock = false;
                continue;
            }
        } else {
            n = sys3(SYS_write, fd, (long)buf + (long)done,
                     (long)(len - done));
        }
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (n == -EINTR)
            continue;
        int err = (int)n;
        if (n == -EAGAIN)
            err = netpollblock(fd, true, deadline_ns, cgen);
        if (err < 0)
            return done > 0 ? (ssize_t)done : err;
    }
    return (ssize_t)len;
}

ssize_t goro_write(int fd, const void *buf, size_t len)
{
    return goro_write_deadline(fd, buf, len, 0);
}

/* ---- accepting ------------------------------------------------------------------ */

int goro_accept_deadline(int listen_fd, int64_t deadline_ns)
{
    if (listen_fd < 0)
        return -EBADF;
    if (!onG(getg()))
        return -EPERM;
    for (;;) {
        uint32_t cgen = netpoll_closegen_of(listen_fd);
        long fd = rawsyscall6(SYS_accept4, listen_fd, 0, 0,
                              SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0);
        if (fd >= 0) {
            setnodelay((int)fd);
            fdown((int)fd);
            return (int)fd;
        }
        /* A connection reset while queued: take the next one. */
        if (fd == -EINTR || fd == -ECONNABORTED)
            continue;
        if (fd != -EAGAIN)
            return (int)fd;
        int err = netpollblock(listen_fd, false, deadline_ns, cgen);
        if (err < 0)
            return err;
    }
}

int goro_accept(int listen_fd)
{
    return goro_accept_deadline(listen_fd, 0);
}

/* ---- creating sockets (on g0) ---------------------------------------------------- */

struct sockargs {
    const char *host;
    int port;
    int backlog;     /* listen; < 0: connect */
    long result;     /* fd (connect: the connection may be in progress,
                        see inprogress) or -errno */
    bool inprogress;
};

/* sockaddrof parses a numeric IPv4 or IPv6 address (no DNS); NULL is the
 * IPv4 wildcard. */
static int sockaddrof(const char *host, int port, struct sockaddr_storage *ss,
                      socklen_t *sl)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (host == NULL) {
        in4->sin_family = AF_INET;
        in4->sin_addr.s_addr = htonl(INADDR_ANY);
        in4->sin_port = htons((uint16_t)port);
        *sl = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *sl = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *sl = sizeof *in6;
        return 0;
    }
    return -EINVAL;
}

static uintptr_t socket_sys(void *arg)
{
    struct sockargs *a = arg;
    struct sockaddr_storage ss;
    socklen_t sl;
    a->inprogress = false;
    int err = sockaddrof(a->host, a->port, &ss, &sl);
    if (err < 0) {
        a->result = err;
        return 0;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0) {
        a->result = -errno;
        return 0;
    }
    int one = 1;
    if (a->backlog >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
            listen(fd, a->backlog > 0 ? a->backlog : SOMAXCONN) < 0) {
            a->result = -errno;
            close(fd);
            return 0;
        }
    } else {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
            if (errno != EINPROGRESS) {
                a->result = -errno;
                close(fd);
                return 0;
            }
            a->inprogress = true;
        }
    }
    a->result = fd;
    return 0;
}

static bool badhost(const char *host)
{
    if (host == NULL)
        return false;
    for (size_t i = 0; host[i] != '\0'; i++)
        if (i >= INET6_ADDRSTRLEN)
            return true;
    return false;
}

int goro_tcp_listen(const char *host, int port, int backlog)
{
    if (port < 0 || port > 65535 || badhost(host))
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    struct sockargs a = {host, port, backlog < 0 ? 0 : backlog, 0, false};
    systemstack(socket_sys, &a);
    fdown((int)a.result);
    return (int)a.result;
}

int goro_tcp_connect(const char *host, int port)
{
    if (host == NULL || port <= 0 || port > 65535 || badhost(host))
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    struct sockargs a = {host, port, -1, 0, false};
    systemstack(socket_sys, &a);
    int fd = (int)a.result;
    fdown(fd);
    if (fd < 0 || !a.inprogress)
        return fd;
    int err = netpollblock(fd, true, 0, netpoll_closegen_of(fd));
    if (err >= 0) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        long r = rawsyscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR,
                             (long)&soerr, (long)&sl, 0);
        err = r < 0 ? (int)r : -soerr;
    }
    if (err < 0) {
        goro_close(fd);
        return err;
    }
    return fd;
}

/* ---- closing -------------------------------------------------------------------- */

static uintptr_t netpollclose_sys(void *arg)
{
    netpollclose((int)(intptr_t)arg);
    return 0;
}

int goro_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    fddisown(fd);
    if (netpollclosing(fd)) {
        /* Unregister fd first (netpoll.c's netpollclose), on g0. */
        if (onG(getg()))
            systemstack(netpollclose_sys, (void *)(intptr_t)fd);
        else
            netpollclose(fd);
    }
    long r = sys3(SYS_close, fd, 0, 0);
    /* Linux frees the fd even when close is interrupted. */
    return r == -EINTR ? 0 : (int)r;
}

/* ---- files ---------------------------------------------------------------------- */

static ssize_t fileio(bool write, int fd, void *buf, size_t len, int64_t off)
{
    if (fd < 0)
        return -EBADF;
    if (buf == NULL && len > 0)
        return -EINVAL;
    if (off < -1 || len > INT_MAX)
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    return loopfileio(write, fd, buf, len, off);
}

ssize_t goro_file_read(int fd, void *buf, size_t len, int64_t off)
{
    return fileio(false, fd, buf, len, off);
}

ssize_t goro_file_write(int fd, const void *buf, size_t len, int64_t off)
{
    return fileio(true, fd, (void *)buf, len, off);
}
