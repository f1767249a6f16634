/*
 * plugin.c - task plugins: loading, checking, starting, stopping, unloading.
 *
 * A plugin is a shared object that defines goro_plugin_entry (goro/plugin.h).
 * Loading checks, in order, and refuses with a message that names the file
 * and the reason:
 *   - the file is there and readable;
 *   - it carries .note.GNU-split-stack (read from the ELF file: the section
 *     is not mapped), unless its entry says `stack: fixed`: code built
 *     without -fsplit-stack has no prologue checks, and would run off a
 *     2 KiB stack that the runtime cannot see it needs to grow; and with
 *     it, .note.goro: goro's morestack stubs, not libgcc's __morestack;
 *   - dlopen(RTLD_NOW | RTLD_LOCAL) succeeds: every symbol bound now, so a
 *     missing one is a refusal and not a crash later (not RTLD_DEEPBIND: it
 *     gives the plugin its own malloc lookups, which breaks jemalloc);
 *   - goro_plugin_entry exists, its abi is GORO_PLUGIN_ABI, start is set.
 * dlopen and dlclose run the plugin's constructors and destructors on an
 * ordinary thread stack (goro_blocking), not on a G's.
 *
 * Each plugin gets a group of Gs named after it (fixed stacks for `stack:
 * fixed`); start(args) runs as the group's first G, so every G it spawns is
 * counted in it. stop() runs in a second group, "NAME/stop", of the same
 * kind of stack; when it returns, the plugin's group is cancelled
 * (goro_group_cancel, cause -ESHUTDOWN): its Gs' waits end wherever they
 * are, so a plugin without a stop() of its own stops too if its Gs end
 * when a wait fails. A plugin's code may be unmapped only when both
 * groups are empty: no G of it is left to return into it.
 */

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gorod.h"

int64_t gorod_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (d == NULL) {
        gorod_log(GLOG_ERROR, "out of memory");
        abort();
    }
    return d;
}

static void conf_copy(gorod_plugin_conf *dst, const gorod_plugin_conf *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name);
    dst->path = xstrdup(src->path);
    dst->args = xstrdup(src->args);
}

/* ---- dlopen and dlclose on a thread of their own ------------------------- */

struct dlreq {
    const char *path;
    void *handle;
    char err[512];
};

static void do_dlopen(void *arg)
{
    struct dlreq *r = arg;
    r->handle = dlopen(r->path, RTLD_NOW | RTLD_LOCAL);
    if (r->handle == NULL) {
        const char *e = dlerror();
        snprintf(r->err, sizeof r->err, "%s", e ? e : "dlopen failed");
    }
}

static void do_dlclose(void *arg)
{
    struct dlreq *r = arg;
    dlclose(r->handle);
}

/* ---- the plugin's Gs ------------------------------------------------------- */

static void start_g(void *arg)
{
    gorod_plugin *p = arg;
    int rc = p->entry->start(p->conf.args);
    p->status = rc;
    int expect = PLUGIN_RUNNING;
    if (rc != 0 &&
        atomic_compare_exchange_strong(&p->state, &expect, PLUGIN_FAILED))
        gorod_log(GLOG_ERROR, "plugin %s: start returned %d", p->conf.name, rc);
    else {
        expect = PLUGIN_RUNNING;
        atomic_compare_exchange_strong(&p->state, &expect, PLUGIN_EXITED);
        gorod_log(GLOG_INFO, "plugin %s: start returned %d", p->conf.name, rc);
    }
}

static void stop_g(void *arg)
{
    gorod_plugin *p = arg;
    if (p->entry->stop != NULL)
        p->entry->stop();
    /* Whatever stop() did, the plugin's Gs stop waiting: every wait of
     * theirs that can report it ends with -ECANCELED (goro.h). */
    goro_group_cancel(p->group, -ESHUTDOWN);
}

/* ---- load, stop, unload ------------------------------------------------------ */

gorod_plugin *plugin_load(const gorod_plugin_conf *c, char *err, size_t len)
{
    if (access(c->path, R_OK) != 0) {
        snprintf(err, len, "plugin %s: %s: %s", c->name, c->path,
                 strerror(errno));
        return NULL;
    }
    if (!c->fixed) {
        char why[256];
        int r = elf_has_split_stack_note(c->path, why, sizeof why);
        if (r < 0) {
            snprintf(err, len, "plugin %s: %s: %s", c->name, c->path, why);
            return NULL;
        }
        if (r == 0) {
            snprintf(err, len,
                     "plugin %s: %s: no .note.GNU-split-stack section: not "
                     "built with -fsplit-stack (use the flags of pkg-config "
                     "--cflags goro, or set `stack: fixed`)",
                     c->name, c->path);
            return NULL;
        }
        if (elf_has_section(c->path, ".note.goro", why, sizeof why) != 1) {
            snprintf(err, len,
                     "plugin %s: %s: split-stack code without goro's "
                     "morestack stubs (no .note.goro section): libgcc's "
                     "segmented-stack __morestack would run on goro's "
                     "stacks; link it with the flags of pkg-config --libs "
                     "goro (-Wl,--whole-archive -lgoro_morestack "
                     "-Wl,--no-whole-archive)",
                     c->name, c->path);
            return NULL;
        }
    }
    struct dlreq dr;
    memset(&dr, 0, sizeof dr);
    dr.path = c->path;
    goro_blocking(do_dlopen, &dr);
    if (dr.handle == NULL) {
        snprintf(err, len, "plugin %s: %s: cannot load: %s", c->name,
                 c->path, dr.err);
        return NULL;
    }
    const goro_plugin *e = dlsym(dr.handle, "goro_plugin_entry");
    const char *why = NULL;
    char buf[128];
    if (e == NULL)
        why = "no goro_plugin_entry (define it with GORO_PLUGIN_DEFINE)";
    else if (e->abi != GORO_PLUGIN_ABI) {
        snprintf(buf, sizeof buf, "plugin ABI %u, gorod speaks %u",
                 (unsigned)e->abi, (unsigned)GORO_PLUGIN_ABI);
        why = buf;
    } else if (e->start == NULL)
        why = "goro_plugin_entry has no start function";
    if (why != NULL) {
        snprintf(err, len, "plugin %s: %s: %s", c->name, c->path, why);
        goro_blocking(do_dlclose, &dr);
        return NULL;
    }

    gorod_plugin *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, len, "plugin %s: out of memory", c->name);
        goro_blocking(do_dlclose, &dr);
        return NULL;
    }
    conf_copy(&p->conf, c);
    p->handle = dr.handle;
    p->entry = e;
    size_t fixed = c->fixed ? c->fixed_stack_size : 0;
    char stopname[64];
    snprintf(stopname, sizeof stopname, "%s/stop", c->name);
    p->group = goro_group_new(c->name, fixed, p);
    p->stopgroup = goro_group_new(stopname, fixed, p);
    if (p->group == NULL || p->stopgroup == NULL) {
        snprintf(err, len, "plugin %s: cannot make its group: %s", c->name,
                 strerror(errno));
        goro_group_free(p->group);
        goro_group_free(p->stopgroup);
        plugin_free(p);
        return NULL;
    }
    atomic_store(&p->state, PLUGIN_RUNNING);
    p->started_ns = gorod_now();
    int64_t id = goro_group_go(p->group, start_g, p);
    if (id < 0) {
        snprintf(err, len, "plugin %s: cannot start: %s", c->name,
                 strerror((int)-id));
        goro_group_free(p->group);
        goro_group_free(p->stopgroup);
        plugin_free(p);
        return NULL;
    }
    gorod_log(GLOG_INFO, "plugin %s: loaded %s (%s %s, %s stacks)", c->name,
              c->path, e->name ? e->name : "?", e->version ? e->version : "?",
              c->fixed ? "fixed" : "copying");
    return p;
}

void plugin_stop(gorod_plugin *p)
{
    int st = atomic_exchange(&p->state, PLUGIN_STOPPING);
    if (st == PLUGIN_STOPPING)
        return;
    if (st == PLUGIN_FAILED)
        atomic_store(&p->state, PLUGIN_FAILED);
    if (goro_group_go(p->stopgroup, stop_g, p) < 0)
        gorod_log(GLOG_ERROR, "plugin %s: cannot run stop()", p->conf.name);
}

int plugin_wait(gorod_plugin *p, int64_t deadline_ns)
{
    int err = goro_group_wait(p->group, deadline_ns);
    if (err == 0)
        err = goro_group_wait(p->stopgroup, deadline_ns);
    return err;
}

/* plugin_free unloads p, whose groups must be empty (plugin_wait). */
void plugin_free(gorod_plugin *p)
{
    if (p == NULL)
        return;
    if (p->group && goro_group_free(p->group) != 0)
        return;  /* Gs left: its code must stay mapped */
    if (p->stopgroup && goro_group_free(p->stopgroup) != 0)
        return;
    listeners_release(p);
    if (p->handle != NULL) {
        struct dlreq dr = {.handle = p->handle};
        goro_blocking(do_dlclose, &dr);
    }
    free(p->conf.name);
    free(p->conf.path);
    free(p->conf.args);
    free(p);
}

/* gorod_served: goro_plugin_served's target, exported to the plugins. The
 * caller's group says whose request it was. */
__attribute__((visibility("default"))) void gorod_served(uint64_t n)
{
    gorod_plugin *p = goro_group_udata(goro_group_self());
    if (p != NULL)
        atomic_fetch_add_explicit(&p->served, n, memory_order_relaxed);
}
