/*
 * dial.c - names and networks (Go's net.Dial, net.Listen, net.Resolver):
 * goro_dial and goro_listen on "tcp", "tcp4", "tcp6", "udp", "udp4",
 * "udp6", "unix" and "unixgram", goro_getaddrinfo, datagrams with
 * addresses (goro_sendto, goro_recvfrom) and fd passing over Unix sockets
 * (goro_send_fds, goro_recv_fds).
 *
 * Names are resolved without blocking the G's thread: getaddrinfo(3) runs
 * on libuv's thread pool (uv_getaddrinfo, submitted by the loop thread as
 * a loop call, loop.c) while the G is parked. A numeric host and port
 * never leave the G's thread: getaddrinfo with AI_NUMERICHOST and
 * AI_NUMERICSERV, which does no I/O, on g0; nor does a name that
 * /etc/hosts answers where the system looks there first (hosts.c: a
 * cached copy of the file, as Go's). A deadline bounds the
 * resolution too: a uv_timer_t beside the request ends the G's wait with
 * -ETIMEDOUT and cancels the request if the pool has not started it; the
 * request then lives on the heap, not on the G's stack, and whichever of
 * the timer's close and the request's callback comes last frees it (a
 * getaddrinfo the pool already runs cannot be stopped, only abandoned).
 *
 * A dial tries every address in the resolver's order (RFC 6724, as glibc
 * sorts them: IPv6 first where it works) until one connects, each with the
 * time left; the first error is the one returned, as Go does. A connect
 * that is in progress parks the G on the netpoller like goro_read.
 *
 * getaddrinfo's EAI_* codes become negative errno values, one table
 * (eaierr) and goro.h say which. What needs libc (socket creation,
 * getaddrinfo, copying the address list) runs on g0 through systemstack;
 * sending and receiving are inline system calls on the G's stack, as in
 * netfd.c.
 *
 * Rejected: c-ares on the netpoller (a second resolver whose answers could
 * differ from the system's nsswitch, /etc/hosts and gai.conf; a new
 * dependency); getaddrinfo_a (it starts a thread per request); the G
 * calling getaddrinfo as a blocking call (goro_syscall_enter): it would
 * hold an M for a DNS timeout of seconds, and could not be given a
 * deadline.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "runtime2.h"

/* At most this many addresses of a name are tried. */
#define maxAddrs 16

/* ---- EAI_* to errno ------------------------------------------------------ */

/* eaierr maps libuv's UV_EAI_* (getaddrinfo's EAI_*) to the errno values
 * goro.h documents; anything else is already a negative errno. */
static int eaierr(int uverr)
{
    switch (uverr) {
    case UV_EAI_NONAME:
    case UV_EAI_NODATA:
    case UV_EAI_ADDRFAMILY: return -ENOENT;       /* no such host */
    case UV_EAI_SERVICE:    return -ESRCH;        /* no such service */
    case UV_EAI_AGAIN:      return -EAGAIN;       /* try again later */
    case UV_EAI_FAIL:       return -EIO;          /* resolver failed */
    case UV_EAI_FAMILY:     return -EAFNOSUPPORT;
    case UV_EAI_SOCKTYPE:   return -ESOCKTNOSUPPORT;
    case UV_EAI_MEMORY:     return -ENOMEM;
    case UV_EAI_BADFLAGS:
    case UV_EAI_BADHINTS:
    case UV_EAI_PROTOCOL:   return -EINVAL;
    case UV_EAI_OVERFLOW:   return -ENAMETOOLONG;
    case UV_EAI_CANCELED:   return -ECANCELED;
    default:                return uverr < 0 ? uverr : -EIO;
    }
}

/* gaierr is eaierr for getaddrinfo's own codes (glibc's values differ
 * from libuv's). */
static int gaierr(int e)
{
    switch (e) {
    case EAI_NONAME:
    case EAI_NODATA:
    case EAI_ADDRFAMILY: return -ENOENT;
    case EAI_SERVICE:    return -ESRCH;
    case EAI_AGAIN:      return -EAGAIN;
    case EAI_FAIL:       return -EIO;
    case EAI_FAMILY:     return -EAFNOSUPPORT;
    case EAI_SOCKTYPE:   return -ESOCKTNOSUPPORT;
    case EAI_MEMORY:     return -ENOMEM;
    case EAI_BADFLAGS:   return -EINVAL;
    case EAI_OVERFLOW:   return -ENAMETOOLONG;
    case EAI_SYSTEM:     return -errno;
    default:             return -EIO;
    }
}

/* ---- resolving on the pool ------------------------------------------------- */

/* A resolution, on the heap: with a deadline the G may leave before the
 * pool is done with it. Loop thread from submission on. */
typedef struct resolvereq {
    loopcall        *lc;        /* the parked G's call; NULL once readied */
    uv_getaddrinfo_t req;
    uv_timer_t       timer;
    int64_t          deadline;  /* absolute nanotime; 0: none */
    int              refs;      /* the request, and the timer if armed */
    struct addrinfo *res;       /* handed to the G, or freed */
    int              status;
    char            *node, *service; /* copies, in the same block */
    struct addrinfo  hints;
} resolvereq;

/* The G's side of it, on its pinned stack. */
typedef struct resolvecall {
    loopcall         lc;
    resolvereq      *r;
    struct addrinfo *res;
} resolvecall;

static void resolverelease(resolvereq *r)
{
    if (--r->refs == 0)
        free(r);
}

static void resolveend(resolvereq *r, int status, struct addrinfo *res)
{
    loopcall *lc = r->lc;
    r->lc = NULL;
    resolvecall *rc = (resolvecall *)lc;
    rc->res = res;
    lc->result = status;
    loopcalldone(lc);
}

static void resolvetimerclosed(uv_handle_t *h)
{
    resolverelease(h->data);
}

static void resolve_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolvereq *r = req->data;
    if (r->deadline > 0 && !uv_is_closing((uv_handle_t *)&r->timer))
        uv_close((uv_handle_t *)&r->timer, resolvetimerclosed);
    if (r->lc != NULL)
        resolveend(r, status < 0 ? eaierr(status) : 0, res);
    else if (res != NULL)
        uv_freeaddrinfo(res);  /* the G left at its deadline */
    resolverelease(r);
}

static void resolvetimeout(uv_timer_t *t)
{
    resolvereq *r = t->data;
    if (r->lc != NULL) {
        resolveend(r, -ETIMEDOUT, NULL);
        /* Not started yet: its callback comes with UV_EAI_CANCELED. */
        uv_cancel((uv_req_t *)&r->req);
    }
    uv_close((uv_handle_t *)&r->timer, resolvetimerclosed);
}

static void resolvestart(loopcall *lc)
{
    resolvereq *r = ((resolvecall *)lc)->r;
    uv_loop_t *loop = loopuv();
    r->req.data = r;
    r->refs = 1;
    int err = uv_getaddrinfo(loop, &r->req, resolve_cb, r->node, r->service,
                             &r->hints);
    if (err < 0) {
        resolveend(r, eaierr(err), NULL);
        free(r);
        return;
    }
    if (r->deadline > 0) {
        int64_t d = r->deadline - nanotime();
        uint64_t ms = d <= 0 ? 0 : (uint64_t)((d + 999999) / 1000000);
        uv_timer_init(loop, &r->timer);
        r->timer.data = r;
        r->refs++;
        uv_update_time(loop);
        uv_timer_start(&r->timer, resolvetimeout, ms, 0);
    }
}

struct gaiargs {
    const char *node, *service;
    const struct addrinfo *hints;
    int64_t deadline;
    resolvereq *r;
    struct addrinfo *res;
    int err;
};

static size_t cstrlen(const char *s)
{
    size_t n = 0;
    while (s != NULL && s[n] != '\0')
        n++;
    return n;
}

/* gaiprep_sys tries the numeric forms at once, else makes the request
 * (node and service copied). On g0. */
static uintptr_t gaiprep_sys(void *arg)
{
    struct gaiargs *a = arg;
    struct addrinfo h = {0};
    if (a->hints != NULL)
        h = *a->hints;
    h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
    h.ai_addr = NULL;
    h.ai_canonname = NULL;
    h.ai_next = NULL;
    bool numeric = a->node == NULL || inet_pton(AF_INET6, a->node,
                   &(struct in6_addr){0}) == 1 ||
                   inet_pton(AF_INET, a->node, &(struct in_addr){0}) == 1;
    if (numeric) {
        /* A literal address is the address asked for: no AI_ADDRCONFIG,
         * whose check of the machine's addresses costs glibc a netlink
         * socket and 7 system calls per call. */
        h.ai_flags &= ~AI_ADDRCONFIG;
        int e = getaddrinfo(a->node, a->service, &h, &a->res);
        /* EAI_NONAME with a numeric host: the service is a name. */
        if (e != EAI_NONAME || a->node == NULL) {
            a->err = e == 0 ? 0 : gaierr(e);
            return 1;
        }
    }
    /* A name in /etc/hosts, where the system would look there first. */
    h.ai_flags = a->hints != NULL ? a->hints->ai_flags : 0;
    int e;
    if (hostslookup(a->node, a->service, &h, &a->res, &e)) {
        a->err = e == 0 ? 0 : gaierr(e);
        return 1;
    }
    size_t nl = cstrlen(a->node), sl = cstrlen(a->service);
    resolvereq *r = calloc(1, sizeof *r + nl + sl + 2);
    if (r == NULL) {
        a->err = -ENOMEM;
        return 1;
    }
    char *p = (char *)(r + 1);
    if (a->node != NULL) {
        memcpy(p, a->node, nl + 1);
        r->node = p;
        p += nl + 1;
    }
    if (a->service != NULL) {
        memcpy(p, a->service, sl + 1);
        r->service = p;
    }
    if (a->hints != NULL)
        r->hints = *a->hints;
    r->hints.ai_addr = NULL;
    r->hints.ai_canonname = NULL;
    r->hints.ai_next = NULL;
    r->deadline = a->deadline;
    a->r = r;
    return 0;
}

int goro_getaddrinfo(const char *node, const char *service,
                     const struct addrinfo *hints, struct addrinfo **res,
                     int64_t deadline_ns)
{
    if (res == NULL || (node == NULL && service == NULL))
        return -EINVAL;
    *res = NULL;
    if (!onG(getg()))
        return -EPERM;
    struct gaiargs a = {node, service, hints, deadline_ns > 0 ? deadline_ns : 0,
                        NULL, NULL, 0};
    if (systemstack(gaiprep_sys, &a) != 0) {
        *res = a.res;
        return a.err;
    }
    resolvecall rc;
    memclr_nolibc(&rc, sizeof rc);
    rc.lc.fn = resolvestart;
    rc.r = a.r;
    a.r->lc = &rc.lc;
    int err = loopcallrun(&rc.lc, waitReasonLoopCall);
    *res = rc.res;
    return err;
}

static uintptr_t freeaddrinfo_sys(void *arg)
{
    freeaddrinfo(arg);
    return 0;
}

void goro_freeaddrinfo(struct addrinfo *ai)
{
    if (ai == NULL)
        return;
    if (onG(getg()))
        systemstack(freeaddrinfo_sys, ai);
    else
        freeaddrinfo(ai);
}

/* ---- networks and addresses -------------------------------------------------- */

typedef struct netspec {
    int family;      /* AF_INET, AF_INET6, AF_UNSPEC (either), AF_UNIX */
    int socktype;    /* SOCK_STREAM, SOCK_DGRAM */
} netspec;

static bool streq(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int parsenet(const char *network, netspec *ns)
{
    static const struct {
        const char *name;
        netspec ns;
    } nets[] = {
        {"tcp", {AF_UNSPEC, SOCK_STREAM}},  {"tcp4", {AF_INET, SOCK_STREAM}},
        {"tcp6", {AF_INET6, SOCK_STREAM}},  {"udp", {AF_UNSPEC, SOCK_DGRAM}},
        {"udp4", {AF_INET, SOCK_DGRAM}},    {"udp6", {AF_INET6, SOCK_DGRAM}},
        {"unix", {AF_UNIX, SOCK_STREAM}},   {"unixgram", {AF_UNIX, SOCK_DGRAM}},
    };
    if (network == NULL)
        return -EINVAL;
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        if (streq(network, nets[i].name)) {
            *ns = nets[i].ns;
            return 0;
        }
    return -EINVAL;
}

/* splithostport splits "host:port", "[v6]:port" or ":port" (Go's
 * net.SplitHostPort) into host (may be empty) and port (not empty). */
static int splithostport(const char *addr, char *host, size_t hostsz,
                         char *port, size_t portsz)
{
    size_t n = cstrlen(addr);
    size_t colon = n;
    while (colon > 0 && addr[colon - 1] != ':')
        colon--;
    if (colon == 0)
        return -EINVAL;  /* no port */
    colon--;
    size_t hs = 0, he = colon;
    if (addr[0] == '[') {
        if (colon == 0 || addr[colon - 1] != ']')
            return -EINVAL;
        hs = 1;
        he = colon - 1;
    } else {
        for (size_t i = 0; i < colon; i++)
            if (addr[i] == ':' || addr[i] == '[' || addr[i] == ']')
                return -EINVAL;  /* an IPv6 literal needs its brackets */
    }
    size_t pl = n - colon - 1;
    if (he - hs >= hostsz || pl == 0 || pl >= portsz)
        return -EINVAL;
    memmove_nolibc(host, addr + hs, he - hs);
    host[he - hs] = '\0';
    memmove_nolibc(port, addr + colon + 1, pl);
    port[pl] = '\0';
    return 0;
}

/* unixaddr fills a sockaddr_un from a path, or from "@name" for Linux's
 * abstract namespace (no file; the name's length is part of it). */
static int unixaddr(const char *path, struct sockaddr_storage *ss,
                    socklen_t *sl)
{
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    size_t n = cstrlen(path);
    if (n == 0 || n >= sizeof un->sun_path)
        return -EINVAL;
    memclr_nolibc(ss, sizeof *ss);
    un->sun_family = AF_UNIX;
    memmove_nolibc(un->sun_path, path, n);
    if (path[0] == '@') {
        un->sun_path[0] = '\0';
        *sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

typedef struct addrlist {
    int n;
    socklen_t len[maxAddrs];
    struct sockaddr_storage a[maxAddrs];
} addrlist;

static uintptr_t copyaddrs_sys(void *arg)
{
    void **v = arg;
    struct addrinfo *ai = v[0];
    addrlist *al = v[1];
    for (struct addrinfo *p = ai; p != NULL && al->n < maxAddrs;
         p = p->ai_next) {
        if (p->ai_addrlen > sizeof al->a[0])
            continue;
        memcpy(&al->a[al->n], p->ai_addr, p->ai_addrlen);
        al->len[al->n++] = p->ai_addrlen;
    }
    freeaddrinfo(ai);
    return 0;
}

/* resolveaddrs turns address into the addresses to try (unix: the one
 * path). passive: for a listen (an empty host is every address). */
static int resolveaddrs(const netspec *ns, const char *address, bool passive,
                        int64_t deadline, addrlist *al)
{
    al->n = 0;
    if (address == NULL)
        return -EINVAL;
    if (ns->family == AF_UNIX) {
        int err = unixaddr(address, &al->a[0], &al->len[0]);
        if (err == 0)
            al->n = 1;
        return err;
    }
    char host[256], port[64];
    int err = splithostport(address, host, sizeof host, port, sizeof port);
    if (err < 0)
        return err;
    struct addrinfo hints;
    memclr_nolibc(&hints, sizeof hints);
    hints.ai_family = ns->family;
    hints.ai_socktype = ns->socktype;
    hints.ai_flags = AI_ADDRCONFIG;
    const char *node = host;
    if (host[0] == '\0') {
        if (passive) {
            /* Every address: IPv6's wildcard, which takes IPv4 too
             * (listensock clears IPV6_V6ONLY), unless the network says
             * IPv4. */
            node = ns->family == AF_INET ? "0.0.0.0" : "::";
        } else {
            node = ns->family == AF_INET6 ? "::1" : "127.0.0.1";
        }
        hints.ai_flags = 0;
    }
    struct addrinfo *ai = NULL;
    err = goro_getaddrinfo(node, port, &hints, &ai, deadline);
    if (err < 0 && host[0] == '\0' && passive && ns->family == AF_UNSPEC) {
        node = "0.0.0.0";  /* no IPv6 here */
        err = goro_getaddrinfo(node, port, &hints, &ai, deadline);
    }
    if (err < 0)
        return err;
    void *v[2] = {ai, al};
    systemstack(copyaddrs_sys, v);
    return al->n > 0 ? 0 : -ENOENT;
}

/* ---- sockets (on g0) ------------------------------------------------------------ */

struct sockop {
    const struct sockaddr *sa;
    socklen_t sl;
    int socktype;
    int backlog;        /* listen: < 0 no listen (datagrams); dial: unused */
    int flags;          /* GORO_LISTEN_* */
    bool dial;
    bool v6only;        /* a tcp6/udp6 listen */
    long result;        /* fd or -errno */
    bool inprogress;
};

static uintptr_t sockop_sys(void *arg)
{
    struct sockop *o = arg;
    int family = o->sa->sa_family;
    int fd = socket(family, o->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    o->inprogress = false;
    if (fd < 0) {
        o->result = -errno;
        return 0;
    }
    int one = 1, zero = 0;
    if (o->dial) {
        if (o->socktype == SOCK_STREAM && family != AF_UNIX)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (o->socktype == SOCK_DGRAM && family != AF_UNIX)
            setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
        if (connect(fd, o->sa, o->sl) < 0) {
            /* EAGAIN: a Unix socket's backlog is full (Go waits too). */
            if (errno != EINPROGRESS && errno != EAGAIN) {
                o->result = -errno;
                close(fd);
                return 0;
            }
            o->inprogress = true;
        }
        o->result = fd;
        return 0;
    }
    if (family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, o->v6only ? &one : &zero,
                   sizeof one);
    if ((o->flags & GORO_LISTEN_REUSEPORT) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        o->result = -errno;
        close(fd);
        return 0;
    }
    if (bind(fd, o->sa, o->sl) < 0 ||
        (o->backlog >= 0 &&
         listen(fd, o->backlog > 0 ? o->backlog : SOMAXCONN) < 0)) {
        o->result = -errno;
        close(fd);
        return 0;
    }
    o->result = fd;
    return 0;
}

/* connectwait parks until fd's connect is done; 0 or -errno. */
static int connectwait(int fd, int64_t deadline)
{
    for (;;) {
        int err = netpollpark(getg(), fd, netpoll_closegen_of(fd), deadline,
                              waitReasonIOWrite, NULL);
        if (err < 0)
            return err;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        long r = rawsyscall6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR,
                             (long)&soerr, (long)&sl, 0);
        if (r < 0)
            return (int)r;
        if (soerr != 0)
            return -soerr;
        /* Writable and no error: connected (a Unix socket whose backlog
         * had no room connects now; try again). */
        struct sockaddr_storage ss;
        socklen_t pl = sizeof ss;
        r = rawsyscall6(SYS_getpeername, fd, (long)&ss, (long)&pl, 0, 0, 0);
        if (r == 0)
            return 0;
        if (r != -ENOTCONN)
            return (int)r;
    }
}

int goro_dial(const char *network, const char *address, int64_t deadline_ns)
{
    netspec ns;
    int err = parsenet(network, &ns);
    if (err < 0)
        return err;
    if (!onG(getg()))
        return -EPERM;
    if (deadline_ns < 0)
        deadline_ns = 0;
    addrlist al;
    err = resolveaddrs(&ns, address, false, deadline_ns, &al);
    if (err < 0)
        return err;
    int first = 0;
    for (int i = 0; i < al.n; i++) {
        struct sockop o;
        memclr_nolibc(&o, sizeof o);
        o.sa = (struct sockaddr *)&al.a[i];
        o.sl = al.len[i];
        o.socktype = ns.socktype;
        o.dial = true;
        systemstack(sockop_sys, &o);
        int fd = (int)o.result;
        fdown(fd);
        if (fd >= 0 && o.inprogress) {
            int e = connectwait(fd, deadline_ns);
            if (e < 0) {
                goro_close(fd);
                fd = e;
            }
        }
        if (fd >= 0)
            return fd;
        if (first == 0)
            first = fd;
        if (fd == -ETIMEDOUT)
            break;  /* no time left for the others */
    }
    return first;
}

int goro_listen_flags(const char *network, const char *address, int backlog,
                      int flags)
{
    netspec ns;
    int err = parsenet(network, &ns);
    if (err < 0)
        return err;
    if ((flags & ~GORO_LISTEN_REUSEPORT) != 0)
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    addrlist al;
    err = resolveaddrs(&ns, address, true, 0, &al);
    if (err < 0)
        return err;
    /* The first address, as Go's Listen. */
    struct sockop o;
    memclr_nolibc(&o, sizeof o);
    o.sa = (struct sockaddr *)&al.a[0];
    o.sl = al.len[0];
    o.socktype = ns.socktype;
    o.backlog = ns.socktype == SOCK_STREAM ? (backlog < 0 ? 0 : backlog) : -1;
    o.flags = flags;
    o.v6only = ns.family == AF_INET6;
    systemstack(sockop_sys, &o);
    fdown((int)o.result);
    return (int)o.result;
}

int goro_listen(const char *network, const char *address, int backlog)
{
    return goro_listen_flags(network, address, backlog, 0);
}

/* ---- datagrams and fd passing (on the G's stack) ---------------------------------- */

/* ioblock parks until fd is ready for a read (or write), as netfd.c's
 * netpollblock. */
static int ioblock(int fd, bool write, int64_t deadline, uint32_t cgen)
{
    int res = netpollpark(getg(), fd, cgen, deadline,
                          write ? waitReasonIOWrite : waitReasonIORead, NULL);
    return res < 0 ? res : 0;
}

/* sockio makes system call nr (sendto, recvfrom, sendmsg, recvmsg) until it
 * does not give EAGAIN, parking in between. */
static long sockio(long nr, bool write, int fd, long a, long b, long c,
                   long d, long e, int64_t deadline)
{
    if (fd < 0)
        return -EBADF;
    if (!onG(getg()))
        return -EPERM;
    for (;;) {
        uint32_t cgen = netpoll_closegen_of(fd);
        long n = rawsyscall6(nr, fd, a, b, c, d, e);
        if (n >= 0)
            return n;
        if (n == -EINTR)
            continue;
        if (n != -EAGAIN)
            return n;
        int err = ioblock(fd, write, deadline, cgen);
        if (err < 0)
            return err;
    }
}

ssize_t goro_sendto(int fd, const void *buf, size_t len,
                    const struct sockaddr *to, unsigned tolen,
                    int64_t deadline_ns)
{
    if (buf == NULL && len > 0)
        return -EINVAL;
    return sockio(SYS_sendto, true, fd, (long)buf, (long)len, MSG_NOSIGNAL,
                  (long)to, to != NULL ? (long)tolen : 0, deadline_ns);
}

ssize_t goro_recvfrom(int fd, void *buf, size_t len, struct sockaddr *from,
                      unsigned *fromlen, int64_t deadline_ns)
{
    if ((buf == NULL && len > 0) || (from != NULL && fromlen == NULL))
        return -EINVAL;
    return sockio(SYS_recvfrom, false, fd, (long)buf, (long)len, 0,
                  (long)from, from != NULL ? (long)fromlen : 0, deadline_ns);
}

/* SCM_MAX_FD, the kernel's limit of fds in one message. */
#define maxPassFds 253

ssize_t goro_send_fds(int sock, const void *buf, size_t len, const int *fds,
                      int nfds, int64_t deadline_ns)
{
    if (buf == NULL || len == 0 || nfds < 0 || nfds > maxPassFds ||
        (fds == NULL && nfds > 0))
        return -EINVAL;
    union {
        char b[CMSG_SPACE(sizeof(int) * maxPassFds)];
        struct cmsghdr align;
    } cm;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg;
    memclr_nolibc(&msg, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memclr_nolibc(&cm, sizeof cm);
        msg.msg_control = cm.b;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memmove_nolibc(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return sockio(SYS_sendmsg, true, sock, (long)&msg, MSG_NOSIGNAL, 0, 0, 0,
                  deadline_ns);
}

ssize_t goro_recv_fds(int sock, void *buf, size_t len, int *fds, int *nfds,
                      int64_t deadline_ns)
{
    if (buf == NULL || len == 0 || nfds == NULL || *nfds < 0 ||
        (fds == NULL && *nfds > 0))
        return -EINVAL;
    union {
        char b[CMSG_SPACE(sizeof(int) * maxPassFds)];
        struct cmsghdr align;
    } cm;
    memclr_nolibc(&cm, sizeof cm);
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg;
    memclr_nolibc(&msg, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cm.b;
    msg.msg_controllen = sizeof cm.b;
    int room = *nfds;
    *nfds = 0;
    long n = sockio(SYS_recvmsg, false, sock, (long)&msg, MSG_CMSG_CLOEXEC, 0,
                    0, 0, deadline_ns);
    if (n < 0)
        return n;
    /* Every fd that came is the caller's or closed here: none leaks. */
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *in = (int *)CMSG_DATA(c);
            for (int i = 0; i < k; i++) {
                if (got < room) {
                    fds[got++] = in[i];
                    fdown(in[i]);
                } else {
                    rawsyscall6(SYS_close, in[i], 0, 0, 0, 0, 0);
                }
            }
        }
        /* CMSG_NXTHDR is a libc function: step by hand. */
        char *next = (char *)c + CMSG_ALIGN(c->cmsg_len);
        if (c->cmsg_len < sizeof *c ||
            next + sizeof *c > cm.b + msg.msg_controllen)
            break;
        c = (struct cmsghdr *)next;
    }
    *nfds = got;
    return n;
}
