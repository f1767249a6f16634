/*
 * bench/udp_echo.c - a UDP echo server on goro: one G receiving datagrams
 * (goro_recvfrom, up to 64 KiB) and sending each back to its sender
 * (goro_sendto), on one socket bound with goro_listen("udp", ...).
 *
 * The peer program is bench/go/udp_echo (one goroutine, ReadFromUDPAddrPort
 * and WriteToUDPAddrPort, no allocation per datagram); the load comes from
 * bench/echoload.go -net udp (a connected UDP socket per client, one
 * datagram out and its echo back before the next), which also reports the
 * server's CPU time per request (-pid). scripts/bench runs both servers
 * against the same load, alternately.
 *
 * Run:
 *   make build/bench/udp_echo
 *   GORO_PROCS=2 build/bench/udp_echo [-p PORT]     (default 7003)
 *   build/bench/echoload -net udp -addr 127.0.0.1:7003 -pid $(pidof udp_echo)
 * It prints "listening on PORT" and serves until killed.
 */
#include <goro.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int port = 7003;

static void serve(void *arg)
{
    (void)arg;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int fd = goro_listen("udp", addr, 0);
    if (fd < 0) {
        fprintf(stderr, "udp_echo: listen on %s: error %d\n", addr, -fd);
        exit(1);
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    /* 64 KiB: on the heap, not the G's 2 KiB stack. */
    char *buf = malloc(65536);
    if (buf == NULL)
        exit(1);
    for (;;) {
        struct sockaddr_storage from;
        unsigned fromlen = sizeof from;
        ssize_t n = goro_recvfrom(fd, buf, 65536, (struct sockaddr *)&from,
                                  &fromlen, 0);
        if (n < 0) {
            fprintf(stderr, "udp_echo: recvfrom: error %d\n", (int)-n);
            continue;
        }
        n = goro_sendto(fd, buf, (size_t)n, (struct sockaddr *)&from,
                        fromlen, 0);
        if (n < 0)
            fprintf(stderr, "udp_echo: sendto: error %d\n", (int)-n);
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
        fprintf(stderr, "udp_echo: goro_run: error %d\n", -err);
    return err != 0;
}
