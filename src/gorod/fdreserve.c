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
 * when its accept fails for want of descriptors, it waits until a
 * connection is queued (accept takes its descriptor before it looks at
 * the queue, so the failure says nothing of one), then closes the
 * reserve's descriptors one at a time, each followed at once by an
 * accept (spend): the connection finds room. The reserve is taken back
 * as soon as descriptors are free again: right after each connection of
 * the listener closes, before a plugin that backs off and retries its own
 * accept can take the number, and at each accept. The accept G and the
 * connections' Gs share it; one at a time (busy), and a G that finds it
 * busy leaves it be. The log names the shortage as the process's, with
 * how many descriptors are open and the limit, rather than blaming the
 * listener, once the accept the spend made room for is done.
 *
 * The room a close makes is the next descriptor anyone in the process
 * opens. Spent while no connection was queued, it stayed open until one
 * came, and a plugin retrying its own accept took it: the reserve was
 * soon gone for good. Spent as above, the room is open from a close to
 * the accept right after it on the same thread (goro_close keeps the P,
 * and preemption is off between); a plugin that takes it anyway takes one
 * descriptor, and the next try has the next. No fill of either reserve
 * starts while a spend runs (spending), so gorod does not take its own
 * room back (a fill already opening may take one, as a plugin would).
 * With the reserve spent and its room taken, the listener waits and
 * tries again, its failure logged once until an accept works.
 * Rejected: raising RLIMIT_NOFILE's soft limit
 * (the operator set it; systemd's LimitNOFILE= is the place), closing
 * plugins' connections (not the daemon's to choose), the listen backlog
 * alone (connections queue but are never served while EMFILE lasts).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* spending: Gs of either listener in spend (the essay). */
static _Atomic int spending;

void fdreserve_fill(fdreserve *r)
{
    if (r->n == FDRESERVE_N || atomic_load(&spending) > 0 || !take(r))
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
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    /* EMFILE: every number under the limit is taken (the directory could
     * not be opened to count them). */
    long open = err == -EMFILE ? (long)rl.rlim_cur : fdcount();
    char holders[256];
    gorod_fdholders(holders, sizeof holders);
    gorod_log(GLOG_WARN,
              "the process is out of file descriptors (%ld open, limit "
              "%llu%s; held by plugins: %s): %s uses its reserve", open,
              (unsigned long long)rl.rlim_cur,
              err == -ENFILE ? ", and the system's table is full" : "",
              holders, who);
}

/* spend makes room for the accept on lfd that failed with err (EMFILE or
 * ENFILE; anything else is returned as it is): it closes the reserve's
 * descriptors one at a time, each followed by an accept that does not
 * wait, until one works or the reserve is spent. Returns that accept's
 * result: the connection, the shortage still, or -ETIMEDOUT when nothing
 * was queued after all. */
static int spend(fdreserve *r, int lfd, int err)
{
    if ((err != -EMFILE && err != -ENFILE) || !take(r))
        return err;
    atomic_fetch_add(&spending, 1);
    /* The close and the accept back to back on this thread: goro_close
     * keeps the P (libc's close lets go of it, as for a call that may
     * block, and the G may wait for a P again after it), and no
     * preemption comes between. */
    goro_preempt_disable();
    int fd = err;
    while (r->n > 0 && (fd == -EMFILE || fd == -ENFILE)) {
        goro_close(r->fds[--r->n]);
        r->spent = err;
        fd = goro_accept_deadline(lfd, 1);  /* past: no wait */
    }
    goro_preempt_enable();
    atomic_fetch_sub(&spending, 1);
    give(r);
    return fd;
}

void fdreserve_accept(const ctllistener *l, int lfd)
{
    fdreserve_fill(l->reserve);
    int failed = 0;  /* the error logged last, until an accept works */
    for (;;) {
        int fd = goro_accept(lfd);
        if (fd == -EMFILE || fd == -ENFILE) {
            /* accept(2) takes a descriptor before it looks for a
             * connection: wait for one, the reserve kept, then spend it. */
            int w = goro_wait_fd(lfd, POLLIN, 0);
            fd = w < 0 ? w : spend(l->reserve, lfd, fd);
        }
        if (atomic_load(l->stopping) || fd == -ECANCELED || fd == -EBADF ||
            fd == -EINVAL) {
            if (fd >= 0)
                goro_close(fd);
            break;
        }
        if (fd == -ETIMEDOUT) {  /* the connection went before the spend */
            fdreserve_fill(l->reserve);
            continue;
        }
        report(l->reserve, l->who);
        if (fd < 0) {
            if (fd != failed)
                gorod_log(GLOG_WARN, "%s: accept: %s (tried again every "
                          "100 ms, not logged again until it works)", l->tag,
                          strerror(-fd));
            failed = fd;
            goro_sleep_ns(100 * 1000000);
            continue;
        }
        if (failed != 0)
            gorod_log(GLOG_INFO, "%s: accepting again", l->tag);
        failed = 0;
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
