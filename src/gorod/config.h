/*
 * config.h - what the files of gorod's configuration loader share (the
 * list of them is gorod.h's): one load's state, its messages and the
 * lines of its keys. Private to them; gorod.h has what the rest of gorod
 * uses.
 */
#ifndef GOROD_CONFIG_H
#define GOROD_CONFIG_H

#include <stdlib.h>

#include "gorod.h"

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

#endif
