/*
 * exposition.c - the Prometheus text exposition (format 0.0.4) of the
 * runtime's figures and the daemon's.
 *
 * metrics_text writes it from figures already gathered (metrics.c's
 * metrics_render reads them from the runtime and gd): it touches nothing
 * else, so the AddressSanitizer build renders it from filled structs on an
 * ordinary thread stack.
 *
 * Every family has a `# HELP` and a `# TYPE` line, even when it has no
 * sample (a daemon with no plugins still documents gorod_plugin_up),
 * counters end in `_total`, byte quantities in `_bytes`, the runtime's
 * figures are named goro_* and the daemon's gorod_*; no name has a unit
 * abbreviation in it (threads, not "ms", which reads as milliseconds:
 * promtool check metrics is run on the whole text by the daemon's tests).
 * The process's own figures are the process_* family every Prometheus
 * client library exports, under the same names and units (seconds,
 * bytes), gathered by metrics.c from /proc. The runtime's
 * scheduling-latency buckets are per interval (bucket i holds the samples
 * <= 1us<<i and above the bucket before); Prometheus's are cumulative, and
 * _count is derived from the buckets printed so that it equals the +Inf
 * bucket even when a sample landed between the runtime's counter reads.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "gorod.h"

/* sb_label appends s as a label value: backslash, double quote and newline
 * escaped as the exposition format requires. */
static void sb_label(strbuf *b, const char *s)
{
    if (!sb_reserve(b, 0))
        return;
    for (; *s; s++) {
        if (!sb_reserve(b, 2))
            return;
        if (*s == '\\' || *s == '"') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = *s;
        } else if (*s == '\n') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'n';
        } else {
            b->p[b->len++] = *s;
        }
    }
    b->p[b->len] = '\0';
}

static void family(strbuf *b, const char *name, const char *type,
                   const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family with one unlabelled sample. */
static void single(strbuf *b, const char *name, const char *type,
                   const char *help, uint64_t v)
{
    family(b, name, type, help);
    sb_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void render_runtime(strbuf *b, const goro_metrics *m,
                           uint64_t min_size, unsigned orders)
{
    const unsigned norders = sizeof m->stack_bytes_by_order /
                             sizeof m->stack_bytes_by_order[0];
    if (orders > norders)
        orders = norders;
    family(b, "goro_gs", "gauge", "Live Gs by status.");
    sb_printf(b, "goro_gs{status=\"runnable\"} %" PRIu64 "\n", m->gs_runnable);
    sb_printf(b, "goro_gs{status=\"running\"} %" PRIu64 "\n", m->gs_running);
    sb_printf(b, "goro_gs{status=\"syscall\"} %" PRIu64 "\n", m->gs_syscall);
    sb_printf(b, "goro_gs{status=\"waiting\"} %" PRIu64 "\n", m->gs_waiting);
    single(b, "goro_gs_io_wait", "gauge",
           "Waiting Gs parked on the netpoller.", m->gs_io_wait);
    single(b, "goro_gs_dead", "gauge",
           "Dead Gs kept for reuse.", m->gs_dead);
    single(b, "goro_gs_created_total", "counter",
           "Gs spawned.", m->gs_created);
    single(b, "goro_gs_exited_total", "counter",
           "Gs that returned.", m->gs_exited);

    single(b, "goro_threads", "gauge",
           "OS threads the scheduler runs Gs on (Ms).", m->ms);
    single(b, "goro_threads_idle", "gauge",
           "Threads (Ms) parked with no work.", m->ms_idle);
    single(b, "goro_procs", "gauge",
           "Processors (Ps): Gs that may run at once.", m->ps);
    single(b, "goro_procs_idle", "gauge", "Ps on the idle list.",
           m->ps_idle);

    family(b, "goro_runq_length", "gauge",
           "Runnable Gs queued: the global run queue and the sum of the Ps' "
           "local ones.");
    sb_printf(b, "goro_runq_length{queue=\"global\"} %" PRIu64 "\n",
              m->runq_global);
    sb_printf(b, "goro_runq_length{queue=\"local\"} %" PRIu64 "\n",
              m->runq_local);

    single(b, "goro_stack_inuse_bytes", "gauge",
           "Stack bytes held by Gs.", m->stack_bytes_inuse);
    family(b, "goro_stack_inuse_by_size_bytes", "gauge",
           "Stack bytes held by Gs in stacks of each pooled size.");
    for (unsigned i = 0; i < orders; i++)
        sb_printf(b, "goro_stack_inuse_by_size_bytes{size=\"%" PRIu64 "\"} %"
                  PRIu64 "\n", min_size << i, m->stack_bytes_by_order[i]);
    single(b, "goro_stack_large_bytes", "gauge",
           "Stack bytes held by Gs in stacks larger than the pooled sizes.",
           m->stack_bytes_large);
    single(b, "goro_stack_fixed_bytes", "gauge",
           "Stack bytes held by Gs of fixed-stack groups.",
           m->stack_bytes_fixed);
    single(b, "goro_stack_grows_total", "counter",
           "Stacks grown by copying.", m->stack_grows);
    single(b, "goro_stack_shrinks_total", "counter",
           "Stacks shrunk by the stack scan.", m->stack_shrinks);
    single(b, "goro_stack_copied_bytes_total", "counter",
           "Bytes copied by stack growth and shrinking.",
           m->stack_copied_bytes);

    family(b, "goro_preemptions_total", "counter",
           "Gs preempted at a function call (sync) or by signal (async).");
    sb_printf(b, "goro_preemptions_total{kind=\"sync\"} %" PRIu64 "\n",
              m->preempt_sync);
    sb_printf(b, "goro_preemptions_total{kind=\"async\"} %" PRIu64 "\n",
              m->preempt_async);
    single(b, "goro_context_switches_total", "counter",
           "Switches from one G to another.", m->ctx_switches);

    /* The runtime's buckets are per interval; Prometheus's are cumulative.
     * _count is the sum we print, so that it equals the +Inf bucket even
     * when a sample lands between our reads of the counters. */
    family(b, "goro_sched_latency_seconds", "histogram",
           "Time from runnable to running, sampled one G in 8.");
    uint64_t cum = 0;
    for (int i = 0; i < GORO_SCHEDLAT_BUCKETS; i++) {
        cum += m->schedlat_bucket[i];
        if (i < GORO_SCHEDLAT_BUCKETS - 1)
            sb_printf(b, "goro_sched_latency_seconds_bucket{le=\"%.6f\"} %"
                      PRIu64 "\n", (double)(1ULL << i) * 1e-6, cum);
        else
            sb_printf(b, "goro_sched_latency_seconds_bucket{le=\"+Inf\"} %"
                      PRIu64 "\n", cum);
    }
    sb_printf(b, "goro_sched_latency_seconds_sum %.9f\n",
              (double)m->schedlat_sum_ns / 1e9);
    sb_printf(b, "goro_sched_latency_seconds_count %" PRIu64 "\n", cum);
}

/* render_process: the standard process_* family, where it was read. */
static void render_process(strbuf *b, const metrics_figs *f)
{
    const metrics_process *p = &f->process;
    if (p->have_stat) {
        family(b, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.");
        sb_printf(b, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
        single(b, "process_virtual_memory_bytes", "gauge",
               "Virtual memory size in bytes.", p->virtual_bytes);
        single(b, "process_resident_memory_bytes", "gauge",
               "Resident memory size in bytes.", p->resident_bytes);
        family(b, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.");
        sb_printf(b, "process_start_time_seconds %.2f\n",
                  p->start_time_seconds);
    }
    if (p->open_fds >= 0)
        single(b, "process_open_fds", "gauge", "Number of open file "
               "descriptors.", (uint64_t)p->open_fds);
    if (p->max_fds >= 0)
        single(b, "process_max_fds", "gauge", "Maximum number of open file "
               "descriptors.", (uint64_t)p->max_fds);
}

static void render_daemon(strbuf *b, const metrics_figs *f)
{
    family(b, "gorod_info", "gauge", "The daemon's version, as a label.");
    sb_printf(b, "gorod_info{version=\"%s\"} 1\n", GOROD_VERSION);
    family(b, "gorod_uptime_seconds", "gauge", "Time since gorod started.");
    sb_printf(b, "gorod_uptime_seconds %.3f\n",
              f->uptime_ns > 0 ? (double)f->uptime_ns / 1e9 : 0.0);

    family(b, "gorod_plugin_requests_total", "counter",
           "Requests served by each loaded plugin.");
    for (unsigned i = 0; i < f->nplugins; i++) {
        sb_printf(b, "gorod_plugin_requests_total{plugin=\"");
        sb_label(b, f->plugins[i].name);
        sb_printf(b, "\"} %" PRIu64 "\n", f->plugins[i].served);
    }
    family(b, "gorod_plugin_gs", "gauge", "Live Gs of each loaded plugin.");
    for (unsigned i = 0; i < f->nplugins; i++) {
        sb_printf(b, "gorod_plugin_gs{plugin=\"");
        sb_label(b, f->plugins[i].name);
        sb_printf(b, "\"} %" PRId64 "\n", f->plugins[i].live);
    }
    family(b, "gorod_plugin_fds", "gauge",
           "File descriptors each loaded plugin's Gs opened through goro "
           "and hold.");
    for (unsigned i = 0; i < f->nplugins; i++) {
        sb_printf(b, "gorod_plugin_fds{plugin=\"");
        sb_label(b, f->plugins[i].name);
        sb_printf(b, "\"} %" PRId64 "\n", f->plugins[i].fds);
    }
    family(b, "gorod_plugin_up", "gauge",
           "Whether each loaded plugin is running (1) or not (0).");
    for (unsigned i = 0; i < f->nplugins; i++) {
        sb_printf(b, "gorod_plugin_up{plugin=\"");
        sb_label(b, f->plugins[i].name);
        sb_printf(b, "\"} %d\n", f->plugins[i].up ? 1 : 0);
    }
    single(b, "gorod_requests_total", "counter",
           "Requests served by every plugin, ever.", f->served);
    single(b, "gorod_reloads_total", "counter",
           "Configuration reloads applied (in full, or with plugins "
           "refused).", f->reloads);
    single(b, "gorod_reload_failures_total", "counter",
           "Configuration reloads not applied in full (the file refused, "
           "or plugins refused).",
           f->reload_failures);
    single(b, "gorod_admin_requests_total", "counter",
           "Commands answered on the admin socket.", f->admin_requests);
    single(b, "gorod_metrics_requests_total", "counter",
           "Scrapes answered by the metrics listener.", f->metrics_requests);
}

char *metrics_text(const goro_metrics *m, const metrics_figs *f, size_t *len)
{
    strbuf b = {0};
    render_runtime(&b, m, f->stack_min_size, f->stack_orders);
    render_daemon(&b, f);
    render_process(&b, f);
    if (b.oom || b.p == NULL) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
