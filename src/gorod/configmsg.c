/*
 * configmsg.c - the messages of a configuration's load.
 *
 * Every check reports what it finds wrong and the load goes on, so that
 * one run of `gorod --check` names every mistake of a file, not the first.
 * A message is "FILE:LINE: ..." (or "FILE: ..." about the whole file), its
 * line the one keylines.c recorded for its key; they are written out
 * sorted by line, the order the operator reads the file in, those of one
 * line in the order they were found, up to MAXMSGS of them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* More messages than this are counted, not shown: a file gone wrong
 * everywhere (the wrong file) would otherwise fill the terminal. */
#define MAXMSGS 20

/* errat adds the message "FILE:LINE: ..." (or "FILE: ..." for line 0). */
void errat(struct load *l, int line, const char *fmt, ...)
{
    struct msg *m = grow(l->msgs, &l->capmsgs, l->nmsgs, sizeof *m);
    if (m == NULL) {
        l->nomem = true;
        return;
    }
    l->msgs = m;
    char *body = NULL, *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (n < 0 || (line > 0 ? asprintf(&text, "%s:%d: %s", l->file, line, body)
                           : asprintf(&text, "%s: %s", l->file, body)) < 0) {
        free(body);
        l->nomem = true;
        return;
    }
    free(body);
    m[l->nmsgs] = (struct msg){line, l->nmsgs, text};
    l->nmsgs++;
}

static int bymsgline(const void *a, const void *b)
{
    const struct msg *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* report writes the messages, sorted by line, into err: whole lines only,
 * separated by newlines, no newline after the last. */
void report(struct load *l, char *err, size_t errlen)
{
    if (errlen == 0)
        return;
    err[0] = '\0';
    qsort(l->msgs, l->nmsgs, sizeof l->msgs[0], bymsgline);
    size_t used = 0;
    unsigned shown = 0;
    char more[128];
    for (unsigned i = 0; i <= l->nmsgs; i++) {
        const char *t;
        if (i < l->nmsgs && shown < MAXMSGS)
            t = l->msgs[i].text;
        else if (i < l->nmsgs || l->nomem) {
            if (l->nomem)
                snprintf(more, sizeof more, "%s: out of memory", l->file);
            else
                snprintf(more, sizeof more, "%s: %u more errors not shown",
                         l->file, l->nmsgs - shown);
            t = more;
            i = l->nmsgs;
        } else
            break;
        size_t n = strlen(t) + (used > 0);
        if (used + n + 1 > errlen) {
            if (used == 0) /* the first message, cut: better than none */
                snprintf(err, errlen, "%s", t);
            break;
        }
        snprintf(err + used, errlen - used, "%s%s", used > 0 ? "\n" : "", t);
        used += n;
        shown++;
    }
}
