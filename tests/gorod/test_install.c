/* test_install.c - `make install DESTDIR=...` puts every piece where the
 * unit and the configuration expect it; the installed gorod runs from
 * there and checks the installed configuration; systemd accepts the units
 * (`systemd-analyze verify`: the service and its socket) and scores the
 * service's hardening at most 2.0. The library is versioned (SONAME
 * libgoro.so.0, the links libgoro.so.0 and libgoro.so), a program and a
 * plugin build against what is installed (goro.pc, the headers and the
 * example plugins' helpers), the configuration is under $(PREFIX)/etc
 * unless SYSCONFDIR says otherwise, and the man pages are well-formed,
 * gorod.yaml(5) naming every knob of the runtime's table. */
#include <goro.h>

#include "admutil.h"
#include "config.h" /* gorod_key_at */

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
        "usr/local/lib/libgoro.so", "usr/local/lib/libgoro.so.0",
        "usr/local/lib/libgoro.so.0.1.0", "usr/local/lib/libgoro_morestack.a",
        "usr/local/lib/libgoro_ssl.so", "usr/local/lib/libgoro_hiredis.so",
        "usr/local/include/goro.h", "usr/local/include/goro/plugin.h",
        "usr/local/include/goro/ssl.h", "usr/local/include/goro/hiredis.h",
        "usr/local/include/goro/plugins/tcpserver.h",
        "usr/local/include/goro/plugins/args.h",
        "usr/local/lib/pkgconfig/goro.pc",
        "usr/local/lib/pkgconfig/goro-ssl.pc",
        "usr/local/lib/goro/plugins/echo.so",
        "usr/local/lib/goro/plugins/httphello.so",
        "usr/local/lib/goro/plugins/stackwave.so",
        "usr/local/lib/goro/plugins/spinner.so",
        "usr/local/lib/systemd/system/gorod.service",
        "usr/local/lib/systemd/system/gorod.socket",
        "usr/local/etc/goro/gorod.yaml",
        "usr/local/share/man/man8/gorod.8",
        "usr/local/share/man/man8/goroctl.8",
        "usr/local/share/man/man5/gorod.yaml.5",
        "usr/local/share/man/man3/goro.3",
        "usr/local/share/goro/goro-gdb.py",
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
                    "%s/usr/local/etc/goro/gorod.yaml > %s/check.out", dest,
                    dest, dest), 0);
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
    cr_assert_eq(sh("sed -e 's|/usr/local|%s/usr/local|g' "
                    "%s/usr/local/lib/systemd/system/gorod.service > "
                    "%s/gorod.service", dest, dest, dest), 0);
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

/* The installed gorod uses the installed libgoro.so.0 ($ORIGIN/../lib),
 * not the build tree's. */
Test(install, gorod_links_the_installed_libgoro, .timeout = 300,
     .fini = cleanup)
{
    install();
    cr_assert_eq(sh("ldd %s/usr/local/bin/gorod | grep -q "
                    "'libgoro.so.0 => %s/usr/local/bin/../lib/libgoro.so.0'",
                    dest, dest), 0,
                 "gorod does not find libgoro.so through $ORIGIN/../lib");
}

/* A second install keeps an edited configuration and writes the new one
 * beside it as gorod.yaml.default. */
Test(install, a_second_install_keeps_the_configuration, .timeout = 300,
     .fini = cleanup)
{
    install();
    cr_assert_eq(sh("echo '# edited' >> %s/usr/local/etc/goro/gorod.yaml",
                    dest), 0);
    cr_assert_eq(sh("make -s -C %s install PREFIX=/usr/local DESTDIR=%s "
                    "> %s/make2.log 2>&1", getenv("GOROD_SRCDIR"), dest,
                    dest), 0);
    cr_assert_eq(sh("grep -q '^# edited' %s/usr/local/etc/goro/gorod.yaml",
                    dest), 0, "the edited configuration was overwritten");
    cr_assert_eq(sh("test -f %s/usr/local/etc/goro/gorod.yaml.default",
                    dest), 0);
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

/* slurpf: adm_slurp of the file dest/NAME. */
static char *slurpf(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dest, name);
    return adm_slurp(path);
}

/* libgoro.so.0.1.0 is the file, SONAME libgoro.so.0; libgoro.so.0 and
 * libgoro.so are links to it (the adapters' the same, which find it by
 * $ORIGIN), and what is installed needs libgoro.so.0. */
Test(install, the_library_is_versioned_by_its_soname, .timeout = 300,
     .fini = cleanup)
{
    install();
    const char *libs[] = {"libgoro", "libgoro_ssl", "libgoro_hiredis"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        char path[256], link[256];
        struct stat st;
        snprintf(path, sizeof path, "%s/usr/local/lib/%s.so.0.1.0", dest,
                 libs[i]);
        cr_assert_eq(lstat(path, &st), 0, "%s is missing", path);
        cr_assert(S_ISREG(st.st_mode), "%s is not a file", path);
        const char *chain[][2] = {{".so.0", ".so.0.1.0"}, {".so", ".so.0"}};
        for (int j = 0; j < 2; j++) {
            char want[64];
            snprintf(path, sizeof path, "%s/usr/local/lib/%s%s", dest,
                     libs[i], chain[j][0]);
            snprintf(want, sizeof want, "%s%s", libs[i], chain[j][1]);
            ssize_t n = readlink(path, link, sizeof link - 1);
            cr_assert_gt(n, 0, "%s is not a link", path);
            link[n] = '\0';
            cr_assert_str_eq(link, want, "%s -> %s", path, link);
        }
        cr_assert_eq(sh("readelf -d %s/usr/local/lib/%s.so.0.1.0 | grep -q "
                        "'(SONAME).*\\[%s\\.so\\.0\\]'", dest, libs[i],
                        libs[i]), 0, "%s: the SONAME is not %s.so.0",
                     libs[i], libs[i]);
    }
    /* The adapters find libgoro.so.0 beside them ($ORIGIN), not in the
     * build tree. */
    cr_assert_eq(sh("readelf -d %s/usr/local/lib/libgoro_ssl.so.0.1.0 | "
                    "grep '(RUNPATH)' | grep -q '\[\$ORIGIN\]'", dest), 0,
                 "libgoro_ssl.so's runpath is not $ORIGIN");
    const char *users[] = {"usr/local/bin/gorod",
                           "usr/local/lib/libgoro_ssl.so.0.1.0",
                           "usr/local/lib/goro/plugins/echo.so"};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
        cr_assert_eq(sh("readelf -d %s/%s | grep -q "
                        "'(NEEDED).*\\[libgoro\\.so\\.0\\]'", dest, users[i]),
                     0, "%s does not need libgoro.so.0", users[i]);
}

/* A program built with the installed goro.pc (PKG_CONFIG_PATH into
 * DESTDIR, PKG_CONFIG_SYSROOT_DIR before its paths, an rpath to the
 * installed lib directory first) runs with the installed libgoro.so.0. */
Test(install, a_program_built_with_the_installed_goro_pc_runs,
     .timeout = 300, .fini = cleanup)
{
    if (sh("command -v pkg-config >/dev/null") != 0)
        cr_skip_test("pkg-config is not installed");
    install();
    cr_assert_eq(sh("cd %s && export PKG_CONFIG_PATH=%s/usr/local/lib/pkgconfig "
                    "PKG_CONFIG_SYSROOT_DIR=%s && "
                    "cc -std=gnu11 -O2 $(pkg-config --cflags goro) "
                    "-c %s/tests/link/prog.c -o prog.o > prog.log 2>&1 && "
                    "cc prog.o -Wl,-rpath,%s/usr/local/lib "
                    "$(pkg-config --libs goro) -o prog >> prog.log 2>&1",
                    dest, dest, dest, getenv("GOROD_SRCDIR"), dest),
                 0, "%s", slurpf("prog.log"));
    cr_assert_eq(sh("ldd %s/prog | grep -q "
                    "'libgoro.so.0 => %s/usr/local/lib/libgoro.so.0 '", dest,
                    dest), 0, "prog does not run with the installed library");
    cr_assert_eq(sh("%s/prog > %s/prog.out 2>&1", dest, dest), 0, "%s",
                 slurpf("prog.out"));
    char *out = slurpf("prog.out");
    cr_assert_not_null(strstr(out, "rc=0 "), "%s", out);
    free(out);
}

/* The example plugins' helpers are installed headers: echo.c, with
 * <goro/plugins/tcpserver.h> for "tcpserver.h", builds from the installed
 * tree alone into a plugin that the installed gorod accepts. */
Test(install, the_plugin_helpers_build_a_plugin, .timeout = 300,
     .fini = cleanup)
{
    if (sh("command -v pkg-config >/dev/null") != 0)
        cr_skip_test("pkg-config is not installed");
    install();
    cr_assert_eq(sh("cd %s && sed 's|\"tcpserver.h\"|<goro/plugins/tcpserver.h>|' "
                    "%s/plugins/echo.c > myecho.c && "
                    "export PKG_CONFIG_PATH=%s/usr/local/lib/pkgconfig "
                    "PKG_CONFIG_SYSROOT_DIR=%s && "
                    "cc -fPIC -std=gnu11 -Wall -Werror -O2 "
                    "$(pkg-config --cflags goro) -c myecho.c -o myecho.o "
                    "> myecho.log 2>&1 && cc -shared myecho.o "
                    "$(pkg-config --libs goro) -o myecho.so >> myecho.log 2>&1",
                    dest, getenv("GOROD_SRCDIR"), dest, dest),
                 0, "%s", slurpf("myecho.log"));
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s/myecho.yaml", dest);
    char text[512];
    snprintf(text, sizeof text,
             "admin:\n  socket: \"\"\nmetrics:\n  listen: \"\"\n"
             "plugins:\n  - name: myecho\n    path: %s/myecho.so\n"
             "    args: \"port=1\"\n", dest);
    adm_writefile(cfg, text);
    cr_assert_eq(sh("%s/usr/local/bin/gorod --check --config %s > "
                    "%s/myecho.out 2>&1", dest, cfg, dest), 0, "%s",
                 slurpf("myecho.out"));
}

/* SYSCONFDIR is $(PREFIX)/etc: the installed unit and the installed
 * gorod's default --config name $(PREFIX)/etc/goro/gorod.yaml, and nothing
 * is installed in DESTDIR/etc. PREFIX=/usr puts it in /etc, SYSCONFDIR=
 * wherever it says (what make would do, make -n: the tree is not rebuilt
 * for another PREFIX). */
Test(install, the_configuration_follows_sysconfdir, .timeout = 300,
     .fini = cleanup)
{
    install();
    const char *want = "/usr/local/etc/goro/gorod.yaml";
    cr_assert_eq(sh("grep -q '^ExecStart=/usr/local/bin/gorod --config %s ' "
                    "%s/usr/local/lib/systemd/system/gorod.service", want,
                    dest), 0, "the unit does not name %s", want);
    cr_assert_eq(sh("%s/usr/local/bin/gorod --help | tr -s ' \\n' ' ' | "
                    "grep -q 'else %s'", dest, want), 0,
                 "gorod's default configuration is not %s", want);
    cr_assert_neq(access(strcat(strcpy((char[128]){0}, dest), "/etc"), F_OK),
                  0, "something was installed in DESTDIR/etc");
    const char *src = getenv("GOROD_SRCDIR");
    struct {
        const char *args, *conf, *def;
    } cases[] = {
        {"PREFIX=/usr", "/etc/goro/gorod.yaml.default",
         "-DGOROD_SYSCONFDIR='\"/etc\"'"},
        {"PREFIX=/opt/goro", "/opt/goro/etc/goro/gorod.yaml.default",
         "-DGOROD_SYSCONFDIR='\"/opt/goro/etc\"'"},
        {"PREFIX=/usr/local SYSCONFDIR=/srv/conf",
         "/srv/conf/goro/gorod.yaml.default",
         "-DGOROD_SYSCONFDIR='\"/srv/conf\"'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(sh("make -n -C %s install %s DESTDIR=/x > %s/dry.out "
                        "2>&1", src, cases[i].args, dest), 0, "%s",
                     slurpf("dry.out"));
        char *dry = slurpf("dry.out");
        char conf[128];
        snprintf(conf, sizeof conf, " /x%s", cases[i].conf);
        cr_expect_not_null(strstr(dry, conf), "%s: no %s", cases[i].args,
                           conf);
        cr_expect_not_null(strstr(dry, cases[i].def), "%s: gorod.c is not "
                           "built with %s", cases[i].args, cases[i].def);
        free(dry);
    }
}

static const char *const manpages[] = {
    "man8/gorod.8", "man8/goroctl.8", "man5/gorod.yaml.5", "man3/goro.3",
};

/* Every page renders without a warning (groff -ww, and man --warnings
 * when man-db is there), has a NAME line apropos reads (lexgrog), and man
 * finds it in the installed tree. */
Test(install, the_man_pages_are_well_formed, .timeout = 300,
     .fini = cleanup)
{
    if (sh("command -v groff >/dev/null") != 0)
        cr_skip_test("groff is not installed (groff-base)");
    install();
    bool have_man = sh("command -v man >/dev/null") == 0;
    bool have_lexgrog = sh("command -v lexgrog >/dev/null") == 0;
    for (size_t i = 0; i < sizeof manpages / sizeof manpages[0]; i++) {
        char page[256];
        snprintf(page, sizeof page, "%s/usr/local/share/man/%s", dest,
                 manpages[i]);
        cr_assert_eq(sh("groff -man -Tutf8 -ww -z %s > %s/groff.out 2>&1",
                        page, dest), 0, "%s", slurpf("groff.out"));
        char *w = slurpf("groff.out");
        cr_assert_str_empty(w, "groff -ww %s:\n%s", manpages[i], w);
        free(w);
        if (have_man) {
            cr_assert_eq(sh("MANWIDTH=80 man --warnings -l %s 2>%s/man.err "
                            "> %s/man.out", page, dest, dest), 0);
            char *e = slurpf("man.err");
            cr_assert_str_empty(e, "man --warnings -l %s:\n%s", manpages[i],
                                e);
            free(e);
            char *o = slurpf("man.out");
            cr_assert_not_null(strstr(o, "NAME"), "%s:\n%s", manpages[i], o);
            free(o);
        }
        if (have_lexgrog)
            cr_assert_eq(sh("lexgrog %s > /dev/null", page), 0,
                         "%s: no NAME line that apropos reads", manpages[i]);
    }
    if (have_man)
        cr_assert_eq(sh("man -M %s/usr/local/share/man -w 5 gorod.yaml "
                        "> /dev/null", dest), 0,
                     "man does not find gorod.yaml(5) in share/man");
}

/* gorod.yaml(5) has a tagged paragraph for every knob of the runtime's
 * table (goro_config_knob): its key, then its variable, and one for every
 * key of gorod's own table (gorod_key_at); the rendered page shows each
 * key and the installed path of the file. */
Test(install, gorod_yaml_5_names_every_knob_of_the_table, .timeout = 300,
     .fini = cleanup)
{
    install();
    char *roff = slurpf("usr/local/share/man/man5/gorod.yaml.5");
    const goro_knob *k;
    size_t i;
    for (i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        char want[256];
        snprintf(want, sizeof want, ".TP\n.B %s\n", k->key);
        const char *at = strstr(roff, want);
        cr_expect_not_null(at, "gorod.yaml(5) has no paragraph for %s",
                           k->key);
        if (at == NULL)
            continue;
        const char *next = strstr(at + 1, ".TP\n");
        snprintf(want, sizeof want, "\n.B %s\n", k->env);
        const char *env = strstr(at, want);
        cr_expect(env != NULL && (next == NULL || env < next),
                  "gorod.yaml(5): %s does not name %s", k->key, k->env);
    }
    cr_assert_gt(i, 10);
    const gorod_key *g;
    for (i = 0; (g = gorod_key_at(i)) != NULL; i++) {
        char want[256];
        snprintf(want, sizeof want, ".TP\n.B %s\n", g->pub.key);
        cr_expect_not_null(strstr(roff, want),
                           "gorod.yaml(5) has no paragraph for %s",
                           g->pub.key);
    }
    cr_assert_gt(i, 5);
    free(roff);
    if (sh("command -v groff >/dev/null") != 0)
        return;
    cr_assert_eq(sh("groff -man -Tascii -P-cbou "
                    "%s/usr/local/share/man/man5/gorod.yaml.5 > %s/page.txt "
                    "2>/dev/null", dest, dest), 0);
    char *page = slurpf("page.txt");
    for (i = 0; (k = goro_config_knob(i)) != NULL; i++) {
        char want[128];
        snprintf(want, sizeof want, "       %s\n", k->key);
        cr_expect_not_null(strstr(page, want), "the rendered gorod.yaml(5) "
                           "has no %s", k->key);
    }
    cr_expect_not_null(strstr(page, "/usr/local/etc/goro/gorod.yaml"),
                       "%s", page);
    free(page);
}
