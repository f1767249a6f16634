/*
 * gorod_conns.c - the client of `make stress-gorod` (not built on goro):
 * many TCP connections held open at once through an echo server (gorod's
 * echo plugin), every one of them served.
 *
 *   1. Raise this process's soft RLIMIT_NOFILE to the hard limit; it must
 *      allow the connections plus a few fds, else say so and exit 2.
 *   2. Open `n` connections, nonblocking, at most `window` connects in
 *      flight at once: a burst of thousands of SYNs would overflow the
 *      listener's SYN and accept queues (net.ipv4.tcp_max_syn_backlog,
 *      the listen backlog capped by net.core.somaxconn), and the dropped
 *      SYNs would be retried a second later, which measures the kernel's
 *      retry timer rather than the server. Time until all have connected.
 *   3. `rounds` times: write a message (msgsize bytes naming the connection
 *      and the round, then a pseudo-random tail) on every connection, read
 *      every echo back and compare it byte for byte; then, with every
 *      connection open and idle, run the hook command (-x, through sh: the
 *      stress script samples gorod there) and hold for `hold` seconds,
 *      during which any event on a connection (bytes, end of file, an
 *      error) is an error.
 *   4. Close every connection.
 *
 * Prints a line per phase and a final summary of key=value pairs; exit
 * status 0 when all n connected and every echo was right, 1 otherwise, 2
 * for bad arguments or limits. Nothing may stall for more than `timeout`
 * seconds (a connect, a round).
 *
 *   gorod_conns -p PORT [-H HOST] [-n CONNS] [-r ROUNDS] [-h HOLD_S]
 *               [-w WINDOW] [-m MSGSIZE] [-t TIMEOUT_S] [-x HOOK]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../loadclient.h"

typedef struct conn {
    int fd;
    bool connected;
    size_t got;             /* bytes of this round's echo received */
} conn;

static struct {
    const char *host, *hook;
    long n, rounds, window, msgsize, hold_s, timeout_s;
    int port;
} opt = {.host = "127.0.0.1", .n = 10000, .rounds = 3, .window = 256,
         .msgsize = 64, .hold_s = 3, .timeout_s = 60};

static conn *conns;
static int epfd;
#define error(i, ...) lc_error("gorod_conns", (i), __VA_ARGS__)

/* message: connection i's message of round r, msgsize bytes. */
static void message(long i, long r, unsigned char *buf)
{
    int k = snprintf((char *)buf, (size_t)opt.msgsize, "conn %ld round %ld ",
                     i, r);
    uint64_t x = (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)r;
    for (long j = k < 0 ? 0 : k; j < opt.msgsize; j++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[j] = (unsigned char)(x >> 56);
    }
}

static void drop(long i)
{
    close(conns[i].fd);
    conns[i].fd = -1;
}

/* connect_all: phase 2. Returns how many connected. */
static long connect_all(const struct sockaddr_in *addr)
{
    long next = 0, inflight = 0, done = 0, failed = 0;
    int64_t last = now_ns();
    struct epoll_event evs[512];
    while (done + failed < opt.n) {
        while (next < opt.n && inflight < opt.window) {
            conn *c = &conns[next];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           0);
            if (c->fd < 0) {
                error(next, "socket: %s", strerror(errno));
                return done;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.u64 =
                                     (uint64_t)next};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
                error(next, "epoll_ctl: %s", strerror(errno));
                return done;
            }
            if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) == 0
                || errno == EINPROGRESS) {
                inflight++;
            } else {
                error(next, "connect: %s", strerror(errno));
                drop(next);
                failed++;
            }
            next++;
        }
        int k = epoll_wait(epfd, evs, sizeof evs / sizeof evs[0], 1000);
        if (k < 0 && errno != EINTR) {
            error(-1, "epoll_wait: %s", strerror(errno));
            return done;
        }
        int64_t now = now_ns();
        if (k > 0)
            last = now;
        for (int e = 0; e < k; e++) {
            long i = (long)evs[e].data.u64;
            conn *c = &conns[i];
            if (c->fd < 0 || c->connected)
                continue;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            inflight--;
            if (err != 0) {
                error(i, "connect: %s", strerror(err));
                drop(i);
                failed++;
                continue;
            }
            c->connected = true;
            done++;
            /* From now on: readable (an echo, or end of file, or an error). */
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
                                     .data.u64 = (uint64_t)i};
            if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
                error(i, "epoll_ctl: %s", strerror(errno));
                return done;
            }
        }
        if (now - last > opt.timeout_s * 1000000000LL) {
            error(-1, "no connect completed in %ld s (%ld of %ld connected, "
                  "%ld in flight)", opt.timeout_s, done, opt.n, inflight);
            return done;
        }
    }
    return done;
}

/* round: phase 3's exchange; true when every echo was right. */
static bool round_trip(long r)
{
    unsigned char *want = malloc((size_t)opt.msgsize);
    unsigned char buf[65536];
    long pending = 0;
    bool ok = true;
    for (long i = 0; i < opt.n; i++) {
        conn *c = &conns[i];
        if (c->fd < 0)
            continue;
        message(i, r, want);
        c->got = 0;
        ssize_t w = send(c->fd, want, (size_t)opt.msgsize, MSG_NOSIGNAL);
        if (w != opt.msgsize) {
            /* msgsize is far below an empty socket's send buffer. */
            error(i, "round %ld: send: %s", r,
                  w < 0 ? strerror(errno) : "short write");
            drop(i);
            ok = false;
            continue;
        }
        pending++;
    }
    int64_t last = now_ns();
    struct epoll_event evs[512];
    while (pending > 0) {
        int k = epoll_wait(epfd, evs, sizeof evs / sizeof evs[0], 1000);
        if (k < 0 && errno != EINTR) {
            error(-1, "epoll_wait: %s", strerror(errno));
            free(want);
            return false;
        }
        int64_t now = now_ns();
        if (k > 0)
            last = now;
        for (int e = 0; e < k; e++) {
            long i = (long)evs[e].data.u64;
            conn *c = &conns[i];
            if (c->fd < 0)
                continue;
            message(i, r, want);
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EAGAIN)
                continue;
            const char *why = NULL;
            if (n < 0)
                why = strerror(errno);
            else if (n == 0)
                why = "end of file before the whole echo";
            else if (c->got + (size_t)n > (size_t)opt.msgsize)
                why = "more bytes than were sent";
            else if (memcmp(buf, want + c->got, (size_t)n) != 0)
                why = "the echo differs from what was sent";
            if (why != NULL) {
                error(i, "round %ld: %s (%zu of %ld bytes back)", r, why,
                      c->got, opt.msgsize);
                drop(i);
                pending--;
                ok = false;
                continue;
            }
            c->got += (size_t)n;
            if (c->got == (size_t)opt.msgsize)
                pending--;
        }
        if (pending > 0 && now - last > opt.timeout_s * 1000000000LL) {
            error(-1, "round %ld: no echo in %ld s, %ld still missing", r,
                  opt.timeout_s, pending);
            free(want);
            return false;
        }
    }
    free(want);
    return ok;
}

/* hold: phase 3's wait with every connection idle; any event is an error. */
static bool hold(long r)
{
    int64_t end = now_ns() + opt.hold_s * 1000000000LL;
    struct epoll_event evs[512];
    bool ok = true;
    for (int64_t now = now_ns(); now < end; now = now_ns()) {
        int k = epoll_wait(epfd, evs, sizeof evs / sizeof evs[0],
                           (int)((end - now + 999999) / 1000000));
        if (k < 0 && errno != EINTR) {
            error(-1, "epoll_wait: %s", strerror(errno));
            return false;
        }
        for (int e = 0; e < k; e++) {
            long i = (long)evs[e].data.u64;
            if (conns[i].fd < 0)
                continue;
            char b;
            ssize_t n = recv(conns[i].fd, &b, 1, MSG_PEEK);
            error(i, "while held after round %ld: %s", r,
                  n > 0 ? "unexpected bytes" : n == 0 ? "end of file"
                                             : strerror(errno));
            drop(i);
            ok = false;
        }
    }
    return ok;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static void usage(void)
{
    fprintf(stderr, "usage: gorod_conns -p PORT [-H HOST] [-n CONNS] "
            "[-r ROUNDS] [-h HOLD_S] [-w WINDOW] [-m MSGSIZE] [-t TIMEOUT_S] "
            "[-x HOOK]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct { char c; const char *name; long lo, hi; } num[] = {
        {'p', "port (-p)", 1, 65535},
        {'n', "connections (-n)", 1, 10000000},
        {'r', "rounds (-r)", 1, 1000000},
        {'h', "hold (-h, seconds)", 0, 86400},
        {'w', "connect window (-w)", 1, 1000000},
        {'m', "message size (-m, bytes; 24 holds the name)", 24, 4096},
        {'t', "timeout (-t, seconds)", 1, 86400}};
    int ch;
    while ((ch = getopt(argc, argv, "p:H:n:r:h:w:m:t:x:")) != -1) {
        if (ch == 'H' || ch == 'x') {
            *(ch == 'H' ? &opt.host : &opt.hook) = optarg;
            continue;
        }
        size_t k = 0;
        while (k < sizeof num / sizeof num[0] && num[k].c != ch)
            k++;
        if (k == sizeof num / sizeof num[0])
            usage();
        long v;
        if (!parse_long(optarg, num[k].lo, num[k].hi, &v)) {
            fprintf(stderr, "gorod_conns: %s: '%s' is not a number in "
                    "%ld..%ld\n", num[k].name, optarg, num[k].lo, num[k].hi);
            exit(2);
        }
        switch (ch) {
        case 'p': opt.port = (int)v; break;
        case 'n': opt.n = v; break;
        case 'r': opt.rounds = v; break;
        case 'h': opt.hold_s = v; break;
        case 'w': opt.window = v; break;
        case 'm': opt.msgsize = v; break;
        case 't': opt.timeout_s = v; break;
        }
    }
    if (opt.port == 0 || optind != argc)
        usage();
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "gorod_conns: host (-H): '%s' is not an IPv4 "
                "address\n", opt.host);
        exit(2);
    }

    /* The connections, stdio, the epoll fd and what a hook's popen takes. */
    struct rlimit rl;
    const rlim_t need = (rlim_t)opt.n + 16;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("gorod_conns: getrlimit(RLIMIT_NOFILE)");
        exit(2);
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            perror("gorod_conns: setrlimit(RLIMIT_NOFILE)");
            exit(2);
        }
    }
    if (rl.rlim_cur < need) {
        fprintf(stderr, "gorod_conns: RLIMIT_NOFILE allows %llu fds (hard "
                "limit %llu); %ld connections need %llu: raise the hard limit "
                "(ulimit -Hn, as root) or lower -n\n",
                (unsigned long long)rl.rlim_cur,
                (unsigned long long)rl.rlim_max, opt.n,
                (unsigned long long)need);
        exit(2);
    }
    signal(SIGPIPE, SIG_IGN);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)opt.n, sizeof *conns);
    if (epfd < 0 || conns == NULL) {
        perror("gorod_conns: setup");
        exit(1);
    }
    for (long i = 0; i < opt.n; i++)
        conns[i].fd = -1;

    int64_t t0 = now_ns();
    long connected = connect_all(&addr);
    double connect_s = (double)(now_ns() - t0) / 1e9;
    printf("gorod_conns: connected %ld of %ld in %.3f s (window %ld)\n",
           connected, opt.n, connect_s, opt.window);
    fflush(stdout);

    long rounds = 0;
    uint64_t echoes = 0;
    double round_max = 0;
    for (long r = 1; connected == opt.n && r <= opt.rounds; r++) {
        int64_t t = now_ns();
        bool ok = round_trip(r);
        double s = (double)(now_ns() - t) / 1e9;
        if (s > round_max)
            round_max = s;
        printf("gorod_conns: round %ld: %s in %.3f s\n", r,
               ok ? "every echo right" : "FAILED", s);
        fflush(stdout);
        if (!ok)
            break;
        rounds++;
        echoes += (uint64_t)opt.n;
        if (opt.hook != NULL) {
            int rc = system(opt.hook);
            if (rc != 0)
                error(-1, "hook '%s' after round %ld: exit status %d",
                      opt.hook, r, rc);
        }
        if (!hold(r))
            break;
    }

    int64_t tc = now_ns();
    for (long i = 0; i < opt.n; i++)
        if (conns[i].fd >= 0)
            drop(i);
    double close_s = (double)(now_ns() - tc) / 1e9;
    printf("gorod_conns: conns=%ld connected=%ld connect_s=%.3f rounds=%ld "
           "echoes=%" PRIu64 " round_max_s=%.3f close_s=%.3f errors=%" PRIu64
           "\n", opt.n, connected, connect_s, rounds, echoes, round_max,
           close_s, nerrors);
    bool ok = nerrors == 0 && connected == opt.n && rounds == opt.rounds;
    return ok ? 0 : 1;
}
