/* test_link.c - a program built with `pkg-config --cflags --libs goro`
 * (tests/link/prog.c) binds __morestack to libgoro: its __morestack is the
 * forwarding stub from libgoro_morestack.a (a local symbol calling
 * goro_morestack, left undefined for libgoro.so), and none of libgcc's
 * segmented-stack machinery is linked in. Then it runs and its Gs grow. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_test.h"

static const char *prog(void)
{
    const char *p = getenv("GORO_LINKPROG");
    cr_assert_not_null(p, "GORO_LINKPROG is not set (run through make test)");
    return p;
}

Test(link, morestack_is_bound_to_libgoro_not_libgcc)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "nm %s", prog());
    char *out = test_command(cmd);
    cr_expect(strstr(out, " t __morestack\n") != NULL,
              "no local __morestack stub:\n%s", out);
    cr_expect(strstr(out, " U goro_morestack\n") != NULL,
              "__morestack does not forward to libgoro:\n%s", out);
    cr_expect(strstr(out, " U goro_morestack_non_split\n") != NULL);
    cr_expect(strstr(out, "__generic_morestack") == NULL,
              "libgcc's segmented stacks were linked in:\n%s", out);
    cr_expect(strstr(out, "__morestack_release_segments") == NULL);
}

Test(link, program_runs_and_its_stacks_grow, .timeout = 60)
{
    char *out = test_command(prog());
    cr_expect(strstr(out, "rc=0 ") != NULL, "%s", out);
    cr_expect(strstr(out, "same=1") != NULL, "%s", out);
    cr_expect(strstr(out, "grows=0 ") == NULL, "%s", out);
}

Test(link, program_uses_libgoro_shared_library)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "ldd %s", prog());
    char *out = test_command(cmd);
    cr_expect(strstr(out, "libgoro.so") != NULL, "%s", out);
}

/* gold rewrites the stack check of a function that calls code without
 * checks (libc, libgcc, jemalloc) to enter __morestack_non_split on every
 * call, which then demands the non-split headroom: the runtime's switch
 * and spawn paths must keep theirs (their rare calls into such code are
 * out of line). */
Test(link, the_switch_path_keeps_the_plain_stack_check)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "lib=$(ldd %s | awk '/libgoro/ { print $3 }') && "
             "objdump -d --no-show-raw-insn \"$lib\" | "
             "awk '/^[0-9a-f]+ <.*>:$/ { fn = $2; first = 1; next } "
             "first && NF > 1 { if ($2 == \"stc\") print fn; first = 0 }'",
             prog());
    char *out = test_command(cmd);
    static const char *hot[] = {
        "execute", "executenext", "schedule", "park_m", "gosched_m",
        "gopark", "goready", "newproc1", "goro_go", "goro_yield",
        "runqput", "runqputslow", "rsegpush", "goro_chan_send",
        "goro_chan_recv", "goro_select", "goro_read_deadline",
        "goro_write_deadline",
    };
    for (size_t i = 0; i < sizeof hot / sizeof hot[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "<%s>:", hot[i]);
        cr_expect(strstr(out, name) == NULL,
                  "%s enters __morestack_non_split on every call; the "
                  "functions that do:\n%s", hot[i], out);
    }
}

/* ---- every way a user builds a program ------------------------------------
 * tests/link/prog.c built in a scratch directory by each command line that
 * goro.h and the README allow, then run: its Gs grow and all agree. */

static void build_and_run(const char *build)
{
    const char *pc = getenv("GORO_PKG_CONFIG_PATH");
    const char *src = getenv("GORO_SRCDIR");
    cr_assert(pc && src, "GORO_PKG_CONFIG_PATH or GORO_SRCDIR is not set "
              "(run through make test)");
    char dir[] = "/tmp/goro-build.XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd %s && cp %s/tests/link/prog.c . && "
             "export PKG_CONFIG_PATH=%s && { %s; } 2>&1 && ./prog; "
             "rc=$?; cd / && rm -rf %s; exit $rc",
             dir, src, pc, build, dir);
    char *out = test_command(cmd);
    cr_expect(strstr(out, "rc=0 ") != NULL && strstr(out, "same=1") != NULL,
              "%s:\n%s", build, out);
}

Test(build, gcc_in_one_line, .timeout = 120)
{
    build_and_run("gcc $(pkg-config --cflags --libs goro) prog.c -o prog");
}

Test(build, clang_in_one_line, .timeout = 120)
{
    build_and_run("clang $(pkg-config --cflags --libs goro) prog.c -o prog");
}

Test(build, gcc_in_two_steps, .timeout = 120)
{
    build_and_run("gcc $(pkg-config --cflags goro) -O2 -c prog.c && "
                  "gcc prog.o $(pkg-config --libs goro) -o prog");
}

Test(build, clang_in_two_steps, .timeout = 120)
{
    build_and_run("clang $(pkg-config --cflags goro) -O2 -c prog.c && "
                  "clang prog.o $(pkg-config --libs goro) -o prog");
}

/* The usual Makefile line, $(CC) $(CFLAGS) prog.c $(LDLIBS): -fsplit-stack
 * on the link line too, where gcc's driver adds --wrap=pthread_create. */
Test(build, compile_flags_on_the_link_line, .timeout = 120)
{
    build_and_run("gcc $(pkg-config --cflags goro) prog.c "
                  "$(pkg-config --libs goro) -o prog");
}

Test(build, make_builtin_rules, .timeout = 120)
{
    build_and_run("make -f /dev/null prog CFLAGS=\"$(pkg-config --cflags "
                  "goro)\" LDLIBS=\"$(pkg-config --libs goro)\"");
}

/* Linked without goro's stubs, libgcc's __morestack is the program's and
 * its constructor sets the main thread's guard: the runtime says so and
 * stops instead of running Gs on segmented stacks. */
Test(build, libgcc_morestack_is_refused_with_the_fix, .timeout = 120)
{
    const char *pc = getenv("GORO_PKG_CONFIG_PATH");
    const char *src = getenv("GORO_SRCDIR");
    cr_assert(pc && src);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "ulimit -c 0; d=$(mktemp -d) && cd $d && export PKG_CONFIG_PATH=%s && "
             "gcc -fsplit-stack -fuse-ld=gold $(pkg-config --cflags goro) "
             "%s/tests/link/prog.c -o prog -L$(pkg-config --variable=libdir "
             "goro) -Wl,-rpath,$(pkg-config --variable=libdir goro) -lgoro "
             "&& { ./prog 2>&1; echo status=$?; }; cd / && rm -rf $d",
             pc, src);
    char *out = test_command(cmd);
    cr_expect(strstr(out, "libgcc's __morestack") != NULL, "%s", out);
    cr_expect(strstr(out, "pkg-config --libs goro") != NULL, "%s", out);
    cr_expect(strstr(out, "status=0") == NULL, "%s", out);
}

/* ---- Gs that call libc (tests/link/libc.c) ---------------------------------
 * Each mode of each of the four builds (gcc and clang, -O0 and -O2). */

static const char *const libc_variants[] = {
    "gcc_O0", "gcc_O2", "clang_O0", "clang_O2",
};

static void run_libc(const char *mode, const char *env)
{
    const char *base = getenv("GORO_LIBCPROG");
    cr_assert_not_null(base, "GORO_LIBCPROG is not set (run through make test)");
    for (size_t i = 0; i < sizeof libc_variants / sizeof libc_variants[0];
         i++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "%s %s_%s %s 2>&1", env, base,
                 libc_variants[i], mode);
        char *out = test_command(cmd);
        cr_expect(strstr(out, "\nok\n") != NULL || strncmp(out, "ok\n", 3) == 0,
                  "%s:\n%s", cmd, out);
    }
}

Test(libc, gs_that_call_libc_keep_their_small_stacks, .timeout = 120)
{
    run_libc("calls", "GORO_STACK_SCAN_INTERVAL=0");
}

Test(libc, values_survive_stacks_moved_inside_the_wrappers, .timeout = 120)
{
    run_libc("deep", "");
}

Test(libc, cgocall_runs_big_frames_on_the_threads_stack_not_the_gs,
     .timeout = 120)
{
    run_libc("cgocall", "GORO_STACK_SCAN_INTERVAL=0");
}

Test(libc, blocking_calls_return_in_full_and_free_the_p, .timeout = 120)
{
    run_libc("block", "GORO_PROCS=1");
}

/* Under an address-space limit too small for the runtime's first threads
 * (`ulimit -v`), goro_run returns -ENOMEM and says why; jemalloc used to
 * crash on the new thread instead. */
Test(link, a_small_address_space_limit_is_refused_with_a_message,
     .timeout = 60)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "(ulimit -c 0; ulimit -v 32000; %s) 2>&1; "
             "echo status=$?", prog());
    char *out = test_command(cmd);
    cr_expect(strstr(out, "goro: the address-space limit") != NULL, "%s",
              out);
    cr_expect(strstr(out, "rc=-12 ") != NULL, "%s", out);
    cr_expect(strstr(out, "status=1\n") != NULL, "%s", out);
}

/* Between a limit that is refused and one that is plenty, every limit
 * either runs the program or is refused with the message: none crashes
 * (limits from 41 to 49 MiB used to pass the check and die inside
 * jemalloc on a new thread). */
Test(link, no_address_space_limit_crashes_the_start, .timeout = 120)
{
    for (int kib = 36000; kib <= 72000; kib += 500) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "(ulimit -c 0; ulimit -v %d; %s) 2>&1; "
                 "echo status=$?", kib, prog());
        char *out = test_command(cmd);
        bool ran = strstr(out, "status=0\n") != NULL;
        bool refused = strstr(out, "status=1\n") != NULL &&
                       strstr(out, "goro: the address-space limit") != NULL;
        cr_expect(ran || refused, "ulimit -v %d:\n%s", kib, out);
    }
}
