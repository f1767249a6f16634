/*
 * httphello.c - an HTTP/1.1 "hello" server as a gorod task plugin.
 *
 * Every request gets `200 OK` with the body "hello\n"; what makes it worth
 * an example is that it speaks HTTP/1.1 properly enough to face real clients
 * and load tools (curl, wrk): persistent connections, pipelining, requests
 * that arrive in pieces, request bodies skipped by their Content-Length,
 * `Connection: close`, HTTP/1.0 (persistent only when it asks for
 * keep-alive), and `400 Bad Request` followed by a close for anything that
 * is not a request. Each response counts as one request served.
 *
 On the server skeleton of tcpserver.h: one G accepts (start itself), one
 * G serves each connection; arguments port=N (default 8080), host=ADDR,
 * listener=NAME and the deadlines below. A
 * connection's buffers are on the heap, in its conn, never on the G's stack:
 * the stack stays small (the G parks in goro_read with a few hundred bytes of
 * frames) and nothing points into it. The parser works on whatever has
 * arrived: it looks for the end of the header block ("\r\n\r\n"), and until
 * it is there only checks the request line once that is complete, so that
 * garbage is answered at once rather than when the buffer fills. Responses
 * to pipelined requests are gathered and written with one goro_write when
 * no complete request is left in the input. Headers larger than the input
 * buffer (8 KiB) get 431; a Transfer-Encoding (a chunked request body) gets
 * 501, both with a close.
 *
 * Deadlines, so that slow or silent clients (slowloris, a client that
 * never reads) cannot hold Gs and fds for ever; each closes the
 * connection, and 0 turns it off:
 *   idle_timeout=D (60s)    between requests: from the end of one (or the
 *                           connection's start) to the first byte of the
 *                           next;
 *   request_timeout=D (10s) from a request's first byte until it is in
 *                           whole, headers and body: one deadline for the
 *                           request, not renewed by each byte that
 *                           trickles in;
 *   write_timeout=D (10s)   for each write of responses (a client that
 *                           does not read what it asked for).
 * Rejected: a read deadline renewed at every read (a byte every few
 * seconds keeps a connection for ever).
 *
 * start returns when the plugin's work is done: after stop, once every
 * connection G has finished; nonzero at once for bad arguments or a port
 * that cannot be bound. stop shuts the sockets down (it never closes them:
 * see tcpserver.h for why) and every G closes its own fd.
 */
#define _GNU_SOURCE             /* memmem */
#include <goro.h>
#include <goro/plugin.h>

#include <strings.h>
#include <time.h>

#include "tcpserver.h"

#define PLUGIN    "httphello"
#define INBUF     8192
#define OUTBUF    16384
#define OUTSLACK  512           /* room one response surely fits in */
#define SEC       (1000LL * 1000 * 1000)
#define TIMEOUT_MAX_NS (24 * 3600 * SEC)

/* The deadlines, set by start before any connection G runs; 0: none. */
static int64_t idle_ns, request_ns, write_ns;

/* after: now + ns, or 0 (no deadline) for 0. */
static int64_t after(int64_t ns)
{
    return ns > 0 ? goro_now() + ns : 0;
}

typedef struct conn {
    tcpconn head;
    size_t inlen, outlen;
    uint64_t discard;           /* request body bytes still to skip */
    uint64_t answered;          /* requests answered on it */
    char in[INBUF];
    char out[OUTBUF];
} conn;

/* ---- HTTP ----------------------------------------------------------------- */

/* RFC 9110 tchar: the characters of a token (method, header name). */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* find: the first occurrence of the n-byte needle in [p, p+len), or NULL. */
static const char *find(const char *p, size_t len, const char *needle, size_t n)
{
    return memmem(p, len, needle, n);
}

enum { REQ_OK = 0, REQ_BAD = 400, REQ_TOO_LARGE = 431, REQ_NOT_IMPL = 501,
       REQ_VERSION = 505 };

typedef struct request {
    bool head;          /* HEAD: no body in the response */
    bool http10;
    bool keepalive;     /* the connection stays open after the response */
    uint64_t content_length;
} request;

/* parse_request_line: "METHOD SP TARGET SP HTTP/1.x"; REQ_OK or an error. */
static int parse_request_line(const char *p, size_t len, request *rq)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= len || p[i] != ' ')
        return REQ_BAD;
    rq->head = i == 4 && memcmp(p, "HEAD", 4) == 0;
    size_t t = ++i;
    while (i < len && (unsigned char)p[i] > ' ' && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == t || i >= len || p[i] != ' ')
        return REQ_BAD;
    i++;
    if (len - i != 8 || memcmp(p + i, "HTTP/", 5) != 0 ||
        p[i + 5] < '0' || p[i + 5] > '9' || p[i + 6] != '.' ||
        p[i + 7] < '0' || p[i + 7] > '9')
        return REQ_BAD;
    if (p[i + 5] != '1')
        return REQ_VERSION;
    rq->http10 = p[i + 7] == '0';   /* 1.1 and later minors: as 1.1 */
    return REQ_OK;
}

/* has_token: whether the comma-separated list v (n bytes) holds tok. */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* parse_request: the whole header block [p, p+len), the request line and
 * header lines each ended by CRLF, without the final empty line. */
static int parse_request(const char *p, size_t len, request *rq)
{
    memset(rq, 0, sizeof *rq);
    const char *eol = find(p, len, "\r\n", 2);
    size_t l = eol ? (size_t)(eol - p) : len;
    int r = parse_request_line(p, l, rq);
    if (r != REQ_OK)
        return r;
    bool conn_close = false, conn_keep = false, have_host = false,
         have_length = false;
    size_t i = eol ? l + 2 : len;
    while (i < len) {
        const char *line = p + i;
        eol = find(line, len - i, "\r\n", 2);
        l = eol ? (size_t)(eol - line) : len - i;
        i += eol ? l + 2 : l;
        /* name ":" OWS value OWS; no folding, no space before the colon. */
        size_t k = 0;
        while (k < l && is_tchar((unsigned char)line[k]))
            k++;
        if (k == 0 || k >= l || line[k] != ':')
            return REQ_BAD;
        const char *name = line;
        size_t nlen = k;
        k++;
        while (k < l && (line[k] == ' ' || line[k] == '\t'))
            k++;
        const char *val = line + k;
        size_t vlen = l - k;
        while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
            vlen--;
        for (size_t j = 0; j < vlen; j++) {
            unsigned char c = (unsigned char)val[j];
            if ((c < ' ' && c != '\t') || c == 0x7f)
                return REQ_BAD;
        }
        if (nlen == 10 && strncasecmp(name, "Connection", 10) == 0) {
            conn_close |= has_token(val, vlen, "close");
            conn_keep |= has_token(val, vlen, "keep-alive");
        } else if (nlen == 4 && strncasecmp(name, "Host", 4) == 0) {
            if (have_host)
                return REQ_BAD;
            have_host = true;
        } else if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
            uint64_t v = 0;
            if (vlen == 0 || vlen > 18)
                return REQ_BAD;
            for (size_t j = 0; j < vlen; j++) {
                if (val[j] < '0' || val[j] > '9')
                    return REQ_BAD;
                v = v * 10 + (uint64_t)(val[j] - '0');
            }
            if (have_length && v != rq->content_length)
                return REQ_BAD;
            have_length = true;
            rq->content_length = v;
        } else if (nlen == 17 &&
                   strncasecmp(name, "Transfer-Encoding", 17) == 0) {
            return REQ_NOT_IMPL;
        }
    }
    if (!rq->http10 && !have_host)
        return REQ_BAD;         /* RFC 9112 3.2: a 1.1 request needs Host */
    rq->keepalive = rq->http10 ? conn_keep && !conn_close : !conn_close;
    return REQ_OK;
}

/* respond: append a response to c->out (there is OUTSLACK room). */
static void respond(conn *c, int status, const request *rq)
{
    const char *reason, *body;
    switch (status) {
    case 200: reason = "OK"; body = "hello\n"; break;
    case 431: reason = "Request Header Fields Too Large";
              body = "request header too large\n"; break;
    case 501: reason = "Not Implemented"; body = "not implemented\n"; break;
    case 505: reason = "HTTP Version Not Supported";
              body = "HTTP version not supported\n"; break;
    default:  reason = "Bad Request"; body = "bad request\n"; break;
    }
    bool keep = status == 200 && rq->keepalive;
    const char *connhdr = !keep ? "Connection: close\r\n"
                          : rq->http10 ? "Connection: keep-alive\r\n" : "";
    size_t blen = strlen(body);
    int n = snprintf(c->out + c->outlen, OUTBUF - c->outlen,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n%s\r\n%s",
                     status, reason, blen, connhdr,
                     status == 200 && rq->head ? "" : body);
    if (n > 0 && (size_t)n < OUTBUF - c->outlen)
        c->outlen += (size_t)n;
    c->answered++;
    goro_plugin_served(1);
}

static bool flush(conn *c)
{
    if (c->outlen == 0)
        return true;
    ssize_t n = goro_write_deadline(c->head.fd, c->out, c->outlen,
                                    after(write_ns));
    bool ok = n == (ssize_t)c->outlen;
    c->outlen = 0;
    return ok;
}

/* serve_input: answer every complete request in c->in. Returns false when
 * the connection is to be closed (after what was answered is flushed). */
static bool serve_input(conn *c)
{
    size_t pos = 0;
    bool open = true;
    while (open) {
        if (c->discard > 0) {
            size_t n = c->inlen - pos;
            if (n > c->discard)
                n = (size_t)c->discard;
            pos += n;
            c->discard -= n;
            if (c->discard > 0)
                break;
        }
        const char *p = c->in + pos;
        size_t avail = c->inlen - pos;
        if (avail == 0)
            break;
        const char *end = find(p, avail, "\r\n\r\n", 4);
        request rq;
        memset(&rq, 0, sizeof rq);
        if (end == NULL) {
            /* Incomplete: answer a bad request line now, else wait. */
            const char *eol = find(p, avail, "\r\n", 2);
            int r = REQ_OK;
            if (eol != NULL)
                r = parse_request_line(p, (size_t)(eol - p), &rq);
            else if (avail > 0 && !is_tchar((unsigned char)p[0]))
                r = REQ_BAD;
            if (r == REQ_OK && pos == 0 && avail == INBUF)
                r = REQ_TOO_LARGE;
            if (r != REQ_OK) {
                respond(c, r, &rq);
                open = false;
            }
            break;
        }
        size_t hlen = (size_t)(end - p);
        int r = parse_request(p, hlen + 2, &rq);
        if (r != REQ_OK) {
            respond(c, r, &rq);
            open = false;
            break;
        }
        pos += hlen + 4;
        c->discard = rq.content_length;
        if (c->outlen > OUTBUF - OUTSLACK && !flush(c))
            return false;
        respond(c, 200, &rq);
        if (!rq.keepalive)
            open = false;
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    if (!flush(c))
        return false;
    return open;
}

/* httphello_serve: serve one connection until it closes, a deadline
 * passes, or stop. Between requests the read waits until the idle
 * deadline; the first byte of a request sets the request's deadline,
 * which the reads of the rest of it keep; a request answered with input
 * left over (a pipelined one begun) starts the next one's. */
static void httphello_serve(tcpconn *tc)
{
    conn *c = (conn *)tc;
    c->inlen = c->outlen = 0;
    c->discard = 0;
    c->answered = 0;
    int64_t deadline = after(idle_ns);
    for (;;) {
        bool idle = c->inlen == 0 && c->discard == 0;
        ssize_t n = goro_read_deadline(c->head.fd, c->in + c->inlen,
                                       INBUF - c->inlen, deadline);
        if (n <= 0)
            break;      /* end of file, a deadline, an error or stop */
        if (idle)
            deadline = after(request_ns);
        c->inlen += (size_t)n;
        uint64_t before = c->answered;
        if (!serve_input(c))
            break;
        if (c->inlen == 0 && c->discard == 0)
            deadline = after(idle_ns);
        else if (c->answered != before)
            deadline = after(request_ns);
    }
}

static int httphello_arg(const char *key, const char *val)
{
    int64_t *to = strcmp(key, "idle_timeout") == 0      ? &idle_ns
                  : strcmp(key, "request_timeout") == 0 ? &request_ns
                  : strcmp(key, "write_timeout") == 0   ? &write_ns
                                                        : NULL;
    if (to == NULL)
        return ARG_UNKNOWN;
    if (!plugin_parse_duration(val, TIMEOUT_MAX_NS, to)) {
        fprintf(stderr, "%s: %s: '%s' is not 0 or a duration with ms, s or "
                "m up to 24h (e.g. 10s)\n", PLUGIN, key, val);
        return ARG_BAD;
    }
    return ARG_OK;
}

static tcpserver srv = {.plugin = PLUGIN, .default_port = 8080,
                        .conn_size = sizeof(conn), .serve = httphello_serve,
                        .arg = httphello_arg,
                        .known = "port, host, listener, idle_timeout, "
                                 "request_timeout, write_timeout"};

__attribute__((constructor)) static void httphello_init(void)
{
    tcpserver_init(&srv);
}

__attribute__((destructor)) static void httphello_fini(void)
{
    tcpserver_fini(&srv);
}

static int httphello_start(const char *args)
{
    idle_ns = 60 * SEC;
    request_ns = 10 * SEC;
    write_ns = 10 * SEC;
    return tcpserver_start(&srv, args);
}

static void httphello_stop(void)
{
    tcpserver_stop(&srv);
}

GORO_PLUGIN_DEFINE(PLUGIN, "1.0", httphello_start, httphello_stop);
