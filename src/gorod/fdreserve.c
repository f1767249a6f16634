/*
 * fdreserve.c - file descriptors held back for the control plane, and the
 * control plane's accept loop that spends them (fdreserve_accept: the
 * admin socket's and the metrics listener's, which differ only in whom
 * they admit and how they serve).
 *
 * When the process runs out of descriptors (a plugin that holds every
 * connection it accepted, a leak), accept(2) on the admin socket and the
 * metrics listener fails with EMFILE like everything else, and the
 * operator loses goroctl and the scrape just when they are needed. So each
 * of the two keeps a few descriptors of /dev/null open (fdreserve_fill);
 * when its accept fails for want of descriptors it closes them
 * (fdreserve_spend) and accepts again at once: the connection, and what
 * serving it opens (/proc files for the figures), find room. The reserve
 * is taken back as soon as descriptors are free again: right after each
 * connection of the listener closes, before a plugin that backs off and
 * retries its own accept can take the number, and at each accept. The
 * accept G and the connections' Gs share it; one at a time (busy), and a
 * G that finds it busy leaves it be.
 * The log names the shortage as the process's, with how many descriptors
 * are open and the limit, rather than blaming the listener, once the
 * accept the spend made room for is done (before it, its directory read
 * and its write gave a retrying plugin the time to take the room).
 *
 * Best effort: between the close and the accept another G may take the
 * room (a plugin retrying its own accept); the listener then waits as
 * before and tries again. Rejected: raising RLIMIT_NOFILE's soft limit
 * (the operator set it; systemd's LimitNOFILE= is the place), closing
 * plugins' connections (not the daemon's to choose), the listen backlog
 * alone (connections queue but are never served while EMFILE lasts).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <goro.h>
#include <stdatomic.h>

#include "gorod.h"

static bool take(fdreserve *r)
{
    return !atomic_exchange_explicit(&r->busy, true, memory_order_acquire);
}

static void give(fdreserve *r)
{
    atomic_store_explicit(&r->busy, false, memory_order_release);
}

void fdreserve_fill(fdreserve *r)
{
    if (r->n == FDRESERVE_N || !take(r))
        return;
    while (r->n < FDRESERVE_N) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        r->fds[r->n++] = fd;
    }
    give(r);
}

/* fdcount: descriptors open in the process (/proc/self/fd), or -1. */
static long fdcount(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;  /* the directory's own */
}

static void closeall(fdreserve *r)
{
    while (r->n > 0)
        close(r->fds[--r->n]);
}

void fdreserve_close(fdreserve *r)
{
    while (!take(r))
        goro_yield();
    closeall(r);
    give(r);
}

/* report logs the shortage a spend met, once, after the accept that the
 * spend made room for: the line's figures open a directory, and the log
 * takes time, in which a plugin retrying its own accept would take the
 * room first. */
static void report(fdreserve *r, const char *who)
{
    if (!take(r))
        return;
    int err = r->spent;
    r->spent = 0;
    give(r);
    if (err == 0)
        return;
    struct rlimit rl;
    long open = fdcount();
    char holders[256];
    gorod_fdholders(holders, sizeof holders);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        gorod_log(GLOG_WARN,
                  "the process is out of file descriptors (%ld open, limit "
                  "%llu%s; held by plugins: %s): %s uses its reserve", open,
                  (unsigned long long)rl.rlim_cur,
                  err == -ENFILE ? ", and the system's table is full" : "",
                  holders, who);
}

void fdreserve_accept(const ctllistener *l, int lfd)
{
    fdreserve_fill(l->reserve);
    for (;;) {
        int fd = goro_accept(lfd);
        if (atomic_load(l->stopping) || fd == -ECANCELED || fd == -EBADF ||
            fd == -EINVAL) {
            if (fd >= 0)
                goro_close(fd);
            break;
        }
        if (fd < 0) {
            if (fdreserve_spend(l->reserve, fd))
                continue;  /* accept again at once, the log after it */
            report(l->reserve, l->who);
            gorod_log(GLOG_WARN, "%s: accept: %s", l->tag, strerror(-fd));
            goro_sleep_ns(100 * 1000000);
            continue;
        }
        report(l->reserve, l->who);
        fdreserve_fill(l->reserve);
        if (!l->admit(fd))
            continue;
        if (goro_go(l->serve, (void *)(intptr_t)fd) < 0) {
            l->unadmit();
            goro_close(fd);
        }
    }
    fdreserve_close(l->reserve);
}

bool fdreserve_spend(fdreserve *r, int err)
{
    if (err != -EMFILE && err != -ENFILE)
        return false;
    if (!take(r))
        return false;
    int had = r->n;
    closeall(r);
    if (had > 0)
        r->spent = err;
    give(r);
    return had > 0;
}
