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
 * The scalar keys are not written out here: their part of the schema is
 * built on the first load from the rows of two tables, the runtime's
 * knobs (goro_config_knob) and then gorod's own keys (gorod_key_at,
 * configkeys.c). Row i of the two, counted on from the runtime's, is key
 * "sched.procs" (the field procs of the section sched) or a key without a
 * dot ("traceback") at the top; its value is knob[i] of its section, or of
 * top. The lists of mappings (listeners, plugins) are written out below. */
#define MAXKNOBS 64    /* the rows of both tables; goro_config.set has a
                          bit per runtime row */
#define MAXSECTIONS 8
struct raw_knobs {
    char *knob[MAXKNOBS];
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

/* ---- gorod's own keys (configkeys.c) ----------------------------------- */

/* How a row of gorod's table is read from the file and printed; each kind
 * is one C type of its field in gorod_config (configkeys.c's AT checks). */
enum key_kind {
    KEY_ENUM,     /* int: the index of one of names; printed as the name */
    KEY_DURATION, /* int64_t ns: lo..hi, or 0 with zero; goro_format_duration */
    KEY_MODE,     /* uint32_t: octal digits, at most hi; printed %04o */
    KEY_PATH,     /* char *: resolved against the file's directory, but for
                     the words of names (kept as they are); "" only with
                     zero; at most hi bytes once resolved when hi > 0;
                     printed quoted */
    KEY_LISTEN,   /* char *: "" or HOST:PORT, port 1..65535; printed quoted */
};

/* One of gorod's scalar keys. pub is the row as the runtime's table has
 * its rows (goro.h's goro_knob: key, default as text, the words of what is
 * allowed, one line of doc), so that one renderer writes the documents of
 * both tables (scripts/knobdoc.c); env, env_def and env_allowed are NULL
 * (no GORO_* variable stands for gorod's keys) and type is 0 (kind says). */
typedef struct gorod_key {
    goro_knob pub;
    enum key_kind kind;
    size_t off;               /* the field in gorod_config */
    int64_t lo, hi;           /* bounds, inclusive, as kind says */
    bool zero;                /* 0 or "" allowed besides lo..hi */
    const char *const *names; /* NULL-terminated, as kind says */
} gorod_key;

/* Row i of gorod's table, in the order gorod.yaml lists the keys; NULL
 * past the last. */
const gorod_key *gorod_key_at(size_t i);

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
bool get_mode(const struct check *k, uint32_t hi, const char *allowed,
              uint32_t *out);
void set_string(struct load *l, char **dst, const char *v, bool path);
bool valid_address(const char *v, bool port0);
bool valid_listen(const char *v);
bool valid_name(const char *v);

/* ---- the sections of other files ---------------------------------------- */

/* configknobs.c: the scalar keys of both tables as the schema's fields,
 * written into top (room for MAXSECTIONS + MAXKNOBS fields) once, by
 * config_schema, returning how many fields it wrote; their values checked
 * into c (the runtime's into c->runtime); all of them printed.
 * config.c and configprint.c: one of gorod's keys checked from its text v
 * (never NULL) into c, and printed. */
size_t knobs_schema(cyaml_schema_field_t *top);
void check_knobs(struct load *l, const struct raw *r, gorod_config *c);
void print_knobs(const gorod_config *c, FILE *f);
void check_key(struct load *l, const gorod_key *k, const char *v,
               gorod_config *c);
void print_key(const gorod_key *k, const gorod_config *c, FILE *f);

/* configplugins.c: a plugin's args read by the walk (w->ev is their first
 * event; path "plugins[N].args"), and the entry plugins[i] checked into
 * c->plugins[i]. */
int walk_args(struct walk *w, const char *path);
void check_plugin(struct load *l, const struct raw_plugin *rp, unsigned i,
                  gorod_config *c);

#endif
