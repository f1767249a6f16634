/*
 * gorod.h - the daemon's pieces and how they meet.
 *
 *   config.c   the YAML configuration: the libcyaml schema, the load, the
 *              checks of gorod's own sections (libcyaml is lax); with
 *     configwalk.c     the file's shape, libyaml's events against the
 *                      schema, the line of every key
 *     configvalues.c   the values parsed strictly, paths resolved
 *     configknobs.c    the runtime's knobs, by its table
 *     configplugins.c  the plugins section: entries and their args
 *     configprint.c    the configuration printed as YAML (--check)
 *     configmsg.c      the messages, sorted by line
 *     keylines.c       the line of each key path
 *     config.h         what they share
 *   gorod.c    main: options, start-up, signals, reload, shutdown, the status
 *              line, sd_notify
 *   plugin.c   loading, checking, starting, stopping and unloading plugins
 *   listener.c the named listening sockets plugins take (systemd's socket
 *              activation, or opened here), kept open across reloads
 *   elfnote.c  whether a shared object carries .note.GNU-split-stack
 *   admin.c    the admin socket and its one-line commands
 *   admincmd.c the command line's parser (no runtime: fuzzed on its own)
 *   whereto.c  the "where to connect" lines logged at start
 *   sockrecord.c  the per-user record of the admin socket's path that
 *              goroctl reads (sockrecord.h)
 *   metrics.c  the metrics' figures gathered, and their HTTP listener
 *   exposition.c  the Prometheus text of those figures (pure)
 *
 * Everything but config loading before the runtime starts runs in Gs.
 */
#ifndef GOROD_H
#define GOROD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <goro.h>
#include <goro/plugin.h>

#define GOROD_VERSION "0.1.0"

/* ---- configuration (config*.c, keylines.c) ------------------------------ */

enum { GLOG_ERROR, GLOG_WARN, GLOG_INFO, GLOG_DEBUG };
/* The levels' names, as log.level takes them and the log lines say them;
 * NULL after the last (configkeys.c). */
extern const char *const gorod_level_names[GLOG_DEBUG + 2];

/* One of a plugin's arguments (goro_plugin_arg): a pair of the entry's
 * args mapping, or a key=value word of its args string. */
typedef struct gorod_arg {
    char *key, *value;
    int   line;                 /* of the key (the args key for a string) */
} gorod_arg;

typedef struct gorod_plugin_conf {
    char    *name;              /* unique in the file */
    char    *path;              /* resolved against the config file's dir */
    char    *args;              /* "" when absent; for a mapping, its
                                   pairs as "key=value" joined by spaces */
    bool     args_map;          /* args was a mapping */
    gorod_arg *argv;            /* the pairs, in the file's order */
    unsigned nargs;
    char    *file;              /* the configuration file, as given */
    unsigned index;             /* N of plugins[N] in it */
    bool     fixed;             /* stack: fixed (else copy) */
    uint64_t fixed_stack_size;  /* bytes; used when fixed */
    bool     enabled;
    int      line;              /* of the entry in the file */
} gorod_plugin_conf;

/* A named listening socket (listeners: in the file) that plugins take by
 * name (goro_plugin_listener) instead of opening their own. */
typedef struct gorod_listener_conf {
    char    *name;              /* unique in the file; the name systemd's
                                   FileDescriptorName= gives it */
    char    *address;           /* "HOST:PORT", port 0: the kernel's pick */
    uint32_t backlog;           /* listen(2)'s; 0: SOMAXCONN */
    int      line;              /* of the entry in the file */
} gorod_listener_conf;

typedef struct gorod_config {
    char *file;                 /* as given */
    /* The runtime's knobs (sched, stack, traceback): the table's defaults,
     * the GORO_* variables of gorod's environment, then the file's keys,
     * each applied by goro_config_set; handed to goro_run_config. */
    goro_config runtime;
    struct {
        int   level;            /* LOG_* */
        char *target;           /* "stderr", "syslog" or a file path */
    } log;
    struct {
        char    *socket;        /* resolved path; "" disables */
        uint32_t mode;          /* e.g. 0660 */
    } admin;
    struct {
        char *listen;           /* "127.0.0.1:9464", "[::1]:9464"; "" off */
    } metrics;
    int64_t status_interval_ns; /* the status line; 0: none */
    int64_t shutdown_timeout_ns;
    gorod_listener_conf *listeners;
    unsigned             nlisteners;
    gorod_plugin_conf *plugins;
    unsigned           nplugins;
} gorod_config;

/* Load and check path. On failure returns NULL and writes one message per
 * line into err ("gorod.yaml:7: stack.min_size: 3000 is not a power of two
 * between 2048 and 65536"). */
gorod_config *gorod_config_load(const char *path, char *err, size_t errlen);
/* The same from the file's bytes in memory: name is the file's name as the
 * messages give it and what relative paths are resolved against. */
gorod_config *gorod_config_parse(const char *name, const void *data,
                                 size_t len, char *err, size_t errlen);
/* fdreserve.c: descriptors the admin socket and the metrics listener hold
 * back for when the process runs out (the essay there). */
#define FDRESERVE_N 4
typedef struct fdreserve {
    _Atomic bool busy;      /* a G fills or spends it: the others skip */
    int fds[FDRESERVE_N];   /* under busy */
    int n;
    int spent;              /* the error a spend met, not yet logged; under
                               busy */
} fdreserve;
void fdreserve_fill(fdreserve *r);
void fdreserve_close(fdreserve *r);
/* A control-plane listener (the admin socket, the metrics listener): what
 * fdreserve_accept needs of it. */
typedef struct ctllistener {
    const char   *who;        /* "the admin socket": for the log */
    const char   *tag;        /* "admin": the log lines' prefix */
    fdreserve    *reserve;
    _Atomic bool *stopping;   /* set before the listener is closed */
    /* admit: a connection just accepted may be served (counted by admit);
     * else admit has closed it or handed it on. */
    bool (*admit)(int fd);
    void (*unadmit)(void);    /* its G could not be made: undo the count */
    void (*serve)(void *fd);  /* the connection's G, (void *)(intptr_t)fd */
} ctllistener;
/* fdreserve_accept is the accept loop of l on lfd, on the listener's G:
 * until l->stopping or the listener is closed (or its G's group
 * cancelled), each connection admitted gets a G of its own; an accept
 * that fails for want of fds spends the reserve and tries again, any other
 * failure waits a moment (the listener stays readable: no spin). */
void fdreserve_accept(const ctllistener *l, int lfd);

void gorod_config_free(gorod_config *c);
/* The effective configuration, every key, as YAML that loads again. */
void gorod_config_print(const gorod_config *c, FILE *f);
/* Whether two configurations give the runtime the same knobs (a reload
 * cannot change them: they take effect at the next start). */
bool gorod_runtime_conf_equal(const gorod_config *a, const gorod_config *b);
/* Whether two plugin entries are the same (a reload keeps it running). */
bool gorod_plugin_conf_equal(const gorod_plugin_conf *a,
                             const gorod_plugin_conf *b);
/* The message of a plugin refusing its argument i (goro_plugin_arg_refuse):
 * "FILE:LINE: plugins[N].args.KEY: VALUE is not ALLOWED". */
void gorod_arg_refusal(const gorod_plugin_conf *c, unsigned i,
                       const char *allowed, char *out, size_t len);
/* Copy and free a plugin entry's strings (plugin.c keeps its own copy). */
bool gorod_plugin_conf_copy(gorod_plugin_conf *dst,
                            const gorod_plugin_conf *src);
void gorod_plugin_conf_clear(gorod_plugin_conf *c);

/* ---- plugins (plugin.c) ---------------------------------------------------- */

enum plugin_state { PLUGIN_RUNNING, PLUGIN_STOPPING, PLUGIN_EXITED,
                    PLUGIN_FAILED };

typedef struct gorod_plugin {
    gorod_plugin_conf  conf;        /* own copy */
    void              *handle;      /* dlopen */
    const goro_plugin *entry;
    goro_group        *group;       /* its Gs: start() and what it spawns */
    goro_group        *stopgroup;   /* stop() and what it spawns */
    _Atomic int        state;       /* enum plugin_state */
    int                status;      /* start()'s return, once exited */
    _Atomic uint64_t   served;      /* goro_plugin_served */
    int64_t            started_ns;  /* CLOCK_MONOTONIC */
    _Atomic bool       start_done;  /* start() returned (status is set) */
    unsigned           starts;      /* loads of this name since gorod
                                       started, this one included */
    char              *failure;     /* under gd.lock: its arguments it
                                       refused (goro_plugin_arg_refuse),
                                       one message a line; NULL: none */
    struct {                        /* its file when loaded */
        uint64_t dev, ino, size;
        int64_t  mtime_ns;
    } file;
    struct gorod_listener **taken;  /* the listeners it took, each once;
                                       under gd.lock; given back when it
                                       is unloaded (listeners_release) */
    unsigned           ntaken;
    struct gorod_plugin *next;
} gorod_plugin;

/* Load, check and start a plugin: NULL with the refusal in err. */
gorod_plugin *plugin_load(const gorod_plugin_conf *c, char *err, size_t len);
/* Ask it to stop (runs stop() in a G); wait for all of its Gs until
 * deadline_ns (CLOCK_MONOTONIC, 0: none): 0 or -ETIMEDOUT. */
void plugin_stop(gorod_plugin *p);
int plugin_wait(gorod_plugin *p, int64_t deadline_ns);
/* Unload it; does nothing while it has Gs (its code must stay mapped). */
void plugin_free(gorod_plugin *p);
/* Whether p's file is not the one it was loaded from (another inode,
 * size or mtime): true with what changed in why. A file that is gone or
 * unreadable is not a change (p keeps running; its load would fail). */
bool plugin_file_changed(const gorod_plugin *p, char *why, size_t len);
/* The plugin serves: its start() runs, or returned 0 leaving Gs that run
 * on (start() spawns its servers and returns, as hello does). What
 * goroctl shows as running, the metrics as up 1, and what a reload keeps. */
bool plugin_serving(const gorod_plugin *p);
int64_t gorod_now(void);          /* CLOCK_MONOTONIC, ns */

/* ---- named listeners (listener.c) ------------------------------------------ */

typedef struct gorod_listener {
    gorod_listener_conf conf;       /* own copy */
    int   fd;                       /* open while listed */
    bool  inherited;                /* from systemd (LISTEN_FDS) */
    bool  removed;                  /* gone from the configuration (or its
                                       address changed): closed and
                                       unlisted once users is 0 */
    int   users;                    /* loaded plugins that took it */
    char  bound[64];                /* its address, "127.0.0.1:7007" */
    struct gorod_listener *next;
} gorod_listener;

/* Take the sockets systemd passed (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES,
 * sd_listen_fds(3)) and unset those variables. From main, before the
 * runtime starts and before a detach changes the pid. 0 or -ENOMEM. */
int listeners_inherit(void);
/* Make gd.listeners what c says (see listener.c for which fd each gets);
 * returns how many could not be opened, their messages logged and
 * appended to err (one a line). */
int listeners_apply(const gorod_config *c, char *err, size_t len);
/* Warn about the sockets systemd passed that no listener took. */
void listeners_warn_unused(void);
/* Whether a listener p took is gone from c or has another address there
 * (a reload then restarts p). */
bool listeners_changed(const gorod_plugin *p, const gorod_config *c);
/* Give back p's listeners (p is being unloaded), closing those removed. */
void listeners_release(gorod_plugin *p);
/* Close them all (shutdown, once no plugin runs). */
void listeners_close_all(void);

/* ---- the daemon (gorod.c) -------------------------------------------------- */

/* A plugin of the configuration in effect that was refused, and why. */
typedef struct gorod_refusal {
    char *name, *path;
    char *reason;                   /* the whole message, as logged */
    struct gorod_refusal *next;
} gorod_refusal;

/* How the last reload ended: applied in full; applied with plugins
 * refused (the rest of the new configuration is in effect); refused (the
 * file was bad: the old configuration stays). */
enum reload_outcome { RELOAD_NONE, RELOAD_OK, RELOAD_PARTIAL, RELOAD_FAILED };

typedef struct gorod_state {
    goro_mutex   *lock;             /* guards what follows */
    gorod_config *conf;             /* in effect */
    gorod_plugin *plugins;          /* loaded, in configuration order */
    bool          started;          /* the plugins were started (the
                                       control plane answers before) */
    gorod_listener *listeners;      /* conf's, then removed ones that a
                                       loaded plugin still holds */
    gorod_refusal *refused;         /* conf's plugins that were refused */
    gorod_plugin *leaving;          /* removed by a reload, Gs still
                                       running: listed, counted at
                                       shutdown, their files not loaded
                                       again until they end */
    enum reload_outcome last_reload;
    char          reload_error[1024]; /* the last reload's messages: why
                                       it failed or what it refused */
    unsigned      listeners_failed; /* listeners the last reload could
                                       not open (RELOAD_PARTIAL) */
    unsigned      starts_failed;    /* plugins the last reload started
                                       whose start() failed within
                                       GOROD_START_GRACE_NS
                                       (RELOAD_PARTIAL) */
    uint64_t      reloads;          /* applied (in full or partly) */
    uint64_t      reload_failures;  /* not applied in full */
    int64_t       start_ns;         /* CLOCK_MONOTONIC */
    _Atomic bool  stopping;
    _Atomic uint64_t admin_requests, metrics_requests;
    _Atomic uint64_t served_retired; /* by plugins since unloaded */
} gorod_state;
extern gorod_state gd;

/* Reload the configuration file (SIGHUP and the admin command `reload`):
 * 0 applied, 1 applied with plugins refused or failed to start, -1
 * refused; the messages in msg. */
int gorod_reload(char *msg, size_t len);
/* How long a plugin just started (by a reload, or at start-up) is watched
 * for its start() to fail (a port taken, bad arguments) before the verdict
 * is given: a failure later shows in the plugin's state only. */
#define GOROD_START_GRACE_NS (300LL * 1000000)
/* Log where to connect: each plugin's address, the metrics URL, the
 * goroctl line (whereto.c). On a G. */
void gorod_where(void);
/* Stop and start again the plugin named name (the admin command
 * `restart NAME`): 0 done, -1 not (the reason in msg); msg also says
 * what was done. */
int gorod_restart(const char *name, char *msg, size_t len);
/* Requests served by every plugin, ever. */
uint64_t gorod_served_total(void);
/* The plugins that hold fds (goro_group_fds), most first, as words for a
 * log line. On a G. */
void gorod_fdholders(char *buf, size_t len);
void gorod_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- admin socket and metrics (admin.c, metrics.c) ------------------------ */

/* Start the admin socket's listener G for c->admin (nothing when the socket
 * is ""). 0 or -errno, logged. admin_stop closes it and removes the file. */
int admin_start(const gorod_config *c);
void admin_stop(void);
/* The record of the admin socket's path (sockrecord.c): written when sock
 * is not the system's socket (0; 1 not needed; -1 could not, logged),
 * removed if it still names sock; sockrecord_current is its path while it
 * stands, else NULL. */
int sockrecord_write(const char *sock);
void sockrecord_remove(const char *sock);
const char *sockrecord_current(void);
/* Answer one command line (without its newline) into a buffer the caller
 * frees; returns 0, or -1 for a refused command (the text says why). */
int admin_command(const char *line, char **out, size_t *outlen);

/* A command line's longest (bytes, without the newline). */
#define ADMIN_LINE_MAX 4096

/* A command line parsed (admincmd.c, pure: no runtime, no gd). */
enum admin_cmd { ADMIN_STATUS, ADMIN_STATS, ADMIN_PS, ADMIN_PLUGINS,
                 ADMIN_RELOAD, ADMIN_METRICS, ADMIN_HELP, ADMIN_STACKS,
                 ADMIN_TRACE, ADMIN_RESTART };
/* `trace DURATION`: the longest execution trace it records, and the one
 * it records when no duration is given (admincmd.c). */
#define ADMIN_TRACE_MAX_NS     (600LL * 1000000000)
#define ADMIN_TRACE_DEFAULT_NS (5LL * 1000000000)
/* The longest group (plugin) name `stacks` takes. */
#define ADMIN_GROUP_MAX 255
typedef struct admin_req {
    enum admin_cmd cmd;
    bool           json;        /* stats json, ps json */
    char           group[ADMIN_GROUP_MAX + 1]; /* stacks: "" for all;
                                                  restart: the plugin */
    int64_t        duration_ns; /* trace */
} admin_req;
struct strbuf;
/* 0 with the command in *req, or -1 with the one-line error reply that
 * admin_command gives ("error: ...\n") appended to reply. */
int admin_parse(const char *line, admin_req *req, struct strbuf *reply);
/* The command's word: "status", ... */
const char *admin_cmd_name(enum admin_cmd c);

/* The Prometheus exposition of the runtime and the daemon, malloc'd. */
char *metrics_render(size_t *len);

/* One plugin's figures in the exposition. */
typedef struct metrics_plugin {
    char    *name;
    uint64_t served;
    int64_t  live;              /* Gs */
    int64_t  fds;               /* goro_group_fds */
    bool     up;                /* running */
} metrics_plugin;
/* The daemon's figures shown beside the runtime's. */
/* The process's own figures (the process_* family), read from /proc by
 * metrics_process_get; a part that could not be read is left out. */
typedef struct metrics_process {
    bool     have_stat;          /* /proc/self/stat and /proc/stat read */
    double   cpu_seconds;        /* user + system */
    uint64_t virtual_bytes, resident_bytes;
    double   start_time_seconds; /* since the epoch */
    int64_t  open_fds, max_fds;  /* -1: unknown */
} metrics_process;
void metrics_process_get(metrics_process *p);

typedef struct metrics_figs {
    uint64_t stack_min_size;    /* the pooled sizes: min << 0..orders-1 */
    unsigned stack_orders;      /* at most goro_metrics' 8 */
    int64_t  uptime_ns;
    uint64_t served, reloads, reload_failures;
    uint64_t admin_requests, metrics_requests;
    const metrics_plugin *plugins;
    unsigned nplugins;
    metrics_process process;
} metrics_figs;
/* The exposition of m and f (exposition.c, pure), malloc'd, NUL-terminated,
 * its length in *len; NULL when out of memory. */
char *metrics_text(const goro_metrics *m, const metrics_figs *f, size_t *len);
int metrics_start(const gorod_config *c);
void metrics_stop(void);

/* ---- a growing string (strbuf.c) ------------------------------------------ */

typedef struct strbuf {
    char  *p;
    size_t len, cap;
    bool   oom;        /* an allocation failed: the text is cut short */
} strbuf;
bool sb_reserve(strbuf *b, size_t more);   /* room for more bytes + NUL */
void sb_add(strbuf *b, const char *s, size_t n);
void sb_printf(strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- systemd and ELF (sdnotify.c, elfnote.c) ------------------------------ */

/* Send one sd_notify datagram ("READY=1", "STATUS=...") to $NOTIFY_SOCKET
 * (a path or an abstract "@name"): 1 sent, 0 no NOTIFY_SOCKET, -errno. */
int sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asked for ($WATCHDOG_USEC, checked against
 * $WATCHDOG_PID), in ns; 0 when none. */
int64_t sd_watchdog_ns(void);

/* Whether the ELF shared object at path has a section of that name: 1 yes,
 * 0 no, -1 not a readable 64-bit ELF file (why says what). */
int elf_has_section(const char *path, const char *name, char *why, size_t len);
/* elf_has_section for .note.GNU-split-stack. */
int elf_has_split_stack_note(const char *path, char *why, size_t len);

#endif
