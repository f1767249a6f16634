/*
 * fdowner.c - which group opened each fd: goro_group_fds.
 *
 * A process has one table of fds for all its Gs. When it runs out (EMFILE)
 * every accept and open fails, and the failing call is seldom the one that
 * took them: in gorod the admin socket and the metrics listener fail
 * beside the plugin that holds the connections. To name the holder, each
 * fd that a G opens through goro (goro_accept, goro_dial, goro_listen,
 * goro_tcp_listen/connect, goro_recv_fds) is put down to the G's group,
 * and taken off it by goro_close; goro_group_fds reads the count.
 *
 * The table (fdowners) is indexed by fd and grows to the highest fd
 * recorded, under fdownlock: 8 bytes for each fd number the process has
 * reached, next to the kernel's few hundred for each open file. Updates
 * run on g0 (the table grows with jemalloc) and take the lock for a few
 * stores, beside a system call that costs a thousand times more. A number
 * reused without goro_close (the program closed the fd itself, and the
 * kernel gave the number again) moves to its new opener: the counts stay
 * true for what goro sees. goro_group_free takes what is left off the
 * group, so the table never holds a freed group.
 *
 * Rejected: a count alone in the group, decremented at close: goro_close
 * would not know whose fd it closes; the fd's netpoll record (pollDesc):
 * an fd gets one only once a G waits on it, and many never do (a listener
 * polled by another, a socket only written).
 */
#include <jemalloc/jemalloc.h>

#include "runtime2.h"

static mutex fdownlock;
static goro_group **fdowners;  /* fdowners[fd]: its group or NULL; under
                                  fdownlock, nfdowners entries */
static size_t nfdowners;

typedef struct fdownarg {
    int fd;
    goro_group *grp;   /* the new owner, or NULL */
} fdownarg;

/* fdset_sys makes a->grp the owner of a->fd, taking it off the old one.
 * On g0. */
static uintptr_t fdset_sys(void *arg)
{
    fdownarg *a = arg;
    size_t fd = (size_t)a->fd;
    lock(&fdownlock);
    if (fd >= nfdowners && a->grp != NULL) {
        size_t n = nfdowners ? nfdowners : 64;
        while (n <= fd)
            n *= 2;
        goro_group **t = fdowners ? rallocx(fdowners, n * sizeof *t, 0)
                                  : mallocx(n * sizeof *t, 0);
        if (t != NULL) {
            for (size_t i = nfdowners; i < n; i++)
                t[i] = NULL;
            fdowners = t;
            nfdowners = n;
        }
    }
    if (fd < nfdowners) {
        goro_group *old = fdowners[fd];
        fdowners[fd] = a->grp;
        if (old != NULL)
            atomic_fetch_sub_explicit(&old->fds, 1, memory_order_relaxed);
        if (a->grp != NULL)
            atomic_fetch_add_explicit(&a->grp->fds, 1, memory_order_relaxed);
    }
    unlock(&fdownlock);
    return 0;
}

static void fdset(int fd, goro_group *grp)
{
    if (fd < 0)
        return;
    fdownarg a = {fd, grp};
    if (onG(getg()))
        systemstack(fdset_sys, &a);
    else
        fdset_sys(&a);
}

void fdown(int fd)
{
    g *gp = getg();
    fdset(fd, onG(gp) ? gp->group : NULL);
}

void fddisown(int fd)
{
    fdset(fd, NULL);
}

void fdownfree(goro_group *grp)
{
    if (atomic_load(&grp->fds) == 0)
        return;
    lock(&fdownlock);
    for (size_t i = 0; i < nfdowners; i++)
        if (fdowners[i] == grp)
            fdowners[i] = NULL;
    atomic_store(&grp->fds, 0);
    unlock(&fdownlock);
}

int64_t goro_group_fds(const goro_group *grp)
{
    return grp == NULL ? 0
                       : atomic_load_explicit(&grp->fds, memory_order_relaxed);
}
