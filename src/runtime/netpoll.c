/*
 * netpoll.c - the netpoller: I/O readiness for parked Gs, through a
 * pollDesc per fd and the runtime's private epoll fd (Go's netpoll.go and
 * netpoll_epoll.go).
 *
 * A G first tries its I/O call itself (netfd.c); only on EAGAIN does it
 * park (or, reading a TCP socket, when it knows the call would say so:
 * "Reads that skip their EAGAIN", below). The runtime keeps a private
 * epoll fd (epfd); an fd is registered in it ONCE, at the first wait on
 * it, for EPOLLIN|EPOLLRDHUP|EPOLLPRI edge-triggered with a pollDesc
 * (never freed, reused from pdfree) and its seq in the event data, and
 * removed by goro_close. EPOLLOUT is added (one
 * EPOLL_CTL_MOD, which reports writability that came before it) by the
 * first wait for writing, not before: a UDP or Unix socket makes a
 * write-space edge each time its peer takes a datagram or a write it
 * sent, which woke the M blocked in epoll_wait once more per request
 * when nobody waited to write (Go registers both at once; bench/
 * RESULTS.md, "Write-space edges nobody waits for"). The parking G puts
 * itself on its pollDesc's reader or writer list on g0 (netpollcommit,
 * gopark's unlockf; Go's netpollblock) with no trip to the loop thread
 * (loop.c). netpoll() is epoll_wait(epfd, 0) from any thread: it takes each
 * ready pollDesc's waiters, or, if none waits yet, latches the edge
 * (rready/wready) so that a G between its EAGAIN and its park does not sleep
 * through it: it makes its call again (so a spurious readiness costs one
 * more EAGAIN). Ms call netpoll in findrunnable before they steal (Go's
 * netpoll(0)), taking ready Gs in batches onto their own P, except the M
 * of the only P not idle, which goes on to block (below) and lets that
 * poll find what is ready; an M that finds no work and gives up its P
 * blocks in epoll_wait on epfd (Go's netpoll(delay), through
 * netpollclaim: one M at a time), so that readiness wakes that M directly
 * and it runs the first G it took on an idle P; sysmon polls when nobody
 * did for 10 ms (every P running Gs that never come back to the
 * scheduler). Readiness wakes all the waiters of a direction; a G woken
 * must make its call until EAGAIN before another may count on a new edge
 * (as in Go, one reader and one writer per fd at a time is the intended
 * use). A woken G's waitres (and a latch) holds
 * the edge's events in poll(2)'s bits, so that goro_wait_fd (fd.c), which
 * waits on the same pollDescs for either direction too (a third list, rwg,
 * taken by any edge), returns them without another system call. Its fds may
 * be a library's, closed behind the runtime's back; the kernel then drops
 * them from epfd, and a wait would find a stale registration: its park
 * checks it (pdmod, one EPOLL_CTL_MOD) and registers the fd afresh when
 * it is stale. The loop never touches a G's buffer (no pointer into a parked
 * G's stack is kept, so stackscan may shrink it).
 *
 * The blocking M (Go's findrunnable): netpoll_lastpoll is 0 while an M
 * blocks, so the claim is one compare-and-swap of it to 0, and a
 * non-blocking poll stores its time only where it is not 0. The M holds no
 * P meanwhile; when readiness wakes it, it takes an idle P, runs the first
 * G and puts the rest on that P's queue; with no idle P it puts them on
 * the global queue and sleeps (blocking again would wake it at every edge
 * while every P runs). Anything else wakes it through breakfd, an eventfd
 * in epfd (level-triggered, drained only by the blocking poll): startm,
 * which has work but no idle M, hands it the P (so that the blocking M is
 * not a reason to make a thread), and exitall. handoffp keeps an M
 * polling when the last running P goes idle without one (Go's rule), and
 * the last M to go idle claims it: so while every P is idle, one M blocks
 * here and the loop thread takes no part in readiness.
 *
 * Deadlines: a G waiting with one goes through the loop thread (loop.c,
 * loopsubmit), which puts it in time.c's heap of Gs and then on its pollDesc
 * (netpollwait); only the loop may ready it: an M's netpoll that takes it
 * off the pollDesc hands it to the loop (pendready), and the timer readies
 * it with -ETIMEDOUT only if it is still on the pollDesc's list
 * (netpollunblock, under the pollDesc's lock).
 *
 * Closing: goro_close (netpollclosing, then netpollclose on g0 if fd has
 * a pollDesc) clears pdtab[fd], bumps the pollDesc's seq, takes its
 * waiters (they wake with -ECANCELED), deletes fd from epfd and puts the
 * pollDesc on pdfree; only then does the caller close the fd, so the
 * number cannot be reused while epfd watches it. An M inside netpoll may
 * still hold an event for it: the pollDesc is still
 * memory it may lock, and the seq in the event no longer matches, so the
 * event is ignored. A G between its EAGAIN and its park while another G
 * closes its fd must not register the closed fd (it would sleep forever,
 * or leave a pollDesc that a later fd of the same number would take for
 * its own): close bumps netpoll_closegen[fd] first, the G loaded it before
 * its call, and netpollcommit checks it under the pollDesc's lock (Go has
 * fdMutex's reference count for this, which goro's int fds do not have);
 * a pollDesc registered by a G that lost that race is dropped by the next
 * pdget (its cgen is stale). Every close bumps it, also of an fd with no
 * pollDesc yet: that G may be registering it at this very moment, and the
 * kernel drops a closed fd from epfd with the edge it had queued, so a G
 * that registered it unseen would sleep for ever (a close that skipped
 * the bump when no pollDesc was there did that, about one run in fifty of
 * a test racing a close with a reader on a loaded machine).
 *
 * Rejected: the loop thread watching epfd while every P is idle, with
 * the idle Ms asleep on their notes (what goro did first): readiness woke
 * two threads, the loop and then an M, and with one P busy a G readied by
 * its fd waited for that P's M to poll, which then woke the idle P's M by
 * futex (bench/RESULTS.md, "An idle M blocks in the netpoller"); a
 * uv_poll_t per fd (libuv's epoll is level-triggered and uv_poll_stop
 * deletes the fd at once: an ADD, a DEL and a failing DEL per wait, and
 * every ready G hopped through the loop thread and the global queue;
 * bench/RESULTS.md, "TCP echo against Go", has what it cost); the
 * loop watching epfd all the time (it would wake for every edge while the
 * Ms are busy and take the Gs from them one at a time, the hop again);
 * parking such a reader without its call whether or not its M polls next
 * (the read also finds what came after the short read before anyone
 * polled: with every P busy, no M polls until a slice ends, and an HTTP
 * server beside two spinning Gs served far fewer requests: bench/
 * RESULTS.md, "Rejected: reads that skip their EAGAIN").
 *
 * Reads that skip their EAGAIN (goro's own; Go makes the call). A short
 * read of a TCP socket took everything the fd had, and what comes after
 * it makes an epoll event, which netpoll counts in the pollDesc (edges).
 * So a G whose last goro_read of a TCP socket was short, and that saw
 * edges before that read (g->rdempty, g->rdedges), knows that the fd is
 * still empty while edges has not moved: its next read parks at once,
 * without the system call that would say EAGAIN -- but only when its M
 * polls next (netfd.c's pollsnext: nothing queued on its P or globally),
 * for then the poll does what that read did, and finds what came since.
 * The G's view of edges is a lockless hint; netpollcommit checks it under
 * the pollDesc's lock (same pollDesc, same seq, same edges), and an event
 * counted later wakes the G as any other. What a short read can leave
 * behind is told by an event that may have come before it: the peer's FIN
 * (the next read returns 0 at once), an error, urgent data (EPOLLPRI,
 * registered for this); once an event says RDHUP, HUP, ERR or PRI, the
 * pollDesc lets no read skip again (rdskip). Other fds may stop a read
 * early with more to come, so only TCP sockets skip (one getsockopt at
 * registration). In a request-response exchange this saves one system
 * call of about four per request on one connection, and the share of the
 * reads whose P has nothing else queued on many (bench/RESULTS.md,
 * "Reads that skip their EAGAIN when the M polls next").
 */
#include <jemalloc/jemalloc.h>
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime2.h"

/* A pollDesc per fd a G waits on (Go's pollDesc), registered once with
 * epfd (edge-triggered, data = pdtag(pd, seq)) and unregistered by
 * goro_close. Never freed: a closed one goes to pdfree for reuse, so an M
 * holding an event for it may still lock it and finds seq changed. */
typedef struct pollDesc {
    struct pollDesc *link;     /* pdfree (under pdlock) */
    mutex     lock;            /* everything below */
    int       fd;
    uint32_t  seq;             /* bumped by each close */
    uint32_t  cgen;            /* netpoll_closegen[fd] when registered: a
                                  different one now means the fd was closed
                                  (and maybe reopened) since: stale */
    uint32_t  rready, wready;  /* an edge came with nobody waiting: the
                                  next waiter retries instead of sleeping;
                                  the edge's poll(2) events (pollevents),
                                  0 when none is latched */
    g        *rg, *wg;         /* waiting readers, writers (schedlink);
                                  their waitres is 0 until taken, then
                                  the events that ended the wait (> 0) */
    g        *rwg;             /* goro_wait_fd for either direction
                                  (waitReasonIOWait): taken by any edge */
    _Atomic uint32_t edges;    /* events seen (netpoll), for pollsnap */
    bool      rdskip;          /* a short read takes everything the fd
                                  has: a TCP socket (set at registration)
                                  for which no event has said end of
                                  file, an error or urgent data (which a
                                  short read may leave behind; cleared by
                                  netpoll until the fd is registered
                                  anew) */
    _Atomic bool outarmed;     /* registered for EPOLLOUT as well: set
                                  under pdlock by the first wait for
                                  writability (pdget), kept until the fd
                                  is registered anew */
} pollDesc;
static int epfd = -1;          /* the runtime's private epoll fd */

/* nanotime of the last netpoll, 0 while an M blocks in it (netpollclaim):
 * sysmon's tick (loop.c) polls when it is older than 10 ms. Never 0
 * otherwise (netpollinit sets it). */
HIDDEN _Atomic int64_t netpoll_lastpoll;

/* breakfd: an eventfd in epfd (data BREAKTAG, level-triggered) that wakes
 * the blocking M (netpollbreak); drained only by the blocking poll, so a
 * non-blocking one just skips it. breaking: a write is on its way and not
 * yet drained (one write for any number of netpollbreaks meanwhile). */
static int breakfd = -1;
static _Atomic bool breaking;
enum { BREAKTAG = 1 };  /* no pollDesc is at address 1 */

/* ---- the netpoller (any thread) ------------------------------------------ */

/* pdlist appends gp to a waiter list (FIFO through schedlink). */
static void pdappend(g **list, g *gp)
{
    gp->schedlink = NULL;
    while (*list != NULL)
        list = &(*list)->schedlink;
    *list = gp;
}

/* pdunlink takes gp off list; false if it is not on it. */
static bool pdunlink(g **list, g *gp)
{
    while (*list != gp) {
        if (*list == NULL)
            return false;
        list = &(*list)->schedlink;
    }
    *list = gp->schedlink;
    gp->schedlink = NULL;
    return true;
}

/* pdlistof is the wait list of pd that gp (an I/O wait) goes on. */
static inline g **pdlistof(pollDesc *pd, g *gp)
{
    return gp->waitreason == waitReasonIORead    ? &pd->rg
           : gp->waitreason == waitReasonIOWrite ? &pd->wg
                                                 : &pd->rwg;
}

/* pdtab[fd]: fd's pollDesc while registered (set under pdlock by the first
 * wait on fd, cleared by netpollclose). One pointer per possible fd, sized
 * from RLIMIT_NOFILE's hard limit; untouched pages cost nothing. */
static pollDesc *_Atomic *pdtab;
static size_t npdtab;
HIDDEN _Atomic uint32_t *netpoll_closegen; /* by fd, see runtime2.h */
HIDDEN size_t netpoll_nfds;
static mutex pdlock;           /* pdtab stores, pdfree */
static pollDesc *pdfree;       /* closed pollDescs for reuse (under pdlock) */
static _Atomic int32_t npdregistered; /* fds in epfd */

/* The Gs an M's netpoll or netpollclose took off a list while they wait
 * with a deadline: they are in time.c's heap of Gs, so only the loop may
 * ready them (it takes them out of the heap first). A Treiber stack
 * through schedlink, like pending. */
static g *_Atomic pendready;

static void handtoloop(g *gp)
{
    g *old = atomic_load_explicit(&pendready, memory_order_relaxed);
    do {
        gp->schedlink = old;
    } while (!atomic_compare_exchange_weak_explicit(
        &pendready, &old, gp, memory_order_release, memory_order_relaxed));
    if (old == NULL)
        loopwake();
}

/* pdtake moves every G of list (taken under pd->lock) to *out, or to the
 * loop for those with a deadline, their wait ended by res. */
static void pdtake(g *list, int res, g ***out)
{
    while (list != NULL) {
        g *gp = list;
        list = gp->schedlink;
        gp->schedlink = NULL;
        gp->waitres = res;
        if (gp->waketime != 0) {
            handtoloop(gp);
        } else {
            **out = gp;
            *out = &gp->schedlink;
        }
    }
}

/* pollevents translates an epoll event mask into poll(2)'s (the values
 * are the same bits on Linux, EPOLLRDHUP included); never 0, so that a
 * woken waiter's waitres (> 0) tells readiness from an error. */
static inline int32_t pollevents(uint32_t ev)
{
    int32_t pev = (int32_t)(ev & (EPOLLIN | EPOLLOUT | EPOLLRDHUP |
                                  EPOLLHUP | EPOLLERR | EPOLLPRI));
    if (ev & EPOLLRDHUP)
        pev |= EPOLLIN;  /* as poll: a read gives end of file */
    return pev != 0 ? pev : EPOLLIN;
}

static inline uint64_t pdtag(pollDesc *pd, uint32_t seq)
{
    return (uint64_t)(uintptr_t)pd | (uint64_t)(seq & 0xffff) << 48;
}

/* pddrop unregisters pd (under pdlock, pdtab[fd] == pd): its waiters are
 * taken into *out with -ECANCELED, events in flight for it are ignored
 * from now on (seq), and it goes to pdfree. */
static void pddrop(pollDesc *pd, g ***out)
{
    int fd = pd->fd;
    atomic_store_explicit(&pdtab[fd], NULL, memory_order_relaxed);
    lock(&pd->lock);
    __atomic_store_n(&pd->seq, pd->seq + 1, __ATOMIC_RELAXED);
    g *rg = pd->rg, *wg = pd->wg, *rwg = pd->rwg;
    pd->rg = pd->wg = pd->rwg = NULL;
    pd->rready = pd->wready = 0;
    unlock(&pd->lock);
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);  /* fails if fd is closed */
    atomic_fetch_sub(&npdregistered, 1);
    pd->link = pdfree;
    pdfree = pd;
    pdtake(rg, -ECANCELED, out);
    pdtake(wg, -ECANCELED, out);
    pdtake(rwg, -ECANCELED, out);
}

/* pdevents: what pd's fd is registered for; out: EPOLLOUT too. */
static inline uint32_t pdevents(bool out)
{
    return EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLET | (out ? EPOLLOUT : 0);
}

/* pdmod: EPOLL_CTL_MOD of fd, registered with pd, with EPOLLOUT added if
 * out (pd->outarmed then). It fails (false) unless fd is still the file
 * epfd watches: the kernel drops an fd from epfd by itself when the fd is
 * closed without goro_close (by a library, behind the runtime's back), and
 * the number may then name another file that epfd does not watch, where a
 * waiter would sleep forever. It re-arms the edge: readiness now is
 * reported again (a spurious wake at most), and so is writability that
 * came before EPOLLOUT was asked for. Under pdlock. */
static bool pdmod(int fd, pollDesc *pd, bool out)
{
    out |= atomic_load_explicit(&pd->outarmed, memory_order_relaxed);
    struct epoll_event ev = {
        .events = pdevents(out),
        .data.u64 = pdtag(pd, pd->seq),
    };
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        return false;
    atomic_store_explicit(&pd->outarmed, out, memory_order_relaxed);
    return true;
}

/* istcp: fd is a TCP socket, whose short read takes everything it had
 * but an end of file, an error or urgent data, which its events say
 * (rdskip). Others may stop a read early with more to come: a datagram
 * socket at each datagram, a Unix stream socket at passed fds, a pipe in
 * packet mode at each packet, a terminal at each line. On g0. */
static bool istcp(int fd)
{
    int proto = 0;
    socklen_t len = sizeof proto;
    return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
           proto == IPPROTO_TCP;
}

/* pdget returns fd's pollDesc, registering fd with epfd on first use.
 * cgen: netpoll_closegen[fd] before the G's call that gave EAGAIN; if fd
 * was closed since, -ECANCELED. NULL with *err set if fd cannot be polled.
 * verify: check a registration found with pdmod first (goro_wait_fd,
 * whose fds may be closed behind the runtime's back), and make a new one
 * if it is stale. out: the G waits for writability, which the
 * registration must then include (pdmod adds it to one without). On g0. */
static pollDesc *pdget(int fd, uint32_t cgen, bool verify, bool out,
                       int *err)
{
    if ((size_t)fd >= npdtab) {
        *err = -EINVAL;
        return NULL;
    }
    pollDesc *pd = atomic_load_explicit(&pdtab[fd], memory_order_acquire);
    if (!verify && pd != NULL && pd->cgen == cgen &&
        atomic_load(&netpoll_closegen[fd]) == cgen &&
        (!out || atomic_load_explicit(&pd->outarmed, memory_order_relaxed)))
        return pd;
    lock(&pdlock);
    if (atomic_load(&netpoll_closegen[fd]) != cgen) {
        unlock(&pdlock);
        *err = -ECANCELED;
        return NULL;
    }
    pd = atomic_load_explicit(&pdtab[fd], memory_order_relaxed);
    if (pd != NULL && pd->cgen == cgen &&
        ((!verify && (!out || pd->outarmed)) || pdmod(fd, pd, out))) {
        unlock(&pdlock);
        return pd;
    }
    g *stale = NULL, **tail = &stale;
    if (pd != NULL)
        pddrop(pd, &tail);  /* registered by a G that raced a close */
    pd = pdfree;
    if (pd != NULL) {
        pdfree = pd->link;
    } else {
        pd = mallocx(sizeof *pd, MALLOCX_ZERO);
        if (pd == NULL) {
            unlock(&pdlock);
            injectglist(stale);
            *err = -ENOMEM;
            return NULL;
        }
    }
    bool rdskip = istcp(fd);
    lock(&pd->lock);
    pd->fd = fd;
    pd->cgen = cgen;
    pd->link = NULL;
    pd->rg = pd->wg = pd->rwg = NULL;
    pd->rready = pd->wready = 0;
    __atomic_store_n(&pd->rdskip, rdskip, __ATOMIC_RELAXED);
    atomic_store_explicit(&pd->outarmed, out, memory_order_relaxed);
    uint32_t seq = pd->seq;
    unlock(&pd->lock);
    struct epoll_event ev = {
        .events = pdevents(out),
        .data.u64 = pdtag(pd, seq),
    };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        *err = -errno;
        pd->link = pdfree;
        pdfree = pd;
        unlock(&pdlock);
        injectglist(stale);
        return NULL;
    }
    atomic_fetch_add(&npdregistered, 1);
    /* seq_cst, against netpollclosing's bump and load: either the close
     * sees pd here, or netpollcommit's load of netpoll_closegen, after
     * this store, sees the close. */
    atomic_store_explicit(&pdtab[fd], pd, memory_order_seq_cst);
    unlock(&pdlock);
    injectglist(stale);
    return pd;
}

/* pdenqueue records gp (its waitpd, waitseq, waitfd and waitreason set)
 * as waiting on its pollDesc (Go's netpollblock): false, with waitres set,
 * if it must not sleep: readiness came since its EAGAIN (consumed here: it
 * makes its call again) or the fd was closed. */
static bool pdenqueue(g *gp)
{
    pollDesc *pd = gp->waitpd;
    uint8_t r = gp->waitreason;
    lock(&pd->lock);
    if (pd->seq != gp->waitseq) {
        unlock(&pd->lock);
        gp->waitres = -ECANCELED;
        return false;
    }
    uint32_t ev = 0;
    if (r != waitReasonIOWrite) {
        ev |= pd->rready;
        pd->rready = 0;
    }
    if (r != waitReasonIORead) {
        ev |= pd->wready;
        pd->wready = 0;
    }
    if (ev != 0) {
        unlock(&pd->lock);
        gp->waitres = (int32_t)ev;
        return false;
    }
    pdappend(pdlistof(pd, gp), gp);
    /* A wait with contexts (ctx.c) keeps its deadline on its own wait
     * timer (g->waitarg), not in the heap of Gs: the timer and the
     * contexts end it alike (iocancel). Registered under the pollDesc's
     * lock, before readiness can take the G. */
    int err = 0;
    if (gp->nwaitctx != 0) {
        if (gp->waitarg != 0)
            timeradd(gp->waittimer, gp->waitarg);
        err = waitctxarm(gp);
    }
    unlock(&pd->lock);
    if (err != 0)
        waitctxfire(gp, err);
    return true;
}

/* netpollunblock: gp leaves its pollDesc's wait list, unless readiness or
 * a close took it first (a deadline's timer, time.c; iocancel). */
bool netpollunblock(g *gp)
{
    pollDesc *pd = gp->waitpd;
    lock(&pd->lock);
    bool mine = pdunlink(pdlistof(pd, gp), gp);
    unlock(&pd->lock);
    return mine;
}

/* iocancel is an fd wait's waitcancel (ctx.c): the G leaves its
 * pollDesc's list with err, unless readiness or a close took it first. */
static void iocancel(g *gp, int err)
{
    if (netpollunblock(gp)) {
        gp->waitres = err;
        goready(gp);
    }
}

int netpollpark(g *gp, int fd, uint32_t cgen, int64_t deadline,
                uint8_t reason, pollsnap *snap)
{
    if (inforkedchild())
        return -ECHILD;  /* no netpoller there (proc.c, forkedchild) */
    gp->waitcgen = cgen;
    gp->waitfd = fd;
    gp->waitres = 0;
    int err = waitctxbegin(gp, true, iocancel);
    if (err != 0)
        return err;
    if (deadline < 0)
        deadline = 0;
    if (gp->nwaitctx != 0) {
        gp->waketime = 0;
        gp->waitarg = deadline;
        if (deadline != 0)
            waittimer(gp);
    } else {
        gp->waketime = deadline;
    }
    gopark(netpollcommit, snap, reason);
    if (gp->nwaitctx != 0) {
        if (deadline != 0)
            timerdel(gp->waittimer);
        waitctxend(gp);
    }
    return gp->waitres;
}

void netpoll_snap(int fd, pollsnap *s)
{
    s->pd = (size_t)fd < npdtab
        ? atomic_load_explicit(&pdtab[fd], memory_order_acquire) : NULL;
    s->edges = s->pd != NULL
        ? atomic_load_explicit(&s->pd->edges, memory_order_relaxed) : 0;
}

/* rdskippable: pd is the pollDesc of gp's last wait, not closed since,
 * and its short reads take everything (rdskip). Lockless in
 * netpoll_rdknown, under pd's lock in netpollcommit. */
static inline bool rdskippable(pollDesc *pd, g *gp)
{
    return pd == gp->waitpd &&
           __atomic_load_n(&pd->seq, __ATOMIC_RELAXED) == gp->waitseq &&
           __atomic_load_n(&pd->rdskip, __ATOMIC_RELAXED);
}

bool netpoll_rdknown(g *gp, int fd, uint32_t *edges)
{
    pollDesc *pd = gp->waitpd;
    if (pd == NULL || (size_t)fd >= npdtab ||
        atomic_load_explicit(&pdtab[fd], memory_order_acquire) != pd ||
        !rdskippable(pd, gp))
        return false;
    *edges = atomic_load_explicit(&pd->edges, memory_order_relaxed);
    return true;
}

bool netpollcommit(g *gp, void *arg)
{
    int err;
    const pollsnap *snap = arg;
    bool skipped = gp->waitskipped;
    gp->waitskipped = false;
    pollDesc *pd = pdget(gp->waitfd, gp->waitcgen, snap != NULL,
                         gp->waitreason != waitReasonIORead, &err);
    if (pd == NULL) {
        gp->waitres = err;
        return false;
    }
    /* A close bumps netpoll_closegen before it takes pdlock and then this
     * lock: either it is seen here, or the seq taken here changes. */
    lock(&pd->lock);
    if (snap != NULL && snap->pd == pd && snap->edges == pd->edges) {
        /* goro_wait_fd looked (poll) after every edge the latches hold
         * and found the fd not ready: they are stale. */
        if (gp->waitreason != waitReasonIOWrite)
            pd->rready = 0;
        if (gp->waitreason != waitReasonIORead)
            pd->wready = 0;
    }
    /* A read that skipped its call may sleep only if the fd is still the
     * one its short read emptied and no event came since: one that comes
     * later wakes it, or, before it is on the list, is latched. */
    bool empty = skipped && rdskippable(pd, gp) && pd->edges == gp->rdedges;
    gp->waitseq = pd->seq;
    bool closed = atomic_load(&netpoll_closegen[gp->waitfd]) != gp->waitcgen;
    unlock(&pd->lock);
    if (closed) {
        gp->waitres = -ECANCELED;
        return false;
    }
    gp->waitpd = pd;
    if (skipped && !empty) {
        gp->waitres = 0;  /* maybe something to read: make the call */
        return false;
    }
    if (gp->waketime != 0) {
        /* A deadline: the loop puts it in the heap of Gs (time.c), then
         * enqueues it (netpollwait). */
        loopsubmit(gp);
        return true;
    }
    return pdenqueue(gp);
}

g *netpoll(bool block)
{
    struct epoll_event evs[128];
    int n;
    if (block) {
        /* exitall sets sched.exiting before its netpollbreak. */
        n = atomic_load(&sched.exiting) ? 0 : epoll_wait(epfd, evs, 128, -1);
    } else {
        if (atomic_load_explicit(&npdregistered, memory_order_relaxed) == 0)
            return NULL;
        n = epoll_wait(epfd, evs, 128, 0);
    }
    g *list = NULL, **tail = &list;
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag == BREAKTAG) {
            if (block) {
                uint64_t v;
                if (read(breakfd, &v, sizeof v) < 0) {
                    /* Cannot fail: it is readable, and only the M that
                     * holds the claim reads it. */
                }
                atomic_store(&breaking, false);
            }
            continue;
        }
        pollDesc *pd = (pollDesc *)(uintptr_t)(tag & ((1ull << 48) - 1));
        uint32_t ev = evs[i].events;
        bool r = ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI);
        bool w = ev & (EPOLLOUT | EPOLLHUP | EPOLLERR);
        int32_t pev = pollevents(ev);
        g *rg = NULL, *wg = NULL, *rwg = NULL;
        lock(&pd->lock);
        if ((pd->seq & 0xffff) != tag >> 48) {
            /* Closed since: pd may be another fd's now (netpollclose). */
            unlock(&pd->lock);
            continue;
        }
        if (r) {
            rg = pd->rg;
            pd->rg = NULL;
        }
        if (w) {
            wg = pd->wg;
            pd->wg = NULL;
        }
        if (r || w) {
            rwg = pd->rwg;
            pd->rwg = NULL;
        }
        atomic_store_explicit(&pd->edges, pd->edges + 1,
                              memory_order_relaxed);
        if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI))
            __atomic_store_n(&pd->rdskip, false, __ATOMIC_RELAXED);
        /* Latch what nobody took: a reader (or writer) of either kind. */
        if (r)
            pd->rready = rg == NULL && rwg == NULL ? (uint32_t)pev : 0;
        if (w)
            pd->wready = wg == NULL && rwg == NULL ? (uint32_t)pev : 0;
        unlock(&pd->lock);
        pdtake(rg, pev, &tail);
        pdtake(wg, pev, &tail);
        pdtake(rwg, pev, &tail);
    }
    int64_t now = nanotime();
    if (block) {
        atomic_store(&netpoll_lastpoll, now);  /* the claim ends */
    } else {
        /* Not over a blocking M's 0. */
        int64_t last = atomic_load_explicit(&netpoll_lastpoll,
                                            memory_order_relaxed);
        if (last != 0)
            atomic_compare_exchange_strong(&netpoll_lastpoll, &last, now);
    }
    return list;
}

bool netpollclaim(void)
{
    int64_t last = atomic_load_explicit(&netpoll_lastpoll,
                                        memory_order_relaxed);
    return last != 0 &&
           atomic_compare_exchange_strong(&netpoll_lastpoll, &last, 0);
}

bool netpollblocked(void)
{
    return atomic_load(&netpoll_lastpoll) == 0;
}

void netpollbreak(void)
{
    if (breakfd < 0 || atomic_exchange(&breaking, true))
        return;
    uint64_t one = 1;
    if (write(breakfd, &one, sizeof one) < 0) {
        /* Cannot fail: the counter is drained before it could fill. */
    }
}

bool netpollinuse(void)
{
    return atomic_load_explicit(&npdregistered, memory_order_relaxed) != 0;
}

bool netpollclosing(int fd)
{
    if (fd < 0 || (size_t)fd >= npdtab)
        return false;
    atomic_fetch_add_explicit(&netpoll_closegen[fd], 1, memory_order_seq_cst);
    return atomic_load_explicit(&pdtab[fd], memory_order_seq_cst) != NULL;
}

void netpollclose(int fd)
{
    if (fd < 0 || (size_t)fd >= npdtab)
        return;
    lock(&pdlock);
    pollDesc *pd = atomic_load_explicit(&pdtab[fd], memory_order_relaxed);
    g *list = NULL, **tail = &list;
    if (pd != NULL)
        pddrop(pd, &tail);
    unlock(&pdlock);
    injectglist(list);
}

/* ---- the netpoller (loop thread) ----------------------------------------- */

/* netpollwait puts gp, waiting on its fd with a deadline, in the heap of
 * Gs and then on its pollDesc's list. Loop thread. */
void netpollwait(g *gp)
{
    gheappush(gp);
    if (!pdenqueue(gp))
        loopready(gp, gp->waitres);
}

/* netpollwakeup is the netpoller's part of the loop's wakeup: the Gs Ms
 * took off a pollDesc while they wait with a deadline are readied. */
void netpollwakeup(void)
{
    g *done = atomic_exchange_explicit(&pendready, NULL, memory_order_acquire);
    while (done != NULL) {
        g *next = done->schedlink;
        loopready(done, done->waitres);
        done = next;
    }
}

/* ---- setup and teardown -------------------------------------------------- */

/* netpollinit maps the fd tables and makes epfd (loopinit, before the
 * loop thread starts); netpollshutdown undoes it once the loop has ended. */
int netpollinit(void)
{
    struct rlimit rl;
    size_t n = 1 << 20;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < n)
        n = rl.rlim_max;
    /* Untouched pages cost nothing: one pointer per possible fd. */
    void *pm = mmap(NULL, n * sizeof *pdtab, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *cm = mmap(NULL, n * sizeof *netpoll_closegen,
                    PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (pm == MAP_FAILED || cm == MAP_FAILED) {
        print("goro: cannot map the netpoller's fd tables\n");
        return -ENOMEM;
    }
    pdtab = pm;
    netpoll_closegen = cm;
    npdtab = n;
    netpoll_nfds = n;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    breakfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = BREAKTAG};
    if (epfd < 0 || breakfd < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) < 0) {
        int e = errno;
        print("goro: cannot create the netpoller's epoll fd: %s\n",
              strerror(e));
        return -e;
    }
    atomic_store(&netpoll_lastpoll, nanotime());
    return 0;
}

void netpollshutdown(void)
{
    close(epfd);
    epfd = -1;
    close(breakfd);
    breakfd = -1;
    /* Ms are gone; a G left parked on an fd stays so. */
    netpoll_nfds = 0;
    if (pdtab != NULL)
        munmap((void *)pdtab, npdtab * sizeof *pdtab);
    if (netpoll_closegen != NULL)
        munmap((void *)netpoll_closegen, npdtab * sizeof *netpoll_closegen);
    pdtab = NULL;
    netpoll_closegen = NULL;
    npdtab = 0;
    atomic_store(&npdregistered, 0);
}
