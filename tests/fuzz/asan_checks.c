/*
 * asan_checks.c - the daemon's pieces that run without Gs, on an ordinary
 * thread stack, checked under AddressSanitizer, LeakSanitizer and UBSan
 * (make asan; clang, no -fsplit-stack): the split-stack code cannot be
 * built with ASan, these pieces can.
 *
 *   asan-checks --elf SO... --config YAML...
 *
 *   --elf     elf_has_split_stack_note (elfnote.c) on each shared object
 *             (1 expected, 0 for a NAME_nosplit.so), then on copies of it
 *             truncated at every boundary that matters and at steps
 *             through the file (-1 with a reason, or the true answer), on
 *             copies with header and section table fields set to hostile
 *             values and random bytes (seeded, reproducible: -1 with a
 *             reason, 0 or 1, and nothing for the sanitizers to report),
 *             and on things that are not shared objects at all.
 *   --config  gorod_config_load on each file against gorod_config_parse
 *             on its bytes: the same configuration printed, or the same
 *             messages (load's own path: reading the file).
 *   always    admin_parse (admincmd.c): every command with and without an
 *             argument and the exact replies of the refusals; metrics_text
 *             (exposition.c) from filled structs: escaping of the labels,
 *             cumulative buckets, one HELP and TYPE per family, every sample
 *             line "name{labels} value".
 *
 * The fuzz targets' corpora replayed by make asan cover the configuration
 * loader's cases (every file of tests/gorod/test_config.c is a seed).
 * Exit status 0 when every check passed; each failure is printed.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gorod.h"

static int failures, checks;

static void check(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
    checks++;
    if (ok)
        return;
    failures++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "asan-checks: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* ---- the ELF note check ------------------------------------------------- */

static char scratch[64];

static void put(const char *data, size_t len)
{
    int fd = open(scratch, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0) {
        fprintf(stderr, "asan-checks: %s: %s\n", scratch, strerror(errno));
        exit(2);
    }
}

/* on checks one variant of the file (in scratch): -1 with a reason, or the
 * true answer want; ANY: any answer (a changed field may point at another
 * valid table, whose names are not the file's). */
#define ANY (-2)
static void on(const char *so, const char *what, int want)
{
    char why[128] = "";
    int r = elf_has_split_stack_note(scratch, why, sizeof why);
    check(r == want || (r == -1 && why[0] != '\0') ||
              (want == ANY && (r == 0 || r == 1)),
          "%s %s: answered %d (why \"%s\"), the file says %d", so, what, r,
          why, want);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void check_elf(const char *so)
{
    const char *base = strrchr(so, '/') ? strrchr(so, '/') + 1 : so;
    size_t bl = strlen(base);
    int want = bl > 11 && strcmp(base + bl - 11, "_nosplit.so") == 0 ? 0 : 1;
    char why[128] = "";
    int r = elf_has_split_stack_note(so, why, sizeof why);
    check(r == want, "%s: answered %d (%s), expected %d", so, r, why, want);

    size_t len = 0;
    char *data = slurp(so, &len);
    check(data != NULL && len >= sizeof(Elf64_Ehdr), "%s: unreadable", so);
    if (data == NULL || len < sizeof(Elf64_Ehdr)) {
        free(data);
        return;
    }
    Elf64_Ehdr eh;
    memcpy(&eh, data, sizeof eh);

    /* Truncated: at the boundaries of what the check reads, then at steps
     * through the file. */
    uint64_t cuts[] = {0, 1, 4, EI_NIDENT - 1, EI_NIDENT, sizeof eh - 1,
                       sizeof eh, eh.e_shoff, eh.e_shoff + 1,
                       eh.e_shoff + sizeof(Elf64_Shdr),
                       eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)
                           - 1};
    char what[64];
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        if (cuts[i] < len) {
            put(data, cuts[i]);
            snprintf(what, sizeof what, "cut at %" PRIu64, cuts[i]);
            on(so, what, want);
        }
    for (size_t cut = 0; cut < len; cut += len / 61 + 1) {
        put(data, cut);
        snprintf(what, sizeof what, "cut at %zu", cut);
        on(so, what, want);
    }

    /* Hostile fields: each header field and section header word that the
     * check reads, set to extremes and to random values. */
    static const uint64_t extremes[] = {0, 1, 0xff, 0xffff, 0xffffffffull,
                                        0xffffffffffffffffull,
                                        0x8000000000000000ull};
    size_t fields[][2] = {
        {offsetof(Elf64_Ehdr, e_ident) + EI_CLASS, 1},
        {offsetof(Elf64_Ehdr, e_ident) + EI_DATA, 1},
        {offsetof(Elf64_Ehdr, e_type), 2},
        {offsetof(Elf64_Ehdr, e_machine), 2},
        {offsetof(Elf64_Ehdr, e_shoff), 8},
        {offsetof(Elf64_Ehdr, e_shentsize), 2},
        {offsetof(Elf64_Ehdr, e_shnum), 2},
        {offsetof(Elf64_Ehdr, e_shstrndx), 2},
    };
    char *copy = malloc(len);
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
        for (size_t e = 0; e < sizeof extremes / sizeof extremes[0] + 16;
             e++) {
            uint64_t v = e < sizeof extremes / sizeof extremes[0]
                             ? extremes[e] : next_rand();
            memcpy(copy, data, len);
            memcpy(copy + fields[f][0], &v, fields[f][1]);
            put(copy, len);
            snprintf(what, sizeof what, "header byte %zu = %#" PRIx64,
                     fields[f][0], v);
            on(so, what, ANY);
        }
    /* Section headers: section 0 (the extended count and index) and the
     * name table's entry, each word in turn. */
    uint64_t shs[] = {eh.e_shoff,
                      eh.e_shoff + (uint64_t)eh.e_shstrndx *
                                       sizeof(Elf64_Shdr)};
    for (size_t s = 0; s < 2; s++)
        for (size_t w = 0; w < sizeof(Elf64_Shdr); w += 4)
            for (int k = 0; k < 6; k++) {
                if (shs[s] + w + 4 > len)
                    continue;
                uint32_t v = k == 0 ? 0 : k == 1 ? 0xffffffffu
                                                 : (uint32_t)next_rand();
                memcpy(copy, data, len);
                memcpy(copy + shs[s] + w, &v, 4);
                if (s == 0 && k == 2) {   /* the extended forms */
                    uint16_t z = 0, x = SHN_XINDEX;
                    memcpy(copy + offsetof(Elf64_Ehdr, e_shnum), &z, 2);
                    memcpy(copy + offsetof(Elf64_Ehdr, e_shstrndx), &x, 2);
                }
                put(copy, len);
                snprintf(what, sizeof what, "section header word at %" PRIu64
                         " = %#x", shs[s] + w, v);
                on(so, what, ANY);
            }
    /* Random bytes over the header and the section table. */
    for (int i = 0; i < 300; i++) {
        memcpy(copy, data, len);
        for (int j = 0; j < 4; j++) {
            uint64_t at = next_rand() % 2 ? next_rand() % sizeof eh
                                          : eh.e_shoff + next_rand() %
                                            ((uint64_t)eh.e_shnum *
                                             sizeof(Elf64_Shdr) + 1);
            if (at < len)
                copy[at] = (char)next_rand();
        }
        put(copy, len);
        snprintf(what, sizeof what, "random mutant %d", i);
        on(so, what, ANY);
    }
    free(copy);
    free(data);
}

/* Things that are not a 64-bit shared object at all. */
static void check_not_elf(void)
{
    static const struct {
        const char *what;
        const char *data;
        size_t len;
    } cases[] = {
        {"an empty file", "", 0},
        {"text", "#!/bin/sh\necho hi\n", 18},
        {"the magic alone", "\x7f" "ELF", 4},
        {"a 32-bit header", "\x7f" "ELF\x01\x01\x01\0\0\0\0\0\0\0\0\0", 16},
        {"a big-endian header", "\x7f" "ELF\x02\x02\x01\0\0\0\0\0\0\0\0\0",
         16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put(cases[i].data, cases[i].len);
        char why[128] = "";
        int r = elf_has_split_stack_note(scratch, why, sizeof why);
        check(r == -1 && why[0], "%s: answered %d (%s)", cases[i].what, r,
              why);
    }
    char why[8];
    check(elf_has_split_stack_note("/nonexistent/x.so", why, sizeof why) ==
              -1, "a missing file is not refused");
    check(elf_has_split_stack_note("/", why, sizeof why) == -1,
          "a directory is not refused");
    check(elf_has_split_stack_note("/dev/null", NULL, 0) == -1,
          "/dev/null is not refused (no reason asked for)");
    check(elf_has_split_stack_note("/dev/null", why, 1) == -1 &&
              why[0] == '\0', "a one-byte reason is not an empty string");
}

/* ---- the configuration loader: from the file and from memory ------------ */

static char *print(const gorod_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        exit(2);
    gorod_config_print(c, f);
    fclose(f);
    return text;
}

static void check_config(const char *path)
{
    static char e1[4096], e2[4096];
    gorod_config *c1 = gorod_config_load(path, e1, sizeof e1);
    size_t len = 0;
    char *data = slurp(path, &len);
    gorod_config *c2 = data ? gorod_config_parse(path, data, len, e2,
                                                 sizeof e2) : NULL;
    if (data == NULL) {
        check(c1 == NULL && strstr(e1, "cannot open") != NULL,
              "%s: unreadable, yet load says: %s", path, e1);
    } else if (c1 == NULL || c2 == NULL) {
        check(c1 == NULL && c2 == NULL && strcmp(e1, e2) == 0,
              "%s: load and parse disagree:\n%s\n---\n%s", path, e1, e2);
    } else {
        char *p1 = print(c1), *p2 = print(c2);
        check(strcmp(p1, p2) == 0, "%s: printed differently", path);
        free(p1);
        free(p2);
    }
    free(data);
    gorod_config_free(c1);
    gorod_config_free(c2);
}

/* ---- the admin command line --------------------------------------------- */

#define CMDS \
    "(commands: status stats ps stacks trace plugins restart reload metrics "  \
    "help)"

static void parse_is(const char *line, int want_r, enum admin_cmd want_cmd,
                     bool want_json, const char *want_reply)
{
    strbuf b = {0};
    admin_req req;
    int r = admin_parse(line, &req, &b);
    if (want_r == 0)
        check(r == 0 && b.len == 0 && req.cmd == want_cmd &&
                  req.json == want_json,
              "admin \"%.80s\": %d %s json=%d, reply \"%s\"", line, r,
              admin_cmd_name(req.cmd), req.json, b.p ? b.p : "");
    else
        check(r == -1 && b.p != NULL && strcmp(b.p, want_reply) == 0,
              "admin \"%.80s\": %d, reply \"%s\", expected \"%s\"", line, r,
              b.p ? b.p : "", want_reply);
    free(b.p);
}

static void check_admin(void)
{
    static const struct {
        const char *word;
        enum admin_cmd cmd;
    } cmds[] = {{"status", ADMIN_STATUS}, {"stats", ADMIN_STATS},
                {"ps", ADMIN_PS},         {"plugins", ADMIN_PLUGINS},
                {"reload", ADMIN_RELOAD}, {"metrics", ADMIN_METRICS},
                {"help", ADMIN_HELP}};
    char line[128], want[128];
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        parse_is(cmds[i].word, 0, cmds[i].cmd, false, NULL);
        snprintf(line, sizeof line, " \t%s \t\r\n", cmds[i].word);
        parse_is(line, 0, cmds[i].cmd, false, NULL);
        snprintf(line, sizeof line, "%s now", cmds[i].word);
        snprintf(want, sizeof want,
                 cmds[i].cmd == ADMIN_STATS || cmds[i].cmd == ADMIN_PS
                     ? "error: %s takes no argument or \"json\"\n"
                     : "error: %s takes no argument\n", cmds[i].word);
        parse_is(line, -1, 0, false, want);
        check(strcmp(admin_cmd_name(cmds[i].cmd), cmds[i].word) == 0,
              "admin_cmd_name(%d) is %s", cmds[i].cmd,
              admin_cmd_name(cmds[i].cmd));
    }
    parse_is("stats json", 0, ADMIN_STATS, true, NULL);
    parse_is("stats\t--json\r", 0, ADMIN_STATS, true, NULL);
    parse_is("ps json", 0, ADMIN_PS, true, NULL);
    parse_is("ps --json", 0, ADMIN_PS, true, NULL);
    parse_is("stacks", 0, ADMIN_STACKS, false, NULL);
    parse_is("stacks echo-1", 0, ADMIN_STACKS, false, NULL);
    parse_is("stacks a\"b", -1, 0, false,
             "error: stacks: not a group name: \"a?b\"\n");
    parse_is("restart echo-1", 0, ADMIN_RESTART, false, NULL);
    parse_is("restart", -1, 0, false, "error: restart: which plugin? "
             "(restart NAME; plugins lists them)\n");
    parse_is("restart a\"b", -1, 0, false,
             "error: restart: not a plugin name: \"a?b\"\n");
    parse_is("trace", 0, ADMIN_TRACE, false, NULL);
    parse_is("trace 250ms", 0, ADMIN_TRACE, false, NULL);
    parse_is("trace 2m", 0, ADMIN_TRACE, false, NULL);
    parse_is("trace 3x", -1, 0, false, "error: trace: not a duration from "
             "1ms to 10m (e.g. 5s, 500ms): \"3x\"\n");
    parse_is("trace 11m", -1, 0, false, "error: trace: not a duration from "
             "1ms to 10m (e.g. 5s, 500ms): \"11m\"\n");
    parse_is("trace 99999999999999999999s", -1, 0, false,
             "error: trace: not a duration from 1ms to 10m (e.g. 5s, "
             "500ms): \"99999999999999999999s\"\n");
    parse_is("stats jsonx", -1, 0, false,
             "error: stats takes no argument or \"json\"\n");
    parse_is("", -1, 0, false, "error: empty command " CMDS "\n");
    parse_is(" \t\r\n", -1, 0, false, "error: empty command " CMDS "\n");
    parse_is("Status", -1, 0, false,
             "error: unknown command \"Status\" " CMDS "\n");
    parse_is("st\001\"us\xff x", -1, 0, false,
             "error: unknown command \"st??us?\" " CMDS "\n");

    /* The client's word is quoted back cut to 64 bytes. */
    char *w = malloc(ADMIN_LINE_MAX + 2);
    memset(w, 'a', 65);
    strcpy(w + 65, " arg");
    parse_is(w, -1, 0, false, "error: unknown command \"aaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" " CMDS
             "\n");
    strcpy(w + 64, " arg");      /* exactly 64: nothing was cut */
    parse_is(w, -1, 0, false, "error: unknown command \"aaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" " CMDS "\n");

    /* The longest line, and one byte more. */
    memset(w, ' ', ADMIN_LINE_MAX + 1);
    memcpy(w, "help", 4);
    w[ADMIN_LINE_MAX] = '\0';
    parse_is(w, 0, ADMIN_HELP, false, NULL);
    w[ADMIN_LINE_MAX] = ' ';
    w[ADMIN_LINE_MAX + 1] = '\0';
    char toolong[64];
    snprintf(toolong, sizeof toolong,
             "error: line too long (at most %d bytes)\n", ADMIN_LINE_MAX);
    parse_is(w, -1, 0, false, toolong);
    free(w);
}

/* ---- the Prometheus text ------------------------------------------------ */

/* count of needle in hay */
static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Every line is "# HELP name text", "# TYPE name type" or
 * "name[{labels}] value" with a value that parses whole; every family
 * named in a TYPE line has its HELP line just before. */
static void check_lines(const char *text, size_t len, const char *what)
{
    check(len == strlen(text) && len > 0 && text[len - 1] == '\n',
          "%s: not one NUL-free text ending in a newline", what);
    const char *l = text;
    char prev[256] = "";
    while (*l) {
        size_t n = strcspn(l, "\n");
        char *line = strndup(l, n);
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[200];
            size_t nl = strcspn(line + 7, " ");
            snprintf(name, sizeof name, "# HELP %.*s ", (int)nl, line + 7);
            check(strncmp(prev, name, strlen(name)) == 0,
                  "%s: %s not after its HELP", what, line);
        } else if (strncmp(line, "# HELP ", 7) != 0) {
            /* The value follows the last space (label values are quoted
             * and may hold spaces, but never end the line). */
            char *sp = strrchr(line, ' ');
            char *end = NULL;
            if (sp != NULL)
                strtod(sp + 1, &end);
            check(sp != NULL && sp > line && end != sp + 1 && *end == '\0',
                  "%s: sample line \"%.100s\" has no value", what, line);
        }
        snprintf(prev, sizeof prev, "%s", line);
        free(line);
        l += n;
        if (*l == '\n')
            l++;
    }
}

static void check_metrics(void)
{
    goro_metrics m;
    metrics_figs f;
    size_t len = 0;

    /* Nothing at all: every family still documented. */
    memset(&m, 0, sizeof m);
    memset(&f, 0, sizeof f);
    char *t = metrics_text(&m, &f, &len);
    check(t != NULL, "metrics_text of zeros: NULL");
    if (t) {
        check_lines(t, len, "zeros");
        check(count(t, "# TYPE ") == count(t, "# HELP ") &&
                  count(t, "# TYPE gorod_plugin_up gauge\n") == 1,
              "zeros: families without HELP or TYPE");
        free(t);
    }

    /* Every field distinct; plugins with names that need escaping. */
    uint64_t *w = (uint64_t *)&m;
    for (size_t i = 0; i < sizeof m / sizeof *w; i++)
        w[i] = 1000 + 7 * i;
    m.size = sizeof m;
    static char longname[10000];
    memset(longname, 'n', sizeof longname - 1);
    metrics_plugin ps[] = {
        {"echo", 10, 3, 7, true},
        {"a\\b\"c\nd", 1ull << 63, -1, -1, false},
        {"", 0, 0, 0, true},
        {longname, UINT64_MAX, INT64_MAX, INT64_MAX, true},
    };
    f = (metrics_figs){.stack_min_size = 2048, .stack_orders = 8,
                       .uptime_ns = 1234567890123, .served = 5,
                       .reloads = 6, .reload_failures = 7,
                       .admin_requests = 8, .metrics_requests = 9,
                       .plugins = ps, .nplugins = 4};
    t = metrics_text(&m, &f, &len);
    check(t != NULL, "metrics_text: NULL");
    if (t) {
        check_lines(t, len, "filled");
        check(strstr(t, "gorod_plugin_up{plugin=\"a\\\\b\\\"c\\nd\"} 0\n") !=
                  NULL, "the label is not escaped");
        check(strstr(t, "gorod_plugin_gs{plugin=\"\"} 0\n") != NULL,
              "the empty name");
        check(count(t, "goro_stack_inuse_by_size_bytes{") == 8 &&
                  strstr(t, "{size=\"262144\"} ") != NULL,
              "the 8 pooled sizes");
        check(strstr(t, "gorod_uptime_seconds 1234.568\n") != NULL,
              "the uptime");
        uint64_t sum = 0;
        for (int i = 0; i < GORO_SCHEDLAT_BUCKETS; i++)
            sum += m.schedlat_bucket[i];
        char want[128];
        snprintf(want, sizeof want, "goro_sched_latency_seconds_bucket"
                 "{le=\"+Inf\"} %" PRIu64 "\ngoro_sched_latency_seconds_sum "
                 "%.9f\ngoro_sched_latency_seconds_count %" PRIu64 "\n", sum,
                 (double)m.schedlat_sum_ns / 1e9, sum);
        check(strstr(t, want) != NULL, "the histogram's +Inf and count");
        snprintf(want, sizeof want, "goro_sched_latency_seconds_bucket"
                 "{le=\"0.000002\"} %" PRIu64 "\n",
                 m.schedlat_bucket[0] + m.schedlat_bucket[1]);
        check(strstr(t, want) != NULL, "the buckets are not cumulative");
        free(t);
    }

    /* More orders than the runtime has: cut at its 8. Many plugins. */
    f.stack_orders = 200;
    unsigned np = 5000;
    metrics_plugin *many = calloc(np, sizeof *many);
    char (*names)[16] = calloc(np, 16);
    for (unsigned i = 0; i < np; i++) {
        snprintf(names[i], 16, "p%u", i);
        many[i] = (metrics_plugin){names[i], i, i, i, i % 2};
    }
    f.plugins = many;
    f.nplugins = np;
    t = metrics_text(&m, &f, &len);
    check(t != NULL, "metrics_text of 5000 plugins: NULL");
    if (t) {
        check_lines(t, len, "5000 plugins");
        check(count(t, "goro_stack_inuse_by_size_bytes{") == 8,
              "orders 200 not cut at 8");
        check(count(t, "gorod_plugin_up{") == (int)np, "5000 plugins");
        free(t);
    }
    free(many);
    free(names);
}

int main(int argc, char **argv)
{
    snprintf(scratch, sizeof scratch, "/tmp/asan-checks-%d.so", (int)getpid());
    enum { NONE, ELF, CONFIG } mode = NONE;
    int elfs = 0, configs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--elf") == 0)
            mode = ELF;
        else if (strcmp(argv[i], "--config") == 0)
            mode = CONFIG;
        else if (mode == ELF)
            check_elf(argv[i]), elfs++;
        else if (mode == CONFIG)
            check_config(argv[i]), configs++;
        else {
            fprintf(stderr, "usage: asan-checks --elf SO... --config "
                    "YAML...\n");
            return 2;
        }
    }
    check_not_elf();
    check_admin();
    check_metrics();
    unlink(scratch);
    printf("asan-checks: %d checks (%d shared objects, %d configuration "
           "files), %d failed\n", checks, elfs, configs, failures);
    return failures ? 1 : 0;
}
