/*
 * keylines.c - the line of each key path of a configuration file.
 *
 * The walk (configwalk.c) records every key path it meets
 * ("stack.min_size", "plugins[2].path", "plugins[0].args.port") with its
 * line; the checks, which see the values only after libcyaml has loaded
 * them, look the line up to name it in their message. A path met twice
 * (a duplicate key, reported by the walk) answers with its first line.
 *
 * The lines are kept in the order met, with an index by path beside them,
 * so that a file of many keys costs linear time, not quadratic.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"

static unsigned pathhash(const char *s)
{
    unsigned h = 2166136261u;  /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* indexput records lines[i] in the index; false when out of memory. */
static bool indexput(struct load *l, unsigned i)
{
    if (2 * (i + 1) > l->capindex) {
        unsigned cap = l->capindex ? 2 * l->capindex : 64;
        unsigned *x = calloc(cap, sizeof *x);
        if (x == NULL)
            return false;
        free(l->index);
        l->index = x;
        l->capindex = cap;
        for (unsigned j = 0; j < i; j++)
            if (!indexput(l, j))
                return false;
    }
    unsigned k = pathhash(l->lines[i].path) & (l->capindex - 1);
    while (l->index[k] != 0)
        k = (k + 1) & (l->capindex - 1);
    l->index[k] = i + 1;
    return true;
}

void setline(struct load *l, const char *path, int line)
{
    struct where *w = grow(l->lines, &l->caplines, l->nlines, sizeof *w);
    char *p = strdup(path);
    if (w == NULL || p == NULL) {
        if (w != NULL)
            l->lines = w;
        free(p);
        l->nomem = true;
        return;
    }
    l->lines = w;
    w[l->nlines] = (struct where){p, line};
    if (!indexput(l, l->nlines)) {
        free(p);
        l->nomem = true;
        return;
    }
    l->nlines++;
}

/* lineof returns the line of key path (its first), 0 when it is not in
 * the file. */
int lineof(const struct load *l, const char *path)
{
    if (l->capindex == 0)
        return 0;
    int line = 0;
    unsigned first = ~0u;
    for (unsigned k = pathhash(path) & (l->capindex - 1); l->index[k] != 0;
         k = (k + 1) & (l->capindex - 1)) {
        unsigned i = l->index[k] - 1;
        if (i < first && strcmp(l->lines[i].path, path) == 0) {
            first = i;
            line = l->lines[i].line;
        }
    }
    return line;
}
