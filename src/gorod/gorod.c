/*
 * gorod.c - the daemon: options, start-up, signals, reload, shutdown.
 *
 * gorod reads its configuration before the runtime starts (a bad file is
 * reported and nothing runs), hands the runtime's knobs to goro_run_config
 * as the goro_config the file was loaded into, and runs daemon_main as the
 * main G. From there
 * everything is a G: the plugins' Gs, the admin socket's and the metrics
 * listener's, the status line's, the watchdog's, and daemon_main itself,
 * which waits on a channel for the signals it handles (goro_signal_notify:
 * libuv catches them on the runtime's loop thread):
 *
 *   SIGHUP           reload: parse and check the file again (on libuv's
 *                    thread pool: libyaml is not split-stack code); on error
 *                    keep everything as it is, log why and keep the message
 *                    for `goroctl status`; otherwise apply it: plugins added,
 *                    removed, or restarted when their entry or their
 *                    shared object (plugin_file_changed) changed.
 *   `restart NAME`   (admin) one plugin stopped and loaded again
 *                    (gorod_restart), under the same lock as a reload.
 *   SIGTERM, SIGINT  shut down: close the admin socket, call every
 *                    plugin's stop(), wait for their Gs until
 *                    shutdown_timeout (the metrics listener answers
 *                    meanwhile, /readyz with 503 "draining"), close the
 *                    metrics listener, exit 0 -- or 1, naming the plugins
 *                    whose Gs are still running.
 *
 * systemd (Type=notify) hears READY=1 once the plugins run, RELOADING=1
 * (with MONOTONIC_USEC) and READY=1 around a reload, STOPPING=1, a STATUS=
 * line with the status figures, and WATCHDOG=1 every half watchdog period
 * while the scheduler makes progress: a probe G spawned at each tick must
 * have run by the next one.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "gorod.h"

gorod_state gd;

static const char *config_path;
static bool foreground;
static int exitcode;
static bool abandoned;            /* plugins' Gs left running at exit */
static goro_mutex *reloadlock;    /* one reload at a time */

/* ---- logging ------------------------------------------------------------------ */

static int logfd = 2;             /* stderr, or the log file */
static bool logsyslog;
static bool logjournal;           /* stderr is the journal: "<N>" prefixes */
static int loglevel = GLOG_INFO;

/* stderr_is_journal: stderr is the stream systemd connected to the journal.
 * systemd sets JOURNAL_STREAM to that stream's "DEVICE:INODE"; a program
 * whose stderr still is that file (not redirected since) may prefix each
 * line with its syslog priority, "<3>" (sd-daemon(3), systemd.exec(5)),
 * which journald strips and records. */
static bool stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char end;
    struct stat st;
    return e != NULL && sscanf(e, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
           fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

static void log_open(const gorod_config *c)
{
    loglevel = c->log.level;
    logjournal = strcmp(c->log.target, "stderr") == 0 && stderr_is_journal();
    if (strcmp(c->log.target, "syslog") == 0) {
        openlog("gorod", LOG_PID, LOG_DAEMON);
        logsyslog = true;
    } else if (strcmp(c->log.target, "stderr") != 0) {
        int fd = open(c->log.target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                      0640);
        if (fd < 0)
            fprintf(stderr, "gorod: log.target %s: %s; logging to stderr\n",
                    c->log.target, strerror(errno));
        else
            logfd = fd;
    }
}

void gorod_log(int level, const char *fmt, ...)
{
    if (level > loglevel)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    if (logsyslog) {
        syslog(prio[level], "%s", msg);
        return;
    }
    char line[2200];
    /* In the journal the unit names the daemon: the priority replaces
     * "gorod: " (journalctl -p err shows the errors). */
    int n = logjournal && logfd == 2
                ? snprintf(line, sizeof line, "<%d>%s: %s\n", prio[level],
                           gorod_level_names[level], msg)
                : snprintf(line, sizeof line, "gorod: %s: %s\n",
                           gorod_level_names[level], msg);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    /* One write per line: lines of concurrent Gs do not interleave. */
    ssize_t w = write(logfd, line, (size_t)n);
    (void)w;
}

/* ---- figures ----------------------------------------------------------------- */

uint64_t gorod_served_total(void)
{
    uint64_t n = atomic_load(&gd.served_retired);
    goro_mutex_lock(gd.lock);
    for (gorod_plugin *p = gd.plugins; p != NULL; p = p->next)
        n += atomic_load(&p->served);
    for (gorod_plugin *p = gd.leaving; p != NULL; p = p->next)
        n += atomic_load(&p->served);
    goro_mutex_unlock(gd.lock);
    return n;
}

/* gorod_fdholders writes into buf the plugins that hold fds, most first
 * ("echo 81, httphello 3"), or "none": the words of the
 * log line that says the process ran out. On a G. */
void gorod_fdholders(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    goro_mutex_lock(gd.lock);
    /* A selection by the count, a plugin at a time: there are few. */
    int64_t below = INT64_MAX;
    for (;;) {
        int64_t most = 0;
        for (int pass = 0; pass < 2; pass++)
            for (gorod_plugin *p = pass ? gd.leaving : gd.plugins; p;
                 p = p->next) {
                int64_t k = p->group ? goro_group_fds(p->group) : 0;
                if (k > most && k < below)
                    most = k;
            }
        if (most == 0)
            break;
        for (int pass = 0; pass < 2; pass++)
            for (gorod_plugin *p = pass ? gd.leaving : gd.plugins; p;
                 p = p->next)
                if (p->group && goro_group_fds(p->group) == most && n < len)
                    n += (size_t)snprintf(buf + n, len - n, "%s%s %lld",
                                          n ? ", " : "",
                                          p->conf.name ? p->conf.name : "?",
                                          (long long)most);
        below = most;
    }
    goro_mutex_unlock(gd.lock);
    if (buf[0] == '\0')
        snprintf(buf, len, "none");
}

static void status_text(char *buf, size_t len)
{
    goro_metrics m = {.size = sizeof m};
    goro_metrics_get(&m);
    snprintf(buf, len,
             "Gs %llu (running %llu, runnable %llu, waiting %llu), Ps %llu, "
             "Ms %llu, stack %llu KiB, grows %llu, shrinks %llu, "
             "preemptions %llu+%llu, served %llu",
             (unsigned long long)(m.gs_created - m.gs_exited),
             (unsigned long long)m.gs_running,
             (unsigned long long)m.gs_runnable,
             (unsigned long long)m.gs_waiting, (unsigned long long)m.ps,
             (unsigned long long)m.ms,
             (unsigned long long)(m.stack_bytes_inuse >> 10),
             (unsigned long long)m.stack_grows,
             (unsigned long long)m.stack_shrinks,
             (unsigned long long)m.preempt_sync,
             (unsigned long long)m.preempt_async,
             (unsigned long long)gorod_served_total());
}

/* The status line every status_interval, also sent to systemd as STATUS=. */
static void status_g(void *arg)
{
    (void)arg;
    while (!atomic_load(&gd.stopping)) {
        goro_mutex_lock(gd.lock);
        int64_t every = gd.conf->status_interval_ns;
        goro_mutex_unlock(gd.lock);
        goro_sleep_ns(every > 0 ? every : 1000000000);
        if (every <= 0 || atomic_load(&gd.stopping))
            continue;
        char buf[512];
        status_text(buf, sizeof buf);
        gorod_log(GLOG_INFO, "%s", buf);
        sd_notifyf("STATUS=%s", buf);
    }
}

/* ---- the systemd watchdog --------------------------------------------------- */

static _Atomic bool probe_ran;

static void probe_g(void *arg)
{
    (void)arg;
    atomic_store(&probe_ran, true);
}

static void watchdog_g(void *arg)
{
    int64_t every = *(int64_t *)arg / 2;
    free(arg);
    atomic_store(&probe_ran, true);
    while (!atomic_load(&gd.stopping)) {
        if (atomic_exchange(&probe_ran, false))
            sd_notifyf("WATCHDOG=1");
        else
            gorod_log(GLOG_WARN, "watchdog: the scheduler made no progress "
                                "in %lld ms", (long long)(every / 1000000));
        goro_go(probe_g, NULL);
        goro_sleep_ns(every);
    }
}

/* ---- plugins and reload ------------------------------------------------------ */

static gorod_plugin *find_plugin(gorod_plugin *list, const char *name)
{
    for (; list != NULL; list = list->next)
        if (strcmp(list->conf.name, name) == 0)
            return list;
    return NULL;
}

/* stop_plugins stops every plugin of list, waits for them until the
 * deadline, and unloads those whose Gs ended. Returns the list of those
 * that did not end (their names logged), and their number in *left. */
static gorod_plugin *stop_plugins(gorod_plugin *list, int64_t deadline,
                                  int *left)
{
    for (gorod_plugin *p = list; p != NULL; p = p->next)
        plugin_stop(p);
    gorod_plugin *kept = NULL, **tail = &kept;
    *left = 0;
    for (gorod_plugin *p = list; p != NULL;) {
        gorod_plugin *next = p->next;
        if (plugin_wait(p, deadline) != 0) {
            gorod_log(GLOG_ERROR,
                      "plugin %s: %lld G(s) still running at the shutdown "
                      "deadline%s",
                      p->conf.name,
                      (long long)(goro_group_live(p->group) +
                                  goro_group_live(p->stopgroup)),
                      goro_group_live(p->stopgroup) ? " (stop() has not "
                                                      "returned)" : "");
            (*left)++;
            p->next = NULL;
            *tail = p;
            tail = &p->next;
        } else {
            atomic_fetch_add(&gd.served_retired, atomic_load(&p->served));
            plugin_free(p);
        }
        p = next;
    }
    return kept;
}

/* reap_stopping unloads the plugins of gd.leaving whose Gs have ended. */
static void reap_stopping(void)
{
    gorod_plugin *done = NULL;
    goro_mutex_lock(gd.lock);
    for (gorod_plugin **pp = &gd.leaving; *pp != NULL;) {
        gorod_plugin *p = *pp;
        if (goro_group_live(p->group) + goro_group_live(p->stopgroup) == 0) {
            *pp = p->next;
            p->next = done;
            done = p;
        } else {
            pp = &p->next;
        }
    }
    goro_mutex_unlock(gd.lock);
    while (done != NULL) {
        gorod_plugin *p = done;
        done = p->next;
        gorod_log(GLOG_INFO, "plugin %s: its last Gs ended; unloaded",
                  p->conf.name);
        atomic_fetch_add(&gd.served_retired, atomic_load(&p->served));
        plugin_free(p);
    }
}

static void refusals_free(gorod_refusal *r)
{
    while (r != NULL) {
        gorod_refusal *next = r->next;
        free(r->name);
        free(r->path);
        free(r->reason);
        free(r);
        r = next;
    }
}

/* refusal_new: a refusal of pc's entry for msg, or NULL out of memory. */
static gorod_refusal *refusal_new(const gorod_plugin_conf *pc,
                                  const char *msg)
{
    gorod_refusal *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->name = strdup(pc->name);
    r->path = strdup(pc->path);
    r->reason = strdup(msg);
    if (r->name == NULL || r->path == NULL || r->reason == NULL) {
        refusals_free(r);
        return NULL;
    }
    return r;
}

/* refusal_add logs msg and appends it to *list (and to err, len bytes,
 * one message a line). */
static void refusal_add(gorod_refusal ***tail, const gorod_plugin_conf *pc,
                        const char *msg, char *err, size_t len)
{
    gorod_log(GLOG_ERROR, "%s", msg);
    size_t used = strlen(err);
    if (used + 2 < len)
        snprintf(err + used, len - used, "%s%s", used ? "\n" : "", msg);
    gorod_refusal *r = refusal_new(pc, msg);
    if (r == NULL)
        return;
    **tail = r;
    *tail = &r->next;
}

/* load_one loads pc -- but not a file that a plugin of gd.leaving was
 * loaded from: dlopen would hand back that instance, its globals and its
 * Gs. NULL with the refusal in msg. */
static gorod_plugin *load_one(const gorod_plugin_conf *pc, char *msg,
                              size_t len)
{
    const gorod_plugin *old = NULL;
    int64_t oldgs = 0;
    goro_mutex_lock(gd.lock);
    for (gorod_plugin *s = gd.leaving; s != NULL; s = s->next)
        if (strcmp(s->conf.path, pc->path) == 0) {
            old = s;
            oldgs = goro_group_live(s->group) + goro_group_live(s->stopgroup);
            break;
        }
    if (old != NULL)
        snprintf(msg, len,
                 "plugin %s: %s: an earlier instance (plugin %s) is "
                 "still stopping with %lld G(s); not loaded again "
                 "until they end", pc->name, pc->path,
                 old->conf.name, (long long)oldgs);
    goro_mutex_unlock(gd.lock);
    return old == NULL ? plugin_load(pc, msg, len) : NULL;
}

/* start_plugins returns the list of c's enabled plugins in c's order:
 * those found by name in *keep are moved from it (every plugin of *keep has
 * an enabled entry in c: gorod_reload puts the others in its drop list), the
 * rest are loaded -- but not a file that a plugin of gd.leaving was loaded
 * from: dlopen would hand back that instance, its globals and its Gs.
 * Refusals are logged, appended to err and listed in *refused. */
static gorod_plugin *start_plugins(const gorod_config *c, gorod_plugin **keep,
                                   char *err, size_t len, int *loaded,
                                   gorod_refusal **refused)
{
    gorod_plugin *head = NULL, **tail = &head;
    gorod_refusal **rtail = refused;
    *refused = NULL;
    *loaded = 0;
    for (unsigned i = 0; i < c->nplugins; i++) {
        const gorod_plugin_conf *pc = &c->plugins[i];
        if (!pc->enabled)
            continue;
        gorod_plugin *p = keep ? find_plugin(*keep, pc->name) : NULL;
        if (p != NULL) {
            /* unlink from keep */
            for (gorod_plugin **pp = keep; *pp; pp = &(*pp)->next)
                if (*pp == p) {
                    *pp = p->next;
                    break;
                }
            p->next = NULL;
        } else {
            char msg[1024];
            p = load_one(pc, msg, sizeof msg);
            if (p == NULL) {
                refusal_add(&rtail, pc, msg, err, len);
                continue;
            }
        }
        (*loaded)++;
        *tail = p;
        tail = &p->next;
    }
    return head;
}

/* settle watches the plugins of list started at or after since (all of
 * them: 0) for GOROD_START_GRACE_NS, or until each has returned from
 * start(): those whose start() failed meanwhile are counted and appended
 * to err, one a line (start_g logged them; the plugin's own message, on
 * gorod's stderr, says why). The caller holds reloadlock: no reload
 * changes list meanwhile. */
static int settle(gorod_plugin *list, int64_t since, char *err, size_t len)
{
    int64_t deadline = gorod_now() + GOROD_START_GRACE_NS;
    for (;;) {
        bool starting = false;
        for (gorod_plugin *p = list; p != NULL && !starting; p = p->next)
            starting = p->started_ns >= since &&
                       atomic_load(&p->state) == PLUGIN_RUNNING;
        if (!starting || gorod_now() >= deadline)
            break;
        goro_sleep_ns(10 * 1000000);
    }
    int failed = 0;
    for (gorod_plugin *p = list; p != NULL; p = p->next) {
        /* acquire: start_g wrote status before its CAS of state */
        if (p->started_ns < since ||
            atomic_load_explicit(&p->state, memory_order_acquire) !=
                PLUGIN_FAILED)
            continue;
        failed++;
        size_t used = strlen(err);
        if (used + 2 < len)
            snprintf(err + used, len - used, "%splugin %s: %s: start "
                     "returned %d (its own message is on gorod's stderr)",
                     used ? "\n" : "", p->conf.name, p->conf.path,
                     p->status);
    }
    return failed;
}

struct loadreq {
    const char *path;
    gorod_config *conf;
    char err[4096];
};

static void do_load(void *arg)
{
    struct loadreq *r = arg;
    r->conf = gorod_config_load(r->path, r->err, sizeof r->err);
}

int gorod_reload(char *msg, size_t len)
{
    goro_mutex_lock(reloadlock);
    sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%lld",
               (long long)(gorod_now() / 1000));
    struct loadreq *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(msg, len, "out of memory");
        goro_mutex_unlock(reloadlock);
        return -1;
    }
    r->path = config_path;
    goro_blocking(do_load, r);
    int rc = 0;
    if (r->conf == NULL) {
        /* Keep running what runs. */
        size_t n = strlen(r->err);
        while (n > 0 && r->err[n - 1] == '\n')
            r->err[--n] = '\0';
        gorod_log(GLOG_ERROR, "reload: %s: keeping the configuration in "
                             "effect:\n%s", config_path, r->err);
        snprintf(msg, len, "%s", r->err);
        goro_mutex_lock(gd.lock);
        snprintf(gd.reload_error, sizeof gd.reload_error, "%s", r->err);
        gd.reload_failures++;
        gd.last_reload = RELOAD_FAILED;
        goro_mutex_unlock(gd.lock);
        rc = -1;
        goto out;
    }
    gorod_config *nc = r->conf;
    if (!gorod_runtime_conf_equal(gd.conf, nc))
        gorod_log(GLOG_WARN, "reload: sched and stack settings take effect "
                            "at the next start only");

    /* Plugins whose entry went away or changed stop first. */
    reap_stopping();
    goro_mutex_lock(gd.lock);
    gorod_plugin *old = gd.plugins, *keep = NULL, *drop = NULL;
    gd.plugins = NULL;
    goro_mutex_unlock(gd.lock);
    while (old != NULL) {
        gorod_plugin *p = old;
        old = p->next;
        const gorod_plugin_conf *pc = NULL;
        for (unsigned i = 0; i < nc->nplugins; i++)
            if (strcmp(nc->plugins[i].name, p->conf.name) == 0)
                pc = &nc->plugins[i];
        /* An entry unchanged whose shared object was replaced or
         * rewritten (make, a package upgrade) restarts on the new file. */
        char filewhy[64] = "";
        bool filechanged = pc != NULL && pc->enabled &&
                           gorod_plugin_conf_equal(pc, &p->conf) &&
                           plugin_file_changed(p, filewhy, sizeof filewhy);
        bool same = pc != NULL && pc->enabled &&
                    gorod_plugin_conf_equal(pc, &p->conf) &&
                    plugin_serving(p) && !listeners_changed(p, nc) &&
                    !filechanged;
        gorod_plugin **to = same ? &keep : &drop;
        p->next = *to;
        *to = p;
        if (!same && filechanged)
            gorod_log(GLOG_INFO, "reload: plugin %s restarted: its file %s "
                      "was %s", p->conf.name, p->conf.path, filewhy);
        else if (!same)
            gorod_log(GLOG_INFO, "reload: plugin %s %s", p->conf.name,
                      pc == NULL || !pc->enabled ? "removed"
                      : gorod_plugin_conf_equal(pc, &p->conf) &&
                              plugin_serving(p)
                          ? "restarted: a listener it took changed"
                          : "changed");
    }
    /* Those that do not stop in time stay listed, as stopping. */
    int left;
    gorod_plugin *kept = stop_plugins(drop, gorod_now() +
                                      nc->shutdown_timeout_ns, &left);
    goro_mutex_lock(gd.lock);
    gorod_plugin **st = &gd.leaving;
    while (*st != NULL)
        st = &(*st)->next;
    *st = kept;
    goro_mutex_unlock(gd.lock);
    /* The listeners before the plugins that take them: those unchanged
     * keep their sockets (and the connections queued on them meanwhile),
     * those removed close once the plugins that took them are gone. */
    char refused[1024] = "";
    int lfailed = listeners_apply(nc, refused, sizeof refused);
    int loaded;
    gorod_refusal *rl;
    /* Its refusals go after the listeners' (one message a line), then the
     * plugins it started whose start() failed at once. */
    int64_t since = gorod_now();
    gorod_plugin *list = start_plugins(nc, &keep, refused, sizeof refused,
                                       &loaded, &rl);
    int nfailed = settle(list, since, refused, sizeof refused);
    int nrefused = lfailed;
    for (gorod_refusal *x = rl; x != NULL; x = x->next)
        nrefused++;

    /* One verdict, wherever it is read: applied in full, or applied with
     * plugins refused or failed to start, which counts as a reload not
     * applied in full. */
    goro_mutex_lock(gd.lock);
    gorod_config *prev = gd.conf;
    gd.conf = nc;
    gd.plugins = list;
    gorod_refusal *oldrl = gd.refused;
    gd.refused = rl;
    gd.reloads++;
    gd.last_reload = nrefused || nfailed ? RELOAD_PARTIAL : RELOAD_OK;
    gd.listeners_failed = (unsigned)lfailed;
    gd.starts_failed = (unsigned)nfailed;
    if (nrefused || nfailed)
        gd.reload_failures++;
    snprintf(gd.reload_error, sizeof gd.reload_error, "%s", refused);
    goro_mutex_unlock(gd.lock);
    refusals_free(oldrl);
    if (nrefused || nfailed)
        rc = 1;

    if (strcmp(prev->admin.socket, nc->admin.socket) != 0 ||
        prev->admin.mode != nc->admin.mode)
        admin_start(nc);
    if (strcmp(prev->metrics.listen, nc->metrics.listen) != 0) {
        metrics_stop();
        metrics_start(nc);
    }
    /* prev stays allocated: Gs started from it may still read it. */
    snprintf(msg, len, "%s%s%s", refused,
             refused[0] && left ? "\n" : "",
             left ? "some removed plugins' Gs are still running: listed as "
                    "stopping" : "");
    gorod_log(nrefused || nfailed ? GLOG_ERROR : GLOG_INFO,
              "reload: %s: %d plugin(s) running, %d refused, %d failed to "
              "start%s", config_path, loaded - nfailed, nrefused - lfailed,
              nfailed, lfailed ? ", listener(s) not opened" : "");
out:
    free(r);
    sd_notifyf("READY=1");
    goro_mutex_unlock(reloadlock);
    return rc;
}

/* conf_index: the position of the entry named name in c, c->nplugins when
 * none. */
static unsigned conf_index(const gorod_config *c, const char *name)
{
    unsigned i = 0;
    while (i < c->nplugins && strcmp(c->plugins[i].name, name) != 0)
        i++;
    return i;
}

/* refusal_set replaces the refusal of pc's name in gd.refused by msg
 * (msg NULL: removes it). Under gd.lock. */
static void refusal_set(const gorod_plugin_conf *pc, const char *msg)
{
    gorod_refusal **pp = &gd.refused;
    while (*pp != NULL && strcmp((*pp)->name, pc->name) != 0)
        pp = &(*pp)->next;
    if (*pp != NULL) {
        gorod_refusal *r = *pp;
        *pp = r->next;
        r->next = NULL;
        refusals_free(r);
    }
    if (msg == NULL)
        return;
    gorod_refusal *r = refusal_new(pc, msg);
    if (r != NULL)
        *pp = r;
}

/* gorod_restart stops the plugin named name (if it is loaded: its stop(),
 * then its Gs waited for until shutdown_timeout) and loads it again from
 * its entry of the configuration in effect; a plugin refused before is
 * loaded again (its file may have been fixed). Under the reload lock: a
 * reload and a restart never interleave. The new instance takes the old
 * one's place in gd.plugins; if it is refused, the refusal is listed as a
 * reload's would be. Success is a plugin loaded whose start() has not
 * failed within RESTART_WAIT_NS (start() may run on: a server's does). */
#define RESTART_WAIT_NS (1000LL * 1000000)
int gorod_restart(const char *name, char *msg, size_t len)
{
    goro_mutex_lock(reloadlock);
    int rc = -1;
    goro_mutex_lock(gd.lock);
    const gorod_config *c = gd.conf;
    unsigned idx = conf_index(c, name);
    const gorod_plugin_conf *pc = idx < c->nplugins ? &c->plugins[idx] : NULL;
    gorod_plugin *p = find_plugin(gd.plugins, name);
    if (pc == NULL) {
        size_t n = (size_t)snprintf(msg, len, "restart: %s has no plugin "
                                    "named \"%s\" (plugins:", c->file, name);
        for (unsigned i = 0; i < c->nplugins && n < len; i++)
            n += (size_t)snprintf(msg + n, len - n, " %s",
                                  c->plugins[i].name);
        if (n < len)
            snprintf(msg + n, len - n, "%s)", c->nplugins ? "" : " none");
    } else if (!pc->enabled) {
        snprintf(msg, len, "restart: plugin %s is disabled in %s (enabled: "
                 "false): a reload starts it once enabled", name, c->file);
        pc = NULL;
    }
    goro_mutex_unlock(gd.lock);
    if (pc == NULL)
        goto out;

    int64_t t0 = gorod_now();
    if (p != NULL) {
        gorod_log(GLOG_INFO, "restart: plugin %s: stopping", name);
        plugin_stop(p);   /* listed as stopping meanwhile */
        int err = plugin_wait(p, t0 + c->shutdown_timeout_ns);
        goro_mutex_lock(gd.lock);
        for (gorod_plugin **pp = &gd.plugins; *pp != NULL; pp = &(*pp)->next)
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        p->next = NULL;
        if (err != 0) {
            /* Its Gs ignore stop(): listed as stopping, counted at
             * shutdown; its file is not loaded again until they end. */
            gorod_plugin **st = &gd.leaving;
            while (*st != NULL)
                st = &(*st)->next;
            *st = p;
            snprintf(msg, len, "restart: plugin %s: %lld G(s) still running "
                     "after shutdown_timeout (%lld ms): listed as stopping, "
                     "not started again until they end", name,
                     (long long)(goro_group_live(p->group) +
                                 goro_group_live(p->stopgroup)),
                     (long long)(c->shutdown_timeout_ns / 1000000));
            refusal_set(pc, msg + strlen("restart: "));
        }
        goro_mutex_unlock(gd.lock);
        if (err != 0) {
            gorod_log(GLOG_ERROR, "%s", msg);
            goto out;
        }
        atomic_fetch_add(&gd.served_retired, atomic_load(&p->served));
        plugin_free(p);
    }

    char why[1024];
    gorod_plugin *np = load_one(pc, why, sizeof why);
    goro_mutex_lock(gd.lock);
    refusal_set(pc, np == NULL ? why : NULL);
    if (np != NULL) {
        /* In the configuration's order, as start_plugins lists them. */
        gorod_plugin **pp = &gd.plugins;
        while (*pp != NULL && conf_index(c, (*pp)->conf.name) < idx)
            pp = &(*pp)->next;
        np->next = *pp;
        *pp = np;
    }
    goro_mutex_unlock(gd.lock);
    if (np == NULL) {
        gorod_log(GLOG_ERROR, "restart: %s", why);
        snprintf(msg, len, "restart: %s", why);
        goto out;
    }

    /* acquire: start_g wrote status and state before start_done. */
    int64_t until = gorod_now() + RESTART_WAIT_NS;
    while (!atomic_load(&np->start_done) && gorod_now() < until)
        goro_sleep_ns(5 * 1000000);
    if (atomic_load(&np->state) == PLUGIN_FAILED) {
        goro_mutex_lock(gd.lock);
        snprintf(msg, len, "restart: plugin %s: start returned %d%s%s", name,
                 np->status, np->failure ? "\n" : "",
                 np->failure ? np->failure : "");
        goro_mutex_unlock(gd.lock);
        goto out;
    }
    snprintf(msg, len, "plugin %s restarted in %lld ms: %s %s, start #%u%s",
             name, (long long)((gorod_now() - t0) / 1000000),
             np->entry->name ? np->entry->name : "?",
             np->entry->version ? np->entry->version : "?", np->starts,
             atomic_load(&np->start_done) ? ", start() returned 0" : "");
    gorod_log(GLOG_INFO, "restart: %s", msg);
    rc = 0;
out:
    goro_mutex_unlock(reloadlock);
    return rc;
}

/* ---- the main G ------------------------------------------------------------- */

/* start_failed ends daemon_main's start with no plugin running: the
 * control plane closed, reloads let through, exit status 1. */
static void start_failed(void)
{
    admin_stop();
    metrics_stop();
    goro_mutex_unlock(reloadlock);
    exitcode = 1;
}

static void daemon_main(void *arg)
{
    gd.conf = arg;
    gd.lock = goro_mutex_new();
    reloadlock = goro_mutex_new();
    gd.start_ns = gorod_now();

    goro_chan *sigs = goro_chan_new(sizeof(int), 16);
    if (sigs == NULL || goro_signal_notify(SIGHUP, sigs) != 0 ||
        goro_signal_notify(SIGTERM, sigs) != 0 ||
        goro_signal_notify(SIGINT, sigs) != 0) {
        gorod_log(GLOG_ERROR, "cannot handle signals");
        exitcode = 1;
        return;
    }
    signal(SIGPIPE, SIG_IGN);

    char refused[4096] = "";
    int loaded;
    int enabled = 0;
    for (unsigned i = 0; i < gd.conf->nplugins; i++)
        enabled += gd.conf->plugins[i].enabled;
    gorod_refusal *rl;
    if (listeners_apply(gd.conf, refused, sizeof refused) != 0) {
        gorod_log(GLOG_ERROR, "a listener could not be opened: exiting");
        exitcode = 1;
        return;
    }
    listeners_warn_unused();
    /* The control plane before the plugins: its sockets and descriptor
     * reserves (fdreserve.c) must not wait for plugins that may take
     * every descriptor the moment they start (a restart under load, its
     * activated socket's queue full). Reloads and restarts wait until
     * the start is done. */
    goro_mutex_lock(reloadlock);
    if (admin_start(gd.conf) != 0 || metrics_start(gd.conf) != 0) {
        start_failed();
        return;
    }
    gorod_plugin *list = start_plugins(gd.conf, NULL, refused,
                                       sizeof refused, &loaded, &rl);
    goro_mutex_lock(gd.lock);
    gd.plugins = list;
    gd.refused = rl;
    gd.started = true;
    goro_mutex_unlock(gd.lock);
    if (enabled > 0 && loaded == 0) {
        gorod_log(GLOG_ERROR, "no plugin could be loaded (%d configured in "
                             "%s): exiting", enabled, config_path);
        start_failed();
        return;
    }
    goro_go(status_g, NULL);
    int64_t wd = sd_watchdog_ns();
    if (wd > 0) {
        int64_t *a = malloc(sizeof *a);
        if (a != NULL) {
            *a = wd;
            goro_go(watchdog_g, a);
        }
    }
    /* Ready once the plugins had their grace to fail; then where to
     * connect, true for this configuration. */
    char failed[1024] = "";
    settle(gd.plugins, 0, failed, sizeof failed);
    char st[512];
    status_text(st, sizeof st);
    sd_notifyf("READY=1\nSTATUS=%s", st);
    gorod_log(GLOG_INFO, "running: %d of %d plugin(s), pid %d", loaded,
              enabled, (int)getpid());
    gorod_where();
    goro_mutex_unlock(reloadlock);

    for (;;) {
        int sig = 0;
        if (goro_chan_recv(sigs, &sig) != 0)
            break;
        if (sig == SIGHUP) {
            char msg[4096];
            gorod_reload(msg, sizeof msg);
            continue;
        }
        break;  /* SIGTERM, SIGINT */
    }

    gorod_log(GLOG_INFO, "shutting down");
    sd_notifyf("STOPPING=1");
    atomic_store(&gd.stopping, true);
    admin_stop();
    /* The metrics listener stays while the plugins drain: /readyz says
     * "draining" (503) meanwhile, /healthz and /metrics go on. */
    /* Those a reload removed and that are still stopping are waited for
     * and counted with the rest. A restart under way ends first: it holds
     * a plugin gd.plugins does not list meanwhile. */
    goro_mutex_lock(reloadlock);
    goro_mutex_lock(gd.lock);
    gorod_plugin *plugins = gd.plugins, **tail = &plugins;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = gd.leaving;
    gd.plugins = gd.leaving = NULL;
    int64_t timeout = gd.conf->shutdown_timeout_ns;
    goro_mutex_unlock(gd.lock);
    int left;
    stop_plugins(plugins, gorod_now() + timeout, &left);
    metrics_stop();
    if (left > 0) {
        gorod_log(GLOG_ERROR, "%d plugin(s) did not stop within %lld ms",
                  left, (long long)(timeout / 1000000));
        exitcode = 1;
        abandoned = true;
    } else {
        listeners_close_all();
        gorod_log(GLOG_INFO, "stopped");
    }
}

/* ---- limits ----------------------------------------------------------------- */

/* raise_nofile lifts the soft RLIMIT_NOFILE to the hard limit, as Go does
 * at start (since 1.19): the soft limit (often 1024) guards programs that
 * use select(2) and its fixed fd_set, which goro never does; a server with
 * one fd per connection would otherwise refuse connections long before the
 * hard limit the administrator set. A failure is not fatal: gorod runs
 * with the limit it has. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        gorod_log(GLOG_WARN, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return;
    }
    if (rl.rlim_cur >= rl.rlim_max) {
        gorod_log(GLOG_DEBUG, "RLIMIT_NOFILE: %llu (the hard limit already)",
                  (unsigned long long)rl.rlim_cur);
        return;
    }
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        gorod_log(GLOG_WARN, "cannot raise RLIMIT_NOFILE from %llu to the "
                  "hard limit %llu: %s", (unsigned long long)was,
                  (unsigned long long)rl.rlim_max, strerror(errno));
        return;
    }
    gorod_log(GLOG_DEBUG, "RLIMIT_NOFILE raised from %llu to the hard limit "
              "%llu", (unsigned long long)was, (unsigned long long)rl.rlim_max);
}

/* ---- options ---------------------------------------------------------------- */

/* The installed configuration: $(SYSCONFDIR)/goro/gorod.yaml, the
 * Makefile's SYSCONFDIR ($(PREFIX)/etc; /etc for PREFIX=/usr). */
#ifndef GOROD_SYSCONFDIR
#define GOROD_SYSCONFDIR "/usr/local/etc"
#endif
#define GOROD_CONFIG GOROD_SYSCONFDIR "/goro/gorod.yaml"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gorod [--config FILE] [--check] [--foreground]\n"
            "       gorod --version | --help\n"
            "\n"
            "  -c, --config FILE  the configuration (default: %s)\n"
            "  -t, --check        check the configuration, print it as in\n"
            "                     effect (every key) and exit 0, or exit 1\n"
            "  -f, --foreground   do not detach (as under systemd)\n"
            "  -V, --version      print the version\n"
            "  -h, --help         this text\n"
            "\n"
            "Signals: SIGHUP reloads the configuration, SIGTERM and SIGINT\n"
            "stop the plugins and exit. goroctl talks to the admin socket.\n",
            "config/gorod.yaml in the source tree, else " GOROD_CONFIG);
}

/* The default configuration: the source tree's when this gorod is the one
 * built in it (build/bin/gorod), else the installed one. */
static const char *default_config(void)
{
    static char buf[PATH_MAX + 32];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *s = strstr(exe, "/build/bin/gorod");
        if (s != NULL && strcmp(s, "/build/bin/gorod") == 0) {
            *s = '\0';
            snprintf(buf, sizeof buf, "%s/config/gorod.yaml", exe);
            if (access(buf, F_OK) == 0)
                return buf;
        }
    }
    return GOROD_CONFIG;
}

static int detach(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 't'},
        {"foreground", no_argument, NULL, 'f'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    bool check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:tfVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 't': check = true; break;
        case 'f': foreground = true; break;
        case 'V': printf("gorod %s\n", GOROD_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gorod: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (config_path == NULL)
        config_path = default_config();

    char err[8192] = "";
    gorod_config *conf = gorod_config_load(config_path, err, sizeof err);
    if (conf == NULL) {
        size_t n = strlen(err);
        fprintf(stderr, "%s%s", err, n && err[n - 1] != '\n' ? "\n" : "");
        return 1;
    }
    if (check) {
        gorod_config_print(conf, stdout);
        gorod_config_free(conf);
        return 0;
    }
    /* Reloads read the file again after a detach: keep an absolute path. */
    char *abs = realpath(config_path, NULL);
    if (abs != NULL)
        config_path = abs;
    log_open(conf);
    raise_nofile();
    if (listeners_inherit() != 0) {
        fprintf(stderr, "gorod: out of memory\n");
        return 1;
    }
    if (!foreground && detach() != 0) {
        fprintf(stderr, "gorod: cannot detach: %s\n", strerror(errno));
        return 1;
    }
    /* Detached, nobody reads the terminal it was started from: what the
     * runtime itself writes to stderr (a crash report, a fatal error) goes
     * to the log file too. */
    if (!foreground && logfd != 2)
        dup2(logfd, 2);
    int rc = goro_run_config(&conf->runtime, daemon_main, conf);
    if (rc != 0) {
        fprintf(stderr, "gorod: the runtime did not start: %s\n",
                strerror(-rc));
        return 1;
    }
    /* goro_run_config returned although plugins' Gs still run (they ignored
     * stop()): end the process without running the destructors of the
     * libraries and plugins their code is still in. */
    if (abandoned) {
        fflush(NULL);
        _exit(exitcode);
    }
    return exitcode;
}
