/* ssl.c - goro's OpenSSL adapter used as a program uses it (built with
 * `pkg-config --cflags --libs goro goro-ssl`), run by tests/test_ssl.c
 * with a certificate it generated. Each mode prints one line of
 * key=value results that the test asserts.
 *
 *   sslprog echo CERT KEY SESSIONS ROUNDS
 *       a TLS echo server in Gs and SESSIONS client Gs that each connect,
 *       verify the server (CERT is its own CA, name "localhost"), wait
 *       until all SESSIONS are established at once, then echo ROUNDS
 *       messages and close with close_notify.
 *   sslprog badca CERT KEY OTHERCERT GS
 *       GS clients that trust OTHERCERT only: each handshake fails with
 *       -EPROTO, goro_tls_error names the verification failure, and the
 *       thread's error queue is empty after every call.
 *   sslprog serve CERT KEY
 *       prints port=N, serves one TLS connection (an outside client:
 *       openssl s_client), echoing lines until the line QUIT, then
 *       closes it and exits.
 */
#include <goro.h>
#include <goro/ssl.h>

#include <openssl/err.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>

static const char *cert, *key, *othercert;
static int sessions, rounds;
static SSL_CTX *sctx, *cctx;
static int lfd, port;
static goro_wg *wg, *established;
static goro_mutex *mu;
static long ok, errs, firsterr, queue_dirty, verify_failed;
static atomic_long server_errs;  /* reads that failed other than by EOF */

static SSL_CTX *server_ctx(void)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (c == NULL || SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        exit(1);
    }
    return c;
}

static SSL_CTX *client_ctx(const char *ca)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (c == NULL || SSL_CTX_load_verify_locations(c, ca, NULL) != 1) {
        ERR_print_errors_fp(stderr);
        exit(1);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    return c;
}

/* peek_g0: is an error left on this thread's queue? Read on the thread's
 * stack, as goro.h says per-thread state must be (goro_cgocall). */
static void peek_g0(void *arg)
{
    *(unsigned long *)arg = ERR_peek_error();
}

static void note(long good, long bad, long err)
{
    unsigned long left;
    goro_cgocall(peek_g0, &left);
    goro_mutex_lock(mu);
    ok += good;
    errs += bad;
    if (err != 0 && firsterr == 0)
        firsterr = err;
    if (left != 0)
        queue_dirty++;  /* an error left on this thread's queue */
    goro_mutex_unlock(mu);
}

static void listen_any(void)
{
    lfd = goro_listen("tcp4", "127.0.0.1:0", 4096);
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    port = ntohs(sin.sin_port);
}

/* ---- the server ----------------------------------------------------------- */

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    goro_tls *t;
    char *buf = malloc(4096);
    if (goro_tls_server(&t, sctx, fd) == 0) {
        for (;;) {
            ssize_t n = goro_tls_read(t, buf, 4096, 0);
            if (n <= 0) {
                if (n < 0 && n != -ECONNRESET)
                    atomic_fetch_add(&server_errs, 1);
                break;
            }
            if (goro_tls_write(t, buf, (size_t)n, 0) != n)
                break;
        }
        goro_tls_free(t);
    }
    free(buf);
    goro_close(fd);
}

static goro_group *servers;  /* the server's connection Gs */

static void acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = goro_accept(lfd);
        if (fd < 0)
            break;
        goro_group_go(servers, serve, (void *)(intptr_t)fd);
    }
}

/* maxstack: the largest stack of the server's connection Gs. */
static uint64_t maxstack(void)
{
    static goro_ginfo gi[8192];
    int64_t n = goro_gs_snapshot(gi, 8192);
    uint64_t max = 0;
    for (int64_t i = 0; i < n && i < 8192; i++)
        if (strcmp(gi[i].group, "tlsserver") == 0 && gi[i].stack_size > max)
            max = gi[i].stack_size;
    return max;
}

/* ---- echo ------------------------------------------------------------------- */

static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int fd = goro_dial("tcp", addr, goro_now() + 60000000000LL);
    goro_tls *t = NULL;
    long err = fd < 0 ? fd : goro_tls_client(&t, cctx, fd, "localhost");
    if (err == 0)
        err = goro_tls_handshake(t, 0);
    goro_wg_done(established);
    goro_wg_wait(established);  /* every session is up at once here */
    long good = 0;
    char msg[64], got[64];
    for (int i = 0; err == 0 && i < rounds; i++) {
        int len = snprintf(msg, sizeof msg, "session %d round %d", id, i);
        ssize_t n = goro_tls_write(t, msg, (size_t)len, 0);
        if (n != len) {
            err = n < 0 ? n : -EIO;
            break;
        }
        int have = 0;
        while (have < len) {
            n = goro_tls_read(t, got + have, (size_t)(len - have), 0);
            if (n <= 0) {
                err = n < 0 ? n : -ECONNRESET;
                break;
            }
            have += (int)n;
        }
        if (err == 0 && memcmp(msg, got, (size_t)len) == 0)
            good++;
    }
    if (t != NULL) {
        goro_tls_shutdown(t, 0);
        goro_tls_free(t);
    }
    if (fd >= 0)
        goro_close(fd);
    note(good == rounds, err != 0 || good != rounds, err);
    goro_wg_done(wg);
}

static void echo(void)
{
    sctx = server_ctx();
    cctx = client_ctx(cert);
    listen_any();
    goro_go(acceptor, NULL);
    goro_wg_add(wg, sessions);
    goro_wg_add(established, sessions);
    goro_stats st0, st1;
    goro_stats_get(&st0);
    int64_t t0 = goro_now();
    for (int i = 0; i < sessions; i++)
        goro_go(client, (void *)(intptr_t)i);
    goro_wg_wait(established);  /* every session up: each has its G */
    uint64_t maxstk = maxstack();
    goro_wg_wait(wg);
    goro_stats_get(&st1);
    printf("rc=0 ok=%ld errors=%ld firsterr=%ld dirty=%ld grows=%llu "
           "maxstack=%llu server_errors=%ld ms=%lld\n", ok, errs, firsterr,
           queue_dirty,
           (unsigned long long)(st1.stack_grows - st0.stack_grows),
           (unsigned long long)maxstk, (long)server_errs,
           (long long)((goro_now() - t0) / 1000000));
}

/* ---- a CA that does not match ---------------------------------------------------- */

static void badclient(void *arg)
{
    (void)arg;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int fd = goro_dial("tcp", addr, 0);
    goro_tls *t = NULL;
    long err = fd < 0 ? fd : goro_tls_client(&t, cctx, fd, "localhost");
    if (err == 0)
        err = goro_tls_handshake(t, 0);
    int verify = t != NULL && ERR_GET_REASON(goro_tls_error(t)) ==
                                  SSL_R_CERTIFICATE_VERIFY_FAILED;
    goro_mutex_lock(mu);
    verify_failed += verify && err == -EPROTO;
    goro_mutex_unlock(mu);
    goro_tls_free(t);
    if (fd >= 0)
        goro_close(fd);
    note(0, err != -EPROTO, err == -EPROTO ? 0 : err);
    goro_wg_done(wg);
}

static void badca(void)
{
    sctx = server_ctx();
    cctx = client_ctx(othercert);
    listen_any();
    goro_go(acceptor, NULL);
    goro_wg_add(wg, sessions);
    for (int i = 0; i < sessions; i++)
        goro_go(badclient, NULL);
    goro_wg_wait(wg);
    printf("rc=0 verify_failed=%ld errors=%ld firsterr=%ld dirty=%ld\n",
           verify_failed, errs, firsterr, queue_dirty);
}

/* ---- one outside client ------------------------------------------------------------- */

static void serve_one(void)
{
    sctx = server_ctx();
    listen_any();
    printf("port=%d\n", port);
    int fd = goro_accept(lfd);
    goro_tls *t;
    long lines = 0, err = fd < 0 ? fd : goro_tls_server(&t, sctx, fd);
    char buf[1024];
    size_t have = 0;
    while (err == 0) {
        ssize_t n = goro_tls_read(t, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0) {
            err = n < 0 ? n : -ECONNRESET;
            break;
        }
        if (goro_tls_write(t, buf + have, (size_t)n, 0) != n) {
            err = -EIO;
            break;
        }
        have += (size_t)n;
        buf[have] = '\0';
        char *nl;
        bool quit = false;
        while ((nl = strchr(buf, '\n')) != NULL) {
            lines++;
            quit = quit || strncmp(buf, "QUIT", 4) == 0;
            have -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have + 1);
        }
        if (quit)
            break;
    }
    const char *version = err == 0 ? SSL_get_version(goro_tls_ssl(t)) : "-";
    if (err == 0) {
        goro_tls_shutdown(t, goro_now() + 5000000000LL);
        goro_tls_free(t);
    }
    if (fd >= 0)
        goro_close(fd);
    printf("rc=0 lines=%ld err=%ld version=%s\n", lines, err, version);
}

static void mainfn(void *arg)
{
    const char *mode = arg;
    mu = goro_mutex_new();
    wg = goro_wg_new();
    established = goro_wg_new();
    servers = goro_group_new("tlsserver", 0, NULL);
    if (strcmp(mode, "echo") == 0)
        echo();
    else if (strcmp(mode, "badca") == 0)
        badca();
    else
        serve_one();
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: sslprog echo|badca|serve CERT KEY ...\n");
        return 2;
    }
    cert = argv[2];
    key = argv[3];
    if (strcmp(argv[1], "badca") == 0) {
        othercert = argc > 4 ? argv[4] : cert;
        sessions = argc > 5 ? atoi(argv[5]) : 100;
    } else {
        sessions = argc > 4 ? atoi(argv[4]) : 1000;
        rounds = argc > 5 ? atoi(argv[5]) : 10;
    }
    /* Two fds a session in one process. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    return goro_run(mainfn, argv[1]) == 0 ? 0 : 1;
}
