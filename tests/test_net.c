/* test_net.c - the netpoller through the public API: TCP echo between many
 * G pairs, long writes through small socket buffers, close waking a parked
 * reader, refused connections, deadlines, many timers at once, file I/O
 * through the thread pool, an idle runtime's CPU use, the idle M that
 * blocks in the netpoller, a writer woken on an fd a reader registered,
 * and bad input.
 * Results are recorded in globals and asserted after goro_run. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "export_test.h"


static void morefds(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* readfull reads exactly len bytes; returns len, 0 at EOF, or -errno. */
static ssize_t readfull(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = goro_read(fd, buf + got, len - got);
        if (n <= 0)
            return n;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* A connected pair of non-blocking stream sockets. */
static void sockpair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        sv[0] = sv[1] = -1;
}

/* ---- echo between 1,000 client/server pairs ------------------------------- */

enum { PAIRS = 1000, ROUNDS = 20, MSG = 64 };

static int echoport;
static int listenfd;
static goro_wg *clientswg;
static atomic_int echofail, echook, acceptfail;
static atomic_int firstfail;

static void fail(int code)
{
    int zero = 0;
    atomic_compare_exchange_strong(&firstfail, &zero, code);
    atomic_fetch_add(&echofail, 1);
}

static void echohandler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[MSG];
    for (;;) {
        ssize_t n = goro_read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0)
                fail(1000 - (int)n);
            break;
        }
        if (goro_write(fd, buf, (size_t)n) != n) {
            fail(2000);
            break;
        }
    }
    goro_close(fd);
}

static void acceptor(void *arg)
{
    (void)arg;
    for (int i = 0; i < PAIRS; i++) {
        int fd = goro_accept(listenfd);
        if (fd < 0) {
            atomic_fetch_add(&acceptfail, 1);
            break;
        }
        goro_go(echohandler, (void *)(intptr_t)fd);
    }
}

static void echoclient(void *arg)
{
    int id = (int)(intptr_t)arg;
    int fd = goro_tcp_connect("127.0.0.1", echoport);
    if (fd < 0) {
        fail(3000 - fd);
        goro_wg_done(clientswg);
        return;
    }
    char out[MSG], in[MSG];
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < MSG; k++)
            out[k] = (char)(id * 31 + r * 7 + k);
        if (goro_write(fd, out, MSG) != MSG) {
            fail(4000);
            break;
        }
        ssize_t n = readfull(fd, in, MSG);
        if (n != MSG || memcmp(in, out, MSG) != 0) {
            fail(5000 - (int)n);
            break;
        }
        atomic_fetch_add(&echook, 1);
    }
    goro_close(fd);
    goro_wg_done(clientswg);
}

static void echomain(void *arg)
{
    (void)arg;
    listenfd = goro_tcp_listen("127.0.0.1", 0, 4096);
    if (listenfd < 0) {
        fail(6000 - listenfd);
        return;
    }
    echoport = test_portof(listenfd);
    clientswg = goro_wg_new();
    goro_wg_add(clientswg, PAIRS);
    goro_go(acceptor, NULL);
    for (int i = 0; i < PAIRS; i++)
        goro_go(echoclient, (void *)(intptr_t)i);
    goro_wg_wait(clientswg);
    goro_close(listenfd);
}

Test(net, echo_round_trips_between_1000_pairs_on_two_procs, .timeout = 120)
{
    morefds();
    cr_assert_eq(test_run(2, echomain, NULL), 0);
    cr_assert_eq(atomic_load(&echofail), 0, "failures %d (first code %d)",
                 atomic_load(&echofail), atomic_load(&firstfail));
    cr_assert_eq(atomic_load(&acceptfail), 0);
    cr_assert_eq(atomic_load(&echook), PAIRS * ROUNDS);
}

/* ---- a 1 MiB write through small buffers -------------------------------------- */

enum { BIG = 1 << 20 };
static ssize_t bigwritten, bigread;
static int bigbad = -1;
static goro_wg *bigwg;
static int bigfds[2];

static void bigwriter(void *arg)
{
    (void)arg;
    char *buf = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        buf[i] = (char)(i * 131 + (i >> 12));
    bigwritten = goro_write(bigfds[0], buf, BIG);
    free(buf);
    goro_close(bigfds[0]);
    goro_wg_done(bigwg);
}

static void bigreader(void *arg)
{
    (void)arg;
    char buf[1000];
    ssize_t total = 0;
    bigbad = 0;
    for (;;) {
        ssize_t n = goro_read(bigfds[1], buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t k = 0; k < n; k++) {
            ssize_t i = total + k;
            if (buf[k] != (char)(i * 131 + (i >> 12)))
                bigbad++;
        }
        total += n;
        if (total % 50 == 0)
            goro_yield();
    }
    bigread = total;
    goro_close(bigfds[1]);
    goro_wg_done(bigwg);
}

static void bigmain(void *arg)
{
    (void)arg;
    int lfd = goro_tcp_listen("::1", 0, 0);
    bool v6 = lfd >= 0;
    if (!v6)
        lfd = goro_tcp_listen("127.0.0.1", 0, 0);
    int c = goro_tcp_connect(v6 ? "::1" : "127.0.0.1", test_portof(lfd));
    int s = goro_accept(lfd);
    goro_close(lfd);
    int small = 4096;
    setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    bigfds[0] = c;
    bigfds[1] = s;
    bigwg = goro_wg_new();
    goro_wg_add(bigwg, 2);
    goro_go(bigwriter, NULL);
    goro_go(bigreader, NULL);
    goro_wg_wait(bigwg);
}

Test(net, a_1mib_write_through_small_buffers_arrives_whole, .timeout = 60)
{
    cr_assert_eq(test_run(2, bigmain, NULL), 0);
    cr_assert_eq(bigwritten, BIG);
    cr_assert_eq(bigread, BIG);
    cr_assert_eq(bigbad, 0);
}

/* ---- a writer on an fd that a reader registered ----------------------------- */

/* The netpoller registers an fd for writability only at the first wait
 * for writing (netpoll.c): with a reader parked on the fd first, a writer
 * that fills the socket must still be woken when the peer drains it, for
 * a stream socket and a datagram one (whose every datagram taken makes a
 * write-space edge). */
enum { WRBYTES = 1 << 20, WRDGRAM = 1024 };
static int wrtype, wrfds[2];
static ssize_t wrwritten, wrdrained, wrreadergot;
static int64_t wrdoneat, wrdrainat;
static goro_wg *wrwg;

static void wrreader(void *arg)
{
    (void)arg;
    char c;
    wrreadergot = goro_read(wrfds[0], &c, 1);
    goro_wg_done(wrwg);
}

/* wrmove writes WRBYTES to fd (or reads them), WRDGRAM at a time: how
 * many it moved before an error or the end. */
static ssize_t wrmove(bool write, int fd)
{
    char *buf = calloc(1, WRDGRAM);
    size_t done = 0;
    while (buf != NULL && done < WRBYTES) {
        ssize_t n = write ? goro_write(fd, buf, WRDGRAM)
                          : goro_read(fd, buf, WRDGRAM);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    free(buf);
    return (ssize_t)done;
}

static void wrdrainer(void *arg)
{
    (void)arg;
    goro_sleep_ns(50 * 1000000);
    wrdrainat = test_now();
    wrdrained = wrmove(false, wrfds[1]);
    goro_write(wrfds[1], "z", 1);  /* the reader's */
    goro_wg_done(wrwg);
}

static void wrmain(void *arg)
{
    (void)arg;
    if (socketpair(AF_UNIX, wrtype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   wrfds) < 0)
        return;
    wrwg = goro_wg_new();
    goro_wg_add(wrwg, 2);
    goro_go(wrreader, NULL);
    goro_sleep_ns(10 * 1000000);  /* it parks: registered for reading */
    goro_go(wrdrainer, NULL);
    wrwritten = wrmove(true, wrfds[0]);
    wrdoneat = test_now();
    goro_wg_wait(wrwg);
    goro_wg_free(wrwg);
    goro_close(wrfds[0]);
    goro_close(wrfds[1]);
}

static void wrcheck(int type)
{
    wrtype = type;
    cr_assert_eq(test_run(2, wrmain, NULL), 0);
    cr_assert_eq(wrwritten, WRBYTES, "written: %zd", wrwritten);
    cr_assert_eq(wrdrained, WRBYTES, "drained: %zd", wrdrained);
    /* More than a socket holds: the writer waited for the drainer. */
    cr_assert_gt(wrdoneat, wrdrainat);
    cr_assert_eq(wrreadergot, 1);
}

Test(net, a_writer_is_woken_on_a_stream_socket_a_reader_registered,
     .timeout = 30)
{
    wrcheck(SOCK_STREAM);
}

Test(net, a_writer_is_woken_on_a_datagram_socket_a_reader_registered,
     .timeout = 30)
{
    wrcheck(SOCK_DGRAM);
}

/* ---- close wakes a parked reader -------------------------------------------- */

static ssize_t closedread = 1;
static int64_t closedat, wokeat;
static goro_wg *closewg;

static void parkedreader(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16];
    closedread = goro_read(fd, buf, sizeof buf);
    wokeat = test_now();
    goro_wg_done(closewg);
}

static void closemain(void *arg)
{
    (void)arg;
    int sv[2];
    sockpair(sv);
    closewg = goro_wg_new();
    goro_wg_add(closewg, 1);
    goro_go(parkedreader, (void *)(intptr_t)sv[0]);
    goro_sleep_ns(50 * 1000000);
    closedat = test_now();
    goro_close(sv[0]);
    goro_wg_wait(closewg);
    goro_close(sv[1]);
}

Test(net, a_reader_parked_on_a_closed_fd_wakes_with_an_error, .timeout = 30)
{
    cr_assert_eq(test_run(2, closemain, NULL), 0);
    cr_assert(closedread == -ECANCELED || closedread == -EBADF,
              "read returned %zd", closedread);
    cr_assert_lt(wokeat - closedat, 1000000000);
}

/* ---- readiness before park, close while Ms poll ---------------------------- */

/* Ping-pong over socketpairs on 2 Ps: each read's EAGAIN races the peer's
 * write, so readiness often arrives (and an M's netpoll consumes the edge)
 * before the reader is on its pollDesc: it must not be lost. Half the
 * pairs read with a (far) deadline: they go through the loop's heap while
 * the Ms' netpoll takes them off the pollDesc. */
enum { PP_PAIRS = 40, PP_ROUNDS = 2000 };
static atomic_int ppdone, ppfail;
static goro_wg *ppwg;

static void ppside(void *arg)
{
    intptr_t a = (intptr_t)arg;
    int fd = (int)(a >> 2);
    bool first = a & 1, dl = a & 2;
    char c = 'x';
    for (int i = 0; i < PP_ROUNDS; i++) {
        if (first && goro_write(fd, &c, 1) != 1)
            goto bad;
        ssize_t n = dl ? goro_read_deadline(fd, &c, 1, test_now() + 10000000000ll)
                       : goro_read(fd, &c, 1);
        if (n != 1)
            goto bad;
        if (!first && goro_write(fd, &c, 1) != 1)
            goto bad;
    }
    atomic_fetch_add(&ppdone, 1);
    goro_wg_done(ppwg);
    return;
bad:
    atomic_fetch_add(&ppfail, 1);
    goro_wg_done(ppwg);
}

static void ppmain(void *arg)
{
    (void)arg;
    int sv[PP_PAIRS][2];
    ppwg = goro_wg_new();
    goro_wg_add(ppwg, 2 * PP_PAIRS);
    for (int i = 0; i < PP_PAIRS; i++) {
        sockpair(sv[i]);
        intptr_t dl = (i & 1) ? 2 : 0;
        goro_go(ppside, (void *)(((intptr_t)sv[i][0] << 2) | 1 | dl));
        goro_go(ppside, (void *)(((intptr_t)sv[i][1] << 2) | dl));
    }
    goro_wg_wait(ppwg);
    for (int i = 0; i < PP_PAIRS; i++) {
        goro_close(sv[i][0]);
        goro_close(sv[i][1]);
    }
}

Test(net, readiness_that_comes_before_the_park_is_not_lost, .timeout = 60)
{
    cr_assert_eq(test_run(2, ppmain, NULL), 0);
    cr_assert_eq(ppfail, 0);
    cr_assert_eq(ppdone, 2 * PP_PAIRS);
}

/* ---- what a short read leaves behind ------------------------------------------
 * A short read of a TCP socket took everything there was to read then, but
 * not what comes right after it, nor the peer's FIN or urgent data that
 * came before it: the next read returns those at once (0 at the end). A
 * read that parked on the strength of the short read alone would sleep
 * through them. */

/* tcppair: a connected TCP pair on loopback; from a G. */
static void tcppair(int sv[2])
{
    int lfd = goro_tcp_listen("127.0.0.1", 0, 0);
    sv[0] = goro_tcp_connect("127.0.0.1", test_portof(lfd));
    sv[1] = goro_accept(lfd);
    goro_close(lfd);
}

enum { SK_ROUNDS = 3000, SK_CASES = 300 };
static atomic_int skbad;
static goro_wg *skwg;

static void skecho(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = goro_read(fd, buf, sizeof buf)) > 0)
        if (goro_write(fd, buf, (size_t)n) != n)
            atomic_fetch_add(&skbad, 1);
    goro_close(fd);
    goro_wg_done(skwg);
}

/* A writer for one case: bytes, maybe urgent data and more bytes, maybe a
 * pause (so that the reader parks first), then the FIN. */
static void skwriter(void *arg)
{
    intptr_t a = (intptr_t)arg;
    int fd = (int)(a >> 3);
    if (goro_write(fd, "abc", 3) != 3)
        atomic_fetch_add(&skbad, 1);
    if (a & 1)
        goro_sleep_ns(1000000);
    if (a & 2) {
        if (send(fd, "U", 1, MSG_OOB) != 1 || goro_write(fd, "de", 2) != 2)
            atomic_fetch_add(&skbad, 1);
        goro_sleep_ns(1000000);
    }
    if (a & 4)
        goro_sleep_ns(1000000);
    goro_close(fd);
    goro_wg_done(skwg);
}

static void skipmain(void *arg)
{
    (void)arg;
    skwg = goro_wg_new();
    /* Request and response: every read of the echo G is short. */
    int sv[2];
    tcppair(sv);
    goro_wg_add(skwg, 1);
    goro_go(skecho, (void *)(intptr_t)sv[1]);
    char out[200], in[200];
    for (int i = 0; i < SK_ROUNDS; i++) {
        size_t len = 1 + (size_t)i % sizeof out;
        for (size_t k = 0; k < len; k++)
            out[k] = (char)(i + k);
        if (goro_write(sv[0], out, len) != (ssize_t)len ||
            readfull(sv[0], in, len) != (ssize_t)len ||
            memcmp(in, out, len) != 0)
            atomic_fetch_add(&skbad, 1);
    }
    goro_close(sv[0]);
    goro_wg_wait(skwg);
    /* Short reads followed by a FIN, by urgent data, by a pause. */
    for (int i = 0; i < SK_CASES; i++) {
        tcppair(sv);
        goro_wg_add(skwg, 1);
        goro_go(skwriter, (void *)(((intptr_t)sv[0] << 3) | (i % 8)));
        char buf[64];
        size_t got = 0;
        ssize_t n;
        while ((n = goro_read(sv[1], buf + got, sizeof buf - got)) > 0)
            got += (size_t)n;
        bool oob = i & 2;
        if (n != 0 || got != (oob ? 5u : 3u) ||
            memcmp(buf, oob ? "abcde" : "abc", got) != 0)
            atomic_fetch_add(&skbad, 1);
        goro_close(sv[1]);
        goro_wg_wait(skwg);
    }
    goro_wg_free(skwg);
}

Test(net, a_read_after_a_short_read_misses_nothing, .timeout = 60)
{
    cr_assert_eq(test_run(2, skipmain, NULL), 0);
    cr_assert_eq(atomic_load(&skbad), 0);
}

/* A request and its response with a peer outside the runtime (a plain
 * thread with a blocking socket): the echo G's short read took everything,
 * and its P has nothing else to run, so its M polls as soon as it parks:
 * its next read parks without the call that would say EAGAIN (netfd.c's
 * pollsnext), and still misses nothing. */
enum { RS_ROUNDS = 2000 };
static uint64_t rsskips;
static atomic_int rsbad, rsechoed;

static void *rsclient(void *arg)
{
    int port = (int)(intptr_t)arg;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        atomic_fetch_add(&rsbad, 1);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char out[100], in[100];
    for (int i = 0; i < RS_ROUNDS; i++) {
        size_t len = 1 + (size_t)i % sizeof out, got = 0;
        memset(out, 'a' + i % 26, len);
        if (write(fd, out, len) != (ssize_t)len)
            break;
        ssize_t n = 1;
        while (got < len && (n = read(fd, in + got, len - got)) > 0)
            got += (size_t)n;
        if (got != len || memcmp(in, out, len) != 0) {
            atomic_fetch_add(&rsbad, 1);
            break;
        }
        atomic_fetch_add(&rsechoed, 1);
    }
    close(fd);
    return NULL;
}

static void rsmain(void *arg)
{
    (void)arg;
    int lfd = goro_tcp_listen("127.0.0.1", 0, 0);
    pthread_t t;
    if (lfd < 0 || pthread_create(&t, NULL, rsclient,
                                  (void *)(intptr_t)test_portof(lfd)) != 0) {
        atomic_fetch_add(&rsbad, 1);
        return;
    }
    int fd = goro_accept(lfd);
    uint64_t s0 = test_read_skips();
    char buf[4096];
    ssize_t n;
    while (fd >= 0 && (n = goro_read(fd, buf, sizeof buf)) > 0)
        if (goro_write(fd, buf, (size_t)n) != n)
            atomic_fetch_add(&rsbad, 1);
    rsskips = test_read_skips() - s0;
    goro_close(fd);
    goro_close(lfd);
    pthread_join(t, NULL);
}

Test(net, a_read_after_a_short_read_skips_its_call_when_its_m_polls_next,
     .timeout = 60)
{
    cr_assert_eq(test_run(1, rsmain, NULL), 0);
    cr_assert_eq(atomic_load(&rsbad), 0);
    cr_assert_eq(atomic_load(&rsechoed), RS_ROUNDS);
    /* Nearly every round: its first read, or one after an edge that came
     * before the check, makes the call. */
    cr_expect_geq(rsskips, RS_ROUNDS / 2, "%llu of %d reads skipped",
                  (unsigned long long)rsskips, RS_ROUNDS);
}

/* A close racing an edge for the same fd while other traffic keeps the Ms
 * polling: an M may hold the event for the closed pollDesc (then reused
 * for the next fd of the same number, the fds being recycled): the stale
 * event must be ignored, and the parked reader wakes once, with the byte
 * or -ECANCELED. */
enum { CR_ITERS = 300 };
static atomic_int crok, crbad, crbusy;
static _Atomic bool crstop;
static goro_wg *crwg;

static void crreader(void *arg)
{
    intptr_t a = (intptr_t)arg;
    int fd = (int)(a >> 1);
    char c;
    ssize_t n = (a & 1) ? goro_read_deadline(fd, &c, 1, test_now() + 10000000000ll)
                        : goro_read(fd, &c, 1);
    if (n == 1 || n == -ECANCELED || n == -EBADF)
        atomic_fetch_add(&crok, 1);
    else
        atomic_fetch_add(&crbad, 1);
    goro_wg_done(crwg);
}

static void crbusyside(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c = 'b';
    while (!atomic_load(&crstop)) {
        if (goro_write(fd, &c, 1) != 1 || goro_read(fd, &c, 1) != 1)
            break;
    }
    atomic_fetch_add(&crbusy, 1);
}

static void crbusyecho(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c;
    while (goro_read(fd, &c, 1) == 1 && goro_write(fd, &c, 1) == 1) {
    }
    atomic_fetch_add(&crbusy, 1);
}

static void crmain(void *arg)
{
    (void)arg;
    int bsv[4][2];
    for (int i = 0; i < 4; i++) {
        sockpair(bsv[i]);
        goro_go(crbusyside, (void *)(intptr_t)bsv[i][0]);
        goro_go(crbusyecho, (void *)(intptr_t)bsv[i][1]);
    }
    crwg = goro_wg_new();
    for (int i = 0; i < CR_ITERS; i++) {
        int sv[2];
        sockpair(sv);
        goro_wg_add(crwg, 1);
        goro_go(crreader, (void *)(((intptr_t)sv[0] << 1) | (i & 1)));
        goro_sleep_ns(1000000);
        char c = 'c';
        goro_write(sv[1], &c, 1);
        goro_close(sv[0]);
        goro_wg_wait(crwg);
        goro_close(sv[1]);
    }
    atomic_store(&crstop, true);
    for (int i = 0; i < 4; i++)
        goro_close(bsv[i][0]);  /* wakes the side, EOF for the echo */
    while (atomic_load(&crbusy) < 8)
        goro_sleep_ns(1000000);
    for (int i = 0; i < 4; i++)
        goro_close(bsv[i][1]);
}

Test(net, a_close_racing_an_edge_while_ms_poll_wakes_the_reader_once,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, crmain, NULL), 0);
    cr_assert_eq(crbad, 0);
    cr_assert_eq(crok, CR_ITERS);
}

/* The same race made certain: the reader has loaded the fd's close count
 * and got EAGAIN, and the fd is closed before the reader parks, while the
 * netpoller has never seen it (no pollDesc: nothing to drop), and a new
 * socket takes its number at once. The reader must not sleep on the new
 * socket: the close was counted (netpollclosing counts every goro_close),
 * so its park gives -ECANCELED at once. When the count was skipped for
 * an fd without a pollDesc, the park slept until its deadline. */
static int lateres = 1, latereuse;
static int64_t latewait;

static void latemain(void *arg)
{
    (void)arg;
    int sv[2], sv2[2];
    sockpair(sv);
    uint32_t cgen = netpoll_closegen_of(sv[0]);  /* before its read */
    char c;
    if (recv(sv[0], &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
        return;
    goro_close(sv[0]);
    sockpair(sv2);          /* the lowest free numbers: sv[0]'s again */
    latereuse = sv2[0] == sv[0] || sv2[1] == sv[0];
    int64_t t0 = test_now();
    lateres = netpollpark(getg(), sv[0], cgen, t0 + 5000000000ll,
                          waitReasonIORead, NULL);
    latewait = test_now() - t0;
    goro_close(sv[1]);
    goro_close(sv2[0]);
    goro_close(sv2[1]);
}

Test(net, a_close_before_the_first_park_is_seen_by_the_park, .timeout = 30)
{
    cr_assert_eq(test_run(1, latemain, NULL), 0);
    cr_assert(latereuse, "the new socket did not take the closed number");
    cr_expect_eq(lateres, -ECANCELED,
                 "the park gave %d after %.3f s, not -ECANCELED at once",
                 lateres, latewait / 1e9);
}

/* ---- refused, deadlines, bad input ---------------------------------------- */

static int refused, badhost, badport, badport2, badbuf, badlisten, nullhost;
static ssize_t dlread, dlwrite;
static int dlaccept;
static int64_t dlelapsed, dlaccelapsed;

static void refusedmain(void *arg)
{
    (void)arg;
    int lfd = goro_tcp_listen("127.0.0.1", 0, 0);
    int port = test_portof(lfd);
    goro_close(lfd);
    refused = goro_tcp_connect("127.0.0.1", port);
    badhost = goro_tcp_connect("localhost", port);
    badlisten = goro_tcp_listen("example.com", 0, 0);
    badport = goro_tcp_connect("127.0.0.1", 70000);
    badport2 = goro_tcp_listen("127.0.0.1", -1, 0);
    nullhost = goro_tcp_connect(NULL, 80);
    int sv[2];
    sockpair(sv);
    badbuf = (int)goro_read(sv[0], NULL, 10);
    goro_close(sv[0]);
    goro_close(sv[1]);
}

Test(net, refused_connections_and_bad_input_give_errors, .timeout = 30)
{
    cr_assert_eq(test_run(2, refusedmain, NULL), 0);
    cr_assert_eq(refused, -ECONNREFUSED, "connect gave %d", refused);
    cr_assert_eq(badhost, -EINVAL);
    cr_assert_eq(badlisten, -EINVAL);
    cr_assert_eq(badport, -EINVAL);
    cr_assert_eq(badport2, -EINVAL);
    cr_assert_eq(nullhost, -EINVAL);
    cr_assert_eq(badbuf, -EINVAL);
}

static int64_t dlwait;  /* test_runqwait over the read */

static void deadlinemain(void *arg)
{
    (void)arg;
    int sv[2];
    sockpair(sv);
    char buf[16];
    int64_t w0 = test_runqwait();
    int64_t t0 = test_now();
    dlread = goro_read_deadline(sv[0], buf, sizeof buf, t0 + 100 * 1000000);
    dlelapsed = test_now() - t0;
    dlwait = test_runqwait() - w0;
    /* Fill the send buffer, then a write must time out part-way or at once. */
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    static char big[1 << 20];
    dlwrite = goro_write_deadline(sv[0], big, sizeof big, test_now() + 50000000);
    int lfd = goro_tcp_listen("127.0.0.1", 0, 0);
    t0 = test_now();
    dlaccept = goro_accept_deadline(lfd, t0 + 30 * 1000000);
    dlaccelapsed = test_now() - t0;
    goro_close(lfd);
    goro_close(sv[0]);
    goro_close(sv[1]);
}

Test(net, deadlines_give_etimedout_roughly_on_time, .timeout = 30)
{
    cr_assert_eq(test_run(2, deadlinemain, NULL), 0);
    cr_assert_eq(dlread, -ETIMEDOUT);
    cr_assert_geq(dlelapsed, 100 * 1000000);
    /* Late by at most 300 ms beyond what other work on the machine kept
     * the runtime's threads from running meanwhile. */
    cr_assert_lt(dlelapsed - dlwait, 400 * 1000000,
                 "took %ld ns, %ld of them waiting for a CPU",
                 (long)dlelapsed, (long)dlwait);
    cr_assert(dlwrite > 0 && dlwrite < (1 << 20), "write gave %zd", dlwrite);
    cr_assert_eq(dlaccept, -ETIMEDOUT);
    cr_assert_geq(dlaccelapsed, 30 * 1000000);
}

/* ---- 100,000 timers at once ------------------------------------------------- */

enum { SLEEPERS = 100000 };
static int64_t sleepbase;
static int64_t *woke;          /* wake time of sleeper i */
static uint32_t *wakeorder;    /* order in which sleeper i ran */
static int64_t *waketimes;     /* the wake time sleeper i asked for */
static atomic_uint wakeseq;
static goro_wg *sleepwg;
static goro_wg *sleepgate;     /* holds every sleeper until all exist */

/* The clock on the scheduler stack: a libc call on the G's would make each
 * of the 100,000 Gs grow its stack to take gold's non-split headroom, and a
 * raw system call costs a microsecond or more on a virtual machine, where
 * the vDSO's clock costs tens of nanoseconds. */
static uintptr_t nanotime_g0(void *arg)
{
    (void)arg;
    return (uintptr_t)nanotime();
}

static int64_t g0now(void)
{
    return (int64_t)systemstack(nanotime_g0, NULL);
}

static int64_t target(int i)
{
    return sleepbase + (int64_t)i * 5000;  /* 5 us apart: 0.5 s in all */
}

static void timedsleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    goro_wg_wait(sleepgate);
    int64_t d = target(i) - g0now();
    goro_sleep_ns(d);
    woke[i] = g0now();
    /* The time the runtime was asked for (later than target(i) if the G
     * was held up before it parked); a G held up past its target does not
     * park at all (a sleep of d <= 0 only yields) and is on time when it
     * runs. */
    waketimes[i] = d > 0 ? getg()->waketime : woke[i];
    wakeorder[i] = atomic_fetch_add(&wakeseq, 1);
    goro_wg_done(sleepwg);
}

static int64_t sleepwait;  /* test_runqwait over the sleeps */

static void sleepersmain(void *arg)
{
    (void)arg;
    sleepwg = goro_wg_new();
    sleepgate = goro_wg_new();
    goro_wg_add(sleepwg, SLEEPERS);
    goro_wg_add(sleepgate, 1);
    /* All the sleepers exist and wait at the gate before the clock starts:
     * the timers, not the creation of 100,000 Gs (their first page faults
     * can take longer than the 300 ms below on a virtual machine), are
     * what is measured. */
    for (int i = 0; i < SLEEPERS; i++)
        goro_go(timedsleeper, (void *)(intptr_t)i);
    test_wait_waiting(SLEEPERS);
    int64_t wait0 = test_runqwait();
    sleepbase = test_now() + 300 * 1000000;
    goro_wg_done(sleepgate);
    test_wait_waiting(SLEEPERS);
    goro_wg_wait(sleepwg);
    sleepwait = test_runqwait() - wait0;
    goro_wg_free(sleepgate);
}

struct waked {
    int64_t when;
    uint32_t order;
};

static int bywhen(const void *a, const void *b)
{
    const struct waked *x = a, *y = b;
    return (x->when > y->when) - (x->when < y->when);
}

/* machinefloor: how late a plain thread's 1 ms sleep wakes on this machine
 * now, the worst of 20: what other work does to any wake-up, which the
 * runtime's timers cannot beat. */
static int64_t machinefloor(void)
{
    int64_t worst = 0;
    for (int i = 0; i < 20; i++) {
        struct timespec t0, t1, d = {0, 1000000};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        nanosleep(&d, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int64_t late = (t1.tv_sec - t0.tv_sec) * 1000000000LL +
                       (t1.tv_nsec - t0.tv_nsec) - 1000000;
        if (late > worst)
            worst = late;
    }
    return worst;
}

Test(time, a_hundred_thousand_sleepers_wake_in_order_and_on_time,
     .timeout = 60)
{
    int64_t floor0 = machinefloor();
    woke = calloc(SLEEPERS, sizeof *woke);
    wakeorder = calloc(SLEEPERS, sizeof *wakeorder);
    waketimes = calloc(SLEEPERS, sizeof *waketimes);
    struct waked *w = calloc(SLEEPERS, sizeof *w);
    /* One P: the order in which the Gs run is the order the timer heap
     * readied them (with two, two Ms take batches off the global queue). */
    cr_assert_eq(test_run(1, sleepersmain, NULL), 0);
    int early = 0, late5 = 0, inversions = 0;
    int64_t maxlate = 0;
    for (int i = 0; i < SLEEPERS; i++) {
        int64_t late = woke[i] - waketimes[i];
        if (woke[i] < target(i) || late < 0)
            early++;
        if (late > 5000000)
            late5++;
        if (late > maxlate)
            maxlate = late;
        w[i].when = waketimes[i];
        w[i].order = wakeorder[i];
    }
    /* In order: sorted by the time asked for, no G ran before one due
     * 2 ms or more earlier. The heap readies them in exact order; the
     * scheduler may then run runnable Gs a little out of order (every 61st
     * schedule takes the global queue's head before the local queue, with
     * up to 256 Gs, 1.3 ms of this test's timers; more when a loaded
     * machine made the timer late and one batch holds more): the window
     * is 2 ms or the worst lateness. */
    int64_t window = maxlate > 2000000 ? maxlate : 2000000;
    qsort(w, SLEEPERS, sizeof *w, bywhen);
    uint32_t prefixmax = 0;
    for (int i = 0, j = 0; i < SLEEPERS; i++) {
        for (; w[j].when <= w[i].when - window; j++)
            if (w[j].order > prefixmax)
                prefixmax = w[j].order;
        if (j > 0 && w[i].order < prefixmax)
            inversions++;
    }
    free(w);
    fprintf(stderr, "100k sleepers: max lateness %.2f ms, %d later than "
            "5 ms, %d out of order, threads waited %.1f ms for a CPU\n",
            maxlate / 1e6, late5, inversions, sleepwait / 1e6);
    cr_assert_eq(early, 0);
    cr_assert_eq(inversions, 0, "%d inversions", inversions);
    /* Within 5 ms is the goal (met on a quiet machine: max 2-4 ms, the
     * count printed above); a loaded machine delays the loop thread and
     * the Ms, by as much as a whole batch (make test-loaded: 94,717 later
     * than 5 ms, the worst 376 ms, in order). What is asserted is that
     * none is late by far: 200 ms past what a plain thread's sleep suffers
     * on the machine meanwhile (its worst, before and after the run, ten
     * times over), and past the time the process's threads waited for a
     * CPU while the sleepers slept (other work's, which the runtime cannot
     * have back). */
    int64_t floor1 = machinefloor();
    int64_t floor = floor0 > floor1 ? floor0 : floor1;
    cr_assert_lt(maxlate, 200 * 1000000 + 10 * floor + sleepwait,
                 "max lateness %.1f ms, a plain sleep's %.1f ms, the "
                 "threads waited %.1f ms for a CPU",
                 maxlate / 1e6, floor / 1e6, sleepwait / 1e6);
}

/* ---- files --------------------------------------------------------------------- */

static char filepath[64];
static ssize_t fw1, fw2, fr1, fr2, fbigw, fbigr, fbadfd;
static char frbuf1[8], frbuf2[8];
static int fbigbad = -1;
static atomic_bool scanning;
static goro_wg *filewg;

static void scanner(void *arg)
{
    (void)arg;
    while (atomic_load(&scanning)) {
        goro_stack_scan();
        goro_yield();
    }
    goro_wg_done(filewg);
}

static void filemain(void *arg)
{
    (void)arg;
    int fd = open(filepath, O_RDWR);
    filewg = goro_wg_new();
    goro_wg_add(filewg, 1);
    atomic_store(&scanning, true);
    goro_go(scanner, NULL);
    /* Stack buffers: the stack must not move while the pool uses them. */
    char a[8] = "hello", b[8] = "world";
    fw1 = goro_file_write(fd, a, 5, 100);
    fw2 = goro_file_write(fd, b, 5, 0);
    char x[8] = {0}, y[8] = {0};
    fr1 = goro_file_read(fd, x, 5, 100);
    fr2 = goro_file_read(fd, y, 5, 0);
    memcpy(frbuf1, x, 8);
    memcpy(frbuf2, y, 8);
    size_t n = 256 * 1024;
    unsigned char *w = malloc(n), *r = malloc(n);
    for (size_t i = 0; i < n; i++)
        w[i] = (unsigned char)(i * 7 + 3);
    fbigw = goro_file_write(fd, w, n, 4096);
    fbigr = goro_file_read(fd, r, n, 4096);
    fbigbad = memcmp(w, r, n) != 0;
    free(w);
    free(r);
    fbadfd = goro_file_read(-1, x, 1, 0);
    atomic_store(&scanning, false);
    goro_wg_wait(filewg);
    close(fd);
}

Test(file, reads_and_writes_at_offsets_through_the_thread_pool,
     .timeout = 30)
{
    strcpy(filepath, "/tmp/goro-test-XXXXXX");
    int fd = mkstemp(filepath);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(test_run(2, filemain, NULL), 0);
    unlink(filepath);
    cr_assert_eq(fw1, 5);
    cr_assert_eq(fw2, 5);
    cr_assert_eq(fr1, 5);
    cr_assert_eq(fr2, 5);
    cr_assert_str_eq(frbuf1, "hello");
    cr_assert_str_eq(frbuf2, "world");
    cr_assert_eq(fbigw, 256 * 1024);
    cr_assert_eq(fbigr, 256 * 1024);
    cr_assert_eq(fbigbad, 0);
    cr_assert_eq(fbadfd, -EBADF);
}

/* ---- an idle runtime ----------------------------------------------------------- */

static int64_t idlecpu = -1;

static int64_t cputime(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void idlereader(void *arg)
{
    char buf[8];
    goro_read((int)(intptr_t)arg, buf, sizeof buf);
}

static void idlemain(void *arg)
{
    (void)arg;
    int sv[2];
    sockpair(sv);
    goro_go(idlereader, (void *)(intptr_t)sv[0]);
    goro_sleep_ns(100 * 1000000);  /* let everything settle */
    int64_t c0 = cputime();
    goro_sleep_ns(2000 * 1000000LL);
    idlecpu = cputime() - c0;
    goro_close(sv[0]);
    goro_close(sv[1]);
}

Test(net, an_idle_runtime_uses_almost_no_cpu, .timeout = 30)
{
    cr_assert_eq(test_run(2, idlemain, NULL), 0);
    cr_log_info("idle runtime: %ld us of CPU in 2 s", (long)idlecpu);
    cr_assert_geq(idlecpu, 0);
    cr_assert_lt(idlecpu, 50000, "%ld us of CPU in 2 s idle", (long)idlecpu);
}

/* ---- the M that blocks in the netpoller ------------------------------------ */

/* blockedm: the M blocked in the netpoller, if exactly one M is neither
 * running with a P, nor on the idle list, nor on its way to a P (nextp),
 * nor ended; NULL otherwise. Takes sched.lock. */
static m *blockedm(void)
{
    m *found = NULL;
    int n = 0;
    lock(&sched.lock);
    for (m *mp = atomic_load(&allm); mp != NULL; mp = mp->alllink) {
        bool idle = false;
        for (m *i = sched.midle; i != NULL; i = i->schedlink)
            idle |= i == mp;
        if (idle || mp->p != NULL || mp->nextp != NULL || mp->dead ||
            mp->lockedg != NULL)
            continue;
        found = mp;
        n++;
    }
    unlock(&sched.lock);
    return n == 1 ? found : NULL;
}

static int bsv[2];
static m *_Atomic bwaiter;       /* the M blocked when the byte was sent */
static m *_Atomic breader;       /* the M that ran the woken reader */
static atomic_int bsent, bgot;
static int bmnext0, bmnext1;
static atomic_bool bspin, bspinning;

static void breadone(void *arg)
{
    goro_wg *wg = arg;
    char c;
    if (goro_read(bsv[0], &c, 1) == 1) {
        atomic_store(&breader, getg()->m);
        atomic_store(&bgot, 1);
    }
    goro_wg_done(wg);
}

/* The writer is a plain thread: it waits until one M blocks in the
 * netpoller (every other one idle or running), notes which, and wakes the
 * reader with a byte. */
static void *bwriter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        m *mp = blockedm();
        if (mp != NULL && netpollblocked()) {
            usleep(2000);
            if (blockedm() == mp && netpollblocked()) {
                atomic_store(&bwaiter, mp);
                break;
            }
        }
        usleep(1000);
    }
    if (write(bsv[1], "x", 1) == 1)
        atomic_store(&bsent, 1);
    return NULL;
}

static void bspinner(void *arg)
{
    goro_wg *wg = arg;
    atomic_store(&bspinning, true);
    while (atomic_load(&bspin))
        ;  /* no call: never back in the scheduler (slices are off) */
    goro_wg_done(wg);
}

static void bmain(void *arg)
{
    bool spin = arg != NULL;
    sockpair(bsv);
    goro_wg *wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(breadone, wg);
    goro_wg *swg = goro_wg_new();
    if (spin) {
        atomic_store(&bspin, true);
        goro_wg_add(swg, 1);
        goro_go(bspinner, swg);
        while (!atomic_load(&bspinning))
            goro_yield();
    }
    /* Timers wake main while the idle M blocks in the netpoller: with no
     * idle M, startm must hand it the P rather than make a thread. */
    bmnext0 = sched.mnext;
    for (int i = 0; i < 50; i++)
        goro_sleep_ns(500000);
    bmnext1 = sched.mnext;
    pthread_t t;
    if (pthread_create(&t, NULL, bwriter, NULL) == 0) {
        goro_wg_wait(wg);
        pthread_join(t, NULL);
    }
    atomic_store(&bspin, false);
    goro_wg_wait(swg);
    goro_wg_free(wg);
    goro_wg_free(swg);
    goro_close(bsv[0]);
    goro_close(bsv[1]);
}

static void bcheck(int procs, bool spin)
{
    atomic_store(&bwaiter, NULL);
    atomic_store(&breader, NULL);
    atomic_store(&bsent, 0);
    atomic_store(&bgot, 0);
    atomic_store(&bspinning, false);
    cr_assert_eq(test_run(procs, bmain, spin ? (void *)1 : NULL), 0);
    cr_assert(bsent && bgot, "the byte was %s and %s", bsent ? "sent" : "lost",
              bgot ? "read" : "not read");
    cr_assert_not_null(bwaiter, "no M was seen blocked in the netpoller");
    cr_assert_eq(breader, bwaiter, "the reader ran on m%d, not on m%d, "
                 "which blocked in the netpoller", breader ? breader->id : -1,
                 bwaiter->id);
    cr_assert_eq(bmnext1, bmnext0, "%d threads made for 50 timer wake-ups "
                 "while an M blocked in the netpoller", bmnext1 - bmnext0);
    /* It is on no idle list: exitall must wake it too. */
    test_assert_ms_end();
}

Test(net, an_idle_m_blocks_in_the_netpoller_and_runs_the_g_it_wakes,
     .timeout = 60)
{
    bcheck(1, false);
}

Test(net, an_fd_wakes_its_g_on_the_idle_p_while_the_other_spins,
     .timeout = 60)
{
    setenv("GORO_TIME_SLICE", "0", 1);
    bcheck(2, true);
    unsetenv("GORO_TIME_SLICE");
}
