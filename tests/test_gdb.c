/*
 * test_gdb.c - scripts/goro-gdb.py in a real gdb (batch mode), on a live
 * process and on its core file: tests/link/gdbprog.c, built with the
 * pkg-config flags, parks Gs in known places (GORO_GDBPROG names it).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export_test.h"

/* The ids of gdbprog's parked Gs: it prints them with "ready". */
static long gid_recv, gid_send, gid_sleep, gid_new;

static const char *gdb_commands(void)
{
    static char cmds[256];
    snprintf(cmds, sizeof cmds,
             "-ex 'info goroutines' -ex 'goroutine %ld bt' "
             "-ex 'goroutine all bt' -ex 'goro chan gdb_chan' "
             "-ex 'goro chan gdb_full'",
             gid_recv);
    return cmds;
}

static void expect_goroutines(const char *out)
{
    char want[128];
    snprintf(want, sizeof want, "%6ld chan receive, 2048-byte stack",
             gid_recv);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(want, sizeof want, "%6ld chan send, 2048-byte stack", gid_send);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(want, sizeof want, "%6ld sleep, 2048-byte stack", gid_sleep);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(want, sizeof want, "goroutine %ld [chan receive]:\n#0 ",
             gid_recv);
    const char *g2 = strstr(out, want);
    cr_assert_not_null(g2, "%s", out);
    cr_expect(strstr(g2, " in chanrecv ") != NULL, "%s", out);
    cr_expect(strstr(g2, " in parked_recv (") != NULL, "%s", out);
    cr_expect(strstr(out, " in parked_send (") != NULL, "%s", out);
    cr_expect(strstr(out, " parked_sleep (") != NULL, "%s", out);
    cr_expect(strstr(out, "tests/link/gdbprog.c:16\n") != NULL, "%s", out);
    /* A G that never ran has no switch frame to walk. */
    snprintf(want, sizeof want,
             "%6ld runnable, 2048-byte stack, not started (never_started)\n",
             gid_new);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(want, sizeof want,
             "goroutine %ld [runnable]:\n\tnot started: it will run "
             "never_started\n", gid_new);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(want, sizeof want,
             "chan gdb_chan: elemsize 4, capacity 0, queued 0\n"
             "  waiting to receive: goroutine %ld\n"
             "  waiting to send: none\n", gid_recv);
    cr_expect(strstr(out, want) != NULL, "%s", out);
    snprintf(want, sizeof want,
             "chan gdb_full: elemsize 4, capacity 1, queued 1\n"
             "  waiting to receive: none\n"
             "  waiting to send: goroutine %ld\n", gid_send);
    cr_expect(strstr(out, want) != NULL, "%s", out);
}

/* run_gdbprog runs gdbprog, looks at it with gdb (load: how gdb gets the
 * script, before the commands) live, dumps a core and looks at that. */
static void run_gdbprog(const char *load)
{
    const char *prog = getenv("GORO_GDBPROG");
    cr_assert(prog != NULL, "run through make test");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(prog, prog, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char ready[64] = {0};
    cr_assert_gt(read(fds[0], ready, sizeof ready - 1), 0);
    cr_assert_eq(sscanf(ready, "ready %ld %ld %ld %ld", &gid_recv,
                        &gid_send, &gid_sleep, &gid_new), 4, "%s", ready);

    char core[64], cmd[2048];
    snprintf(core, sizeof core, "/tmp/goro-gdbprog.%d.core", (int)pid);
    snprintf(cmd, sizeof cmd,
             "gdb -batch -nx -p %d %s %s -ex 'generate-core-file %s' 2>&1",
             (int)pid, load, gdb_commands(), core);
    char *live = strdup(test_command(cmd));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    expect_goroutines(live);
    free(live);

    snprintf(cmd, sizeof cmd, "gdb -batch -nx %s %s %s %s 2>&1", load, prog,
             core, gdb_commands());
    char *dead = test_command(cmd);
    unlink(core);
    expect_goroutines(dead);
}

Test(gdb, goro_gdb_py_shows_every_g_live_and_in_a_core, .timeout = 120)
{
    const char *src = getenv("GORO_SRCDIR");
    cr_assert(src != NULL, "run through make test");
    char load[1024];
    snprintf(load, sizeof load, "-ex 'source %s/scripts/goro-gdb.py'", src);
    run_gdbprog(load);
}

/* Without a source line: gdb runs the copy of the script in libgoro.so's
 * .debug_gdb_scripts section when the library's path is in its auto-load
 * safe-path (-nx: no ~/.gdbinit, nothing else loads it). */
Test(gdb, libgoro_so_loads_the_script_into_gdb_by_itself, .timeout = 120)
{
    run_gdbprog("-iex 'set auto-load safe-path /'");
}
