/*
 * metrics.c - the Prometheus text exposition of the runtime and the daemon,
 * and the small HTTP/1.1 server that hands it to a scraper.
 *
 * metrics_render gathers the figures: goro_metrics_get, which reads them
 * without stopping the world (each is exact but they are not of one
 * instant), and the daemon's from gd under gd.lock. exposition.c writes
 * them as text exposition format 0.0.4 (metrics_text).
 *
 * The HTTP side is deliberately minimal: one G per connection, a request is
 * read into a heap buffer (at most 8 KiB of request line and headers, or
 * 400), `GET` or `HEAD /metrics` answers 200 with the exposition, any other
 * path 404, any other method 405.
 *
 * The same listener answers the probes of an orchestrator (Kubernetes'
 * liveness and readiness, a load balancer's health check), as Kubernetes'
 * own components do on /healthz and /readyz:
 *   /healthz  200 "ok" whenever the daemon can answer: a G ran to answer
 *             it, so the scheduler makes progress. It stays 200 while
 *             the daemon drains: restarting it then would cut the drain.
 *   /readyz   200 "ready" when every plugin of the configuration in effect
 *             was loaded and started (its start() runs, or returned 0;
 *             none refused, none whose start() failed); else 503 with one
 *             line per plugin that is not, or "starting" while gorod has
 *             not started them yet (the listener opens before). From SIGTERM
 *             on, 503 "draining": the listener stays open until the
 *             plugins have stopped (gorod.c), so that whoever routes
 *             traffic sees the daemon leave before it goes. HTTP/1.1 connections stay open unless the
 * client says `Connection: close`; pipelined requests are served in order.
 * Every read has a deadline (an idle connection is dropped after
 * METRICS_IDLE_NS; a request must be in whole METRICS_REQ_NS after its first
 * byte, however it trickles in) and the number of connections is capped, so
 * a client that opens connections and says nothing, or says it slowly,
 * cannot make Gs pile up or keep the scrapers out for long. Requests with a
 * body are answered and then the connection is closed rather than parsing
 * chunked encodings a scraper never sends.
 *
 * Rejected: serving from the loop thread with libuv directly (the exposition
 * reads gd under its goro mutex, which only a G may take), and a
 * general-purpose HTTP library (a dependency for three code paths).
 *
 * Everything here runs in Gs (compiled -fsplit-stack): buffers that a
 * parking call (goro_read, goro_write) uses live on the heap, and no address
 * of a local is handed to another G.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gorod.h"

#define METRICS_REQ_MAX   8192               /* request line + headers */
#define METRICS_IDLE_NS   (30LL * 1000000000) /* between requests */
#define METRICS_REQ_NS    (10LL * 1000000000) /* to finish one request */
#define METRICS_WRITE_NS  (10LL * 1000000000)
#define METRICS_MAX_CONNS 64

/* The listener: its fd (-1 when none), set by metrics_start and cleared by
 * metrics_stop; stopping tells the accept loop that a failed accept is the
 * end and not an error. Both are read by the accept G. */
static _Atomic int  metrics_lfd = -1;
static _Atomic bool metrics_stopping;
static _Atomic int  metrics_conns;        /* live connection Gs */

/* metrics_render: the whole exposition, malloc'd and NUL-terminated, its
 * length in *len; NULL when out of memory. The figures are gathered here
 * (gd under gd.lock: on a G) and written by metrics_text (exposition.c). */
char *metrics_render(size_t *len)
{
    goro_metrics m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    goro_metrics_get(&m);

    metrics_figs f = {.stack_min_size = 2048, .stack_orders = 8};
    metrics_plugin *ps = NULL;
    unsigned n = 0, cap = 0;
    int64_t start;

    if (gd.lock)
        goro_mutex_lock(gd.lock);
    if (gd.conf) {
        const goro_config *rt = &gd.conf->runtime;
        if (rt->stack_min)
            f.stack_min_size = rt->stack_min;
        if (rt->stack_orders > 0 &&
            (unsigned)rt->stack_orders < f.stack_orders)
            f.stack_orders = (unsigned)rt->stack_orders;
    }
    start = gd.start_ns;
    f.reloads = gd.reloads;
    f.reload_failures = gd.reload_failures;
    /* The plugins in effect, those still stopping after a reload removed
     * them, and the refused ones (up 0, no Gs). */
    gorod_refusal *r = gd.refused;
    for (int pass = 0; pass < 3; pass++)
    for (gorod_plugin *p = pass == 0 ? gd.plugins : pass == 1 ? gd.leaving
                                                              : NULL;
         pass == 2 ? r != NULL : p != NULL;
         pass == 2 ? (void)(r = r->next) : (void)(p = p->next)) {
        if (n == cap) {
            unsigned nc = cap ? cap * 2 : 8;
            metrics_plugin *np = realloc(ps, nc * sizeof *ps);
            if (np == NULL)
                break;
            ps = np;
            cap = nc;
        }
        if (pass == 2) {
            ps[n].name = strdup(r->name);
            if (ps[n].name == NULL)
                break;
            ps[n].served = 0;
            ps[n].live = 0;
            ps[n].fds = 0;
            ps[n].up = false;
            n++;
            continue;
        }
        ps[n].name = strdup(p->conf.name ? p->conf.name : "");
        if (ps[n].name == NULL)
            break;
        ps[n].served = atomic_load_explicit(&p->served, memory_order_relaxed);
        ps[n].live = p->group ? goro_group_live(p->group) : 0;
        ps[n].fds = p->group ? goro_group_fds(p->group) : 0;
        ps[n].up = plugin_serving(p);
        n++;
    }
    if (gd.lock)
        goro_mutex_unlock(gd.lock);

    f.uptime_ns = start > 0 ? gorod_now() - start : 0;
    f.served = gorod_served_total();
    f.admin_requests = atomic_load_explicit(&gd.admin_requests,
                                            memory_order_relaxed);
    f.metrics_requests = atomic_load_explicit(&gd.metrics_requests,
                                              memory_order_relaxed);
    f.plugins = ps;
    f.nplugins = n;
    metrics_process_get(&f.process);
    char *text = metrics_text(&m, &f, len);

    for (unsigned i = 0; i < n; i++)
        free(ps[i].name);
    free(ps);
    return text;
}

/* ---- the process's figures ----------------------------------------------------
 * What every Prometheus client library exports as process_* (client_golang
 * reads the same files): /proc/self/stat for the CPU time, the sizes and
 * the start (in clock ticks since boot, plus /proc/stat's btime), the
 * entries of /proc/self/fd, and RLIMIT_NOFILE. */

/* readfile reads up to len-1 bytes of path into buf, NUL-terminated:
 * how many, or -1. */
static ssize_t readfile(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

void metrics_process_get(metrics_process *p)
{
    memset(p, 0, sizeof *p);
    p->open_fds = p->max_fds = -1;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char *buf = malloc(8192);   /* on the heap: this runs on a G */
    if (buf == NULL)
        return;
    unsigned long long btime = 0;
    if (readfile("/proc/stat", buf, 8192) > 0) {
        char *l = strstr(buf, "\nbtime ");
        if (l != NULL)
            btime = strtoull(l + 7, NULL, 10);
    }
    /* "pid (comm) state ppid ...": the fields after the last ')', the
     * state being field 3 of proc(5). */
    char *rp;
    if (btime > 0 && tck > 0 && page > 0 &&
        readfile("/proc/self/stat", buf, 8192) > 0 &&
        (rp = strrchr(buf, ')')) != NULL) {
        unsigned long long f[25] = {0};
        char *s = rp + 1;
        int field = 2;
        while (field < 24) {
            while (*s == ' ')
                s++;
            if (*s == '\0')
                break;
            field++;
            char *end;
            f[field] = strtoull(s, &end, 10);
            s = end;
            while (*s != ' ' && *s != '\0')
                s++;
        }
        if (field == 24) {
            p->have_stat = true;
            p->cpu_seconds = (double)(f[14] + f[15]) / (double)tck;
            p->start_time_seconds = (double)btime + (double)f[22] / (double)tck;
            p->virtual_bytes = f[23];
            p->resident_bytes = f[24] * (unsigned long long)page;
        }
    }
    free(buf);
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        int64_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        p->open_fds = n > 0 ? n - 1 : 0;    /* less the directory's own */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = rl.rlim_cur == RLIM_INFINITY ? INT64_MAX
                                                  : (int64_t)rl.rlim_cur;
}

/* ---- HTTP ------------------------------------------------------------------- */

/* parse_listen splits "127.0.0.1:9464" or "[::1]:9464" into host (written
 * into host, hostlen bytes) and port: 0, or -EINVAL. */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return -EINVAL;
        hl = (size_t)(end - s - 1);
        s++;
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno ||
        p < 0 || p > 65535)
        return -EINVAL;
    *port = (int)p;
    return 0;
}

/* The header value of name in the header block hdrs (after the request
 * line, lines ending in \n), copied into val; false when absent. */
static bool header(const char *hdrs, const char *name, char *val, size_t len)
{
    size_t nl = strlen(name);
    for (const char *l = hdrs; *l; ) {
        const char *eol = strchr(l, '\n');
        if (eol == NULL)
            eol = l + strlen(l);
        if ((size_t)(eol - l) > nl && strncasecmp(l, name, nl) == 0 &&
            l[nl] == ':') {
            const char *v = l + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *e = eol;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            size_t vl = (size_t)(e - v) < len - 1 ? (size_t)(e - v) : len - 1;
            memcpy(val, v, vl);
            val[vl] = '\0';
            return true;
        }
        l = *eol ? eol + 1 : eol;
    }
    return false;
}

/* Whether the comma-separated header value v holds token t. */
static bool has_token(const char *v, const char *t)
{
    size_t tl = strlen(t);
    for (const char *s = v; *s; ) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *te = e;
        while (te > s && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        if ((size_t)(te - s) == tl && strncasecmp(s, t, tl) == 0)
            return true;
        s = e;
    }
    return false;
}

/* Write a whole response: 0, or < 0 when the client is gone. */
static int respond(int fd, int code, const char *reason, const char *ctype,
                   const char *extra, const char *body, size_t blen,
                   bool head, bool keep)
{
    char *hdr = malloc(512);
    if (hdr == NULL)
        return -ENOMEM;
    int hl = snprintf(hdr, 512,
                      "HTTP/1.1 %d %s\r\n"
                      "Content-Type: %s\r\n"
                      "Content-Length: %zu\r\n"
                      "%s"
                      "Connection: %s\r\n\r\n",
                      code, reason, ctype, blen, extra ? extra : "",
                      keep ? "keep-alive" : "close");
    int64_t dl = gorod_now() + METRICS_WRITE_NS;
    ssize_t w = goro_write_deadline(fd, hdr, (size_t)hl, dl);
    free(hdr);
    if (w != hl)
        return -EPIPE;
    if (!head && blen > 0 &&
        goro_write_deadline(fd, body, blen, dl) != (ssize_t)blen)
        return -EPIPE;
    return 0;
}

static void simple(int fd, int code, const char *reason, const char *extra,
                   bool head, bool keep, bool *alive)
{
    char *body = malloc(128);
    if (body == NULL) {
        *alive = false;
        return;
    }
    int n = snprintf(body, 128, "%d %s\n", code, reason);
    if (respond(fd, code, reason, "text/plain; charset=utf-8", extra, body,
                (size_t)n, head, keep) < 0)
        *alive = false;
    free(body);
}

/* readiness writes into b why the daemon is not ready (one line each) and
 * returns whether it is (/readyz, above). On a G: takes gd.lock. */
static bool readiness(strbuf *b)
{
    if (atomic_load(&gd.stopping)) {
        sb_printf(b, "draining: shutting down\n");
        return false;
    }
    bool ready = true;
    if (gd.lock)
        goro_mutex_lock(gd.lock);
    if (!gd.started) {
        ready = false;
        sb_printf(b, "starting: the plugins are not started yet\n");
    }
    for (gorod_plugin *p = gd.plugins; p != NULL; p = p->next) {
        /* Started: start() runs, or returned 0 (its Gs serve). */
        /* acquire: start_g wrote status before its CAS of state */
        int st = atomic_load_explicit(&p->state, memory_order_acquire);
        if (st == PLUGIN_RUNNING || (st == PLUGIN_EXITED && p->status == 0))
            continue;
        ready = false;
        if (st == PLUGIN_STOPPING)
            sb_printf(b, "plugin %s: stopping\n",
                      p->conf.name ? p->conf.name : "?");
        else
            sb_printf(b, "plugin %s: start returned %d\n",
                      p->conf.name ? p->conf.name : "?", p->status);
    }
    for (gorod_refusal *r = gd.refused; r != NULL; r = r->next) {
        ready = false;
        sb_printf(b, "plugin %s: refused\n", r->name);
    }
    if (gd.lock)
        goro_mutex_unlock(gd.lock);
    return ready;
}

/* probe answers /healthz (readyz false) or /readyz. */
static void probe(int fd, bool readyz, bool head, bool keep, bool *alive)
{
    strbuf b = {0};
    bool ok = readyz ? readiness(&b) : true;
    if (ok)
        sb_printf(&b, readyz ? "ready\n" : "ok\n");
    if (b.oom || b.p == NULL) {
        free(b.p);
        simple(fd, 500, "Internal Server Error", NULL, head, false, alive);
        *alive = false;
        return;
    }
    if (respond(fd, ok ? 200 : 503, ok ? "OK" : "Service Unavailable",
                "text/plain; charset=utf-8", NULL, b.p, b.len, head,
                keep) < 0)
        *alive = false;
    free(b.p);
}

/* serve answers one request whose request line and headers are req
 * (NUL-terminated, without the blank line). Sets *alive false when the
 * connection must close after it. */
static void serve(int fd, char *req, bool *alive)
{
    char *hdrs = strchr(req, '\n');
    if (hdrs)
        *hdrs++ = '\0';
    else
        hdrs = req + strlen(req);
    size_t rl = strlen(req);
    if (rl > 0 && req[rl - 1] == '\r')
        req[--rl] = '\0';

    /* METHOD SP TARGET SP HTTP/1.x */
    char *sp1 = strchr(req, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == req || sp2 == sp1 + 1 ||
        strchr(sp2 + 1, ' ') != NULL ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9' ||
        sp2[9] != '\0') {
        simple(fd, 400, "Bad Request", NULL, false, false, alive);
        *alive = false;
        return;
    }
    *sp1 = *sp2 = '\0';
    const char *method = req, *target = sp1 + 1;
    bool http10 = sp2[8] == '0';

    char *val = malloc(256);
    if (val == NULL) {
        *alive = false;
        return;
    }
    bool keep = !http10;
    if (header(hdrs, "Connection", val, 256)) {
        if (has_token(val, "close"))
            keep = false;
        else if (has_token(val, "keep-alive"))
            keep = true;
    }
    /* A body we would have to skip: answer, then close. */
    if ((header(hdrs, "Content-Length", val, 256) && strcmp(val, "0") != 0) ||
        header(hdrs, "Transfer-Encoding", val, 256))
        keep = false;
    free(val);
    if (!keep)
        *alive = false;

    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        simple(fd, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", false,
               keep, alive);
        return;
    }
    size_t tl = strcspn(target, "?#");
    if ((tl == 8 && strncmp(target, "/healthz", 8) == 0) ||
        (tl == 7 && strncmp(target, "/readyz", 7) == 0)) {
        probe(fd, tl == 7, head, keep, alive);
        return;
    }
    if (tl != 8 || strncmp(target, "/metrics", 8) != 0) {
        simple(fd, 404, "Not Found", NULL, head, keep, alive);
        return;
    }
    atomic_fetch_add_explicit(&gd.metrics_requests, 1, memory_order_relaxed);
    size_t blen = 0;
    char *body = metrics_render(&blen);
    if (body == NULL) {
        simple(fd, 500, "Internal Server Error", NULL, head, false, alive);
        *alive = false;
        return;
    }
    if (respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                NULL, body, blen, head, keep) < 0)
        *alive = false;
    free(body);
}

static fdreserve metrics_reserve;  /* fdreserve.c */

/* metrics_conn is the G of one connection (arg: the fd). It reads requests
 * into buf (buffered bytes kept for a pipelined next request) and serves
 * each until the client closes, goes idle, or asks to close. */
static void metrics_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(METRICS_REQ_MAX + 1);
    size_t have = 0;
    bool alive = buf != NULL;

    while (alive && !atomic_load(&metrics_stopping)) {
        /* Read until the blank line ending the headers. The request's
         * clock starts at its first byte (bytes left over from the one
         * before are its first) and is not renewed by later reads: a
         * client that trickles a byte at a time is cut METRICS_REQ_NS
         * after it began. */
        bool begun = have > 0;
        int64_t deadline = gorod_now() + (begun ? METRICS_REQ_NS
                                                : METRICS_IDLE_NS);
        char *end = NULL;
        size_t endlen = 0;
        for (;;) {
            buf[have] = '\0';
            char *a = strstr(buf, "\r\n\r\n"), *c = strstr(buf, "\n\n");
            if (a && (!c || a < c)) {
                end = a;
                endlen = 4;
            } else if (c) {
                end = c;
                endlen = 2;
            }
            if (end || have == METRICS_REQ_MAX)
                break;
            ssize_t n = goro_read_deadline(fd, buf + have,
                                           METRICS_REQ_MAX - have, deadline);
            if (n <= 0) {
                alive = false;     /* closed, idle too long, or an error */
                break;
            }
            if (memchr(buf + have, '\0', (size_t)n) != NULL) {
                have = METRICS_REQ_MAX;   /* a NUL: not HTTP */
                break;
            }
            have += (size_t)n;
            if (!begun) {
                begun = true;
                deadline = gorod_now() + METRICS_REQ_NS;
            }
        }
        if (!alive)
            break;
        if (end == NULL) {
            bool dummy = true;
            simple(fd, 400, "Bad Request", NULL, false, false, &dummy);
            break;
        }
        *end = '\0';
        size_t used = (size_t)(end - buf) + endlen;
        /* Leading blank lines before a request are allowed (RFC 9112 2.2). */
        char *req = buf;
        while (*req == '\r' || *req == '\n')
            req++;
        if (*req)
            serve(fd, req, &alive);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    free(buf);
    goro_close(fd);
    fdreserve_fill(&metrics_reserve);
    atomic_fetch_sub(&metrics_conns, 1);
}

/* metrics_admit: room for fd among METRICS_MAX_CONNS (else it is
 * closed: an HTTP client retries). */
static bool metrics_admit(int fd)
{
    if (atomic_fetch_add(&metrics_conns, 1) >= METRICS_MAX_CONNS) {
        atomic_fetch_sub(&metrics_conns, 1);
        goro_close(fd);
        return false;
    }
    return true;
}

static void metrics_unadmit(void)
{
    atomic_fetch_sub(&metrics_conns, 1);
}

static const ctllistener metrics_listener = {
    "the metrics listener", "metrics", &metrics_reserve, &metrics_stopping,
    metrics_admit, metrics_unadmit, metrics_conn,
};

/* metrics_accept is the listener's G (arg: the listening fd). */
static void metrics_accept(void *arg)
{
    fdreserve_accept(&metrics_listener, (int)(intptr_t)arg);
}

/* metrics_start listens on c->metrics.listen (nothing when ""): 0, or
 * -errno, logged. On a G. */
int metrics_start(const gorod_config *c)
{
    if (c == NULL || c->metrics.listen == NULL || c->metrics.listen[0] == '\0')
        return 0;
    if (atomic_load(&metrics_lfd) >= 0)
        return -EALREADY;
    char host[64];
    int port;
    if (parse_listen(c->metrics.listen, host, sizeof host, &port) < 0) {
        gorod_log(GLOG_ERROR, "metrics: listen: \"%s\" is not ADDRESS:PORT "
                  "(127.0.0.1:9464 or [::1]:9464)", c->metrics.listen);
        return -EINVAL;
    }
    int fd = goro_tcp_listen(host, port, 0);
    if (fd < 0) {
        gorod_log(GLOG_ERROR, "metrics: listen on %s: %s", c->metrics.listen,
                  strerror(-fd));
        return fd;
    }
    atomic_store(&metrics_stopping, false);
    atomic_store(&metrics_lfd, fd);
    fdreserve_fill(&metrics_reserve);  /* as admin_start's */
    int64_t id = goro_go(metrics_accept, (void *)(intptr_t)fd);
    if (id < 0) {
        fdreserve_close(&metrics_reserve);
        atomic_store(&metrics_lfd, -1);
        goro_close(fd);
        gorod_log(GLOG_ERROR, "metrics: %s", strerror((int)-id));
        return (int)id;
    }
    gorod_log(GLOG_INFO, "metrics: serving http://%s/metrics",
              c->metrics.listen);
    return 0;
}

/* metrics_stop closes the listener: its G wakes with -ECANCELED and ends.
 * Connections being served end at their next request or deadline. */
void metrics_stop(void)
{
    int fd = atomic_exchange(&metrics_lfd, -1);
    if (fd < 0)
        return;
    atomic_store(&metrics_stopping, true);
    goro_close(fd);
}
