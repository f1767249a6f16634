/* test_rediscount.c - the example plugin that uses Redis through goro's
 * hiredis adapter (plugins/rediscount.c), run by the real gorod against a
 * real redis-server on a Unix socket in the test's directory: answers in
 * order on one connection, 50 clients at once counting one name with none
 * lost, and a start refused by name when Redis is not there. */
#include "admutil.h"

#include <pthread.h>

static pid_t redis = -1;

static void start_redis(const adm_daemon *d, char *sock, size_t socksz)
{
    snprintf(sock, socksz, "%s/redis.sock", d->dir);
    redis = fork();
    cr_assert_geq(redis, 0);
    if (redis == 0) {
        char log[192];
        snprintf(log, sizeof log, "%s/redis.log", d->dir);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
               sock, "--save", "", "--appendonly", "no", "--dir", d->dir,
               "--logfile", log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        int fd = adm_unix_connect(sock);
        if (fd >= 0) {
            close(fd);
            return;
        }
        adm_sleep_ms(10);
    }
    cr_assert_fail("redis-server did not start");
}

static void stop_redis(void)
{
    if (redis > 0) {
        kill(redis, SIGTERM);
        waitpid(redis, NULL, 0);
        redis = -1;
    }
}

static void run_gorod(adm_daemon *d, int port, const char *redis_addr)
{
    const char *dir = getenv("GOROD_PLUGINS");
    if (dir == NULL)
        cr_skip_test("GOROD_PLUGINS is not set (make test sets it)");
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n  level: info\n  target: stderr\n"
                       "admin:\n  socket: %s\n  mode: 0600\n"
                       "metrics:\n  listen: \"\"\n"
                       "status_interval: 0\n"
                       "plugins:\n"
                       "  - name: rediscount\n"
                       "    path: %s/rediscount.so\n"
                       "    args: \"port=%d redis=%s\"\n",
                       d->sock, dir, port, redis_addr) > 0);
    adm_writefile(d->conf, text);
    free(text);
    adm_spawn(d);
    adm_wait_ready(d);
}

/* ask sends lines and reads back as many answer lines. */
static void ask(int fd, const char *lines, char *out, size_t outsz)
{
    size_t want = 0;
    for (const char *p = lines; *p; p++)
        want += *p == '\n';
    cr_assert_eq(write(fd, lines, strlen(lines)), (ssize_t)strlen(lines));
    size_t have = 0, got = 0;
    while (got < want && have < outsz - 1) {
        ssize_t n = read(fd, out + have, outsz - 1 - have);
        cr_assert_gt(n, 0, "the plugin closed the connection");
        for (ssize_t i = 0; i < n; i++)
            got += out[have + i] == '\n';
        have += (size_t)n;
    }
    out[have] = '\0';
}

static int port;

/* client: 20 lines "shared", each answer read before the next line
 * (no Criterion asserts off the test's thread). */
static void *client(void *arg)
{
    int fd = adm_tcp_connect(port);
    if (fd < 0)
        return (void *)1;
    for (int i = 0; i < 20; i++) {
        char out[64];
        size_t have = 0;
        if (write(fd, "shared\n", 7) != 7)
            return (void *)2;
        while (have == 0 || out[have - 1] != '\n') {
            ssize_t n = read(fd, out + have, sizeof out - 1 - have);
            if (n <= 0)
                return (void *)3;
            have += (size_t)n;
        }
        out[have] = '\0';
        if (atol(out) <= 0)
            return (void *)4;
    }
    close(fd);
    return NULL;
}

Test(rediscount, counts_names_in_redis_for_many_clients_at_once,
     .timeout = 120, .fini = stop_redis)
{
    adm_daemon d;
    adm_init(&d, "rediscount");
    char sock[192];
    start_redis(&d, sock, sizeof sock);
    port = adm_free_port();
    run_gorod(&d, port, sock);

    int fd = adm_tcp_connect_wait(port, 10000);
    cr_assert_geq(fd, 0);
    char out[256];
    ask(fd, "a\nb\na\r\n\n", out, sizeof out);
    cr_assert_str_eq(out, "1\n1\n2\n-ERR a name is 1..256 bytes\n");

    pthread_t th[50];
    for (int i = 0; i < 50; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, client, NULL), 0);
    for (int i = 0; i < 50; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        cr_expect_null(rv, "client %d failed", i);
    }
    ask(fd, "shared\n", out, sizeof out);
    cr_expect_str_eq(out, "1001\n", "50 clients x 20 INCRs, then this one");
    close(fd);
    cr_assert_eq(adm_stop(&d), 0);
}

Test(rediscount, refuses_to_start_when_redis_is_not_there, .timeout = 60)
{
    adm_daemon d;
    adm_init(&d, "rediscount");
    char sock[192];
    snprintf(sock, sizeof sock, "%s/nobody.sock", d.dir);
    port = adm_free_port();
    const char *dir = getenv("GOROD_PLUGINS");
    if (dir == NULL)
        cr_skip_test("GOROD_PLUGINS is not set (make test sets it)");
    char *text;
    cr_assert(asprintf(&text,
                       "admin:\n  socket: %s\n"
                       "metrics:\n  listen: \"\"\n"
                       "plugins:\n"
                       "  - name: rediscount\n"
                       "    path: %s/rediscount.so\n"
                       "    args: \"port=%d redis=%s\"\n",
                       d.sock, dir, port, sock) > 0);
    adm_writefile(d.conf, text);
    free(text);
    adm_spawn(&d);
    int64_t deadline = adm_now_ms() + 15000;
    bool seen = false;
    while (!seen && adm_now_ms() < deadline) {
        char *log = adm_slurp(d.log);
        seen = log != NULL && strstr(log, "rediscount: cannot reach Redis at") != NULL;
        free(log);
        adm_sleep_ms(20);
    }
    char *log = adm_slurp(d.log);
    cr_expect(seen, "%s", log);
    cr_expect(strstr(log, "No such file or directory") != NULL, "%s", log);
    free(log);
    adm_stop(&d);
}
