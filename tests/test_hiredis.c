/* test_hiredis.c - goro's hiredis adapter (libgoro_hiredis.so) against a
 * real redis-server, started here as an operator starts it (its own
 * command line, a free loopback port and a Unix socket in a temporary
 * directory, no persistence) and stopped with SIGTERM. The client is
 * tests/link/hiredis.c, built with `pkg-config --cflags --libs goro
 * goro-hiredis` ($GORO_HIREDISPROG); it prints key=value results. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/read.h>  /* REDIS_REPLY_*: macros only */

#include "export_test.h"

static char dir[64] = "";
static char sockpath[100];
static int port;
static pid_t server = -1;

/* freeport: a loopback port nobody listens on now (the kernel's choice
 * for port 0; redis-server binds it a moment later). */
static int freeport(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    cr_assert_eq(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
    close(s);
    return ntohs(sin.sin_port);
}

/* ready: the server answers on its Unix socket and its TCP port. */
static int redis_ready(void)
{
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sockpath);
    int ok = connect(u, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(u);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ok = ok && connect(t, (struct sockaddr *)&sin, sizeof sin) == 0;
    close(t);
    return ok;
}

static void start_redis(void)
{
    strcpy(dir, "/tmp/goro-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(sockpath, sizeof sockpath, "%s/redis.sock", dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        port = freeport();
        char portstr[16];
        snprintf(portstr, sizeof portstr, "%d", port);
        server = fork();
        cr_assert_geq(server, 0);
        if (server == 0) {
            char log[128];
            snprintf(log, sizeof log, "%s/redis.log", dir);
            execlp("redis-server", "redis-server", "--port", portstr,
                   "--bind", "127.0.0.1", "--unixsocket", sockpath,
                   "--save", "", "--appendonly", "no", "--dir", dir,
                   "--logfile", log, (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 500; i++) {
            if (redis_ready())
                return;
            int st;
            if (waitpid(server, &st, WNOHANG) == server)
                break;  /* it exited: the port was taken meanwhile */
            usleep(10000);
        }
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    cr_assert_fail("redis-server did not start (see %s/redis.log)", dir);
}

static void stop_redis(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = -1;
    }
    if (dir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
}

static const char *prog(void)
{
    const char *p = getenv("GORO_HIREDISPROG");
    cr_assert_not_null(p, "GORO_HIREDISPROG is not set (run through make test)");
    return p;
}

static long field(const char *out, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(out, pat);
    cr_assert_not_null(p, "no %s in: %s", key, out);
    return atol(p + strlen(pat));
}

static void roundtrips(const char *network, const char *address, int gs,
                       int rounds, int conns)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s roundtrips %s %s %d %d %d 2>&1", prog(),
             network, address, gs, rounds, conns);
    char *out = test_command(cmd);
    cr_assert(strstr(out, "rc=0 ") != NULL, "%s", out);
    cr_expect_eq(field(out, "ok"), (long)gs * rounds, "%s", out);
    cr_expect_eq(field(out, "mismatches"), 0, "%s", out);
    cr_expect_eq(field(out, "errors"), 0, "%s", out);
    cr_expect_eq(field(out, "dbsize"), gs + 1, "%s", out); /* + total */
    cr_expect_eq(field(out, "total"), (long)gs * rounds, "%s", out);
    /* hiredis ran on the threads' stacks (goro_cgocall): a G that called
     * it on its own would have grown to 32 KiB for the non-split headroom
     * (and its 16 KiB read buffer). */
    cr_expect_lt(field(out, "maxstack"), 32768, "%s", out);
}

TestSuite(hiredis, .init = start_redis, .fini = stop_redis);

Test(hiredis, a_thousand_gs_on_one_tcp_connection_lose_no_reply,
     .timeout = 120)
{
    char addr[64];
    snprintf(addr, sizeof addr, "localhost:%d", port);
    roundtrips("tcp", addr, 1000, 10, 1);
}

Test(hiredis, a_thousand_gs_on_eight_unix_socket_connections_lose_no_reply,
     .timeout = 120)
{
    roundtrips("unix", sockpath, 1000, 10, 8);
}

static void errors(const char *network, const char *address)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s errors %s %s 2>&1", prog(), network,
             address);
    char *out = test_command(cmd);
    cr_assert(strstr(out, "rc=0 ") != NULL, "%s", out);
    cr_expect_eq(field(out, "refused"), -ECONNREFUSED, "%s", out);
    cr_expect_eq(field(out, "unknown"), -ENOENT, "%s", out);
    cr_expect_eq(field(out, "badnet"), -EINVAL, "%s", out);
    /* The deadline ended the wait (the server's BLPOP timeout, 1 s, would
     * have given a nil reply), and not before it passed. */
    cr_expect_eq(field(out, "late"), -ETIMEDOUT, "%s", out);
    cr_expect_geq(field(out, "waited_ms"), 100, "%s", out);
    cr_expect_eq(field(out, "pong"), 1, "%s", out);
    cr_expect_eq(field(out, "errtype"), REDIS_REPLY_ERROR, "%s", out);
    cr_expect_eq(field(out, "closed"), -ECONNRESET, "%s", out);
    cr_expect_eq(field(out, "killed"), 1, "%s", out);
    cr_expect_eq(field(out, "after"), -ENOTCONN, "%s", out);
    cr_expect_eq(field(out, "leaked"), 0, "%s", out);
}

Test(hiredis, deadlines_server_errors_close_and_a_killed_connection_over_tcp,
     .timeout = 60)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    errors("tcp", addr);
}

Test(hiredis, deadlines_server_errors_close_and_a_killed_connection_over_unix,
     .timeout = 60)
{
    errors("unix", sockpath);
}
