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

#define GDB_COMMANDS                                                      \
    "-ex 'info goroutines' "                                              \
    "-ex 'goroutine 2 bt' -ex 'goroutine all bt' -ex 'goro chan gdb_chan' " \
    "-ex 'goro chan gdb_full'"

static void expect_goroutines(const char *out)
{
    cr_expect(strstr(out, "     2 chan receive, 2048-byte stack") != NULL,
              "%s", out);
    cr_expect(strstr(out, "     3 chan send, 2048-byte stack") != NULL, "%s",
              out);
    cr_expect(strstr(out, "     4 sleep, 2048-byte stack") != NULL, "%s", out);
    const char *g2 = strstr(out, "goroutine 2 [chan receive]:\n#0 ");
    cr_assert_not_null(g2, "%s", out);
    cr_expect(strstr(g2, " in chanrecv ") != NULL, "%s", out);
    cr_expect(strstr(g2, " in parked_recv (") != NULL, "%s", out);
    cr_expect(strstr(out, " in parked_send (") != NULL, "%s", out);
    cr_expect(strstr(out, " parked_sleep (") != NULL, "%s", out);
    cr_expect(strstr(out, "tests/link/gdbprog.c:14\n") != NULL, "%s", out);
    cr_expect(strstr(out, "chan gdb_chan: elemsize 4, capacity 0, queued 0\n"
                          "  waiting to receive: goroutine 2\n"
                          "  waiting to send: none\n") != NULL, "%s", out);
    cr_expect(strstr(out, "chan gdb_full: elemsize 4, capacity 1, queued 1\n"
                          "  waiting to receive: none\n"
                          "  waiting to send: goroutine 3\n") != NULL, "%s",
              out);
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
    char ready[16] = {0};
    cr_assert_gt(read(fds[0], ready, sizeof ready - 1), 0);
    cr_assert_str_eq(ready, "ready\n");

    char core[64], cmd[2048];
    snprintf(core, sizeof core, "/tmp/goro-gdbprog.%d.core", (int)pid);
    snprintf(cmd, sizeof cmd,
             "gdb -batch -nx -p %d %s " GDB_COMMANDS
             " -ex 'generate-core-file %s' 2>&1", (int)pid, load, core);
    char *live = strdup(test_command(cmd));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    expect_goroutines(live);
    free(live);

    snprintf(cmd, sizeof cmd, "gdb -batch -nx %s %s %s " GDB_COMMANDS " 2>&1",
             load, prog, core);
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
