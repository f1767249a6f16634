/*
 * bench/dial.c - cost of dialling a local TCP listener: goro_dial + goro_close.
 *
 * What it measures: inside one goro_run, a G accepts connections on a
 * listener bound to 127.0.0.1 (a kernel-chosen port) and closes each one;
 * the main G then dials it N times in a row, goro_dial("tcp", ADDR, 0)
 * followed by goro_close of the connected fd, and the wall time
 * (CLOCK_MONOTONIC) over N is the cost of one dial: the socket, the
 * connect (parking until the kernel reports it done), TCP_NODELAY, the
 * close, and whatever the accepting G costs meanwhile on the same Ps. ADDR
 * is "127.0.0.1:PORT" (numeric, no resolution) or, with -h localhost,
 * "localhost:PORT": then each dial also resolves the name (from the
 * runtime's copy of /etc/hosts, in the G, where nsswitch.conf puts files
 * first; otherwise getaddrinfo on libuv's thread pool). R rounds, median.
 *
 * The dialling side closes first, so each dial leaves a connection in
 * TIME_WAIT on a local port for 60 s: keep N * R well below the ephemeral
 * range (28,232 ports by default; Linux reuses a TIME_WAIT port for a new
 * loopback connection after 1 s, net.ipv4.tcp_tw_reuse=2).
 *
 * The peer is bench/go/dial (net.Dial and Close, a goroutine accepting).
 *
 * Run:
 *   make build/bench/dial
 *   GORO_PROCS=2 build/bench/dial [-n N] [-r R] [-h localhost]
 *     -n N   dials per round (default 2000)
 *     -r R   rounds (default 5)
 *     -h H   dial H:PORT (a name resolved each time) instead of 127.0.0.1
 *
 * Output: one line per round, the median and a last machine-readable line
 *   RESULT dial_ns_per_dial <median ns>         (numeric)
 *   RESULT dial_name_ns_per_dial <median ns>    (-h)
 */
#include <goro.h>

#define BENCH_USAGE "[-n N] [-r ROUNDS] [-h HOST]"
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static long nflag = 2000;
static int rounds = 5;
static const char *host;        /* NULL: 127.0.0.1 */
static int status = 1;

static void acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = goro_accept(lfd);
        if (fd < 0)
            return;             /* goro_close(lfd) at the end */
        goro_close(fd);
    }
}

static void bench(void *arg)
{
    (void)arg;
    int lfd = goro_listen("tcp", "127.0.0.1:0", 0);
    if (lfd < 0) {
        fprintf(stderr, "dial: listen: error %d\n", -lfd);
        return;
    }
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(lfd, (struct sockaddr *)&sin, &len) != 0) {
        perror("dial: getsockname");
        return;
    }
    char addr[300];
    snprintf(addr, sizeof addr, "%s:%d", host ? host : "127.0.0.1",
             ntohs(sin.sin_port));
    goro_go(acceptor, (void *)(intptr_t)lfd);

    printf("dial: goro_dial(\"tcp\", \"%s\") + goro_close, %ld per round, "
           "%d rounds\n", addr, nflag, rounds);
    double *res = calloc((size_t)rounds, sizeof *res);
    if (res == NULL)
        return;
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < nflag; i++) {
            int fd = goro_dial("tcp", addr, 0);
            if (fd < 0) {
                fprintf(stderr, "dial: goro_dial %s: error %d (dial %ld)\n",
                        addr, -fd, i);
                return;
            }
            goro_close(fd);
        }
        res[r] = (double)(now_ns() - t0) / (double)nflag;
        printf("round %d: %.0f ns per dial\n", r + 1, res[r]);
    }
    double m = median(res, rounds);
    printf("median: %.0f ns per dial\n", m);
    printf("RESULT %s %.0f\n", host ? "dial_name_ns_per_dial"
                                    : "dial_ns_per_dial", m);
    free(res);
    goro_close(lfd);
    status = 0;
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "n:r:h:")) != -1) {
        switch (c) {
        case 'n':
            nflag = parse_pos(argv[0], optarg, 1000000);
            break;
        case 'r':
            rounds = (int)parse_pos(argv[0], optarg, 1000);
            break;
        case 'h':
            host = optarg;
            break;
        default:
            usage(argv[0]);
        }
    }
    if (optind != argc)
        usage(argv[0]);
    int err = goro_run(bench, NULL);
    if (err != 0) {
        fprintf(stderr, "dial: goro_run: error %d\n", -err);
        return 1;
    }
    return status;
}
