/* hiredis.c - goro's hiredis adapter used as a program uses it (built with
 * `pkg-config --cflags --libs goro goro-hiredis`), against the real
 * redis-server that tests/test_hiredis.c starts. Each mode prints one line
 * of key=value results that the test asserts.
 *
 *   hiredisprog roundtrips NETWORK ADDRESS GS ROUNDS CONNS
 *       GS Gs share CONNS connections; each G does ROUNDS round trips of
 *       SET k:G v:G:R, GET k:G (the value must be its own last one) and
 *       INCR total; then DBSIZE and GET total from a fresh connection.
 *   hiredisprog errors NETWORK ADDRESS
 *       a refused dial, an unknown host, a deadline that passes while the
 *       server holds the reply (the connection still works afterwards),
 *       goro_redis_close with a G waiting for its reply, a connection the
 *       server kills.
 */
#include <goro.h>
#include <goro/hiredis.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *network, *address;
static int ngs, rounds, nconns;
static goro_redis **conns;
static goro_wg *wg;
static long ok_rounds, mismatches, errors;
static goro_mutex *mu;
static goro_wg *finished;    /* every G has done its round trips */
static goro_chan *release;   /* closed once main has looked at them */

static void roundtrip(void *arg)
{
    int id = (int)(intptr_t)arg;
    goro_redis *r = conns[id % nconns];
    long good = 0, bad = 0, err = 0;
    char key[32], val[48];
    snprintf(key, sizeof key, "k:%d", id);
    for (int i = 0; i < rounds; i++) {
        snprintf(val, sizeof val, "v:%d:%d", id, i);
        redisReply *rep;
        int rc = goro_redis_command(r, &rep, 0, "SET %s %s", key, val);
        if (rc < 0 || rep->type != REDIS_REPLY_STATUS) {
            err++;
        }
        if (rc == 0)
            goro_redis_free_reply(rep);
        rc = goro_redis_command(r, &rep, 0, "GET %s", key);
        if (rc < 0) {
            err++;
            continue;
        }
        if (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, val) == 0)
            good++;
        else
            bad++;
        goro_redis_free_reply(rep);
        const char *argv[] = {"INCR", "total"};
        rc = goro_redis_command_argv(r, &rep, 0, 2, argv, NULL);
        if (rc < 0 || rep->type != REDIS_REPLY_INTEGER)
            err++;
        if (rc == 0)
            goro_redis_free_reply(rep);
    }
    goro_mutex_lock(mu);
    ok_rounds += good;
    mismatches += bad;
    errors += err;
    goro_mutex_unlock(mu);
    goro_wg_done(finished);
    goro_chan_recv(release, NULL);  /* parked, for main's snapshot */
    goro_wg_done(wg);
}

/* maxstack: the largest stack of the live Gs but the caller. */
static uint64_t maxstack(void)
{
    static goro_ginfo gi[4096];
    int64_t n = goro_gs_snapshot(gi, 4096);
    uint64_t max = 0;
    for (int64_t i = 0; i < n && i < 4096; i++)
        if (gi[i].id != goro_id() && gi[i].stack_size > max)
            max = gi[i].stack_size;
    return max;
}

static long intcmd(goro_redis *r, const char *cmd)
{
    redisReply *rep;
    int rc = goro_redis_command(r, &rep, 0, cmd);
    if (rc < 0)
        return rc;
    long v = rep->type == REDIS_REPLY_INTEGER ? (long)rep->integer
             : rep->type == REDIS_REPLY_STRING ? atol(rep->str)
                                               : -1000000;
    goro_redis_free_reply(rep);
    return v;
}

static void roundtrips(void)
{
    mu = goro_mutex_new();
    wg = goro_wg_new();
    conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        int rc = goro_redis_dial(&conns[i], network, address,
                                 goro_now() + 10000000000LL);
        if (rc < 0) {
            printf("dial=%d\n", rc);
            return;
        }
    }
    goro_redis *c = conns[0];
    redisReply *rep;
    if (goro_redis_command(c, &rep, 0, "FLUSHALL") == 0)
        goro_redis_free_reply(rep);
    goro_stats st0, st1;
    goro_stats_get(&st0);
    int64_t t0 = goro_now();
    finished = goro_wg_new();
    release = goro_chan_new(0, 0);
    goro_wg_add(wg, ngs);
    goro_wg_add(finished, ngs);
    for (int i = 0; i < ngs; i++)
        goro_go(roundtrip, (void *)(intptr_t)i);
    goro_wg_wait(finished);
    uint64_t maxstk = maxstack();
    goro_chan_close(release);
    goro_wg_wait(wg);
    int64_t dt = goro_now() - t0;
    goro_stats_get(&st1);
    for (int i = 0; i < nconns; i++)
        goro_redis_close(conns[i]);
    goro_redis *fresh;
    int rc = goro_redis_dial(&fresh, network, address, 0);
    long dbsize = rc < 0 ? rc : intcmd(fresh, "DBSIZE");
    long total = rc < 0 ? rc : intcmd(fresh, "GET total");
    if (rc == 0)
        goro_redis_close(fresh);
    printf("rc=0 ok=%ld mismatches=%ld errors=%ld dbsize=%ld total=%ld "
           "grows=%llu maxstack=%llu us=%lld\n", ok_rounds, mismatches, errors,
           dbsize, total, (unsigned long long)(st1.stack_grows - st0.stack_grows),
           (unsigned long long)maxstk,
           (long long)(dt / 1000));
}

/* ---- errors ----------------------------------------------------------------- */

static goro_redis *victim;
static int waiter_rc = 1;

/* countsockets: the process's open sockets (the adapter must close every
 * one; the runtime's own fds, such as those it reads threads' states
 * through, come and go with its threads). */
static int countsockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len > 0) {
            target[len] = '\0';
            n += strncmp(target, "socket:", 7) == 0;
        }
    }
    if (d != NULL)
        closedir(d);
    return n;
}

static void blocked(void *arg)
{
    (void)arg;
    redisReply *rep = NULL;
    waiter_rc = goro_redis_command(victim, &rep, 0, "BLPOP nosuchlist 0");
    if (rep != NULL)
        goro_redis_free_reply(rep);
    goro_wg_done(wg);
}

/* waitreply: wait (10 s at most) until G id is parked waiting for a
 * reply (goro_redis_command's receive), so that its command was sent. */
static void waitreply(int64_t id)
{
    goro_ginfo gs[64];
    for (int i = 0; i < 10000; i++) {
        int64_t n = goro_gs_snapshot(gs, 64);
        for (int64_t k = 0; k < n && k < 64; k++)
            if (gs[k].id == id && strcmp(gs[k].waitreason, "chan receive") == 0)
                return;
        goro_sleep_ns(1000000);
    }
}

static void errs(void)
{
    wg = goro_wg_new();
    int fds0 = countsockets();
    goro_redis *r;
    int refused = goro_redis_dial(&r, "tcp", "127.0.0.1:1", 0);
    int unknown = goro_redis_dial(&r, "tcp", "no-such-host.invalid:6379", 0);
    int badnet = goro_redis_dial(&r, "udp", address, 0);
    int rc = goro_redis_dial(&r, network, address, 0);
    if (rc < 0) {
        printf("dial=%d\n", rc);
        return;
    }
    /* The server holds a BLPOP for 1 s; the deadline passes first. */
    redisReply *rep = NULL;
    int64_t t0 = goro_now();
    int late = goro_redis_command(r, &rep, t0 + 100000000, "BLPOP empty 1");
    int64_t waited = goro_now() - t0;
    /* The connection still works: PING's reply comes after BLPOP's. */
    int ping = goro_redis_command(r, &rep, goro_now() + 10000000000LL, "PING");
    int pong = ping == 0 && rep->type == REDIS_REPLY_STATUS &&
               strcmp(rep->str, "PONG") == 0;
    if (ping == 0)
        goro_redis_free_reply(rep);
    /* A server error is a reply. */
    int errrep = goro_redis_command(r, &rep, 0, "NOSUCHCOMMAND");
    int errtype = errrep == 0 ? rep->type : -1;
    if (errrep == 0)
        goro_redis_free_reply(rep);
    /* Close while a G waits for its reply. */
    rc = goro_redis_dial(&victim, network, address, 0);
    goro_wg_add(wg, 1);
    waitreply(goro_go(blocked, NULL));
    goro_redis_close(victim);
    goro_wg_wait(wg);
    /* The server kills a connection. */
    long id = intcmd(r, "CLIENT ID");
    goro_redis *killer;
    goro_redis_dial(&killer, network, address, 0);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "CLIENT KILL ID %ld", id);
    long killed = intcmd(killer, cmd);
    goro_redis_close(killer);
    goro_sleep_ns(100000000);
    int after = goro_redis_command(r, &rep, 0, "PING");
    if (after == 0)
        goro_redis_free_reply(rep);
    /* Sent before the reading G saw the end (a loaded machine may hold
     * it back), the command's reply never came; the next call finds the
     * connection ended. */
    if (after == -ECONNRESET &&
        (after = goro_redis_command(r, &rep, 0, "PING")) == 0)
        goro_redis_free_reply(rep);
    goro_redis_close(r);
    int leaked = countsockets() - fds0;
    printf("rc=0 refused=%d unknown=%d badnet=%d late=%d waited_ms=%lld "
           "pong=%d errtype=%d closed=%d killed=%ld after=%d leaked=%d\n",
           refused, unknown, badnet, late, (long long)(waited / 1000000), pong,
           errtype, waiter_rc, killed, after, leaked);
}

static void mainfn(void *arg)
{
    const char *mode = arg;
    if (strcmp(mode, "roundtrips") == 0)
        roundtrips();
    else
        errs();
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hiredisprog roundtrips|errors NETWORK ADDRESS "
                        "[GS ROUNDS CONNS]\n");
        return 2;
    }
    network = argv[2];
    address = argv[3];
    ngs = argc > 4 ? atoi(argv[4]) : 1000;
    rounds = argc > 5 ? atoi(argv[5]) : 10;
    nconns = argc > 6 ? atoi(argv[6]) : 1;
    setvbuf(stdout, NULL, _IONBF, 0);
    return goro_run(mainfn, argv[1]) == 0 ? 0 : 1;
}
