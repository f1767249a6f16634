/*
 * admin.c - the admin socket: one-line commands over a unix stream socket.
 *
 * The protocol is the simplest that a shell can speak (`echo status | socat
 * - UNIX:/run/gorod/gorod.sock` works as well as goroctl): the client writes
 * one command line ending in a newline (or ends its side of the connection),
 * at most ADMIN_LINE_MAX bytes; the server writes the reply and closes. The
 * reply's first line is `ok` or `error: MESSAGE`, the rest is the body. One
 * request per connection keeps the server free of framing: the end of the
 * reply is the end of the stream.
 *
 * Who may ask: the socket file's mode (admin.mode, 0660 by default) is the
 * first gate, SO_PEERCRED the second: a peer whose uid is neither gorod's
 * effective uid nor root gets `error: permission denied (uid N)`, so a mode
 * opened wider by mistake still lets no other user reload the daemon. The
 * check happens at accept, before the peer has a connection slot: a refused
 * peer never holds one, however many connections it opens and keeps.
 *
 * Start-up never steals a live socket: if the path exists we connect to it
 * first; a listener answering (or a full backlog, EAGAIN) means another gorod
 * is serving there and we refuse to start the socket; only a refused
 * connection (a stale file left by a crash) lets us unlink it. A path that is
 * not a socket is never removed. A socket other than the system's
 * (/run/gorod/gorod.sock) has its path recorded for the user once it
 * listens, and the record goes with it (sockrecord.c): goroctl with no
 * --socket reads it.
 *
 * Concurrency: one G accepts (goro_accept parks it on the netpoller, and
 * admin_stop's goro_close wakes it with -ECANCELED), one G per connection
 * reads its line with a deadline of ADMIN_READ_NS from the connect, so an
 * idle or slow client holds only its own G, for a bounded time, and at most
 * ADMIN_MAX_CONNS of those; the last ADMIN_ROOT_CONNS of them are root's
 * (when gorod runs as another user, its own uid's processes cannot keep
 * root out). A connection refused (another uid, or no slot left) gets its
 * one-line refusal from a G of its own that then reads and drops what the
 * client sent, for at most ADMIN_REFUSE_NS: closing with the client's line
 * unread would reset the connection and lose the refusal. At most
 * ADMIN_MAX_REFUSING of those; past them a connection is closed at once.
 * An admitted connection ends the same way (lingerclose): its reply may
 * leave unread what the client sent after its line (garbage, a flood, a
 * slow client's rest), and a close with input unread resets the
 * connection, which drops the reply before the client reads it. admin_parse
 * (admincmd.c) reads the line; admin_command runs it, reading the runtime's figures and gd, the
 * latter under gd.lock where gorod.h says it is guarded. Replies are built
 * on the heap; nothing on a G's stack is handed to another G.
 *
 * Rejected: a request/response protocol with length prefixes (no tool
 * speaks it), and keeping connections open for several commands (the
 * one-shot form needs no idle bookkeeping and a client costs one connect).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gorod.h"

#define ADMIN_READ_NS    (3LL * 1000000000)     /* to send the command */
#define ADMIN_WRITE_NS   (10LL * 1000000000)    /* to take the reply */
#define ADMIN_REFUSE_NS  (1LL * 1000000000)     /* to take a refusal or
                                                   the end of a reply */
#define ADMIN_MAX_CONNS  64
#define ADMIN_ROOT_CONNS 4                      /* of those, root's */
#define ADMIN_MAX_REFUSING 256

/* The listener. admin_lfd: the listening fd, -1 when none; admin_path: the
 * socket file it is bound to (malloc'd), both set by admin_start and
 * cleared by admin_stop, which run on the daemon's control G. */
static _Atomic int  admin_lfd = -1;
static _Atomic bool admin_stopping;
static _Atomic int  admin_conns;
static _Atomic int  admin_refusing;
static char        *admin_path;

/* fmt_dur writes ns as a short human duration: 950ms, 12.3s, 5m03s, 2h07m,
 * 3d04h. */
static void fmt_dur(char *out, size_t len, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    int64_t ms = ns / 1000000, s = ns / 1000000000;
    if (ms < 1000)
        snprintf(out, len, "%" PRId64 "ms", ms);
    else if (s < 60)
        snprintf(out, len, "%" PRId64 ".%" PRId64 "s", s, (ms % 1000) / 100);
    else if (s < 3600)
        snprintf(out, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, len, "%" PRId64 "h%02" PRId64 "m", s / 3600,
                 s / 60 % 60);
    else
        snprintf(out, len, "%" PRId64 "d%02" PRId64 "h", s / 86400,
                 s / 3600 % 24);
}

/* A fixed-size char array of the runtime's, not necessarily terminated. */
#define FIELD(a) (int)strnlen((a), sizeof(a)), (a)

static const char *state_name(int st)
{
    switch (st) {
    case PLUGIN_RUNNING:  return "running";
    case PLUGIN_STOPPING: return "stopping";
    case PLUGIN_EXITED:   return "exited";
    case PLUGIN_FAILED:   return "failed";
    }
    return "?";
}

/* ---- the daemon's figures, copied under gd.lock --------------------------- */

typedef struct daemon_figs {
    unsigned plugins, running, failed, refused, stopping;
    unsigned listeners_failed;      /* by the last reload */
    unsigned starts_failed;         /* by the last reload */
    enum reload_outcome last_reload;
    uint64_t reloads, reload_failures;
    uint64_t min_size;
    unsigned orders;
    int64_t  start_ns;
    char     reload_error[sizeof gd.reload_error];
    char     file[256];
    char     listeners[512];        /* "echo 127.0.0.1:7007 (systemd), ..." */
} daemon_figs;

static void daemon_figs_get(daemon_figs *f)
{
    memset(f, 0, sizeof *f);
    f->min_size = 2048;
    f->orders = 8;
    if (gd.lock)
        goro_mutex_lock(gd.lock);
    for (gorod_plugin *p = gd.plugins; p; p = p->next) {
        int st = atomic_load_explicit(&p->state, memory_order_relaxed);
        f->plugins++;
        f->running += plugin_serving(p);
        f->failed += st == PLUGIN_FAILED;
    }
    for (gorod_refusal *r = gd.refused; r; r = r->next)
        f->refused++;
    for (gorod_plugin *p = gd.leaving; p; p = p->next)
        f->stopping++;
    f->last_reload = gd.last_reload;
    f->listeners_failed = gd.listeners_failed;
    f->starts_failed = gd.starts_failed;
    size_t used = 0;
    for (gorod_listener *l = gd.listeners; l; l = l->next) {
        int n = snprintf(f->listeners + used, sizeof f->listeners - used,
                         "%s%s %s%s%s", used ? ", " : "", l->conf.name,
                         l->bound, l->inherited ? " (systemd)" : "",
                         l->removed ? " (removed, still taken)" : "");
        if (n < 0 || (size_t)n >= sizeof f->listeners - used)
            break;
        used += (size_t)n;
    }
    f->start_ns = gd.start_ns;
    f->reloads = gd.reloads;
    f->reload_failures = gd.reload_failures;
    memcpy(f->reload_error, gd.reload_error, sizeof f->reload_error);
    f->reload_error[sizeof f->reload_error - 1] = '\0';
    if (gd.conf) {
        const goro_config *rt = &gd.conf->runtime;
        if (rt->stack_min)
            f->min_size = rt->stack_min;
        if (rt->stack_orders > 0 && (unsigned)rt->stack_orders < f->orders)
            f->orders = (unsigned)rt->stack_orders;
        if (gd.conf->file)
            snprintf(f->file, sizeof f->file, "%s", gd.conf->file);
    }
    if (gd.lock)
        goro_mutex_unlock(gd.lock);
}

static goro_metrics *metrics_get(void)
{
    goro_metrics *m = calloc(1, sizeof *m);
    if (m) {
        m->size = sizeof *m;
        goro_metrics_get(m);
    }
    return m;
}

static int64_t uptime_ns(const daemon_figs *f)
{
    return f->start_ns > 0 ? gorod_now() - f->start_ns : 0;
}

/* ---- the commands ----------------------------------------------------------- */

/* what_refused: what a partly applied reload left out. */
static void what_refused(strbuf *b, const daemon_figs *f)
{
    if (f->refused || !f->starts_failed)
        sb_printf(b, "%u plugin(s) refused", f->refused);
    if (f->starts_failed)
        sb_printf(b, "%s%u plugin(s) failed to start", f->refused ? ", " : "",
                  f->starts_failed);
    if (f->listeners_failed)
        sb_printf(b, ", %u listener(s) not opened", f->listeners_failed);
}

static int cmd_status(strbuf *b)
{
    goro_metrics *m = metrics_get();
    daemon_figs *f = malloc(sizeof *f);
    if (m == NULL || f == NULL) {
        free(m);
        free(f);
        return -ENOMEM;
    }
    daemon_figs_get(f);
    char up[32];
    fmt_dur(up, sizeof up, uptime_ns(f));
    uint64_t live = m->gs_runnable + m->gs_running + m->gs_syscall +
                    m->gs_waiting;

    sb_printf(b, "ok\n");
    sb_printf(b, "version:       %s\n", GOROD_VERSION);
    sb_printf(b, "pid:           %d\n", (int)getpid());
    sb_printf(b, "uptime:        %s\n", up);
    if (f->file[0])
        sb_printf(b, "config:        %s\n", f->file);
    sb_printf(b, "gs:            %" PRIu64 " (runnable %" PRIu64 ", running %"
              PRIu64 ", syscall %" PRIu64 ", waiting %" PRIu64 ")\n", live,
              m->gs_runnable, m->gs_running, m->gs_syscall, m->gs_waiting);
    sb_printf(b, "ps:            %" PRIu64 " (idle %" PRIu64 ")\n", m->ps,
              m->ps_idle);
    sb_printf(b, "ms:            %" PRIu64 " (idle %" PRIu64 ")\n", m->ms,
              m->ms_idle);
    sb_printf(b, "stack_bytes:   %" PRIu64 "\n", m->stack_bytes_inuse);
    sb_printf(b, "grows:         %" PRIu64 "\n", m->stack_grows);
    sb_printf(b, "shrinks:       %" PRIu64 "\n", m->stack_shrinks);
    sb_printf(b, "preemptions:   %" PRIu64 " (sync %" PRIu64 ", async %"
              PRIu64 ")\n", m->preempt_sync + m->preempt_async,
              m->preempt_sync, m->preempt_async);
    sb_printf(b, "served:        %" PRIu64 "\n", gorod_served_total());
    sb_printf(b, "plugins:       %u running, %u failed, %u refused, %u "
              "loaded", f->running, f->failed, f->refused, f->plugins);
    if (f->stopping)
        sb_printf(b, ", %u removed and still stopping", f->stopping);
    sb_printf(b, "\n");
    if (f->listeners[0])
        sb_printf(b, "listeners:     %s\n", f->listeners);
    if (f->last_reload == RELOAD_FAILED || f->last_reload == RELOAD_PARTIAL) {
        /* The messages, one per line, indented under the key. */
        if (f->last_reload == RELOAD_FAILED) {
            sb_printf(b, "last_reload:   failed, the old configuration "
                      "stays\n");
        } else {
            sb_printf(b, "last_reload:   applied, ");
            what_refused(b, f);
            sb_printf(b, " (the rest of the new configuration is in "
                      "effect)\n");
        }
        for (char *l = f->reload_error; *l; ) {
            size_t n = strcspn(l, "\n");
            sb_printf(b, "  %.*s\n", (int)n, l);
            l += n;
            if (*l == '\n')
                l++;
        }
    } else if (f->last_reload == RELOAD_OK) {
        sb_printf(b, "last_reload:   ok\n");
    } else {
        sb_printf(b, "last_reload:   none\n");
    }
    sb_printf(b, "reloads:       %" PRIu64 " (failed %" PRIu64 ")\n",
              f->reloads, f->reload_failures);
    free(m);
    free(f);
    return 0;
}

/* The figures of `stats`, in order, for both of its forms. */
typedef struct stat_kv {
    char     key[40];
    uint64_t v;
} stat_kv;

static int cmd_stats(strbuf *b, bool json)
{
    goro_metrics *m = metrics_get();
    daemon_figs *f = malloc(sizeof *f);
    stat_kv *kv = malloc(64 * sizeof *kv);
    if (m == NULL || f == NULL || kv == NULL) {
        free(m);
        free(f);
        free(kv);
        return -ENOMEM;
    }
    daemon_figs_get(f);
    int n = 0;
#define KV(k, val) do { snprintf(kv[n].key, sizeof kv[n].key, "%s", (k)); \
                        kv[n++].v = (uint64_t)(val); } while (0)
    KV("gs_live", m->gs_runnable + m->gs_running + m->gs_syscall +
                  m->gs_waiting);
    KV("gs_runnable", m->gs_runnable);
    KV("gs_running", m->gs_running);
    KV("gs_syscall", m->gs_syscall);
    KV("gs_waiting", m->gs_waiting);
    KV("gs_io_wait", m->gs_io_wait);
    KV("gs_dead", m->gs_dead);
    KV("gs_created", m->gs_created);
    KV("gs_exited", m->gs_exited);
    KV("ms", m->ms);
    KV("ms_idle", m->ms_idle);
    KV("ps", m->ps);
    KV("ps_idle", m->ps_idle);
    KV("runq_global", m->runq_global);
    KV("runq_local", m->runq_local);
    KV("stack_bytes_inuse", m->stack_bytes_inuse);
    for (unsigned i = 0; i < f->orders; i++) {
        snprintf(kv[n].key, sizeof kv[n].key, "stack_bytes_%" PRIu64,
                 f->min_size << i);
        kv[n++].v = m->stack_bytes_by_order[i];
    }
    KV("stack_bytes_large", m->stack_bytes_large);
    KV("stack_bytes_fixed", m->stack_bytes_fixed);
    KV("stack_grows", m->stack_grows);
    KV("stack_shrinks", m->stack_shrinks);
    KV("stack_copied_bytes", m->stack_copied_bytes);
    KV("preempt_sync", m->preempt_sync);
    KV("preempt_async", m->preempt_async);
    KV("ctx_switches", m->ctx_switches);
    KV("schedlat_count", m->schedlat_count);
    KV("schedlat_sum_ns", m->schedlat_sum_ns);
    KV("uptime_ns", uptime_ns(f));
    KV("pid", getpid());
    KV("served", gorod_served_total());
    KV("plugins", f->plugins);
    KV("plugins_running", f->running);
    KV("plugins_failed", f->failed);
    KV("reloads", f->reloads);
    KV("reload_failures", f->reload_failures);
    KV("admin_requests", atomic_load(&gd.admin_requests));
    KV("metrics_requests", atomic_load(&gd.metrics_requests));
#undef KV

    sb_printf(b, "ok\n");
    if (json) {
        sb_printf(b, "{");
        for (int i = 0; i < n; i++)
            sb_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", kv[i].key,
                      kv[i].v);
        sb_printf(b, "}\n");
    } else {
        for (int i = 0; i < n; i++)
            sb_printf(b, "%s %" PRIu64 "\n", kv[i].key, kv[i].v);
    }
    free(m);
    free(f);
    free(kv);
    return 0;
}

/* sb_json_str appends the n bytes at s as a JSON string, quoted. */
static void sb_json_str(strbuf *b, const char *s, size_t n)
{
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_printf(b, "\\u%04x", c);
        else
            sb_add(b, (const char *)&c, 1);
    }
    sb_add(b, "\"", 1);
}

/* cmd_ps: every live G, as a table or (json) as one JSON array of
 * objects on one line, the table's columns under these keys: id,
 * status, wait_reason and group (null when none), stack_bytes, age_ns. */
static int cmd_ps(strbuf *b, bool json)
{
    goro_ginfo *gi = NULL;
    size_t max = 256;
    int64_t n = 0;
    /* The snapshot says how many Gs live; when more than we asked for,
     * grow and take it again (a few times: Gs may be spawned meanwhile). */
    for (int tries = 0; tries < 6; tries++) {
        goro_ginfo *ng = realloc(gi, max * sizeof *gi);
        if (ng == NULL) {
            free(gi);
            return -ENOMEM;
        }
        gi = ng;
        n = goro_gs_snapshot(gi, max);
        if (n < 0 || (size_t)n <= max)
            break;
        max = (size_t)n + (size_t)n / 4 + 64;
    }
    if (n < 0)
        n = 0;
    if ((size_t)n > max)
        n = (int64_t)max;

    sb_printf(b, "ok\n");
    if (json) {
        sb_printf(b, "[");
        for (int64_t i = 0; i < n; i++) {
            const goro_ginfo *g = &gi[i];
            sb_printf(b, "%s{\"id\":%" PRId64 ",\"status\":", i ? "," : "",
                      g->id);
            sb_json_str(b, g->status, sizeof g->status);
            sb_printf(b, ",\"wait_reason\":");
            if (g->waitreason[0] != '\0')
                sb_json_str(b, g->waitreason, sizeof g->waitreason);
            else
                sb_printf(b, "null");
            sb_printf(b, ",\"group\":");
            if (g->group[0] != '\0')
                sb_json_str(b, g->group, sizeof g->group);
            else
                sb_printf(b, "null");
            sb_printf(b, ",\"stack_bytes\":%" PRIu64 ",\"age_ns\":%" PRId64
                      "}", g->stack_size, g->age_ns);
        }
        sb_printf(b, "]\n");
        free(gi);
        return 0;
    }
    sb_printf(b, "%8s %-9s %-20s %9s %-20s %s\n", "ID", "STATUS", "WAIT",
              "STACK", "PLUGIN", "AGE");
    for (int64_t i = 0; i < n; i++) {
        const goro_ginfo *g = &gi[i];
        char age[32];
        fmt_dur(age, sizeof age, g->age_ns);
        bool wait = g->waitreason[0] != '\0';
        bool grp = g->group[0] != '\0';
        sb_printf(b, "%8" PRId64 " %-9.*s %-20.*s %9" PRIu64 " %-20.*s %s\n",
                  g->id, FIELD(g->status),
                  wait ? (int)strnlen(g->waitreason, sizeof g->waitreason) : 1,
                  wait ? g->waitreason : "-", g->stack_size,
                  grp ? (int)strnlen(g->group, sizeof g->group) : 1,
                  grp ? g->group : "-", age);
    }
    free(gi);
    return 0;
}

/* cmd_stacks: goro_stacks_dump_group into a memory file, read back into
 * the reply. The runtime holds each parked G only while it walks it. */
static int cmd_stacks(strbuf *b, const char *group)
{
    int fd = memfd_create("gorod-stacks", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int n = goro_stacks_dump_group(fd, group[0] ? group : NULL);
    off_t size = lseek(fd, 0, SEEK_END);
    if (n < 0 || size < 0) {
        close(fd);
        return n < 0 ? n : -EIO;
    }
    if (n == 0 && group[0]) {
        close(fd);
        sb_printf(b, "error: no G in group \"%s\"\n", group);
        return -1;
    }
    sb_printf(b, "ok\n");
    char *p = mmap(NULL, size > 0 ? (size_t)size : 1, PROT_READ, MAP_PRIVATE,
                   fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -ENOMEM;
    sb_add(b, p, (size_t)size);
    munmap(p, size > 0 ? (size_t)size : 1);
    return 0;
}

static int cmd_plugins(strbuf *b)
{
    sb_printf(b, "ok\n");
    sb_printf(b, "%-16s %-10s %-10s %6s %-12s %10s %8s %8s %8s %s\n", "NAME",
              "STATE", "VERSION", "STARTS", "STACK", "SERVED", "GS", "FDS",
              "UP", "PATH");
    int64_t now = gorod_now();
    if (gd.lock)
        goro_mutex_lock(gd.lock);
    /* The plugins in effect, then those a reload removed that are still
     * stopping, then the refused ones (with the reasons below). */
    for (int pass = 0; pass < 2; pass++)
    for (gorod_plugin *p = pass ? gd.leaving : gd.plugins; p; p = p->next) {
        int st = atomic_load_explicit(&p->state, memory_order_relaxed);
        char state[32], stack[48], up[32], sz[32];
        bool serving = plugin_serving(p);
        if (serving && st == PLUGIN_EXITED)
            st = PLUGIN_RUNNING;  /* start() returned 0, its Gs serve */
        if (st == PLUGIN_EXITED || st == PLUGIN_FAILED)
            snprintf(state, sizeof state, "%s(%d)", state_name(st),
                     p->status);
        else
            snprintf(state, sizeof state, "%s", state_name(st));
        if (p->conf.fixed) {
            goro_format_size(p->conf.fixed_stack_size, sz, sizeof sz);
            snprintf(stack, sizeof stack, "fixed:%s", sz);
        } else {
            snprintf(stack, sizeof stack, "copy");
        }
        if (p->started_ns > 0 && (serving || st == PLUGIN_STOPPING))
            fmt_dur(up, sizeof up, now - p->started_ns);
        else
            snprintf(up, sizeof up, "-");
        /* The plugin's own word for its version (goro_plugin_entry), as
         * one blank-free column. */
        char ver[64];
        snprintf(ver, sizeof ver, "%s",
                 p->entry && p->entry->version && p->entry->version[0]
                     ? p->entry->version : "-");
        for (char *v = ver; *v; v++)
            if ((unsigned char)*v <= ' ' || *v == 0x7f)
                *v = '_';
        sb_printf(b, "%-16s %-10s %-10s %6u %-12s %10" PRIu64 " %8" PRId64
                  " %8" PRId64 " %8s %s\n",
                  p->conf.name ? p->conf.name : "?", state, ver, p->starts,
                  stack,
                  atomic_load_explicit(&p->served, memory_order_relaxed),
                  p->group ? goro_group_live(p->group) : (int64_t)0,
                  p->group ? goro_group_fds(p->group) : (int64_t)0, up,
                  p->conf.path ? p->conf.path : "");
    }
    for (gorod_refusal *r = gd.refused; r; r = r->next)
        sb_printf(b, "%-16s %-10s %-10s %6s %-12s %10d %8d %8d %8s %s\n",
                  r->name, "refused", "-", "-", "-", 0, 0, 0, "-", r->path);
    for (gorod_refusal *r = gd.refused; r; r = r->next)
        sb_printf(b, "%s%s\n", r == gd.refused ? "\nrefused:\n  " : "  ",
                  r->reason);
    /* What plugins said of their arguments (goro_plugin_arg_refuse). */
    bool head = false;
    for (gorod_plugin *p = gd.plugins; p; p = p->next)
        for (const char *l = p->failure; l && *l;) {
            size_t n = strcspn(l, "\n");
            sb_printf(b, "%s  plugin %s: %.*s\n",
                      head ? "" : "\narguments refused:\n", p->conf.name,
                      (int)n, l);
            head = true;
            l += n + (l[n] == '\n');
        }
    if (gd.lock)
        goro_mutex_unlock(gd.lock);
    return 0;
}

/* cmd_restart: gorod_restart's verdict, "ok" or "error: ...", and what it
 * said. */
static int cmd_restart(strbuf *b, const char *name)
{
    size_t len = 4096;
    char *msg = calloc(1, len);
    if (msg == NULL)
        return -ENOMEM;
    int r = gorod_restart(name, msg, len);
    sb_printf(b, "%s%s\n", r == 0 ? "ok\n" : "error: ", msg);
    free(msg);
    return r == 0 ? 0 : -1;
}

static int cmd_reload(strbuf *b)
{
    size_t len = sizeof gd.reload_error;
    char *msg = calloc(1, len);
    if (msg == NULL)
        return -ENOMEM;
    int r = gorod_reload(msg, len);
    daemon_figs *f = malloc(sizeof *f);
    if (f)
        daemon_figs_get(f);
    if (r >= 0) {
        /* Applied: in full ("ok"), or with plugins refused or failed to
         * start ("error": not what was asked for, as status and the
         * counters say too). */
        if (r == 0)
            sb_printf(b, "ok\nreloaded");
        else
            sb_printf(b, "error: reloaded");
        sb_printf(b, "%s%s", f && f->file[0] ? " " : "", f ? f->file : "");
        if (r > 0 && f) {
            sb_printf(b, ", but ");
            what_refused(b, f);
            sb_printf(b, " (the rest of the new configuration is in "
                      "effect)");
        }
        if (f)
            sb_printf(b, ": %u plugin(s) running, %u failed, %u refused",
                      f->running, f->failed, f->refused);
        sb_printf(b, "\n");
    } else {
        sb_printf(b, "error: reload failed, the old configuration stays in "
                  "effect\n");
    }
    free(f);
    if (msg[0]) {
        size_t n = strlen(msg);
        sb_add(b, msg, n);
        if (msg[n - 1] != '\n')
            sb_add(b, "\n", 1);
    }
    free(msg);
    return r == 0 ? 0 : -1;
}

static int cmd_metrics(strbuf *b)
{
    size_t len = 0;
    char *text = metrics_render(&len);
    if (text == NULL)
        return -ENOMEM;
    sb_printf(b, "ok\n");
    sb_add(b, text, len);
    free(text);
    return 0;
}

static int cmd_help(strbuf *b)
{
    sb_printf(b,
        "ok\n"
        "status        the daemon at a glance: uptime, Gs, Ps, Ms, stacks,\n"
        "              preemptions, requests served, plugins, last reload\n"
        "stats [json]  every figure, one \"key value\" per line (or one JSON "
        "object)\n"
        "ps [json]     every G: id, status, wait reason, stack size, plugin, "
        "age\n"
        "              (or one JSON array of objects)\n"
        "stacks [GROUP] the stack of every G (of one plugin), as on SIGQUIT\n"
        "trace [DURATION] the execution trace of the next DURATION (5s), as\n"
        "              JSON for Perfetto (streamed after the \"ok\" line)\n"
        "plugins       the loaded plugins: state, version, starts, stack "
        "mode, served,\n"
        "              live Gs\n"
        "restart NAME  stop one plugin and start it again\n"
        "reload        reload the configuration file (as SIGHUP)\n"
        "metrics       the Prometheus text exposition\n"
        "help          this list\n");
    return 0;
}

/* admin_command answers one command line (no newline) into *out, a
 * malloc'd NUL-terminated reply whose first line is "ok" or "error: ...";
 * returns 0, or -1 when the reply is an error. *out is NULL only when
 * memory ran out. admin_parse (admincmd.c) reads the line; the commands
 * here take gd.lock: on a G. */
int admin_command(const char *line, char **out, size_t *outlen)
{
    strbuf b = {0};
    admin_req req;
    *out = NULL;
    *outlen = 0;

    int r = admin_parse(line, &req, &b);
    if (r == 0) {
        switch (req.cmd) {
        case ADMIN_STATUS:  r = cmd_status(&b); break;
        case ADMIN_STATS:   r = cmd_stats(&b, req.json); break;
        case ADMIN_PS:      r = cmd_ps(&b, req.json); break;
        case ADMIN_PLUGINS: r = cmd_plugins(&b); break;
        case ADMIN_RELOAD:  r = cmd_reload(&b); break;
        case ADMIN_METRICS: r = cmd_metrics(&b); break;
        case ADMIN_HELP:    r = cmd_help(&b); break;
        case ADMIN_STACKS:  r = cmd_stacks(&b, req.group); break;
        case ADMIN_RESTART: r = cmd_restart(&b, req.group); break;
        case ADMIN_TRACE:
            /* Streamed by admin_conn; nothing to build here. */
            sb_printf(&b, "error: trace: only over the admin socket\n");
            r = -1;
            break;
        }
    }
    if (r < -1) {
        /* A command that could not build its reply: say why, in place of
         * whatever part of it was built. */
        b.len = 0;
        b.oom = false;
        sb_printf(&b, "error: %s\n", strerror(-r));
        r = -1;
    }
    if (b.oom || b.p == NULL) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *outlen = b.len;
    return r;
}

/* ---- the socket ------------------------------------------------------------- */

static void reply_text(int fd, const char *text)
{
    size_t n = strlen(text);
    char *p = malloc(n + 1);
    if (p == NULL)
        return;
    memcpy(p, text, n + 1);
    goro_write_deadline(fd, p, n, gorod_now() + ADMIN_WRITE_NS);
    free(p);
}

/* lingerclose ends a connection whose reply has been written: the end of
 * our side, then what the client still sends is read and dropped until it
 * closes or ADMIN_REFUSE_NS pass, then the close (see the top: a close with
 * input unread would reset the connection and lose the reply). */
static fdreserve admin_reserve;  /* fdreserve.c */

static void lingerclose(int fd)
{
    int64_t deadline = gorod_now() + ADMIN_REFUSE_NS;
    shutdown(fd, SHUT_WR);
    char *sink = malloc(4096);
    while (sink != NULL && goro_read_deadline(fd, sink, 4096, deadline) > 0)
        ;
    free(sink);
    goro_close(fd);
    fdreserve_fill(&admin_reserve);
}

/* cmd_trace streams an execution trace of the next ns to the client: "ok",
 * then the trace's JSON as the runtime's trace writer produces it (on a
 * thread of its own, waiting for the socket when it is full), until the
 * duration ends. (A client that goes away is not noticed before: it shut
 * its side down after the command, so the socket reads EOF from the
 * start; the writer stops formatting at its first failed write.) */
static void cmd_trace(int fd, int64_t ns)
{
    static const char ok[] = "ok\n";
    if (goro_write_deadline(fd, ok, sizeof ok - 1,
                            gorod_now() + ADMIN_WRITE_NS) !=
        (ssize_t)(sizeof ok - 1))
        return;
    int err = goro_trace_start(fd);
    if (err != 0) {
        gorod_log(GLOG_WARN, "admin: trace: cannot start: %s",
                  err == -EBUSY ? "another trace is running" : strerror(-err));
        return;   /* the client gets "ok" and no trace: it says so */
    }
    gorod_log(GLOG_INFO, "admin: tracing for %lld ms",
              (long long)(ns / 1000000));
    goro_sleep_ns(ns);
    err = goro_trace_stop();
    if (err != 0)
        gorod_log(GLOG_WARN, "admin: trace: the client did not take all of "
                  "it: %s", strerror(-err));
}

/* admin_conn is the G of one connection of a peer admitted at accept (arg:
 * the fd): read one line, answer it, close. */
static void admin_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = NULL, *out = NULL;
    size_t outlen = 0;

    /* Read until the newline, the end of the client's side, or one byte
     * more than a line may hold. */
    buf = malloc(ADMIN_LINE_MAX + 2);
    if (buf == NULL)
        goto done;
    size_t have = 0;
    int64_t deadline = gorod_now() + ADMIN_READ_NS;
    char *nl = NULL;
    for (;;) {
        ssize_t n = goro_read_deadline(fd, buf + have,
                                       ADMIN_LINE_MAX + 1 - have, deadline);
        if (n == -ETIMEDOUT) {
            reply_text(fd, "error: timed out waiting for a command\n");
            goto done;
        }
        if (n < 0)
            goto done;                  /* the client went away */
        if (n == 0) {
            if (have == 0)
                goto done;              /* connected and said nothing */
            break;
        }
        nl = memchr(buf + have, '\n', (size_t)n);
        have += (size_t)n;
        if (nl || have > ADMIN_LINE_MAX)
            break;
    }
    if (nl)
        have = (size_t)(nl - buf);
    if (have > ADMIN_LINE_MAX) {
        char msg[64];
        snprintf(msg, sizeof msg, "error: line too long (at most %d bytes)\n",
                 ADMIN_LINE_MAX);
        reply_text(fd, msg);
        goto done;
    }
    buf[have] = '\0';
    if (memchr(buf, '\0', have) != NULL) {
        reply_text(fd, "error: a NUL byte in the command line\n");
        goto done;
    }

    atomic_fetch_add_explicit(&gd.admin_requests, 1, memory_order_relaxed);
    admin_req req;
    strbuf perr = {0};
    int pr = admin_parse(buf, &req, &perr);
    free(perr.p);
    if (pr == 0 && req.cmd == ADMIN_TRACE) {
        cmd_trace(fd, req.duration_ns);
        goto done;
    }
    admin_command(buf, &out, &outlen);
    if (out == NULL)
        reply_text(fd, "error: out of memory\n");
    else
        goro_write_deadline(fd, out, outlen, gorod_now() + ADMIN_WRITE_NS);

done:
    free(out);
    free(buf);
    lingerclose(fd);
    atomic_fetch_sub(&admin_conns, 1);
}

/* A refusal: the connection and its one-line reply. */
typedef struct refusal {
    int  fd;
    char msg[96];
} refusal;

/* admin_refuse is the G of a refused connection (arg: a refusal): the
 * reply, the end of our side, then what the client sends is read and
 * dropped until it closes or ADMIN_REFUSE_NS pass. */
static void admin_refuse(void *arg)
{
    refusal *r = arg;
    goro_write_deadline(r->fd, r->msg, strlen(r->msg),
                        gorod_now() + ADMIN_REFUSE_NS);
    lingerclose(r->fd);
    free(r);
    atomic_fetch_sub(&admin_refusing, 1);
}

/* refuse hands fd to an admin_refuse G with the reply msg; with too many
 * of those already, or no memory, fd is closed at once. */
static void refuse(int fd, const char *msg)
{
    refusal *r = NULL;
    if (atomic_fetch_add(&admin_refusing, 1) < ADMIN_MAX_REFUSING &&
        (r = malloc(sizeof *r)) != NULL) {
        r->fd = fd;
        snprintf(r->msg, sizeof r->msg, "%s", msg);
        if (goro_go(admin_refuse, r) > 0)
            return;
    }
    free(r);
    goro_close(fd);
    atomic_fetch_sub(&admin_refusing, 1);
}

/* admit checks the peer of a new connection and takes a slot for it:
 * true, or false after handing it to refuse. */
static bool admit(int fd)
{
    struct ucred cr;
    socklen_t sl = sizeof cr;
    memset(&cr, 0, sizeof cr);
    char msg[96];
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) < 0) {
        snprintf(msg, sizeof msg, "error: cannot identify the peer: %s\n",
                 strerror(errno));
        refuse(fd, msg);
        return false;
    }
    if (cr.uid != geteuid() && cr.uid != 0) {
        snprintf(msg, sizeof msg, "error: permission denied (uid %u)\n",
                 (unsigned)cr.uid);
        gorod_log(GLOG_WARN, "admin: refused a peer of uid %u (pid %d)",
                  (unsigned)cr.uid, (int)cr.pid);
        refuse(fd, msg);
        return false;
    }
    int cap = cr.uid == 0 ? ADMIN_MAX_CONNS
                          : ADMIN_MAX_CONNS - ADMIN_ROOT_CONNS;
    if (atomic_fetch_add(&admin_conns, 1) >= cap) {
        atomic_fetch_sub(&admin_conns, 1);
        refuse(fd, "error: too many connections\n");
        return false;
    }
    return true;
}

static void admin_unadmit(void)
{
    atomic_fetch_sub(&admin_conns, 1);
}

static const ctllistener admin_listener = {
    "the admin socket", "admin", &admin_reserve, &admin_stopping,
    admit, admin_unadmit, admin_conn,
};

/* admin_accept is the listener's G (arg: the listening fd). */
static void admin_accept(void *arg)
{
    fdreserve_accept(&admin_listener, (int)(intptr_t)arg);
}

/* socket_in_use: whether a server listens on the unix socket at sa: 1 yes,
 * 0 no (nothing answers: a stale file), -errno when we cannot tell. */
static int socket_in_use(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    int err = errno;
    close(fd);
    if (r == 0 || err == EAGAIN)     /* EAGAIN: listening, backlog full */
        return 1;
    if (err == ECONNREFUSED || err == ENOENT)
        return 0;
    return -err;
}

/* admin_start starts the admin socket of c (nothing when its path is ""):
 * 0, or -errno, logged. A running socket at the same path only takes the
 * new mode; at another path it is stopped first. On a G. */
int admin_start(const gorod_config *c)
{
    if (c == NULL || c->admin.socket == NULL || c->admin.socket[0] == '\0')
        return 0;
    const char *path = c->admin.socket;
    mode_t mode = (mode_t)(c->admin.mode & 07777);

    if (atomic_load(&admin_lfd) >= 0) {
        if (admin_path && strcmp(admin_path, path) == 0) {
            if (chmod(path, mode) < 0)
                gorod_log(GLOG_WARN, "admin: chmod %s: %s", path,
                          strerror(errno));
            return 0;
        }
        admin_stop();
    }

    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        gorod_log(GLOG_ERROR, "admin: socket path %s is longer than %zu bytes",
                  path, sizeof sa.sun_path - 1);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);

    /* The directory: create it if it is the one missing level (as
     * /run/gorod under a tmpfs /run); the rest is the system's to make. */
    char *dir = strdup(path);
    if (dir == NULL)
        return -ENOMEM;
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            gorod_log(GLOG_WARN, "admin: mkdir %s: %s", dir, strerror(errno));
    }
    free(dir);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            gorod_log(GLOG_ERROR, "admin: %s exists and is not a socket; not "
                      "touching it", path);
            return -EEXIST;
        }
        int used = socket_in_use(&sa);
        if (used != 0) {
            if (used > 0)
                gorod_log(GLOG_ERROR, "admin: another gorod is listening on "
                          "%s", path);
            else
                gorod_log(GLOG_ERROR, "admin: cannot tell whether %s is in "
                          "use: %s", path, strerror(-used));
            return used > 0 ? -EADDRINUSE : used;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
            int err = errno;
            gorod_log(GLOG_ERROR, "admin: removing the stale socket %s: %s",
                      path, strerror(err));
            return -err;
        }
        gorod_log(GLOG_INFO, "admin: removed the stale socket %s", path);
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        gorod_log(GLOG_ERROR, "admin: socket: %s", strerror(err));
        return -err;
    }
    const char *what = "bind";
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        goto err;
    /* Before listen, so that no one connects through a wider mode. */
    what = "chmod";
    if (chmod(path, mode) < 0)
        goto err_unlink;
    what = "listen";
    if (listen(fd, SOMAXCONN) < 0)
        goto err_unlink;

    char *p = strdup(path);
    if (p == NULL) {
        errno = ENOMEM;
        what = "strdup";
        goto err_unlink;
    }
    free(admin_path);
    admin_path = p;
    atomic_store(&admin_stopping, false);
    atomic_store(&admin_lfd, fd);
    /* Here, not only in the accept G, which may first run after the
     * plugins took every descriptor (gorod.c: the control plane starts
     * first). */
    fdreserve_fill(&admin_reserve);
    int64_t id = goro_go(admin_accept, (void *)(intptr_t)fd);
    if (id < 0) {
        fdreserve_close(&admin_reserve);
        atomic_store(&admin_lfd, -1);
        free(admin_path);
        admin_path = NULL;
        errno = (int)-id;
        what = "goro_go";
        goto err_unlink;
    }
    gorod_log(GLOG_INFO, "admin: listening on %s (mode %04o)", path,
              (unsigned)mode);
    sockrecord_write(path);
    return 0;

err_unlink: {
        int err = errno;
        unlink(path);
        errno = err;
    }
err: {
        int err = errno;
        gorod_log(GLOG_ERROR, "admin: %s %s: %s", what, path, strerror(err));
        goro_close(fd);
        return -err;
    }
}

/* admin_stop closes the listener (its G wakes with -ECANCELED and ends) and
 * removes the socket file. Connections being answered finish. On a G. */
void admin_stop(void)
{
    int fd = atomic_exchange(&admin_lfd, -1);
    if (fd < 0)
        return;
    atomic_store(&admin_stopping, true);
    goro_close(fd);
    if (admin_path) {
        sockrecord_remove(admin_path);
        unlink(admin_path);
        free(admin_path);
        admin_path = NULL;
    }
}
