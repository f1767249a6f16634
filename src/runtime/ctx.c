/*
 * ctx.c - contexts (Go's context package, the cancellation half): a tree of
 * cancel scopes with optional deadlines, and the protocol by which a
 * cancel ends the waits of the Gs parked with a context.
 *
 * A context is a record with a lock, its state (err: 0, -ECANCELED or
 * -ETIMEDOUT; the cause given to the cancel), a list of its children, a
 * list of the waits registered with it, an optional timer (time.c) for
 * its own deadline, and its done channel (unbuffered, no values), closed
 * when it is cancelled: all in one allocation, as time.c's channel
 * timers. A child inherits its parent's deadline when that is earlier
 * than its own, and a cancel runs down the tree: the cancel of a context
 * takes its children out of it under its lock and then cancels each
 * (with a work list, not recursion: a chain of 10,000 contexts must not
 * need 10,000 frames on the loop thread that runs deadlines), each under
 * its own lock. Locks are never nested but for a parent's and then a
 * waiter's wait lock released before: the context lock is a leaf, taken
 * under channel and semaphore locks by a parking G (waitctxarm), and a
 * cancel holds none while it ends waits.
 *
 * Ending a wait: each kind of wait (a channel send or receive, a select,
 * a sleep, a semaphore, a mutex, a wait group, an fd) has a waitcancel
 * function that takes the waiting G off its queue under the queue's lock
 * and readies it, or does nothing when the G is no longer queued: it has
 * been woken by its partner, a deadline or another context first. The
 * G's wait timer (the deadline of a wait, time.c's gtimer, the base of
 * goro_sem_acquire_deadline) calls the same function; so a deadline and a
 * cancel are one mechanism, and a wait's deadline and its contexts race
 * through the wait's own lock. A cancel takes the registrations out of
 * the context (marking each "firing") before it calls waitcancel without
 * the context's lock; the G, once awake, waits until no cancel is firing
 * for it before it unregisters and returns, as timerdel waits for a
 * running timer: a late cancel can never end the G's next wait.
 *
 * Freeing (C has no collector): the creator of a context owns it and
 * frees it with goro_ctx_free, which cancels it first (Go's CancelFunc).
 * Contexts may be freed in any order: a child holds a reference to its
 * parent until it is freed, and a wait holds one to its contexts until it
 * has returned; the memory goes with the last reference. The done
 * channel is the exception: a G that selects on it must be done with it
 * before the context is freed, as with any channel.
 *
 * Groups: each group has a context of its own (goro_group_cancel). The
 * parking calls of a G in a group that can return an error (channel
 * operations, select, sleep, fd and socket I/O, the semaphore, group
 * waits, every *_ctx form) are ended by it as well as by their own
 * context: a daemon stops a plugin's Gs with one call, wherever they
 * wait. Waits with no way to say so (goro_mutex_lock, goro_cond_wait,
 * goro_wg_wait) are not.
 *
 * Rejected: a select on the context's done channel for every ctx form
 * (only channel waits can be cancelled that way, and each would allocate
 * a select's sudogs); a G per context deadline (a G each); contexts that
 * the runtime frees when they are cancelled (a C program cannot know
 * when a pointer it holds goes stale); Go's value bag (G-local keys and
 * the program's own structures do that in C).
 */
#include <errno.h>

#include "runtime2.h"

/* A wait's registration with one context: in the G's ctxw array. */
struct ctxwait {
    struct goro_ctx *ctx;
    g        *gp;
    ctxwait  *next, *prev;     /* in ctx->waiters while linked */
    uint8_t   state;           /* below; under ctx->lock */
    bool      held;            /* waitctxarm took a reference to ctx,
                                  which waitctxend drops (own G) */
};

enum {
    cwNone = 0,    /* not registered */
    cwLinked,      /* on ctx->waiters; holds a reference to ctx */
    cwFiring,      /* taken by a cancel whose waitcancel has not returned;
                      holds a reference to ctx */
};

struct goro_ctx {
    mutex     lock;            /* everything below but refs */
    _Atomic int32_t refs;      /* the owner's, one per child not yet
                                  freed, one per wait registered, one per
                                  cancel under way */
    _Atomic int32_t err;       /* 0, -ECANCELED or -ETIMEDOUT; set once */
    _Atomic int32_t cause;     /* set with err */
    int64_t   deadline;        /* effective (the earliest of its own and
                                  its ancestors'), 0: none; immutable */
    bool      hastimer;        /* t is its own deadline's timer */
    bool      linked;          /* on parent's child list (parent's lock) */
    struct goro_ctx *parent;   /* holds a reference; cleared by free */
    struct goro_ctx *child;    /* children not yet cancelled */
    struct goro_ctx *sibprev, *sibnext; /* in parent->child (parent's
                                  lock) */
    struct goro_ctx *worknext; /* a cancel's work list */
    ctxwait  *waiters;         /* registered waits */
    struct timer t;            /* its own deadline: cancels it */
    /* the done channel follows */
};

static inline goro_chan *ctxdone(goro_ctx *c)
{
    return (goro_chan *)(c + 1);
}

static void ctxref(goro_ctx *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void ctxunref(goro_ctx *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        lockquiesce(&c->lock);
        chanquiesce(ctxdone(c));
        zfree(c);
    }
}

/* ctxcancel cancels c and its descendants with err and cause (no-op for
 * those cancelled before). Any thread; no lock held. */
static void ctxcancel(goro_ctx *c0, int err, int cause)
{
    /* A cancel run by a deadline's timer must not wait for a timer of
     * the same batch (time.c runs them one after another): descendants'
     * timers then stay pending and fire for nothing, or go with their
     * context's free. */
    bool intimer = timerinf();
    ctxref(c0);
    c0->worknext = NULL;
    goro_ctx *work = c0;
    while (work != NULL) {
        goro_ctx *c = work;
        work = c->worknext;
        lock(&c->lock);
        if (atomic_load_explicit(&c->err, memory_order_relaxed) != 0) {
            unlock(&c->lock);
            ctxunref(c);
            continue;
        }
        atomic_store_explicit(&c->cause, cause, memory_order_relaxed);
        atomic_store_explicit(&c->err, err, memory_order_release);
        ctxwait *ws = c->waiters;
        c->waiters = NULL;
        for (ctxwait *w = ws; w != NULL; w = w->next)
            w->state = cwFiring;
        goro_ctx *kids = c->child;
        c->child = NULL;
        for (goro_ctx *k = kids; k != NULL; k = k->sibnext) {
            k->linked = false;
            ctxref(k);  /* its owner may free it meanwhile */
        }
        unlock(&c->lock);
        if (c->hastimer && !intimer)
            timerdel(&c->t);
        goro_chan_close(ctxdone(c));
        while (ws != NULL) {
            ctxwait *w = ws;
            ws = w->next;
            w->gp->waitcancel(w->gp, err);
            lock(&c->lock);
            w->state = cwNone;  /* from here the G may go on */
            unlock(&c->lock);
        }
        for (goro_ctx *k = kids, *next; k != NULL; k = next) {
            next = k->sibnext;
            k->worknext = work;
            work = k;
        }
        ctxunref(c);
    }
}

static void ctxtimerf(struct timer *t, int64_t now)
{
    (void)now;
    ctxcancel(t->arg, -ETIMEDOUT, -ETIMEDOUT);
}

static goro_ctx *ctxalloc(void)
{
    goro_ctx *c = zalloc(sizeof *c + chansize(0, 0));
    if (c == NULL)
        return NULL;
    chaninit(ctxdone(c), 0, 0);
    atomic_store_explicit(&c->refs, 1, memory_order_relaxed);
    c->t.f = ctxtimerf;
    c->t.arg = c;
    return c;
}

goro_ctx *ctxnewroot(void)
{
    return ctxalloc();
}

goro_ctx *goro_ctx_new_deadline(goro_ctx *parent, int64_t deadline_ns)
{
    if (deadline_ns < 0) {
        errno = EINVAL;
        return NULL;
    }
    goro_ctx *c = ctxalloc();
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    int64_t eff = parent != NULL ? parent->deadline : 0;
    bool own = deadline_ns != 0 && (eff == 0 || deadline_ns < eff);
    if (own)
        eff = deadline_ns;
    c->deadline = eff;
    int perr = 0, pcause = 0;
    if (parent != NULL) {
        lock(&parent->lock);
        perr = atomic_load_explicit(&parent->err, memory_order_relaxed);
        if (perr != 0) {
            pcause = atomic_load_explicit(&parent->cause,
                                          memory_order_relaxed);
        } else {
            ctxref(parent);
            c->parent = parent;
            c->linked = true;
            c->sibprev = NULL;
            c->sibnext = parent->child;
            if (parent->child != NULL)
                parent->child->sibprev = c;
            parent->child = c;
        }
        unlock(&parent->lock);
    }
    if (perr != 0) {
        ctxcancel(c, perr, pcause);  /* born cancelled, as in Go */
        return c;
    }
    if (own) {
        if (deadline_ns <= goro_now()) {
            ctxcancel(c, -ETIMEDOUT, -ETIMEDOUT);
        } else {
            c->hastimer = true;
            timeradd(&c->t, deadline_ns);
        }
    }
    return c;
}

goro_ctx *goro_ctx_new(goro_ctx *parent)
{
    return goro_ctx_new_deadline(parent, 0);
}

void goro_ctx_cancel(goro_ctx *ctx, int cause)
{
    if (ctx == NULL)
        return;
    ctxcancel(ctx, -ECANCELED, cause < 0 ? cause : -ECANCELED);
}

void goro_ctx_free(goro_ctx *ctx)
{
    if (ctx == NULL)
        return;
    ctxcancel(ctx, -ECANCELED, -ECANCELED);
    if (ctx->hastimer)
        timerdel(&ctx->t);  /* waits for its f if it runs */
    lock(&ctx->lock);
    goro_ctx *p = ctx->parent;
    ctx->parent = NULL;
    unlock(&ctx->lock);
    if (p != NULL) {
        lock(&p->lock);
        if (ctx->linked) {
            if (ctx->sibprev != NULL)
                ctx->sibprev->sibnext = ctx->sibnext;
            else
                p->child = ctx->sibnext;
            if (ctx->sibnext != NULL)
                ctx->sibnext->sibprev = ctx->sibprev;
            ctx->linked = false;
        }
        unlock(&p->lock);
        ctxunref(p);
    }
    ctxunref(ctx);
}

goro_chan *goro_ctx_done(goro_ctx *ctx)
{
    return ctx != NULL ? ctxdone(ctx) : NULL;
}

int goro_ctx_err(const goro_ctx *ctx)
{
    return ctx != NULL ? atomic_load_explicit(&((goro_ctx *)ctx)->err,
                                              memory_order_acquire)
                       : 0;
}

int goro_ctx_cause(const goro_ctx *ctx)
{
    goro_ctx *c = (goro_ctx *)ctx;
    if (c == NULL ||
        atomic_load_explicit(&c->err, memory_order_acquire) == 0)
        return 0;
    return atomic_load_explicit(&c->cause, memory_order_relaxed);
}

int64_t goro_ctx_deadline(const goro_ctx *ctx)
{
    return ctx != NULL ? ctx->deadline : 0;
}

/* ---- the waits' side ------------------------------------------------------- */

static uintptr_t ctxwalloc_sys(void *arg)
{
    (void)arg;
    return (uintptr_t)zalloc(ctxwaitMax * sizeof(ctxwait));
}

int waitctxbegin_slow(g *gp, bool group, void (*cancel)(g *, int))
{
    goro_ctx *cs[ctxwaitMax] = {gp->callctx, NULL};
    if (group && gp->group != NULL && gp->group->ctx != gp->callctx)
        cs[1] = gp->group->ctx;
    int n = 0;
    for (int i = 0; i < ctxwaitMax; i++) {
        if (cs[i] == NULL)
            continue;
        int err = atomic_load_explicit(&cs[i]->err, memory_order_acquire);
        if (err != 0) {
            gp->nwaitctx = 0;
            return err;
        }
        if (gp->ctxw == NULL) {
            gp->ctxw = (ctxwait *)systemstack(ctxwalloc_sys, NULL);
            if (gp->ctxw == NULL)
                throw("out of memory (a G's context waits)");
        }
        gp->ctxw[n].ctx = cs[i];
        gp->ctxw[n].gp = gp;
        gp->ctxw[n].state = cwNone;
        gp->ctxw[n].held = false;
        n++;
    }
    gp->nwaitctx = (uint8_t)n;
    gp->waitcancel = cancel;
    return 0;
}

int waitctxarm(g *gp)
{
    int pending = 0;
    for (int i = 0; i < gp->nwaitctx; i++) {
        ctxwait *w = &gp->ctxw[i];
        goro_ctx *c = w->ctx;
        lock(&c->lock);
        ctxref(c);
        w->held = true;
        int err = atomic_load_explicit(&c->err, memory_order_relaxed);
        if (err != 0) {
            /* Cancelled since waitctxbegin: waitctxfire ends the wait
             * once the wait's locks are released; firing keeps the G
             * from returning before it has. */
            w->state = cwFiring;
            if (pending == 0)
                pending = err;
        } else {
            w->state = cwLinked;
            w->prev = NULL;
            w->next = c->waiters;
            if (c->waiters != NULL)
                c->waiters->prev = w;
            c->waiters = w;
        }
        unlock(&c->lock);
    }
    return pending;
}

void waitctxfire(g *gp, int err)
{
    /* gp is parked, and stays in this wait until its firing registrations
     * are cleared below (waitctxend waits for that). */
    goro_ctx *held[ctxwaitMax];
    int n = 0;
    for (int i = 0; i < gp->nwaitctx; i++) {
        ctxwait *w = &gp->ctxw[i];
        goro_ctx *c = w->ctx;
        lock(&c->lock);
        if (w->state == cwFiring) {
            ctxref(c);  /* the G may unref and free it once cleared */
            held[n++] = c;
        }
        unlock(&c->lock);
    }
    gp->waitcancel(gp, err);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < gp->nwaitctx; k++) {
            ctxwait *w = &gp->ctxw[k];
            if (w->ctx != held[i])
                continue;
            lock(&held[i]->lock);
            w->state = cwNone;
            unlock(&held[i]->lock);
        }
    }
    for (int i = 0; i < n; i++)
        ctxunref(held[i]);
}

void waitctxend_slow(g *gp)
{
    for (int i = 0; i < gp->nwaitctx; i++) {
        ctxwait *w = &gp->ctxw[i];
        goro_ctx *c = w->ctx;
        lock(&c->lock);
        while (w->state == cwFiring) {
            /* A cancel is ending this wait (or found it ended): its
             * waitcancel still reads the G's wait. */
            unlock(&c->lock);
            goro_yield();
            lock(&c->lock);
        }
        if (w->state == cwLinked) {
            if (w->prev != NULL)
                w->prev->next = w->next;
            else
                c->waiters = w->next;
            if (w->next != NULL)
                w->next->prev = w->prev;
            w->state = cwNone;
        }
        unlock(&c->lock);
        /* A wait whose park was called off before its unlockf armed it
         * holds no reference. */
        if (w->held) {
            w->held = false;
            ctxunref(c);
        }
    }
    gp->nwaitctx = 0;
}

static void waittimerf(struct timer *t, int64_t now)
{
    (void)now;
    g *gp = t->arg;
    gp->waitcancel(gp, -ETIMEDOUT);
}

struct timer *waittimer(g *gp)
{
    return gtimer(gp, waittimerf, gp);
}

void ctxgfree(g *gp)
{
    if (gp->ctxw != NULL) {
        zfree(gp->ctxw);
        gp->ctxw = NULL;
    }
}

/* ---- the context forms of the I/O calls ------------------------------------ */

/* Each runs the plain call with the context as the G's call context: its
 * waits (netpollpark) register with it. */
#define WITHCTX(ctx, type, call)                                              \
    do {                                                                      \
        g *gp_ = getg();                                                      \
        if (!onG(gp_))                                                        \
            return -EPERM;                                                    \
        gp_->callctx = (ctx);                                                 \
        type r_ = (call);                                                     \
        gp_->callctx = NULL;                                                  \
        return r_;                                                            \
    } while (0)

ssize_t goro_read_ctx(goro_ctx *ctx, int fd, void *buf, size_t len)
{
    WITHCTX(ctx, ssize_t, goro_read_deadline(fd, buf, len, 0));
}

ssize_t goro_write_ctx(goro_ctx *ctx, int fd, const void *buf, size_t len)
{
    WITHCTX(ctx, ssize_t, goro_write_deadline(fd, buf, len, 0));
}

int goro_accept_ctx(goro_ctx *ctx, int listen_fd)
{
    WITHCTX(ctx, int, goro_accept_deadline(listen_fd, 0));
}

int goro_wait_fd_ctx(goro_ctx *ctx, int fd, int events)
{
    WITHCTX(ctx, int, goro_wait_fd(fd, events, 0));
}

int goro_dial_ctx(goro_ctx *ctx, const char *network, const char *address)
{
    WITHCTX(ctx, int, goro_dial(network, address, goro_ctx_deadline(ctx)));
}

ssize_t goro_sendto_ctx(goro_ctx *ctx, int fd, const void *buf, size_t len,
                        const struct sockaddr *to, unsigned tolen)
{
    WITHCTX(ctx, ssize_t, goro_sendto(fd, buf, len, to, tolen, 0));
}

ssize_t goro_recvfrom_ctx(goro_ctx *ctx, int fd, void *buf, size_t len,
                          struct sockaddr *from, unsigned *fromlen)
{
    WITHCTX(ctx, ssize_t, goro_recvfrom(fd, buf, len, from, fromlen, 0));
}

ssize_t goro_send_fds_ctx(goro_ctx *ctx, int sock, const void *buf,
                          size_t len, const int *fds, int nfds)
{
    WITHCTX(ctx, ssize_t, goro_send_fds(sock, buf, len, fds, nfds, 0));
}

ssize_t goro_recv_fds_ctx(goro_ctx *ctx, int sock, void *buf, size_t len,
                          int *fds, int *nfds)
{
    WITHCTX(ctx, ssize_t, goro_recv_fds(sock, buf, len, fds, nfds, 0));
}

int goro_group_wait_ctx(goro_ctx *ctx, goro_group *grp)
{
    WITHCTX(ctx, int, goro_group_wait(grp, 0));
}

/* ---- groups ------------------------------------------------------------------ */

goro_ctx *goro_group_ctx(goro_group *grp)
{
    return grp != NULL ? grp->ctx : NULL;
}

int goro_group_cancel(goro_group *grp, int cause)
{
    if (grp == NULL)
        return -EINVAL;
    goro_ctx_cancel(grp->ctx, cause);
    return 0;
}
