/*
 * join.c - joining a G by its id: goro_go_joinable spawns a G whose
 * function returns an int, and goro_join waits for it to end and takes
 * that int, as pthread_join does for a thread.
 *
 * Go has no join (a goroutine reports through a channel or a WaitGroup),
 * but a C programmer expects one, and a channel per G to carry one int
 * costs more than the record below. A joinable G has a join record
 * (joinrec): its id, its result once it ended, and the G that waits for
 * it. The records are in one hash table by id, under joinlock: spawning,
 * joining and ending a joinable G each take the lock once, for a few
 * stores. The G runs a wrapper (joinstart) that calls the program's
 * function and then, under the lock, stores the result and readies the
 * joiner; so the scheduler knows nothing of joins, and Gs spawned with
 * goro_go pay nothing.
 *
 * Ownership, pthread's rules: a joinable G's record lives until it is
 * joined or detached (goro_detach), and is freed then, or when the G ends
 * if that comes later; a G spawned by goro_go is detached from the start
 * (it has no record). One G at a time may join a given G: a second joiner
 * gets -EINVAL while the first waits, and -ESRCH once the first took the
 * result (the record is gone); joining oneself is -EDEADLK. A join whose
 * context ends returns -ECANCELED/-ETIMEDOUT and leaves the G joinable.
 *
 * Rejected: keeping the result in the G (Gs are reused from a free list as
 * soon as they end; keeping a joinable one would hold its stack until the
 * join); a table per P (a join usually runs on another P than the spawn);
 * waking the joiner through the runtime semaphore (the joiner frees the
 * record as soon as it holds the count, while the releasing G may still
 * read the semaphore: the hand-over must happen under a lock both hold).
 */
#include <errno.h>

#include "runtime2.h"

typedef struct joinrec {
    int64_t   id;
    struct joinrec *next;    /* hash chain, under joinlock */
    goro_join_fn fn;         /* the G's function and its argument */
    void     *arg;
    int       result;        /* fn's result, once done */
    bool      done;          /* fn returned (joinlock) */
    bool      detached;      /* nobody will join: the G frees the record
                                as it ends (joinlock) */
    g        *joiner;        /* the G that claimed the join, or NULL
                                (joinlock) */
    bool      parked;        /* ... and is parked waiting (joinlock) */
} joinrec;

/* The table: nbuckets (a power of two, or 0) chains, njoin records in
 * all; it doubles when njoin exceeds nbuckets. Under joinlock. */
static mutex joinlock;
static joinrec **buckets;
static uint64_t nbuckets, njoin;

static inline uint64_t joinhash(int64_t id)
{
    return ((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 20;
}

/* joinfind returns the slot that points at id's record, or at the NULL
 * ending its chain. joinlock held; nbuckets > 0. */
static joinrec **joinfind(int64_t id)
{
    joinrec **pr = &buckets[joinhash(id) & (nbuckets - 1)];
    while (*pr != NULL && (*pr)->id != id)
        pr = &(*pr)->next;
    return pr;
}

/* joingrow doubles the table (or makes its first); on failure the chains
 * just grow longer. joinlock held. */
static void joingrow(void)
{
    uint64_t n = nbuckets ? nbuckets * 2 : 64;
    joinrec **b = zalloc(n * sizeof *b);
    if (b == NULL)
        return;
    for (uint64_t i = 0; i < nbuckets; i++) {
        for (joinrec *r = buckets[i], *next; r != NULL; r = next) {
            next = r->next;
            joinrec **pr = &b[joinhash(r->id) & (n - 1)];
            r->next = *pr;
            *pr = r;
        }
    }
    joinrec **old = buckets;
    buckets = b;
    nbuckets = n;
    if (old != NULL)
        zfree(old);
}

/* joinremove unlinks r from the table. joinlock held. */
static void joinremove(joinrec *r)
{
    joinrec **pr = joinfind(r->id);
    if (*pr != r)
        throw("join: record not in the table");
    *pr = r->next;
    njoin--;
}

/* joinstart is where a joinable G begins: it runs the program's function,
 * then publishes the result and readies the joiner. */
static void joinstart(void *arg)
{
    joinrec *r = arg;
    int result = r->fn(r->arg);
    /* As pthread_join: the G's G-local destructors have run when the join
     * returns (gostart's own call then finds nothing to do). */
    g *gp = getg();
    if (gp->locals != NULL)
        localsexit(gp);
    lock(&joinlock);
    r->result = result;
    r->done = true;
    g *w = r->parked ? r->joiner : NULL;
    r->parked = false;
    bool gone = r->detached;
    if (gone)
        joinremove(r);
    unlock(&joinlock);
    if (gone)
        zfree(r);
    if (w != NULL)
        goready(w);
}

int64_t goro_go_joinable(goro_join_fn fn, void *arg)
{
    if (fn == NULL)
        return -EINVAL;
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    joinrec *r = zalloc(sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    r->fn = fn;
    r->arg = arg;
    /* The record goes into the table under the G's id, which newproc
     * gives: the G may run, and end, before that; it touches only the
     * record then, which nobody can look up before the id is returned
     * (but the G itself, which joinself handles). */
    lock(&joinlock);
    if (njoin >= nbuckets)
        joingrow();
    unlock(&joinlock);
    r->id = newproc(joinstart, r, gp->group,
                    (uintptr_t)__builtin_return_address(0));
    lock(&joinlock);
    joinrec **pr = joinfind(r->id);
    r->next = NULL;
    *pr = r;
    njoin++;
    unlock(&joinlock);
    return r->id;
}

/* joincancel is the waitcancel of a join (ctx.c): it ends the wait with
 * err if the G still waits, and gives the join back. */
static void joincancel(g *gp, int err)
{
    joinrec *r = gp->param;
    lock(&joinlock);
    bool mine = r->joiner == gp && r->parked;
    if (mine) {
        r->parked = false;
        r->joiner = NULL;
        gp->waitres2 = err;
    }
    unlock(&joinlock);
    if (mine)
        goready(gp);
}

/* joincommit is the join's unlockf: it registers the G with its contexts
 * (ctx.c's protocol) before it lets go of joinlock. */
static bool joincommit(g *gp, void *lk)
{
    int err = gp->nwaitctx != 0 ? waitctxarm(gp) : 0;
    unlock(lk);
    if (err != 0)
        waitctxfire(gp, err);
    return true;
}

int goro_join(int64_t id, int *result)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    if (id == gp->goid)
        return -EDEADLK;
    lock(&joinlock);
    joinrec *r = nbuckets != 0 ? *joinfind(id) : NULL;
    if (r == NULL || r->detached) {
        unlock(&joinlock);
        return -ESRCH;
    }
    if (r->joiner != NULL) {
        unlock(&joinlock);
        return -EINVAL;
    }
    if (!r->done) {
        gp->waitres2 = 0;
        int err = waitctxbegin(gp, true, joincancel);
        if (err != 0) {
            unlock(&joinlock);
            return err;
        }
        r->joiner = gp;
        r->parked = true;
        gp->param = r;
        gopark(joincommit, &joinlock, waitReasonJoin);
        /* joinstart readied us with r->done set, or a context took the
         * join back (joincancel). */
        waitctxend(gp);
        gp->param = NULL;
        if (gp->waitres2 != 0)
            return gp->waitres2;
        lock(&joinlock);
    }
    if (!r->done)
        throw("join: woken before the G ended");
    joinremove(r);
    unlock(&joinlock);
    if (result != NULL)
        *result = r->result;
    zfree(r);
    return 0;
}

int goro_join_ctx(goro_ctx *ctx, int64_t id, int *result)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    gp->callctx = ctx;
    int err = goro_join(id, result);
    gp->callctx = NULL;
    return err;
}

int goro_detach(int64_t id)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    lock(&joinlock);
    joinrec *r = nbuckets != 0 ? *joinfind(id) : NULL;
    if (r == NULL || r->detached) {
        unlock(&joinlock);
        return -ESRCH;
    }
    if (r->joiner != NULL) {
        unlock(&joinlock);
        return -EINVAL;
    }
    bool done = r->done;
    if (done)
        joinremove(r);
    else
        r->detached = true;
    unlock(&joinlock);
    if (done)
        zfree(r);
    return 0;
}

/* joinrecords: how many join records are kept (for the tests). */
uint64_t joinrecords(void)
{
    lock(&joinlock);
    uint64_t n = njoin;
    unlock(&joinlock);
    return n;
}
