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
        "execute", "schedule", "park_m", "gosched_m", "gopark", "goready",
        "newproc1", "goro_go", "goro_yield", "goro_chan_send",
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
