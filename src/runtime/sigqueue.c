/*
 * sigqueue.c - signals delivered to Gs, as Go's os/signal.Notify.
 *
 * A program asks for a signal with goro_signal_notify(signo, c); from then
 * on every delivery of signo sends the signal number on channel c, without
 * blocking (a full channel drops it, as in Go: give the channel a buffer).
 *
 * The signal itself is caught by libuv (a uv_signal_t per signal, on the
 * runtime's loop thread): libuv's handler only writes to its own pipe, and
 * the callback runs later on the loop thread, where it is safe to do
 * anything but block. A channel send may block, and the loop thread is no
 * G, so the callback does not send: it writes the signal number into a
 * non-blocking pipe (sigpipe), and a runtime G, the signal G (Go's
 * signal.loop goroutine), reads the pipe through the netpoller and makes
 * the sends. A pipe that is full (255 signals nobody took) drops the
 * signal, as a full channel would.
 *
 * uv_signal_start and _stop must run on the loop thread: the G that calls
 * goro_signal_notify parks for a loop call (loopcallrun) meanwhile.
 * sigtab (under siglock) says which channel each signal goes to; the
 * uv_signal_t handles belong to the loop thread.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include "runtime2.h"

static mutex siglock;
static goro_chan *sigtab[NSIG];     /* under siglock */
static uv_signal_t *sighandles[NSIG]; /* loop thread */
static int sigpipe[2] = {-1, -1};   /* set once, under siglock */
static bool sigstarted;             /* the signal G runs; under siglock */

/* sigloop is the signal G: one send per signal caught. */
static void sigloop(void *arg)
{
    (void)arg;
    unsigned char buf[64];
    for (;;) {
        ssize_t n = goro_read(sigpipe[0], buf, sizeof buf);
        if (n <= 0) {
            if (n == -EINTR || n == -EAGAIN)
                continue;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            int signo = buf[i];
            lock(&siglock);
            goro_chan *c = sigtab[signo];
            unlock(&siglock);
            if (c == NULL)
                continue;
            goro_select_case sc = {c, GORO_SEND, &signo, NULL};
            goro_select(&sc, 1, 0);
        }
    }
}

/* ---- loop thread --------------------------------------------------------- */

static void sig_cb(uv_signal_t *h, int signo)
{
    (void)h;
    unsigned char b = (unsigned char)signo;
    ssize_t r = write(sigpipe[1], &b, 1);
    (void)r; /* full: dropped, as a full channel would */
}

static void sigclose_cb(uv_handle_t *h)
{
    free(h);
}

typedef struct sigcall {
    loopcall lc;
    int      signo;
    bool     start;
} sigcall;

static void sigcall_run(loopcall *lc)
{
    sigcall *sc = (sigcall *)lc;
    uv_signal_t *h = sighandles[sc->signo];
    if (sc->start) {
        if (h == NULL) {
            h = malloc(sizeof *h);
            if (h == NULL) {
                lc->result = -ENOMEM;
                goto out;
            }
            uv_signal_init(loopuv(), h);
            sighandles[sc->signo] = h;
        }
        lc->result = uv_signal_start(h, sig_cb, sc->signo);
    } else if (h != NULL) {
        sighandles[sc->signo] = NULL;
        uv_close((uv_handle_t *)h, sigclose_cb);
    }
out:
    loopcalldone(lc);
}

/* sigqueue_close closes the signal handles when the loop stops. */
void sigqueue_close(void)
{
    for (int i = 0; i < NSIG; i++)
        if (sighandles[i] != NULL) {
            uv_close((uv_handle_t *)sighandles[i], sigclose_cb);
            sighandles[i] = NULL;
        }
}

/* ---- public API ------------------------------------------------------------ */

static bool sigok(int signo)
{
    return signo > 0 && signo < NSIG && signo != SIGURG &&
           signo != SIGKILL && signo != SIGSTOP;
}

/* sigstart makes the pipe and the signal G, once. Under siglock. */
static int sigstart(void)
{
    if (sigstarted)
        return 0;
    if (sigpipe[0] < 0 && pipe2(sigpipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    /* The signal G belongs to no group: the caller's may be waited for. */
    int64_t id = newproc(sigloop, NULL, NULL, 0);
    if (id < 0)
        return (int)id;
    sigstarted = true;
    return 0;
}

int goro_signal_notify(int signo, goro_chan *c)
{
    if (!sigok(signo) || c == NULL)
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    lock(&siglock);
    int err = sigstart();
    if (err == 0)
        sigtab[signo] = c;
    unlock(&siglock);
    if (err != 0)
        return err;
    sigcall sc = {.lc = {.fn = sigcall_run}, .signo = signo, .start = true};
    err = loopcallrun(&sc.lc, waitReasonLoopCall);
    if (err != 0) {
        lock(&siglock);
        sigtab[signo] = NULL;
        unlock(&siglock);
    }
    return err;
}

int goro_signal_stop(int signo)
{
    if (!sigok(signo))
        return -EINVAL;
    if (!onG(getg()))
        return -EPERM;
    lock(&siglock);
    sigtab[signo] = NULL;
    unlock(&siglock);
    sigcall sc = {.lc = {.fn = sigcall_run}, .signo = signo, .start = false};
    return loopcallrun(&sc.lc, waitReasonLoopCall);
}
