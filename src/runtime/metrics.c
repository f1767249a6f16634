/*
 * metrics.c - what the runtime tells about itself: goro_stats_get (the
 * short figures tests and benchmarks use), goro_metrics_get (what a
 * daemon exports: Gs by status, Ms and Ps, run queues, stack bytes by
 * size, the scheduling latency histogram) and goro_gs_snapshot (one line
 * per live G, as Go's goroutine profile).
 *
 * Nothing here stops the world. Counters live in each P's pstats, written
 * by the P's owner without atomics, and are summed here with plain reads
 * (a figure may be a few events old, never torn: they are aligned words).
 * Per-G figures come from a walk over allgs under allglock, taken in
 * batches so that spawning (allgadd) is never held up for long; a G seen
 * in one state may have left it by the time the walk ends. Group names
 * are read under allglock, which goro_group_free takes before it frees
 * one.
 */

#include <stdlib.h>
#include <string.h>

#include "runtime2.h"

extern _Atomic uint64_t stackfixedbytes; /* stack.c */

pstats sumstats(void)
{
    pstats sum = gstats;
    for (int32_t i = 0; allp != NULL && i < gomaxprocs; i++) {
        pstats *s = &allp[i]->stats;
        sum.gs_created += s->gs_created;
        sum.gs_exited += s->gs_exited;
        sum.ctx_switches += s->ctx_switches;
        sum.stack_grows += s->stack_grows;
        sum.stack_shrinks += s->stack_shrinks;
        sum.stack_copied_bytes += s->stack_copied_bytes;
        sum.stack_bytes_inuse += s->stack_bytes_inuse;
        sum.preempt_sync += s->preempt_sync;
        sum.preempt_async += s->preempt_async;
        sum.read_skips += s->read_skips;
        sum.schedlat_count += s->schedlat_count;
        sum.schedlat_sum_ns += s->schedlat_sum_ns;
        for (int b = 0; b < GORO_SCHEDLAT_BUCKETS; b++)
            sum.schedlat_bucket[b] += s->schedlat_bucket[b];
    }
    return sum;
}

void goro_stats_get(goro_stats *out)
{
    if (out == NULL)
        return;
    pstats sum = sumstats();
    out->gs_created = sum.gs_created;
    out->gs_live = sum.gs_created - sum.gs_exited;
    out->procs = (uint64_t)gomaxprocs;
    out->threads = (uint64_t)sched.mnext;
    out->stack_bytes_inuse = sum.stack_bytes_inuse > 0
                                 ? (uint64_t)sum.stack_bytes_inuse : 0;
    out->stack_grows = sum.stack_grows;
    out->stack_shrinks = sum.stack_shrinks;
    out->stack_copied_bytes = sum.stack_copied_bytes;
    out->preempt_sync = sum.preempt_sync;
    out->preempt_async = sum.preempt_async;
    out->ctx_switches = sum.ctx_switches;
}

static void countg(g *gp, void *arg)
{
    goro_metrics *m = arg;
    uint32_t st = readgstatus(gp) & ~(uint32_t)Gscan;
    uintptr_t size = gp->stack.hi - gp->stack.lo;
    switch (st) {
    case Grunnable: m->gs_runnable++; break;
    case Grunning:
    case Gcopystack: m->gs_running++; break;
    case Gsyscall: m->gs_syscall++; break;
    case Gwaiting:
        m->gs_waiting++;
        if (waitReasonIO(gp->waitreason))
            m->gs_io_wait++;
        break;
    case Gdead: m->gs_dead++; break;
    default: break;
    }
    if (size == 0 || gp->fixedstack)
        return;
    int order = stackorder(size);
    if (order >= 0 && order < 8)
        m->stack_bytes_by_order[order] += size;
    else
        m->stack_bytes_large += size;
}

void goro_metrics_get(goro_metrics *out)
{
    if (out == NULL || out->size < sizeof(uint64_t))
        return;
    size_t size = out->size < sizeof(goro_metrics) ? out->size
                                                   : sizeof(goro_metrics);
    goro_metrics m;
    memset(&m, 0, sizeof m);
    m.size = size;
    pstats sum = sumstats();
    m.gs_created = sum.gs_created;
    m.gs_exited = sum.gs_exited;
    m.ps = (uint64_t)gomaxprocs;
    m.ps_idle = (uint64_t)atomic_load(&sched.npidle);
    m.runq_global = (uint64_t)sched.runqsize;
    for (int32_t i = 0; allp != NULL && i < gomaxprocs; i++)
        m.runq_local += runqlen(allp[i]);
    if (allp != NULL) {
        lock(&sched.lock);
        m.ms = (uint64_t)sched.mnext;
        m.ms_idle = (uint64_t)sched.nmidle;
        unlock(&sched.lock);
        forallg(countg, &m);
    }
    m.stack_bytes_inuse = sum.stack_bytes_inuse > 0
                              ? (uint64_t)sum.stack_bytes_inuse : 0;
    m.stack_bytes_fixed = atomic_load(&stackfixedbytes);
    m.stack_grows = sum.stack_grows;
    m.stack_shrinks = sum.stack_shrinks;
    m.stack_copied_bytes = sum.stack_copied_bytes;
    m.preempt_sync = sum.preempt_sync;
    m.preempt_async = sum.preempt_async;
    m.ctx_switches = sum.ctx_switches;
    m.schedlat_count = sum.schedlat_count;
    m.schedlat_sum_ns = sum.schedlat_sum_ns;
    memcpy(m.schedlat_bucket, sum.schedlat_bucket, sizeof m.schedlat_bucket);
    memcpy(out, &m, size);
}

/* ---- goro_gs_snapshot ------------------------------------------------------ */

static const char *const statusnames[] = {
    [Grunnable] = "runnable", [Grunning] = "running",
    [Gsyscall] = "syscall",   [Gwaiting] = "waiting",
    [Gcopystack] = "running",
};

static void copystr(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src != NULL && src[i] != '\0' && i + 1 < n; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

struct snap {
    goro_ginfo *out;
    size_t max, n;
    int64_t live, now;
};

static void snapg(g *gp, void *arg)
{
    struct snap *s = arg;
    uint32_t st = readgstatus(gp) & ~(uint32_t)Gscan;
    if (st == Gdead || st == Gidle || st >= sizeof statusnames /
                                              sizeof statusnames[0])
        return;
    s->live++;
    if (s->n >= s->max)
        return;
    goro_ginfo *gi = &s->out[s->n++];
    gi->id = gp->goid;
    copystr(gi->status, sizeof gi->status, statusnames[st]);
    uint8_t wr = gp->waitreason;
    copystr(gi->waitreason, sizeof gi->waitreason,
            st == Gwaiting && wr < waitReasonCount ? waitReasonStrings[wr]
                                                   : "");
    goro_group *grp = gp->group;
    copystr(gi->group, sizeof gi->group, grp ? grp->name : "");
    gi->stack_size = gp->stack.hi - gp->stack.lo;
    gi->age_ns = s->now - gp->createdat;
    if (gi->age_ns < 0)
        gi->age_ns = 0;
}

static int byid(const void *a, const void *b)
{
    int64_t x = ((const goro_ginfo *)a)->id, y = ((const goro_ginfo *)b)->id;
    return (x > y) - (x < y);
}

int64_t goro_gs_snapshot(goro_ginfo *out, size_t max)
{
    struct snap s = {out, out ? max : 0, 0, 0, nanotime_coarse()};
    if (allp != NULL)
        forallg(snapg, &s);
    if (s.n > 1)
        qsort(out, s.n, sizeof *out, byid);
    return s.live;
}
