/*
 * schedtrace.c - GORO_SCHEDTRACE: the scheduler's state on stderr every
 * interval, as Go's GODEBUG=schedtrace=X (and scheddetail=1) print it:
 *
 *   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0
 *   idlethreads=1 runqueue=0 [3 0]
 *
 * (one line): the Ps, how many are idle, the threads that run Gs (Ms
 * created), how many look for work and how many sleep, the global run
 * queue's length and each P's. With ",detail" every P follows on a line of
 * its own (status, its M, ticks, queue, free Gs), then every live G
 * (status or wait reason, its M).
 *
 * A thread of its own prints, not sysmon: sysmon stops when every P is
 * idle, and the line should still come then (an idle program says so).
 * Not a timer of time.c's heap either: a pending timer means to checkdead
 * that a G may still wake, so a periodic one would hide every deadlock.
 * The figures are read without stopping anything (sched.lock for the
 * global queue and the idle counts, as Go's schedtrace takes it): each is
 * exact, not all of one instant.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime2.h"

static struct {
    pthread_t thread;
    bool      started;
    _Atomic uint32_t stop;      /* futex: 1 asks the thread to end */
    int64_t   start;            /* nanotime() at goro_run */
} st;

/* An output buffer written to stderr when full and at the end. */
typedef struct sbuf {
    char   b[4096];
    size_t n;
} sbuf;

static void sflush(sbuf *s)
{
    size_t off = 0;
    while (off < s->n) {
        ssize_t w = write(2, s->b + off, s->n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    s->n = 0;
}

__attribute__((format(printf, 2, 3)))
static void sprint(sbuf *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    if (s->n + (size_t)n > sizeof s->b)
        sflush(s);
    memcpy(s->b + s->n, line, (size_t)n);
    s->n += (size_t)n;
}

static const char *pstatus[] = {"idle", "running", "syscall"};

static void gline(g *gp, void *arg)
{
    sbuf *s = arg;
    uint32_t gs = readgstatus(gp) & ~(uint32_t)Gscan;
    if (gs == Gdead || gs == Gidle)
        return;
    m *mp = gp->m;
    const char *what = gs == Grunnable ? "runnable" : gs == Grunning ? "running"
                     : gs == Gsyscall ? "syscall" : gs == Gcopystack ? "copystack"
                     : gp->waitreason < waitReasonCount
                         ? waitReasonStrings[gp->waitreason] : "waiting";
    sprint(s, "  G%lld: status=%u(%s) m=%d\n", (long long)gp->goid, gs, what,
           mp != NULL ? mp->id : -1);
}

/* schedtrace prints one report (Go's schedtrace). */
static void schedtrace(bool detail)
{
    sbuf s;
    s.n = 0;
    lock(&sched.lock);
    int32_t runq = sched.runqsize, nmidle = sched.nmidle, mcount = sched.mnext;
    unlock(&sched.lock);
    sprint(&s, "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d "
           "spinningthreads=%d idlethreads=%d runqueue=%d",
           (long long)((nanotime() - st.start) / 1000000), gomaxprocs,
           atomic_load(&sched.npidle), mcount,
           atomic_load(&sched.nmspinning), nmidle, runq);
    if (!detail) {
        sprint(&s, " [");
        for (int32_t i = 0; i < gomaxprocs; i++)
            sprint(&s, i ? " %u" : "%u", runqlen(allp[i]));
        sprint(&s, "]\n");
        sflush(&s);
        return;
    }
    sprint(&s, "\n");
    for (int32_t i = 0; i < gomaxprocs; i++) {
        p *pp = allp[i];
        uint32_t ps = atomic_load(&pp->status);
        m *mp = pp->m;
        g *cur = mp != NULL ? mp->curg : NULL;
        sprint(&s, "  P%d: status=%u(%s) schedtick=%u syscalltick=%u m=%d "
               "curg=%lld runqsize=%u gfreecnt=%d\n", i, ps,
               ps < 3 ? pstatus[ps] : "?", pp->schedtick, pp->syscalltick,
               mp != NULL ? mp->id : -1,
               cur != NULL ? (long long)cur->goid : -1LL, runqlen(pp),
               pp->gfreecnt);
    }
    forallg(gline, &s);
    sflush(&s);
}

static void *schedtracer(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int64_t next = st.start + dbgconf.schedtrace_ns;
    for (;;) {
        int64_t d = next - nanotime();
        if (d > 0 && atomic_load(&st.stop) == 0)
            futexsleep(&st.stop, 0, d);
        if (atomic_load(&st.stop) != 0)
            break;
        if (nanotime() < next)
            continue;
        schedtrace(dbgconf.schedtrace_detail);
        next += dbgconf.schedtrace_ns;
        int64_t now = nanotime();
        if (next < now)       /* late (a stopped process): no catching up */
            next = now + dbgconf.schedtrace_ns;
    }
    return NULL;
}

/* schedtraceinit starts the reporting thread if GORO_SCHEDTRACE asks
 * (goro_run, once the scheduler is set up). */
void schedtraceinit(void)
{
    st.start = nanotime();
    if (dbgconf.schedtrace_ns == 0)
        return;
    atomic_store(&st.stop, 0);
    st.started = pthread_create(&st.thread, NULL, schedtracer, NULL) == 0;
    if (!st.started)
        print("goro: GORO_SCHEDTRACE: cannot start its thread\n");
}

/* schedtraceshutdown ends it (goro_run's end). */
void schedtraceshutdown(void)
{
    if (!st.started)
        return;
    atomic_store(&st.stop, 1);
    futexwakeup(&st.stop, 1);
    pthread_join(st.thread, NULL);
    st.started = false;
}
