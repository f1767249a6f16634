/*
 * sync.c - Go's sync package for Gs: the mutex, the condition variable,
 * the reader/writer mutex, once, the weighted semaphore (Go's
 * x/sync/semaphore), and G-local values; and under them the runtime
 * semaphore they park on (Go's sema.go).
 *
 * The runtime semaphore (sema) is a count and a list of parked Gs (through
 * g->schedlink) under a runtime lock, with the count and the number of
 * waiters also read without it: an acquire that finds the count above zero
 * takes it with a CAS, a release that finds nobody waiting only adds one.
 * A release that finds a waiter gives the count to it and readies it
 * (with handoff, it also yields so that the waiter runs at once).
 *
 * The mutex is Go's sync.Mutex, word for word in its states (locked,
 * woken, starving, the waiter count): unlock does not hand the lock to
 * the next waiter; it wakes one, which competes with the Gs that are
 * running and may lose (it then waits again at the head of the queue).
 * Under contention most lock/unlock pairs are a CAS each, not a switch.
 * A G that finds the lock held spins briefly (four rounds of 30 pauses)
 * when another P runs and its own run queue is empty: the owner is likely
 * running and about to release it. A waiter that has waited over 1 ms
 * puts the mutex in starvation mode: unlock then hands it straight to the
 * first waiter, new arrivals queue at the back, and the mode ends when
 * the last waiter, or one that waited under 1 ms, takes it: FIFO bounded
 * as in Go. Rejected: direct hand-off always (goro's first mutex: FIFO,
 * but each unlock under contention was a context switch, a convoy); a
 * futex-style lock that blocks the thread (it would take the P with it).
 *
 * The condition variable is Go's notifyList: a waiter takes a ticket before
 * it unlocks the mutex, signal wakes the holder of the oldest ticket not
 * yet notified, broadcast all; a signal between a waiter's unlock and its
 * park is not lost (the waiter sees its ticket notified and does not
 * park). Go has no context form of a wait on a cond; goro_cond_wait_ctx
 * has one, and a waiter that a context takes off the list leaves its
 * ticket behind (a hole), which a later signal must not be spent on: the
 * cond remembers a few holes and a signal skips them; past that, the
 * cancel notifies everyone (spurious wake-ups, which a cond allows).
 * Rejected: taking the ticket and queueing under the cond's lock, so that
 * every unqueued ticket would be a hole (the waiter would hold that lock
 * across the mutex's unlock, which may yield).
 *
 * The reader/writer mutex is Go's: a writer takes the mutex, then
 * subtracts 2^30 from the reader count so that new readers queue behind it
 * (a waiting writer blocks new readers) and waits for the readers inside
 * to leave; its unlock lets the queued readers in before the next writer.
 * Its context forms avoid the two waits that are counted (a reader queued
 * for a writer, a writer waiting for readers): see goro_rwmutex_rlock_ctx.
 * Once is a done flag and a mutex, as Go's. The weighted semaphore is
 * x/sync/semaphore: FIFO, a large request at the head is not overtaken by
 * small ones.
 *
 * G-local values are pthread's keys for Gs: up to GORO_KEYS_MAX keys, each
 * with a destructor that runs, on the G, when the G's function returns.
 * A G's values are an array it allocates at its first set (the slot's
 * value and its key's generation, so that a deleted key's values are not
 * seen through a new key of the same number).
 *
 * Every function here may run on a G's stack: nothing calls libc.
 */
#include <jemalloc/jemalloc.h>
#include <errno.h>

#include "runtime2.h"

/* ---- the runtime semaphore (Go's sema.go) ------------------------------------ */

typedef struct sema {
    _Atomic uint32_t count;   /* free units */
    _Atomic uint32_t nwait;   /* Gs on the list, or about to be */
    mutex lock;               /* the list */
    g *first, *last;          /* parked Gs, through schedlink */
} sema;

static bool parkunlock(g *gp, void *lk)
{
    (void)gp;
    unlock(lk);
    return true;
}

/* parkunlockctx: parkunlock for a wait that contexts may end (ctx.c). */
static bool parkunlockctx(g *gp, void *lk)
{
    int err = gp->nwaitctx != 0 ? waitctxarm(gp) : 0;
    unlock(lk);
    if (err != 0)
        waitctxfire(gp, err);
    return true;
}

/* glistremove takes gp off a FIFO list of Gs (through schedlink): false
 * if it is not on it. */
static bool glistremove(g **first, g **last, g *gp)
{
    g *prev = NULL;
    for (g **pp = first; *pp != NULL; prev = *pp, pp = &(*pp)->schedlink) {
        if (*pp == gp) {
            *pp = gp->schedlink;
            if (*last == gp)
                *last = prev;
            gp->schedlink = NULL;
            return true;
        }
    }
    return false;
}

static inline bool cansemacquire(sema *s)
{
    uint32_t v = atomic_load(&s->count);
    while (v > 0)
        if (atomic_compare_exchange_weak(&s->count, &v, v - 1))
            return true;
    return false;
}

/* semcancel is the waitcancel of a cancellable semacquire. */
static void semcancel(g *gp, int err)
{
    sema *s = gp->param;
    lock(&s->lock);
    bool mine = glistremove(&s->first, &s->last, gp);
    if (mine) {
        atomic_fetch_sub(&s->nwait, 1);
        gp->waitres2 = err;
    }
    unlock(&s->lock);
    if (mine)
        goready(gp);
}

/* semacquire waits for a unit of s; lifo queues the G at the head (a
 * mutex waiter that was woken and lost). cancellable: the call's context
 * may end the wait: then it returns its error, and got no unit. On a
 * G. */
static int semacquire(sema *s, bool lifo, uint8_t reason, bool cancellable)
{
    if (cansemacquire(s))
        return 0;
    g *gp = getg();
    if (cancellable) {
        gp->waitres2 = 0;
        /* The group's cancel too: goro.h promises it for every *_ctx
         * wait of a group's G, the mutex's and the rwmutex's included. */
        int err = waitctxbegin(gp, true, semcancel);
        if (err != 0)
            return err;
    }
    lock(&s->lock);
    /* nwait before the count's second look, seq_cst: a release adds to
     * the count before it looks at nwait, so one of the two sees the
     * other. */
    atomic_fetch_add(&s->nwait, 1);
    if (cansemacquire(s)) {
        atomic_fetch_sub(&s->nwait, 1);
        unlock(&s->lock);
        waitctxend(gp);
        return 0;
    }
    gp->schedlink = NULL;
    if (lifo && s->first != NULL) {
        gp->schedlink = s->first;
        s->first = gp;
    } else {
        if (s->last)
            s->last->schedlink = gp;
        else
            s->first = gp;
        s->last = gp;
    }
    gp->param = s;
    gopark(parkunlockctx, &s->lock, reason);
    /* semrelease gave us the unit, or a context took us off the list. */
    waitctxend(gp);
    gp->param = NULL;
    return cancellable ? gp->waitres2 : 0;
}

/* semrelease adds a unit to s and gives it to the first waiter, if any;
 * with handoff the caller yields to it. */
static void semrelease(sema *s, bool handoff)
{
    atomic_fetch_add(&s->count, 1);
    if (atomic_load(&s->nwait) == 0)
        return;
    lock(&s->lock);
    if (atomic_load(&s->nwait) == 0 || !cansemacquire(s)) {
        unlock(&s->lock);
        return;
    }
    g *gp = s->first;
    s->first = gp->schedlink;
    if (s->first == NULL)
        s->last = NULL;
    gp->schedlink = NULL;
    atomic_fetch_sub(&s->nwait, 1);
    unlock(&s->lock);
    goready(gp);
    if (handoff)
        goro_yield();
}

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

/* ---- mutex (Go's sync.Mutex) ------------------------------------------------- */

enum {
    mutexLocked = 1,
    mutexWoken = 2,       /* a waiter is awake (or spinning): unlock need
                             wake nobody */
    mutexStarving = 4,    /* unlock hands the mutex to the first waiter */
    mutexWaiterShift = 3, /* the rest: the number of parked waiters */
};
#define starvationThresholdNs 1000000

struct goro_mutex {
    _Atomic int32_t state;
    sema sema;
};

goro_mutex *goro_mutex_new(void)
{
    return zalloc(sizeof(goro_mutex));
}

/* canspin: spinning may pay off (Go's sync_runtime_canSpin): few rounds,
 * more than one P and another one running (the owner, likely), and
 * nothing waiting on this P that the spin would delay. */
static bool canspin(int iter)
{
    if (iter >= 4 || gomaxprocs <= 1 ||
        gomaxprocs <= atomic_load_explicit(&sched.npidle,
                                           memory_order_relaxed) +
                          atomic_load_explicit(&sched.nmspinning,
                                               memory_order_relaxed) + 1)
        return false;
    p *pp = getg()->m->p;
    return pp == NULL || runqempty(pp);
}

/* mutexwokenpass: the caller holds mutexWoken (it took a wake that an
 * unlock meant for a waiter) and gives up: it passes the wake on as that
 * unlock would have, or clears the flag. */
static void mutexwokenpass(goro_mutex *m)
{
    int32_t old = atomic_load(&m->state);
    for (;;) {
        if ((old >> mutexWaiterShift) == 0 ||
            (old & (mutexLocked | mutexStarving))) {
            if (atomic_compare_exchange_weak(&m->state, &old,
                                             old & ~mutexWoken))
                return;
            continue;
        }
        if (atomic_compare_exchange_weak(&m->state, &old,
                                         old - (1 << mutexWaiterShift))) {
            semrelease(&m->sema, false);
            return;
        }
    }
}

/* mutexleave: a waiter counted in the state's waiter count, and holding
 * no wake, leaves (its context ended the wait). The count and the sema's
 * units are tokens: each waiter is counted once, and uncounted either by
 * itself or by an unlock that then adds a unit for some waiter to take.
 * So the leaver uncounts a waiter if any is counted; if none is, an
 * unlock uncounted it to wake it, and it takes that unit (it may not be
 * there yet: the unlock adds it after its CAS) and does what the woken
 * waiter would have done. */
static void mutexleave(goro_mutex *m)
{
    for (;;) {
        int32_t old = atomic_load(&m->state);
        if ((old >> mutexWaiterShift) != 0) {
            if (atomic_compare_exchange_weak(&m->state, &old,
                                             old - (1 << mutexWaiterShift)))
                return;
            continue;
        }
        if (cansemacquire(&m->sema))
            break;
        goro_yield();
    }
    if (atomic_load(&m->state) & mutexStarving) {
        /* The unit handed the mutex over: take it and unlock, which
         * hands it on. */
        atomic_fetch_add(&m->state, mutexLocked);
        goro_mutex_unlock(m);
        return;
    }
    mutexwokenpass(m);
}

static int lockslow(goro_mutex *m, bool cancellable)
{
    int64_t waitstart = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = atomic_load(&m->state);
    for (;;) {
        /* Spin while it is locked (not starving: then it goes to the
         * waiters, not to us), saying so (woken) so that unlock wakes
         * nobody meanwhile. */
        if ((old & (mutexLocked | mutexStarving)) == mutexLocked &&
            canspin(iter)) {
            if (!awoke && !(old & mutexWoken) &&
                (old >> mutexWaiterShift) != 0 &&
                atomic_compare_exchange_strong(&m->state, &old,
                                               old | mutexWoken))
                awoke = true;
            for (int i = 0; i < 30; i++)
                __builtin_ia32_pause();
            iter++;
            old = atomic_load(&m->state);
            continue;
        }
        int32_t new = old;
        if (!(old & mutexStarving))
            new |= mutexLocked;  /* a starving mutex is not ours to take */
        if (old & (mutexLocked | mutexStarving))
            new += 1 << mutexWaiterShift;
        if (starving && (old & mutexLocked))
            new |= mutexStarving;
        if (awoke) {
            if (!(new & mutexWoken))
                throw("sync: inconsistent mutex state");
            new &= ~mutexWoken;
        }
        if (!atomic_compare_exchange_strong(&m->state, &old, new))
            continue;  /* old reloaded */
        if (!(old & (mutexLocked | mutexStarving)))
            return 0;  /* taken by the CAS */
        /* Woken before: back at the head of the queue. */
        bool lifo = waitstart != 0;
        if (waitstart == 0)
            waitstart = goro_now();
        int err = semacquire(&m->sema, lifo, waitReasonMutex, cancellable);
        if (err != 0) {
            mutexleave(m);
            return err;
        }
        starving = starving || goro_now() - waitstart > starvationThresholdNs;
        old = atomic_load(&m->state);
        if (old & mutexStarving) {
            /* Handed to us; the state still says unlocked, one waiter
             * more. */
            if ((old & (mutexLocked | mutexWoken)) ||
                (old >> mutexWaiterShift) == 0)
                throw("sync: inconsistent mutex state");
            int32_t delta = mutexLocked - (1 << mutexWaiterShift);
            if (!starving || (old >> mutexWaiterShift) == 1)
                delta -= mutexStarving;  /* the last, or not waited long */
            atomic_fetch_add(&m->state, delta);
            return 0;
        }
        awoke = true;
        iter = 0;
    }
}

/* uniproc: the caller is a G and there is one P. Then only the thread
 * that holds the P runs Gs, and the runtime's code is never stopped
 * half-way (only the program's code is preempted asynchronously; a G
 * that lost its P in a call gets it back before any call of goro's), so
 * a mutex's state is read and written by one thread at a time: the fast
 * paths of lock and unlock may do without a locked instruction (each
 * costs about 5 ns here, the whole of an uncontended lock and unlock).
 * The slow paths stay atomic: they share words with the loop thread's
 * cancels (sema). */
static inline bool uniproc(void)
{
    return gomaxprocs == 1 && onG(getg());
}

void goro_mutex_lock(goro_mutex *m)
{
    mustpark(m, "goro_mutex_lock");
    if (gomaxprocs == 1 &&
        atomic_load_explicit(&m->state, memory_order_relaxed) == 0) {
        atomic_store_explicit(&m->state, mutexLocked, memory_order_relaxed);
        return;
    }
    int32_t zero = 0;
    if (likely(atomic_compare_exchange_strong(&m->state, &zero, mutexLocked)))
        return;
    lockslow(m, false);
}

int goro_mutex_lock_ctx(goro_ctx *ctx, goro_mutex *m)
{
    g *gp = getg();
    if (m == NULL)
        return -EINVAL;
    if (!onG(gp))
        return -EPERM;
    int32_t zero = 0;
    if (atomic_compare_exchange_strong(&m->state, &zero, mutexLocked))
        return 0;
    gp->callctx = ctx;
    int err = lockslow(m, true);
    gp->callctx = NULL;
    return err;
}

int goro_mutex_trylock(goro_mutex *m)
{
    if (m == NULL)
        return -EINVAL;
    int32_t old = atomic_load(&m->state);
    if (old & (mutexLocked | mutexStarving))
        return -EBUSY;
    return atomic_compare_exchange_strong(&m->state, &old, old | mutexLocked)
        ? 0 : -EBUSY;
}

static void unlockslow(goro_mutex *m, int32_t new)
{
    if (!((new + mutexLocked) & mutexLocked))
        throw("sync: unlock of unlocked mutex");
    if (new & mutexStarving) {
        semrelease(&m->sema, true);
        return;
    }
    int32_t old = new;
    for (;;) {
        /* Nobody to wake, or someone awake, or it was taken meanwhile
         * (its taker will wake the next). */
        if ((old >> mutexWaiterShift) == 0 ||
            (old & (mutexLocked | mutexWoken | mutexStarving)))
            return;
        new = (old - (1 << mutexWaiterShift)) | mutexWoken;
        if (atomic_compare_exchange_strong(&m->state, &old, new)) {
            semrelease(&m->sema, false);
            return;
        }
    }
}

void goro_mutex_unlock(goro_mutex *m)
{
    if (m == NULL)
        return;
    int32_t new;
    if (uniproc()) {
        new = atomic_load_explicit(&m->state, memory_order_relaxed) -
              mutexLocked;
        atomic_store_explicit(&m->state, new, memory_order_relaxed);
    } else {
        new = atomic_fetch_sub(&m->state, mutexLocked) - mutexLocked;
    }
    if (unlikely(new != 0))
        unlockslow(m, new);
}

void goro_mutex_free(goro_mutex *m)
{
    /* A starving flag alone may stay behind a waiter that left
     * (mutexleave). */
    if (m != NULL && (atomic_load(&m->state) & ~mutexStarving) != 0)
        throw("sync: mutex freed while locked");
    if (m != NULL)
        lockquiesce(&m->sema.lock);
    zfree(m);
}

/* ---- condition variable (Go's sync.Cond, notifyList) ------------------------ */

/* Tickets a cancelled waiter left un-notified, remembered per cond. */
enum { condHoles = 4 };

struct goro_cond {
    _Atomic uint32_t wait;    /* the next ticket */
    _Atomic uint32_t notify;  /* the next ticket to notify (under lock) */
    mutex lock;
    g *first, *last;          /* parked waiters; g->waitarg: the ticket */
    /* The tickets (all >= notify) of waiters that a context took off the
     * list (goro_cond_wait_ctx): a signal that reaches one goes on to the
     * next ticket instead of being lost on a G that left. When there is no
     * room for another, the cancel wakes every waiter instead (spurious
     * wake-ups, which a cond allows) and the holes are behind notify.
     * Under lock. */
    uint32_t holes[condHoles];
    uint32_t nholes;
};

static inline bool ticketless(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

goro_cond *goro_cond_new(void)
{
    return zalloc(sizeof(goro_cond));
}

/* condtakehole: t, just notified with no G queued for it, is a hole
 * (removed from the holes) rather than a waiter on its way. Under lock. */
static bool condtakehole(goro_cond *cv, uint32_t t)
{
    for (uint32_t i = 0; i < cv->nholes; i++) {
        if (cv->holes[i] == t) {
            cv->holes[i] = cv->holes[--cv->nholes];
            return true;
        }
    }
    return false;
}

/* condcancel is the waitcancel of goro_cond_wait_ctx: it takes gp off the
 * list if it is still there (not notified), leaving a hole. */
static void condcancel(g *gp, int err)
{
    goro_cond *cv = gp->param;
    g *all = NULL;
    lock(&cv->lock);
    bool mine = glistremove(&cv->first, &cv->last, gp);
    if (mine) {
        gp->waitres2 = err;
        if (cv->nholes < condHoles) {
            cv->holes[cv->nholes++] = (uint32_t)gp->waitarg;
        } else {
            /* No room: notify everyone (as a broadcast). */
            atomic_store(&cv->notify, atomic_load(&cv->wait));
            cv->nholes = 0;
            all = cv->first;
            cv->first = cv->last = NULL;
        }
    }
    unlock(&cv->lock);
    if (mine)
        goready(gp);
    while (all != NULL) {
        g *next = all->schedlink;
        all->schedlink = NULL;
        goready(all);
        all = next;
    }
}

/* condwait is goro_cond_wait; cancellable: the call's context may end the
 * wait (then it returns its error). mu is held again when it returns. */
static int condwait(goro_cond *cv, goro_mutex *mu, bool cancellable)
{
    g *gp = getg();
    if (cancellable) {
        gp->waitres2 = 0;
        int err = waitctxbegin(gp, true, condcancel);
        if (err != 0)
            return err;   /* no ticket taken, mu still held */
    }
    uint32_t t = atomic_fetch_add(&cv->wait, 1);
    goro_mutex_unlock(mu);
    lock(&cv->lock);
    if (ticketless(t, atomic_load(&cv->notify))) {
        unlock(&cv->lock);  /* notified between the unlock and here */
    } else {
        gp->waitarg = t;
        gp->schedlink = NULL;
        if (cv->last)
            cv->last->schedlink = gp;
        else
            cv->first = gp;
        cv->last = gp;
        gp->param = cv;
        gopark(cancellable ? parkunlockctx : parkunlock, &cv->lock,
               waitReasonCond);
        gp->param = NULL;
    }
    int err = 0;
    if (cancellable) {
        waitctxend(gp);
        err = gp->waitres2;
    }
    goro_mutex_lock(mu);
    return err;
}

void goro_cond_wait(goro_cond *cv, goro_mutex *mu)
{
    mustpark(cv, "goro_cond_wait");
    mustpark(mu, "goro_cond_wait");
    condwait(cv, mu, false);
}

int goro_cond_wait_ctx(goro_ctx *ctx, goro_cond *cv, goro_mutex *mu)
{
    mustpark(cv, "goro_cond_wait_ctx");
    mustpark(mu, "goro_cond_wait_ctx");
    g *gp = getg();
    gp->callctx = ctx;
    int err = condwait(cv, mu, true);
    gp->callctx = NULL;
    return err;
}

void goro_cond_signal(goro_cond *cv)
{
    if (cv == NULL)
        return;
    if (atomic_load(&cv->wait) == atomic_load(&cv->notify))
        return;  /* nobody took a ticket since the last notify */
    lock(&cv->lock);
    g *found = NULL;
    for (;;) {
        uint32_t t = atomic_load(&cv->notify);
        if (t == atomic_load(&cv->wait))
            break;
        atomic_store(&cv->notify, t + 1);
        /* Its holder may not be queued yet: then it sees the notify. */
        for (g **pp = &cv->first, *prev = NULL; *pp != NULL;
             prev = *pp, pp = &(*pp)->schedlink) {
            if ((uint32_t)(*pp)->waitarg == t) {
                found = *pp;
                *pp = found->schedlink;
                if (cv->last == found)
                    cv->last = prev;
                found->schedlink = NULL;
                break;
            }
        }
        /* Unless its holder left (a cancelled wait): then the next. */
        if (found != NULL || cv->nholes == 0 || !condtakehole(cv, t))
            break;
    }
    unlock(&cv->lock);
    if (found)
        goready(found);
}

void goro_cond_broadcast(goro_cond *cv)
{
    if (cv == NULL)
        return;
    if (atomic_load(&cv->wait) == atomic_load(&cv->notify))
        return;
    lock(&cv->lock);
    atomic_store(&cv->notify, atomic_load(&cv->wait));
    cv->nholes = 0;   /* every ticket is notified */
    g *list = cv->first;
    cv->first = cv->last = NULL;
    unlock(&cv->lock);
    while (list != NULL) {
        g *next = list->schedlink;
        list->schedlink = NULL;
        goready(list);
        list = next;
    }
}

void goro_cond_free(goro_cond *cv)
{
    if (cv != NULL && cv->first != NULL)
        throw("sync: cond freed with waiters");
    if (cv != NULL)
        lockquiesce(&cv->lock);
    zfree(cv);
}

/* ---- reader/writer mutex (Go's sync.RWMutex) --------------------------------- */

#define rwmutexMaxReaders (1 << 30)

struct goro_rwmutex {
    goro_mutex w;               /* held by the writer, waiting or in */
    sema writersem;             /* the writer waits for the readers */
    sema readersem;             /* readers wait for the writer */
    _Atomic int32_t readercount; /* readers in; - 2^30 while a writer is
                                    waiting or in */
    _Atomic int32_t readerwait;  /* readers the writer waits to leave */
};

goro_rwmutex *goro_rwmutex_new(void)
{
    return zalloc(sizeof(goro_rwmutex));
}

void goro_rwmutex_rlock(goro_rwmutex *rw)
{
    mustpark(rw, "goro_rwmutex_rlock");
    if (atomic_fetch_add(&rw->readercount, 1) + 1 < 0)
        semacquire(&rw->readersem, false, waitReasonRWMutexRLock, false);
}

void goro_rwmutex_runlock(goro_rwmutex *rw)
{
    if (rw == NULL)
        return;
    int32_t r = atomic_fetch_sub(&rw->readercount, 1) - 1;
    if (r < 0) {
        if (r + 1 == 0 || r + 1 == -rwmutexMaxReaders)
            throw("sync: runlock of unlocked rwmutex");
        /* A writer waits: the last reader it waits for lets it in. */
        if (atomic_fetch_sub(&rw->readerwait, 1) - 1 == 0)
            semrelease(&rw->writersem, false);
    }
}

/* rwmutexwait: the writer, holding w, bars new readers and waits for
 * the r that were in to leave. */
static void rwmutexwait(goro_rwmutex *rw)
{
    /* From here new readers queue; r were in. */
    int32_t r = atomic_fetch_sub(&rw->readercount, rwmutexMaxReaders);
    if (r != 0 && atomic_fetch_add(&rw->readerwait, r) + r != 0)
        semacquire(&rw->writersem, false, waitReasonRWMutexLock, false);
}

void goro_rwmutex_lock(goro_rwmutex *rw)
{
    mustpark(rw, "goro_rwmutex_lock");
    goro_mutex_lock(&rw->w);
    rwmutexwait(rw);
}

/* The context forms. A reader with a context does not queue on readersem
 * behind a writer: the writer's unlock counts the readers it lets in
 * (readercount), and one that left early would be counted all the same
 * and its unit stay in readersem for a later reader to enter beside a
 * writer. It waits for w instead, which a writer holds from before it
 * bars readers until after it lets them in, and tries again. The writer's
 * context ends its wait for w (behind other writers); once it holds w it
 * has barred new readers, and its wait for the readers still inside, which
 * the last of them ends, is not cancellable, for the same reason. */
int goro_rwmutex_rlock_ctx(goro_ctx *ctx, goro_rwmutex *rw)
{
    mustpark(rw, "goro_rwmutex_rlock_ctx");
    for (;;) {
        int32_t r = atomic_load(&rw->readercount);
        while (r >= 0)
            if (atomic_compare_exchange_weak(&rw->readercount, &r, r + 1))
                return 0;
        int err = goro_mutex_lock_ctx(ctx, &rw->w);
        if (err != 0)
            return err;
        goro_mutex_unlock(&rw->w);
    }
}

int goro_rwmutex_lock_ctx(goro_ctx *ctx, goro_rwmutex *rw)
{
    mustpark(rw, "goro_rwmutex_lock_ctx");
    int err = goro_mutex_lock_ctx(ctx, &rw->w);
    if (err != 0)
        return err;
    rwmutexwait(rw);
    return 0;
}

void goro_rwmutex_unlock(goro_rwmutex *rw)
{
    if (rw == NULL)
        return;
    int32_t r = atomic_fetch_add(&rw->readercount, rwmutexMaxReaders) +
                rwmutexMaxReaders;
    if (r >= rwmutexMaxReaders)
        throw("sync: unlock of unlocked rwmutex");
    for (int32_t i = 0; i < r; i++)
        semrelease(&rw->readersem, false);
    goro_mutex_unlock(&rw->w);
}

void goro_rwmutex_free(goro_rwmutex *rw)
{
    if (rw != NULL && (atomic_load(&rw->readercount) != 0 ||
                       atomic_load(&rw->w.state) != 0))
        throw("sync: rwmutex freed while locked");
    if (rw != NULL) {
        lockquiesce(&rw->w.sema.lock);
        lockquiesce(&rw->writersem.lock);
        lockquiesce(&rw->readersem.lock);
    }
    zfree(rw);
}

/* ---- once (Go's sync.Once) ---------------------------------------------------- */

typedef struct oncestate {
    _Atomic uint32_t done;
    goro_mutex m;             /* all zero is an unlocked mutex */
} oncestate;
_Static_assert(sizeof(oncestate) <= sizeof(goro_once), "goro_once too small");
_Static_assert(_Alignof(oncestate) <= _Alignof(goro_once), "goro_once align");

void goro_once_do(goro_once *o, goro_fn fn, void *arg)
{
    oncestate *s = (oncestate *)o;
    if (likely(atomic_load_explicit(&s->done, memory_order_acquire)))
        return;
    mustpark(o, "goro_once_do");
    goro_mutex_lock(&s->m);
    if (!atomic_load_explicit(&s->done, memory_order_relaxed)) {
        if (fn != NULL)
            fn(arg);
        atomic_store_explicit(&s->done, 1, memory_order_release);
    }
    goro_mutex_unlock(&s->m);
}

/* ---- weighted semaphore (Go's x/sync/semaphore) ------------------------------ */

struct goro_sem {
    mutex   lock;             /* everything */
    int64_t size, cur;
    g      *first, *last;     /* waiters, FIFO; g->waitarg: the weight;
                                 g->param: the goro_sem */
};

goro_sem *goro_sem_new(int64_t n)
{
    if (n <= 0) {
        errno = EINVAL;
        return NULL;
    }
    goro_sem *s = zalloc(sizeof *s);
    if (s == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    s->size = n;
    return s;
}

/* semgrant admits the waiters at the head that fit, in order, into a
 * list it returns (s->lock held). */
static g *semgrant(goro_sem *s)
{
    g *list = NULL, **tail = &list;
    while (s->first != NULL && s->size - s->cur >= s->first->waitarg) {
        g *gp = s->first;
        s->cur += gp->waitarg;
        s->first = gp->schedlink;
        if (s->first == NULL)
            s->last = NULL;
        gp->schedlink = NULL;
        *tail = gp;
        tail = &gp->schedlink;
    }
    return list;
}

static void readyall(g *list)
{
    while (list != NULL) {
        g *next = list->schedlink;
        list->schedlink = NULL;
        goready(list);
        list = next;
    }
}

/* semwcancel is a semaphore wait's waitcancel (its deadline, its
 * contexts): the G leaves the queue with err unless it was admitted
 * first; those behind it may fit now. */
static void semwcancel(g *gp, int err)
{
    goro_sem *s = gp->param;
    lock(&s->lock);
    bool mine = glistremove(&s->first, &s->last, gp);
    g *list = mine ? semgrant(s) : NULL;
    unlock(&s->lock);
    if (mine) {
        gp->waitres2 = err;
        goready(gp);
    }
    readyall(list);
}

struct semwait {
    goro_sem *s;
    int64_t deadline;
};

static bool semcommit(g *gp, void *arg)
{
    struct semwait *w = arg;
    if (w->deadline != 0)
        timeradd(gp->waittimer, w->deadline);
    return parkunlockctx(gp, &w->s->lock);
}

int goro_sem_acquire_deadline(goro_sem *s, int64_t n, int64_t deadline_ns)
{
    g *gp = getg();
    if (s == NULL || n < 0)
        return -EINVAL;
    if (!onG(gp))
        return -EPERM;
    lock(&s->lock);
    if (s->size - s->cur >= n && s->first == NULL) {
        s->cur += n;
        unlock(&s->lock);
        return 0;
    }
    if (n > s->size) {
        unlock(&s->lock);
        return -EINVAL;  /* would never be admitted */
    }
    if (deadline_ns != 0 && deadline_ns <= goro_now()) {
        unlock(&s->lock);
        return -ETIMEDOUT;
    }
    gp->waitcancel = semwcancel;  /* the deadline's timer too */
    gp->waitres2 = 0;
    int err = waitctxbegin(gp, true, semwcancel);
    if (err != 0) {
        unlock(&s->lock);
        return err;
    }
    if (deadline_ns != 0)
        waittimer(gp);
    gp->waitarg = n;
    gp->param = s;
    gp->schedlink = NULL;
    if (s->last)
        s->last->schedlink = gp;
    else
        s->first = gp;
    s->last = gp;
    struct semwait w = {s, deadline_ns};
    gopark(semcommit, &w, waitReasonSemacquire);
    if (deadline_ns != 0)
        timerdel(gp->waittimer);
    waitctxend(gp);
    gp->param = NULL;
    return gp->waitres2;
}

int goro_sem_acquire_ctx(goro_ctx *ctx, goro_sem *s, int64_t n)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    gp->callctx = ctx;
    int err = goro_sem_acquire_deadline(s, n, 0);
    gp->callctx = NULL;
    return err;
}

int goro_sem_acquire(goro_sem *s, int64_t n)
{
    return goro_sem_acquire_deadline(s, n, 0);
}

int goro_sem_tryacquire(goro_sem *s, int64_t n)
{
    if (s == NULL || n < 0)
        return -EINVAL;
    lock(&s->lock);
    bool ok = s->size - s->cur >= n && s->first == NULL;
    if (ok)
        s->cur += n;
    unlock(&s->lock);
    return ok ? 0 : -EAGAIN;
}

void goro_sem_release(goro_sem *s, int64_t n)
{
    if (s == NULL || n == 0)
        return;
    lock(&s->lock);
    s->cur -= n;
    if (s->cur < 0 || n < 0) {
        unlock(&s->lock);
        throw("semaphore: released more than held");
    }
    g *list = semgrant(s);
    unlock(&s->lock);
    readyall(list);
}

void goro_sem_free(goro_sem *s)
{
    if (s != NULL && s->first != NULL)
        throw("semaphore: freed with waiters");
    if (s != NULL)
        lockquiesce(&s->lock);
    zfree(s);
}

/* ---- G-local values ----------------------------------------------------------- */

/* A key is its slot (the low 10 bits) and the slot's generation (the
 * rest), bumped by each goro_key_new of the slot. */
#define keyslotbits 10
_Static_assert(GORO_KEYS_MAX <= (1 << keyslotbits), "GORO_KEYS_MAX");

static mutex keylock;
static struct {
    _Atomic uint32_t gen;     /* 0: never used; bumped by new and delete
                                 (stored under keylock, read without) */
    bool     used;
    void   (*dtor)(void *);
} keys[GORO_KEYS_MAX];        /* under keylock */

static uint32_t nextgen(uint32_t gen)
{
    gen = (gen + 1) & ((1u << (31 - keyslotbits)) - 1);
    return gen == 0 ? 1 : gen;
}

int goro_key_new(void (*destructor)(void *value))
{
    lock(&keylock);
    for (int i = 0; i < GORO_KEYS_MAX; i++) {
        if (keys[i].used)
            continue;
        keys[i].used = true;
        keys[i].gen = nextgen(keys[i].gen);
        keys[i].dtor = destructor;
        int key = (int)(keys[i].gen << keyslotbits) | i;
        unlock(&keylock);
        return key;
    }
    unlock(&keylock);
    return -EAGAIN;
}

/* keyslot: key's slot and generation if it is a live key; -1 if not. */
static int keyslot(int key, uint32_t *gen)
{
    if (key < 0)
        return -1;
    int i = key & ((1 << keyslotbits) - 1);
    *gen = (uint32_t)key >> keyslotbits;
    if (i >= GORO_KEYS_MAX)
        return -1;
    lock(&keylock);
    bool live = keys[i].used && keys[i].gen == *gen;
    unlock(&keylock);
    return live ? i : -1;
}

int goro_key_delete(int key)
{
    uint32_t gen;
    int i = keyslot(key, &gen);
    if (i < 0)
        return -EINVAL;
    lock(&keylock);
    keys[i].used = false;
    keys[i].gen = nextgen(keys[i].gen);  /* its values are not seen */
    keys[i].dtor = NULL;
    unlock(&keylock);
    return 0;
}

int goro_key_set(int key, void *value)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    uint32_t gen;
    int i = keyslot(key, &gen);
    if (i < 0)
        return -EINVAL;
    if ((uint32_t)i >= gp->nlocals) {
        uint32_t n = gp->nlocals ? gp->nlocals : 8;
        while (n <= (uint32_t)i)
            n *= 2;
        void **nl = zalloc(2 * n * sizeof *nl);
        if (nl == NULL)
            return -ENOMEM;
        if (gp->locals != NULL) {
            memmove_nolibc(nl, gp->locals, 2 * gp->nlocals * sizeof *nl);
            zfree(gp->locals);
        }
        gp->locals = nl;
        gp->nlocals = n;
    }
    gp->locals[2 * i] = value;
    gp->locals[2 * i + 1] = (void *)(uintptr_t)gen;
    return 0;
}

void *goro_key_get(int key)
{
    g *gp = getg();
    if (!onG(gp) || key < 0)
        return NULL;
    uint32_t i = (uint32_t)key & ((1 << keyslotbits) - 1);
    uint32_t gen = (uint32_t)key >> keyslotbits;
    if (i >= gp->nlocals ||
        (uint32_t)(uintptr_t)gp->locals[2 * i + 1] != gen ||
        atomic_load_explicit(&keys[i].gen, memory_order_relaxed) != gen)
        return NULL;
    return gp->locals[2 * i];
}

void localsexit(g *gp)
{
    /* As pthread's: a destructor may set values again; give up after
     * four passes. */
    for (int pass = 0; pass < 4; pass++) {
        bool any = false;
        for (uint32_t i = 0; i < gp->nlocals; i++) {
            void *v = gp->locals[2 * i];
            if (v == NULL)
                continue;
            uint32_t gen = (uint32_t)(uintptr_t)gp->locals[2 * i + 1];
            gp->locals[2 * i] = NULL;
            lock(&keylock);
            void (*dtor)(void *) =
                keys[i].used && keys[i].gen == gen ? keys[i].dtor : NULL;
            unlock(&keylock);
            if (dtor != NULL) {
                dtor(v);
                any = true;
            }
        }
        if (!any)
            break;
    }
    for (uint32_t i = 0; i < 2 * gp->nlocals; i++)
        gp->locals[i] = NULL;
}

void localsfree(g *gp)
{
    if (gp->locals != NULL) {
        dallocx(gp->locals, 0);
        gp->locals = NULL;
        gp->nlocals = 0;
    }
}
