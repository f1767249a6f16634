/*
 * chan.c - channels and select, as Go's chan.go and select.go.
 *
 * A channel is a lock, an optional ring buffer of capacity elements, and two
 * FIFO wait queues of sudogs: Gs blocked sending (sendq) and receiving
 * (recvq). Invariants, under c->lock:
 *   - at least one of sendq and recvq is empty (except that both may hold
 *     select sudogs of one G... as in Go, a G cannot select on both ends of
 *     one unbuffered channel and wait for itself);
 *   - for a buffered channel: qcount > 0 implies recvq is empty, and
 *     qcount < capacity implies sendq is empty.
 *
 * A send that finds a waiting receiver copies its value straight into the
 * receiver's elem, which usually is a variable on the receiver's (parked)
 * stack, then readies it; a receive that finds a waiting sender takes its
 * value from the sender's stack the same way. Those stack-to-stack copies
 * happen under the channel's lock; a stack scan that wants to move a parked
 * G's stack first takes the locks of every channel the G waits on
 * (lockwaiting), then adjusts its sudogs' elem pointers with the stack
 * (adjustsudogs): Go's syncadjustsudogs.
 *
 * Every function here may run on a G stack: values are copied with
 * memmove_nolibc, never libc's memcpy (see runtime2.h).
 *
 * select: cases are polled in a random order (fairness); the channels are
 * locked in address order (no deadlock between two selects); if none is
 * ready the G queues a sudog on every channel and parks; the first waker to
 * win the CAS on g->selectDone takes it, the others skip its sudogs. A
 * deadline (goro_select_deadline) is one more waker: the G's select timer
 * (time.c), armed in the park commit while the channels are still locked
 * and deleted when the G wakes; it costs nothing when a case is ready at
 * once.
 */
#include <errno.h>

#include "runtime2.h"

typedef struct waitq {
    sudog *first, *last;
} waitq;

struct goro_chan {
    mutex    lock;
    size_t   elemsize;
    size_t   dataqsiz;   /* capacity of buf, in elements */
    size_t   qcount;     /* elements in buf */
    size_t   sendx, recvx;
    bool     closed;
    bool     timer;      /* a timer's or a context's channel (chaninit):
                            time.c or ctx.c frees it */
    char    *buf;
    waitq    recvq, sendq;
};

static void enqueue(waitq *q, sudog *sg)
{
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last)
        q->last->next = sg;
    else
        q->first = sg;
    q->last = sg;
}

static void enqueuev(void *q, sudog *sg)
{
    enqueue(q, sg);
}

static void dequeueSudoG(waitq *q, sudog *sg)
{
    if (sg->prev)
        sg->prev->next = sg->next;
    else if (q->first == sg)
        q->first = sg->next;
    else
        return;  /* not queued */
    if (sg->next)
        sg->next->prev = sg->prev;
    else
        q->last = sg->prev;
    sg->next = sg->prev = NULL;
}

/* unqueue takes sg off q if it is on it: false when it is not (a partner
 * or a close took it first). */
static bool unqueue(waitq *q, sudog *sg)
{
    if (sg->prev == NULL && q->first != sg)
        return false;
    dequeueSudoG(q, sg);
    return true;
}

/* dequeue takes the first waiter that can still be woken: a select's
 * sudogs are skipped once another case of that select has won. */
static sudog *dequeue(waitq *q)
{
    for (;;) {
        sudog *sg = q->first;
        if (sg == NULL)
            return NULL;
        q->first = sg->next;
        if (q->first)
            q->first->prev = NULL;
        else
            q->last = NULL;
        sg->next = sg->prev = NULL;
        if (sg->isSelect) {
            uint32_t zero = 0;
            if (!atomic_compare_exchange_strong(&sg->gp->selectDone, &zero,
                                                1))
                continue;
        }
        return sg;
    }
}

static inline char *chanbuf(goro_chan *c, size_t i)
{
    return c->buf + i * c->elemsize;
}

/* copyelem copies one element. Elements of 4, 8 and 16 bytes (the common
 * case: an int, a pointer, a pair) are moved with plain loads and stores:
 * `rep movsb` costs tens of cycles to start (~3 ns per ping-pong hand-over
 * on the benchmark machine). Constant-size __builtin_memcpy compiles to
 * moves, never to a libc call. */
static inline void copyelem(goro_chan *c, void *dst, const void *src)
{
    size_t n = c->elemsize;
    if (n == 0 || dst == NULL || src == NULL)
        return;
    switch (n) {
    case 4: {
        uint32_t v;
        __builtin_memcpy(&v, src, 4);
        __builtin_memcpy(dst, &v, 4);
        return;
    }
    case 8: {
        uint64_t v;
        __builtin_memcpy(&v, src, 8);
        __builtin_memcpy(dst, &v, 8);
        return;
    }
    case 16: {
        uint64_t v[2];
        __builtin_memcpy(v, src, 16);
        __builtin_memcpy(dst, v, 16);
        return;
    }
    default:
        memmove_nolibc(dst, src, n);
    }
}

/* ---- creation ----------------------------------------------------------- */

goro_chan *goro_chan_new(size_t elemsize, size_t capacity)
{
    if (elemsize > 65536 || (capacity && elemsize &&
                             capacity > (SIZE_MAX / 2) / elemsize)) {
        errno = EINVAL;
        return NULL;
    }
    goro_chan *c = zalloc(sizeof *c);
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    c->elemsize = elemsize;
    c->dataqsiz = capacity;
    if (capacity && elemsize) {
        c->buf = zalloc(capacity * elemsize);
        if (c->buf == NULL) {
            zfree(c);
            errno = ENOMEM;
            return NULL;
        }
    }
    return c;
}

void goro_chan_free(goro_chan *c)
{
    if (c == NULL)
        return;
    /* Not c->buf == (char *)(c + 1): the allocator may well put a
     * channel's buffer right after its header. */
    if (c->timer)
        throw("goro_chan_free: a timer's or a context's channel (free "
              "that instead)");
    lock(&c->lock);
    bool waiters = c->recvq.first || c->sendq.first;
    unlock(&c->lock);
    if (waiters)
        throw("goro_chan_free: channel has waiting Gs");
    lockquiesce(&c->lock);
    zfree(c->buf);
    zfree(c);
}

/* Channels inside another object (time.c's timers): chansize bytes at c,
 * zeroed, made a channel by chaninit; the buffer follows the header. */
size_t chansize(size_t elemsize, size_t capacity)
{
    return sizeof(goro_chan) + elemsize * capacity;
}

void chaninit(goro_chan *c, size_t elemsize, size_t capacity)
{
    c->elemsize = elemsize;
    c->dataqsiz = capacity;
    c->buf = (char *)(c + 1);
    c->timer = true;
}

/* chanfreecheck: what goro_chan_free checks of a channel about to go. */
/* chanquiesce: c's memory may be freed (lockquiesce). */
void chanquiesce(goro_chan *c)
{
    lockquiesce(&c->lock);
}

void chanfreecheck(goro_chan *c)
{
    lock(&c->lock);
    bool waiters = c->recvq.first || c->sendq.first;
    unlock(&c->lock);
    if (waiters)
        throw("goro_timer_free: its channel has waiting Gs");
    lockquiesce(&c->lock);
}

/* ---- waking ------------------------------------------------------------- */

/* wake readies the G of sg, which the caller took off a queue (and set
 * success/copied the value for) under c->lock, now released. */
static void wake(sudog *sg)
{
    if (sg->gp == NULL) {
        notewakeup(sg->tnote);  /* a thread that is not a G (foreign.c) */
        return;
    }
    g *gp = sg->gp;
    gp->param = sg;
    goready(gp);
}

static void mustblock(goro_chan *c, const char *what)
{
    if (c == NULL) {
        print("goro: %s called with a NULL channel\n", what);
        throw("bad argument");
    }
}

/* The G's own sudog, for plain sends and receives. */
static uintptr_t newsudog_sys(void *arg)
{
    (void)arg;
    return (uintptr_t)zalloc(sizeof(sudog));
}

static sudog *mysudog(g *gp)
{
    if (gp->mysudog == NULL) {
        gp->mysudog = (sudog *)systemstack(newsudog_sys, NULL);
        if (gp->mysudog == NULL)
            throw("out of memory (sudog)");
    }
    sudog *sg = gp->mysudog;
    *sg = (sudog){.gp = gp};
    return sg;
}

/* gopark unlock function: register with the wait's contexts, release the
 * channel. */
static bool chanparkcommit(g *gp, void *c)
{
    int err = gp->nwaitctx != 0 ? waitctxarm(gp) : 0;
    unlock(&((goro_chan *)c)->lock);
    if (unlikely(err != 0))
        waitctxfire(gp, err);
    return true;
}

/* chancancel is a plain send's or receive's waitcancel (ctx.c). */
static void chancancel(g *gp, int err)
{
    sudog *sg = gp->mysudog;
    goro_chan *c = sg->c;
    lock(&c->lock);
    bool mine = unqueue(gp->waitreason == waitReasonChanSend ? &c->sendq
                                                             : &c->recvq,
                        sg);
    if (mine) {
        sg->success = false;
        sg->cancelerr = (int16_t)err;
    }
    unlock(&c->lock);
    if (mine)
        goready(gp);
}

/* ---- send and receive ------------------------------------------------------- */

/* The data movement of a send or receive, shared by chansend, chanrecv and
 * select. c->lock is held; the caller unlocks and wakes sg if any. */

/* sendtorecv hands ep straight to the waiting receiver sg. */
static void sendtorecv(goro_chan *c, sudog *sg, const void *ep)
{
    copyelem(c, sg->elem, ep);
    sg->success = true;
}

/* bufsend appends ep to the buffer, which has room. */
static void bufsend(goro_chan *c, const void *ep)
{
    copyelem(c, chanbuf(c, c->sendx), ep);
    if (++c->sendx == c->dataqsiz)
        c->sendx = 0;
    c->qcount++;
}

/* recvfromsend takes a value for ep from the waiting sender sg: directly
 * from it when unbuffered; else the buffer is full, so take its head and
 * put the sender's value at the tail (the same slot). */
static inline __attribute__((always_inline)) void
recvfromsend(goro_chan *c, sudog *sg, void *ep)
{
    if (c->dataqsiz == 0) {
        copyelem(c, ep, sg->elem);
    } else {
        copyelem(c, ep, chanbuf(c, c->recvx));
        copyelem(c, chanbuf(c, c->recvx), sg->elem);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    sg->success = true;
}

/* bufrecv takes the buffer's head into ep; the buffer is not empty. */
static void bufrecv(goro_chan *c, void *ep)
{
    copyelem(c, ep, chanbuf(c, c->recvx));
    if (c->elemsize)
        memclr_nolibc(chanbuf(c, c->recvx), c->elemsize);
    if (++c->recvx == c->dataqsiz)
        c->recvx = 0;
    c->qcount--;
}

/* chanblock queues the current G on q with elem and parks it, releasing
 * c->lock (held by the caller). Returns 0 when a partner completed the
 * operation, -EPIPE when close woke it, a context's error when one ended
 * the wait (ctx.c). */
static int chanblock(goro_chan *c, waitq *q, void *elem, uint8_t reason)
{
    g *gp = getg();
    int err = waitctxbegin(gp, true, chancancel);
    if (unlikely(err != 0)) {
        unlock(&c->lock);
        return err;
    }
    sudog *my = mysudog(gp);
    my->elem = elem;
    my->c = c;
    gp->waiting = my;
    gp->param = NULL;
    enqueue(q, my);
    gopark(chanparkcommit, c, reason);
    waitctxend(gp);
    gp->waiting = NULL;
    if (likely(my->success))
        return 0;
    return my->cancelerr != 0 ? my->cancelerr : -EPIPE;
}

/* chansend: c->lock is held. Returns 0 on success, -EPIPE if closed,
 * -EAGAIN if it would block and !block; releases the lock. */
static int chansend(goro_chan *c, const void *ep, bool block)
{
    if (c->closed) {
        unlock(&c->lock);
        return -EPIPE;
    }
    sudog *sg = dequeue(&c->recvq);
    if (sg != NULL) {
        /* A receiver waits: hand the value to it directly. */
        sendtorecv(c, sg, ep);
        unlock(&c->lock);
        wake(sg);
        return 0;
    }
    if (c->qcount < c->dataqsiz) {
        bufsend(c, ep);
        unlock(&c->lock);
        return 0;
    }
    if (!block) {
        unlock(&c->lock);
        return -EAGAIN;
    }
    if (!onG(getg()))
        return foreignblock(c, &c->lock, &c->sendq, (void *)ep, enqueuev);
    return chanblock(c, &c->sendq, (void *)ep, waitReasonChanSend);
}

/* chanrecv: c->lock is held; releases it. */
static int chanrecv(goro_chan *c, void *ep, bool block)
{
    if (c->closed && c->qcount == 0) {
        unlock(&c->lock);
        if (ep && c->elemsize)
            memclr_nolibc(ep, c->elemsize);
        return -EPIPE;
    }
    sudog *sg = dequeue(&c->sendq);
    if (sg != NULL) {
        recvfromsend(c, sg, ep);
        unlock(&c->lock);
        wake(sg);
        return 0;
    }
    if (c->qcount > 0) {
        bufrecv(c, ep);
        unlock(&c->lock);
        return 0;
    }
    if (!block) {
        unlock(&c->lock);
        return -EAGAIN;
    }
    /* -EPIPE: closed meanwhile (close zeroed *ep). */
    if (!onG(getg()))
        return foreignblock(c, &c->lock, &c->recvq, ep, enqueuev);
    return chanblock(c, &c->recvq, ep, waitReasonChanReceive);
}

/* chancaller: a G, or a thread that is not one of the runtime's (counted
 * by foreign.c from now on); the runtime's own threads outside a G (g0,
 * the loop thread's callbacks) must not block here. */
static int chancaller(void)
{
    g *gp = getg();
    if (inforkedchild())
        return -ECHILD;  /* nobody would wake it (proc.c, forkedchild) */
    if (onG(gp))
        return 0;
    if (gp != NULL)
        return -EPERM;
    foreignthread();
    return 0;
}

int goro_chan_send(goro_chan *c, const void *elem)
{
    if (c == NULL || (elem == NULL && c->elemsize))
        return -EINVAL;
    int err = chancaller();
    if (err < 0)
        return err;
    lock(&c->lock);
    return chansend(c, elem, true);
}

int goro_chan_recv(goro_chan *c, void *elem)
{
    if (c == NULL)
        return -EINVAL;
    int err = chancaller();
    if (err < 0)
        return err;
    lock(&c->lock);
    return chanrecv(c, elem, true);
}

int goro_chan_try_send(goro_chan *c, const void *elem)
{
    if (c == NULL || (elem == NULL && c->elemsize))
        return -EINVAL;
    if (getg() == NULL)
        foreignthread();  /* it may send later: see foreign.c */
    lock(&c->lock);
    return chansend(c, elem, false);
}

int goro_chan_try_recv(goro_chan *c, void *elem)
{
    if (c == NULL)
        return -EINVAL;
    if (getg() == NULL)
        foreignthread();  /* it may send later: see foreign.c */
    lock(&c->lock);
    return chanrecv(c, elem, false);
}

/* chansendnb / chanrecvnb: a send or receive that never blocks, from any
 * thread (the loop thread's timers): true if it took place. */
bool chansendnb(goro_chan *c, const void *elem)
{
    lock(&c->lock);
    return chansend(c, elem, false) == 0;
}

bool chanrecvnb(goro_chan *c, void *elem)
{
    lock(&c->lock);
    return chanrecv(c, elem, false) == 0;
}

void goro_chan_close(goro_chan *c)
{
    mustblock(c, "goro_chan_close");
    lock(&c->lock);
    if (c->closed) {
        unlock(&c->lock);
        throw("close of closed channel");
    }
    c->closed = true;
    /* Release every waiter: receivers get zero values, senders -EPIPE. */
    sudog *list = NULL, **tail = &list;
    sudog *sg;
    while ((sg = dequeue(&c->recvq)) != NULL) {
        if (sg->elem && c->elemsize)
            memclr_nolibc(sg->elem, c->elemsize);
        sg->success = false;
        *tail = sg;
        tail = &sg->next;
    }
    while ((sg = dequeue(&c->sendq)) != NULL) {
        sg->success = false;
        *tail = sg;
        tail = &sg->next;
    }
    *tail = NULL;
    unlock(&c->lock);
    while (list != NULL) {
        sudog *next = list->next;
        list->next = NULL;
        wake(list);
        list = next;
    }
}

/* ---- select ------------------------------------------------------------------- */

static void sellock(goro_select_case *cases, const uint16_t *lockorder, int n)
{
    goro_chan *last = NULL;
    for (int i = 0; i < n; i++) {
        goro_chan *c = cases[lockorder[i]].c;
        if (c != NULL && c != last)
            lock(&c->lock);
        last = c;
    }
}

static void selunlock(goro_select_case *cases, const uint16_t *lockorder,
                      int n)
{
    /* In reverse: once the last lock goes, the G may be running elsewhere
     * (after a park), so cases must not be read after it. */
    for (int i = n - 1; i >= 0; i--) {
        goro_chan *c = cases[lockorder[i]].c;
        if (c == NULL)
            continue;
        if (i > 0 && cases[lockorder[i - 1]].c == c)
            continue;  /* unlock each channel once, at its first index */
        unlock(&c->lock);
    }
}

struct selpark {
    goro_select_case *cases;
    const uint16_t *lockorder;
    int n;
    int64_t deadline;   /* 0: none */
};

static bool selparkcommit(g *gp, void *arg)
{
    struct selpark *sp = arg;
    /* The deadline's timer and the contexts may end the select from now
     * on: gp is Gwaiting, and no channel can take it before the locks
     * go. */
    if (sp->deadline != 0)
        timeradd(gp->waittimer, sp->deadline);
    int err = gp->nwaitctx != 0 ? waitctxarm(gp) : 0;
    selunlock(sp->cases, sp->lockorder, sp->n);
    if (err != 0)
        waitctxfire(gp, err);
    return true;
}

void selcancel(g *gp, int err)
{
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&gp->selectDone, &zero, 1)) {
        gp->waitres2 = err;
        goready(gp);
    }
}

static inline void setok(goro_select_case *cs, int v)
{
    if (cs->ok)
        *cs->ok = v;
}

static uintptr_t sudogs_sys(void *n)
{
    return (uintptr_t)zalloc((size_t)(uintptr_t)n * sizeof(sudog));
}

/* selectgo is goro_select, with a deadline (0: none) when block. */
static int selectgo(goro_select_case *cases, int n, bool block,
                    int64_t deadline)
{
    if (cases == NULL || n < 1 || n > 65536)
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (cases[i].dir != GORO_SEND && cases[i].dir != GORO_RECV)
            return -EINVAL;
    g *gp = getg();
    if (!onG(getg()))
        return -EPERM;
    if (inforkedchild())
        return -ECHILD;

    /* Random poll order (Fisher-Yates); lock order by channel address. */
    uint16_t pollorder[n], lockorder[n];
    for (int i = 0; i < n; i++) {
        uint32_t j = fastrandn((uint32_t)i + 1);
        pollorder[i] = pollorder[j];
        pollorder[j] = (uint16_t)i;
    }
    for (int i = 0; i < n; i++) {  /* insertion sort: n is small */
        uint16_t x = (uint16_t)i;
        int k = i - 1;
        while (k >= 0 && (uintptr_t)cases[lockorder[k]].c >
                             (uintptr_t)cases[x].c) {
            lockorder[k + 1] = lockorder[k];
            k--;
        }
        lockorder[k + 1] = x;
    }

    sellock(cases, lockorder, n);

    /* Pass 1: is some case ready? */
    for (int i = 0; i < n; i++) {
        int idx = pollorder[i];
        goro_select_case *cs = &cases[idx];
        goro_chan *c = cs->c;
        if (c == NULL)
            continue;
        if (cs->dir == GORO_SEND) {
            if (c->closed) {
                selunlock(cases, lockorder, n);
                setok(cs, 0);
                return idx;
            }
            sudog *sg = dequeue(&c->recvq);
            if (sg || c->qcount < c->dataqsiz) {
                if (sg)
                    sendtorecv(c, sg, cs->elem);
                else
                    bufsend(c, cs->elem);
                selunlock(cases, lockorder, n);
                if (sg)
                    wake(sg);
                setok(cs, 1);
                return idx;
            }
        } else {
            sudog *sg = dequeue(&c->sendq);
            if (sg || c->qcount > 0) {
                if (sg)
                    recvfromsend(c, sg, cs->elem);
                else
                    bufrecv(c, cs->elem);
                selunlock(cases, lockorder, n);
                if (sg)
                    wake(sg);
                setok(cs, 1);
                return idx;
            }
            if (c->closed) {
                selunlock(cases, lockorder, n);
                if (cs->elem && c->elemsize)
                    memclr_nolibc(cs->elem, c->elemsize);
                setok(cs, 0);
                return idx;
            }
        }
    }
    if (!block) {
        selunlock(cases, lockorder, n);
        return -EAGAIN;
    }
    if (deadline != 0 && deadline <= goro_now()) {
        selunlock(cases, lockorder, n);
        return -ETIMEDOUT;
    }
    gp->waitcancel = selcancel;  /* the deadline's timer too */
    int err = waitctxbegin(gp, true, selcancel);
    if (err != 0) {
        selunlock(cases, lockorder, n);
        return err;
    }
    if (deadline != 0)
        waittimer(gp);  /* allocated now, not in the commit */

    /* Pass 2: queue a sudog on every channel, in lock order, and park. */
    sudog *sgs = (sudog *)systemstack(sudogs_sys, (void *)(uintptr_t)n);
    if (sgs == NULL)
        throw("out of memory (select)");
    atomic_store(&gp->selectDone, 0);
    gp->param = NULL;
    sudog **link = &gp->waiting;
    for (int i = 0; i < n; i++) {
        int idx = lockorder[i];
        goro_select_case *cs = &cases[idx];
        if (cs->c == NULL)
            continue;
        sudog *sg = &sgs[idx];
        sg->gp = gp;
        sg->isSelect = true;
        sg->elem = cs->elem;
        sg->c = cs->c;
        sg->caseidx = idx;
        *link = sg;
        link = &sg->waitlink;
        enqueue(cs->dir == GORO_SEND ? &cs->c->sendq : &cs->c->recvq, sg);
    }
    *link = NULL;
    struct selpark sp = {cases, lockorder, n, deadline};
    gopark(selparkcommit, &sp, waitReasonSelect);

    /* Pass 3: woken by one case, the deadline or a context; take the
     * sudogs off the other queues. The timer and the contexts go first
     * (they take no channel lock, and once they are done they cannot end
     * a later select). */
    if (deadline != 0)
        timerdel(gp->waittimer);
    waitctxend(gp);
    sellock(cases, lockorder, n);
    sudog *won = gp->param;
    for (sudog *sg = gp->waiting; sg != NULL; sg = sg->waitlink) {
        if (sg == won)
            continue;
        goro_select_case *cs = &cases[sg->caseidx];
        dequeueSudoG(cs->dir == GORO_SEND ? &cs->c->sendq : &cs->c->recvq,
                     sg);
    }
    gp->waiting = NULL;
    selunlock(cases, lockorder, n);
    if (won == NULL) {
        if (gp->waitres2 == 0)
            throw("select: woken without a case");
        zfree(sgs);
        return gp->waitres2;
    }
    int idx = won->caseidx;
    setok(&cases[idx], won->success ? 1 : 0);
    zfree(sgs);
    return idx;
}

int goro_select(goro_select_case *cases, int n, int block)
{
    return selectgo(cases, n, block != 0, 0);
}

int goro_select_deadline(goro_select_case *cases, int n, int64_t deadline_ns)
{
    return selectgo(cases, n, true, deadline_ns);
}

/* ---- with a context (ctx.c) ---------------------------------------------------- */

int goro_select_ctx(goro_ctx *ctx, goro_select_case *cases, int n)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    gp->callctx = ctx;
    int r = selectgo(cases, n, true, 0);
    getg()->callctx = NULL;
    return r;
}

int goro_chan_send_ctx(goro_ctx *ctx, goro_chan *c, const void *elem)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    gp->callctx = ctx;
    int r = goro_chan_send(c, elem);
    getg()->callctx = NULL;
    return r;
}

int goro_chan_recv_ctx(goro_ctx *ctx, goro_chan *c, void *elem)
{
    g *gp = getg();
    if (!onG(gp))
        return -EPERM;
    gp->callctx = ctx;
    int r = goro_chan_recv(c, elem);
    getg()->callctx = NULL;
    return r;
}

/* ---- stack moves ---------------------------------------------------------- */

/* lockwaiting takes the locks of every channel gp waits on (gp->waiting is
 * in lock order), so that no sender or receiver copies into or out of gp's
 * stack while it moves. gp must be held by the caller (Gscan). */
void lockwaiting(g *gp)
{
    goro_chan *last = NULL;
    for (sudog *sg = gp->waiting; sg != NULL; sg = sg->waitlink) {
        if (sg->c != last)
            lock(&sg->c->lock);
        last = sg->c;
    }
}

void unlockwaiting(g *gp)
{
    goro_chan *last = NULL;
    for (sudog *sg = gp->waiting; sg != NULL; sg = sg->waitlink) {
        if (sg->c != last)
            unlock(&sg->c->lock);
        last = sg->c;
    }
}

/* adjustsudogs moves the elem pointers of gp's sudogs that point into the
 * part of the stack that moved (Go's adjustsudogs). */
void adjustsudogs(g *gp, uintptr_t oldsp, uintptr_t oldhi, uintptr_t delta)
{
    for (sudog *sg = gp->waiting; sg != NULL; sg = sg->waitlink)
        if ((uintptr_t)sg->elem - oldsp < oldhi - oldsp)
            sg->elem = (char *)sg->elem + delta;
}
