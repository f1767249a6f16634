/*
 * admincmd.c - the admin socket's command line, parsed.
 *
 * A line is a command word and at most one argument, blanks (spaces, tabs)
 * around them ignored, and a trailing \r or \n too (`echo status | socat`
 * and telnet both work). admin_parse turns it into an admin_req or into
 * the exact error reply the client gets; admin.c runs the request.
 *
 * The parser is kept apart from the commands so that it needs nothing but
 * libc and a strbuf: no runtime, no daemon state. That is what lets the
 * fuzz target (tests/fuzz/fuzz_admin.c) and the AddressSanitizer build run
 * it on an ordinary thread stack.
 *
 * Whatever the client sent and is quoted back in a reply is cut to 64
 * bytes and anything but printable ASCII shows as '?': a reply is one line
 * of text a terminal prints safely.
 */
#include <string.h>

#include "gorod.h"

#define ADMIN_COMMANDS \
    "status stats ps stacks trace plugins restart reload metrics help"

/* Longest part of the client's word quoted back in a reply. */
#define QUOTE_MAX 64

static const struct {
    const char    *word;
    enum admin_cmd cmd;
} commands[] = {
    {"status", ADMIN_STATUS},   {"stats", ADMIN_STATS},
    {"ps", ADMIN_PS},           {"plugins", ADMIN_PLUGINS},
    {"reload", ADMIN_RELOAD},   {"metrics", ADMIN_METRICS},
    {"help", ADMIN_HELP},       {"stacks", ADMIN_STACKS},
    {"trace", ADMIN_TRACE},     {"restart", ADMIN_RESTART},
};

const char *admin_cmd_name(enum admin_cmd c)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].cmd == c)
            return commands[i].word;
    return "?";
}

/* sb_quoted appends the client's word s (n bytes) fit to be quoted back. */
static void sb_quoted(strbuf *b, const char *s, size_t n)
{
    size_t shown = n > QUOTE_MAX ? QUOTE_MAX : n;
    for (size_t i = 0; i < shown; i++) {
        char c = s[i];
        sb_add(b, (c >= 0x20 && c < 0x7f && c != '"') ? &c : "?", 1);
    }
    if (shown < n)
        sb_add(b, "...", 3);
}

/* parse_duration reads the n bytes at s as a duration, in the runtime's
 * syntax (goro_parse_duration: digits and a unit, ns to h): 0 and *ns, or
 * -1. */
static int parse_duration(const char *s, size_t n, int64_t *ns)
{
    char buf[32];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return goro_parse_duration(buf, ns) == 0 ? 0 : -1;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

int admin_parse(const char *line, admin_req *req, strbuf *b)
{
    req->cmd = ADMIN_HELP;
    req->json = false;
    req->group[0] = '\0';
    req->duration_ns = 0;
    if (strlen(line) > ADMIN_LINE_MAX) {
        sb_printf(b, "error: line too long (at most %d bytes)\n",
                  ADMIN_LINE_MAX);
        return -1;
    }

    /* The command word and its argument, without surrounding blanks. */
    const char *s = line;
    while (blank(*s))
        s++;
    size_t total = strlen(s);
    while (total > 0 && (blank(s[total - 1]) || s[total - 1] == '\r' ||
                         s[total - 1] == '\n'))
        total--;
    size_t wl = strcspn(s, " \t");
    if (wl > total)
        wl = total;
    const char *arg = s + wl;
    while (arg < s + total && blank(*arg))
        arg++;
    size_t al = (size_t)(s + total - arg);

    if (wl == 0) {
        sb_printf(b, "error: empty command (commands: %s)\n", ADMIN_COMMANDS);
        return -1;
    }
    size_t i = 0;
    while (i < sizeof commands / sizeof commands[0] &&
           !(strlen(commands[i].word) == wl &&
             memcmp(commands[i].word, s, wl) == 0))
        i++;
    if (i == sizeof commands / sizeof commands[0]) {
        sb_printf(b, "error: unknown command \"");
        sb_quoted(b, s, wl);
        sb_printf(b, "\" (commands: %s)\n", ADMIN_COMMANDS);
        return -1;
    }
    req->cmd = commands[i].cmd;
    if (req->cmd == ADMIN_STATS || req->cmd == ADMIN_PS) {
        req->json = (al == 4 && memcmp(arg, "json", 4) == 0) ||
                    (al == 6 && memcmp(arg, "--json", 6) == 0);
        if (al > 0 && !req->json) {
            sb_printf(b, "error: %s takes no argument or \"json\"\n",
                      commands[i].word);
            return -1;
        }
    } else if (req->cmd == ADMIN_STACKS || req->cmd == ADMIN_RESTART) {
        /* stacks [GROUP], restart NAME: the name is quoted back in a
         * reply, so it must be printable and blank-free, as the plugin
         * names are. */
        const char *w = commands[i].word;
        const char *what = req->cmd == ADMIN_STACKS ? "group" : "plugin";
        if (req->cmd == ADMIN_RESTART && al == 0) {
            sb_printf(b, "error: restart: which plugin? (restart NAME; "
                      "plugins lists them)\n");
            return -1;
        }
        for (size_t k = 0; k < al; k++)
            if (arg[k] <= 0x20 || arg[k] >= 0x7f || arg[k] == '"') {
                sb_printf(b, "error: %s: not a %s name: \"", w, what);
                sb_quoted(b, arg, al);
                sb_printf(b, "\"\n");
                return -1;
            }
        if (al > ADMIN_GROUP_MAX) {
            sb_printf(b, "error: %s: %s name longer than %d bytes\n", w,
                      what, ADMIN_GROUP_MAX);
            return -1;
        }
        memcpy(req->group, arg, al);
        req->group[al] = '\0';
    } else if (req->cmd == ADMIN_TRACE) {
        req->duration_ns = ADMIN_TRACE_DEFAULT_NS;
        if (al > 0 && (parse_duration(arg, al, &req->duration_ns) != 0 ||
                       req->duration_ns < 1000000 ||
                       req->duration_ns > ADMIN_TRACE_MAX_NS)) {
            sb_printf(b, "error: trace: not a duration from 1ms to %lldm "
                      "(e.g. 5s, 500ms): \"",
                      (long long)(ADMIN_TRACE_MAX_NS / 60000000000));
            sb_quoted(b, arg, al);
            sb_printf(b, "\"\n");
            return -1;
        }
    } else if (al > 0) {
        sb_printf(b, "error: %s takes no argument\n", commands[i].word);
        return -1;
    }
    return 0;
}
