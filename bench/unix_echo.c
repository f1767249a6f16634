/*
 * bench/unix_echo.c - a Unix stream socket echo server on goro: the TCP
 * echo server (bench/echo_server.c) on goro_listen("unix", PATH): one G
 * per connection, each reading up to 4 KiB and writing it back until the
 * peer closes.
 *
 * The peer program is bench/go/unix_echo (a goroutine per connection); the
 * load comes from bench/echoload.go -net unix, which also reports the
 * server's CPU time per request (-pid). scripts/bench runs both servers
 * against the same load, alternately.
 *
 * Run:
 *   make build/bench/unix_echo
 *   GORO_PROCS=2 build/bench/unix_echo [-s PATH]  (default /tmp/goro-echo.sock)
 *   build/bench/echoload -net unix -addr /tmp/goro-echo.sock -pid PID
 * It removes PATH if it exists, prints "listening on PATH" and serves until
 * killed (PATH stays behind).
 */
#include <goro.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *path = "/tmp/goro-echo.sock";

static void conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    /* 4 KiB: on the heap, not the G's 2 KiB stack. */
    char *buf = malloc(4096);
    for (;;) {
        ssize_t n = goro_read(fd, buf, 4096);
        if (n <= 0 || goro_write(fd, buf, (size_t)n) != n)
            break;
    }
    free(buf);
    goro_close(fd);
}

static void serve(void *arg)
{
    (void)arg;
    unlink(path);
    int lfd = goro_listen("unix", path, 0);
    if (lfd < 0) {
        fprintf(stderr, "unix_echo: listen on %s: error %d\n", path, -lfd);
        exit(1);
    }
    printf("listening on %s\n", path);
    fflush(stdout);
    for (;;) {
        int fd = goro_accept(lfd);
        if (fd < 0) {
            fprintf(stderr, "unix_echo: accept: error %d\n", -fd);
            continue;
        }
        goro_go(conn, (void *)(intptr_t)fd);
    }
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "s:")) != -1) {
        if (c != 's') {
            fprintf(stderr, "usage: %s [-s PATH]\n", argv[0]);
            return 2;
        }
        path = optarg;
    }
    int err = goro_run(serve, NULL);
    if (err != 0)
        fprintf(stderr, "unix_echo: goro_run: error %d\n", -err);
    return err != 0;
}
