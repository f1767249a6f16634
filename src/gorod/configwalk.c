/*
 * configwalk.c - the shape of a configuration file: libyaml's events
 * against the libcyaml schema (config.c).
 *
 * The walk is what gives the messages their line numbers: it records the
 * line of every key path it meets (keylines.c), and it reports, in the
 * file's words, what libcyaml would only refuse with an error code:
 * syntax errors, an empty file, a second document, a top level or a
 * section that is not a mapping, a list that is not a list, an unknown key
 * (with the keys allowed there), a duplicate key, an alias, a value
 * holding a NUL byte, nesting deeper than CONFIG_MAX_DEPTH.
 *
 * An unknown key is reported and the walk goes on; anything else wrong
 * with the shape sets the load's hard flag: libcyaml could not load it.
 * The one value the schema cannot describe, a plugin's args
 * (CYAML_IGNORE), is read by walk_args (configplugins.c) with the walk's
 * steps.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "show.h"

/* The deepest nesting of mappings and lists in a file. A real
 * configuration is four levels deep (a plugin's args); the limit keeps a
 * file that is not one (100,000 nested lists) from costing minutes or all
 * the memory before it is refused. */
#define CONFIG_MAX_DEPTH 32

/* walk_next reads the next event into w->ev. Returns 0, or -1 after
 * reporting a syntax error. */
int walk_next(struct walk *w)
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

/* walk_kind names what an event starts, for a message. */
const char *walk_kind(const yaml_event_t *e)
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

/* walk_skip consumes the rest of the node whose first event is in w->ev. */
int walk_skip(struct walk *w)
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
        if (walk_next(w) != 0)
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
                        : walk_kind(&w->ev);
    errat(w->l, lineno(&w->ev.start_mark), "%s%s%s is not %s", path,
          *path ? ": " : "", v, expected);
    w->l->hard = true;
    return walk_skip(w);
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
        if (walk_next(w) != 0)
            return -1;
        if (w->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        int line = lineno(&w->ev.start_mark);
        if (w->ev.type != YAML_SCALAR_EVENT) {
            errat(w->l, line, "%s%s%s is not allowed as a key", path,
                  *path ? ": " : "", walk_kind(&w->ev));
            w->l->hard = true;
            /* The key, then its value. */
            if (walk_skip(w) != 0 || walk_next(w) != 0 || walk_skip(w) != 0)
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
            r = walk_next(w) != 0 ? -1 : walk_skip(w);
        } else if (seen[i]) {
            errat(w->l, line, "%s: duplicate key (first on line %d)", sub,
                  seen[i]);
            w->l->hard = true;
            r = walk_next(w) != 0 ? -1 : walk_skip(w);
        } else {
            seen[i] = line;
            setline(w->l, sub, line);
            r = walk_next(w) != 0 ? -1 : walk_node(w, &fields[i].value, sub);
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
        if (walk_next(w) != 0)
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
void check_shape(struct load *l, const cyaml_schema_value_t *top,
                 const unsigned char *data, size_t len)
{
    struct walk w = {.l = l, .data = data, .len = len};
    if (!yaml_parser_initialize(&w.parser)) {
        l->nomem = l->hard = true;
        return;
    }
    yaml_parser_set_input_string(&w.parser, data, len);
    /* STREAM-START, then a document */
    if (walk_next(&w) != 0 || walk_next(&w) != 0)
        goto out;
    if (w.ev.type == YAML_STREAM_END_EVENT) {
        errat(l, 0, "empty configuration (no YAML document)");
        l->hard = true;
        goto out;
    }
    if (walk_next(&w) != 0) /* the document's node */
        goto out;
    if (empty_scalar(&w.ev)) {
        errat(l, 0, "empty configuration (an empty YAML document)");
        l->hard = true;
        goto out;
    }
    char allowed[512], what[600];
    if (w.ev.type != YAML_MAPPING_START_EVENT) {
        snprintf(what, sizeof what, "a mapping of sections (%s)",
                 keys(top->mapping.fields, allowed, sizeof allowed));
        if (w.ev.type == YAML_ALIAS_EVENT)
            walk_node(&w, top, "");
        else
            mismatch(&w, "", what);
        l->hard = true;
        goto out;
    }
    if (walk_mapping(&w, top->mapping.fields, "") != 0 || walk_next(&w) != 0 ||
        walk_next(&w) != 0) /* DOCUMENT-END, then STREAM-END or more */
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
