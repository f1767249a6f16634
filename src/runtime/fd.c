/*
 * fd.c - waiting for any fd (goro_wait_fd): Go's RawConn.Read/Write
 * callbacks, libdill's fdin/fdout, Tokio's AsyncFd, for fds the runtime did
 * not create (a library's socket, a pipe, an eventfd, a timerfd, a tty).
 *
 * It has poll(2)'s meaning, level-triggered: it returns at once when the fd
 * is ready now, and parks only when it is not. So it first looks, with one
 * poll(2) that does not wait (an inline system call on the G's own
 * thread): when the fd is ready that is the whole cost, and the events are
 * poll's own. Only when it is not does the G park on the fd's pollDesc in
 * the netpoller (netpoll.c), as goro_read does after an EAGAIN, and the
 * edge that wakes it brings the events with it (g->waitres), so a woken
 * wait makes no second poll.
 *
 * The netpoller is edge-triggered and latches an edge nobody waited for.
 * A latch older than the poll that found the fd not ready is stale (the
 * caller consumed that readiness since); honoured, it would return at once
 * and make every later wait cost a spurious wake, an EAGAIN and a poll
 * more. So the wait takes a snapshot of the pollDesc's edge count before
 * its poll (netpoll_snap), and its park drops the latches if no edge came
 * since. Readiness that comes between the poll and the park is not lost:
 * its edge bumps the count, and its latch is kept.
 *
 * Fds closed behind the runtime's back (by the library that owns them):
 * the kernel drops a closed fd from the netpoller's epoll set, and its
 * number may come back as another file. Each park of goro_wait_fd checks
 * the fd's registration (one EPOLL_CTL_MOD, in netpollcommit) and makes a
 * new one when it is stale; that check is the price of the slow path, never
 * of the fast one. A G parked on an fd that someone closes with close(2)
 * stays parked until its deadline, as a thread in poll(2) does: goro_close
 * is the close that wakes it (-ECANCELED).
 *
 * Rejected: parking first and letting the netpoller report readiness (an
 * fd that is ready now would cost a park, an epoll_wait and a wake instead
 * of one poll, and an edge consumed earlier would never come again); a
 * poll(2) after each wake to get exact events (the edge has them, and
 * readiness may be gone by the time the caller acts whichever way it was
 * learnt, as with poll itself); a uv_poll_t per fd (see netpoll.c).
 */
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>

#include "runtime2.h"

/* waitfd_thread is goro_wait_fd on a thread that is not a G: poll(2)
 * itself, which blocks the thread. */
static int waitfd_thread(int fd, int events, int64_t deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline > 0) {
            int64_t left = deadline - nanotime();
            if (left <= 0)
                timeout = 0;
            else if (left / 1000000 >= INT32_MAX)
                timeout = INT32_MAX;
            else
                timeout = (int)((left + 999999) / 1000000);
        }
        struct pollfd pfd = {.fd = fd, .events = (short)events};
        long n = rawsyscall6(SYS_poll, (long)&pfd, 1, timeout, 0, 0, 0);
        if (n == -EINTR)
            continue;
        if (n < 0)
            return (int)n;
        if (n > 0)
            return pfd.revents & POLLNVAL ? -EBADF : pfd.revents;
        if (deadline > 0 && nanotime() >= deadline)
            return -ETIMEDOUT;
        if (deadline == 0)
            continue;
    }
}

int goro_wait_fd(int fd, int events, int64_t deadline_ns)
{
    if (fd < 0)
        return -EBADF;
    if (events == 0 || (events & ~(POLLIN | POLLOUT)) != 0)
        return -EINVAL;
    if (deadline_ns < 0)
        deadline_ns = 0;
    if (!onG(getg()))
        return waitfd_thread(fd, events, deadline_ns);
    uint8_t reason = events == POLLIN    ? waitReasonIORead
                     : events == POLLOUT ? waitReasonIOWrite
                                         : waitReasonIOWait;
    for (;;) {
        uint32_t cgen = netpoll_closegen_of(fd);
        pollsnap snap;
        netpoll_snap(fd, &snap);
        struct pollfd pfd = {.fd = fd, .events = (short)events};
        long n = rawsyscall6(SYS_poll, (long)&pfd, 1, 0, 0, 0, 0);
        if (n == -EINTR)
            continue;
        if (n < 0)
            return (int)n;
        if (n > 0)
            return pfd.revents & POLLNVAL ? -EBADF : pfd.revents;
        int res = netpollpark(getg(), fd, cgen, deadline_ns, reason, &snap);
        if (res < 0)
            return res;
        res &= events | POLLHUP | POLLERR;
        if (res != 0)
            return res;
        /* An edge of the other direction (a woken reader's list is taken
         * by any edge that may concern readers): look again. */
    }
}
