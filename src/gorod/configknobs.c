/*
 * configknobs.c - the rows of two tables as keys of gorod.yaml.
 *
 * The scalar keys of gorod.yaml are rows of two tables: the runtime's
 * knobs (the sched and stack sections, traceback: src/runtime/config.c,
 * goro_config_knob), then gorod's own keys (log, admin, metrics, the
 * intervals: configkeys.c, gorod_key_at). Their part of the schema is
 * built here from both, in the tables' order, a section where its first
 * key is; the checker and the printer walk the same rows. A row added to
 * either table is a key of gorod.yaml with nothing to change here.
 *
 * The runtime's knobs: each value goes to goro_config_set, whose message
 * is the one printed after "FILE:LINE: ", the rules between keys to
 * goro_config_check, the printer reads goro_config_get, and gorod starts
 * the runtime with the goro_config so made (goro_run_config). The GORO_*
 * variables of gorod's environment come first, the file's keys over them,
 * so that a variable stands for a key the file leaves out (and --check
 * prints the result). A reload cannot change them (they take effect at
 * the next start): gorod_runtime_conf_equal tells gorod.c whether it was
 * asked to.
 *
 * gorod's keys: each takes its row's default, then the file's text, by
 * check_key (config.c), and is printed by print_key (configprint.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Written once by knobs_schema (config_schema), read only after. */
static cyaml_schema_field_t knob_fields[MAXSECTIONS][MAXKNOBS + 1];
static char section_names[MAXSECTIONS][32];
/* The first ntables of the top's fields are the tables' rows: field t is
 * the section -1 - toprow[t] when toprow[t] < 0, else the key of row
 * toprow[t]. Row i's section is rowsection[i], -1 at the top. Rows from
 * nrt on are gorod's (row nrt + j is gorod_key_at(j)). */
static size_t ntables, nrt;
static int toprow[MAXSECTIONS + MAXKNOBS];
static int rowsection[MAXKNOBS];

/* row returns row i of the two tables, NULL past the last. */
static const goro_knob *row(size_t i)
{
    const goro_knob *k = goro_config_knob(i);
    if (k != NULL)
        return k;
    const gorod_key *g = gorod_key_at(i - nrt);
    return g != NULL ? &g->pub : NULL;
}

/* knobs_schema writes the tables' part of the schema from their rows, in
 * the tables' order (a section where its first key is), into top. */
size_t knobs_schema(cyaml_schema_field_t *top)
{
    static const cyaml_schema_field_t str =
        STR(struct raw_knobs, knob[0]);
    /* A section may be present and empty ("sched:" with its keys
     * commented out): POINTER_NULL makes that a NULL section, all
     * defaults. */
    static const cyaml_schema_field_t sec = CYAML_FIELD_MAPPING_PTR(
        "", OPT | CYAML_FLAG_POINTER_NULL, struct raw, section[0], NULL);
    size_t ntop = 0, nsec = 0, nfield[MAXSECTIONS] = {0};
    const goro_knob *k;
    while (goro_config_knob(nrt) != NULL)
        nrt++;
    for (size_t i = 0; (k = row(i)) != NULL; i++) {
        const char *dot = strchr(k->key, '.');
        size_t n = dot ? (size_t)(dot - k->key) : 0, s = 0;
        cyaml_schema_field_t f = str;
        if (i >= MAXKNOBS || n >= sizeof section_names[0]) {
            fprintf(stderr, "gorod: %s: more keys or a longer section "
                    "than gorod's schema holds\n", k->key);
            abort();
        }
        if (dot == NULL) {
            f.key = k->key;
            f.data_offset = (uint32_t)(offsetof(struct raw, top) +
                                       i * sizeof(char *));
            rowsection[i] = -1;
            toprow[ntop] = (int)i;
            top[ntop++] = f;
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
            top[ntop++] = m;
            nsec++;
        }
        f.key = dot + 1;
        f.data_offset = (uint32_t)(i * sizeof(char *));
        knob_fields[s][nfield[s]++] = f;
        rowsection[i] = (int)s;
    }
    ntables = ntop;
    return ntop;
}

/* rawknob returns the file's text for row i of the tables, NULL when
 * absent. */
static const char *rawknob(const struct raw *r, size_t i)
{
    int s = rowsection[i];
    if (s < 0)
        return r->top.knob[i];
    return r->section[s] ? r->section[s]->knob[i] : NULL;
}

/* check_knobs sets the runtime's knobs, then gorod's keys (each its row's
 * default, then the file's text, by check_key). The runtime's: the table's
 * defaults, the GORO_* variables of gorod's environment, then each key
 * the file has, by goro_config_set, whose message for a value refused is
 * gorod's (the key, the value, what is allowed); then the rules between
 * keys, by goro_config_check, each at the line of whichever of its keys
 * comes last in the file (0 when none is there). A rule that reads a key
 * refused is not reported: its value is not the one the file meant. */
void check_knobs(struct load *l, const struct raw *r, gorod_config *c)
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
    const gorod_key *g;
    for (size_t j = 0; (g = gorod_key_at(j)) != NULL; j++) {
        const char *v = rawknob(r, nrt + j);
        check_key(l, g, v != NULL ? v : g->pub.def, c);
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

/* print_value writes row i's value in c. */
static void print_value(const gorod_config *c, size_t i, FILE *f)
{
    char v[64];
    if (i >= nrt) {
        print_key(gorod_key_at(i - nrt), c, f);
        return;
    }
    goro_config_get(&c->runtime, goro_config_knob(i)->key, v, sizeof v);
    fputs(v, f);
}

/* print_knobs writes the tables' keys as the schema has them: each
 * section with its keys, the keys outside one at the top. */
void print_knobs(const gorod_config *c, FILE *f)
{
    config_schema(); /* toprow and knob_fields written */
    for (size_t t = 0; t < ntables; t++) {
        if (toprow[t] >= 0) {
            fprintf(f, "%s: ", row((size_t)toprow[t])->key);
            print_value(c, (size_t)toprow[t], f);
            fputc('\n', f);
            continue;
        }
        fprintf(f, "%s:\n", section_names[-1 - toprow[t]]);
        for (const cyaml_schema_field_t *k = knob_fields[-1 - toprow[t]];
             k->key != NULL; k++) {
            fprintf(f, "  %s: ", k->key);
            print_value(c, k->data_offset / sizeof(char *), f);
            fputc('\n', f);
        }
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

