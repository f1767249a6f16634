/*
 * whereto.c - the lines gorod logs once it runs: where to connect.
 *
 *   gorod: info: where to connect:
 *   gorod: info:   echo       127.0.0.1:7007 (listener echo)
 *   gorod: info:   httphello  127.0.0.1:8080 (port=8080 in its args)
 *   gorod: info:   stackwave  no address in its args
 *   gorod: info:   metrics    http://127.0.0.1:9464/metrics (also /healthz, /readyz)
 *   gorod: info:   goroctl    build/bin/goroctl status
 *
 * They are made from the configuration in effect and what gorod holds (the
 * listeners' bound addresses, the plugins' states, the record of the admin
 * socket), so they are true for any file, and they come after the plugins
 * have had their grace to fail (gorod.c): a plugin whose start() failed is
 * said not to serve. A plugin's own port is known only by the convention
 * of the example plugins' arguments (listener=NAME, port=N, host=ADDR;
 * plugins/tcpserver.h): gorod does not see which sockets a plugin opens.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gorod.h"
#include "sockrecord.h"

/* arg_value finds key=VALUE among the space-separated pairs of args and
 * copies VALUE into val: true, or false when absent. */
static bool arg_value(const char *args, const char *key, char *val,
                      size_t len)
{
    size_t kl = strlen(key);
    for (const char *s = args ? args : ""; *s; ) {
        s += strspn(s, " \t");
        size_t n = strcspn(s, " \t");
        if (n > kl && strncmp(s, key, kl) == 0 && s[kl] == '=') {
            size_t vl = n - kl - 1 < len - 1 ? n - kl - 1 : len - 1;
            memcpy(val, s + kl + 1, vl);
            val[vl] = '\0';
            return true;
        }
        s += n;
    }
    return false;
}

/* plugin_where writes where p serves into out. Under gd.lock. */
static void plugin_where(const gorod_plugin *p, char *out, size_t len)
{
    char name[64], port[16], host[64];
    const char *args = p->conf.args;
    out[0] = '\0';
    if (arg_value(args, "listener", name, sizeof name)) {
        const gorod_listener *l = gd.listeners;
        while (l != NULL && strcmp(l->conf.name, name) != 0)
            l = l->next;
        if (l != NULL)
            snprintf(out, len, "%s (listener %s%s)", l->bound, name,
                     l->inherited ? ", from systemd" : "");
        else
            snprintf(out, len, "listener %s, which the configuration does "
                     "not have", name);
    } else if (arg_value(args, "port", port, sizeof port)) {
        if (!arg_value(args, "host", host, sizeof host))
            snprintf(host, sizeof host, "127.0.0.1");
        snprintf(out, len, "%s%s%s:%s (port=%s in its args)",
                 strchr(host, ':') ? "[" : "", host,
                 strchr(host, ':') ? "]" : "", port, port);
    }
    int st = atomic_load_explicit(&p->state, memory_order_acquire);
    if (st == PLUGIN_FAILED || (st == PLUGIN_EXITED && p->status != 0)) {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%snot serving: start returned %d (its "
                 "message is above)", n ? ": " : "", p->status);
    } else if (out[0] == '\0') {
        snprintf(out, len, "no address in its args");
    }
}

/* goroctl_path: the goroctl beside this gorod (build/bin/goroctl, relative
 * to the working directory when under it), else "goroctl". */
static void goroctl_path(char *out, size_t len)
{
    char exe[PATH_MAX], cwd[PATH_MAX];
    snprintf(out, len, "goroctl");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL || (size_t)(slash - exe) + sizeof "/goroctl" > sizeof exe)
        return;
    strcpy(slash, "/goroctl");
    if (access(exe, X_OK) != 0)
        return;
    size_t cl;
    if (getcwd(cwd, sizeof cwd) != NULL && (cl = strlen(cwd)) > 1 &&
        strncmp(exe, cwd, cl) == 0 && exe[cl] == '/')
        snprintf(out, len, "%s", exe + cl + 1);
    else
        snprintf(out, len, "%s", exe);
}

void gorod_where(void)
{
    size_t cap = 8192;
    char *text = malloc(cap), *line = malloc(1024);
    if (text == NULL || line == NULL) {
        free(text);
        free(line);
        return;
    }
    size_t used = 0;
#define ADD(...) do { int n_ = snprintf(text + used, cap - used, __VA_ARGS__); \
                      if (n_ > 0 && (size_t)n_ < cap - used) used += (size_t)n_; \
                    } while (0)
    goro_mutex_lock(gd.lock);
    const gorod_config *c = gd.conf;
    int width = 9;                      /* "metrics", "goroctl", names */
    for (const gorod_plugin *p = gd.plugins; p != NULL; p = p->next)
        if ((int)strlen(p->conf.name) > width)
            width = (int)strlen(p->conf.name);
    for (const gorod_plugin *p = gd.plugins; p != NULL; p = p->next) {
        plugin_where(p, line, 1024);
        ADD("  %-*s  %s\n", width, p->conf.name, line);
    }
    for (const gorod_refusal *r = gd.refused; r != NULL; r = r->next)
        ADD("  %-*s  not serving: refused (above)\n", width, r->name);
    if (c->metrics.listen[0])
        ADD("  %-*s  http://%s/metrics (also /healthz, /readyz)\n", width,
            "metrics", c->metrics.listen);
    const char *sock = c->admin.socket;
    goro_mutex_unlock(gd.lock);

    char ctl[PATH_MAX];
    goroctl_path(ctl, sizeof ctl);
    struct stat st;
    if (sock[0] == '\0')
        ADD("  %-*s  none: admin.socket is \"\"\n", width, "goroctl");
    else if (strcmp(sock, GOROD_SYSTEM_SOCKET) == 0)
        ADD("  %-*s  %s status\n", width, "goroctl", ctl);
    else if (lstat(GOROD_SYSTEM_SOCKET, &st) == 0 &&
             (st.st_uid == geteuid() || geteuid() == 0))
        /* goroctl with no socket would ask the system's gorod first. */
        ADD("  %-*s  %s --socket %s status (without it, goroctl asks the "
            "gorod of %s)\n", width, "goroctl", ctl, sock,
            GOROD_SYSTEM_SOCKET);
    else if (sockrecord_current() != NULL)
        ADD("  %-*s  %s status (it finds %s through %s)\n", width, "goroctl",
            ctl, sock, sockrecord_current());
    else
        ADD("  %-*s  %s --socket %s status\n", width, "goroctl", ctl, sock);
#undef ADD
    gorod_log(GLOG_INFO, "where to connect:");
    for (char *l = text; *l; ) {
        size_t n = strcspn(l, "\n");
        gorod_log(GLOG_INFO, "%.*s", (int)n, l);
        l += n;
        if (*l == '\n')
            l++;
    }
    free(text);
    free(line);
}
