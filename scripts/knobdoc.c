/*
 * knobdoc.c - the documents written from the tables of keys: README.md's
 * table of GORO_* variables and config/gorod.yaml's runtime knobs (the
 * sched and stack sections, traceback) from the runtime's table
 * (goro_config_knob, src/runtime/config.c), and config/gorod.yaml's
 * comments on gorod's own keys (log, admin, metrics, the intervals) from
 * gorod's (gorod_key_at, src/gorod/configkeys.c, included here).
 *
 *   knobdoc write FILE...   rewrite the generated parts of each file
 *   knobdoc check FILE...   exit 1, naming the file, when it differs
 *   knobdoc man [keys]      the runtime's knobs (gorod's keys) as man(7)
 *                           paragraphs, on stdout (gorod.yaml(5):
 *                           scripts/mkman)
 *
 * `make knobdoc` runs the first on README.md and config/gorod.yaml;
 * tests/test_config.c does what the second does (it includes this file with
 * KNOBDOC_LIB defined), so the suite fails when a key changes and the
 * documents do not. A file's kind is told by its name: *.md gets the
 * table, *.yaml a part for each table. A generated part lies between a
 * begin and an end marker, which must be there already; the rest of the
 * file is not touched.
 *
 * In gorod.yaml the runtime's knobs are written at their defaults; gorod's
 * keys keep the values the file gives them (the shipped file's admin
 * socket is in the build tree, for make run; install writes the system's),
 * the comments above them the table's.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/gorod/configkeys.c"

#define MD_BEGIN "<!-- knobs: written by `make knobdoc` from the table in " \
                 "src/runtime/config.c; edit the table, not this -->\n"
#define MD_END "<!-- knobs: end -->\n"

/* gorod_row is row i of gorod's table as the runtime's rows are. */
static const goro_knob *gorod_row(size_t i)
{
    const gorod_key *k = gorod_key_at(i);
    return k != NULL ? &k->pub : NULL;
}

/* A table and its part of gorod.yaml: the part's markers, and whether its
 * keys keep the file's values (else each is written at its default). */
struct table {
    const goro_knob *(*row)(size_t i);
    const char *begin, *end;
    bool keep;
};

static const struct table tables[] = {
    {goro_config_knob,
     "# ---- written by `make knobdoc` from the runtime's table of knobs\n"
     "# (src/runtime/config.c): edit the table, not this ----\n",
     "# ---- end of the runtime's knobs ----\n", false},
    {gorod_row,
     "# ---- written by `make knobdoc` from gorod's table of keys\n"
     "# (src/gorod/configkeys.c): edit the table, not this ----\n",
     "# ---- end of gorod's keys ----\n", true},
};

/* A growing string. */
struct buf {
    char *s;
    size_t n, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL) {
            perror("knobdoc");
            exit(2);
        }
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* wrap writes text as comment lines "INDENT# ..." of at most 78 columns,
 * breaking between words. */
static void wrap(struct buf *b, const char *indent, const char *text)
{
    const size_t width = 78 - strlen(indent) - 2;
    while (*text != '\0') {
        size_t n = strlen(text), cut = n;
        if (n > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0) /* one word longer than a line */
                cut = strcspn(text, " ");
        }
        puts_(b, indent);
        puts_(b, "# ");
        put(b, text, cut);
        puts_(b, "\n");
        text += cut;
        while (*text == ' ')
            text++;
    }
}

/* render_md: the table of README.md's "Configuration". */
static char *render_md(void)
{
    struct buf b = {0};
    puts_(&b, MD_BEGIN);
    puts_(&b, "| variable | key | default | allowed | what |\n"
              "| --- | --- | --- | --- | --- |\n");
    const goro_knob *k;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        char line[1024];
        snprintf(line, sizeof line, "| `%s` | `%s` | %s | %s%s%s | %s |\n",
                 k->env, k->key, k->env_def, k->env_allowed,
                 k->rule ? "; " : "", k->rule ? k->rule : "", k->doc);
        puts_(&b, line);
    }
    puts_(&b, MD_END);
    return b.s;
}

/* value finds key's line in part (n bytes: "name: VALUE" under the line
 * "section:" for "section.name", at the top for a key without a dot) and
 * returns where VALUE starts, its length in *len; NULL when not there. */
static const char *value(const char *part, size_t n, const char *key,
                         size_t *len)
{
    const char *dot = strchr(key, '.'), *name = dot ? dot + 1 : key;
    size_t sec = dot ? (size_t)(dot - key) : 0, m = strlen(name);
    bool in = dot == NULL;
    for (const char *p = part, *end = part + n; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        eol = eol ? eol : end;
        const char *q = p;
        if (dot != NULL && *p != ' ' && *p != '#' && *p != '\n')
            in = (size_t)(eol - p) == sec + 1 && strncmp(p, key, sec) == 0 &&
                 p[sec] == ':';
        else if (dot != NULL && strncmp(p, "  ", 2) == 0)
            q = p + 2;
        if (in && q < eol && *q != ' ' && *q != '#' &&
            (size_t)(eol - q) > m + 1 && strncmp(q, name, m) == 0 &&
            q[m] == ':' && q[m + 1] == ' ' && (dot == NULL) == (q == p)) {
            *len = (size_t)(eol - q - m - 2);
            return q + m + 2;
        }
        p = eol + 1;
    }
    return NULL;
}

/* render_yaml: gorod.yaml's part of table t, each key under its
 * documentation at its default, or at the value the file's old part (n
 * bytes) gives it when t keeps them: "sched.procs" as procs in the section
 * sched, a key without a dot ("traceback") at the top, a blank line
 * between a section and what follows it. */
static char *render_yaml(const struct table *t, const char *old, size_t n)
{
    struct buf b = {0};
    puts_(&b, t->begin);
    char section[32] = "";
    const goro_knob *k;
    for (size_t i = 0; (k = t->row(i)) != NULL; i++) {
        const char *dot = strchr(k->key, '.');
        size_t sn = dot ? (size_t)(dot - k->key) : 0;
        const char *indent = dot ? "  " : "";
        if (sn >= sizeof section)
            continue;
        if (dot == NULL || strncmp(section, k->key, sn) != 0 ||
            section[sn] != '\0') {
            if (i > 0)
                puts_(&b, "\n");
            snprintf(section, sizeof section, "%.*s", (int)sn, k->key);
            if (dot != NULL) {
                puts_(&b, section);
                puts_(&b, ":\n");
            }
        }
        char text[1024], line[256];
        snprintf(text, sizeof text, "%s%s%s%s %s; %s%s%s.", k->doc,
                 k->env ? " " : "", k->env ? k->env : "",
                 k->env ? "; default" : " Default", k->def, k->allowed,
                 k->rule ? "; " : "", k->rule ? k->rule : "");
        wrap(&b, indent, text);
        size_t vn = strlen(k->def);
        const char *v = t->keep ? value(old, n, k->key, &vn) : NULL;
        snprintf(line, sizeof line, "%s%s: %.*s\n", indent,
                 dot ? dot + 1 : k->key, (int)(v ? vn : strlen(k->def)),
                 v ? v : k->def);
        puts_(&b, line);
    }
    puts_(&b, t->end);
    return b.s;
}

/* splice returns text with the part between begin and end replaced by
 * render's, malloc'd; NULL when a marker is missing. */
static char *splice(const char *text, const char *begin, const char *end,
                    const struct table *t)
{
    const char *a = strstr(text, begin);
    const char *z = a ? strstr(a, end) : NULL;
    if (a == NULL || z == NULL)
        return NULL;
    char *part = t ? render_yaml(t, a, (size_t)(z - a)) : render_md();
    struct buf b = {0};
    put(&b, text, (size_t)(a - text));
    puts_(&b, part);
    puts_(&b, z + strlen(end));
    free(part);
    return b.s;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* knobdoc_splice returns text (the file named path) with its generated
 * parts rewritten, malloc'd; NULL with a message in why when path is of no
 * known kind or lacks the markers. */
static char *knobdoc_splice(const char *path, const char *text,
                            const char **why)
{
    char *out = NULL;
    *why = "no begin and end markers of a generated part";
    if (ends_with(path, ".md"))
        return splice(text, MD_BEGIN, MD_END, NULL);
    if (!ends_with(path, ".yaml")) {
        *why = "neither .md nor .yaml";
        return NULL;
    }
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char *next = splice(out ? out : text, tables[i].begin, tables[i].end,
                            &tables[i]);
        free(out);
        if ((out = next) == NULL)
            return NULL;
    }
    return out;
}

/* knobdoc_read returns the file's bytes, malloc'd and NUL-terminated, or
 * NULL. */
static char *knobdoc_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    puts_(&b, "");
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, chunk, n);
    fclose(f);
    return b.s;
}

#ifndef KNOBDOC_LIB
/* roff_text writes text as a line of roff: a backslash as \e, '-' as \-
 * (a minus, which copies as typed: -fsplit-stack), a leading dot or quote
 * kept from being read as a request. */
static void roff_text(struct buf *b, const char *text)
{
    if (*text == '.' || *text == '\'')
        puts_(b, "\\&");
    for (; *text != '\0'; text++) {
        if (*text == '\\')
            puts_(b, "\\e");
        else if (*text == '-')
            puts_(b, "\\-");
        else
            put(b, text, 1);
    }
}

/* render_man: each row of table t as a tagged paragraph of gorod.yaml(5),
 * in the table's order: the key, then its documentation, its default and
 * what is allowed, and the runtime's its variable (the environment's
 * spelling too where it differs, as for booleans). */
static char *render_man(const struct table *t)
{
    struct buf b = {0};
    const goro_knob *k;
    for (size_t i = 0; (k = t->row(i)) != NULL; i++) {
        puts_(&b, ".TP\n.B ");
        roff_text(&b, k->key);
        puts_(&b, "\n");
        roff_text(&b, k->doc);
        puts_(&b, "\nDefault\n.BR ");
        roff_text(&b, k->def);
        puts_(&b, " ;\n");
        roff_text(&b, k->allowed);
        if (k->rule != NULL) {
            puts_(&b, ";\n");
            roff_text(&b, k->rule);
        }
        if (k->env == NULL) {
            puts_(&b, ".\n");
            continue;
        }
        puts_(&b, ".\nIn the environment:\n.B ");
        roff_text(&b, k->env);
        if (strcmp(k->env_def, k->def) != 0 ||
            strcmp(k->env_allowed, k->allowed) != 0) {
            puts_(&b, "\n(default\n.BR ");
            roff_text(&b, k->env_def);
            puts_(&b, " ;\n");
            roff_text(&b, k->env_allowed);
            puts_(&b, ")");
        }
        puts_(&b, "\n");
    }
    return b.s;
}

int main(int argc, char **argv)
{
    if ((argc == 2 || (argc == 3 && strcmp(argv[2], "keys") == 0)) &&
        strcmp(argv[1], "man") == 0) {
        char *man = render_man(&tables[argc - 2]);
        fputs(man, stdout);
        free(man);
        return fflush(stdout) == 0 ? 0 : 2;
    }
    if (argc < 3 || (strcmp(argv[1], "write") != 0 &&
                     strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "usage: knobdoc write|check FILE... | "
                "knobdoc man [keys]\n");
        return 2;
    }
    bool write = strcmp(argv[1], "write") == 0;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        const char *why = NULL;
        char *text = knobdoc_read(argv[i]), *out = NULL;
        if (text == NULL)
            why = "cannot be read";
        else
            out = knobdoc_splice(argv[i], text, &why);
        if (out == NULL) {
            fprintf(stderr, "knobdoc: %s: %s\n", argv[i], why);
            rc = 2;
        } else if (strcmp(out, text) != 0) {
            if (write) {
                FILE *f = fopen(argv[i], "wb");
                if (f == NULL || fputs(out, f) == EOF || fclose(f) != 0) {
                    perror(argv[i]);
                    rc = 2;
                }
            } else {
                fprintf(stderr, "knobdoc: %s differs from the tables of "
                        "keys: run make knobdoc\n", argv[i]);
                rc = rc ? rc : 1;
            }
        }
        free(text);
        free(out);
    }
    return rc;
}
#endif
