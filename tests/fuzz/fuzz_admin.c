/*
 * fuzz_admin.c - libFuzzer target for the admin socket's command line
 * parser (admin_parse, src/gorod/admincmd.c): the input is one line as a
 * client sends it, without the newline (the server cuts the line there and
 * refuses NUL bytes; here a NUL simply ends the line, as it ends the C
 * string the server hands over).
 *
 * The rules every line must keep:
 *   - accepted: nothing is written to the reply, the command is one of
 *     the known ones, and its canonical form ("stats json") parses to the
 *     same request;
 *   - refused: the reply is exactly one line, "error: ...\n", of printable
 *     ASCII whatever the client sent, and of bounded length; an unknown
 *     word is quoted back exactly (printable ASCII but '"' as is, the
 *     rest as '?', cut to 64 bytes and then "..." if and only if it was
 *     longer), as an independent reading of the line expects it;
 *   - the same line parses the same way twice.
 * A broken rule aborts, which libFuzzer reports as a crash with the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gorod.h"

/* The longest error reply: the fixed text around a quoted word of 64
 * bytes and "...", with room to spare; the longest fixed one is shorter. */
#define REPLY_MAX 256

/* unknown_reply: the reply an unknown command word gets, read from the
 * line independently of the parser: the line without the blanks, \r and
 * \n at its end; the word from its first byte that is not a blank to the
 * next blank. */
static char *unknown_reply(const char *line)
{
    const char *s = line + strspn(line, " \t");
    size_t end = strlen(s);
    while (end > 0 && strchr(" \t\r\n", s[end - 1]) != NULL)
        end--;
    size_t wl = 0;
    while (wl < end && s[wl] != ' ' && s[wl] != '\t')
        wl++;
    strbuf b = {0};
    sb_printf(&b, "error: unknown command \"");
    for (size_t i = 0; i < wl && i < 64; i++)
        sb_add(&b, s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? &s[i] : "?",
               1);
    sb_printf(&b, "%s\" (commands: status stats ps stacks trace plugins "
              "restart reload metrics help)\n", wl > 64 ? "..." : "");
    return b.p;
}

static void fail(const char *why, const char *line, const strbuf *b)
{
    fprintf(stderr, "%s\nline: \"%.200s\"\nreply: \"%.300s\"\n", why, line,
            b->p ? b->p : "(none)");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (line == NULL)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';

    strbuf b = {0};
    admin_req req;
    int r = admin_parse(line, &req, &b);
    if (r == 0) {
        if (b.len != 0)
            fail("accepted with a reply written", line, &b);
        const char *name = admin_cmd_name(req.cmd);
        if (strcmp(name, "?") == 0)
            fail("accepted as an unknown command", line, &b);
        if (req.json && req.cmd != ADMIN_STATS && req.cmd != ADMIN_PS)
            fail("json on a command other than stats and ps", line, &b);
        if (req.cmd == ADMIN_RESTART && req.group[0] == '\0')
            fail("restart accepted without a plugin name", line, &b);
        char canon[32 + ADMIN_GROUP_MAX];
        snprintf(canon, sizeof canon, "%s%s%s%s", name,
                 req.json ? " json" : "",
                 req.cmd == ADMIN_RESTART ? " " : "",
                 req.cmd == ADMIN_RESTART ? req.group : "");
        admin_req again;
        if (admin_parse(canon, &again, &b) != 0 || again.cmd != req.cmd ||
            again.json != req.json ||
            (req.cmd == ADMIN_RESTART && strcmp(again.group, req.group) != 0))
            fail("the canonical form parses differently", canon, &b);
    } else {
        if (r != -1)
            fail("neither 0 nor -1", line, &b);
        if (b.oom || b.p == NULL || strncmp(b.p, "error: ", 7) != 0)
            fail("refused without an error reply", line, &b);
        if (b.len > REPLY_MAX || b.len != strlen(b.p))
            fail("reply too long or holding a NUL", line, &b);
        for (size_t i = 0; i < b.len - 1; i++)
            if (b.p[i] < 0x20 || b.p[i] > 0x7e)
                fail("reply holding a byte that is not printable ASCII",
                     line, &b);
        if (b.p[b.len - 1] != '\n')
            fail("reply not ending in a newline", line, &b);
        if (strncmp(b.p, "error: unknown command", 22) == 0) {
            char *want = unknown_reply(line);
            if (want == NULL || strcmp(b.p, want) != 0) {
                fprintf(stderr, "expected: \"%.300s\"\n", want);
                fail("the unknown word quoted back wrongly", line, &b);
            }
            free(want);
        }

        strbuf b2 = {0};
        admin_req again;
        if (admin_parse(line, &again, &b2) != -1 || b2.len != b.len ||
            memcmp(b.p, b2.p, b.len) != 0)
            fail("parsed differently the second time", line, &b);
        free(b2.p);
    }
    free(b.p);
    free(line);
    return 0;
}
