/* testutil.c - helpers shared by the test files. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export_test.h"

int test_run(int procs, goro_fn fn, void *arg)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", procs);
    setenv("GORO_PROCS", buf, 1);
    return goro_run(fn, arg);
}

/* A recursion n levels deep with a ~240-byte frame at every level (a
 * volatile local read back after the deeper call keeps each frame real). */
long test_recurse(int n)
{
    volatile char pad[200];
    pad[0] = (char)n;
    if (n == 0)
        return 0;
    long r = test_recurse(n - 1) + 1;
    return r + (pad[0] != (char)n);
}

/* Run fn(arg) as the main G of a runtime in a child process (with
 * GORO_PROCS=procs), its stderr captured into a static buffer; *status
 * gets the child's wait status. For runs that end the process. */
char *test_run_child(int procs, goro_fn fn, void *arg, int *status)
{
    static char buf[16384];
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        test_run(procs, fn, arg);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 &&
           (n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fds[0]);
    cr_assert_eq(waitpid(pid, status, 0), pid);
    return buf;
}

/* Run a shell command, which must exit 0; its output (stdout and what it
 * redirects) in a static buffer. */
char *test_command(const char *cmd)
{
    static char buf[65536];
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "cannot run %s", cmd);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    int st = pclose(f);
    cr_assert_eq(st, 0, "%s exited with status %d:\n%s", cmd, st, buf);
    return buf;
}

/* Run fn(arg) as the main G of a runtime in a child process and copy the
 * child's *result (size bytes, filled in by fn) back into it: for a
 * measurement that may need another try in the same test. */
void test_run_forked(int procs, goro_fn fn, void *arg, void *result,
                     size_t size)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        int rc = test_run(procs, fn, arg);
        _exit(rc == 0 && write(fds[1], result, size) == (ssize_t)size ? 0
                                                                     : 1);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got < size &&
           (n = read(fds[0], (char *)result + got, size - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == size,
              "the child run failed (status %#x)", status);
}

uint64_t test_gs_waiting(void)
{
    goro_metrics m = {.size = sizeof m};
    goro_metrics_get(&m);
    return m.gs_waiting;
}

void test_wait_waiting(uint64_t n)
{
    for (int i = 0; i < 10000 && test_gs_waiting() < n; i++)
        goro_sleep_ns(1000000);
}

void test_assert_ms_end(void)
{
    for (int i = 0;
         i < 1000 && __atomic_load_n(&sched.nmexited, __ATOMIC_ACQUIRE) !=
                          sched.mnext;
         i++)
        usleep(10000);
    cr_assert_eq(sched.nmexited, sched.mnext,
                 "%d of %d Ms ended", sched.nmexited, sched.mnext);
}

int64_t test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* test_runqwait: the time the process's threads have spent runnable but not
 * running (the second field of /proc/self/task/TID/schedstat, summed), in
 * ns, or 0 when it cannot be read: what other work on the machine took
 * from the runtime's threads. */
int64_t test_runqwait(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return 0;
    int64_t sum = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        unsigned long long run, wait;
        if (fscanf(f, "%llu %llu", &run, &wait) == 2)
            sum += (int64_t)wait;
        fclose(f);
    }
    closedir(d);
    return sum;
}

int test_portof(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}
