/*
 * sema.c - blocking primitives that park the G, not the thread: the wait
 * group (the mutex and the rest of Go's sync: sync.c; sleeping: time.c).
 *
 * Each object keeps its waiters on a FIFO list through g->schedlink under a
 * runtime mutex (lock.c). A G that must wait puts itself on the list and
 * calls gopark with an unlock function that releases that mutex on g0,
 * after the G's context is saved: whoever then takes the G off the list
 * may goready it at once. Wakers take Gs off under the mutex and ready them
 * after releasing it.
 *
 * Every function here may run on a G stack, so none calls libc directly:
 * allocation goes through systemstack (g0), readying through goready.
 */
#include <jemalloc/jemalloc.h>

#include <stdint.h>

#include "runtime2.h"

typedef struct waitq {
    g *first, *last;
} waitq;

static inline void waitq_push(waitq *q, g *gp)
{
    gp->schedlink = NULL;
    if (q->last)
        q->last->schedlink = gp;
    else
        q->first = gp;
    q->last = gp;
}

static inline g *waitq_pop(waitq *q)
{
    g *gp = q->first;
    if (gp) {
        q->first = gp->schedlink;
        if (q->first == NULL)
            q->last = NULL;
        gp->schedlink = NULL;
    }
    return gp;
}


static uintptr_t zalloc_sys(void *size)
{
    return (uintptr_t)mallocx((size_t)(uintptr_t)size, MALLOCX_ZERO);
}

static uintptr_t free_sys(void *ptr)
{
    dallocx(ptr, 0);
    return 0;
}

void *zalloc(size_t size)
{
    return (void *)systemstack(zalloc_sys, (void *)(uintptr_t)size);
}

void zfree(void *ptr)
{
    if (ptr)
        systemstack(free_sys, ptr);
}

/* readylist readies every G of a schedlink list, in order. */
static void readylist(g *gp)
{
    while (gp) {
        g *next = gp->schedlink;
        gp->schedlink = NULL;
        goready(gp);
        gp = next;
    }
}

/* A blocking call outside a G, or on a NULL object, is a programming error
 * that cannot be reported through a void function: say so and stop. */
static void mustpark(const void *obj, const char *what)
{
    if (obj == NULL) {
        print("goro: %s called with NULL\n", what);
        throw("bad argument");
    }
    if (!onG(getg())) {
        print("goro: %s called outside a G (only a G can wait)\n", what);
        throw("bad call");
    }
}

/* ---- wait group ------------------------------------------------------------- */

struct goro_wg {
    /* The count (high 32 bits) and the number of parked waiters (low 32)
     * in one word, as Go's WaitGroup: Add and Done take no lock unless the
     * count reaches zero with waiters to wake, and a Done that brings it to
     * zero with no waiter never touches the wait group again -- so the one
     * who waited may free it as soon as its wait returns. */
    _Atomic uint64_t state;
    mutex   lock;
    waitq   waiters; /* Gs in goro_wg_wait, under lock */
};

goro_wg *goro_wg_new(void)
{
    return zalloc(sizeof(goro_wg));
}

void goro_wg_add(goro_wg *wg, int64_t delta)
{
    if (wg == NULL)
        return;
    uint64_t v = atomic_fetch_add_explicit(&wg->state, (uint64_t)delta << 32,
                                           memory_order_acq_rel) +
                 ((uint64_t)delta << 32);
    int32_t count = (int32_t)(v >> 32);
    uint32_t nwait = (uint32_t)v;
    if (count < 0 || delta > INT32_MAX || delta < INT32_MIN)
        throw("sync: negative WaitGroup counter");
    if (count != 0 || nwait == 0)
        return;
    /* Zero with waiters: they are parked (they queued themselves under the
     * lock while the count was above zero) and cannot free the wait group
     * before readylist below runs them; unlock is our last touch of it. */
    lock(&wg->lock);
    g *list = NULL;
    uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
    if ((s >> 32) == 0) {
        list = wg->waiters.first;
        wg->waiters.first = wg->waiters.last = NULL;
        atomic_fetch_sub_explicit(&wg->state, (uint32_t)s,
                                  memory_order_acq_rel);
    }
    unlock(&wg->lock);
    if (list)
        readylist(list);
}

void goro_wg_done(goro_wg *wg)
{
    goro_wg_add(wg, -1);
}

/* wgcancel is a wait group wait's waitcancel: the G leaves the list and
 * stops counting as a waiter, unless the count reached zero first. */
static void wgcancel(g *gp, int err)
{
    goro_wg *wg = gp->param;
    lock(&wg->lock);
    bool mine = false;
    for (g **pp = &wg->waiters.first, *prev = NULL; *pp != NULL;
         prev = *pp, pp = &(*pp)->schedlink) {
        if (*pp == gp) {
            *pp = gp->schedlink;
            if (wg->waiters.last == gp)
                wg->waiters.last = prev;
            gp->schedlink = NULL;
            mine = true;
            break;
        }
    }
    if (mine) {
        atomic_fetch_sub_explicit(&wg->state, 1, memory_order_acq_rel);
        gp->waitres2 = err;
    }
    unlock(&wg->lock);
    if (mine)
        goready(gp);
}

/* gopark unlock function: register with the wait's contexts (ctx.c),
 * release the mutex passed as lock. */
static bool parkunlockctx(g *gp, void *lk)
{
    int err = gp->nwaitctx != 0 ? waitctxarm(gp) : 0;
    unlock(lk);
    if (err != 0)
        waitctxfire(gp, err);
    return true;
}

/* wgwait: goro_wg_wait, ended early by the call's context when ctxform
 * (and then by the group's too). */
static int wgwait(goro_wg *wg, bool ctxform)
{
    if ((atomic_load_explicit(&wg->state, memory_order_acquire) >> 32) == 0)
        return 0;
    g *gp = getg();
    if (ctxform) {
        gp->waitres2 = 0;
        int err = waitctxbegin(gp, true, wgcancel);
        if (err != 0)
            return err;
    }
    lock(&wg->lock);
    /* Count as a waiter only if the count is still above zero at that
     * instant (one CAS, as Go's Wait): a Done that brings it to zero
     * before sees no waiter and wakes nobody, one after sees us and
     * takes the lock, which we hold until we are parked. */
    uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
    do {
        if ((s >> 32) == 0) {
            unlock(&wg->lock);
            waitctxend(gp);
            return 0;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &wg->state, &s, s + 1, memory_order_acq_rel, memory_order_acquire));
    waitq_push(&wg->waiters, gp);
    gp->param = wg;
    gopark(parkunlockctx, &wg->lock, waitReasonWaitGroup);
    waitctxend(gp);
    gp->param = NULL;
    return ctxform ? gp->waitres2 : 0;
}

void goro_wg_wait(goro_wg *wg)
{
    mustpark(wg, "goro_wg_wait");
    wgwait(wg, false);
}

int goro_wg_wait_ctx(goro_ctx *ctx, goro_wg *wg)
{
    g *gp = getg();
    if (wg == NULL)
        return -EINVAL;
    if (!onG(gp))
        return -EPERM;
    gp->callctx = ctx;
    int err = wgwait(wg, true);
    gp->callctx = NULL;
    return err;
}

void goro_wg_free(goro_wg *wg)
{
    if (wg && wg->waiters.first)
        throw("sync: WaitGroup freed with waiters");
    if (wg != NULL)
        lockquiesce(&wg->lock);
    zfree(wg);
}
