/*
 * knobdoc.c - README.md's table of GORO_* variables and config/gorod.yaml's
 * runtime knobs (the sched and stack sections, traceback), written from
 * the runtime's table of knobs (goro_config_knob, src/runtime/config.c).
 *
 *   knobdoc write FILE...   rewrite the generated part of each file
 *   knobdoc check FILE...   exit 1, naming the file, when it differs
 *   knobdoc man             the knobs as man(7) paragraphs, on stdout
 *                           (gorod.yaml(5): scripts/mkman)
 *
 * `make knobdoc` runs the first on README.md and config/gorod.yaml;
 * tests/test_config.c does what the second does (it includes this file with
 * KNOBDOC_LIB defined), so the suite fails when a knob changes and the
 * documents do not. A file's kind is told by its name: *.md gets the
 * table, *.yaml the sections. The generated part lies between a begin and
 * an end marker, which must be there already; the rest of the file is not
 * touched.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MD_BEGIN "<!-- knobs: written by `make knobdoc` from the table in " \
                 "src/runtime/config.c; edit the table, not this -->\n"
#define MD_END "<!-- knobs: end -->\n"
#define YAML_BEGIN "# ---- written by `make knobdoc` from the runtime's " \
                   "table of knobs\n# (src/runtime/config.c): edit the " \
                   "table, not this ----\n"
#define YAML_END "# ---- end of the runtime's knobs ----\n"

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

/* render_yaml: gorod.yaml's part of the runtime's knobs, each key at its
 * default under its documentation: "sched.procs" as procs in the section
 * sched, a key without a dot ("traceback") at the top, a blank line
 * between a section and what follows it. */
static char *render_yaml(void)
{
    struct buf b = {0};
    puts_(&b, YAML_BEGIN);
    char section[32] = "";
    const goro_knob *k;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        const char *dot = strchr(k->key, '.');
        size_t n = dot ? (size_t)(dot - k->key) : 0;
        const char *indent = dot ? "  " : "";
        if (n >= sizeof section)
            continue;
        if (dot == NULL || strncmp(section, k->key, n) != 0 ||
            section[n] != '\0') {
            if (i > 0)
                puts_(&b, "\n");
            snprintf(section, sizeof section, "%.*s", (int)n, k->key);
            if (dot != NULL) {
                puts_(&b, section);
                puts_(&b, ":\n");
            }
        }
        char text[1024], line[256];
        snprintf(text, sizeof text, "%s %s; default %s; %s%s%s.", k->doc,
                 k->env, k->def, k->allowed, k->rule ? "; " : "",
                 k->rule ? k->rule : "");
        wrap(&b, indent, text);
        snprintf(line, sizeof line, "%s%s: %s\n", indent,
                 dot ? dot + 1 : k->key, k->def);
        puts_(&b, line);
    }
    puts_(&b, YAML_END);
    return b.s;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* knobdoc_splice returns text (the file named path) with its generated part
 * rewritten, malloc'd; NULL with a message in why when path is of no known
 * kind or lacks the markers. */
static char *knobdoc_splice(const char *path, const char *text,
                            const char **why)
{
    const char *begin, *end;
    char *part;
    if (ends_with(path, ".md")) {
        begin = MD_BEGIN, end = MD_END, part = render_md();
    } else if (ends_with(path, ".yaml")) {
        begin = YAML_BEGIN, end = YAML_END, part = render_yaml();
    } else {
        *why = "neither .md nor .yaml";
        return NULL;
    }
    const char *a = strstr(text, begin);
    const char *z = a ? strstr(a, end) : NULL;
    if (a == NULL || z == NULL) {
        free(part);
        *why = "no begin and end markers of the generated part";
        return NULL;
    }
    struct buf b = {0};
    put(&b, text, (size_t)(a - text));
    puts_(&b, part);
    puts_(&b, z + strlen(end));
    free(part);
    return b.s;
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

/* render_man: each knob as a tagged paragraph of gorod.yaml(5), in the
 * table's order: the key, then its documentation, its variable, its
 * default and what is allowed (the environment's spelling too where it
 * differs, as for booleans). */
static char *render_man(void)
{
    struct buf b = {0};
    const goro_knob *k;
    for (size_t i = 0; (k = goro_config_knob(i)) != NULL; i++) {
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
    if (argc == 2 && strcmp(argv[1], "man") == 0) {
        char *man = render_man();
        fputs(man, stdout);
        free(man);
        return fflush(stdout) == 0 ? 0 : 2;
    }
    if (argc < 3 || (strcmp(argv[1], "write") != 0 &&
                     strcmp(argv[1], "check") != 0)) {
        fprintf(stderr, "usage: knobdoc write|check FILE... | knobdoc man\n");
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
                fprintf(stderr, "knobdoc: %s differs from the table of "
                        "knobs: run make knobdoc\n", argv[i]);
                rc = rc ? rc : 1;
            }
        }
        free(text);
        free(out);
    }
    return rc;
}
#endif
