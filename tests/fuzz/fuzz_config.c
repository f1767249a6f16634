/*
 * fuzz_config.c - libFuzzer target for the configuration loader
 * (src/gorod/config*.c): the input is the bytes of a configuration file.
 *
 * Every input must either load or be refused with messages, and:
 *   - a refusal is a non-empty text whose every line names the file
 *     ("fuzz.yaml:LINE: ..." or "fuzz.yaml: ..."), and the same input with
 *     a small message buffer is refused too, within the buffer, NUL
 *     included (report()'s cutting);
 *   - a configuration that loads prints as YAML that loads again (as
 *     /printed.yaml, so the printed paths must stand on their own) and
 *     prints identically, with every plugin entry equal to the first one's
 *     (gorod_plugin_conf_equal, what a reload compares);
 *   - everything is freed (LeakSanitizer reports what is not).
 * A broken rule aborts with the texts involved, which libFuzzer reports
 * as a crash with the input saved.
 *
 * The file's name is relative, so relative paths in it resolve against
 * the current directory: any directory works, nothing is read or written
 * there.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gorod.h"

#define NAME "fuzz.yaml"

/* print returns c printed, malloc'd. */
static char *print(const gorod_config *c, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (f == NULL)
        abort();
    gorod_config_print(c, f);
    if (fclose(f) != 0)
        abort();
    return text;
}

static void check_refusal(const char *err, size_t errlen)
{
    if (err[0] == '\0' || strlen(err) >= errlen) {
        fprintf(stderr, "refused with an empty or unterminated message\n");
        abort();
    }
    for (const char *l = err; *l; ) {
        size_t n = strcspn(l, "\n");
        if (strncmp(l, NAME ":", strlen(NAME ":")) != 0) {
            fprintf(stderr, "a message line does not name the file: "
                    "%.*s\n", (int)n, l);
            abort();
        }
        l += n;
        if (*l == '\n' && *++l == '\0') {
            fprintf(stderr, "the messages end in a newline\n");
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char err[4096];
    gorod_config *c = gorod_config_parse(NAME, data, size, err, sizeof err);
    if (c == NULL) {
        check_refusal(err, sizeof err);
        /* Again into a buffer too small for most messages. */
        char small[40];
        size_t sl = 1 + size % sizeof small;
        memset(small, 'x', sizeof small);
        if (gorod_config_parse(NAME, data, size, small, sl) != NULL) {
            fprintf(stderr, "refused, then loaded\n");
            abort();
        }
        if (memchr(small, '\0', sl) == NULL) {
            fprintf(stderr, "the cut message is not terminated\n");
            abort();
        }
        return 0;
    }
    if (err[0] != '\0') {
        fprintf(stderr, "loaded with messages: %s\n", err);
        abort();
    }

    size_t l1 = 0, l2 = 0;
    char *p1 = print(c, &l1);
    gorod_config *c2 = gorod_config_parse("/printed.yaml", p1, l1, err,
                                          sizeof err);
    if (c2 == NULL) {
        fprintf(stderr, "the printed configuration does not load:\n%s\n"
                "--- printed:\n%s", err, p1);
        abort();
    }
    char *p2 = print(c2, &l2);
    if (l1 != l2 || memcmp(p1, p2, l1) != 0) {
        fprintf(stderr, "printed twice differently:\n--- first:\n%s"
                "--- then:\n%s", p1, p2);
        abort();
    }
    if (c->nplugins != c2->nplugins)
        abort();
    for (unsigned i = 0; i < c->nplugins; i++)
        if (!gorod_plugin_conf_equal(&c->plugins[i], &c2->plugins[i])) {
            fprintf(stderr, "plugins[%u] differs once printed\n", i);
            abort();
        }
    free(p1);
    free(p2);
    gorod_config_free(c);
    gorod_config_free(c2);
    return 0;
}
