/*
 * test_deadlines.c - the example servers' deadlines: echo closes a client
 * that is idle (sends nothing, or reads nothing) for its idle_timeout, and
 * httphello gives a request one deadline from its first byte (not renewed
 * by each byte that trickles in) and each write of responses another, so
 * that slow or silent clients do not hold Gs and fds for ever.
 *
 * Each test runs the real gorod (admutil.h) with one plugin on a free
 * port and short timeouts, and a plain blocking or non-blocking client.
 * Bounds are the configured timeout below and a generous margin above: a
 * loaded machine delays the close, it does not bring it forward.
 */
#include <poll.h>

#include "admutil.h"

/* dl_start runs gorod with the example plugin NAME and args (the port is
 * added), and returns that port. */
static int dl_start(adm_daemon *d, const char *name, const char *args)
{
    const char *pdir = getenv("GOROD_PLUGINS");
    if (pdir == NULL)
        cr_skip_test("GOROD_PLUGINS names the example plugins (make test)");
    adm_init(d, "deadlines");
    int port;
    do
        port = adm_free_port();
    while (port == d->metrics_port);
    char *text;
    cr_assert(asprintf(&text,
                       "log:\n  level: debug\n  target: stderr\n"
                       "admin:\n  socket: %s\n  mode: 0600\n"
                       "metrics:\n  listen: \"\"\n"
                       "status_interval: 0\nshutdown_timeout: 5s\n"
                       "plugins:\n"
                       "  - name: %s\n"
                       "    path: %s/%s.so\n"
                       "    args: \"port=%d %s\"\n",
                       d->sock, name, pdir, name, port, args) > 0);
    adm_writefile(d->conf, text);
    free(text);
    adm_spawn(d);
    adm_wait_ready(d);
    return port;
}

/* dl_connect: a connection to port, retried while the plugin starts. */
static int dl_connect(int port)
{
    int fd;
    int64_t deadline = adm_now_ms() + 5000;
    while ((fd = adm_tcp_connect(port)) < 0 && adm_now_ms() < deadline)
        adm_sleep_ms(20);
    cr_assert(fd >= 0, "connect 127.0.0.1:%d: %s", port, strerror(-fd));
    return fd;
}

/* dl_closed_within: whether the server closes fd (end of file, a reset)
 * within ms of start (adm_now_ms), reading and dropping what it sends;
 * *took gets the time since start. A caller that checks a lower bound
 * reads start before what arms the server's deadline: a loaded machine
 * may wake this thread late for what it waits for before the call. */
static bool dl_closed_within(int fd, int64_t start, int ms, int64_t *took)
{
    char buf[4096];
    while (adm_now_ms() - start < ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            *took = adm_now_ms() - start;
            return true;
        }
    }
    *took = adm_now_ms() - start;
    return false;
}

/* ---- echo ------------------------------------------------------------------- */

Test(deadlines, echo_closes_a_client_that_sends_nothing_for_its_idle_timeout,
     .timeout = 60)
{
    adm_daemon d;
    int port = dl_start(&d, "echo", "idle_timeout=500ms");
    int fd = dl_connect(port);
    char buf[8];
    int64_t start = adm_now_ms();   /* the idle time counts from the echo */
    cr_assert_eq(send(fd, "hi", 2, MSG_NOSIGNAL), 2);
    cr_assert_eq(recv(fd, buf, 2, MSG_WAITALL), 2);
    int64_t took;
    cr_expect(dl_closed_within(fd, start, 10000, &took),
              "echo kept an idle client for 10 s");
    cr_expect_geq(took, 450, "closed after %lld ms, before idle_timeout",
                  (long long)took);
    close(fd);
    cr_expect_eq(adm_stop(&d), 0);
}

/* dl_talk sends a byte every 50 ms on a new connection to port until it
 * has talked for ms, and returns 1. A close ends it early: 0 if the byte
 * before the close left more than stalled_ms after the one before it (the
 * machine held the client back, so the server rightly saw it idle), else
 * -1 with *gap the time between those two bytes. */
static int dl_talk(int port, int ms, int stalled_ms, int64_t *gap)
{
    int fd = dl_connect(port);
    int64_t start = adm_now_ms(), sent = start;
    int res = 1;
    for (int i = 0; adm_now_ms() - start < ms; i++) {
        char c = (char)('a' + i % 26), back = 0;
        int64_t t = adm_now_ms();
        *gap = t - sent;
        sent = t;
        if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 || recv(fd, &back, 1, 0) != 1) {
            res = *gap > stalled_ms ? 0 : -1;
            break;
        }
        cr_assert_eq(back, c);
        adm_sleep_ms(50);
    }
    close(fd);
    return res;
}

Test(deadlines, echo_keeps_a_client_that_keeps_talking_past_its_idle_timeout,
     .timeout = 60)
{
    adm_daemon d;
    int port = dl_start(&d, "echo", "idle_timeout=1s");
    /* 3 s of a byte every 50 ms: three idle timeouts, never idle. A
     * machine loaded by other work can hold the client back for longer
     * than the timeout; such a connection proves nothing, so another is
     * tried (up to 40 s). A close that follows a gap under half the
     * timeout is the server's fault. */
    int64_t end = adm_now_ms() + 40000, gap = 0;
    int res;
    while ((res = dl_talk(port, 3000, 500, &gap)) == 0 && adm_now_ms() < end)
        ;
    cr_expect_neq(res, -1, "closed after a byte sent %lld ms after the one "
                           "before it, under half the 1 s idle_timeout",
                  (long long)gap);
    if (res != -1)
        cr_expect_eq(res, 1, "every connection for 40 s was held back by "
                             "the machine");
    cr_expect_eq(adm_stop(&d), 0);
}

Test(deadlines, echo_rejects_a_bad_idle_timeout_by_name, .timeout = 60)
{
    adm_daemon d;
    dl_start(&d, "echo", "idle_timeout=soon");
    int64_t deadline = adm_now_ms() + 5000;
    char *log = NULL;
    do {
        free(log);
        adm_sleep_ms(20);
        log = adm_slurp(d.log);
    } while (strstr(log, "start returned 1") == NULL &&
             adm_now_ms() < deadline);
    cr_expect_not_null(strstr(log, "echo: idle_timeout: 'soon' is not 0 or "
                                   "a duration"), "%s", log);
    free(log);
    adm_stop(&d);
}

/* ---- httphello -------------------------------------------------------------- */

/* A request whose header block never ends, a byte every 100 ms: with a
 * read deadline renewed at each byte it would stay for ever. */
Test(deadlines, httphello_cuts_a_trickling_request_at_its_request_timeout,
     .timeout = 60)
{
    adm_daemon d;
    int port = dl_start(&d, "httphello",
                        "idle_timeout=60s request_timeout=1s");
    int fd = dl_connect(port);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    int64_t start = adm_now_ms(), took = -1;
    for (int i = 0; adm_now_ms() - start < 10000; i++) {
        char c = i < (int)sizeof req - 1 ? req[i] : 'a';
        if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 ||
            dl_closed_within(fd, adm_now_ms(), 100, &took)) {
            took = adm_now_ms() - start;
            break;
        }
        took = -1;
    }
    cr_expect(took >= 0, "a request trickling in for 10 s was not cut");
    cr_expect_geq(took, 900, "cut after %lld ms, before request_timeout",
                  (long long)took);
    close(fd);
    cr_expect_eq(adm_stop(&d), 0);
}

Test(deadlines, httphello_closes_a_silent_connection_at_its_idle_timeout,
     .timeout = 60)
{
    adm_daemon d;
    int port = dl_start(&d, "httphello", "idle_timeout=500ms");
    int fd = dl_connect(port);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    /* The idle time counts from the response. */
    int64_t start = adm_now_ms();
    cr_assert_eq(send(fd, req, sizeof req - 1, MSG_NOSIGNAL),
                 (ssize_t)sizeof req - 1);
    char buf[256];
    cr_assert_gt(recv(fd, buf, sizeof buf, 0), 0);
    int64_t took;
    cr_expect(dl_closed_within(fd, start, 10000, &took),
              "httphello kept a silent connection for 10 s");
    cr_expect_geq(took, 450, "closed after %lld ms, before idle_timeout",
                  (long long)took);
    close(fd);
    cr_expect_eq(adm_stop(&d), 0);
}

/* A client that pipelines requests and reads none of the responses: once
 * the socket buffers are full the server's write waits, and
 * write_timeout ends it. The client never reads, so it sees the close as
 * a reset of its own sends or an error on the socket. */
Test(deadlines, httphello_cuts_a_client_that_reads_nothing_at_its_write_timeout,
     .timeout = 60)
{
    adm_daemon d;
    int port = dl_start(&d, "httphello",
                        "write_timeout=500ms request_timeout=60s");
    int fd = dl_connect(port);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    char batch[64 * (sizeof req - 1)];
    for (size_t i = 0; i < 64; i++)
        memcpy(batch + i * (sizeof req - 1), req, sizeof req - 1);
    int64_t start = adm_now_ms(), stalled = -1;
    bool cut = false;
    while (!cut && adm_now_ms() - start < 15000) {
        ssize_t n = send(fd, batch, sizeof batch, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            cut = true;
            break;
        }
        if (n < 0 && stalled < 0)
            stalled = adm_now_ms();     /* every buffer on the way full */
        struct pollfd p = {.fd = fd, .events = 0};
        if (poll(&p, 1, n < 0 ? 50 : 0) > 0 &&
            (p.revents & (POLLERR | POLLHUP)))
            cut = true;
    }
    cr_expect(cut, "a client that reads nothing was held for 15 s");
    cr_expect(stalled >= 0, "the client's sends never stalled");
    cr_log_info("cut %lld ms after the client's sends stalled",
                (long long)(adm_now_ms() - stalled));
    close(fd);
    cr_expect_eq(adm_stop(&d), 0);
}
