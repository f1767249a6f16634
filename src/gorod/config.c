/*
 * config.c - the daemon's YAML configuration.
 *
 * The file is read once into memory (gorod_config_load; gorod_config_parse
 * takes the bytes directly, as the fuzz target does) and then looked at
 * twice.
 *
 * First, libyaml's event parser walks it against the libcyaml schema below.
 * The schema is the one description of the file's shape: every mapping's
 * fields, every sequence's entry. The walk is what gives the messages their
 * line numbers (libcyaml reports none for values, and its messages are log
 * lines, not something a caller can return): it records the line of every
 * key path it meets ("stack.min_size", "plugins[2].path"), and it reports,
 * in the file's words, what libcyaml would only refuse with an error code:
 * syntax errors, an empty file, a second document, a top level or a section
 * that is not a mapping, a list that is not a list, an unknown key (with the
 * keys allowed there), a duplicate key, an alias.
 *
 * Second, when the shape is right, libcyaml loads the same bytes into a
 * "raw" struct by the schema. Every scalar in the schema is a CYAML_STRING,
 * never an int, uint, bool or enum: libcyaml 1.3 is lax with those (`12abc`
 * loads as 12, `-5` into an unsigned field, `maybe` as true) and its errors
 * do not say which value was wrong. So libcyaml does the structure and the
 * allocation, and every value is then parsed strictly and checked, with the
 * recorded line of its key.
 *
 * The runtime's knobs (the sched and stack sections, traceback) are the
 * runtime's table (src/runtime/config.c), not gorod's: their part of the
 * schema is built from goro_config_knob, each value goes to
 * goro_config_set, whose message is the one printed after "FILE:LINE: ",
 * the rules between keys to goro_config_check, the printer reads
 * goro_config_get, and gorod starts the runtime with the goro_config so
 * made (goro_run_config). A knob added to the table is a key of
 * gorod.yaml with nothing to change here. The GORO_* variables of gorod's
 * environment come first, the file's keys over them, so that a variable
 * stands for a key the file leaves out (and --check prints the result).
 *
 * A plugin's args is the one value of two shapes: a string, or a mapping
 * of keys to single values ({port: 7007}). No libcyaml type is either, so
 * the schema has it as CYAML_IGNORE (libcyaml skips it whatever it holds)
 * and the walk reads it (walk_args), checking each pair with its line:
 * the key a word that "key=value" cannot cut wrongly, once; the value a
 * scalar without control characters. A bad pair is reported and the walk
 * goes on. The string start() gets is made from the pairs (set_args);
 * a string's key=value words are its pairs (goro_plugin_arg).
 *
 * Cross-field rules (max_size against min_size, cache_size against the
 * largest cached stack, unique plugin and listener names) name the line
 * of whichever of their keys comes last in the file.
 *
 * Rejected: doing everything with libyaml events (the structs would be
 * filled by hand, a second schema in code), libcyaml's typed scalars
 * (lax, and no line numbers), and the runtime's knobs written out as
 * fields, parsers and ranges here (they were, and drifted from the
 * runtime's), or handed over as GORO_* variables set for goro_run to read
 * back (each value formatted and parsed twice, and the environment of
 * every child changed).
 *
 * An unknown key does not stop the load (libcyaml is told to ignore
 * unknown keys once the walk has reported them), so a file with a typo in a
 * key and a bad value elsewhere gets both messages at once; anything else
 * wrong with the shape stops before libcyaml, which could not load it.
 *
 * Messages read "FILE:LINE: KEY: VALUE is not ALLOWED", FILE as given, KEY
 * the dotted path with plugins numbered from 0 (plugins[0].path), VALUE the
 * parsed scalar (quoted when empty or holding blanks). All messages found
 * are reported, sorted by line (configmsg.c).
 *
 * Relative paths (admin.socket, log.target, plugins[].path) are resolved
 * against the directory of the configuration file, made absolute and
 * cleaned lexically, so that the printed configuration loads again to the
 * same values from anywhere.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "config.h"
#include "show.h"

/* The largest configuration file and the deepest nesting of mappings and
 * lists in it. A real configuration is a few KiB, four levels deep (a
 * plugin's args); the limits keep a file that is not one (/dev/zero, a
 * generated file gone wrong, 100,000 nested lists) from costing minutes
 * or all the memory before it is refused. */
#define CONFIG_MAX_BYTES (1u << 20)
#define CONFIG_MAX_DEPTH 32

/* ---- the schema --------------------------------------------------------- */

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

#define OPT CYAML_FLAG_OPTIONAL
#define STR(s, m) CYAML_FIELD_STRING_PTR(#m, OPT, s, m, 0, CYAML_UNLIMITED)
/* A section may be present and empty ("sched:" with its keys commented
 * out): POINTER_NULL makes that a NULL section, all defaults. */
#define SECTION(m, f) \
    CYAML_FIELD_MAPPING_PTR(#m, OPT | CYAML_FLAG_POINTER_NULL, struct raw, \
                            m, f)

static const cyaml_schema_field_t log_fields[] = {
    STR(struct raw_log, level),
    STR(struct raw_log, target),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t admin_fields[] = {
    STR(struct raw_admin, socket),
    STR(struct raw_admin, mode),
    CYAML_FIELD_END,
};
static const cyaml_schema_field_t metrics_fields[] = {
    STR(struct raw_metrics, listen),
    CYAML_FIELD_END,
};
/* name and address are required, but checked here (with a message naming
 * the entry's line) rather than by libcyaml, as a plugin's name and path. */
static const cyaml_schema_field_t listener_fields[] = {
    STR(struct raw_listener, name),
    STR(struct raw_listener, address),
    STR(struct raw_listener, backlog),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t listener_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_listener,
                        listener_fields),
};
/* name and path are required, but checked here (with a message naming the
 * entry's line) rather than by libcyaml. */
static const cyaml_schema_field_t plugin_fields[] = {
    STR(struct raw_plugin, name),
    STR(struct raw_plugin, path),
    CYAML_FIELD_IGNORE("args", OPT),
    STR(struct raw_plugin, stack),
    STR(struct raw_plugin, fixed_stack_size),
    STR(struct raw_plugin, enabled),
    CYAML_FIELD_END,
};
static const cyaml_schema_value_t plugin_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_plugin, plugin_fields),
};
/* gorod's own keys, after the runtime's at the top. */
static const cyaml_schema_field_t gorod_fields[] = {
    SECTION(log, log_fields),
    SECTION(admin, admin_fields),
    SECTION(metrics, metrics_fields),
    STR(struct raw, status_interval),
    STR(struct raw, shutdown_timeout),
    CYAML_FIELD_SEQUENCE("listeners", OPT | CYAML_FLAG_POINTER_NULL,
                         struct raw, listeners, &listener_schema, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("plugins", OPT | CYAML_FLAG_POINTER_NULL, struct raw,
                         plugins, &plugin_schema, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
#define NGOROD (sizeof gorod_fields / sizeof gorod_fields[0])

/* Written once by build_schema (schema_once), read only after. */
static cyaml_schema_field_t knob_fields[MAXSECTIONS][MAXKNOBS + 1];
static char section_names[MAXSECTIONS][32];
static cyaml_schema_field_t top_fields[MAXSECTIONS + MAXKNOBS + NGOROD];
/* The first nruntime of top_fields are the runtime's: field t is the
 * section -1 - toprow[t] when toprow[t] < 0, else the knob of row
 * toprow[t]. Row i's section is rowsection[i], -1 at the top. */
static size_t nruntime;
static int toprow[MAXSECTIONS + MAXKNOBS];
static int rowsection[MAXKNOBS];
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw, top_fields),
};

/* build_schema writes the runtime's part of the schema from its table, in
 * the table's order (a section where its first key is), then gorod's. */
static void build_schema(void)
{
    static const cyaml_schema_field_t str =
        STR(struct raw_knobs, knob[0]);
    static const cyaml_schema_field_t sec = CYAML_FIELD_MAPPING_PTR(
        "", OPT | CYAML_FLAG_POINTER_NULL, struct raw, section[0], NULL);
    size_t ntop = 0, nsec = 0, nfield[MAXSECTIONS] = {0};
    const goro_knob *k;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        const char *dot = strchr(k->key, '.');
        size_t n = dot ? (size_t)(dot - k->key) : 0, s = 0;
        cyaml_schema_field_t f = str;
        if (i >= MAXKNOBS || n >= sizeof section_names[0]) {
            fprintf(stderr, "gorod: %s: more knobs or a longer section "
                    "than gorod's schema holds\n", k->key);
            abort();
        }
        if (dot == NULL) {
            f.key = k->key;
            f.data_offset = (uint32_t)(offsetof(struct raw, top) +
                                       i * sizeof(char *));
            rowsection[i] = -1;
            toprow[ntop] = (int)i;
            top_fields[ntop++] = f;
            continue;
        }
        while (s < nsec && (strncmp(section_names[s], k->key, n) != 0 ||
                            section_names[s][n] != '\0'))
            s++;
        if (s == MAXSECTIONS) {
            fprintf(stderr, "gorod: %s: more sections than gorod's schema "
                    "holds\n", k->key);
            abort();
        }
        if (s == nsec) {
            cyaml_schema_field_t m = sec;
            memcpy(section_names[s], k->key, n);
            m.key = section_names[s];
            m.data_offset = (uint32_t)(offsetof(struct raw, section) +
                                       s * sizeof(struct raw_knobs *));
            m.value.mapping.fields = knob_fields[s];
            toprow[ntop] = -1 - (int)s;
            top_fields[ntop++] = m;
            nsec++;
        }
        f.key = dot + 1;
        f.data_offset = (uint32_t)(i * sizeof(char *));
        knob_fields[s][nfield[s]++] = f;
        rowsection[i] = (int)s;
    }
    nruntime = ntop;
    memcpy(top_fields + ntop, gorod_fields, sizeof gorod_fields);
}

static const cyaml_config_t cyaml_cfg = {
    .log_fn = NULL, /* our own messages say what is wrong */
    .mem_fn = cyaml_mem,
    .log_level = CYAML_LOG_ERROR,
    .flags = CYAML_CFG_IGNORE_UNKNOWN_KEYS | CYAML_CFG_NO_ALIAS,
};

static void load_free(struct load *l)
{
    for (unsigned i = 0; i < l->nmsgs; i++)
        free(l->msgs[i].text);
    free(l->msgs);
    for (unsigned i = 0; i < l->nlines; i++)
        free(l->lines[i].path);
    free(l->lines);
    free(l->index);
    free(l->dir);
    for (unsigned i = 0; i < l->nargs; i++) {
        struct rawargs *a = &l->args[i];
        free(a->str);
        for (unsigned j = 0; j < a->n; j++) {
            free(a->kv[j].key);
            free(a->kv[j].value);
        }
        free(a->kv);
    }
    free(l->args);
}

/* ---- the shape: libyaml events against the schema ----------------------- */

struct walk {
    struct load *l;
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have; /* ev holds an event to delete */
    const unsigned char *data; /* the file */
    size_t len;
    int depth; /* mappings and lists open at ev */
};

static int lineno(const yaml_mark_t *m)
{
    return (int)m->line + 1;
}

/* next reads the next event into w->ev. Returns 0, or -1 after reporting a
 * syntax error. */
static int next(struct walk *w)
{
    if (w->have)
        yaml_event_delete(&w->ev);
    w->have = false;
    if (yaml_parser_parse(&w->parser, &w->ev)) {
        w->have = true;
        switch (w->ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (++w->depth > CONFIG_MAX_DEPTH) {
                errat(w->l, lineno(&w->ev.start_mark),
                      "nested deeper than %d mappings and lists",
                      CONFIG_MAX_DEPTH);
                w->l->hard = true;
                return -1;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            w->depth--;
            break;
        default:
            break;
        }
        return 0;
    }
    yaml_parser_t *p = &w->parser;
    w->l->hard = true;
    if (p->error == YAML_MEMORY_ERROR) {
        w->l->nomem = true;
        return -1;
    }
    const char *problem = p->problem ? p->problem : "unreadable YAML";
    if (p->error == YAML_READER_ERROR) {
        /* The reader (encoding) gives a byte offset, not a mark. */
        int line = 1;
        for (size_t i = 0; i < p->problem_offset && i < w->len; i++)
            line += w->data[i] == '\n';
        errat(w->l, line, "syntax error: %s", problem);
    } else if (p->context != NULL)
        errat(w->l, lineno(&p->problem_mark),
              "syntax error: %s (%s on line %d)", problem, p->context,
              lineno(&p->context_mark));
    else
        errat(w->l, lineno(&p->problem_mark), "syntax error: %s", problem);
    return -1;
}

static const char *kind(const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_ALIAS_EVENT:
        return "an alias";
    default:
        return "a value";
    }
}

static bool empty_scalar(const yaml_event_t *e)
{
    return e->type == YAML_SCALAR_EVENT && e->data.scalar.length == 0 &&
           e->data.scalar.plain_implicit;
}

/* skip consumes the rest of the node whose first event is in w->ev. */
static int skip(struct walk *w)
{
    int depth = 0;
    for (;;) {
        switch (w->ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            depth++;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        if (depth == 0)
            return 0;
        if (next(w) != 0)
            return -1;
    }
}

/* keys lists a mapping's keys, ", "-separated, into buf. */
static const char *keys(const cyaml_schema_field_t *f, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (; f->key != NULL; f++)
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s",
                              n ? ", " : "", f->key);
    return buf;
}

static int walk_node(struct walk *w, const cyaml_schema_value_t *s,
                     const char *path);

/* mismatch reports a node of the wrong kind at path and skips it. */
static int mismatch(struct walk *w, const char *path, const char *expected)
{
    char buf[128];
    const char *v = w->ev.type == YAML_SCALAR_EVENT
                        ? show((const char *)w->ev.data.scalar.value, buf,
                               sizeof buf)
                        : kind(&w->ev);
    errat(w->l, lineno(&w->ev.start_mark), "%s%s%s is not %s", path,
          *path ? ": " : "", v, expected);
    w->l->hard = true;
    return skip(w);
}

/* walk_mapping reads a mapping's pairs (w->ev is its start) against the
 * fields, recording each key's line under path.key. */
static int walk_mapping(struct walk *w, const cyaml_schema_field_t *fields,
                        const char *path)
{
    unsigned nf = 0;
    while (fields[nf].key != NULL)
        nf++;
    int seen[nf + 1];
    memset(seen, 0, sizeof seen);
    char allowed[512];
    for (;;) {
        if (next(w) != 0)
            return -1;
        if (w->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        int line = lineno(&w->ev.start_mark);
        if (w->ev.type != YAML_SCALAR_EVENT) {
            errat(w->l, line, "%s%s%s is not allowed as a key", path,
                  *path ? ": " : "", kind(&w->ev));
            w->l->hard = true;
            /* The key, then its value. */
            if (skip(w) != 0 || next(w) != 0 || skip(w) != 0)
                return -1;
            continue;
        }
        const char *key = (const char *)w->ev.data.scalar.value;
        char *sub;
        if (asprintf(&sub, "%s%s%s", path, *path ? "." : "", key) < 0) {
            w->l->nomem = true;
            return -1;
        }
        unsigned i = 0;
        while (i < nf && strcmp(fields[i].key, key) != 0)
            i++;
        int r;
        if (i == nf) {
            char buf[128];
            errat(w->l, line, "%s%s%s: unknown key (allowed: %s)", path,
                  *path ? "." : "", show(key, buf, sizeof buf),
                  keys(fields, allowed, sizeof allowed));
            r = next(w) != 0 ? -1 : skip(w);
        } else if (seen[i]) {
            errat(w->l, line, "%s: duplicate key (first on line %d)", sub,
                  seen[i]);
            w->l->hard = true;
            r = next(w) != 0 ? -1 : skip(w);
        } else {
            seen[i] = line;
            setline(w->l, sub, line);
            r = next(w) != 0 ? -1 : walk_node(w, &fields[i].value, sub);
        }
        free(sub);
        if (r != 0)
            return -1;
    }
}

/* walk_list reads a list's entries (w->ev is its start), recording each
 * entry's line under path[N]. */
static int walk_list(struct walk *w, const cyaml_schema_value_t *entry,
                     const char *path)
{
    for (unsigned n = 0;; n++) {
        if (next(w) != 0)
            return -1;
        if (w->ev.type == YAML_SEQUENCE_END_EVENT)
            return 0;
        char *sub;
        if (asprintf(&sub, "%s[%u]", path, n) < 0) {
            w->l->nomem = true;
            return -1;
        }
        setline(w->l, sub, lineno(&w->ev.start_mark));
        int r = walk_node(w, entry, sub);
        free(sub);
        if (r != 0)
            return -1;
    }
}

/* valid_arg_key: 1 to 63 letters, digits, '_', '-' or '.': a word that
 * the string form's "key=value" cannot cut in the wrong place. */
static bool valid_arg_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 63)
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
              (*k >= '0' && *k <= '9') || *k == '_' || *k == '-' ||
              *k == '.'))
            return false;
    return true;
}

/* rawargs_of: the record of the plugin whose args key is at path
 * ("plugins[N].args"), made when new; NULL when out of memory. */
static struct rawargs *rawargs_of(struct load *l, const char *path)
{
    unsigned n;
    if (sscanf(path, "plugins[%u].args", &n) != 1 || n > 1u << 20)
        return NULL;
    if (n >= l->nargs) {
        struct rawargs *a = realloc(l->args, (n + 1) * sizeof *a);
        if (a == NULL) {
            l->nomem = true;
            return NULL;
        }
        memset(a + l->nargs, 0, (n + 1 - l->nargs) * sizeof *a);
        l->args = a;
        l->nargs = n + 1;
    }
    return &l->args[n];
}

/* walk_args reads a plugin's args (w->ev is its first event): a string,
 * or a mapping of keys to single values, each checked here with its line:
 * the key a valid_arg_key, not twice; the value a scalar without NUL or
 * other control characters. A bad pair is reported and left out; the rest
 * of the file is still read (libcyaml skips args whatever it holds). */
static int walk_args(struct walk *w, const char *path)
{
    struct load *l = w->l;
    struct rawargs *a = rawargs_of(l, path);
    char buf[128];
    if (a == NULL)
        return skip(w);
    a->present = true;
    a->line = lineof(l, path);
    if (w->ev.type == YAML_SCALAR_EVENT) {
        const char *v = (const char *)w->ev.data.scalar.value;
        if (strlen(v) != w->ev.data.scalar.length) {
            errat(l, lineno(&w->ev.start_mark),
                  "%s: a value holding a NUL byte (\\0) is not allowed",
                  path);
            return 0;
        }
        if ((a->str = strdup(v)) == NULL)
            l->nomem = true;
        return 0;
    }
    if (w->ev.type == YAML_ALIAS_EVENT) {
        errat(l, lineno(&w->ev.start_mark), "%s: an alias (*%s) is not "
              "allowed", path, (const char *)w->ev.data.alias.anchor);
        l->hard = true;
        return 0;
    }
    if (w->ev.type != YAML_MAPPING_START_EVENT) {
        errat(l, lineno(&w->ev.start_mark), "%s: %s is not a string or a "
              "mapping of keys to single values ({port: 7007})", path,
              kind(&w->ev));
        return skip(w);
    }
    a->map = true;
    for (;;) {
        if (next(w) != 0)
            return -1;
        if (w->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        int line = lineno(&w->ev.start_mark);
        if (w->ev.type != YAML_SCALAR_EVENT) {
            errat(l, line, "%s: %s is not allowed as a key", path,
                  kind(&w->ev));
            if (w->ev.type == YAML_ALIAS_EVENT)
                l->hard = true;
            if (skip(w) != 0 || next(w) != 0 || skip(w) != 0)
                return -1;
            continue;
        }
        char *key = strdup((const char *)w->ev.data.scalar.value);
        if (key == NULL) {
            l->nomem = true;
            return -1;
        }
        bool good = true;
        if (!valid_arg_key(key) ||
            strlen(key) != w->ev.data.scalar.length) {
            errat(l, line, "%s: %s is not a key of 1 to 63 letters, "
                  "digits, '_', '-' or '.'", path, show(key, buf, sizeof buf));
            good = false;
        }
        for (unsigned j = 0; good && j < a->n; j++)
            if (strcmp(a->kv[j].key, key) == 0) {
                errat(l, line, "%s.%s: duplicate key (first on line %d)",
                      path, key, a->kv[j].line);
                good = false;
            }
        char *sub = NULL;
        if (good && asprintf(&sub, "%s.%s", path, key) < 0) {
            free(key);
            l->nomem = true;
            return -1;
        }
        if (good)
            setline(l, sub, line);
        if (next(w) != 0) {
            free(key);
            free(sub);
            return -1;
        }
        int vline = lineno(&w->ev.start_mark);
        const char *v = (const char *)w->ev.data.scalar.value;
        if (!good) {
            /* reported: the value is not looked at */
        } else if (w->ev.type == YAML_ALIAS_EVENT) {
            errat(l, vline, "%s: an alias (*%s) is not allowed", sub,
                  (const char *)w->ev.data.alias.anchor);
            l->hard = true;
            good = false;
        } else if (w->ev.type != YAML_SCALAR_EVENT) {
            errat(l, vline, "%s: %s is not a single value (a string, a "
                  "number, true or false)", sub, kind(&w->ev));
            good = false;
        } else if (strlen(v) != w->ev.data.scalar.length) {
            errat(l, vline, "%s: a value holding a NUL byte (\\0) is not "
                  "allowed", sub);
            good = false;
        } else {
            for (const char *c = v; *c && good; c++)
                if ((unsigned char)*c < ' ' || *c == 0x7f) {
                    errat(l, vline, "%s: %s is not a value without control "
                          "characters (tabs, newlines)", sub,
                          show(v, buf, sizeof buf));
                    good = false;
                }
        }
        if (good) {
            gorod_arg *kv = (gorod_arg *)grow(
                a->kv, &a->cap, a->n, sizeof *kv);
            char *val = strdup(v);
            if (kv == NULL || val == NULL) {
                if (kv != NULL)
                    a->kv = kv;
                free(val);
                free(key);
                free(sub);
                l->nomem = true;
                return -1;
            }
            a->kv = kv;
            kv[a->n++] = (gorod_arg){key, val, line};
            key = NULL;
        }
        free(key);
        free(sub);
        if (skip(w) != 0)
            return -1;
    }
}

/* walk_node checks the node whose first event is in w->ev against s. */
static int walk_node(struct walk *w, const cyaml_schema_value_t *s,
                     const char *path)
{
    char allowed[512], what[600];
    if (w->ev.type == YAML_ALIAS_EVENT) {
        errat(w->l, lineno(&w->ev.start_mark),
              "%s%san alias (*%s) is not allowed", path, *path ? ": " : "",
              (const char *)w->ev.data.alias.anchor);
        w->l->hard = true;
        return 0;
    }
    switch (s->type) {
    case CYAML_IGNORE: /* a plugin's args, the only such field */
        return walk_args(w, path);
    case CYAML_MAPPING:
        if (w->ev.type == YAML_MAPPING_START_EVENT)
            return walk_mapping(w, s->mapping.fields, path);
        if (empty_scalar(&w->ev) && (s->flags & CYAML_FLAG_POINTER_NULL))
            return 0;
        snprintf(what, sizeof what, "a mapping (keys: %s)",
                 keys(s->mapping.fields, allowed, sizeof allowed));
        return mismatch(w, path, what);
    case CYAML_SEQUENCE:
        if (w->ev.type == YAML_SEQUENCE_START_EVENT)
            return walk_list(w, s->sequence.entry, path);
        if (empty_scalar(&w->ev) && (s->flags & CYAML_FLAG_POINTER_NULL))
            return 0;
        return mismatch(w, path, "a list");
    default: /* every other value is a CYAML_STRING */
        if (w->ev.type == YAML_SCALAR_EVENT &&
            strlen((const char *)w->ev.data.scalar.value) !=
                w->ev.data.scalar.length) {
            errat(w->l, lineno(&w->ev.start_mark),
                  "%s: a value holding a NUL byte (\\0) is not allowed",
                  path);
            w->l->hard = true;
            return 0;
        }
        if (w->ev.type == YAML_SCALAR_EVENT)
            return 0;
        return mismatch(w, path, "a single value");
    }
}

/* check_shape walks the whole file: one document holding a mapping. */
static void check_shape(struct load *l, const unsigned char *data, size_t len)
{
    struct walk w = {.l = l, .data = data, .len = len};
    if (!yaml_parser_initialize(&w.parser)) {
        l->nomem = l->hard = true;
        return;
    }
    yaml_parser_set_input_string(&w.parser, data, len);
    if (next(&w) != 0 || next(&w) != 0) /* STREAM-START, then a document */
        goto out;
    if (w.ev.type == YAML_STREAM_END_EVENT) {
        errat(l, 0, "empty configuration (no YAML document)");
        l->hard = true;
        goto out;
    }
    if (next(&w) != 0) /* the document's node */
        goto out;
    if (empty_scalar(&w.ev)) {
        errat(l, 0, "empty configuration (an empty YAML document)");
        l->hard = true;
        goto out;
    }
    char allowed[512], what[600];
    if (w.ev.type != YAML_MAPPING_START_EVENT) {
        snprintf(what, sizeof what, "a mapping of sections (%s)",
                 keys(top_fields, allowed, sizeof allowed));
        if (w.ev.type == YAML_ALIAS_EVENT)
            walk_node(&w, &top_schema, "");
        else
            mismatch(&w, "", what);
        l->hard = true;
        goto out;
    }
    if (walk_mapping(&w, top_fields, "") != 0 || next(&w) != 0 ||
        next(&w) != 0) /* DOCUMENT-END, then STREAM-END or more */
        goto out;
    if (w.ev.type == YAML_DOCUMENT_START_EVENT) {
        errat(l, lineno(&w.ev.start_mark),
              "a second YAML document is not allowed");
        l->hard = true;
    }
out:
    if (w.have)
        yaml_event_delete(&w.ev);
    yaml_parser_delete(&w.parser);
}

/* ---- values ------------------------------------------------------------- */

/* parse_digits reads the digits of a whole number (backlog, a port) as
 * the runtime's table does; sizes and durations are goro_parse_size's and
 * goro_parse_duration's (goro.h), the runtime's own. */
static int parse_digits(const char **sp, uint64_t *v)
{
    const char *s = *sp;
    if (*s < '0' || *s > '9')
        return -1;
    uint64_t x = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
        s++;
    }
    *v = x;
    *sp = s;
    return 0;
}

/* A check reads one raw value (NULL: absent, the default stays) at key
 * path, reporting it with its line when it is not allowed. Each returns
 * whether the value is good (absent is good). */
struct check {
    struct load *l;
    const char *path;
    const char *v;
};

static bool refuse(const struct check *k, const char *allowed)
{
    char buf[128];
    errat(k->l, lineof(k->l, k->path), "%s: %s is not %s", k->path,
          show(k->v, buf, sizeof buf), allowed);
    return false;
}

static bool get_uint(const struct check *k, uint64_t lo, uint64_t hi,
                     const char *allowed, uint64_t *out)
{
    if (k->v == NULL)
        return true;
    const char *s = k->v;
    uint64_t x;
    if (parse_digits(&s, &x) != 0 || *s != '\0' || x < lo || x > hi)
        return refuse(k, allowed);
    *out = x;
    return true;
}

static bool get_size(const struct check *k, uint64_t lo, uint64_t hi,
                     bool pow2, uint64_t multiple, const char *allowed,
                     uint64_t *out)
{
    if (k->v == NULL)
        return true;
    uint64_t x;
    if (goro_parse_size(k->v, &x) != 0 || x < lo || x > hi ||
        (pow2 && (x & (x - 1)) != 0) || (multiple && x % multiple != 0))
        return refuse(k, allowed);
    *out = x;
    return true;
}

/* get_duration takes 0 when zero_ok, else lo..hi. */
static bool get_duration(const struct check *k, bool zero_ok, int64_t lo,
                         int64_t hi, const char *allowed, int64_t *out)
{
    if (k->v == NULL)
        return true;
    int64_t x;
    if (goro_parse_duration(k->v, &x) != 0 || (x == 0 && !zero_ok) ||
        (x != 0 && (x < lo || x > hi)))
        return refuse(k, allowed);
    *out = x;
    return true;
}

/* get_bool takes YAML 1.2's core-schema booleans only. */
static bool get_bool(const struct check *k, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    if (k->v == NULL)
        return true;
    for (int i = 0; i < 3; i++)
        if (strcmp(k->v, yes[i]) == 0 || strcmp(k->v, no[i]) == 0) {
            *out = strcmp(k->v, yes[i]) == 0;
            return true;
        }
    return refuse(k, "true or false");
}

/* get_mode reads octal digits, as chmod does, with or without a leading 0
 * or 0o: 0660, 660, 0o660. */
static bool get_mode(const struct check *k, uint32_t *out)
{
    if (k->v == NULL)
        return true;
    const char *s = k->v;
    if (s[0] == '0' && s[1] == 'o')
        s += 2;
    uint32_t m = 0;
    size_t n = strspn(s, "01234567");
    if (n == 0 || s[n] != '\0')
        return refuse(k, "an octal mode from 0 to 0777");
    for (; *s; s++) {
        m = m * 8 + (uint32_t)(*s - '0');
        if (m > 0777)
            return refuse(k, "an octal mode from 0 to 0777");
    }
    *out = m;
    return true;
}

/* clean_path removes "." and empty components and folds "x/.." of an
 * absolute path in place, like Go's filepath.Clean. The output never
 * runs ahead of the input, and a component is read before it is written. */
static void clean_path(char *p)
{
    char *out = p + 1, *s = p + 1;
    while (*s) {
        char *e = strchrnul(s, '/');
        size_t n = (size_t)(e - s);
        bool last = *e == '\0';
        if (n == 0 || (n == 1 && s[0] == '.')) {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (out > p + 1) {
                out--; /* the '/' after the last component */
                while (out > p + 1 && out[-1] != '/')
                    out--;
            }
        } else {
            memmove(out, s, n);
            out += n;
            *out++ = '/';
        }
        if (last)
            break;
        s = e + 1;
    }
    if (out > p + 1)
        out--;
    *out = '\0';
}

/* resolve returns v made absolute against the file's directory, cleaned,
 * malloc'd ("" stays ""). NULL when out of memory. */
static char *resolve(struct load *l, const char *v)
{
    char *p;
    if (*v == '\0' || *v == '/')
        p = strdup(v);
    else if (asprintf(&p, "%s/%s", l->dir, v) < 0)
        p = NULL;
    if (p == NULL)
        l->nomem = true;
    else if (*p == '/')
        clean_path(p);
    return p;
}

/* set_string replaces *dst with a copy of v (resolved when path). */
static void set_string(struct load *l, char **dst, const char *v, bool path)
{
    char *s = path ? resolve(l, v) : strdup(v);
    if (s == NULL) {
        l->nomem = true;
        return;
    }
    free(*dst);
    *dst = s;
}

/* valid_listen: "HOST:PORT" with an IPv4 literal or a bracketed IPv6
 * literal and a port 1..65535 (0..65535 with port0). */
static bool valid_address(const char *v, bool port0)
{
    char host[64];
    const char *port;
    unsigned char addr[16];
    if (v[0] == '[') {
        const char *end = strchr(v, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - v - 1) >= sizeof host)
            return false;
        memcpy(host, v + 1, (size_t)(end - v - 1));
        host[end - v - 1] = '\0';
        if (inet_pton(AF_INET6, host, addr) != 1)
            return false;
        port = end + 2;
    } else {
        const char *colon = strrchr(v, ':');
        if (colon == NULL || (size_t)(colon - v) >= sizeof host)
            return false;
        memcpy(host, v, (size_t)(colon - v));
        host[colon - v] = '\0';
        if (inet_pton(AF_INET, host, addr) != 1)
            return false;
        port = colon + 1;
    }
    uint64_t p;
    return parse_digits(&port, &p) == 0 && *port == '\0' &&
           p >= (port0 ? 0 : 1) && p <= 65535;
}

static bool valid_listen(const char *v)
{
    return valid_address(v, false);
}

static const char *raws(const void *section, size_t off)
{
    return section ? *(char *const *)((const char *)section + off) : NULL;
}
#define RAW(sec, field) raws(r->sec, offsetof(__typeof__(*r->sec), field))

/* rawknob returns the file's text for row i of the runtime's table, NULL
 * when absent. */
static const char *rawknob(const struct raw *r, size_t i)
{
    int s = rowsection[i];
    if (s < 0)
        return r->top.knob[i];
    return r->section[s] ? r->section[s]->knob[i] : NULL;
}

/* check_knobs sets the runtime's knobs: the table's defaults, the GORO_*
 * variables of gorod's environment, then each key the file has, by
 * goro_config_set, whose message for a value refused is gorod's (the key,
 * the value, what is allowed); then the rules between keys, by
 * goro_config_check, each at the line of whichever of its keys comes last
 * in the file (0 when none is there). A rule that reads a key refused is
 * not reported: its value is not the one the file meant. */
static void check_knobs(struct load *l, const struct raw *r, gorod_config *c)
{
    goro_config_error err[8];
    uint64_t refused = 0;
    goro_config_default(&c->runtime);
    if (goro_config_from_env(&c->runtime, &err[0]) != 0)
        errat(l, 0, "%s", err[0].msg);
    const goro_knob *k;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        const char *v = rawknob(r, i);
        if (v != NULL &&
            goro_config_set(&c->runtime, k->key, v, &err[0]) != 0) {
            errat(l, lineof(l, k->key), "%s", err[0].msg);
            refused |= 1ull << i;
        }
    }
    size_t n = sizeof err / sizeof err[0];
    if (goro_config_check(&c->runtime, err, n) == 0)
        return;
    for (size_t e = 0; e < n && err[e].msg[0] != '\0'; e++) {
        int line = 0;
        bool skip = false;
        for (size_t j = 0; j < 4 && err[e].keys[j] != NULL; j++) {
            for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++)
                if (strcmp(k->key, err[e].keys[j]) == 0)
                    skip |= (refused >> i) & 1;
            int x = lineof(l, err[e].keys[j]);
            line = x > line ? x : line;
        }
        if (!skip)
            errat(l, line, "%s", err[e].msg);
    }
}

const char *const gorod_level_names[GLOG_DEBUG + 1] = {
    [GLOG_ERROR] = "error", [GLOG_WARN] = "warn", [GLOG_INFO] = "info",
    [GLOG_DEBUG] = "debug"};

static void check_misc(struct load *l, const struct raw *r, gorod_config *c)
{
    const char *const *levels = gorod_level_names;
    const char *v;
    if ((v = RAW(log, level)) != NULL) {
        int i = GLOG_ERROR;
        while (i <= GLOG_DEBUG && strcmp(v, levels[i]) != 0)
            i++;
        if (i > GLOG_DEBUG)
            refuse(&(struct check){l, "log.level", v},
                   "one of error, warn, info, debug");
        else
            c->log.level = i;
    }
    if ((v = RAW(log, target)) != NULL) {
        if (*v == '\0')
            refuse(&(struct check){l, "log.target", v},
                   "stderr, syslog or a file path");
        else
            set_string(l, &c->log.target, v,
                       strcmp(v, "stderr") != 0 && strcmp(v, "syslog") != 0);
    }
    if ((v = RAW(admin, socket)) != NULL) {
        set_string(l, &c->admin.socket, v, true);
        if (c->admin.socket != NULL &&
            strlen(c->admin.socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            char allowed[80];
            snprintf(allowed, sizeof allowed,
                     "a socket path of at most %zu bytes once resolved",
                     sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            refuse(&(struct check){l, "admin.socket", v}, allowed);
        }
    }
    get_mode(&(struct check){l, "admin.mode", RAW(admin, mode)},
             &c->admin.mode);
    if ((v = RAW(metrics, listen)) != NULL) {
        if (*v != '\0' && !valid_listen(v))
            refuse(&(struct check){l, "metrics.listen", v},
                   "\"\" or HOST:PORT with an IPv4 address or a [bracketed] "
                   "IPv6 address and a port from 1 to 65535");
        else
            set_string(l, &c->metrics.listen, v, false);
    }
    get_duration(&(struct check){l, "status_interval", r->status_interval},
                 true, 1000000000, 3600000000000,
                 "0 or a duration from 1s to 1h", &c->status_interval_ns);
    get_duration(&(struct check){l, "shutdown_timeout", r->shutdown_timeout},
                 false, 100000000, 600000000000,
                 "a duration from 100ms to 10m", &c->shutdown_timeout_ns);
}

static bool valid_name(const char *v)
{
    size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-");
    return n >= 1 && n <= 31 && v[n] == '\0';
}

static void check_listener(struct load *l, const struct raw_listener *rl,
                           unsigned i, gorod_config *c)
{
    gorod_listener_conf *n = &c->listeners[i];
    char key[64], entry[32];
    snprintf(entry, sizeof entry, "listeners[%u]", i);
    n->line = lineof(l, entry);
#define LKEY(f) (snprintf(key, sizeof key, "%s." #f, entry), key)
    if (rl->name == NULL || rl->address == NULL)
        errat(l, n->line, "%s: %s missing (every listener needs a name and "
              "an address)", entry,
              rl->name != NULL ? "address" : rl->address != NULL
                                                 ? "name" : "name and address");
    if (rl->name != NULL) {
        if (!valid_name(rl->name))
            refuse(&(struct check){l, LKEY(name), rl->name},
                   "1 to 31 letters, digits, '_' or '-'");
        for (unsigned j = 0; j < i; j++)
            if (c->listeners[j].name != NULL &&
                strcmp(c->listeners[j].name, rl->name) == 0) {
                char allowed[64];
                snprintf(allowed, sizeof allowed,
                         "unique (listeners[%u] on line %d has it too)", j,
                         c->listeners[j].line);
                refuse(&(struct check){l, LKEY(name), rl->name}, allowed);
                break;
            }
        set_string(l, &n->name, rl->name, false);
    }
    if (rl->address != NULL) {
        if (!valid_address(rl->address, true))
            refuse(&(struct check){l, LKEY(address), rl->address},
                   "HOST:PORT with an IPv4 address or a [bracketed] IPv6 "
                   "address and a port from 0 to 65535");
        set_string(l, &n->address, rl->address, false);
    }
    uint64_t b = 0;
    get_uint(&(struct check){l, LKEY(backlog), rl->backlog}, 0, 65535,
             "a whole number from 0 to 65535", &b);
    n->backlog = (uint32_t)b;
#undef LKEY
}

/* args_words splits p->args into its blank-separated key=value words, the
 * pairs of the string form (a word without '=' or with a bad key is
 * none), each at line. */
static void args_words(struct load *l, gorod_plugin_conf *p, int line)
{
    unsigned cap = 0;
    for (const char *s = p->args; *s;) {
        size_t n = strcspn(s, " \t");
        const char *eq = memchr(s, '=', n);
        if (eq != NULL && eq > s && (size_t)(eq - s) <= 63) {
            char key[64];
            memcpy(key, s, (size_t)(eq - s));
            key[eq - s] = '\0';
            gorod_arg *kv = valid_arg_key(key)
                ? grow(p->argv, &cap, p->nargs, sizeof *kv) : NULL;
            if (valid_arg_key(key)) {
                char *k = strdup(key),
                     *v = strndup(eq + 1, n - (size_t)(eq - s) - 1);
                if (kv == NULL || k == NULL || v == NULL) {
                    if (kv != NULL)
                        p->argv = kv;
                    free(k);
                    free(v);
                    l->nomem = true;
                    return;
                }
                p->argv = kv;
                kv[p->nargs++] = (gorod_arg){k, v, line};
            }
        }
        s += n;
        s += strspn(s, " \t");
    }
}

/* set_args sets p's args from what the walk found (a: NULL when absent):
 * a string as it is, with its words as the pairs; a mapping's pairs, with
 * the string start() gets made of them. */
static void set_args(struct load *l, gorod_plugin_conf *p, struct rawargs *a)
{
    if (a == NULL || !a->present || !a->map) {
        set_string(l, &p->args, a && a->str ? a->str : "", false);
        if (p->args != NULL)
            args_words(l, p, a ? a->line : p->line);
        return;
    }
    p->args_map = true;
    p->argv = a->kv;            /* taken over */
    p->nargs = a->n;
    a->kv = NULL;
    a->n = a->cap = 0;
    size_t len = 1;
    for (unsigned j = 0; j < p->nargs; j++)
        len += strlen(p->argv[j].key) + strlen(p->argv[j].value) + 2;
    if ((p->args = malloc(len)) == NULL) {
        l->nomem = true;
        return;
    }
    size_t used = 0;
    for (unsigned j = 0; j < p->nargs; j++)
        used += (size_t)snprintf(p->args + used, len - used, "%s%s=%s",
                                 j ? " " : "", p->argv[j].key,
                                 p->argv[j].value);
    p->args[used] = '\0';
}

static void check_plugin(struct load *l, const struct raw_plugin *rp,
                         unsigned i, gorod_config *c)
{
    gorod_plugin_conf *p = &c->plugins[i];
    char key[64], entry[32];
    snprintf(entry, sizeof entry, "plugins[%u]", i);
    p->line = lineof(l, entry);
    p->fixed_stack_size = 256 << 10;
    p->enabled = true;
#define PKEY(f) (snprintf(key, sizeof key, "%s." #f, entry), key)
    if (rp->name == NULL || rp->path == NULL)
        errat(l, p->line, "%s: %s missing (every plugin needs a name and a "
              "path)", entry,
              rp->name != NULL ? "path" : rp->path != NULL ? "name"
                                                           : "name and path");
    if (rp->name != NULL) {
        if (!valid_name(rp->name))
            refuse(&(struct check){l, PKEY(name), rp->name},
                   "1 to 31 letters, digits, '_' or '-'");
        for (unsigned j = 0; j < i; j++)
            if (c->plugins[j].name != NULL &&
                strcmp(c->plugins[j].name, rp->name) == 0) {
                char allowed[64];
                snprintf(allowed, sizeof allowed,
                         "unique (plugins[%u] on line %d has it too)", j,
                         c->plugins[j].line);
                refuse(&(struct check){l, PKEY(name), rp->name}, allowed);
                break;
            }
        set_string(l, &p->name, rp->name, false);
    }
    if (rp->path != NULL) {
        if (*rp->path == '\0')
            refuse(&(struct check){l, PKEY(path), rp->path},
                   "the path of a shared object");
        set_string(l, &p->path, rp->path, true);
    }
    set_args(l, p, i < l->nargs ? &l->args[i] : NULL);
    set_string(l, &p->file, l->file, false);
    p->index = i;
    if (rp->stack != NULL) {
        if (strcmp(rp->stack, "copy") != 0 && strcmp(rp->stack, "fixed") != 0)
            refuse(&(struct check){l, PKEY(stack), rp->stack},
                   "copy or fixed");
        p->fixed = strcmp(rp->stack, "fixed") == 0;
    }
    get_size(&(struct check){l, PKEY(fixed_stack_size), rp->fixed_stack_size},
             32768, 1ull << 30, false, 4096,
             "a multiple of 4096 between 32KiB and 1GiB",
             &p->fixed_stack_size);
    get_bool(&(struct check){l, PKEY(enabled), rp->enabled}, &p->enabled);
#undef PKEY
}

static void set_defaults(struct load *l, gorod_config *c)
{
    c->log.level = GLOG_INFO;
    set_string(l, &c->log.target, "stderr", false);
    set_string(l, &c->admin.socket, "/run/gorod/gorod.sock", false);
    c->admin.mode = 0660;
    set_string(l, &c->metrics.listen, "127.0.0.1:9464", false);
    c->status_interval_ns = 5000000000;
    c->shutdown_timeout_ns = 10000000000;
}

/* check_values turns the raw strings into c. */
static void check_values(struct load *l, const struct raw *r, gorod_config *c)
{
    set_defaults(l, c);
    check_knobs(l, r, c);
    check_misc(l, r, c);
    if (r->listeners_count > 0) {
        c->listeners = calloc(r->listeners_count, sizeof c->listeners[0]);
        if (c->listeners == NULL) {
            l->nomem = true;
            return;
        }
        c->nlisteners = r->listeners_count;
    }
    for (unsigned i = 0; i < r->listeners_count; i++)
        check_listener(l, &r->listeners[i], i, c);
    if (r->plugins_count > 0) {
        c->plugins = calloc(r->plugins_count, sizeof c->plugins[0]);
        if (c->plugins == NULL) {
            l->nomem = true;
            return;
        }
        c->nplugins = r->plugins_count;
    }
    for (unsigned i = 0; i < r->plugins_count; i++)
        check_plugin(l, &r->plugins[i], i, c);
}

/* ---- the file ----------------------------------------------------------- */

/* read_file reads path whole into a malloc'd buffer: a regular file of at
 * most CONFIG_MAX_BYTES. Opened without blocking, so that a FIFO (or a
 * device) is refused instead of waited on. */
static unsigned char *read_file(struct load *l, const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        errat(l, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        errat(l, 0, "cannot read: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        errat(l, 0, "not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > CONFIG_MAX_BYTES) {
        errat(l, 0, "%llu bytes: more than a configuration may hold (%u)",
              (unsigned long long)st.st_size, CONFIG_MAX_BYTES);
        close(fd);
        return NULL;
    }
    /* One byte more than the cap tells a file that grew meanwhile. */
    unsigned char *buf = malloc(CONFIG_MAX_BYTES + 1);
    size_t n = 0;
    bool bad = buf == NULL;
    l->nomem = bad;
    while (!bad && n <= CONFIG_MAX_BYTES) {
        ssize_t got = read(fd, buf + n, CONFIG_MAX_BYTES + 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            errat(l, 0, "cannot read: %s", strerror(errno));
            bad = true;
        }
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (!bad && n > CONFIG_MAX_BYTES) {
        errat(l, 0, "more than a configuration may hold (%u bytes)",
              CONFIG_MAX_BYTES);
        bad = true;
    }
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* file_dir returns the absolute directory of path, malloc'd. */
static char *file_dir(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return NULL;
    char *slash = strrchr(copy, '/');
    const char *d = slash == NULL ? "." : slash == copy ? "/" : copy;
    if (slash != NULL && slash != copy)
        *slash = '\0';
    char *abs = realpath(d, NULL);
    free(copy);
    return abs;
}

/* finish ends a load: the messages into err, or c when there are none. */
static gorod_config *finish(struct load *l, gorod_config *c, char *err,
                            size_t errlen)
{
    if (l->nmsgs > 0 || l->nomem) {
        report(l, err, errlen);
        gorod_config_free(c);
        c = NULL;
    } else if (errlen > 0)
        err[0] = '\0';
    load_free(l);
    return c;
}

/* parse checks and loads the file's bytes into a new configuration: NULL
 * when something was wrong (the messages are in l). */
static gorod_config *parse(struct load *l, const unsigned char *data,
                           size_t len)
{
    gorod_config *c = NULL;
    struct raw *r = NULL;
    pthread_once(&schema_once, build_schema);
    if ((l->dir = file_dir(l->file)) == NULL) {
        errat(l, 0, "cannot find its directory: %s", strerror(errno));
        return NULL;
    }
    check_shape(l, data, len);
    if (l->hard || l->nomem)
        return NULL;
    cyaml_err_t e = cyaml_load_data(data, len, &cyaml_cfg, &top_schema,
                                    (cyaml_data_t **)&r, NULL);
    if (e != CYAML_OK) {
        errat(l, 0, "cannot load: %s", cyaml_strerror(e));
        return NULL;
    }
    if ((c = calloc(1, sizeof *c)) == NULL ||
        (c->file = strdup(l->file)) == NULL)
        l->nomem = true;
    else
        check_values(l, r, c);
    cyaml_free(&cyaml_cfg, &top_schema, r, 0);
    return c;
}

gorod_config *gorod_config_parse(const char *name, const void *data,
                                 size_t len, char *err, size_t errlen)
{
    struct load l = {.file = name};
    return finish(&l, parse(&l, data, len), err, errlen);
}

gorod_config *gorod_config_load(const char *path, char *err, size_t errlen)
{
    struct load l = {.file = path};
    gorod_config *c = NULL;
    size_t len = 0;
    unsigned char *data = read_file(&l, path, &len);
    if (data != NULL)
        c = parse(&l, data, len);
    free(data);
    return finish(&l, c, err, errlen);
}

void gorod_config_free(gorod_config *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nplugins; i++)
        gorod_plugin_conf_clear(&c->plugins[i]);
    free(c->plugins);
    for (unsigned i = 0; i < c->nlisteners; i++) {
        free(c->listeners[i].name);
        free(c->listeners[i].address);
    }
    free(c->listeners);
    free(c->file);
    free(c->log.target);
    free(c->admin.socket);
    free(c->metrics.listen);
    free(c);
}

/* ---- printing ----------------------------------------------------------- */

/* utf8 decodes the UTF-8 sequence at s: its code point into *cp and its
 * length, or 0 when s does not start a well-formed sequence. */
static int utf8(const unsigned char *s, uint32_t *cp)
{
    int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4)
        return 0;
    uint32_t c = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* quoted prints s as a YAML double-quoted scalar that loads back to s.
 * Printable characters go as they are; the others (C0 and C1 controls,
 * DEL, the byte order mark, and the line breaks NEL, LS and PS, which a
 * reader would fold) are escaped: inside a quoted scalar YAML allows only
 * printable characters. Bytes that are not UTF-8 (a path from a directory
 * whose name is not) have no escape and stay as they are. */
static void quoted(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned char ch = *s;
        uint32_t cp;
        int n;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < ' ' || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else if (ch < 0x80)
            fputc(ch, f);
        else if ((n = utf8(s, &cp)) == 0)
            fputc(ch, f);
        else {
            if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
                cp == 0xfffe || cp == 0xffff)
                fprintf(f, cp < 0x100 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
            else
                fwrite(s, 1, (size_t)n, f);
            s += n;
            continue;
        }
        s++;
    }
    fputc('"', f);
}

static const char *tf(bool b)
{
    return b ? "true" : "false";
}

/* print_knobs writes the runtime's knobs as the schema has them: each
 * section with its keys, the keys outside one at the top. */
static void print_knobs(const goro_config *rt, FILE *f)
{
    char v[64];
    pthread_once(&schema_once, build_schema);
    for (size_t t = 0; t < nruntime; t++) {
        if (toprow[t] >= 0) {
            const char *key = goro_config_knob((size_t)toprow[t])->key;
            goro_config_get(rt, key, v, sizeof v);
            fprintf(f, "%s: %s\n", key, v);
            continue;
        }
        fprintf(f, "%s:\n", top_fields[t].key);
        for (const cyaml_schema_field_t *k = knob_fields[-1 - toprow[t]];
             k->key != NULL; k++) {
            size_t i = k->data_offset / sizeof(char *);
            goro_config_get(rt, goro_config_knob(i)->key, v, sizeof v);
            fprintf(f, "  %s: %s\n", k->key, v);
        }
    }
}

void gorod_config_print(const gorod_config *c, FILE *f)
{
    char a[32], b[32];
    print_knobs(&c->runtime, f);
    fprintf(f, "log:\n  level: %s\n  target: ", gorod_level_names[c->log.level]);
    quoted(f, c->log.target);
    fprintf(f, "\nadmin:\n  socket: ");
    quoted(f, c->admin.socket);
    fprintf(f, "\n  mode: %04o\nmetrics:\n  listen: ", c->admin.mode);
    quoted(f, c->metrics.listen);
    goro_format_duration(c->status_interval_ns, a, sizeof a);
    goro_format_duration(c->shutdown_timeout_ns, b, sizeof b);
    fprintf(f, "\nstatus_interval: %s\nshutdown_timeout: %s\n", a, b);
    fprintf(f, "listeners:%s\n", c->nlisteners ? "" : " []");
    for (unsigned i = 0; i < c->nlisteners; i++) {
        const gorod_listener_conf *n = &c->listeners[i];
        fprintf(f, "  - name: %s\n    address: ", n->name);
        quoted(f, n->address);
        fprintf(f, "\n    backlog: %u\n", n->backlog);
    }
    fprintf(f, "plugins:%s\n", c->nplugins ? "" : " []");
    for (unsigned i = 0; i < c->nplugins; i++) {
        const gorod_plugin_conf *p = &c->plugins[i];
        fprintf(f, "  - name: %s\n    path: ", p->name);
        quoted(f, p->path);
        fprintf(f, "\n    args: ");
        if (p->args_map) {
            fputc('{', f);
            for (unsigned j = 0; j < p->nargs; j++) {
                fputs(j ? ", " : "", f);
                quoted(f, p->argv[j].key);
                fputs(": ", f);
                quoted(f, p->argv[j].value);
            }
            fputc('}', f);
        } else {
            quoted(f, p->args);
        }
        goro_format_size(p->fixed_stack_size, a, sizeof a);
        fprintf(f, "\n    stack: %s\n    fixed_stack_size: %s\n"
                   "    enabled: %s\n",
                p->fixed ? "fixed" : "copy", a, tf(p->enabled));
    }
}

bool gorod_runtime_conf_equal(const gorod_config *a, const gorod_config *b)
{
    char x[64], y[64];
    const goro_knob *k;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        goro_config_get(&a->runtime, k->key, x, sizeof x);
        goro_config_get(&b->runtime, k->key, y, sizeof y);
        if (strcmp(x, y) != 0)
            return false;
    }
    return true;
}

bool gorod_plugin_conf_equal(const gorod_plugin_conf *a,
                             const gorod_plugin_conf *b)
{
    if (a->args_map != b->args_map || a->nargs != b->nargs)
        return false;
    for (unsigned j = 0; j < a->nargs; j++)
        if (strcmp(a->argv[j].key, b->argv[j].key) != 0 ||
            strcmp(a->argv[j].value, b->argv[j].value) != 0)
            return false;
    return strcmp(a->name, b->name) == 0 && strcmp(a->path, b->path) == 0 &&
           strcmp(a->args, b->args) == 0 && a->fixed == b->fixed &&
           (!a->fixed || a->fixed_stack_size == b->fixed_stack_size) &&
           a->enabled == b->enabled;
}

void gorod_plugin_conf_clear(gorod_plugin_conf *c)
{
    free(c->name);
    free(c->path);
    free(c->args);
    free(c->file);
    for (unsigned j = 0; j < c->nargs; j++) {
        free(c->argv[j].key);
        free(c->argv[j].value);
    }
    free(c->argv);
    c->name = c->path = c->args = c->file = NULL;
    c->argv = NULL;
    c->nargs = 0;
}

bool gorod_plugin_conf_copy(gorod_plugin_conf *dst,
                            const gorod_plugin_conf *src)
{
    *dst = *src;
    dst->name = strdup(src->name ? src->name : "");
    dst->path = strdup(src->path ? src->path : "");
    dst->args = strdup(src->args ? src->args : "");
    dst->file = strdup(src->file ? src->file : "");
    dst->argv = src->nargs ? calloc(src->nargs, sizeof *dst->argv) : NULL;
    bool ok = dst->name && dst->path && dst->args && dst->file &&
              (src->nargs == 0 || dst->argv);
    dst->nargs = 0;
    for (unsigned j = 0; ok && j < src->nargs; j++) {
        gorod_arg *d = &dst->argv[j];
        *d = src->argv[j];
        d->key = strdup(src->argv[j].key);
        d->value = strdup(src->argv[j].value);
        dst->nargs++;
        ok = d->key && d->value;
    }
    if (!ok)
        gorod_plugin_conf_clear(dst);
    return ok;
}

void gorod_arg_refusal(const gorod_plugin_conf *c, unsigned i,
                       const char *allowed, char *out, size_t len)
{
    char buf[128];
    const gorod_arg *a = &c->argv[i];
    snprintf(out, len, "%s:%d: plugins[%u].args.%s: %s is not %s",
             c->file ? c->file : "?", a->line, c->index, a->key,
             show(a->value, buf, sizeof buf), allowed);
}
