/* test_install.c - `make install DESTDIR=...` puts every piece where the
 * unit and the configuration expect it; the installed gorod runs from
 * there and checks the installed configuration; systemd accepts the units
 * (`systemd-analyze verify`: the service and its socket) and scores the
 * service's hardening at most 2.0. */
#include "admutil.h"

static char dest[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void install(void)
{
    const char *src = getenv("GOROD_SRCDIR");
    if (src == NULL)
        cr_skip_test("GOROD_SRCDIR is not set (make test sets it)");
    snprintf(dest, sizeof dest, "/tmp/gorod-install-XXXXXX");
    cr_assert(mkdtemp(dest) != NULL);
    cr_assert_eq(sh("make -s -C %s install PREFIX=/usr/local DESTDIR=%s "
                    "> %s/make.log 2>&1", src, dest, dest),
                 0, "make install failed:\n%s",
                 adm_slurp(strcat(strcpy((char[128]){0}, dest), "/make.log")));
}

static void cleanup(void)
{
    if (dest[0])
        sh("rm -rf %s", dest);
}

Test(install, puts_every_piece_in_place, .timeout = 300, .fini = cleanup)
{
    install();
    const char *files[] = {
        "usr/local/bin/gorod", "usr/local/bin/goroctl",
        "usr/local/lib/libgoro.so", "usr/local/lib/libgoro_morestack.a",
        "usr/local/include/goro.h", "usr/local/include/goro/plugin.h",
        "usr/local/lib/pkgconfig/goro.pc",
        "usr/local/lib/goro/plugins/echo.so",
        "usr/local/lib/goro/plugins/httphello.so",
        "usr/local/lib/goro/plugins/stackwave.so",
        "usr/local/lib/goro/plugins/spinner.so",
        "usr/local/lib/systemd/system/gorod.service",
        "usr/local/lib/systemd/system/gorod.socket",
        "etc/goro/gorod.yaml",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dest, files[i]);
        cr_assert_eq(access(path, R_OK), 0, "%s is missing", path);
    }
    /* The installed gorod finds the installed libgoro, and the installed
     * configuration names the installed plugins and socket. */
    cr_assert_eq(sh("%s/usr/local/bin/gorod --version | grep -q '^gorod '",
                    dest), 0);
    cr_assert_eq(sh("%s/usr/local/bin/gorod --check --config "
                    "%s/etc/goro/gorod.yaml > %s/check.out", dest, dest,
                    dest), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/check.out", dest);
    char *out = adm_slurp(path);
    cr_assert_not_null(strstr(out, "/usr/local/lib/goro/plugins/echo.so"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "/run/gorod/gorod.sock"), "%s", out);
    free(out);
}

Test(install, systemd_accepts_the_unit_and_its_hardening_scores_at_most_2,
     .timeout = 300, .fini = cleanup)
{
    if (sh("command -v systemd-analyze >/dev/null") != 0)
        cr_skip_test("systemd-analyze is not installed");
    install();
    /* verify wants the ExecStart binary to exist: point the unit at the
     * DESTDIR copy. */
    cr_assert_eq(sh("sed -e 's|/usr/local|%s/usr/local|g' -e "
                    "'s|/etc/goro|%s/etc/goro|g' "
                    "%s/usr/local/lib/systemd/system/gorod.service > "
                    "%s/gorod.service", dest, dest, dest, dest), 0);
    cr_assert_eq(sh("cp %s/usr/local/lib/systemd/system/gorod.socket %s/",
                    dest, dest), 0);
    cr_assert_eq(sh("systemd-analyze verify %s/gorod.socket %s/gorod.service "
                    "> %s/verify.out 2>&1", dest, dest, dest), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/verify.out", dest);
    char *v = adm_slurp(path);
    cr_assert_str_empty(v, "systemd-analyze verify:\n%s", v);
    free(v);
    if (sh("systemd-analyze security --offline=yes %s/gorod.service "
           "> %s/security.out 2>&1", dest, dest) != 0)
        cr_skip_test("this systemd-analyze has no --offline");
    snprintf(path, sizeof path, "%s/security.out", dest);
    char *s = adm_slurp(path);
    char *at = strstr(s, "Overall exposure level for gorod.service: ");
    cr_assert_not_null(at, "%s", s);
    double score = strtod(at + strlen("Overall exposure level for "
                                      "gorod.service: "), NULL);
    cr_assert_leq(score, 2.0, "%s", at);
    free(s);
}

/* The installed gorod uses the installed libgoro.so ($ORIGIN/../lib), not
 * the build tree's. */
Test(install, gorod_links_the_installed_libgoro, .timeout = 300,
     .fini = cleanup)
{
    install();
    cr_assert_eq(sh("ldd %s/usr/local/bin/gorod | grep -q "
                    "'%s/usr/local/bin/../lib/libgoro.so'", dest, dest), 0,
                 "gorod does not find libgoro.so through $ORIGIN/../lib");
}

/* A second install keeps an edited configuration and writes the new one
 * beside it as gorod.yaml.default. */
Test(install, a_second_install_keeps_the_configuration, .timeout = 300,
     .fini = cleanup)
{
    install();
    cr_assert_eq(sh("echo '# edited' >> %s/etc/goro/gorod.yaml", dest), 0);
    cr_assert_eq(sh("make -s -C %s install PREFIX=/usr/local DESTDIR=%s "
                    "> %s/make2.log 2>&1", getenv("GOROD_SRCDIR"), dest,
                    dest), 0);
    cr_assert_eq(sh("grep -q '^# edited' %s/etc/goro/gorod.yaml", dest), 0,
                 "the edited configuration was overwritten");
    cr_assert_eq(sh("test -f %s/etc/goro/gorod.yaml.default", dest), 0);
}

/* The installed goro.pc builds a plugin that carries the split-stack note
 * (PKG_CONFIG_SYSROOT_DIR puts the staging directory before its paths). */
Test(install, goro_pc_builds_a_split_stack_plugin, .timeout = 300,
     .fini = cleanup)
{
    if (sh("command -v pkg-config >/dev/null") != 0)
        cr_skip_test("pkg-config is not installed");
    install();
    cr_assert_eq(sh("cd %s && export PKG_CONFIG_PATH=%s/usr/local/lib/pkgconfig "
                    "PKG_CONFIG_SYSROOT_DIR=%s && "
                    "cc -fPIC -std=gnu11 -O2 $(pkg-config --cflags goro) "
                    "-c %s/tests/gorod/plugins/hello.c -o hello.o && "
                    "cc -shared hello.o $(pkg-config --libs goro) -o hello.so "
                    "> build.log 2>&1", dest, dest, dest,
                    getenv("GOROD_SRCDIR")), 0);
    cr_assert_eq(sh("readelf -SW %s/hello.so | grep -q "
                    "'\\.note\\.GNU-split-stack'", dest), 0,
                 "no .note.GNU-split-stack in a plugin built with goro.pc");
}
