/*
 * echoload.c - the soak's TCP echo load client (not built on goro).
 *
 * One thread, one epoll set, `conns` nonblocking connections to an echo
 * server. Each connection, in a loop: writes a message of a random size
 * (1..maxmsg bytes of a per-connection pseudo-random stream), reads until
 * every byte has come back, compares them with what was sent, and waits for
 * its turn to send again. The sends of all connections together are paced
 * at `rate` messages per second (0: as fast as the echoes come back), so
 * the load stays steady and moderate on a shared machine.
 *
 * Connections churn: each lives a random time in [life/2, 3*life/2], then
 * closes gracefully -- shutdown(SHUT_WR), then the server must answer with
 * end of file and nothing else -- and a new connection takes its place. So
 * the server keeps creating and ending connection Gs, which is what a leak
 * of Gs or stacks would show under.
 *
 * Anything unexpected is an error, counted and printed (the first few in
 * full): a connect that fails, a reset, end of file before the echo, bytes
 * that differ from those sent, bytes after our shutdown, a message whose
 * echo has not completed within `stall` seconds. After `duration` seconds
 * no new message starts; the messages in flight complete, every connection
 * closes gracefully, and the client prints one summary line of key=value
 * pairs (the soak script reads it) and exits 0 when there was no error, 1
 * otherwise, 2 for bad arguments.
 *
 *   echoload -p PORT [-H HOST] [-c CONNS] [-d SECONDS] [-r RATE]
 *            [-m MAXMSG] [-l LIFE_MS] [-s STALL_S]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../loadclient.h"

/* ST_DOWN: dropped after an error, reopened at retry_at (no reconnect
 * storm against a server that refuses). */
enum state { ST_CONNECTING, ST_IDLE, ST_ECHO, ST_CLOSING, ST_DOWN };

typedef struct conn {
    int fd;
    enum state st;
    uint64_t rng;           /* the message stream's state */
    unsigned char *msg;     /* the message in flight */
    size_t len, sent, got;
    int64_t msg_start;      /* when the message in flight was sent */
    int64_t close_at;       /* when the connection closes after its echo */
    int64_t retry_at;       /* ST_DOWN: when to reopen */
    bool want_out;          /* EPOLLOUT in its event mask */
} conn;

static struct {
    const char *host;
    int port, nconns, maxmsg, life_ms, stall_s;
    double duration, rate;
} opt = {"127.0.0.1", 0, 50, 4096, 2000, 10, 60, 2000};

static struct sockaddr_in addr;
static int epfd;
static conn *conns;
static uint64_t nmsgs, nbytes, nconnects, ncloses, nmismatch,
                ndisconnect, max_rtt_ns;
static uint64_t seed = 0x9e3779b97f4a7c15ull;
static bool ending;     /* the duration is over: no new message, no reopen */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* error: count one error of connection c and print the first few. */
#define error(c, ...) lc_error("echoload", (long)((c) - conns), __VA_ARGS__)

static void set_events(conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP |
                                       (out ? EPOLLOUT : 0u),
                             .data.ptr = c};
    if (out != c->want_out && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        perror("echoload: epoll_ctl");
        exit(1);
    }
    c->want_out = out;
}

static void close_conn(conn *c)
{
    close(c->fd);   /* also leaves the epoll set */
    c->fd = -1;
}

#define RETRY_NS (100 * 1000000)

/* fail: an error on c; the connection is dropped and, unless the run is
 * ending, reopened RETRY_NS later. */
static void fail(conn *c, int64_t now, bool reopen)
{
    close_conn(c);
    if (reopen) {
        c->st = ST_DOWN;
        c->retry_at = now + RETRY_NS;
    }
}

static void open_conn(conn *c, int64_t now)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        perror("echoload: socket");
        exit(1);
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->st = ST_CONNECTING;
    c->want_out = true;
    c->len = c->sent = c->got = 0;
    int64_t life = (int64_t)opt.life_ms * 1000000;
    c->close_at = now + life / 2 + (int64_t)(xorshift(&seed) % (uint64_t)life);
    c->msg_start = now;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP,
                             .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        perror("echoload: epoll_ctl");
        exit(1);
    }
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 &&
        errno != EINPROGRESS) {
        error(c, "connect to %s port %d: %s", opt.host, opt.port,
              strerror(errno));
        fail(c, now, !ending);
        return;
    }
    nconnects++;
}

static void flush_msg(conn *c, int64_t now)
{
    while (c->sent < c->len) {
        ssize_t n = send(c->fd, c->msg + c->sent, c->len - c->sent,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                set_events(c, true);
                return;
            }
            if (errno == EINTR)
                continue;
            error(c, "send: %s", strerror(errno));
            ndisconnect++;
            fail(c, now, !ending);
            return;
        }
        c->sent += (size_t)n;
    }
    set_events(c, false);
}

static void start_msg(conn *c, int64_t now)
{
    c->len = 1 + (size_t)(xorshift(&c->rng) % (uint64_t)opt.maxmsg);
    for (size_t i = 0; i < c->len; i++)
        c->msg[i] = (unsigned char)(xorshift(&c->rng) >> 56);
    c->sent = c->got = 0;
    c->st = ST_ECHO;
    c->msg_start = now;
    flush_msg(c, now);
}

static void begin_close(conn *c, int64_t now)
{
    if (shutdown(c->fd, SHUT_WR) < 0) {
        error(c, "shutdown: %s", strerror(errno));
        fail(c, now, !ending);
        return;
    }
    c->st = ST_CLOSING;
    c->msg_start = now;
    set_events(c, false);
}

/* on_readable: read what has come; c may be dropped or replaced. */
static void on_readable(conn *c, int64_t now)
{
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            if (errno == EINTR)
                continue;
            error(c, "recv: %s", strerror(errno));
            ndisconnect++;
            fail(c, now, !ending);
            return;
        }
        if (n == 0) {
            if (c->st == ST_CLOSING) {
                ncloses++;
                close_conn(c);
                if (!ending)
                    open_conn(c, now);
                return;
            }
            error(c, "end of file from the server %s", c->st == ST_ECHO
                  ? "before the whole echo" : "on an idle connection");
            ndisconnect++;
            fail(c, now, !ending);
            return;
        }
        if (c->st != ST_ECHO || c->got + (size_t)n > c->sent) {
            error(c, "%zd unexpected byte(s) from the server (%s)", n,
                  c->st == ST_CLOSING ? "after our shutdown"
                                      : "more than was sent");
            nmismatch++;
            fail(c, now, !ending);
            return;
        }
        if (memcmp(buf, c->msg + c->got, (size_t)n) != 0) {
            size_t i = 0;
            while (buf[i] == c->msg[c->got + i])
                i++;
            error(c, "echo differs at byte %zu of %zu: sent 0x%02x, got "
                  "0x%02x", c->got + i, c->len, c->msg[c->got + i], buf[i]);
            nmismatch++;
            fail(c, now, !ending);
            return;
        }
        c->got += (size_t)n;
        if (c->got == c->len) {
            uint64_t rtt = (uint64_t)(now - c->msg_start);
            if (rtt > max_rtt_ns)
                max_rtt_ns = rtt;
            nmsgs++;
            nbytes += c->len;
            c->st = ST_IDLE;
            if (ending || now >= c->close_at) {
                begin_close(c, now);
                return;
            }
        }
    }
}

static void on_connected(conn *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        error(c, "connect to %s port %d: %s", opt.host, opt.port,
              strerror(err));
        fail(c, now, !ending);
        return;
    }
    c->st = ST_IDLE;
    set_events(c, false);
    if (ending)
        begin_close(c, now);
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: echoload -p PORT [-H HOST] [-c CONNS] [-d SECONDS] "
            "[-r RATE] [-m MAXMSG] [-l LIFE_MS] [-s STALL_S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct { char c; const char *name; double lo, hi; } num[] = {
        {'p', "port (-p)", 1, 65535}, {'c', "connections (-c)", 1, 100000},
        {'d', "duration (-d, seconds)", 0, 1e7},
        {'r', "rate (-r, messages/s; 0: unpaced)", 0, 1e9},
        {'m', "message size (-m, bytes)", 1, 1 << 20},
        {'l', "connection life (-l, ms)", 1, 1e9},
        {'s', "stall limit (-s, seconds)", 1, 3600}};
    int ch;
    while ((ch = getopt(argc, argv, "p:H:c:d:r:m:l:s:")) != -1) {
        if (ch == 'H') {
            opt.host = optarg;
            continue;
        }
        size_t i = 0;
        while (i < sizeof num / sizeof num[0] && num[i].c != ch)
            i++;
        if (i == sizeof num / sizeof num[0])
            usage();
        double v;
        if (!parse_num(optarg, num[i].lo, num[i].hi, &v)) {
            fprintf(stderr, "echoload: %s: '%s' is not a number in %g..%g\n",
                    num[i].name, optarg, num[i].lo, num[i].hi);
            exit(2);
        }
        switch (ch) {
        case 'p': opt.port = (int)v; break;
        case 'c': opt.nconns = (int)v; break;
        case 'd': opt.duration = v; break;
        case 'r': opt.rate = v; break;
        case 'm': opt.maxmsg = (int)v; break;
        case 'l': opt.life_ms = (int)v; break;
        case 's': opt.stall_s = (int)v; break;
        }
    }
    if (opt.port == 0 || optind != argc)
        usage();
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "echoload: host (-H): '%s' is not an IPv4 address\n",
                opt.host);
        exit(2);
    }
    signal(SIGPIPE, SIG_IGN);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)opt.nconns, sizeof *conns);
    if (epfd < 0 || conns == NULL) {
        perror("echoload: setup");
        exit(1);
    }
    seed ^= (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
    int64_t t0 = now_ns();
    for (int i = 0; i < opt.nconns; i++) {
        conn *c = &conns[i];
        c->rng = xorshift(&seed) | 1;
        c->msg = malloc((size_t)opt.maxmsg);
        if (c->msg == NULL) {
            perror("echoload: malloc");
            exit(1);
        }
        open_conn(c, t0);
    }
    if (nerrors > 0)
        return 1;   /* nothing to load */

    /* Pacing: the next send of the whole client is due at next_send; the
     * idle connections take turns (round robin from rr). */
    int64_t gap = opt.rate > 0 ? (int64_t)(1e9 / opt.rate) : 0;
    int64_t next_send = t0, end = t0 + (int64_t)(opt.duration * 1e9);
    int64_t stall = (int64_t)opt.stall_s * 1000000000;
    int rr = 0, open = opt.nconns;
    struct epoll_event evs[256];
    while (open > 0) {
        int64_t now = now_ns();
        if (!ending && now >= end) {
            ending = true;
            for (int i = 0; i < opt.nconns; i++)
                if (conns[i].fd >= 0 && conns[i].st == ST_IDLE)
                    begin_close(&conns[i], now);
        }
        /* Start the messages that are due. */
        bool starved = false;   /* a send is due and nobody is idle */
        if (!ending) {
            int scanned = 0;
            while (now >= next_send && scanned < opt.nconns) {
                conn *c = &conns[rr];
                rr = (rr + 1) % opt.nconns;
                scanned++;
                if (c->fd < 0 || c->st != ST_IDLE)
                    continue;
                if (now >= c->close_at) {
                    begin_close(c, now);
                    continue;
                }
                start_msg(c, now);
                scanned = 0;
                next_send = gap > 0 ? next_send + gap : now;
            }
            starved = now >= next_send;
            /* Behind by more than a second (everyone was busy): do not
             * catch up in a burst. */
            if (gap > 0 && now - next_send > 1000000000)
                next_send = now;
        }
        /* A stalled message or close is an error; a dropped connection is
         * reopened when its time comes. */
        int64_t retry = INT64_MAX;
        for (int i = 0; i < opt.nconns; i++) {
            conn *c = &conns[i];
            if (c->fd < 0) {
                if (c->st == ST_DOWN && !ending && now >= c->retry_at)
                    open_conn(c, now);
                else if (c->st == ST_DOWN && !ending && c->retry_at < retry)
                    retry = c->retry_at;
                continue;
            }
            if (c->fd >= 0 && c->st != ST_IDLE && now - c->msg_start > stall) {
                error(c, "%s stalled for %d s", c->st == ST_ECHO ? "echo"
                      : c->st == ST_CLOSING ? "close" : "connect",
                      opt.stall_s);
                ndisconnect++;
                fail(c, now, !ending);
            }
        }
        open = 0;
        for (int i = 0; i < opt.nconns; i++)
            open += conns[i].fd >= 0 || (conns[i].st == ST_DOWN && !ending);
        if (open == 0)
            break;

        int64_t wait = 100 * 1000000;     /* the stall check's tick */
        if (!ending && !starved && gap > 0 && next_send - now < wait)
            wait = next_send > now ? next_send - now : 0;
        if (!ending && now < end && end - now < wait)
            wait = end - now;
        if (retry != INT64_MAX && retry - now < wait)
            wait = retry > now ? retry - now : 0;
        int n = epoll_wait(epfd, evs, sizeof evs / sizeof evs[0],
                           (int)((wait + 999999) / 1000000));
        if (n < 0 && errno != EINTR) {
            perror("echoload: epoll_wait");
            exit(1);
        }
        now = now_ns();
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            /* Every event of c is handled in one go: it may be replaced by
             * a new connection (a new fd) meanwhile, whose events come in a
             * later epoll_wait. */
            int fd = c->fd;
            if (c->st == ST_CONNECTING) {
                on_connected(c, now);
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && c->st == ST_ECHO)
                flush_msg(c, now);
            if (c->fd == fd && (evs[i].events & (EPOLLIN | EPOLLRDHUP |
                                                 EPOLLHUP | EPOLLERR)))
                on_readable(c, now);
        }
    }

    double secs = (double)(now_ns() - t0) / 1e9;
    printf("echoload: conns=%d seconds=%.1f messages=%" PRIu64
           " bytes=%" PRIu64 " msgs_per_s=%.0f connects=%" PRIu64
           " closes=%" PRIu64 " max_rtt_ms=%.3f errors=%" PRIu64
           " mismatches=%" PRIu64 " disconnects=%" PRIu64 "\n",
           opt.nconns, secs, nmsgs, nbytes, (double)nmsgs / secs, nconnects,
           ncloses, (double)max_rtt_ns / 1e6, nerrors, nmismatch,
           ndisconnect);
    return nerrors == 0 ? 0 : 1;
}
