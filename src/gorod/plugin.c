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
 *
 * Loading also notes the file's identity (device, inode, size, mtime), so
 * that a reload restarts a plugin whose file was replaced or rewritten
 * though its entry is the same (plugin_file_changed), and counts the
 * loads of each name (`starts` in goroctl plugins). The plugin reads its
 * arguments' pairs through gorod_plugin_arg{,_at,_refuse}, found as
 * gorod_served is: by the calling G's group.
 */

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gorod.h"

int64_t gorod_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void conf_copy(gorod_plugin_conf *dst, const gorod_plugin_conf *src)
{
    if (!gorod_plugin_conf_copy(dst, src)) {
        gorod_log(GLOG_ERROR, "out of memory");
        abort();
    }
}

/* How many times each name was loaded: a plugin's `starts`. Touched only
 * by plugin_load, which runs on one G at a time (start-up, then under
 * gorod.c's reload lock: reload and restart). */
static struct startcount {
    char *name;
    unsigned n;
    struct startcount *next;
} *startcounts;

static unsigned count_start(const char *name)
{
    struct startcount *c = startcounts;
    while (c != NULL && strcmp(c->name, name) != 0)
        c = c->next;
    if (c == NULL && (c = calloc(1, sizeof *c)) != NULL) {
        if ((c->name = strdup(name)) == NULL) {
            free(c);
            return 1;
        }
        c->next = startcounts;
        startcounts = c;
    }
    return c ? ++c->n : 1;
}

/* The identity of the file at path (stat follows a symlink: a link
 * switched to another build is a change too). */
static int file_id(const char *path, uint64_t *dev, uint64_t *ino,
                   uint64_t *size, int64_t *mtime_ns)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    *size = (uint64_t)st.st_size;
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

bool plugin_file_changed(const gorod_plugin *p, char *why, size_t len)
{
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime = 0;
    if (file_id(p->conf.path, &dev, &ino, &size, &mtime) != 0)
        return false;
    const char *what = dev != p->file.dev || ino != p->file.ino
                           ? "replaced (another inode)"
                       : size != p->file.size ? "rewritten (another size)"
                       : mtime != p->file.mtime_ns ? "rewritten (another mtime)"
                                                   : NULL;
    if (what != NULL)
        snprintf(why, len, "%s", what);
    return what != NULL;
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
    atomic_store(&p->start_done, true);   /* release: status is set */
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
    /* The file's identity before it is mapped: a reload compares it with
     * the file then (a change after this stat restarts it once more). */
    uint64_t fdev = 0, fino = 0, fsize = 0;
    int64_t fmtime = 0;
    file_id(c->path, &fdev, &fino, &fsize, &fmtime);
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
    p->file.dev = fdev;
    p->file.ino = fino;
    p->file.size = fsize;
    p->file.mtime_ns = fmtime;
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
    p->starts = count_start(c->name);
    int64_t id = goro_group_go(p->group, start_g, p);
    if (id < 0) {
        snprintf(err, len, "plugin %s: cannot start: %s", c->name,
                 strerror((int)-id));
        goro_group_free(p->group);
        goro_group_free(p->stopgroup);
        plugin_free(p);
        return NULL;
    }
    gorod_log(GLOG_INFO, "plugin %s: loaded %s (%s %s, %s stacks, start #%u)",
              c->name, c->path, e->name ? e->name : "?",
              e->version ? e->version : "?", c->fixed ? "fixed" : "copying",
              p->starts);
    return p;
}

bool plugin_serving(const gorod_plugin *p)
{
    /* acquire: start_g wrote status before its CAS of state */
    int st = atomic_load_explicit(&p->state, memory_order_acquire);
    return st == PLUGIN_RUNNING ||
           (st == PLUGIN_EXITED && p->status == 0 && p->group != NULL &&
            goro_group_live(p->group) > 0);
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
    gorod_plugin_conf_clear(&p->conf);
    free(p->failure);
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

/* ---- the plugin's arguments (goro_plugin_arg) ------------------------------ */

/* The plugin of the calling G: the group's user data (its own group or
 * its stop group), NULL for a G that is no plugin's. */
static gorod_plugin *self_plugin(void)
{
    goro_group *g = goro_group_self();
    return g ? goro_group_udata(g) : NULL;
}

__attribute__((visibility("default"))) const char *
gorod_plugin_arg(const char *key)
{
    gorod_plugin *p = self_plugin();
    if (p == NULL || key == NULL)
        return NULL;
    for (unsigned i = 0; i < p->conf.nargs; i++)
        if (strcmp(p->conf.argv[i].key, key) == 0)
            return p->conf.argv[i].value;
    return NULL;
}

__attribute__((visibility("default"))) int
gorod_plugin_arg_at(unsigned i, const char **key, const char **value)
{
    gorod_plugin *p = self_plugin();
    if (p == NULL)
        return -ENOSYS;
    if (i >= p->conf.nargs)
        return -ENOENT;
    if (key)
        *key = p->conf.argv[i].key;
    if (value)
        *value = p->conf.argv[i].value;
    return 0;
}

/* gorod_plugin_arg_refuse logs the refusal with the file and line of the
 * pair and keeps it as the plugin's failure (goroctl plugins, restart). */
__attribute__((visibility("default"))) int
gorod_plugin_arg_refuse(const char *key, const char *allowed)
{
    gorod_plugin *p = self_plugin();
    if (p == NULL)
        return -ENOSYS;
    unsigned i = 0;
    while (key != NULL && i < p->conf.nargs &&
           strcmp(p->conf.argv[i].key, key) != 0)
        i++;
    if (key == NULL || i == p->conf.nargs)
        return -ENOENT;
    char msg[512];
    gorod_arg_refusal(&p->conf, i, allowed ? allowed : "allowed", msg,
                      sizeof msg);
    gorod_log(GLOG_ERROR, "plugin %s: %s", p->conf.name, msg);
    goro_mutex_lock(gd.lock);
    size_t had = p->failure ? strlen(p->failure) : 0;
    char *f = had < 4096 ? realloc(p->failure, had + strlen(msg) + 2) : NULL;
    if (f != NULL) {
        snprintf(f + had, strlen(msg) + 2, "%s%s", had ? "\n" : "", msg);
        p->failure = f;
    }
    goro_mutex_unlock(gd.lock);
    return 0;
}
