/*
 * listener.c - named listening sockets that gorod holds for its plugins,
 * taken from systemd's socket activation or opened here.
 *
 * A plugin that opens its own listener closes it when it stops, so every
 * reload that restarts it (its entry changed) and every restart of gorod
 * refuses connections for as long as the plugin is down: the kernel
 * answers a SYN to a port nobody listens on with a reset. So the daemon,
 * which outlives its plugins, holds the socket instead: the configuration
 * names listeners (`listeners:` in gorod.yaml, each a name and an
 * address), and a plugin asks for one by name with
 * goro_plugin_listener(name) (goro/plugin.h), getting the fd, which stays
 * gorod's. While a plugin restarts, the kernel queues new connections in
 * the socket's backlog and the next instance accepts them: none is
 * refused. Across a restart of gorod itself systemd does the same:
 * systemd/gorod.socket holds the socket and passes it to each gorod it
 * starts (LISTEN_FDS, sd_listen_fds(3)), named by FileDescriptorName=,
 * which must be the listener's name in the configuration.
 *
 * Where each listener's fd comes from, when the configuration is applied
 * (at start, then at every reload):
 *   - a listener whose name and address are as before keeps its fd (a new
 *     backlog is applied to it by listen(2) again);
 *   - a new one (or one whose address changed) takes the socket systemd
 *     passed under its name if there is one, whatever its address (systemd's
 *     ListenStream= says where it listens), else gorod opens the address
 *     (goro_listen: SO_REUSEADDR, non-blocking, close-on-exec);
 *   - one that left the configuration (or changed its address) is closed
 *     once no plugin that took it is loaded any more: gorod_reload stops
 *     the plugins that took a changed listener, as it stops plugins whose
 *     entry changed, and a plugin still stopping keeps its socket open
 *     until its last G ends (plugin_free calls listeners_release).
 * Sockets systemd passed that no listener names stay open for a reload
 * that adds one, with a warning at start.
 *
 * A plugin's hold on a listener is counted once per loaded instance
 * (gorod_plugin.taken), not per call, and is given back when the instance
 * is unloaded. The fd is never closed by a plugin: its Gs only accept on
 * it, and goro_group_cancel wakes an accept parked on it at stop without
 * closing it.
 *
 * Rejected: per-plugin listen keys in the plugins' entries (two plugins
 * could not share a socket, and systemd's names would have to match a
 * plugin's name and argument at once); passing the fds to plugins through
 * their args string (a number that means nothing in the file, and the
 * plugin could not tell a restart from a start); SO_REUSEPORT with the new
 * instance listening before the old one closes (connections queued on the
 * old socket's backlog are reset when it closes, and systemd's socket
 * could not be shared that way).
 */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gorod.h"

/* The first fd systemd passes (SD_LISTEN_FDS_START of sd-daemon.h). */
#define LISTEN_FDS_START 3

/* The sockets systemd passed, until a listener takes one: fd -1 once
 * taken. Written by listeners_inherit before the runtime starts, then
 * read and taken under gd.lock. */
static struct inherited {
    int  fd;
    char name[256];
} *inherited;
static unsigned ninherited;

/* bound_name writes fd's local address as HOST:PORT ([HOST]:PORT for
 * IPv6), or "?" when it has none of those. */
static void bound_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    snprintf(buf, len, "?");
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        snprintf(buf, len, "a Unix socket");
    }
}

int listeners_inherit(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    char *namescopy = names ? strdup(names) : NULL;
    int n = 0;
    if (pid != NULL && fds != NULL) {
        char *end;
        long p = strtol(pid, &end, 10);
        long k = strtol(fds, &end, 10);
        if (p != (long)getpid())
            gorod_log(GLOG_WARN, "LISTEN_PID %s is not gorod's pid %d: the "
                      "sockets of LISTEN_FDS are not for it; ignored", pid,
                      (int)getpid());
        else if (*fds == '\0' || *end != '\0' || k < 0 || k > 1024)
            gorod_log(GLOG_WARN, "LISTEN_FDS %s is not a number of sockets "
                      "(0..1024); ignored", fds);
        else
            n = (int)k;
    }
    /* As sd_listen_fds(fd, 1): what a plugin or its children might start
     * must not take the sockets for theirs. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n > 0 && (inherited = calloc((size_t)n, sizeof *inherited)) == NULL) {
        free(namescopy);
        return -ENOMEM;
    }
    char *save = NULL, *name = namescopy ? strtok_r(namescopy, ":", &save)
                                         : NULL;
    for (int i = 0; i < n; i++) {
        int fd = LISTEN_FDS_START + i;
        struct inherited *in = &inherited[ninherited];
        /* systemd's name when FileDescriptorName= is not set. */
        snprintf(in->name, sizeof in->name, "%s", name ? name : "unknown");
        name = name ? strtok_r(NULL, ":", &save) : NULL;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            gorod_log(GLOG_WARN, "LISTEN_FDS: fd %d (%s) is not a socket; "
                      "ignored", fd, in->name);
            continue;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
            gorod_log(GLOG_WARN, "LISTEN_FDS: fd %d (%s): %s; ignored", fd,
                      in->name, strerror(errno));
            continue;
        }
        in->fd = fd;
        ninherited++;
        gorod_log(GLOG_DEBUG, "LISTEN_FDS: fd %d named %s from systemd", fd,
                  in->name);
    }
    free(namescopy);
    return 0;
}

/* take_inherited returns the socket systemd passed under name, and
 * forgets it; -1 when none. gd.lock held. */
static int take_inherited(const char *name)
{
    for (unsigned i = 0; i < ninherited; i++)
        if (inherited[i].fd >= 0 && strcmp(inherited[i].name, name) == 0) {
            int fd = inherited[i].fd;
            inherited[i].fd = -1;
            return fd;
        }
    return -1;
}

static const gorod_listener_conf *find_conf(const gorod_config *c,
                                            const char *name)
{
    for (unsigned i = 0; i < c->nlisteners; i++)
        if (strcmp(c->listeners[i].name, name) == 0)
            return &c->listeners[i];
    return NULL;
}

/* listener_free closes l's socket (goro_close: accepts may have waited on
 * it) and frees it. Not under gd.lock: it logs. */
static void listener_free(gorod_listener *l)
{
    gorod_log(GLOG_INFO, "listener %s: %s closed", l->conf.name, l->bound);
    goro_close(l->fd);
    free(l->conf.name);
    free(l->conf.address);
    free(l);
}

/* open_listener makes the listener of c from fd, systemd's socket of that
 * name, or (fd -1) a new socket. NULL with the reason in err. Not under
 * gd.lock: it logs, and goro_listen is a call on the runtime. */
static gorod_listener *open_listener(const gorod_listener_conf *c, int fd,
                                     char *err, size_t len)
{
    gorod_listener *l = calloc(1, sizeof *l);
    if (l == NULL || (l->conf.name = strdup(c->name)) == NULL ||
        (l->conf.address = strdup(c->address)) == NULL) {
        snprintf(err, len, "listener %s: out of memory", c->name);
        goto fail;
    }
    l->conf.backlog = c->backlog;
    l->conf.line = c->line;
    l->inherited = fd >= 0;
    if (fd < 0) {
        fd = goro_listen("tcp", c->address,
                         c->backlog ? (int)c->backlog : -1);
        if (fd < 0) {
            snprintf(err, len, "listener %s: cannot listen on %s: %s",
                     c->name, c->address, strerror(-fd));
            goto fail;
        }
    } else if (c->backlog != 0 && listen(fd, (int)c->backlog) != 0) {
        gorod_log(GLOG_WARN, "listener %s: backlog %u: %s", c->name,
                  c->backlog, strerror(errno));
    }
    l->fd = fd;
    bound_name(fd, l->bound, sizeof l->bound);
    if (l->inherited)
        gorod_log(GLOG_INFO, "listener %s: %s from systemd (LISTEN_FDS)",
                  c->name, l->bound);
    else
        gorod_log(GLOG_INFO, "listener %s: listening on %s", c->name,
                  l->bound);
    return l;
fail:
    if (l != NULL) {
        free(l->conf.name);
        free(l->conf.address);
        free(l);
    }
    return NULL;
}

int listeners_apply(const gorod_config *c, char *err, size_t len)
{
    gorod_listener *closing = NULL;
    /* Those gone or changed leave; those kept take a new backlog. */
    goro_mutex_lock(gd.lock);
    for (gorod_listener **pp = &gd.listeners; *pp != NULL;) {
        gorod_listener *l = *pp;
        if (l->removed) {           /* left earlier, still taken */
            pp = &l->next;
            continue;
        }
        const gorod_listener_conf *nc = find_conf(c, l->conf.name);
        if (nc != NULL && strcmp(nc->address, l->conf.address) == 0) {
            if (nc->backlog != l->conf.backlog) {
                int b = nc->backlog ? (int)nc->backlog : -1;
                if (listen(l->fd, b) != 0)
                    gorod_log(GLOG_WARN, "listener %s: backlog %u: %s",
                              l->conf.name, nc->backlog, strerror(errno));
                l->conf.backlog = nc->backlog;
            }
            pp = &l->next;
            continue;
        }
        l->removed = true;
        if (l->users == 0) {
            *pp = l->next;
            l->next = closing;
            closing = l;
        } else {
            gorod_log(GLOG_INFO, "listener %s: %s; closed once the %d "
                      "plugin(s) that took it are unloaded", l->conf.name,
                      nc == NULL ? "removed" : "address changed", l->users);
            pp = &l->next;
        }
    }
    goro_mutex_unlock(gd.lock);
    /* Closed before the new ones open: a changed address may be the same
     * port on another host address. */
    while (closing != NULL) {
        gorod_listener *l = closing;
        closing = l->next;
        listener_free(l);
    }

    int failed = 0;
    for (unsigned i = 0; i < c->nlisteners; i++) {
        const gorod_listener_conf *lc = &c->listeners[i];
        goro_mutex_lock(gd.lock);
        bool have = false;
        for (gorod_listener *l = gd.listeners; l != NULL; l = l->next)
            if (!l->removed && strcmp(l->conf.name, lc->name) == 0)
                have = true;
        int fd = have ? -1 : take_inherited(lc->name);
        goro_mutex_unlock(gd.lock);
        if (have)
            continue;
        char msg[512];
        gorod_listener *l = open_listener(lc, fd, msg, sizeof msg);
        if (l == NULL) {
            gorod_log(GLOG_ERROR, "%s", msg);
            size_t used = strlen(err);
            if (used + 2 < len)
                snprintf(err + used, len - used, "%s%s", used ? "\n" : "",
                         msg);
            failed++;
            continue;
        }
        goro_mutex_lock(gd.lock);
        gorod_listener **tail = &gd.listeners;
        while (*tail != NULL)
            tail = &(*tail)->next;
        *tail = l;
        goro_mutex_unlock(gd.lock);
    }
    return failed;
}

void listeners_warn_unused(void)
{
    goro_mutex_lock(gd.lock);
    for (unsigned i = 0; i < ninherited; i++)
        if (inherited[i].fd >= 0)
            gorod_log(GLOG_WARN, "LISTEN_FDS: socket %s (fd %d) is named by "
                      "no listener of the configuration (systemd's "
                      "FileDescriptorName= must be a listener's name); "
                      "kept for a reload that adds one", inherited[i].name,
                      inherited[i].fd);
    goro_mutex_unlock(gd.lock);
}

bool listeners_changed(const gorod_plugin *p, const gorod_config *c)
{
    bool changed = false;
    goro_mutex_lock(gd.lock);
    for (unsigned i = 0; i < p->ntaken && !changed; i++) {
        const gorod_listener_conf *nc = find_conf(c, p->taken[i]->conf.name);
        changed = nc == NULL ||
                  strcmp(nc->address, p->taken[i]->conf.address) != 0;
    }
    goro_mutex_unlock(gd.lock);
    return changed;
}

void listeners_release(gorod_plugin *p)
{
    gorod_listener *closing = NULL;
    goro_mutex_lock(gd.lock);
    for (unsigned i = 0; i < p->ntaken; i++) {
        gorod_listener *l = p->taken[i];
        if (--l->users > 0 || !l->removed)
            continue;
        for (gorod_listener **pp = &gd.listeners; *pp != NULL;
             pp = &(*pp)->next)
            if (*pp == l) {
                *pp = l->next;
                break;
            }
        l->next = closing;
        closing = l;
    }
    free(p->taken);
    p->taken = NULL;
    p->ntaken = 0;
    goro_mutex_unlock(gd.lock);
    while (closing != NULL) {
        gorod_listener *l = closing;
        closing = l->next;
        listener_free(l);
    }
}

void listeners_close_all(void)
{
    goro_mutex_lock(gd.lock);
    gorod_listener *all = gd.listeners;
    gd.listeners = NULL;
    goro_mutex_unlock(gd.lock);
    while (all != NULL) {
        gorod_listener *l = all;
        all = l->next;
        listener_free(l);
    }
}

/* gorod_listener_fd: goro_plugin_listener's target, exported to the plugins.
 * The caller's group says which plugin takes the listener. */
__attribute__((visibility("default"))) int gorod_listener_fd(const char *name)
{
    if (name == NULL)
        return -EINVAL;
    gorod_plugin *p = goro_group_udata(goro_group_self());
    int fd = -ENOENT;
    goro_mutex_lock(gd.lock);
    for (gorod_listener *l = gd.listeners; l != NULL; l = l->next) {
        if (l->removed || strcmp(l->conf.name, name) != 0)
            continue;
        fd = l->fd;
        if (p == NULL)
            break;
        bool held = false;
        for (unsigned i = 0; i < p->ntaken; i++)
            held |= p->taken[i] == l;
        if (held)
            break;
        gorod_listener **t = realloc(p->taken, (p->ntaken + 1) * sizeof *t);
        if (t == NULL) {
            fd = -ENOMEM;
            break;
        }
        p->taken = t;
        p->taken[p->ntaken++] = l;
        l->users++;
        break;
    }
    goro_mutex_unlock(gd.lock);
    return fd;
}
