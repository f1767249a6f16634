/*
 * bench/echo_server.c - a TCP echo server on goro: one G per connection,
 * each reading up to 4 KiB and writing it back until the peer closes.
 *
 * The peer program is bench/echo_server.go (a goroutine per connection);
 * the load comes from bench/echoload.go, which is not built on goro.
 * scripts/bench runs both servers against the same load, side by side.
 *
 * Run:
 *   make build/bench/echo_server
 *   GORO_PROCS=2 build/bench/echo_server [-p PORT]     (default 7001)
 * It prints "listening on PORT" and serves until killed.
 */
#include <goro.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int port = 7001;

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
    int lfd = goro_tcp_listen("127.0.0.1", port, 0);
    if (lfd < 0) {
        fprintf(stderr, "echo_server: listen on %d: error %d\n", port, -lfd);
        exit(1);
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    for (;;) {
        int fd = goro_accept(lfd);
        if (fd < 0) {
            fprintf(stderr, "echo_server: accept: error %d\n", -fd);
            continue;
        }
        goro_go(conn, (void *)(intptr_t)fd);
    }
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "p:")) != -1) {
        if (c != 'p' || (port = atoi(optarg)) <= 0 || port > 65535) {
            fprintf(stderr, "usage: %s [-p PORT]\n", argv[0]);
            return 2;
        }
    }
    int err = goro_run(serve, NULL);
    if (err != 0)
        fprintf(stderr, "echo_server: goro_run: error %d\n", -err);
    return err != 0;
}
