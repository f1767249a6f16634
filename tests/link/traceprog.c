/* traceprog.c - a program whose execution trace is known, for
 * tests/test_trace.c (checked by tests/trace_check.py): a ping-pong of
 * ROUNDS round trips over unbuffered channels (echoer), a G that sleeps
 * three times (sleeper), one that grows its stack past 64 KiB (recurser),
 * one that yields five times (yielder), one that makes a blocking libc
 * call (syscaller: usleep, a system call of the G through goro.pc's
 * wrappers), one that waits on a pipe's read end (iowaiter: a netpoll
 * wake; the main G writes once it is about to wait, which a loaded
 * machine could otherwise delay past the write), and one that spins
 * without calls for 100 ms, and on until the preemption signal has
 * stopped it (spinner). The main G waits for all on a wait group.
 *
 * Usage: traceprog            (trace with GORO_TRACE=FILE)
 *        traceprog api FILE   (goro_trace_start/stop around the work)
 * Prints "iofd N" (the pipe's read end) and "ok". Built with the
 * pkg-config flags. */
#define _GNU_SOURCE
#include <goro.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 10

static goro_chan *ping, *pong;
static goro_wg *wg;
static goro_wg *iowg;     /* done when the iowaiter is about to wait */
static int pipefd[2];
static volatile long sink;
static int status = 1;

static void echoer(void *arg)
{
    (void)arg;
    long v;
    while (goro_chan_recv(ping, &v) == 0)
        goro_chan_send(pong, &v);
    goro_wg_done(wg);
}

static void sleeper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        goro_sleep_ns(1000000);
    goro_wg_done(wg);
}

__attribute__((noinline)) static long deep(int n)
{
    volatile char pad[1000];
    pad[0] = (char)n;
    if (n == 0)
        return pad[0];
    return deep(n - 1) + pad[0];
}

static void recurser(void *arg)
{
    (void)arg;
    sink += deep(100);     /* ~100 KiB: 2 KiB doubled to 128 KiB */
    goro_wg_done(wg);
}

static void yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        goro_yield();
    goro_wg_done(wg);
}

static void syscaller(void *arg)
{
    (void)arg;
    usleep(2000);
    goro_wg_done(wg);
}

/* waitio: wait (10 s at most) until G id waits for an fd. */
static void waitio(int64_t id)
{
    goro_ginfo gs[32];
    for (int i = 0; i < 10000; i++) {
        int64_t n = goro_gs_snapshot(gs, 32);
        for (int64_t k = 0; k < n && k < 32; k++)
            if (gs[k].id == id && strncmp(gs[k].waitreason, "IO wait", 7) == 0)
                return;
        goro_sleep_ns(1000000);
    }
}

static void iowaiter(void *arg)
{
    (void)arg;
    /* The main G writes once this is done and this G waits below (on
     * one P the first follows from the second; on two main looks). */
    goro_wg_done(iowg);
    goro_wait_fd(pipefd[0], POLLIN, 0);
    char c;
    sink += read(pipefd[0], &c, 1);
    goro_wg_done(wg);
}

static void spinner(void *arg)
{
    (void)arg;
    /* At least 100 ms, and on until the signal stopped it once: on a
     * loaded machine the thread may get so little CPU in 100 ms that the
     * spinner reaches its next call before sysmon signals it (10 s at
     * most). */
    goro_stats st0, st;
    goro_stats_get(&st0);
    int64_t start = goro_now();
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 10000000; i++)
            x += (unsigned long)i;   /* no call for about 10 ms */
        goro_stats_get(&st);
    } while (goro_now() - start < 100000000 ||
             (st.preempt_async == st0.preempt_async &&
              goro_now() - start < 10000000000));
    goro_wg_done(wg);
}

static void work(void)
{
    ping = goro_chan_new(sizeof(long), 0);
    pong = goro_chan_new(sizeof(long), 0);
    wg = goro_wg_new();
    iowg = goro_wg_new();
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0)
        return;
    printf("iofd %d\n", pipefd[0]);
    goro_wg_add(wg, 7);
    goro_wg_add(iowg, 1);
    goro_go(echoer, NULL);
    goro_go(sleeper, NULL);
    goro_go(recurser, NULL);
    goro_go(yielder, NULL);
    goro_go(syscaller, NULL);
    int64_t iowaiterid = goro_go(iowaiter, NULL);
    goro_go(spinner, NULL);
    for (long i = 0; i < ROUNDS; i++) {
        long v = i, back = -1;
        goro_chan_send(ping, &v);
        goro_chan_recv(pong, &back);
        if (back != i)
            return;
    }
    goro_chan_close(ping);
    goro_wg_wait(iowg);
    waitio(iowaiterid);
    if (write(pipefd[1], "x", 1) != 1)
        return;
    goro_wg_wait(wg);
    status = 0;
}

static const char *apifile;

static void mainfn(void *arg)
{
    (void)arg;
    int fd = -1;
    if (apifile != NULL) {
        fd = open(apifile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int err = goro_trace_start(fd);
        if (err != 0) {
            printf("goro_trace_start: %d\n", err);
            return;
        }
    }
    work();
    if (apifile != NULL) {
        int err = goro_trace_stop();
        if (err != 0) {
            printf("goro_trace_stop: %d\n", err);
            status = 1;
        }
        close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "api") == 0)
        apifile = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (goro_run(mainfn, NULL) != 0 || status != 0)
        return 1;
    printf("ok\n");
    return 0;
}
