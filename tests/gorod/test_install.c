/*
 * test_install.c - `make install` into a staging directory, and what was
 * installed: every file in its place, a gorod that runs from there (it finds
 * the installed libgoro.so through its $ORIGIN rpath), a configuration that
 * points at the installed plugins and /run/gorod, a goro.pc a plugin builds
 * with, and a systemd unit that systemd-analyze accepts and scores at most
 * 2.0 for exposure.
 *
 * Each test installs afresh into its own mkdtemp directory (tests run in
 * processes of their own, so nothing is shared) with
 * `make -C $GOROD_SRCDIR install PREFIX=/usr/local DESTDIR=<dir>`; the tree
 * is built already when `make test` runs this, so that costs a few copies.
 * The systemd checks skip where systemd-analyze, or its --offline mode, is
 * missing.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX "/usr/local"

/* run: the shell command made from fmt, its output (stdout and stderr) in a
 * malloc'd string *out when out is not NULL; returns the exit status, or -1
 * when it did not exit normally. */
static int run(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int run(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *f = popen(full, "r");
    cr_assert_not_null(f, "popen %s: %s", cmd, strerror(errno));
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    buf[len] = '\0';
    int st = pclose(f);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *srcdir(void)
{
    const char *s = getenv("GOROD_SRCDIR");
    if (s == NULL || *s == '\0')
        cr_skip_test("GOROD_SRCDIR is not set (run through make test)");
    return s;
}

static char destdir[256];

/* install: make install into a fresh staging directory (destdir). */
static void install(void)
{
    const char *src = srcdir();
    const char *tmp = getenv("TMPDIR");
    snprintf(destdir, sizeof destdir, "%s/gorod-install-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(destdir), "mkdtemp: %s", strerror(errno));
    char *log;
    int st = run(&log, "make --no-print-directory -C '%s' install "
                 "PREFIX=" PREFIX " DESTDIR='%s'", src, destdir);
    size_t l = strlen(log);
    if (st != 0)
        run(NULL, "rm -rf '%s'", destdir);
    cr_assert_eq(st, 0, "make install failed (%d):\n%s", st,
                 l > 4000 ? log + l - 4000 : log);
    free(log);
}

static void uninstall(void)
{
    if (destdir[0] != '\0')
        run(NULL, "rm -rf '%s'", destdir);
}

/* path: destdir + p, in a static buffer (one at a time). */
static const char *path(const char *p)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s%s", destdir, p);
    return buf;
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    char *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* check_file: p is installed (a regular file), with mode unless 0. */
static void check_file(const char *p, mode_t mode)
{
    struct stat st;
    if (stat(path(p), &st) != 0) {
        cr_expect_fail("%s not installed: %s", path(p), strerror(errno));
        return;
    }
    cr_expect(S_ISREG(st.st_mode), "%s is not a regular file", path(p));
    if (mode != 0)
        cr_expect_eq(st.st_mode & 0777, mode, "%s: mode %o, not %o", p,
                     (unsigned)(st.st_mode & 0777), (unsigned)mode);
}

TestSuite(install, .init = install, .fini = uninstall, .timeout = 600);

Test(install, puts_every_file_in_its_place)
{
    static const struct { const char *p; mode_t mode; } files[] = {
        { PREFIX "/bin/gorod", 0755 },
        { PREFIX "/bin/goroctl", 0755 },
        { PREFIX "/lib/libgoro.so", 0755 },
        { PREFIX "/lib/libgoro_morestack.a", 0644 },
        { PREFIX "/include/goro.h", 0644 },
        { PREFIX "/include/goro/plugin.h", 0644 },
        { PREFIX "/lib/pkgconfig/goro.pc", 0 },
        { PREFIX "/lib/goro/plugins/echo.so", 0755 },
        { PREFIX "/lib/goro/plugins/httphello.so", 0755 },
        { PREFIX "/lib/goro/plugins/stackwave.so", 0755 },
        { PREFIX "/lib/goro/plugins/spinner.so", 0755 },
        { PREFIX "/lib/systemd/system/gorod.service", 0644 },
        { "/etc/goro/gorod.yaml", 0644 },
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        check_file(files[i].p, files[i].mode);
}

Test(install, gorod_runs_from_the_staging_directory)
{
    char *out;
    int st = run(&out, "'%s' --version", path(PREFIX "/bin/gorod"));
    cr_assert_eq(st, 0, "gorod --version: %d\n%s", st, out);
    cr_expect_not_null(strstr(out, "0."), "no version in: %s", out);
    free(out);
    /* It must be the installed libgoro, not the build tree's. */
    st = run(&out, "ldd '%s'", path(PREFIX "/bin/gorod"));
    cr_assert_eq(st, 0, "ldd: %s", out);
    char want[512];
    snprintf(want, sizeof want, "%s/../lib/libgoro.so",
             path(PREFIX "/bin"));
    cr_expect_not_null(strstr(out, want), "libgoro.so not found at %s:\n%s",
                       want, out);
    free(out);
}

Test(install, configuration_points_at_installed_paths)
{
    char *y = slurp(path("/etc/goro/gorod.yaml"));
    cr_expect_null(strstr(y, "build/"), "a build tree path is left:\n%s", y);
    cr_expect_not_null(strstr(y, PREFIX "/lib/goro/plugins/"),
                       "no installed plugin path:\n%s", y);
    cr_expect_not_null(strstr(y, "/run/gorod/gorod.sock"),
                       "the admin socket is not /run/gorod/gorod.sock:\n%s", y);
    free(y);
    /* --check does not load the plugins (they are not in /usr/local). */
    char *out;
    int st = run(&out, "'%s' --check --config '%s'", path(PREFIX "/bin/gorod"),
                 path("/etc/goro/gorod.yaml"));
    cr_expect_eq(st, 0, "gorod --check on the installed configuration: "
                 "%d\n%s", st, out);
    free(out);
}

Test(install, a_second_install_keeps_the_configuration)
{
    FILE *f = fopen(path("/etc/goro/gorod.yaml"), "a");
    cr_assert_not_null(f);
    fputs("# edited by the administrator\n", f);
    fclose(f);
    char *out;
    int st = run(&out, "make --no-print-directory -C '%s' install "
                 "PREFIX=" PREFIX " DESTDIR='%s'", srcdir(), destdir);
    cr_assert_eq(st, 0, "make install again: %s", out);
    free(out);
    char *y = slurp(path("/etc/goro/gorod.yaml"));
    cr_expect_not_null(strstr(y, "# edited by the administrator"),
                       "the edited configuration was overwritten");
    free(y);
    check_file("/etc/goro/gorod.yaml.default", 0644);
}

Test(install, goro_pc_builds_a_split_stack_plugin)
{
    if (run(NULL, "command -v pkg-config") != 0)
        cr_skip_test("no pkg-config");
    /* goro.pc holds PREFIX paths; PKG_CONFIG_SYSROOT_DIR puts the staging
     * directory in front of its -I and -L. */
    char *out;
    int st = run(&out,
        "cd '%s' && export PKG_CONFIG_PATH='%s' PKG_CONFIG_SYSROOT_DIR='%s' && "
        "cc -fPIC -std=gnu11 -O2 $(pkg-config --cflags goro) "
        "-c '%s/tests/gorod/plugins/hello.c' -o hello.o && "
        "cc -shared hello.o $(pkg-config --libs goro) -o hello.so && "
        "readelf -SW hello.so && nm -D hello.so",
        destdir, path(PREFIX "/lib/pkgconfig"), destdir, srcdir());
    cr_assert_eq(st, 0, "building a plugin with the installed goro.pc:\n%s",
                 out);
    cr_expect_not_null(strstr(out, ".note.GNU-split-stack"),
                       "no split-stack note:\n%s", out);
    cr_expect_not_null(strstr(out, "goro_plugin_entry"),
                       "no goro_plugin_entry:\n%s", out);
    free(out);
}

/* unit_copy: the installed unit with ExecStart= pointing into destdir (as
 * verify checks that the program exists), at destdir/verify/gorod.service. */
static const char *unit_copy(void)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/verify/gorod.service", destdir);
    int st = run(NULL, "mkdir -p '%s/verify' && sed 's|=" PREFIX "/bin/|=%s"
                 PREFIX "/bin/|' '%s' > '%s'", destdir, destdir,
                 path(PREFIX "/lib/systemd/system/gorod.service"), p);
    cr_assert_eq(st, 0);
    return p;
}

Test(install, systemd_analyze_verifies_the_unit)
{
    if (run(NULL, "command -v systemd-analyze") != 0)
        cr_skip_test("no systemd-analyze");
    char *out;
    int st = run(&out, "systemd-analyze verify '%s'", unit_copy());
    cr_expect_eq(st, 0, "systemd-analyze verify: %d\n%s", st, out);
    free(out);
}

Test(install, unit_exposure_is_at_most_2)
{
    if (run(NULL, "command -v systemd-analyze") != 0)
        cr_skip_test("no systemd-analyze");
    char *out;
    int st = run(&out, "systemd-analyze security --offline=yes "
                 "--no-pager '%s'", unit_copy());
    const char *m = strstr(out, "Overall exposure level for gorod.service:");
    if (m == NULL && st != 0)
        cr_skip_test("systemd-analyze security --offline is not supported:"
                     " %.200s", out);
    cr_assert_not_null(m, "no exposure level in:\n%s", out);
    double level = strtod(m + strlen("Overall exposure level for "
                                     "gorod.service:"), NULL);
    cr_expect_leq(level, 2.0, "exposure %.1f > 2.0:\n%s", level, out);
    free(out);
}
