/*
 * hosts.c - names from /etc/hosts without the resolver's thread (Go's
 * net/hosts.go): hostslookup, which goro_getaddrinfo (dial.c) asks before
 * it hands a name to libuv's thread pool.
 *
 * A name resolved through the pool costs a loop call, a pool thread and
 * their wake-ups, and glibc then reads /etc/hosts again and probes the
 * machine's addresses over netlink for AI_ADDRCONFIG: three threads and
 * some 35 system calls for an answer that sits in a file which seldom
 * changes. Go keeps the file parsed in memory and answers in the calling
 * goroutine; so does this file, in the calling G (on g0: the table is
 * built with libc).
 *
 * The answer must be the one getaddrinfo(3) would give, so the table is
 * used only where glibc would answer from the same file and in an order
 * known without asking the kernel:
 *
 *   - /etc/nsswitch.conf's hosts line puts "files" first, with no action
 *     other than the defaults (Go's conf.go: standardCriteria). glibc
 *     stops at the first source that finds the name, so a name found
 *     there is its answer whatever comes after; a name not found, or not
 *     found for the family asked, goes on to the other sources: the pool.
 *   - the addresses are the ones glibc's files source gives for the
 *     family asked: AF_UNSPEC every line's address as written; AF_INET
 *     the IPv4 ones, v4-mapped IPv6 ones as IPv4 and ::1 as 127.0.0.1;
 *     AF_INET6 the IPv6 ones. Names on several lines only with host.conf's
 *     "multi on".
 *   - glibc sorts them by RFC 6724, whose rules need each destination's
 *     source address (a connect(2) per address). The table answers when
 *     that sort has nothing to decide: one address, or only loopback
 *     ones, the same address within each family (localhost's ::1 and
 *     127.0.0.1): ::1 first (precedence 50 against 35) when the machine
 *     has it, else last (unusable), unless /etc/gai.conf changes the
 *     precedences. Other lists go to the pool.
 *   - AI_ADDRCONFIG narrows AF_UNSPEC to the one family the machine has a
 *     non-loopback address of, as glibc's __check_pf does (getifaddrs,
 *     loopback addresses left out).
 *   - the rest of the hints (socket type, protocol, the service, numeric
 *     or named, AI_NUMERICSERV, AI_PASSIVE) are getaddrinfo's own: each
 *     address is passed to it with AI_NUMERICHOST, which does no lookup,
 *     and the lists are joined. Each node of glibc's list is its own
 *     allocation, so the joined list is freed by freeaddrinfo, that is
 *     goro_freeaddrinfo, as before. Flags it cannot answer for
 *     (AI_CANONNAME, AI_V4MAPPED, AI_ALL, AI_NUMERICHOST, the IDN ones)
 *     go to the pool.
 *
 * The files (hosts, nsswitch.conf, host.conf, gai.conf) and the
 * machine's addresses are looked at again at most every recheckNs: one
 * stat each, and the files are read again when a file's mtime, size or
 * inode changed; getifaddrs every time. A G that finds the check due does
 * it outside the lock while the others use the table they have.
 *
 * Rejected: RFC 6724's whole sort with each destination's source address
 * cached beside the table (glibc's rules 3, 7 and 9 also read the
 * addresses' flags and prefix lengths: a second copy of glibc's sort
 * whose answers could drift from it, for lists of names that are rare in
 * /etc/hosts); Go's order (the file's, unsorted), which differs from what
 * getaddrinfo and this library gave before; asking nscd.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime2.h"

/* How often the files are checked for changes (Go's 5 s). */
#define recheckNs (5 * 1000000000ll)

/* At most this many addresses of a name are answered (dial.c tries 16). */
#define maxHostAddrs 16

enum { fHosts, fNsswitch, fHostconf, fGaiconf, nFiles };

static const char *const hostsfiles[nFiles] = {
    "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
};

typedef struct filestamp {
    bool     exists;
    dev_t    dev;
    ino_t    ino;
    off_t    size;
    struct timespec mtime;
} filestamp;

/* One line's address for one of its names. */
typedef struct hostentry {
    const char *name;    /* lower case, in hoststable.text */
    uint32_t    next;    /* the next entry of the same name, or noEntry */
    uint32_t    line;
    int         family;  /* AF_INET or AF_INET6 */
    uint8_t     addr[16];
} hostentry;

#define noEntry UINT32_MAX

/* The parsed files. Never changed once made: a new one replaces it. */
typedef struct hoststable {
    char      *text;      /* /etc/hosts, cut into names in place */
    hostentry *e;         /* in the file's order */
    uint32_t   ne;
    uint32_t  *bucket;    /* first entry of each name, by hash; noEntry */
    uint32_t   nbucket;   /* a power of two */
    bool       filesfirst; /* nsswitch.conf's hosts line starts with files */
    bool       multi;     /* host.conf: multi on */
    bool       gaiconf;   /* gai.conf sets something */
} hoststable;

/* The machine's addresses, as glibc's __check_pf sees them. */
typedef struct ifstate {
    bool ok;         /* getifaddrs worked */
    bool seen4;      /* an IPv4 address other than 127.0.0.1 */
    bool seen6;      /* an IPv6 address other than ::1 */
    bool loop6;      /* ::1: a connect to it works (RFC 6724 rule 1) */
} ifstate;

static struct {
    mutex       lock;
    hoststable *t;         /* under lock; NULL: not read (yet) */
    ifstate     ifs;       /* under lock */
    filestamp   st[nFiles];/* the files t was read from; the checker's */
    int64_t     checked;   /* nanotime of the last check, under lock;
                              0: check at the next lookup */
    bool        checking;  /* a G is checking; under lock */
} hosts;

/* ---- reading the files (on g0) --------------------------------------------- */

static bool ishspace(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static uint32_t namehash(const char *s)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* readall reads path into a NUL-terminated buffer; NULL if it cannot. */
static char *readall(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &sb) == 0 && sb.st_size < (1 << 30))
        buf = malloc((size_t)sb.st_size + 1);
    while (buf != NULL && n < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
        }
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

/* nextline returns the next line of *p with its comment cut, advancing
 * *p; NULL at the end. */
static char *nextline(char **p)
{
    char *s = *p;
    if (*s == '\0')
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    char *hash = strchr(s, '#');
    if (hash != NULL)
        *hash = '\0';
    return s;
}

/* nexttoken returns the next whitespace-separated word of *p, cut in
 * place; NULL at the line's end. */
static char *nexttoken(char **p)
{
    char *s = *p;
    while (ishspace(*s))
        s++;
    if (*s == '\0')
        return NULL;
    char *t = s;
    while (*s != '\0' && !ishspace(*s))
        s++;
    if (*s != '\0')
        *s++ = '\0';
    *p = s;
    return t;
}

/* criterionstandard is Go's nssCriterion.standardStatusAction: whether
 * "STATUS=action" (lower case) means what leaving it out means. */
static bool criterionstandard(const char *c, bool last)
{
    if (c[0] == '!')
        return false;
    const char *eq = strchr(c, '=');
    if (eq == NULL)
        return false;
    size_t sl = (size_t)(eq - c);
    const char *act = eq + 1, *def;
    if (sl == 7 && strncmp(c, "success", 7) == 0)
        def = "return";
    else if ((sl == 8 && strncmp(c, "notfound", 8) == 0) ||
             (sl == 7 && strncmp(c, "unavail", 7) == 0) ||
             (sl == 8 && strncmp(c, "tryagain", 8) == 0))
        def = "continue";
    else
        return false;
    if (last && strcmp(act, "return") == 0)
        return true;
    return strcmp(act, def) == 0;
}

/* nssfilesfirst reads nsswitch.conf's (last) hosts line as Go's nss.go
 * parses it: whether its first source is "files" with standard criteria.
 * No file or no hosts line: glibc's default, "dns [!UNAVAIL=return]
 * files", which does not. */
static bool nssfilesfirst(char *text)
{
    bool first = false;
    char *p = text, *l;
    while ((l = nextline(&p)) != NULL) {
        for (char *c = l; *c != '\0'; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c += 'a' - 'A';
        char *colon = strchr(l, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        char *q = l, *db = nexttoken(&q);
        if (db == NULL || strcmp(db, "hosts") != 0 || nexttoken(&q) != NULL)
            continue;
        q = colon + 1;
        char *src = nexttoken(&q);
        first = src != NULL && strcmp(src, "files") == 0;
        while (ishspace(*q))
            q++;
        if (!first || *q != '[')
            continue;
        /* The criteria in brackets after it: "[STATUS=action ...]". */
        char *end = strchr(q, ']');
        if (end == NULL) {
            first = false;
            continue;
        }
        *end = '\0';
        char *cq = q + 1, *crit = nexttoken(&cq);
        while (crit != NULL && first) {
            char *next = nexttoken(&cq);
            first = criterionstandard(crit, next == NULL);
            crit = next;
        }
    }
    return first;
}

/* hostconfmulti: host.conf's last "multi" line says on. glibc's default
 * is off; RESOLV_MULTI overrides the file, and RESOLV_HOST_CONF names
 * another one (then: off, which sends the doubtful cases to the pool). */
static bool hostconfmulti(char *text)
{
    const char *env = getenv("RESOLV_MULTI");
    if (env != NULL)
        return strcasecmp(env, "on") == 0;
    if (getenv("RESOLV_HOST_CONF") != NULL || text == NULL)
        return false;
    bool multi = false;
    char *p = text, *l;
    while ((l = nextline(&p)) != NULL) {
        char *w = nexttoken(&l);
        if (w != NULL && strcasecmp(w, "multi") == 0) {
            char *v = nexttoken(&l);
            multi = v != NULL && strcasecmp(v, "on") == 0;
        }
    }
    return multi;
}

/* gaiconfsets: gai.conf has a line other than comments and blanks. */
static bool gaiconfsets(char *text)
{
    char *p = text, *l;
    while (text != NULL && (l = nextline(&p)) != NULL)
        if (nexttoken(&l) != NULL)
            return true;
    return false;
}

/* parseaddr reads a hosts line's address as glibc's files source does:
 * IPv6 by inet_pton, IPv4 by inet_aton (which takes 127.1). */
static bool parseaddr(const char *s, hostentry *e)
{
    memset(e->addr, 0, sizeof e->addr);
    if (strchr(s, ':') != NULL) {
        e->family = AF_INET6;
        return inet_pton(AF_INET6, s, e->addr) == 1;
    }
    e->family = AF_INET;
    return inet_aton(s, (struct in_addr *)e->addr) != 0;
}

static void tablefree(hoststable *t)
{
    if (t == NULL)
        return;
    free(t->text);
    free(t->e);
    free(t->bucket);
    free(t);
}

/* tableread reads the files into a new table; NULL when out of memory. */
static hoststable *tableread(void)
{
    hoststable *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    char *conf = readall(hostsfiles[fNsswitch]);
    t->filesfirst = conf != NULL && nssfilesfirst(conf);
    free(conf);
    conf = readall(hostsfiles[fHostconf]);
    t->multi = hostconfmulti(conf);
    free(conf);
    conf = readall(hostsfiles[fGaiconf]);
    t->gaiconf = gaiconfsets(conf);
    free(conf);
    if (!t->filesfirst)
        return t;
    t->text = readall(hostsfiles[fHosts]);
    if (t->text == NULL)
        return t;
    /* An entry for each name of each line whose address parses. */
    size_t cap = 64, ne = 0;
    t->e = malloc(cap * sizeof *t->e);
    char *p = t->text, *l;
    for (uint32_t line = 1; t->e != NULL && (l = nextline(&p)) != NULL;
         line++) {
        hostentry e;
        char *a = nexttoken(&l);
        if (a == NULL || !parseaddr(a, &e))
            continue;
        e.line = line;
        e.next = noEntry;
        for (char *n; (n = nexttoken(&l)) != NULL;) {
            for (char *c = n; *c != '\0'; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c += 'a' - 'A';
            if (ne == cap) {
                hostentry *ge = realloc(t->e, 2 * cap * sizeof *ge);
                if (ge == NULL)
                    goto oom;
                t->e = ge;
                cap *= 2;
            }
            e.name = n;
            t->e[ne++] = e;
        }
    }
    if (t->e == NULL || ne >= noEntry)
        goto oom;
    t->ne = (uint32_t)ne;
    t->nbucket = 16;
    while (t->nbucket < 2 * ne)
        t->nbucket *= 2;
    t->bucket = malloc(t->nbucket * sizeof *t->bucket);
    uint32_t *last = malloc(t->nbucket * sizeof *last);
    if (t->bucket == NULL || last == NULL) {
        free(last);
        goto oom;
    }
    memset(t->bucket, 0xff, t->nbucket * sizeof *t->bucket);
    /* Open addressing on the name; each name's entries chained in the
     * file's order (last[] is the chain's tail). */
    for (uint32_t i = 0; i < t->ne; i++) {
        uint32_t b = namehash(t->e[i].name) & (t->nbucket - 1);
        while (t->bucket[b] != noEntry &&
               strcmp(t->e[t->bucket[b]].name, t->e[i].name) != 0)
            b = (b + 1) & (t->nbucket - 1);
        if (t->bucket[b] == noEntry)
            t->bucket[b] = i;
        else
            t->e[last[b]].next = i;
        last[b] = i;
    }
    free(last);
    return t;
oom:
    tablefree(t);
    return NULL;
}

static void stampof(const char *path, filestamp *fs)
{
    struct stat sb;
    memset(fs, 0, sizeof *fs);
    if (stat(path, &sb) != 0)
        return;
    fs->exists = true;
    fs->dev = sb.st_dev;
    fs->ino = sb.st_ino;
    fs->size = sb.st_size;
    fs->mtime = sb.st_mtim;
}

static void ifread(ifstate *s)
{
    static const struct in6_addr loop6 = IN6ADDR_LOOPBACK_INIT;
    struct ifaddrs *ifa;
    memset(s, 0, sizeof *s);
    if (getifaddrs(&ifa) != 0)
        return;
    s->ok = true;
    for (struct ifaddrs *i = ifa; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            if (a.s_addr != htonl(INADDR_LOOPBACK))
                s->seen4 = true;
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a =
                &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (memcmp(a, &loop6, sizeof loop6) == 0)
                s->loop6 = true;
            else
                s->seen6 = true;
        }
    }
    freeifaddrs(ifa);
}

/* hostscheck stats the files, reads them again if one changed, and looks
 * at the machine's addresses. Called with checking set, without the lock;
 * on g0. */
static void hostscheck(void)
{
    filestamp st[nFiles];
    bool changed = false;
    for (int i = 0; i < nFiles; i++) {
        stampof(hostsfiles[i], &st[i]);
        changed |= memcmp(&st[i], &hosts.st[i], sizeof st[i]) != 0;
    }
    hoststable *t = NULL;
    if (changed || hosts.t == NULL) {
        t = tableread();
        if (t != NULL)
            memcpy(hosts.st, st, sizeof st);
    }
    ifstate ifs;
    ifread(&ifs);
    lock(&hosts.lock);
    hoststable *old = NULL;
    if (t != NULL) {
        old = hosts.t;
        hosts.t = t;
    }
    hosts.ifs = ifs;
    hosts.checked = nanotime();
    hosts.checking = false;
    unlock(&hosts.lock);
    /* Lookups copy out of the table under the lock: nobody holds old. */
    tablefree(old);
}

/* ---- answering (on g0) ------------------------------------------------------- */

typedef struct hostaddr {
    int     family;
    uint8_t addr[16];
} hostaddr;

static bool isloopback(const hostaddr *a)
{
    static const struct in6_addr loop6 = IN6ADDR_LOOPBACK_INIT;
    if (a->family == AF_INET)
        return a->addr[0] == 127;
    return memcmp(a->addr, &loop6, 16) == 0;
}

/* candidates copies the addresses glibc's files source gives name for
 * family into out, in the file's order: their count; 0 for none; -1 when
 * the table cannot say (too many, or several lines without multi).
 * Under hosts.lock. */
static int candidates(const hoststable *t, const char *name, int family,
                      hostaddr *out)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
                                         0xff};
    if (t->ne == 0)
        return 0;
    uint32_t b = namehash(name) & (t->nbucket - 1);
    while (t->bucket[b] != noEntry && strcmp(t->e[t->bucket[b]].name, name))
        b = (b + 1) & (t->nbucket - 1);
    int n = 0;
    uint32_t firstline = 0;
    for (uint32_t i = t->bucket[b]; i != noEntry; i = t->e[i].next) {
        const hostentry *e = &t->e[i];
        hostaddr a = {.family = e->family};
        memcpy(a.addr, e->addr, 16);
        if (family == AF_INET && e->family == AF_INET6) {
            if (memcmp(e->addr, v4mapped, 12) == 0) {
                memcpy(a.addr, e->addr + 12, 4);
            } else if (isloopback(&a)) {
                memset(a.addr, 0, 16);
                a.addr[0] = 127;
                a.addr[3] = 1;
            } else {
                continue;
            }
            memset(a.addr + 4, 0, 12);
            a.family = AF_INET;
        } else if (family == AF_INET6 && e->family == AF_INET) {
            continue;
        }
        if (firstline == 0)
            firstline = e->line;
        /* Several lines: glibc's files source reads past a name's first
         * line only with multi on (its gethostbyname4_r, for AF_UNSPEC,
         * may read them all anyway: the pool is right either way). */
        if (n == maxHostAddrs || (!t->multi && e->line != firstline))
            return -1;
        out[n++] = a;
    }
    return n;
}

/* order puts the addresses in getaddrinfo's order where RFC 6724 leaves
 * nothing to the source addresses: false when it would. */
static bool order(hostaddr *a, int n, const ifstate *ifs, bool gaiconf)
{
    if (n <= 1)
        return true;
    /* Only loopback addresses, the same one within each family. */
    int n6 = 0;
    for (int i = 0; i < n; i++) {
        if (!isloopback(&a[i]))
            return false;
        for (int j = 0; j < i; j++)
            if (a[j].family == a[i].family &&
                memcmp(a[j].addr, a[i].addr, 16) != 0)
                return false;
        n6 += a[i].family == AF_INET6;
    }
    if (n6 == 0 || n6 == n)
        return true;
    if (gaiconf || !ifs->ok)
        return false;
    /* ::1 (precedence 50) before ::ffff:127.0.0.0/104 (35), or after it
     * when the machine has no ::1 (rule 1); stable within each family. */
    int firstfamily = ifs->loop6 ? AF_INET6 : AF_INET;
    hostaddr s[maxHostAddrs];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (a[i].family == firstfamily)
            s[k++] = a[i];
    for (int i = 0; i < n; i++)
        if (a[i].family != firstfamily)
            s[k++] = a[i];
    memcpy(a, s, (size_t)n * sizeof *a);
    return true;
}

/* answer makes getaddrinfo's list for the addresses: each through
 * getaddrinfo with AI_NUMERICHOST (the service, socket types and flags
 * are its own), the lists joined. */
static int answer(const hostaddr *a, int n, const char *service,
                  const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo *head = NULL, **tail = &head;
    for (int i = 0; i < n; i++) {
        char s[INET6_ADDRSTRLEN];
        inet_ntop(a[i].family, a[i].addr, s, sizeof s);
        struct addrinfo h = *hints, *r = NULL;
        h.ai_family = a[i].family;
        h.ai_addrlen = 0;
        h.ai_addr = NULL;
        h.ai_canonname = NULL;
        h.ai_next = NULL;
        h.ai_flags = (h.ai_flags & ~AI_ADDRCONFIG) | AI_NUMERICHOST;
        int e = getaddrinfo(s, service, &h, &r);
        if (e != 0) {
            freeaddrinfo(head);
            return e;
        }
        *tail = r;
        while (*tail != NULL)
            tail = &(*tail)->ai_next;
    }
    *res = head;
    return 0;
}

int hostslookup(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res, int *gai)
{
    enum { known = AI_ADDRCONFIG | AI_PASSIVE | AI_NUMERICSERV };
    int family = hints->ai_family;
    if (node == NULL || (hints->ai_flags & ~known) != 0 ||
        (family != AF_UNSPEC && family != AF_INET && family != AF_INET6))
        return 0;
    /* An IPv4 form inet_pton refuses (127.1) is a number to
     * getaddrinfo, never a name. */
    struct in_addr in4;
    if (inet_aton(node, &in4) != 0)
        return 0;
    char name[256];
    size_t nl = 0;
    for (; node[nl] != '\0'; nl++) {
        if (nl == sizeof name - 1)
            return 0;
        char c = node[nl];
        name[nl] = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
    }
    name[nl] = '\0';

    int64_t now = nanotime();
    lock(&hosts.lock);
    if (!hosts.checking &&
        (hosts.checked == 0 || now - hosts.checked >= recheckNs)) {
        hosts.checking = true;
        unlock(&hosts.lock);
        hostscheck();
        lock(&hosts.lock);
    }
    const hoststable *t = hosts.t;
    ifstate ifs = hosts.ifs;
    hostaddr a[maxHostAddrs];
    int n = -1;
    bool gaiconf = false;
    if (t != NULL && t->filesfirst) {
        if ((hints->ai_flags & AI_ADDRCONFIG) && family == AF_UNSPEC &&
            ifs.ok && ifs.seen4 != ifs.seen6)
            family = ifs.seen4 ? AF_INET : AF_INET6;
        if (!(hints->ai_flags & AI_ADDRCONFIG) ||
            (ifs.ok && (family != AF_INET || ifs.seen4) &&
             (family != AF_INET6 || ifs.seen6)))
            n = candidates(t, name, family, a);
        gaiconf = t->gaiconf;
    }
    unlock(&hosts.lock);
    if (n <= 0 || !order(a, n, &ifs, gaiconf))
        return 0;
    *gai = answer(a, n, service, hints, res);
    return 1;
}

void hostsrecheck(void)
{
    lock(&hosts.lock);
    hosts.checked = 0;
    unlock(&hosts.lock);
}
