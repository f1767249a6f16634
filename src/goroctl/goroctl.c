/*
 * goroctl - the command-line client of gorod's admin socket.
 *
 *   goroctl [--socket PATH] COMMAND [ARG...] [--json]
 *
 * It connects to the socket (below), writes the command as one line, reads
 * the reply to the end of the stream and splits it: the first line is "ok" or
 * "error: MESSAGE". On "ok" the body goes to stdout and goroctl exits 0; on
 * an error the whole reply goes to stderr and it exits 1; when it cannot
 * reach the daemon at all it names the socket and the reason and exits 2.
 * `--json` is spelled on the wire as the argument "json" (`stats --json`
 * sends "stats json", `ps --json` "ps json").
 *
 * `trace` streams: after the "ok" line comes the execution trace (JSON
 * for Perfetto), written to --output (or stdout) as it arrives, for
 * --duration (the daemon's default, 5s, when not given).
 *
 * Which socket: --socket PATH, else $GOROD_SOCKET; when neither is given
 * it looks for one, in order:
 *   1. /run/gorod/gorod.sock, the system's gorod (the installed
 *      configuration's socket), when it is there;
 *   2. the socket a gorod with a socket of its own recorded for this user
 *      ($XDG_RUNTIME_DIR/gorod/socket, else /tmp/gorod-UID/socket: see
 *      src/gorod/sockrecord.h), such as one started from the repository
 *      (`make run`, socket build/gorod.sock).
 * The system's socket comes first so that a script run as root on a
 * server reaches the system's daemon whatever a stray record says; but a
 * system socket owned by another user, who gorod would refuse anyway
 * (only its own uid and root may ask), is tried after the record. The
 * first that accepts the connection is the one; when none does, the
 * message names every place looked at and why each failed. A socket named
 * by --socket or GOROD_SOCKET is the only one tried.
 *
 * An ordinary C program, not built against goro: one blocking connect,
 * write and read loop, with a receive timeout so that a daemon that accepts
 * but never answers does not hang a script forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../gorod/sockrecord.h"

#define GOROCTL_VERSION  "0.1.0"
#define DEFAULT_SOCKET   GOROD_SYSTEM_SOCKET
#define LINE_MAX_BYTES   4096
#define REPLY_TIMEOUT_S  30

static void usage(FILE *f)
{
    fprintf(f,
        "usage: goroctl [--socket PATH] COMMAND [--json] [--group NAME]\n"
        "\n"
        "Ask a running gorod over its admin socket.\n"
        "\n"
        "commands:\n"
        "  status     the daemon at a glance\n"
        "  stats      every figure, \"key value\" per line (--json: one JSON "
        "object)\n"
        "  ps         every G: id, status, wait reason, stack, plugin, age\n"
        "             (--json: one JSON array of objects)\n"
        "  stacks     the stack of every G, as Go prints them on SIGQUIT "
        "(--group: one plugin's)\n"
        "  trace      the execution trace of the next --duration (5s), JSON "
        "that\n"
        "             ui.perfetto.dev opens, to --output (or stdout)\n"
        "  plugins    the loaded plugins: state, version, starts, ...\n"
        "  restart NAME  stop one plugin and start it again (exit 1 and the\n"
        "             reason when it is refused or its start fails)\n"
        "  reload     reload the configuration file\n"
        "  metrics    the Prometheus text exposition\n"
        "  help       the daemon's own list of commands\n"
        "\n"
        "options:\n"
        "  -s, --socket PATH  the admin socket; default: $GOROD_SOCKET, "
        "else\n"
        "                     " DEFAULT_SOCKET " if it is there, else the "
        "socket\n"
        "                     that a gorod with a socket of its own "
        "recorded in\n"
        "                     $XDG_RUNTIME_DIR/gorod/socket (else "
        "/tmp/gorod-UID/socket)\n"
        "  -j, --json         ask for JSON (stats, ps)\n"
        "  -g, --group NAME   only the Gs of this group (stacks)\n"
        "  -d, --duration D   how long to trace: 500ms, 5s, 2m (trace)\n"
        "  -o, --output FILE  where the trace goes (trace)\n"
        "  -h, --help         this text\n"
        "  -V, --version      goroctl's version\n"
        "\n"
        "exit status: 0 ok, 1 the daemon answered with an error, 2 it could "
        "not be reached\n");
}

/* Write all of buf; a peer that closed early is not fatal here (its reply
 * may already be waiting), so send with MSG_NOSIGNAL. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* trace_stream reads the reply's first line and copies the trace that
 * follows an "ok" to out as it comes. Returns the exit status: 0, 1 the
 * daemon refused, 2 the stream broke. */
static int trace_stream(int fd, const char *sock, int out, const char *outname)
{
    char buf[65536];
    size_t have = 0;
    char *eol = NULL;
    while (eol == NULL && have < sizeof buf - 1) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        eol = memchr(buf, '\n', have);
    }
    buf[have] = '\0';
    if (eol == NULL || eol - buf != 2 || strncmp(buf, "ok", 2) != 0) {
        if (have == 0)
            fprintf(stderr, "goroctl: %s closed the connection without a "
                    "reply\n", sock);
        else
            fprintf(stderr, "%s%s", buf, buf[have - 1] == '\n' ? "" : "\n");
        return have != 0 && strncmp(buf, "error:", 6) == 0 ? 1 : 2;
    }
    size_t off = (size_t)(eol + 1 - buf);
    uint64_t total = 0;
    for (;;) {
        for (size_t w = off; w < have;) {
            ssize_t n = write(out, buf + w, have - w);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                fprintf(stderr, "goroctl: writing %s: %s\n", outname,
                        strerror(errno));
                return 2;
            }
            w += (size_t)n;
        }
        total += have - off;
        off = 0;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            have = 0;
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "goroctl: reading the trace from %s: %s\n", sock,
                    errno == EAGAIN ? "no data for too long" : strerror(errno));
            return 2;
        }
        if (n == 0)
            break;
        have = (size_t)n;
    }
    if (total == 0) {
        fprintf(stderr, "goroctl: %s sent no trace (another trace running? "
                "see its log)\n", sock);
        return 1;
    }
    return 0;
}

/* unix_connect: a stream socket connected to path, or -errno. */
static int unix_connect(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

/* read_record reads the socket path a gorod recorded at rec into path:
 * NULL, or why there is none to use (into why). */
static const char *read_record(const char *rec, char *path, size_t len,
                               char *why, size_t whylen)
{
    char dir[PATH_MAX];
    struct stat st;
    if (sockrecord_dir(dir, sizeof dir) != 0)
        return "$XDG_RUNTIME_DIR is too long";
    if (lstat(dir, &st) != 0)
        return strerror(errno);
    const char *bad = sockrecord_dir_ok(&st);
    if (bad != NULL) {
        snprintf(why, whylen, "%s is %s: not used", dir, bad);
        return why;
    }
    int fd = open(rec, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return strerror(errno);
    ssize_t n = read(fd, path, len - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return strerror(err);
    path[n] = '\0';
    path[strcspn(path, "\n")] = '\0';
    if (path[0] != '/')
        return "holds no absolute path";
    return NULL;
}

/* find_gorod connects to the first socket of those goroctl looks at when
 * given none (the top of this file): the fd, its path in *sockp; or -1
 * after a message naming every place looked at. */
static int find_gorod(const char **sockp)
{
    static char recsock[PATH_MAX];
    char rec[PATH_MAX], why[PATH_MAX + 64];
    struct {
        const char *path;           /* the socket, NULL: none */
        char        what[PATH_MAX + 160];
        int         err;            /* errno of the connect */
    } c[3];
    int n = 0;
    memset(c, 0, sizeof c);

    struct stat st;
    bool sys = lstat(DEFAULT_SOCKET, &st) == 0;
    int syserr = errno;
    bool sysfirst = sys && (st.st_uid == geteuid() || geteuid() == 0);
    if (sysfirst || !sys) {
        c[n].path = sys ? DEFAULT_SOCKET : NULL;
        c[n].err = sys ? 0 : syserr;
        snprintf(c[n].what, sizeof c[n].what, "%s (the system's gorod)",
                 DEFAULT_SOCKET);
        n++;
    }
    const char *recwhy = sockrecord_path(rec, sizeof rec) != 0
                             ? "$XDG_RUNTIME_DIR is too long"
                             : read_record(rec, recsock, sizeof recsock, why,
                                           sizeof why);
    c[n].path = recwhy == NULL ? recsock : NULL;
    if (recwhy == NULL)
        snprintf(c[n].what, sizeof c[n].what, "%s, recorded in %s by a "
                 "gorod with a socket of its own", recsock, rec);
    else
        snprintf(c[n].what, sizeof c[n].what, "%s (where a gorod with a "
                 "socket of its own records it): %s", rec, recwhy);
    n++;
    if (sys && !sysfirst) {
        c[n].path = DEFAULT_SOCKET;
        snprintf(c[n].what, sizeof c[n].what, "%s (the system's gorod, "
                 "socket of uid %u)", DEFAULT_SOCKET, (unsigned)st.st_uid);
        n++;
    }

    for (int i = 0; i < n; i++) {
        if (c[i].path == NULL)
            continue;
        int fd = unix_connect(c[i].path);
        if (fd >= 0) {
            *sockp = c[i].path;
            return fd;
        }
        c[i].err = -fd;
    }
    fprintf(stderr, "goroctl: no gorod answers (no --socket given, "
            "GOROD_SOCKET not set); looked at:\n");
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "  %s", c[i].what);
        if (c[i].err != 0)
            fprintf(stderr, ": %s%s", strerror(c[i].err),
                    c[i].path == recsock && c[i].err == ECONNREFUSED
                        ? " (a gorod that is gone?)" : "");
        fputc('\n', stderr);
    }
    fprintf(stderr, "goroctl: start gorod, or name its admin socket with "
            "--socket PATH or GOROD_SOCKET=PATH\n");
    return -1;
}

int main(int argc, char **argv)
{
    const char *sock_arg = getenv("GOROD_SOCKET");
    if (sock_arg != NULL && sock_arg[0] == '\0')
        sock_arg = NULL;
    bool json = false;
    const char *group = NULL, *duration = NULL, *output = NULL;

    static const struct option opts[] = {
        {"socket",  required_argument, NULL, 's'},
        {"json",    no_argument,       NULL, 'j'},
        {"group",   required_argument, NULL, 'g'},
        {"duration", required_argument, NULL, 'd'},
        {"output",  required_argument, NULL, 'o'},
        {"help",    no_argument,       NULL, 'h'},
        {"version", no_argument,       NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:jg:d:o:hV", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sock_arg = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'g':
            group = optarg;
            break;
        case 'd':
            duration = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("goroctl %s\n", GOROCTL_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "goroctl: no command given\n");
        usage(stderr);
        return 2;
    }

    /* The line: the command and its arguments, then "json" for --json. */
    size_t cap = LINE_MAX_BYTES * 4 + 2, len = 0;
    char *line = malloc(cap);
    if (line == NULL) {
        fprintf(stderr, "goroctl: out of memory\n");
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (len + n + 8 > cap) {
            fprintf(stderr, "goroctl: command line too long\n");
            return 2;
        }
        if (len)
            line[len++] = ' ';
        memcpy(line + len, argv[i], n);
        len += n;
    }
    if (json) {
        memcpy(line + len, " json", 5);
        len += 5;
    }
    bool trace = strcmp(argv[optind], "trace") == 0;
    if (trace && duration != NULL)
        group = duration;    /* the argument of "trace" */
    if (group != NULL) {
        size_t n = strlen(group);
        if (len + n + 8 > cap) {
            fprintf(stderr, "goroctl: command line too long\n");
            return 2;
        }
        line[len++] = ' ';
        memcpy(line + len, group, n);
        len += n;
    }
    line[len++] = '\n';

    const char *sock;
    int fd = sock_arg != NULL ? unix_connect(sock = sock_arg)
                              : find_gorod(&sock);
    if (fd < 0 && sock_arg != NULL) {
        if (fd == -ENAMETOOLONG)
            fprintf(stderr, "goroctl: cannot connect to %s: socket path too "
                    "long (at most %zu bytes)\n", sock,
                    sizeof ((struct sockaddr_un *)0)->sun_path - 1);
        else
            fprintf(stderr, "goroctl: cannot connect to %s: %s%s\n", sock,
                    strerror(-fd),
                    fd == -ENOENT || fd == -ECONNREFUSED
                        ? " (is gorod running? --socket or GOROD_SOCKET name "
                          "another socket)"
                        : "");
    }
    if (fd < 0)
        return 2;
    int out = 1;
    if (trace && output != NULL &&
        (out = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        fprintf(stderr, "goroctl: %s: %s\n", output, strerror(errno));
        return 2;
    }
    /* A trace arrives in bursts, as the daemon's buffers fill: give it
     * the longest trace's time to send nothing. */
    struct timeval tv = {trace ? REPLY_TIMEOUT_S + 600 : REPLY_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    int werr = write_all(fd, line, len);
    free(line);
    /* Even when the write failed the daemon may have answered (a line too
     * long is refused before it is all read): read what there is. */
    if (werr == 0)
        shutdown(fd, SHUT_WR);
    if (trace) {
        int rc = trace_stream(fd, sock, out, output ? output : "stdout");
        if (out != 1 && close(out) != 0 && rc == 0) {
            fprintf(stderr, "goroctl: %s: %s\n", output, strerror(errno));
            rc = 2;
        }
        return rc;
    }

    size_t rcap = 65536, rlen = 0;
    char *reply = malloc(rcap + 1);
    if (reply == NULL) {
        fprintf(stderr, "goroctl: out of memory\n");
        return 2;
    }
    for (;;) {
        if (rlen == rcap) {
            char *r = realloc(reply, rcap * 2 + 1);
            if (r == NULL) {
                fprintf(stderr, "goroctl: out of memory\n");
                return 2;
            }
            reply = r;
            rcap *= 2;
        }
        ssize_t n = read(fd, reply + rlen, rcap - rlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* A reset after the reply (the daemon closed with our unread
             * bytes pending) ends the stream like EOF. */
            if (errno == ECONNRESET && rlen > 0)
                break;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                fprintf(stderr, "goroctl: %s: no reply within %ds\n", sock,
                        REPLY_TIMEOUT_S);
                return 2;
            }
            fprintf(stderr, "goroctl: reading from %s: %s\n", sock,
                    strerror(errno));
            return 2;
        }
        if (n == 0)
            break;
        rlen += (size_t)n;
    }
    close(fd);
    reply[rlen] = '\0';

    if (rlen == 0) {
        if (werr < 0)
            fprintf(stderr, "goroctl: writing to %s: %s\n", sock,
                    strerror(-werr));
        else
            fprintf(stderr, "goroctl: %s closed the connection without a "
                    "reply\n", sock);
        return 2;
    }
    char *eol = strchr(reply, '\n');
    size_t first = eol ? (size_t)(eol - reply) : rlen;
    if (first == 2 && strncmp(reply, "ok", 2) == 0) {
        const char *body = eol ? eol + 1 : reply + rlen;
        fwrite(body, 1, rlen - (size_t)(body - reply), stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    fwrite(reply, 1, rlen, stderr);
    if (reply[rlen - 1] != '\n')
        fputc('\n', stderr);
    return strncmp(reply, "error:", 6) == 0 ? 1 : 2;
}
