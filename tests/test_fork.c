/* test_fork.c - a child made by fork() while the runtime runs has only the
 * thread that forked: its waits fail at once with -ECHILD (channels,
 * select, fd waits, goro_go), and any other wait stops it with a message
 * instead of hanging it for ever. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export_test.h"

static int results[5];
static int childstatus = -1;
static char childerr[4096];

static void nothing(void *arg)
{
    (void)arg;
}

static void forkmain(void *arg)
{
    (void)arg;
    goro_chan *c = goro_chan_new(sizeof(int), 0);
    int idle[2], res[2], err[2];
    cr_assert_eq(pipe(idle), 0);
    cr_assert_eq(pipe(res), 0);
    cr_assert_eq(pipe(err), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int r[5], v;
        r[0] = goro_chan_recv(c, &v);
        r[1] = goro_chan_send(c, &v);
        goro_select_case sc = {.c = c, .dir = GORO_RECV, .elem = &v};
        r[2] = goro_select(&sc, 1, 1);
        r[3] = goro_wait_fd(idle[0], POLLIN, 0);
        r[4] = (int)goro_go(nothing, NULL);
        if (write(res[1], r, sizeof r) != (ssize_t)sizeof r)
            _exit(3);
        dup2(err[1], 2);
        goro_sleep_ns(1000000);  /* stops the child with a message */
        _exit(4);
    }
    close(res[1]);
    close(err[1]);
    if (read(res[0], results, sizeof results) != (ssize_t)sizeof results)
        results[0] = 1;
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof childerr - 1 &&
           (k = read(err[0], childerr + n, sizeof childerr - 1 - n)) > 0)
        n += k;
    childerr[n] = '\0';
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    childstatus = st;
    goro_chan_free(c);
}

Test(fork, waits_in_a_forked_child_fail_instead_of_hanging, .timeout = 60)
{
    cr_assert_eq(test_run(2, forkmain, NULL), 0);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(results[i], -ECHILD, "call %d gave %d", i, results[i]);
    cr_expect(WIFSIGNALED(childstatus) && WTERMSIG(childstatus) == SIGABRT,
              "child status %#x:\n%s", childstatus, childerr);
    cr_expect_not_null(strstr(childerr, "in a child of fork()"), "%s",
                       childerr);
}
