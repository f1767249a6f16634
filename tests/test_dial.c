/* test_dial.c - goro_dial, goro_listen and goro_getaddrinfo: names, both
 * address families, every address tried in turn, unknown names and
 * services, a deadline that expires during resolution, bad addresses;
 * names answered from /etc/hosts in the G (as getaddrinfo would, the
 * file looked at again, nsswitch.conf's order) and the others on the
 * pool; UDP echo of 100,000 datagrams; Unix stream and datagram sockets (paths
 * and abstract names); fd passing; SO_REUSEPORT. Results are recorded in
 * globals and asserted after goro_run. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "export_test.h"


static int peerfamily(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    return ss.ss_family;
}

/* ---- files of /etc in a mount namespace of the test's own -------------------- */

/* etcfile bind-mounts a file holding text over path (an /etc file) in a
 * private mount namespace of the test's process, made at the first call
 * (root only: the test is skipped elsewhere). The file has no other name:
 * it goes with the namespace. */
static void etcfile(const char *path, const char *text)
{
    static bool private;
    char tmp[] = "/tmp/goro-etc-XXXXXX";
    int fd = mkstemp(tmp);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    if ((!private && (unshare(CLONE_NEWNS) < 0 ||
                      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)) ||
        mount(tmp, path, NULL, MS_BIND, NULL) < 0) {
        unlink(tmp);
        cr_skip_test("no mount namespace here (%s)", strerror(errno));
    }
    unlink(tmp);
    private = true;
}

/* etcrewrite replaces the text of an etcfile in place (the same inode). */
static void etcrewrite(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        (void)!write(fd, text, strlen(text));
        close(fd);
    }
}

/* ---- the thread pool held ----------------------------------------------------- */

/* holdpool occupies every thread of libuv's pool (UV_THREADPOOL_SIZE=4,
 * set before the runtime starts) with a goro_blocking call that waits for
 * releasepool, and returns once all four run: until then a name that
 * goes to the pool waits for its deadline. */
enum { POOL = 4 };
static int poolpipe[2];
static atomic_int poolheld;
static goro_wg *poolwg;

static void poolhold(void *arg)
{
    (void)arg;
    atomic_fetch_add(&poolheld, 1);
    char c;
    (void)!read(poolpipe[0], &c, 1);
}

static void poolholder(void *arg)
{
    (void)arg;
    goro_blocking(poolhold, NULL);
    goro_wg_done(poolwg);
}

static void holdpool(void)
{
    cr_assert_eq(pipe(poolpipe), 0);
    poolwg = goro_wg_new();
    goro_wg_add(poolwg, POOL);
    for (int i = 0; i < POOL; i++)
        goro_go(poolholder, NULL);
    while (atomic_load(&poolheld) < POOL)
        goro_sleep_ns(1000000);
}

static void releasepool(void)
{
    (void)!write(poolpipe[1], "rrrr", POOL);
    goro_wg_wait(poolwg);
    goro_wg_free(poolwg);
    close(poolpipe[0]);
    close(poolpipe[1]);
}

/* ---- addrinfo lists compared ---------------------------------------------------- */

typedef struct airec {
    int err;        /* goro's -errno; libc's EAI_* mapped to it */
    int n;
    struct {
        int family, socktype, protocol;
        socklen_t len;
        struct sockaddr_storage a;
    } r[24];
} airec;

static void airecord(airec *out, int err, const struct addrinfo *ai)
{
    memset(out, 0, sizeof *out);
    out->err = err;
    for (; ai != NULL && out->n < 24; ai = ai->ai_next, out->n++) {
        out->r[out->n].family = ai->ai_family;
        out->r[out->n].socktype = ai->ai_socktype;
        out->r[out->n].protocol = ai->ai_protocol;
        out->r[out->n].len = ai->ai_addrlen;
        memcpy(&out->r[out->n].a, ai->ai_addr, ai->ai_addrlen);
    }
}

typedef struct aiquery {
    const char *node, *service;
    int family, socktype, protocol, flags;
} aiquery;

/* goroquery asks goro_getaddrinfo, with deadline (0: none). On a G. */
static void goroquery(const aiquery *q, int64_t deadline, airec *out)
{
    struct addrinfo hints = {.ai_family = q->family, .ai_socktype = q->socktype,
                             .ai_protocol = q->protocol, .ai_flags = q->flags};
    struct addrinfo *ai = NULL;
    int err = goro_getaddrinfo(q->node, q->service, &hints, &ai, deadline);
    airecord(out, err, ai);
    goro_freeaddrinfo(ai);
}

/* libcquery asks glibc's getaddrinfo itself. Not on a G. */
static void libcquery(const aiquery *q, airec *out)
{
    struct addrinfo hints = {.ai_family = q->family, .ai_socktype = q->socktype,
                             .ai_protocol = q->protocol, .ai_flags = q->flags};
    struct addrinfo *ai = NULL;
    int e = getaddrinfo(q->node, q->service, &hints, &ai);
    airecord(out, e == 0 ? 0 : e == EAI_SERVICE ? -ESRCH :
                  e == EAI_SOCKTYPE ? -ESOCKTNOSUPPORT :
                  e == EAI_NONAME ? -ENOENT : -1000 + e, ai);
    if (e == 0)
        freeaddrinfo(ai);
}

static void aiassertsame(const aiquery *q, const airec *got, const airec *want)
{
    char g[64] = "", w[64] = "";
    if (got->n > 0)
        getnameinfo((const struct sockaddr *)&got->r[0].a, got->r[0].len, g,
                    sizeof g, NULL, 0, NI_NUMERICHOST);
    if (want->n > 0)
        getnameinfo((const struct sockaddr *)&want->r[0].a, want->r[0].len, w,
                    sizeof w, NULL, 0, NI_NUMERICHOST);
    cr_assert(got->err == want->err && got->n == want->n &&
              memcmp(got->r, want->r, sizeof got->r[0] * (size_t)got->n) == 0,
              "%s %s family %d socktype %d protocol %d flags %#x: goro %d, "
              "%d addresses, first %s; getaddrinfo %d, %d, first %s",
              q->node, q->service ? q->service : "(null)", q->family,
              q->socktype, q->protocol, q->flags, got->err, got->n, g,
              want->err, want->n, w);
}

/* ---- names and families --------------------------------------------------- */

static int r_lfd, r_d4, r_d6, r_dtcp, r_dlit6, r_dlit4, r_fam4, r_fam6,
           r_famtcp, r_gai, r_gai_n, r_svc, r_svcport;
static int r_unknown, r_badsvc, r_nobrackets, r_noport, r_badnet, r_nohost;

static void acceptall(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = goro_accept(lfd);
        if (fd < 0)
            return;
        goro_close(fd);
    }
}

static void namesmain(void *arg)
{
    (void)arg;
    char a[64];
    /* ":0": every address, IPv6's wildcard taking IPv4 too. */
    r_lfd = goro_listen("tcp", ":0", 0);
    if (r_lfd < 0)
        return;
    int port = test_portof(r_lfd);
    goro_go(acceptall, (void *)(intptr_t)r_lfd);

    snprintf(a, sizeof a, "localhost:%d", port);
    r_d4 = goro_dial("tcp4", a, 0);
    r_fam4 = peerfamily(r_d4);
    r_dtcp = goro_dial("tcp", a, 0);
    r_famtcp = peerfamily(r_dtcp);
    /* IPv6 by name where the system resolves localhost so (Debian's
     * /etc/hosts does); the same answer as getaddrinfo otherwise. */
    struct addrinfo hints = {.ai_family = AF_INET6,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    r_gai = goro_getaddrinfo("localhost", NULL, &hints, &ai, 0);
    goro_freeaddrinfo(ai);
    r_d6 = goro_dial("tcp6", a, 0);
    r_fam6 = peerfamily(r_d6);
    snprintf(a, sizeof a, "[::1]:%d", port);
    r_dlit6 = goro_dial("tcp", a, 0);
    snprintf(a, sizeof a, "127.0.0.1:%d", port);
    r_dlit4 = goro_dial("tcp", a, test_now() + 5000000000ll);

    /* The list, and a service name. */
    hints.ai_family = AF_INET;
    ai = NULL;
    r_gai_n = goro_getaddrinfo("127.0.0.1", "http", &hints, &ai, 0);
    r_svcport = ai != NULL ? ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port)
                           : -1;
    goro_freeaddrinfo(ai);
    int sfd = goro_listen("tcp4", "127.0.0.1:0", 0);
    r_svc = sfd;
    goro_close(sfd);

    r_unknown = goro_dial("tcp", "no-such-host.invalid:80", 0);
    r_badsvc = goro_dial("tcp", "localhost:no-such-service", 0);
    r_nobrackets = goro_dial("tcp", "::1:80", 0);
    r_noport = goro_dial("tcp", "localhost", 0);
    r_badnet = goro_dial("sctp", "localhost:80", 0);
    r_nohost = goro_listen("tcp", "no-such-host.invalid:0", 0);

    goro_close(r_d4);
    goro_close(r_dtcp);
    if (r_d6 >= 0)
        goro_close(r_d6);
    goro_close(r_dlit6);
    goro_close(r_dlit4);
    goro_close(r_lfd);
}

Test(dial, names_and_both_families_connect_and_bad_ones_say_why,
     .timeout = 60)
{
    cr_assert_eq(test_run(2, namesmain, NULL), 0);
    cr_assert_geq(r_lfd, 0, "listen: %d", r_lfd);
    cr_assert_geq(r_d4, 0, "tcp4 localhost: %d", r_d4);
    cr_assert_eq(r_fam4, AF_INET);
    cr_assert_geq(r_dtcp, 0, "tcp localhost: %d", r_dtcp);
    if (r_gai == 0) {
        cr_assert_geq(r_d6, 0, "tcp6 localhost: %d", r_d6);
        cr_assert_eq(r_fam6, AF_INET6);
    } else {
        cr_assert_eq(r_d6, r_gai, "tcp6 localhost: %d, getaddrinfo %d",
                     r_d6, r_gai);
    }
    cr_assert_geq(r_dlit6, 0, "[::1]: %d", r_dlit6);
    cr_assert_geq(r_dlit4, 0, "127.0.0.1: %d", r_dlit4);
    cr_assert_eq(r_gai_n, 0);
    cr_assert_eq(r_svcport, 80);
    cr_assert_geq(r_svc, 0);
    /* No DNS server at all answers EAI_AGAIN: -EAGAIN, documented. */
    cr_assert(r_unknown == -ENOENT || r_unknown == -EAGAIN, "unknown: %d",
              r_unknown);
    cr_assert_eq(r_badsvc, -ESRCH);
    cr_assert_eq(r_nobrackets, -EINVAL);
    cr_assert_eq(r_noport, -EINVAL);
    cr_assert_eq(r_badnet, -EINVAL);
    cr_assert(r_nohost == -ENOENT || r_nohost == -EAGAIN, "listen: %d",
              r_nohost);
}

/* ---- every address in turn ---------------------------------------------------- */

/* A name with two addresses, the first refusing: the dial goes on to the
 * second. The name is made in /etc/hosts of a mount namespace of the
 * test's own process (root only). */
static int r_multi, r_multifam, r_multiorder;

static void multimain(void *arg)
{
    (void)arg;
    int lfd = goro_listen("tcp4", "127.0.0.1:0", 0);
    if (lfd < 0) {
        r_multi = lfd;
        return;
    }
    int port = test_portof(lfd);
    goro_go(acceptall, (void *)(intptr_t)lfd);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    goro_getaddrinfo("goro-two-addrs", NULL, &hints, &ai, 0);
    /* The resolver's first is ::1, where nothing listens. */
    r_multiorder = ai != NULL && ai->ai_family == AF_INET6 &&
                   ai->ai_next != NULL;
    goro_freeaddrinfo(ai);
    char a[64];
    snprintf(a, sizeof a, "goro-two-addrs:%d", port);
    r_multi = goro_dial("tcp", a, test_now() + 5000000000ll);
    r_multifam = peerfamily(r_multi);
    goro_close(r_multi);
    goro_close(lfd);
}

Test(dial, a_refused_first_address_does_not_fail_the_dial, .timeout = 60)
{
    etcfile("/etc/hosts", "127.0.0.1 localhost\n::1 goro-two-addrs\n"
                          "127.0.0.1 goro-two-addrs\n");
    cr_assert_eq(test_run(2, multimain, NULL), 0);
    cr_assert(r_multiorder, "goro-two-addrs does not resolve to ::1 first: "
                            "the test proves nothing");
    cr_assert_geq(r_multi, 0, "dial: %d", r_multi);
    cr_assert_eq(r_multifam, AF_INET);
}

/* ---- a deadline during resolution --------------------------------------------- */

/* Every thread of libuv's pool is held, so the resolution of a name not
 * in /etc/hosts waits in the pool's queue past the dial's deadline. */
static int r_dlres, r_after;
static int64_t dlelapsed;

static void dlresmain(void *arg)
{
    (void)arg;
    holdpool();
    int64_t t0 = test_now();
    r_dlres = goro_dial("tcp", "goro-not-in-hosts.invalid:9",
                        t0 + 100 * 1000000);
    dlelapsed = test_now() - t0;
    releasepool();
    /* The abandoned request was freed or finished; the pool serves the
     * next one (AI_CANONNAME: /etc/hosts is not asked in the G). */
    struct addrinfo hints = {.ai_flags = AI_CANONNAME};
    struct addrinfo *ai = NULL;
    r_after = goro_getaddrinfo("localhost", "80", &hints, &ai,
                               test_now() + 5000000000ll);
    goro_freeaddrinfo(ai);
}

Test(dial, a_deadline_that_expires_during_resolution_gives_etimedout,
     .timeout = 30)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    cr_assert_eq(test_run(2, dlresmain, NULL), 0);
    cr_assert_eq(r_dlres, -ETIMEDOUT);
    cr_assert_geq(dlelapsed, 95 * 1000000);
    cr_assert_eq(r_after, 0);
}

/* ---- /etc/hosts in the G ---------------------------------------------------------- */

/* The files of the tests below: files first, multi on, no gai.conf
 * settings, whatever the machine's. */
static const char hoststext[] =
    "127.0.0.1 localhost\n"
    "::1 localhost ip6-localhost   # a comment\n"
    "127.0.0.1\tgoro-both GORO-Case\n"
    "::1 goro-both\n"
    "10.1.2.3 goro-four\n"
    "fd00::77 goro-six\n"
    "::ffff:10.0.0.9 goro-mapped\n"
    "10.0.0.1 goro-list\n"
    "10.0.0.2 goro-list\n"
    "not-an-address goro-bad\n"
    "10.0.0.3 127.1\n";

static void hostsfiles(const char *nsswitch)
{
    etcfile("/etc/hosts", hoststext);
    etcfile("/etc/nsswitch.conf", nsswitch);
    etcfile("/etc/host.conf", "multi on\n");
    etcfile("/etc/gai.conf", "# nothing\n");
    setenv("UV_THREADPOOL_SIZE", "4", 1);
}

static const aiquery inhosts[] = {
    {"localhost", "80", AF_UNSPEC, SOCK_STREAM, 0, AI_ADDRCONFIG},
    {"localhost", "80", AF_INET, SOCK_STREAM, 0, 0},
    {"localhost", "80", AF_INET6, SOCK_STREAM, 0, 0},
    {"LOCALHOST", NULL, AF_UNSPEC, 0, 0, 0},
    {"goro-both", "http", AF_UNSPEC, 0, 0, 0},
    {"goro-case", "http", AF_INET, SOCK_DGRAM, 0, 0},
    {"ip6-localhost", "8080", AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP,
     AI_NUMERICSERV},
    {"ip6-localhost", "8080", AF_INET, SOCK_STREAM, 0, 0},
    {"goro-four", "domain", AF_UNSPEC, SOCK_DGRAM, 0, AI_PASSIVE},
    {"goro-four", NULL, AF_INET, 0, IPPROTO_UDP, 0},
    {"goro-six", "9", AF_INET6, SOCK_STREAM, 0, 0},
    {"goro-mapped", "443", AF_INET, SOCK_STREAM, 0, 0},
    {"goro-mapped", "443", AF_INET6, SOCK_STREAM, 0, 0},
    {"goro-four", "no-such-service", AF_UNSPEC, SOCK_STREAM, 0, 0},
    {"goro-four", "http", AF_UNSPEC, SOCK_STREAM, 0, AI_NUMERICSERV},
    {"goro-four", "80", AF_UNSPEC, SOCK_STREAM, IPPROTO_UDP, 0},
};
enum { NINHOSTS = sizeof inhosts / sizeof inhosts[0] };
static airec r_inhosts[NINHOSTS];
static int r_hdial, r_hdialfam;

static void inhostsmain(void *arg)
{
    (void)arg;
    int lfd = goro_listen("tcp", ":0", 0);
    if (lfd < 0) {
        r_hdial = lfd;
        return;
    }
    goro_go(acceptall, (void *)(intptr_t)lfd);
    char a[64];
    snprintf(a, sizeof a, "goro-both:%d", test_portof(lfd));
    holdpool();
    /* A name that went to the pool would wait for this deadline. */
    for (int i = 0; i < NINHOSTS; i++)
        goroquery(&inhosts[i], test_now() + 1000000000ll, &r_inhosts[i]);
    r_hdial = goro_dial("tcp", a, test_now() + 1000000000ll);
    r_hdialfam = peerfamily(r_hdial);
    releasepool();
    goro_close(r_hdial);
    goro_close(lfd);
}

Test(dial, names_in_etc_hosts_are_answered_in_the_g_as_getaddrinfo_would,
     .timeout = 60)
{
    hostsfiles("hosts: files dns\n");
    cr_assert_eq(test_run(2, inhostsmain, NULL), 0);
    for (int i = 0; i < NINHOSTS; i++) {
        cr_assert_neq(r_inhosts[i].err, -ETIMEDOUT, "%s: it went to the pool",
                      inhosts[i].node);
        airec want;
        libcquery(&inhosts[i], &want);
        aiassertsame(&inhosts[i], &r_inhosts[i], &want);
    }
    /* Both families, in getaddrinfo's order. */
    airec want;
    libcquery(&inhosts[0], &want);
    cr_assert_geq(r_hdial, 0, "dial goro-both: %d", r_hdial);
    cr_assert_eq(r_hdialfam, want.r[0].family);
    cr_assert_eq(r_inhosts[1].r[0].family, AF_INET);
    cr_assert_eq(r_inhosts[2].r[0].family, AF_INET6);
}

/* Names the G does not answer: not in the file, not for the family
 * asked, a list whose order needs the source addresses, a flag it does
 * not do. With the pool held, each waits for its deadline. */
enum { QLIST = 4, QCANON };
static const aiquery notinhosts[] = {
    {"goro-absent", "80", AF_UNSPEC, SOCK_STREAM, 0, 0},
    {"goro-bad", "80", AF_UNSPEC, SOCK_STREAM, 0, 0},
    {"127.1", "80", AF_INET, SOCK_STREAM, 0, 0},  /* a number, not a name */
    {"goro-four", "80", AF_INET6, SOCK_STREAM, 0, 0},
    [QLIST] = {"goro-list", "80", AF_INET, SOCK_STREAM, 0, 0},
    [QCANON] = {"localhost", "80", AF_UNSPEC, SOCK_STREAM, 0, AI_CANONNAME},
};
enum { NNOTINHOSTS = sizeof notinhosts / sizeof notinhosts[0] };
static airec r_notheld[NNOTINHOSTS], r_list, r_canon;
static int64_t r_notelapsed;

static void notinhostsmain(void *arg)
{
    (void)arg;
    holdpool();
    int64_t t0 = test_now();
    for (int i = 0; i < NNOTINHOSTS; i++)
        goroquery(&notinhosts[i], test_now() + 100 * 1000000, &r_notheld[i]);
    r_notelapsed = test_now() - t0;
    releasepool();
    goroquery(&notinhosts[QLIST], test_now() + 5000000000ll, &r_list);
    goroquery(&notinhosts[QCANON], test_now() + 5000000000ll, &r_canon);
}

Test(dial, names_etc_hosts_does_not_answer_go_to_the_pool, .timeout = 60)
{
    hostsfiles("hosts: files dns\n");
    cr_assert_eq(test_run(2, notinhostsmain, NULL), 0);
    for (int i = 0; i < NNOTINHOSTS; i++)
        cr_assert_eq(r_notheld[i].err, -ETIMEDOUT, "%s family %d: %d",
                     notinhosts[i].node, notinhosts[i].family,
                     r_notheld[i].err);
    cr_assert_geq(r_notelapsed, NNOTINHOSTS * 95 * 1000000ll);
    /* Once the pool is free, getaddrinfo's answers. */
    airec want;
    libcquery(&notinhosts[QLIST], &want);
    aiassertsame(&notinhosts[QLIST], &r_list, &want);
    cr_assert_eq(r_list.n, 2);
    libcquery(&notinhosts[QCANON], &want);
    aiassertsame(&notinhosts[QCANON], &r_canon, &want);
}

/* A name changed in the file: the old answer until the file is looked at
 * again (5 s after the last look), the new one after. */
static const aiquery moving = {"goro-moving", "80", AF_INET, SOCK_STREAM, 0, 0};
static airec r_mv1, r_mv2, r_mv3;
static int64_t r_mvgap;

static void movingmain(void *arg)
{
    (void)arg;
    int64_t t0 = test_now();
    goroquery(&moving, 0, &r_mv1);
    etcrewrite("/etc/hosts", "10.0.0.22 goro-moving # moved\n");
    goroquery(&moving, 0, &r_mv2);
    r_mvgap = test_now() - t0;
    goro_sleep_ns(5100 * 1000000ll);
    goroquery(&moving, 0, &r_mv3);
}

static in_addr_t airecv4(const airec *r)
{
    return r->n > 0 ? ((const struct sockaddr_in *)&r->r[0].a)->sin_addr.s_addr
                    : 0;
}

Test(dial, a_name_changed_in_etc_hosts_is_seen_after_the_recheck,
     .timeout = 60)
{
    etcfile("/etc/hosts", "10.0.0.1 goro-moving\n");
    etcfile("/etc/nsswitch.conf", "hosts: files dns\n");
    cr_assert_eq(test_run(2, movingmain, NULL), 0);
    cr_assert_eq(r_mv1.err, 0);
    cr_assert_eq(airecv4(&r_mv1), inet_addr("10.0.0.1"));
    /* The second look came within the 5 s: the cached answer. */
    if (r_mvgap < 4000000000ll)
        cr_assert_eq(airecv4(&r_mv2), inet_addr("10.0.0.1"),
                     "the file was read again at once");
    cr_assert_eq(r_mv3.err, 0);
    cr_assert_eq(airecv4(&r_mv3), inet_addr("10.0.0.22"));
}

/* nsswitch.conf's hosts line decides: files first with the default
 * actions, the G answers; anything else in front, or files with an
 * action of its own, the pool. */
static const struct {
    const char *conf;
    bool ing;  /* answered in the G */
} nssconfs[] = {
    {"hosts: myhostname files\n", false},
    {"hosts: dns files\n", false},
    {"hosts: files [SUCCESS=continue] dns\n", false},
    {"passwd: files\n", false},                /* no hosts line */
    {"hosts: files dns\nhosts: dns files\n", false}, /* the last one */
    {"# comment\nHosts:\tFiles  [NOTFOUND=return]\n", true},
    {"hosts: files dns # comment\n", true},
};
enum { NNSS = sizeof nssconfs / sizeof nssconfs[0] };
static int r_nss[NNSS];

static void nssmain(void *arg)
{
    (void)arg;
    holdpool();
    for (int i = 0; i < NNSS; i++) {
        etcrewrite("/etc/nsswitch.conf", nssconfs[i].conf);
        hostsrecheck();
        airec r;
        goroquery(&inhosts[1], test_now() + 100 * 1000000, &r);
        r_nss[i] = r.err;
    }
    releasepool();
}

Test(dial, an_nsswitch_order_without_files_first_goes_to_the_pool,
     .timeout = 60)
{
    hostsfiles("");
    cr_assert_eq(test_run(2, nssmain, NULL), 0);
    for (int i = 0; i < NNSS; i++)
        cr_assert_eq(r_nss[i], nssconfs[i].ing ? 0 : -ETIMEDOUT,
                     "%s: %d", nssconfs[i].conf, r_nss[i]);
}

/* ---- UDP echo -------------------------------------------------------------------- */

enum { DGRAMS = 100000, WINDOW = 32 };
static int udpsrv;
static atomic_int udpecho, udpbad, udplost;
static goro_wg *udpwg;

static void udpserver(void *arg)
{
    (void)arg;
    char buf[64];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t n = goro_recvfrom(udpsrv, buf, sizeof buf,
                                  (struct sockaddr *)&from, &fl, 0);
        if (n < 0)
            break;
        if (goro_sendto(udpsrv, buf, (size_t)n, (struct sockaddr *)&from, fl,
                        0) != n)
            atomic_fetch_add(&udpbad, 1);
        else
            atomic_fetch_add(&udpecho, 1);
    }
    goro_wg_done(udpwg);
}

static void udpmain(void *arg)
{
    (void)arg;
    udpwg = goro_wg_new();
    udpsrv = goro_listen("udp", "127.0.0.1:0", 0);
    if (udpsrv < 0)
        return;
    char a[64];
    snprintf(a, sizeof a, "127.0.0.1:%d", test_portof(udpsrv));
    goro_wg_add(udpwg, 1);
    goro_go(udpserver, NULL);
    int c = goro_dial("udp", a, 0);
    /* WINDOW datagrams in flight: a sane rate, none should be lost. */
    int sent = 0, got = 0;
    uint32_t seen = 0;
    for (; sent < WINDOW; sent++)
        goro_write(c, &sent, sizeof sent);
    while (got < DGRAMS) {
        int v;
        ssize_t n = goro_read_deadline(c, &v, sizeof v, test_now() + 2000000000ll);
        if (n != sizeof v) {
            atomic_fetch_add(&udplost, DGRAMS - got);
            break;
        }
        got++;
        seen += (uint32_t)v;
        if (sent < DGRAMS) {
            goro_write(c, &sent, sizeof sent);
            sent++;
        }
    }
    if (seen != (uint32_t)((int64_t)DGRAMS * (DGRAMS - 1) / 2))
        atomic_fetch_add(&udpbad, 1);
    goro_close(c);
    goro_close(udpsrv);
    goro_wg_wait(udpwg);
}

Test(dial, udp_echo_of_100000_datagrams_loses_none, .timeout = 120)
{
    cr_assert_eq(test_run(2, udpmain, NULL), 0);
    cr_assert_eq(atomic_load(&udplost), 0);
    cr_assert_eq(atomic_load(&udpbad), 0);
    cr_assert_eq(atomic_load(&udpecho), DGRAMS);
}

/* ---- Unix sockets ---------------------------------------------------------------- */

static int r_ulisten, r_uabs, r_uecho, r_uabsecho, r_ugram, r_uinuse;
static char upath[108];

static void unixechoserver(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int fd = goro_accept(lfd);
    if (fd < 0)
        return;
    char buf[256];
    ssize_t n;
    while ((n = goro_read(fd, buf, sizeof buf)) > 0)
        goro_write(fd, buf, (size_t)n);
    goro_close(fd);
}

static int unixecho(const char *addr)
{
    int fd = goro_dial("unix", addr, 0);
    if (fd < 0)
        return fd;
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        char out[32], in[32];
        int len = snprintf(out, sizeof out, "message %d", i);
        if (goro_write(fd, out, (size_t)len) != len)
            break;
        ssize_t got = 0;
        while (got < len) {
            ssize_t n = goro_read(fd, in + got, (size_t)(len - got));
            if (n <= 0)
                break;
            got += n;
        }
        if (got != len || memcmp(in, out, (size_t)len) != 0)
            break;
        ok++;
    }
    goro_close(fd);
    return ok;
}

static void unixmain(void *arg)
{
    (void)arg;
    snprintf(upath, sizeof upath, "/tmp/goro-unix-%d.sock", getpid());
    unlink(upath);
    r_ulisten = goro_listen("unix", upath, 0);
    if (r_ulisten < 0)
        return;
    goro_go(unixechoserver, (void *)(intptr_t)r_ulisten);
    r_uecho = unixecho(upath);
    r_uinuse = goro_listen("unix", upath, 0);

    char abs[64];
    snprintf(abs, sizeof abs, "@goro-test-%d", getpid());
    r_uabs = goro_listen("unix", abs, 0);
    if (r_uabs >= 0) {
        goro_go(unixechoserver, (void *)(intptr_t)r_uabs);
        r_uabsecho = unixecho(abs);
    }

    /* unixgram: a bound server, a client bound to an abstract name so
     * that the reply finds it. */
    char gs[64], gc[64];
    snprintf(gs, sizeof gs, "@goro-gram-s-%d", getpid());
    snprintf(gc, sizeof gc, "@goro-gram-c-%d", getpid());
    int s = goro_listen("unixgram", gs, 0);
    int c = goro_listen("unixgram", gc, 0);
    int d = goro_dial("unixgram", gs, 0);
    if (s >= 0 && c >= 0 && d >= 0) {
        struct sockaddr_un to = {.sun_family = AF_UNIX};
        memcpy(to.sun_path + 1, gs + 1, strlen(gs) - 1);
        socklen_t tl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                   strlen(gs));
        char buf[16];
        struct sockaddr_un from;
        socklen_t fl = sizeof from;
        if (goro_sendto(c, "ping", 4, (struct sockaddr *)&to, tl, 0) == 4 &&
            goro_recvfrom(s, buf, sizeof buf, (struct sockaddr *)&from, &fl,
                          0) == 4 &&
            goro_sendto(s, "pong", 4, (struct sockaddr *)&from, fl, 0) == 4 &&
            goro_recvfrom(c, buf, sizeof buf, NULL, NULL,
                          test_now() + 5000000000ll) == 4 &&
            memcmp(buf, "pong", 4) == 0 &&
            goro_write(d, "dial", 4) == 4 &&
            goro_recvfrom(s, buf, sizeof buf, NULL, NULL, 0) == 4 &&
            memcmp(buf, "dial", 4) == 0)
            r_ugram = 1;
    }
    goro_close(s);
    goro_close(c);
    goro_close(d);
    goro_close(r_ulisten);
    if (r_uabs >= 0)
        goro_close(r_uabs);
    unlink(upath);
}

Test(dial, unix_stream_and_datagram_sockets_by_path_and_abstract_name,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, unixmain, NULL), 0);
    cr_assert_geq(r_ulisten, 0, "%d", r_ulisten);
    cr_assert_eq(r_uecho, 100);
    cr_assert_eq(r_uinuse, -EADDRINUSE);
    cr_assert_geq(r_uabs, 0, "%d", r_uabs);
    cr_assert_eq(r_uabsecho, 100);
    cr_assert_eq(r_ugram, 1);
}

/* ---- fd passing ------------------------------------------------------------------- */

/* A listener handed to "another process" (a G at the other end of a Unix
 * socket): the receiver accepts on its copy after the sender closed its
 * own; and a pipe handed over is written through. */
static int r_passed, r_nfds, r_accepted, r_pipe, r_trunc_n, r_trunc_nfds;

static void passmain(void *arg)
{
    (void)arg;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
    int lfd = goro_listen("tcp4", "127.0.0.1:0", 0);
    int port = test_portof(lfd);
    int p[2];
    (void)!pipe2(p, O_NONBLOCK);
    int out[2] = {lfd, p[1]};
    r_passed = (int)goro_send_fds(sv[0], "L", 1, out, 2, 0);
    goro_close(lfd);
    close(p[1]);
    int in[4] = {-1, -1, -1, -1}, nin = 4;
    char c;
    if (goro_recv_fds(sv[1], &c, 1, in, &nin, test_now() + 5000000000ll) != 1)
        return;
    r_nfds = nin;
    char a[64];
    snprintf(a, sizeof a, "127.0.0.1:%d", port);
    int d = goro_dial("tcp", a, 0);
    int acc = goro_accept_deadline(in[0], test_now() + 5000000000ll);
    r_accepted = acc >= 0 && d >= 0;
    if (goro_write(in[1], "P", 1) == 1 && goro_read(p[0], &c, 1) == 1 &&
        c == 'P')
        r_pipe = 1;
    /* Room for one fd of two: the other is closed, not leaked. */
    int two[2] = {p[0], p[0]};
    goro_send_fds(sv[0], "T", 1, two, 2, 0);
    int one = -1, none = 1;
    r_trunc_n = (int)goro_recv_fds(sv[1], &c, 1, &one, &none, 0);
    r_trunc_nfds = none;
    goro_close(one);
    goro_close(acc);
    goro_close(d);
    goro_close(in[0]);
    goro_close(in[1]);
    goro_close(p[0]);
    goro_close(sv[0]);
    goro_close(sv[1]);
}

Test(dial, fds_passed_over_a_unix_socket_work_on_the_other_side,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, passmain, NULL), 0);
    cr_assert_eq(r_passed, 1);
    cr_assert_eq(r_nfds, 2);
    cr_assert(r_accepted);
    cr_assert(r_pipe);
    cr_assert_eq(r_trunc_n, 1);
    cr_assert_eq(r_trunc_nfds, 1);
}

/* ---- SO_REUSEPORT ------------------------------------------------------------------ */

static int r_rp1, r_rp2, r_norp, r_badflags;

static void reuseportmain(void *arg)
{
    (void)arg;
    r_rp1 = goro_listen_flags("tcp4", "127.0.0.1:0", 0,
                              GORO_LISTEN_REUSEPORT);
    char a[64];
    snprintf(a, sizeof a, "127.0.0.1:%d", test_portof(r_rp1));
    r_rp2 = goro_listen_flags("tcp4", a, 0, GORO_LISTEN_REUSEPORT);
    r_norp = goro_listen("tcp4", a, 0);
    r_badflags = goro_listen_flags("tcp4", "127.0.0.1:0", 0, 8);
    goro_close(r_rp1);
    goro_close(r_rp2);
}

Test(dial, reuseport_lets_two_sockets_listen_on_one_port, .timeout = 30)
{
    cr_assert_eq(test_run(1, reuseportmain, NULL), 0);
    cr_assert_geq(r_rp1, 0);
    cr_assert_geq(r_rp2, 0, "%d", r_rp2);
    cr_assert_eq(r_norp, -EADDRINUSE);
    cr_assert_eq(r_badflags, -EINVAL);
}
