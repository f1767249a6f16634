/* test_ssl.c - goro's OpenSSL adapter (libgoro_ssl.so): TLS servers and
 * clients in Gs with certificates the test generates with the openssl
 * command line (an EC P-256 one, a 2048-bit RSA one, and a stranger's for
 * a failed verification), and the real `openssl s_client` talking to a
 * goro server from outside the process. The Gs' side is
 * tests/link/ssl.c, built with `pkg-config --cflags --libs goro goro-ssl`
 * ($GORO_SSLPROG); it prints key=value results. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_test.h"

static char dir[64] = "";

static void gencert(const char *name, const char *keyspec)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey %s -nodes -keyout %s/%s.key "
             "-out %s/%s.crt -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost 2>&1",
             keyspec, dir, name, dir, name);
    test_command(cmd);
}

static void setup(void)
{
    strcpy(dir, "/tmp/goro-ssl-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    gencert("ec", "ec -pkeyopt ec_paramgen_curve:P-256");
    gencert("rsa", "rsa:2048");
    gencert("stranger", "ec -pkeyopt ec_paramgen_curve:P-256");
}

static void teardown(void)
{
    if (dir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
}

TestSuite(ssl, .init = setup, .fini = teardown);

static const char *prog(void)
{
    const char *p = getenv("GORO_SSLPROG");
    cr_assert_not_null(p, "GORO_SSLPROG is not set (run through make test)");
    return p;
}

static long field(const char *out, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(out, pat);
    cr_assert_not_null(p, "no %s in: %s", key, out);
    return atol(p + strlen(pat));
}

static void echo(const char *cert, int sessions, int rounds)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s echo %s/%s.crt %s/%s.key %d %d 2>&1",
             prog(), dir, cert, dir, cert, sessions, rounds);
    char *out = test_command(cmd);
    cr_assert(strstr(out, "rc=0 ") != NULL, "%s", out);
    cr_expect_eq(field(out, "ok"), sessions, "%s", out);
    cr_expect_eq(field(out, "errors"), 0, "%s", out);
    cr_expect_eq(field(out, "server_errors"), 0, "%s", out);
    /* No G found an error left on its thread's queue by another. */
    cr_expect_eq(field(out, "dirty"), 0, "%s", out);
    /* OpenSSL ran on the threads' stacks: the server's connection Gs
     * would have grown to 32 KiB for the non-split headroom (and an RSA
     * handshake needs more than that headroom). */
    cr_expect_lt(field(out, "maxstack"), 32768, "%s", out);
}

Test(ssl, a_thousand_concurrent_tls_echo_sessions_among_gs, .timeout = 180)
{
    echo("ec", 1000, 10);
}

Test(ssl, rsa_handshakes_run_on_the_threads_stacks, .timeout = 120)
{
    echo("rsa", 100, 5);
}

Test(ssl, a_ca_that_does_not_match_fails_every_handshake_with_eproto,
     .timeout = 60)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s badca %s/ec.crt %s/ec.key %s/stranger.crt "
             "100 2>&1", prog(), dir, dir, dir);
    char *out = test_command(cmd);
    cr_assert(strstr(out, "rc=0 ") != NULL, "%s", out);
    /* -EPROTO, and goro_tls_error says certificate verify failed. */
    cr_expect_eq(field(out, "verify_failed"), 100, "%s", out);
    cr_expect_eq(field(out, "errors"), 0, "%s", out);
    cr_expect_eq(field(out, "dirty"), 0, "%s", out);
}

Test(ssl, openssl_s_client_talks_to_the_goro_server, .timeout = 60)
{
    /* The server prints its port, serves one connection and exits;
     * s_client (which keeps reading after its input ends) verifies the
     * certificate and the name, sends two lines and prints the echo, and
     * exits when the server closes after QUIT. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && { %s serve ec.crt ec.key > server.out 2>&1 & pid=$!; "
             "for i in $(seq 500); do grep -q port= server.out && break; "
             "sleep 0.02; done; port=$(sed -n 's/^port=//p' server.out); "
             "printf 'hello from s_client\\nQUIT\\n' | timeout 30 openssl "
             "s_client -connect 127.0.0.1:$port -CAfile ec.crt "
             "-verify_hostname localhost -verify_return_error -quiet "
             "> client.out 2> client.err; rc=$?; wait $pid; "
             "echo s_client_rc=$rc; cat server.out client.out; }",
             dir, prog());
    char *out = test_command(cmd);
    cr_expect(strstr(out, "s_client_rc=0") != NULL, "%s", out);
    cr_expect(strstr(out, "rc=0 lines=2 err=0") != NULL, "%s", out);
    cr_expect(strstr(out, "version=TLSv1.3") != NULL, "%s", out);
    cr_expect(strstr(out, "\nhello from s_client\nQUIT\n") != NULL, "%s", out);
}
