/*
 * group.c - groups of Gs.
 *
 * A daemon that runs task plugins must know which Gs belong to which
 * plugin: to show them, to count them, and above all to wait until every
 * one of them has ended before the plugin's code is unmapped. A group is
 * that set. A G spawned with goro_group_go joins the group, and so does,
 * transitively, every G it spawns with goro_go (newproc1 copies the
 * creator's g->group), much as Go's profiler labels are inherited.
 *
 * The group counts its live Gs: newproc1 adds one before the G can run,
 * goexit0 takes it away (groupexit) after the G's last instruction of its
 * own. goro_group_wait parks until the count is zero. The waiter reads an
 * eventfd through the netpoller (a deadline comes for free); the exit that
 * brings the count to zero writes it. Both happen under the group's lock,
 * as does goro_group_free, so that the last exit never touches a group
 * that a waiter, woken by a count it saw as zero, has already freed.
 *
 * A group has a context (ctx.c): goro_group_cancel cancels it, which ends
 * the waits of its Gs wherever they are parked (ctx.c says which calls),
 * and every *_ctx call with a context derived from it (goro_group_ctx).
 *
 * A group may also give its Gs fixed stacks (for code built without
 * -fsplit-stack, whose frames the runtime could not move): one mapping per
 * G with a guard page below it, never copied, shrunk or cached. A frame of
 * split-stack code (the runtime's) that would not fit is reported as a
 * fatal error naming the G and its group (newstack); code without checks
 * that runs past the end hits the guard page.
 */

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime2.h"

#define FIXED_MIN ((uintptr_t)32 << 10)
#define FIXED_MAX ((uintptr_t)1 << 30)

goro_group *goro_group_new(const char *name, size_t fixed_stack, void *udata)
{
    if (name == NULL || name[0] == '\0' ||
        (fixed_stack != 0 &&
         (fixed_stack % PAGESIZE != 0 || fixed_stack < FIXED_MIN ||
          fixed_stack > FIXED_MAX))) {
        errno = EINVAL;
        return NULL;
    }
    goro_group *grp = zalloc(sizeof *grp);
    size_t n = strlen(name);
    char *copy = zalloc(n + 1);
    goro_ctx *ctx = ctxnewroot();
    if (grp == NULL || copy == NULL || ctx == NULL) {
        zfree(grp);
        zfree(copy);
        goro_ctx_free(ctx);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(copy, name, n);
    grp->name = copy;
    grp->ctx = ctx;
    grp->fixed = fixed_stack;
    grp->udata = udata;
    grp->waitfd = -1;
    return grp;
}

int64_t goro_group_go(goro_group *grp, goro_fn fn, void *arg)
{
    if (grp == NULL || fn == NULL)
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    return newproc(fn, arg, grp,
                   (uintptr_t)__builtin_return_address(0));
}

int64_t goro_group_live(const goro_group *grp)
{
    return grp ? atomic_load(&((goro_group *)grp)->live) : 0;
}

const char *goro_group_name(const goro_group *grp)
{
    return grp ? grp->name : NULL;
}

void *goro_group_udata(const goro_group *grp)
{
    return grp ? grp->udata : NULL;
}

goro_group *goro_group_self(void)
{
    g *gp = getg();
    return onG(gp) ? gp->group : NULL;
}

/* groupexit: gp has run its last instruction; it leaves its group. On g0
 * (goexit0): the write below is a plain system call on the thread's stack. */
void groupexit(g *gp)
{
    goro_group *grp = gp->group;
    gp->group = NULL;
    lock(&grp->lock);
    if (atomic_fetch_sub(&grp->live, 1) == 1 && grp->waitfd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(grp->waitfd, &one, sizeof one);
        (void)r; /* an eventfd write fails only on overflow: still readable */
    }
    unlock(&grp->lock);
}

int goro_group_wait(goro_group *grp, int64_t deadline_ns)
{
    g *gp = getg();
    if (grp == NULL)
        return -EINVAL;
    if (!onG(gp))
        return -EPERM;
    if (gp->group == grp)
        return -EDEADLK;  /* it would wait for itself */
    lock(&grp->lock);
    if (grp->waiting) {
        unlock(&grp->lock);
        return -EBUSY;
    }
    if (atomic_load(&grp->live) == 0) {
        unlock(&grp->lock);
        return 0;
    }
    if (grp->waitfd < 0)
        grp->waitfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int fd = grp->waitfd;
    grp->waiting = fd >= 0;
    unlock(&grp->lock);
    if (fd < 0)
        return -errno;
    /* Whatever exit brings live to zero from here on writes fd. */
    int err = 0;
    while (atomic_load(&grp->live) != 0) {
        uint64_t v;
        ssize_t r = goro_read_deadline(fd, &v, sizeof v, deadline_ns);
        if (r < 0 && r != -EAGAIN && r != -EINTR) {
            err = (int)r;
            break;
        }
    }
    lock(&grp->lock);
    grp->waiting = false;
    unlock(&grp->lock);
    return err;
}

int goro_group_free(goro_group *grp)
{
    if (grp == NULL)
        return 0;
    lock(&grp->lock);
    bool busy = atomic_load(&grp->live) != 0 || grp->waiting;
    int fd = grp->waitfd;
    unlock(&grp->lock);
    if (busy)
        return -EBUSY;
    if (fd >= 0) {
        if (onG(getg()))
            goro_close(fd);
        else
            close(fd);
    }
    /* goro_gs_snapshot reads group names under allglock. */
    lock(&allglock);
    unlock(&allglock);
    goro_ctx_free(grp->ctx);
    fdownfree(grp);
    lockquiesce(&grp->lock);
    zfree(grp->name);
    zfree(grp);
    return 0;
}
