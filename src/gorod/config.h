/*
 * config.h - what the files of gorod's configuration loader share (the
 * list of them is gorod.h's): the file as libcyaml loads it, one load's
 * state, the walk of libyaml events, and the checks of values. Private to
 * them; gorod.h has what the rest of gorod uses.
 */
#ifndef GOROD_CONFIG_H
#define GOROD_CONFIG_H

#include <stdlib.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "gorod.h"

/* ---- the file as libcyaml loads it (config.c's schema) ------------------ */

/* The file as libcyaml loads it: every scalar a string, NULL when absent.
 *
 * The runtime's knobs are not written out here: their part of the schema
 * is built from the runtime's table (goro_config_knob) on the first load.
 * A key "sched.procs" is the field procs of the section sched, a key
 * without a dot ("traceback") a field at the top; the value of row i is
 * knob[i] of its section, or of top. */
#define MAXKNOBS 64    /* goro_config.set has a bit per row */
#define MAXSECTIONS 8
struct raw_knobs {
    char *knob[MAXKNOBS];
};

struct raw_log {
    char *level, *target;
};

struct raw_admin {
    char *socket, *mode;
};

struct raw_metrics {
    char *listen;
};

struct raw_listener {
    char *name, *address, *backlog;
};

/* args is not here: a string or a mapping, which no libcyaml type is; the
 * walk reads it (walk_args) and libcyaml skips it. */
struct raw_plugin {
    char *name, *path, *stack, *fixed_stack_size, *enabled;
};

struct raw {
    struct raw_knobs *section[MAXSECTIONS];
    struct raw_knobs top;
    struct raw_log *log;
    struct raw_admin *admin;
    struct raw_metrics *metrics;
    char *status_interval, *shutdown_timeout;
    struct raw_listener *listeners;
    unsigned listeners_count;
    struct raw_plugin *plugins;
    unsigned plugins_count;
};

/* Every scalar of the schema: an optional string. */
#define OPT CYAML_FLAG_OPTIONAL
#define STR(s, m) CYAML_FIELD_STRING_PTR(#m, OPT, s, m, 0, CYAML_UNLIMITED)

/* The schema, built on the first call (config.c). */
const cyaml_schema_value_t *config_schema(void);

/* ---- one load: its messages and the lines of its keys ------------------- */

struct msg {
    int line; /* 0: about the whole file */
    unsigned seq;
    char *text;
};

/* A key path and the line it was found on. */
struct where {
    char *path;
    int line;
};

/* A plugin's args as the walk found them: a string, or a mapping's pairs
 * (the values checked, each with the line of its key). */
struct rawargs {
    bool present, map;
    char *str;
    int line;
    gorod_arg *kv;
    unsigned n, cap;
};

/* One load: the messages so far and the lines of the keys. */
struct load {
    const char *file;
    char *dir; /* the file's directory, absolute */
    struct msg *msgs;
    unsigned nmsgs, capmsgs;
    bool hard; /* a message libcyaml's load cannot get past */
    bool nomem;
    struct where *lines;
    unsigned nlines, caplines;
    /* An index of lines by path (open addressing, a power of two of
     * slots, at most half full): each slot 0 (empty) or 1 + an index into
     * lines, so that a file of many keys is looked up in linear time. */
    unsigned *index;
    unsigned capindex;
    struct rawargs *args;  /* of plugins[N], N < nargs */
    unsigned nargs;
};

/* grow makes room for entry n of an array of *cap entries of size bytes:
 * p itself, or p moved to twice the room (16 at first; *cap updated), or
 * NULL when out of memory (p is then left as it was). */
static inline void *grow(void *p, unsigned *cap, unsigned n, size_t size)
{
    if (n < *cap)
        return p;
    unsigned c = *cap ? *cap * 2 : 16;
    void *q = realloc(p, c * size);
    if (q != NULL)
        *cap = c;
    return q;
}

/* The messages (configmsg.c) and the lines of the keys (keylines.c). */
void errat(struct load *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void report(struct load *l, char *err, size_t errlen);

void setline(struct load *l, const char *path, int line);
int lineof(const struct load *l, const char *path);

/* ---- the walk of libyaml events (configwalk.c) -------------------------- */

struct walk {
    struct load *l;
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have; /* ev holds an event to delete */
    const unsigned char *data; /* the file */
    size_t len;
    int depth; /* mappings and lists open at ev */
};

static inline int lineno(const yaml_mark_t *m)
{
    return (int)m->line + 1;
}

/* The walk's steps, for a plugin's args (walk_args), and the walk. */
int walk_next(struct walk *w);
int walk_skip(struct walk *w);
const char *walk_kind(const yaml_event_t *e);
void check_shape(struct load *l, const cyaml_schema_value_t *top,
                 const unsigned char *data, size_t len);

/* ---- values (configvalues.c) -------------------------------------------- */

/* A check reads one raw value (NULL: absent, the default stays) at key
 * path, reporting it with its line when it is not allowed. Each returns
 * whether the value is good (absent is good). */
struct check {
    struct load *l;
    const char *path;
    const char *v;
};

/* The checks: each reports a value refused at the line of its key. */
bool refuse(const struct check *k, const char *allowed);
bool get_uint(const struct check *k, uint64_t lo, uint64_t hi,
              const char *allowed, uint64_t *out);
bool get_size(const struct check *k, uint64_t lo, uint64_t hi, bool pow2,
              uint64_t multiple, const char *allowed, uint64_t *out);
bool get_duration(const struct check *k, bool zero_ok, int64_t lo,
                  int64_t hi, const char *allowed, int64_t *out);
bool get_bool(const struct check *k, bool *out);
bool get_mode(const struct check *k, uint32_t *out);
void set_string(struct load *l, char **dst, const char *v, bool path);
bool valid_address(const char *v, bool port0);
bool valid_listen(const char *v);
bool valid_name(const char *v);

/* ---- the sections of other files ---------------------------------------- */

/* configknobs.c: the runtime's part of the schema, written into top (room
 * for MAXSECTIONS + MAXKNOBS fields) once, by config_schema, returning how
 * many fields it wrote; the runtime's knobs checked into c->runtime; the
 * runtime's knobs printed. */
size_t knobs_schema(cyaml_schema_field_t *top);
void check_knobs(struct load *l, const struct raw *r, gorod_config *c);
void print_knobs(const goro_config *rt, FILE *f);

/* configplugins.c: a plugin's args read by the walk (w->ev is their first
 * event; path "plugins[N].args"), and the entry plugins[i] checked into
 * c->plugins[i]. */
int walk_args(struct walk *w, const char *path);
void check_plugin(struct load *l, const struct raw_plugin *rp, unsigned i,
                  gorod_config *c);

#endif
