/*
 * test_admin.c - the admin socket, goroctl and the metrics exposition,
 * driven against the real daemon.
 *
 * Each test starts gorod on a scratch configuration (admutil.h), talks to
 * it through goroctl or through a plain socket, and stops it with SIGTERM in
 * the suite's fini, which runs even when an assertion ends the test early,
 * so that no daemon outlives its test.
 *
 * The exposition is checked as a scraper would: every sample's family has
 * a HELP and a TYPE line, counters end in _total, histogram buckets are
 * cumulative and end with le="+Inf" equal to _count.
 */
#include "admutil.h"

#include <ctype.h>
#include <dirent.h>
#include <grp.h>
#include <time.h>

static adm_daemon D;

static void stop_daemon(void)
{
    adm_stop(&D);
}

TestSuite(admin, .fini = stop_daemon, .timeout = 60);

/* ---- helpers -------------------------------------------------------------- */

/* The line of text that starts with prefix, copied (NULL when none). */
static char *line_starting(const char *text, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (const char *l = text; l && *l; ) {
        const char *eol = strchr(l, '\n');
        size_t n = eol ? (size_t)(eol - l) : strlen(l);
        if (n >= pl && strncmp(l, prefix, pl) == 0)
            return strndup(l, n);
        l = eol ? eol + 1 : NULL;
    }
    return NULL;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- a minimal exposition checker ---------------------------------------- */

#define MAXFAM 256

typedef struct family_info {
    char name[128];
    char type[16];
    bool help;
} family_info;

static family_info *find_family(family_info *f, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* check_exposition asserts that text is a well-formed exposition and that
 * its latency histogram is cumulative; returns the number of samples. */
static int check_exposition(const char *text)
{
    static family_info fam[MAXFAM];
    int nfam = 0, samples = 0;
    memset(fam, 0, sizeof fam);

    /* First pass: HELP and TYPE lines. */
    char *copy = strdup(text), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char name[128], rest[256];
        bool help = strncmp(l, "# HELP ", 7) == 0;
        bool type = strncmp(l, "# TYPE ", 7) == 0;
        if (!help && !type)
            continue;
        cr_assert(sscanf(l + 7, "%127s %255s", name, rest) == 2,
                  "a HELP or TYPE line without its text: %s", l);
        family_info *f = find_family(fam, nfam, name);
        if (f == NULL) {
            cr_assert(nfam < MAXFAM);
            f = &fam[nfam++];
            snprintf(f->name, sizeof f->name, "%s", name);
        }
        if (help) {
            cr_assert(!f->help, "two HELP lines for %s", name);
            f->help = true;
        } else {
            cr_assert(f->type[0] == '\0', "two TYPE lines for %s", name);
            cr_assert(strcmp(rest, "counter") == 0 ||
                      strcmp(rest, "gauge") == 0 ||
                      strcmp(rest, "histogram") == 0, "bad TYPE: %s", l);
            snprintf(f->type, sizeof f->type, "%.15s", rest);
        }
    }
    free(copy);

    for (int i = 0; i < nfam; i++) {
        cr_expect(fam[i].help && fam[i].type[0], "%s lacks HELP or TYPE",
                  fam[i].name);
        cr_expect(strncmp(fam[i].name, "goro_", 5) == 0 ||
                  strncmp(fam[i].name, "gorod_", 6) == 0 ||
                  strncmp(fam[i].name, "process_", 8) == 0,
                  "%s is not named goro_*, gorod_* or process_*",
                  fam[i].name);
        if (strcmp(fam[i].type, "counter") == 0)
            cr_expect(ends_with(fam[i].name, "_total"),
                      "counter %s does not end in _total", fam[i].name);
    }

    /* Second pass: the samples. */
    double prev_bucket = -1, inf_bucket = -1, count = -1;
    int buckets = 0;
    copy = strdup(text);
    save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#')
            continue;
        char name[128];
        size_t nl = strcspn(l, "{ ");
        cr_assert(nl > 0 && nl < sizeof name, "bad sample line: %s", l);
        memcpy(name, l, nl);
        name[nl] = '\0';
        for (size_t i = 0; i < nl; i++)
            cr_assert(isalnum((unsigned char)name[i]) || name[i] == '_' ||
                      name[i] == ':', "bad metric name in: %s", l);
        const char *val = l + nl;
        if (*val == '{') {
            val = strchr(val, '}');
            cr_assert(val != NULL, "unterminated labels: %s", l);
            val++;
        }
        cr_assert(*val == ' ', "no value: %s", l);
        char *end;
        double v = strtod(val + 1, &end);
        cr_assert(end != val + 1 && (*end == '\0' || *end == ' '),
                  "bad value: %s", l);
        samples++;

        family_info *f = find_family(fam, nfam, name);
        char base[128];
        if (f == NULL) {
            static const char *sfx[] = {"_bucket", "_sum", "_count"};
            for (int i = 0; i < 3 && f == NULL; i++) {
                if (ends_with(name, sfx[i])) {
                    snprintf(base, sizeof base, "%.*s",
                             (int)(strlen(name) - strlen(sfx[i])), name);
                    f = find_family(fam, nfam, base);
                    if (f && strcmp(f->type, "histogram") != 0)
                        f = NULL;
                }
            }
        }
        cr_assert(f != NULL, "sample without HELP and TYPE: %s", l);
        cr_assert(f->help && f->type[0], "sample without HELP and TYPE: %s",
                  l);

        if (strncmp(l, "goro_sched_latency_seconds_bucket{", 34) == 0) {
            cr_assert(v >= prev_bucket, "buckets not cumulative at %s", l);
            prev_bucket = v;
            buckets++;
            if (strstr(l, "le=\"+Inf\""))
                inf_bucket = v;
            else
                cr_assert(inf_bucket < 0, "a bucket after +Inf: %s", l);
        } else if (strcmp(name, "goro_sched_latency_seconds_count") == 0) {
            count = v;
        }
    }
    free(copy);
    cr_assert(buckets >= 2, "the latency histogram has %d buckets", buckets);
    cr_assert(inf_bucket >= 0, "no le=\"+Inf\" bucket");
    cr_assert(count == inf_bucket, "+Inf bucket %g != _count %g", inf_bucket,
              count);
    return samples;
}

/* The value of the sample line that starts with prefix (-1 if absent). */
static double sample_value(const char *text, const char *prefix)
{
    char *l = line_starting(text, prefix);
    if (l == NULL)
        return -1;
    double v = strtod(strrchr(l, ' ') + 1, NULL);
    free(l);
    return v;
}

/* ---- the commands ---------------------------------------------------------- */

Test(admin, status_reports_the_daemon)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "status", NULL);
    cr_assert_eq(r.status, 0, "goroctl status: %d\n%s", r.status, r.err);
    static const char *keys[] = {
        "version:", "pid:", "uptime:", "gs:", "ps:", "ms:", "stack_bytes:",
        "grows:", "shrinks:", "preemptions:", "served:", "plugins:",
        "last_reload:",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char *l = line_starting(r.out, keys[i]);
        cr_expect(l != NULL, "no %s line in:\n%s", keys[i], r.out);
        free(l);
    }
    char *pid = line_starting(r.out, "pid:");
    cr_assert(pid != NULL);
    cr_expect_eq(atoi(pid + 4), (int)D.pid, "%s, not %d", pid, (int)D.pid);
    free(pid);
    char *lr = line_starting(r.out, "last_reload:");
    cr_expect(lr && strstr(lr, "none"), "%s", lr);
    free(lr);
    cr_expect_str_empty(r.err);
    adm_run_free(&r);
}

Test(admin, stats_prints_one_key_value_pair_per_line)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "stats", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    int n = 0;
    char *copy = strdup(r.out), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char key[64];
        unsigned long long v;
        char extra;
        cr_expect(sscanf(l, "%63s %llu %c", key, &v, &extra) == 2,
                  "not \"key value\": %s", l);
        n++;
    }
    free(copy);
    cr_expect_gt(n, 20);
    static const char *keys[] = {
        "gs_live ", "ms ", "ps ", "stack_bytes_inuse ", "stack_grows ",
        "stack_shrinks ", "preempt_sync ", "preempt_async ", "served ",
        "uptime_ns ", "admin_requests ",
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char *l = line_starting(r.out, keys[i]);
        cr_expect(l != NULL, "no %s in:\n%s", keys[i], r.out);
        free(l);
    }
    cr_expect_gt(sample_value(r.out, "gs_live "), 0);
    cr_expect_gt(sample_value(r.out, "ps "), 0);
    adm_run_free(&r);
}

/* A JSON object of string keys and non-negative integers, as stats json
 * writes it: returns the number of members, or -1 when it is not one. */
static int parse_flat_json(const char *s, char keys[][64], int max)
{
    int n = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (*s++ != '{')
        return -1;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '}' && n == 0) {
            s++;
            break;
        }
        if (*s++ != '"')
            return -1;
        const char *k = s;
        while (*s && *s != '"')
            s++;
        if (*s != '"' || s - k >= 64 || n >= max)
            return -1;
        snprintf(keys[n], 64, "%.*s", (int)(s - k), k);
        n++;
        s++;
        while (isspace((unsigned char)*s))
            s++;
        if (*s++ != ':')
            return -1;
        while (isspace((unsigned char)*s))
            s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s))
            s++;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s++ != '}')
            return -1;
        break;
    }
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0' ? n : -1;
}

Test(admin, stats_json_is_one_object)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "stats", "--json", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    static char keys[128][64];
    int n = parse_flat_json(r.out, keys, 128);
    cr_assert_gt(n, 20, "not one JSON object:\n%s", r.out);
    static const char *want[] = {
        "gs_live", "gs_runnable", "gs_waiting", "ms", "ps",
        "stack_bytes_inuse", "stack_grows", "stack_shrinks", "preempt_sync",
        "preempt_async", "ctx_switches", "served", "uptime_ns", "plugins",
        "reloads", "reload_failures",
    };
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            found = strcmp(keys[i], want[w]) == 0;
        cr_expect(found, "no \"%s\" in %s", want[w], r.out);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            cr_expect(strcmp(keys[i], keys[j]) != 0, "\"%s\" twice",
                      keys[i]);
    adm_run_free(&r);
}

Test(admin, ps_lists_every_g)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "ps", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char *copy = strdup(r.out), *save = NULL;
    char *hdr = strtok_r(copy, "\n", &save);
    cr_assert(hdr != NULL);
    static const char *cols[] = {"ID", "STATUS", "WAIT", "STACK", "PLUGIN",
                                 "AGE"};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++)
        cr_expect(strstr(hdr, cols[i]) != NULL, "no %s column: %s", cols[i],
                  hdr);
    int rows = 0, echo = 0;
    for (char *l = strtok_r(NULL, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        long long id;
        char status[16];
        cr_assert(sscanf(l, "%lld %15s", &id, status) == 2, "bad row: %s", l);
        cr_expect_gt(id, 0);
        cr_expect(strcmp(status, "runnable") == 0 ||
                  strcmp(status, "running") == 0 ||
                  strcmp(status, "syscall") == 0 ||
                  strcmp(status, "waiting") == 0, "bad status: %s", l);
        if (strstr(l, " echo "))
            echo++;
        rows++;
    }
    free(copy);
    cr_expect_gt(rows, 0);
    if (D.echo_port)
        cr_expect_gt(echo, 0, "no G of the echo plugin in:\n%s", r.out);
    adm_run_free(&r);
}

Test(admin, plugins_lists_the_loaded_plugins)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "plugins", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char *hdr = line_starting(r.out, "NAME");
    cr_assert(hdr != NULL, "no header:\n%s", r.out);
    cr_expect(strstr(hdr, "STATE") && strstr(hdr, "STACK") &&
              strstr(hdr, "SERVED") && strstr(hdr, "GS") &&
              strstr(hdr, "PATH"), "%s", hdr);
    free(hdr);
    if (D.echo_port) {
        char *l = line_starting(r.out, "echo ");
        cr_assert(l != NULL, "no echo line:\n%s", r.out);
        cr_expect(strstr(l, "running") && strstr(l, "copy") &&
                  strstr(l, "echo.so"), "%s", l);
        free(l);
    } else {
        cr_expect_eq(count_lines(r.out), 1, "%s", r.out);
    }
    adm_run_free(&r);
}

Test(admin, reload_reports_success_and_failure)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "reload", NULL);
    cr_assert_eq(r.status, 0, "reload: %s", r.err);
    adm_run_free(&r);

    /* A broken file: the reload fails and says why; status keeps it. */
    char *good = adm_slurp(D.conf);
    char *bad;
    cr_assert(asprintf(&bad, "%sstack:\n  min_size: 3000\n", good) > 0);
    adm_writefile(D.conf, bad);
    free(bad);
    r = adm_ctl(&D, "reload", NULL);
    cr_expect_eq(r.status, 1, "a broken reload: %d\n%s%s", r.status, r.out,
                 r.err);
    cr_expect(strstr(r.err, "error: reload failed") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "min_size") != NULL, "%s", r.err);
    cr_expect_str_empty(r.out);
    adm_run_free(&r);

    r = adm_ctl(&D, "status", NULL);
    cr_assert_eq(r.status, 0);
    char *lr = line_starting(r.out, "last_reload:");
    cr_expect(lr && strstr(lr, "failed"), "%s", r.out);
    cr_expect(strstr(r.out, "min_size") != NULL, "%s", r.out);
    free(lr);
    adm_run_free(&r);

    /* Fixed again: the next reload is good and status says so. */
    adm_writefile(D.conf, good);
    free(good);
    r = adm_ctl(&D, "reload", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    adm_run_free(&r);
    r = adm_ctl(&D, "status", NULL);
    lr = line_starting(r.out, "last_reload:");
    cr_expect(lr && strstr(lr, "ok"), "%s", r.out);
    free(lr);
    adm_run_free(&r);
}

Test(admin, metrics_command_prints_the_exposition)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "metrics", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_expect(strncmp(r.out, "# HELP ", 7) == 0, "%.200s", r.out);
    cr_expect_gt(check_exposition(r.out), 30);
    adm_run_free(&r);
}

Test(admin, help_lists_the_commands)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "help", NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    static const char *cmds[] = {"status", "stats", "ps", "plugins",
                                 "reload", "metrics", "help", "trace",
                                 "restart"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char *l = line_starting(r.out, cmds[i]);
        cr_expect(l != NULL, "%s is not listed:\n%s", cmds[i], r.out);
        free(l);
    }
    adm_run_free(&r);
}

/* `goroctl trace` streams a trace of the live daemon that Python's json
 * module loads: its Gs named after their functions (the daemon's main G
 * among them), their states as slices with the fields of the Trace Event
 * Format; a bad duration is refused. */
Test(admin, trace_streams_a_perfetto_trace_of_the_live_daemon)
{
    adm_start(&D, NULL);
    char path[160], cmd[512];
    snprintf(path, sizeof path, "%s/trace.json", D.dir);
    adm_run r = adm_ctl(&D, "trace", "--duration", "300ms", "-o", path, NULL);
    cr_assert_eq(r.status, 0, "%s", r.err);
    adm_run_free(&r);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json, sys\n"
             "d = json.load(open(sys.argv[1]))\n"
             "names = [e[\"args\"][\"name\"] for e in d "
             "if e[\"name\"] == \"thread_name\"]\n"
             "assert any(n.endswith(\" daemon_main\") for n in names), names\n"
             "xs = [e for e in d if e[\"ph\"] == \"X\"]\n"
             "assert xs and all(e[\"dur\"] >= 0 and e[\"ts\"] >= 0 and "
             "e[\"args\"][\"goid\"] > 0 for e in xs)\n"
             "print(len(d))' %s 2>&1", path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    cr_expect_eq(pclose(f), 0, "%s", out);

    r = adm_ctl(&D, "trace", "--duration", "3x", NULL);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "error: trace: not a duration") != NULL, "%s",
              r.err);
    adm_run_free(&r);
}

Test(admin, unknown_command_exits_1_naming_it)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "frobnicate", NULL);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "error: unknown command \"frobnicate\" "
                     "(commands: ") != NULL, "%s", r.err);
    cr_expect_str_empty(r.out);
    adm_run_free(&r);

    r = adm_ctl(&D, "status", "now", NULL);
    cr_expect_eq(r.status, 1);
    cr_expect(strncmp(r.err, "error: ", 7) == 0, "%s", r.err);
    adm_run_free(&r);

    /* The raw protocol: the first line says it. */
    char *reply = adm_raw(&D, "nope\n", 5);
    cr_expect(strncmp(reply, "error: unknown command \"nope\"", 29) == 0,
              "%s", reply);
    free(reply);
    reply = adm_raw(&D, "help\n", 5);
    cr_expect(strncmp(reply, "ok\n", 3) == 0, "%s", reply);
    free(reply);
}

Test(admin, goroctl_names_a_socket_it_cannot_reach)
{
    adm_start(&D, NULL);
    adm_daemon none = D;
    snprintf(none.sock, sizeof none.sock, "%s/absent.sock", D.dir);
    adm_run r = adm_ctl(&none, "status", NULL);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, none.sock) != NULL, "%s", r.err);
    cr_expect(strstr(r.err, strerror(ENOENT)) != NULL, "%s", r.err);
    adm_run_free(&r);
}

Test(admin, peer_of_another_uid_is_refused)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run a client as uid 65534");
    adm_opts o = {.mode = 0666};
    adm_start(&D, &o);
    cr_assert(chmod(D.dir, 0755) == 0);

    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
            _exit(10);
        int fd = adm_unix_connect(D.sock);
        if (fd < 0)
            _exit(11);
        if (write(fd, "status\n", 7) != 7)
            _exit(12);
        char buf[256];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof buf - 1 &&
               (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)n;
        buf[len] = '\0';
        _exit(strcmp(buf, "error: permission denied (uid 65534)\n") == 0
                  ? 0 : 13);
    }
    int st;
    cr_assert(waitpid(pid, &st, 0) == pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the client of uid 65534 was not refused as expected (status 0x%x)", st);

    /* Our own uid still gets in, and the daemon said why it refused. */
    adm_run r = adm_ctl(&D, "status", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    adm_run_free(&r);
    char *log = adm_slurp(D.log);
    cr_expect(strstr(log, "65534") != NULL, "the log does not name uid "
              "65534:\n%s", log);
    free(log);
}

Test(admin, too_long_line_is_refused)
{
    adm_start(&D, NULL);
    size_t len = 5000;
    char *line = malloc(len + 1);
    memset(line, 'x', len);
    line[len - 1] = '\n';
    line[len] = '\0';
    char *reply = adm_raw(&D, line, len);
    cr_expect(strncmp(reply, "error: line too long", 20) == 0, "%.100s",
              reply);
    free(reply);

    /* Exactly 4 KiB (without the newline) is still a line: an unknown
     * command, not a long one. */
    memset(line, 'y', 4096);
    line[4096] = '\n';
    reply = adm_raw(&D, line, 4097);
    cr_expect(strncmp(reply, "error: unknown command", 22) == 0, "%.100s",
              reply);
    free(reply);

    line[4999] = '\0';
    memset(line, 'z', 4999);
    adm_run r = adm_ctl(&D, line, NULL);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "error: line too long") != NULL, "%.100s",
              r.err);
    adm_run_free(&r);
    free(line);

    /* Still serving. */
    r = adm_ctl(&D, "status", NULL);
    cr_expect_eq(r.status, 0);
    adm_run_free(&r);
}

Test(admin, clients_that_go_away_do_not_hurt_the_daemon)
{
    adm_start(&D, NULL);
    for (int i = 0; i < 40; i++) {
        int fd = adm_unix_connect(D.sock);
        cr_assert(fd >= 0, "connect: %s", strerror(-fd));
        switch (i % 4) {
        case 0:                 /* connect and leave */
            break;
        case 1:                 /* half a command */
            send(fd, "sta", 3, MSG_NOSIGNAL);
            break;
        case 2:                 /* a command, then gone before the reply */
            send(fd, "ps\n", 3, MSG_NOSIGNAL);
            break;
        case 3:                 /* a big reply nobody reads */
            send(fd, "metrics\n", 8, MSG_NOSIGNAL);
            shutdown(fd, SHUT_RD);
            break;
        }
        close(fd);
    }
    /* One that says nothing and stays: it must not block the others. */
    int idle = adm_unix_connect(D.sock);
    cr_assert(idle >= 0);
    adm_sleep_ms(100);
    cr_assert(adm_alive(&D), "gorod died");
    adm_run r = adm_ctl(&D, "status", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    adm_run_free(&r);
    close(idle);
}

/* The descriptors gorod has open, but the runtime's own files of /proc
 * (sysmon opens a thread's stat and syscall files the first time it looks
 * at that thread waiting, and keeps them: two per thread at most, which a
 * busy machine makes it open at any time): how many, and what they are in
 * *what (one "fd -> target" a line, malloc'd) when what is not NULL. */
static int open_fds(pid_t pid, char **what)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s: %s", path, strerror(errno));
    int n = 0;
    size_t len = 0, cap = 0;
    char *list = NULL;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char link[320], target[256] = "?";
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k > 0) {
            target[k] = '\0';
            if (strncmp(target, "/proc/", 6) == 0)
                continue;
        }
        n++;
        if (what != NULL) {
            char line[300];
            int l = snprintf(line, sizeof line, "%s -> %s\n", e->d_name,
                             target);
            if (len + (size_t)l + 1 > cap) {
                cap = 2 * (len + (size_t)l + 1);
                list = realloc(list, cap);
                cr_assert_not_null(list);
            }
            memcpy(list + len, line, (size_t)l + 1);
            len += (size_t)l;
        }
    }
    closedir(d);
    if (what != NULL)
        *what = list != NULL ? list : strdup("");
    return n;
}

/* How many connections the admin socket at path has accepted that are
 * still open in gorod: the sockets /proc/net/unix shows bound to path and
 * connected (state 03; an accepted socket carries its listener's path, a
 * client's has none). */
static int admin_conns_open(const char *path)
{
    FILE *f = fopen("/proc/net/unix", "r");
    cr_assert_not_null(f, "/proc/net/unix: %s", strerror(errno));
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char st[8], p[256] = "";
        if (sscanf(line, "%*s %*s %*s %*s %*s %7s %*s %255s", st, p) == 2 &&
            strcmp(st, "03") == 0 && strcmp(p, path) == 0)
            n++;
    }
    fclose(f);
    return n;
}

/* open_fds once gorod has closed every admin connection (a client's,
 * such as goroctl's, is closed on gorod's side after the client's end:
 * see lingerclose), waiting up to 5 s; its start is done (adm_start
 * waits for "running:"). */
static int settled_fds(const adm_daemon *d, char **what)
{
    for (int64_t deadline = adm_now_ms() + 5000;
         admin_conns_open(d->sock) != 0 && adm_now_ms() < deadline;)
        adm_sleep_ms(20);
    return open_fds(d->pid, what);
}

/* Random bytes (NULs, control and high bytes, lines of every length up to
 * twice the limit), and a 64 MiB stream with no newline at all: every
 * client gets an error line, the daemon keeps serving, and no descriptor
 * is left behind. */
Test(admin, garbage_and_floods_are_refused_and_nothing_leaks)
{
    adm_start(&D, NULL);
    adm_run r = adm_ctl(&D, "status", NULL);   /* everything opened once */
    adm_run_free(&r);
    char *what0, *what1;
    int fds0 = settled_fds(&D, &what0);

    uint64_t x = 0x9e3779b97f4a7c15ull;
    char *buf = malloc(2 * 4096 + 2);
    cr_assert_not_null(buf);
    for (int i = 0; i < 300; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = 1 + x % (2 * 4096);
        for (size_t j = 0; j < len; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[j] = (char)(x >> 32);
        }
        /* Half of them end their garbage with a newline. */
        if (i % 2)
            buf[len++] = '\n';
        char *reply = adm_raw(&D, buf, len);
        cr_expect(strncmp(reply, "error: ", 7) == 0,
                  "garbage %d (%zu bytes) got: %.80s", i, len, reply);
        free(reply);
    }
    free(buf);

    size_t flood = 64u << 20;
    char *big = malloc(flood);
    cr_assert_not_null(big);
    memset(big, 'a', flood);
    char *reply = adm_raw(&D, big, flood);
    cr_expect(strncmp(reply, "error: line too long", 20) == 0, "%.80s",
              reply);
    free(reply);
    free(big);

    cr_assert(adm_alive(&D), "gorod died");
    r = adm_ctl(&D, "status", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    adm_run_free(&r);
    /* The connections' Gs close their descriptors as they end. */
    int fds1 = settled_fds(&D, &what1);
    cr_expect_eq(fds1, fds0, "gorod had %d descriptors open, now %d "
                 "(%d admin connections open)\nbefore:\n%safter:\n%s", fds0,
                 fds1, admin_conns_open(D.sock), what0, what1);
    free(what0);
    free(what1);
}

Test(admin, stale_socket_file_is_replaced)
{
    /* A killed daemon leaves its socket file behind, nobody listening. */
    adm_start(&D, NULL);
    cr_assert(kill(D.pid, SIGKILL) == 0);
    waitpid(D.pid, NULL, 0);
    D.pid = 0;
    struct stat st;
    cr_assert(lstat(D.sock, &st) == 0 && S_ISSOCK(st.st_mode),
              "a killed gorod leaves its socket file");

    /* Start a second daemon on the same directory's configuration. */
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(D.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("GOROD"), getenv("GOROD"), "--foreground", "--config",
              D.conf, (char *)NULL);
        _exit(127);
    }
    D.pid = pid;
    int64_t deadline = adm_now_ms() + 15000;
    int fd;
    while ((fd = adm_unix_connect(D.sock)) < 0 && adm_now_ms() < deadline &&
           adm_alive(&D))
        adm_sleep_ms(20);
    cr_assert(fd >= 0, "the stale socket was not replaced:\n%s",
              adm_slurp(D.log));
    close(fd);
    adm_run r = adm_ctl(&D, "status", NULL);
    cr_expect_eq(r.status, 0, "%s", r.err);
    adm_run_free(&r);
}

/* ---- metrics over HTTP ----------------------------------------------------- */

/* The body of an HTTP response, after checking its status line and, for
 * 200, Content-Type and Content-Length. */
static const char *http_body(const char *resp, int want)
{
    int code = 0;
    cr_assert(sscanf(resp, "HTTP/1.1 %d", &code) == 1, "%.200s", resp);
    cr_assert_eq(code, want, "%.300s", resp);
    const char *body = strstr(resp, "\r\n\r\n");
    cr_assert(body != NULL);
    body += 4;
    if (want == 200) {
        cr_expect(strstr(resp, "Content-Type: text/plain; version=0.0.4") !=
                  NULL, "%.300s", resp);
        const char *cl = strstr(resp, "Content-Length: ");
        cr_assert(cl != NULL && cl < body);
        cr_expect_eq((size_t)atol(cl + 16), strlen(body));
    }
    return body;
}

/* The file's runtime knobs reach the runtime (goro_run_config), over the
 * GORO_* variables of gorod's environment: three Ps from the file though
 * GORO_PROCS says one. */
Test(admin, the_file_s_knobs_reach_the_runtime_over_the_environment)
{
    setenv("GORO_PROCS", "1", 1);
    adm_start(&D, &(adm_opts){.knobs = "sched:\n  procs: 3\n"});
    unsetenv("GORO_PROCS");
    char *resp = adm_http(&D, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n");
    cr_expect_eq(sample_value(http_body(resp, 200), "goro_procs "), 3);
    free(resp);
}

Test(admin, metrics_over_http_parse)
{
    adm_start(&D, NULL);
    char *resp = adm_http(&D, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n");
    const char *body = http_body(resp, 200);
    cr_expect_gt(check_exposition(body), 30);

    static const char *want[] = {
        "goro_gs{status=\"waiting\"} ", "goro_threads ", "goro_procs ",
        "goro_runq_length{queue=\"global\"} ", "goro_stack_inuse_bytes ",
        "goro_stack_inuse_by_size_bytes{size=\"2048\"} ",
        "goro_stack_grows_total ", "goro_stack_shrinks_total ",
        "goro_stack_copied_bytes_total ",
        "goro_preemptions_total{kind=\"sync\"} ",
        "goro_preemptions_total{kind=\"async\"} ",
        "goro_context_switches_total ", "goro_gs_created_total ",
        "goro_sched_latency_seconds_sum ", "gorod_reloads_total ",
        "gorod_reload_failures_total ", "gorod_admin_requests_total ",
        "gorod_metrics_requests_total ", "gorod_uptime_seconds ",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_expect_geq(sample_value(body, want[i]), 0, "no %s", want[i]);
    cr_expect_geq(sample_value(body, "gorod_metrics_requests_total "), 1);
    if (D.echo_port) {
        cr_expect_eq(sample_value(body, "gorod_plugin_up{plugin=\"echo\"} "),
                     1);
        cr_expect_geq(
            sample_value(body, "gorod_plugin_requests_total{plugin=\"echo\"} "),
            0);
        cr_expect_gt(sample_value(body, "gorod_plugin_gs{plugin=\"echo\"} "),
                     0);
    }
    free(resp);

    /* Other paths, methods and garbage. */
    resp = adm_http(&D, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n");
    http_body(resp, 404);
    free(resp);
    resp = adm_http(&D, "POST /metrics HTTP/1.1\r\nConnection: close\r\n"
                        "Content-Length: 0\r\n\r\n");
    http_body(resp, 405);
    free(resp);
    resp = adm_http(&D, "this is not http\r\n\r\n");
    http_body(resp, 400);
    free(resp);

    /* Keep-alive: two requests on one connection, the second closing. */
    resp = adm_http(&D, "GET /metrics HTTP/1.1\r\n\r\n"
                        "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
    int n = 0;
    for (const char *s = resp; (s = strstr(s, "HTTP/1.1 200 OK")); s++)
        n++;
    cr_expect_eq(n, 2, "%d responses on one connection", n);
    free(resp);
}

/* The exposition as Prometheus's own tool reads it: promtool check metrics
 * (names, units, types, HELP) says nothing about it. And the process_*
 * family every client library exports says what /proc and the limits say
 * of the daemon. */
Test(admin, metrics_pass_promtool_and_carry_the_process_family)
{
    cr_assert_eq(system("command -v promtool >/dev/null"), 0,
                 "promtool is not installed (make deps installs the "
                 "prometheus package)");
    adm_start(&D, NULL);
    char *resp = adm_http(&D, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                              "Connection: close\r\n\r\n");
    const char *body = http_body(resp, 200);
    char path[160], cmd[512];
    snprintf(path, sizeof path, "%s/metrics.txt", D.dir);
    adm_writefile(path, body);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s/promtool.out "
             "2>&1", path, D.dir);
    int st = system(cmd);
    snprintf(path, sizeof path, "%s/promtool.out", D.dir);
    char *out = adm_slurp(path);
    cr_expect_eq(st, 0, "promtool check metrics (status %d):\n%s", st, out);
    cr_expect_str_empty(out);
    free(out);
    cr_expect_null(strstr(body, "\ngoro_ms"), "goro_ms reads as "
                   "milliseconds");

    /* Open fds: the entries of /proc/PID/fd (a scrape's own connection
     * and the like may come and go). */
    snprintf(path, sizeof path, "/proc/%d/fd", (int)D.pid);
    DIR *dir = opendir(path);
    cr_assert_not_null(dir);
    int nfd = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        nfd += e->d_name[0] != '.';
    closedir(dir);
    double fds = sample_value(body, "process_open_fds ");
    cr_expect(fds >= 4 && fds >= nfd - 4 && fds <= nfd + 4,
              "process_open_fds %.0f, /proc says %d", fds, nfd);
    /* The soft limit, as /proc/PID/limits gives it. */
    snprintf(path, sizeof path, "/proc/%d/limits", (int)D.pid);
    char *lim = adm_slurp(path);
    cr_assert_not_null(lim);
    char *l = strstr(lim, "Max open files");
    cr_assert_not_null(l, "%s", lim);
    double soft = strtod(l + strlen("Max open files"), NULL);
    free(lim);
    cr_expect_eq(sample_value(body, "process_max_fds "), soft);
    /* Started within the last minutes, in seconds since the epoch. */
    double start = sample_value(body, "process_start_time_seconds ");
    double now = (double)time(NULL);
    cr_expect(start > now - 300 && start <= now + 1, "start %.2f, now %.0f",
              start, now);
    double rss = sample_value(body, "process_resident_memory_bytes ");
    cr_expect_gt(rss, 1 << 20);
    cr_expect_geq(sample_value(body, "process_virtual_memory_bytes "), rss);
    cr_expect_geq(sample_value(body, "process_cpu_seconds_total "), 0);
    free(resp);
}

/* goroctl ps --json: one JSON array, an object per G with the table's
 * columns, read by a real JSON parser (python3's). */
Test(admin, ps_json_is_one_array_of_every_g)
{
    adm_start(&D, NULL);
    static const char script[] =
        "import json, sys\n"
        "text = sys.stdin.read()\n"
        "assert text.count(chr(10)) == 1, text\n"
        "a = json.loads(text)\n"
        "assert isinstance(a, list) and a, text\n"
        "keys = {\"id\", \"status\", \"wait_reason\", \"group\", "
        "\"stack_bytes\", \"age_ns\"}\n"
        "for g in a:\n"
        "    assert set(g) == keys, g\n"
        "    assert isinstance(g[\"id\"], int) and g[\"id\"] > 0, g\n"
        "    assert g[\"status\"] in (\"runnable\", \"running\", "
        "\"syscall\", \"waiting\"), g\n"
        "    assert g[\"wait_reason\"] is None or "
        "g[\"status\"] == \"waiting\", g\n"
        "    assert g[\"group\"] is None or isinstance(g[\"group\"], str), g\n"
        "    assert g[\"stack_bytes\"] >= 2048 and g[\"age_ns\"] >= 0, g\n"
        "ids = [g[\"id\"] for g in a]\n"
        "assert ids == sorted(set(ids)), ids\n"
        "print(len(a), sum(g[\"group\"] == \"echo\" for g in a))\n";
    char path[160];
    snprintf(path, sizeof path, "%s/ps.py", D.dir);
    adm_writefile(path, script);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --socket %s ps --json | python3 %s 2>&1",
             getenv("GOROCTL"), D.sock, path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    cr_assert_eq(st, 0, "%s:\n%s", cmd, out);
    int gs = 0, echo = 0;
    cr_assert_eq(sscanf(out, "%d %d", &gs, &echo), 2, "%s", out);
    cr_expect_gt(gs, 0);
    if (D.echo_port)
        cr_expect_gt(echo, 0, "no G of the echo plugin: %s", out);
}

Test(admin, idle_metrics_connections_do_not_block_scrapes)
{
    adm_start(&D, NULL);
    int fds[8];
    for (int i = 0; i < 8; i++) {
        int64_t deadline = adm_now_ms() + 5000;
        while ((fds[i] = adm_tcp_connect(D.metrics_port)) < 0 &&
               adm_now_ms() < deadline)
            adm_sleep_ms(20);
        cr_assert(fds[i] >= 0);
    }
    send(fds[0], "GET /met", 8, MSG_NOSIGNAL);   /* and never the rest */
    char *resp = adm_http(&D, "GET /metrics HTTP/1.0\r\n\r\n");
    cr_expect(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.100s", resp);
    free(resp);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
}

/* ---- slow and hostile clients ----------------------------------------------- */

/* A client that sends one byte of its request every second: the request's
 * deadline starts at its first byte and is not renewed by each read, so
 * the connection is cut about 10 s later (it used to stay for ever, and 64
 * such clients, the cap, stopped every scrape). */
Test(admin, a_trickling_metrics_client_is_cut_at_the_request_deadline,
     .timeout = 90)
{
    adm_start(&D, NULL);
    int fd = -1;
    int64_t deadline = adm_now_ms() + 5000;
    while ((fd = adm_tcp_connect(D.metrics_port)) < 0 &&
           adm_now_ms() < deadline)
        adm_sleep_ms(20);
    cr_assert(fd >= 0);
    const char *req = "GET /metrics HTTP/1.1\r\nX-Slow: "
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int64_t t0 = adm_now_ms(), cut = -1;
    for (size_t i = 0; i < strlen(req) && cut < 0; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            cut = adm_now_ms() - t0;
            break;
        }
        /* A second of waiting for the server to close. */
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char c;
        ssize_t n = recv(fd, &c, 1, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            cut = adm_now_ms() - t0;
    }
    close(fd);
    cr_assert(cut >= 0, "a client sending a byte a second was still "
              "connected after %lld s", (long long)(adm_now_ms() - t0) / 1000);
    cr_expect(cut >= 9000, "cut after %lld ms, before the 10 s deadline",
              (long long)cut);
    cr_log_info("a trickling metrics client was cut after %lld ms",
                (long long)cut);
    char *resp = adm_http(&D, "GET /metrics HTTP/1.0\r\n\r\n");
    cr_expect(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%.100s", resp);
    free(resp);
}

/* adm_as_nobody forks a child that becomes uid 65534; it runs fn(arg) and
 * exits with its result. Returns the child's pid. */
static pid_t as_nobody(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
            _exit(10);
        _exit(fn(arg));
    }
    return pid;
}

/* 70 silent connections of uid 65534, held until the parent writes to the
 * pipe arg; each must have been refused (and none may hold a slot). */
static int hold_refused(void *arg)
{
    int *pipefd = arg;
    int fds[70];
    for (int i = 0; i < 70; i++)
        if ((fds[i] = adm_unix_connect(D.sock)) < 0)
            return 11;
    char c;
    if (write(pipefd[1], "r", 1) != 1 || read(pipefd[0], &c, 1) != 1)
        return 12;
    int refused = 0;
    for (int i = 0; i < 70; i++) {
        char buf[128];
        ssize_t n = read(fds[i], buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            refused += strstr(buf, "permission denied (uid 65534)") != NULL;
        }
        close(fds[i]);
    }
    return refused == 70 ? 0 : 13;
}

Test(admin, refused_peers_never_hold_a_connection_slot, .timeout = 60)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run a client as uid 65534");
    adm_opts o = {.mode = 0666, .no_plugins = true};
    adm_start(&D, &o);
    cr_assert(chmod(D.dir, 0755) == 0);
    int up[2], down[2];
    cr_assert(pipe(up) == 0 && pipe(down) == 0);
    int ends[2] = {down[0], up[1]};
    pid_t pid = as_nobody(hold_refused, ends);
    char c;
    cr_assert_eq(read(up[0], &c, 1), 1, "the client of uid 65534 failed");
    adm_sleep_ms(200);   /* every connection accepted */
    int64_t t0 = adm_now_ms();
    adm_run r = adm_ctl(&D, "status", NULL);
    int64_t ms = adm_now_ms() - t0;
    cr_log_info("goroctl status beside 70 refused peers: %d after %lld ms", r.status, (long long)ms);
    cr_expect_eq(r.status, 0, "goroctl status beside 70 refused peers "
                 "(%lld ms): %s", (long long)ms, r.err);
    adm_run_free(&r);
    cr_assert_eq(write(down[1], "g", 1), 1);
    int st;
    cr_assert(waitpid(pid, &st, 0) == pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the refused client saw status 0x%x", st);
}

/* gorod run as uid 65534 (so that root is another user): 64 silent
 * connections of its own uid take every ordinary slot; root's goroctl
 * still gets in, and the silent ones are told they timed out (or, past the
 * ordinary slots, that there are too many connections). */
static void spawn_as_nobody(adm_daemon *d)
{
    const char *gorod = getenv("GOROD");
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
            _exit(126);
        execl(gorod, gorod, "--foreground", "--config", d->conf,
              (char *)NULL);
        _exit(127);
    }
    d->pid = pid;
}

static int hold_silent(void *arg)
{
    int *pipefd = arg;
    int fds[64];
    for (int i = 0; i < 64; i++)
        if ((fds[i] = adm_unix_connect(D.sock)) < 0)
            return 11;
    char c;
    if (write(pipefd[1], "r", 1) != 1 || read(pipefd[0], &c, 1) != 1)
        return 12;
    int timedout = 0, busy = 0;
    for (int i = 0; i < 64; i++) {
        char buf[128];
        ssize_t n = read(fds[i], buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            timedout += strstr(buf, "timed out") != NULL;
            busy += strstr(buf, "too many connections") != NULL;
        }
        close(fds[i]);
    }
    return timedout > 0 && timedout + busy == 64 ? 0 : 13;
}

Test(admin, root_keeps_a_slot_when_the_others_are_taken, .timeout = 60)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to run gorod as uid 65534");
    adm_init(&D, "admin");
    cr_assert(chmod(D.dir, 0777) == 0);
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n  level: debug\n  target: stderr\n"
                       "admin:\n  socket: %s\n  mode: 0666\n"
                       "metrics:\n  listen: \"\"\n"
                       "status_interval: 0\nshutdown_timeout: 5s\n"
                       "plugins: []\n", D.sock) > 0);
    adm_writefile(D.conf, text);
    free(text);
    chmod(D.conf, 0644);
    spawn_as_nobody(&D);
    adm_wait_ready(&D);
    int up[2], down[2];
    cr_assert(pipe(up) == 0 && pipe(down) == 0);
    int ends[2] = {down[0], up[1]};
    pid_t pid = as_nobody(hold_silent, ends);
    char c;
    cr_assert_eq(read(up[0], &c, 1), 1, "the client of uid 65534 failed");
    adm_sleep_ms(200);
    adm_run r = adm_ctl(&D, "status", NULL);
    cr_expect_eq(r.status, 0, "root's goroctl beside 64 silent peers: %s",
                 r.err);
    adm_run_free(&r);
    cr_assert_eq(write(down[1], "g", 1), 1);
    int st;
    cr_assert(waitpid(pid, &st, 0) == pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the silent clients were not told they timed out (0x%x)", st);
}

/* 300 goroctl reload at once: each ends with a reply, "reloaded" (exit
 * 0) or "error: too many connections" (exit 1), never a reset or an empty
 * answer (exit 2). */
Test(admin, a_flood_of_reloads_gets_replies_not_resets, .timeout = 180)
{
    adm_start(&D, NULL);
    enum { N = 300 };
    static pid_t pids[N];
    const char *ctl = getenv("GOROCTL");
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        cr_assert(pids[i] >= 0);
        if (pids[i] == 0) {
            char path[192];
            snprintf(path, sizeof path, "%s/flood.%d", D.dir, i);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd < 0)
                _exit(126);
            dup2(fd, 1);
            dup2(fd, 2);
            execl(ctl, ctl, "--socket", D.sock, "reload", (char *)NULL);
            _exit(127);
        }
    }
    int ok = 0, busy = 0, other = 0;
    char first_other[256] = "";
    for (int i = 0; i < N; i++) {
        int st;
        cr_assert(waitpid(pids[i], &st, 0) == pids[i]);
        char path[192];
        snprintf(path, sizeof path, "%s/flood.%d", D.dir, i);
        char *out = adm_slurp(path);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (code == 0 && strstr(out, "reloaded") != NULL)
            ok++;
        else if (code == 1 && strstr(out, "error: too many connections"))
            busy++;
        else if (other++ == 0)
            snprintf(first_other, sizeof first_other, "goroctl %d: exit %d: "
                     "%.160s", i, code, out);
        free(out);
    }
    cr_log_info("%d concurrent reloads: %d ok, %d too many connections, %d "
                "other", N, ok, busy, other);
    cr_expect_eq(other, 0, "%d of %d got neither a reply nor a refusal; the "
                 "first: %s", other, N, first_other);
    cr_expect_gt(ok, 0);
}

/* control_plane_answers: `goroctl status` succeeds and GET path on the
 * metrics listener has want in its reply, three times in a row. */
static void control_plane_answers(const adm_daemon *d, const char *path,
                                  const char *want)
{
    char req[128];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             path);
    for (int k = 0; k < 3; k++) {
        adm_run r = adm_ctl(d, "status", NULL);
        cr_expect_eq(r.status, 0, "goroctl status: %s%s", r.out, r.err);
        adm_run_free(&r);
        char *m = adm_http(d, req);
        cr_expect(m && strstr(m, want), "%s: %s", path, m);
        free(m);
    }
}

/* every_fd: how many descriptors process pid has open, all of them. */
static int every_fd(pid_t pid)
{
    char fddir[64];
    snprintf(fddir, sizeof fddir, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(fddir);
    cr_assert_not_null(dir, "%s", fddir);
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

/* The echo plugin holds a connection per descriptor until gorod, under a
 * limit of 96, has none left: goroctl and the metrics still answer, from
 * the descriptors the admin socket and the metrics listener hold back; the
 * log names the shortage as the process's and echo as the holder, and
 * `goroctl plugins` and the metrics count echo's descriptors. */
Test(admin, the_control_plane_answers_when_the_process_runs_out_of_fds,
     .timeout = 120)
{
    adm_daemon d;
    adm_opts o = {.nofile = 96};
    adm_start(&d, &o);
    if (d.echo_port == 0) {
        adm_stop(&d);
        cr_skip_test("the echo plugin is not built");
    }
    /* Both listeners hold their reserves from their start, before the
     * plugins'; a scrape first all the same, to see metrics answer
     * before the flood. */
    char *m0 = adm_http(&d, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n");
    cr_assert(m0 && strstr(m0, "goro_threads"), "metrics: %s", m0);
    free(m0);
    enum { NCONN = 160 };
    int conns[NCONN];
    for (int i = 0; i < NCONN; i++)
        conns[i] = adm_tcp_connect(d.echo_port);
    /* Until every descriptor of gorod's is taken. */
    int64_t deadline = adm_now_ms() + 20000;
    int open = 0;
    while (adm_now_ms() < deadline) {
        open = every_fd(d.pid);
        if (open >= o.nofile)
            break;
        adm_sleep_ms(50);
    }
    cr_assert_geq(open, o.nofile, "gorod has %d descriptors open", open);
    control_plane_answers(&d, "/metrics", "goro_threads");
    char *log = adm_slurp(d.log);
    cr_expect(strstr(log, "out of file descriptors") != NULL, "%s", log);
    /* ... and names the plugin that holds them, with how many: most of
     * the 96 (the rest are gorod's own and the runtime's). */
    const char *h = strstr(log, "held by plugins: echo ");
    cr_expect(h != NULL && atoi(h + strlen("held by plugins: echo ")) >= 48,
              "%s", log);
    free(log);
    adm_run pl = adm_ctl(&d, "plugins", NULL);
    cr_expect_eq(pl.status, 0, "goroctl plugins: %s%s", pl.out, pl.err);
    char *el = line_starting(pl.out, "echo ");
    cr_expect(el != NULL, "%s", pl.out);
    if (el != NULL) {
        /* NAME STATE VERSION STARTS STACK SERVED GS FDS */
        long fds = -1;
        char name[32], state[32], ver[32], starts[16], stack[32];
        unsigned long long served;
        long gs;
        cr_expect_eq(sscanf(el, "%31s %31s %31s %15s %31s %llu %ld %ld", name,
                            state, ver, starts, stack, &served, &gs, &fds),
                     8, "%s", el);
        cr_expect_geq(fds, 48, "%s", pl.out);
        free(el);
    }
    adm_run_free(&pl);
    char *m = adm_http(&d, "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                           "Connection: close\r\n\r\n");
    const char *mf = m ? strstr(m, "gorod_plugin_fds{plugin=\"echo\"} ") : NULL;
    cr_expect(mf != NULL && atoi(mf + strlen("gorod_plugin_fds{plugin=\"echo\"} ")) >= 48,
              "metrics: %s", m);
    free(m);
    for (int i = 0; i < NCONN; i++)
        if (conns[i] >= 0)
            close(conns[i]);
    adm_stop(&d);
}

/* A plugin that takes every descriptor in its start() (fdhog), before any
 * connection comes: the admin socket and the metrics listener opened
 * first, each with its reserve, so goroctl and the scrape still answer,
 * and /readyz says ready. Before, the plugins started first: the
 * listeners' reserves were still empty, and goroctl got no reply. */
Test(admin, the_control_plane_answers_when_a_plugin_takes_every_fd_at_start,
     .timeout = 60)
{
    adm_daemon d;
    adm_opts o = {.nofile = 64, .plugin = "fdhog"};
    adm_start(&d, &o);
    /* adm_start's connection (made once the plugins had started, so
     * served from the admin reserve) may still be closing: its descriptor
     * is free from the close until the reserve takes it back
     * (lingerclose). */
    int64_t deadline = adm_now_ms() + 10000;
    int open = every_fd(d.pid);
    while (open != o.nofile && adm_now_ms() < deadline) {
        adm_sleep_ms(10);
        open = every_fd(d.pid);
    }
    cr_assert_eq(open, o.nofile, "gorod has %d descriptors open", open);
    control_plane_answers(&d, "/readyz", "\r\n\r\nready\n");
    adm_run pl = adm_ctl(&d, "plugins", NULL);
    cr_expect_eq(pl.status, 0, "goroctl plugins: %s%s", pl.out, pl.err);
    cr_expect(strstr(pl.out, "fdhog ") != NULL, "%s", pl.out);
    adm_run_free(&pl);
    adm_stop(&d);
}
