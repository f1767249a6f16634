/*
 * config.c - the daemon's YAML configuration: the schema, the load, and
 * the checks of gorod's own keys (by their table's rows, configkeys.c)
 * and of the listeners.
 *
 * The file is read once into memory (gorod_config_load; gorod_config_parse
 * takes the bytes directly, as the fuzz target does) and then looked at
 * twice.
 *
 * First, libyaml's event parser walks it against the libcyaml schema below
 * (configwalk.c). The schema is the one description of the file's shape:
 * every mapping's fields, every sequence's entry. The walk is what gives
 * the messages their line numbers (libcyaml reports none for values, and
 * its messages are log lines, not something a caller can return), and it
 * reports in the file's words what libcyaml would only refuse with an
 * error code.
 *
 * Second, when the shape is right, libcyaml loads the same bytes into a
 * "raw" struct by the schema. Every scalar in the schema is a CYAML_STRING,
 * never an int, uint, bool or enum: libcyaml 1.3 is lax with those (`12abc`
 * loads as 12, `-5` into an unsigned field, `maybe` as true) and its errors
 * do not say which value was wrong. So libcyaml does the structure and the
 * allocation, and every value is then parsed strictly and checked, with the
 * recorded line of its key (configvalues.c): the scalar keys by the rows
 * of two tables, the runtime's knobs (the sched and stack sections,
 * traceback: the runtime's table, src/runtime/config.c) and gorod's own
 * (log, admin, metrics, the intervals: configkeys.c), both walked by
 * configknobs.c; here the listeners, in configplugins.c the plugins.
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
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

/* The largest configuration file (configwalk.c's CONFIG_MAX_DEPTH is the
 * deepest nesting). A real configuration is a few KiB; the limit keeps a
 * file that is not one (/dev/zero, a generated file gone wrong) from
 * costing minutes or all the memory before it is refused. */
#define CONFIG_MAX_BYTES (1u << 20)

/* ---- the schema --------------------------------------------------------- */

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

/* The lists of mappings, after the scalar keys of both tables at the top. */
static const cyaml_schema_field_t gorod_fields[] = {
    CYAML_FIELD_SEQUENCE("listeners", OPT | CYAML_FLAG_POINTER_NULL,
                         struct raw, listeners, &listener_schema, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_SEQUENCE("plugins", OPT | CYAML_FLAG_POINTER_NULL, struct raw,
                         plugins, &plugin_schema, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};
#define NGOROD (sizeof gorod_fields / sizeof gorod_fields[0])

/* Written once by build_schema (schema_once), read only after: the
 * tables' fields (knobs_schema), then the lists. */
static cyaml_schema_field_t top_fields[MAXSECTIONS + MAXKNOBS + NGOROD];
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw, top_fields),
};

static void build_schema(void)
{
    size_t n = knobs_schema(top_fields);
    memcpy(top_fields + n, gorod_fields, sizeof gorod_fields);
}

const cyaml_schema_value_t *config_schema(void)
{
    pthread_once(&schema_once, build_schema);
    return &top_schema;
}

static const cyaml_config_t cyaml_cfg = {
    .log_fn = NULL, /* our own messages say what is wrong */
    .mem_fn = cyaml_mem,
    .log_level = CYAML_LOG_ERROR,
    .flags = CYAML_CFG_IGNORE_UNKNOWN_KEYS | CYAML_CFG_NO_ALIAS,
};

/* ---- gorod's own keys and the listeners ---------------------------------- */

/* check_key reads v as row k says into its field of c, or refuses it in
 * the row's words at the line of its key. */
void check_key(struct load *l, const gorod_key *k, const char *v,
               gorod_config *c)
{
    const struct check ck = {l, k->pub.key, v};
    void *f = (char *)c + k->off;
    switch (k->kind) {
    case KEY_ENUM: {
        int i = 0;
        while (k->names[i] != NULL && strcmp(v, k->names[i]) != 0)
            i++;
        if (k->names[i] == NULL)
            refuse(&ck, k->pub.allowed);
        else
            *(int *)f = i;
        break;
    }
    case KEY_DURATION:
        get_duration(&ck, k->zero, k->lo, k->hi, k->pub.allowed, f);
        break;
    case KEY_MODE:
        get_mode(&ck, (uint32_t)k->hi, k->pub.allowed, f);
        break;
    case KEY_PATH: {
        bool word = false;
        for (size_t i = 0; k->names != NULL && k->names[i] != NULL; i++)
            word |= strcmp(v, k->names[i]) == 0;
        if (*v == '\0' && !k->zero) {
            refuse(&ck, k->pub.allowed);
            break;
        }
        char **s = f;
        set_string(l, s, v, !word);
        if (k->hi > 0 && *s != NULL && strlen(*s) > (size_t)k->hi)
            refuse(&ck, k->pub.allowed);
        break;
    }
    case KEY_LISTEN:
        if (*v != '\0' && !valid_listen(v))
            refuse(&ck, k->pub.allowed);
        else
            set_string(l, f, v, false);
        break;
    }
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

/* check_values turns the raw strings into c. */
static void check_values(struct load *l, const struct raw *r, gorod_config *c)
{
    check_knobs(l, r, c);
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
    const cyaml_schema_value_t *top = config_schema();
    if ((l->dir = file_dir(l->file)) == NULL) {
        errat(l, 0, "cannot find its directory: %s", strerror(errno));
        return NULL;
    }
    check_shape(l, top, data, len);
    if (l->hard || l->nomem)
        return NULL;
    cyaml_err_t e = cyaml_load_data(data, len, &cyaml_cfg, top,
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
    cyaml_free(&cyaml_cfg, top, r, 0);
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

