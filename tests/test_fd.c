/* test_fd.c - goro_wait_fd on fds goro did not create: pipes, eventfds,
 * timerfds, sockets made by plain socket(); a wait woken by another G's
 * goro_close, by a deadline, by readiness of either direction; 10,000 Gs
 * each on a pipe of its own; fds closed behind the runtime's back and
 * their numbers reused; the call from a thread that is not a G. Results
 * are recorded in globals and asserted after goro_run. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "export_test.h"

static int64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void morefds(void)
{
    struct rlimit rl;
    /* Root may raise the hard limit too (a container's may be 20,000). */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < 65536) {
        struct rlimit more = {65536, 65536};
        setrlimit(RLIMIT_NOFILE, &more);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- a pipe, an eventfd, a timerfd, a plain socket ------------------------ */

static int pipefds[2], efd, tfd, sockfds[2];
static int r_pipe_first, r_pipe, r_pipe_out, r_event, r_timer, r_sock,
           r_sock_both, r_hup, r_after;
static goro_wg *kindswg;

static void writelater(void *arg)
{
    (void)arg;
    goro_sleep_ns(20 * 1000000);
    (void)!write(pipefds[1], "x", 1);
    goro_sleep_ns(20 * 1000000);
    uint64_t one = 1;
    (void)!write(efd, &one, sizeof one);
    goro_sleep_ns(20 * 1000000);
    (void)!write(sockfds[1], "y", 1);
    goro_wg_done(kindswg);
}

static void kindsmain(void *arg)
{
    (void)arg;
    if (pipe2(pipefds, O_NONBLOCK | O_CLOEXEC) < 0)
        return;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    /* A socket made by plain socket(), blocking as libraries often
     * leave them: waiting does not need O_NONBLOCK. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sockfds);
    kindswg = goro_wg_new();
    goro_wg_add(kindswg, 1);

    r_pipe_out = goro_wait_fd(pipefds[1], POLLOUT, 0);  /* ready now */
    goro_go(writelater, NULL);
    r_pipe_first = goro_wait_fd(pipefds[0], POLLIN, now() + 5000000ll);
    r_pipe = goro_wait_fd(pipefds[0], POLLIN, 0);
    r_event = goro_wait_fd(efd, POLLIN, 0);
    r_sock = goro_wait_fd(sockfds[0], POLLIN, 0);
    /* Both directions at once: writable now, so both bits when readable. */
    r_sock_both = goro_wait_fd(sockfds[0], POLLIN | POLLOUT, 0);
    struct itimerspec its = {.it_value.tv_nsec = 30 * 1000000};
    timerfd_settime(tfd, 0, &its, NULL);
    r_timer = goro_wait_fd(tfd, POLLIN, 0);
    /* The peer goes away: readable (end of file) with POLLHUP. */
    char c;
    (void)!read(sockfds[0], &c, 1);
    goro_close(sockfds[1]);
    r_hup = goro_wait_fd(sockfds[0], POLLIN, 0);
    /* Readiness consumed since the last wait is not reported again. */
    (void)!read(pipefds[0], &c, 1);
    r_after = goro_wait_fd(pipefds[0], POLLIN, now() + 30000000ll);
    goro_wg_wait(kindswg);
    goro_close(pipefds[0]);
    goro_close(pipefds[1]);
    goro_close(efd);
    goro_close(tfd);
    goro_close(sockfds[0]);
}

Test(fd, waits_on_a_pipe_an_eventfd_a_timerfd_and_a_plain_socket,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, kindsmain, NULL), 0);
    cr_assert_eq(r_pipe_out, POLLOUT);
    cr_assert_eq(r_pipe_first, -ETIMEDOUT);
    cr_assert_eq(r_pipe, POLLIN);
    cr_assert_eq(r_event, POLLIN);
    cr_assert_eq(r_sock, POLLIN);
    cr_assert_eq(r_sock_both, POLLIN | POLLOUT);
    cr_assert_eq(r_timer, POLLIN);
    cr_assert(r_hup & POLLIN, "%#x", r_hup);
    cr_assert(r_hup & POLLHUP, "%#x", r_hup);
    cr_assert_eq(r_after, -ETIMEDOUT);
}

/* ---- bad input -------------------------------------------------------------- */

static int r_badfd, r_badev, r_noev, r_closedfd;

static void badmain(void *arg)
{
    (void)arg;
    r_badfd = goro_wait_fd(-1, POLLIN, 0);
    r_badev = goro_wait_fd(0, POLLPRI, 0);
    r_noev = goro_wait_fd(0, 0, 0);
    int p[2];
    (void)!pipe(p);
    close(p[0]);
    close(p[1]);
    r_closedfd = goro_wait_fd(p[0], POLLIN, 0);
}

Test(fd, bad_input_and_a_closed_fd_give_errors, .timeout = 30)
{
    cr_assert_eq(test_run(1, badmain, NULL), 0);
    cr_assert_eq(r_badfd, -EBADF);
    cr_assert_eq(r_badev, -EINVAL);
    cr_assert_eq(r_noev, -EINVAL);
    cr_assert_eq(r_closedfd, -EBADF);
}

/* ---- closed by another G ---------------------------------------------------- */

static int r_closed[3];
static int64_t closedat, wokeat[3];
static goro_wg *closewg;
static int closepipe[2];

static void closewaiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    /* One reader, one with a deadline, one for either direction (the
     * pipe's read end is never writable). */
    int64_t dl = i == 1 ? now() + 20000000000ll : 0;
    int ev = i == 2 ? POLLIN | POLLOUT : POLLIN;
    r_closed[i] = goro_wait_fd(closepipe[0], ev, dl);
    wokeat[i] = now();
    goro_wg_done(closewg);
}

static void closemain(void *arg)
{
    (void)arg;
    (void)!pipe2(closepipe, O_NONBLOCK);
    closewg = goro_wg_new();
    goro_wg_add(closewg, 3);
    for (int i = 0; i < 3; i++)
        goro_go(closewaiter, (void *)(intptr_t)i);
    test_wait_waiting(3);
    goro_sleep_ns(20 * 1000000);
    closedat = now();
    goro_close(closepipe[0]);
    goro_wg_wait(closewg);
    goro_close(closepipe[1]);
}

Test(fd, a_g_parked_on_an_fd_that_another_g_closes_wakes_with_ecanceled,
     .timeout = 30)
{
    cr_assert_eq(test_run(2, closemain, NULL), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r_closed[i], -ECANCELED, "waiter %d: %d", i,
                     r_closed[i]);
        cr_assert_lt(wokeat[i] - closedat, 5000000000ll);
    }
}

/* ---- 10,000 Gs, a pipe each --------------------------------------------------- */

/* A pipe is two fds; where RLIMIT_NOFILE cannot hold 20,000 and more (a
 * container's hard limit may be exactly that), each G's pipe is a FIFO
 * opened read-write: one fd, both ends. */
enum { NPIPES = 10000 };
static int (*pipes)[2];
static bool usefifos;
static char fifodir[64];
static atomic_int pipeok, pipebad;
static goro_wg *pipewg;

static void pipewaiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    int r = goro_wait_fd(pipes[i][0], POLLIN, 0);
    char c = 0;
    if (r == POLLIN && read(pipes[i][0], &c, 1) == 1 && c == (char)i)
        atomic_fetch_add(&pipeok, 1);
    else
        atomic_fetch_add(&pipebad, 1);
    goro_wg_done(pipewg);
}

static int mkpipe(int i, int fds[2])
{
    if (!usefifos)
        return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
    char path[96];
    snprintf(path, sizeof path, "%s/%d", fifodir, i);
    if (mkfifo(path, 0600) < 0)
        return -1;
    fds[0] = fds[1] = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    unlink(path);
    return fds[0] < 0 ? -1 : 0;
}

static void pipesmain(void *arg)
{
    (void)arg;
    pipewg = goro_wg_new();
    int n = 0;
    for (; n < NPIPES; n++)
        if (mkpipe(n, pipes[n]) < 0)
            break;
    if (n < NPIPES)
        return;
    goro_wg_add(pipewg, NPIPES);
    for (int i = 0; i < NPIPES; i++)
        goro_go(pipewaiter, (void *)(intptr_t)i);
    test_wait_waiting(NPIPES);
    /* Every one parked; wake them in a scattered order. */
    for (int k = 0; k < NPIPES; k++) {
        int i = (int)(((int64_t)k * 7919) % NPIPES);
        char c = (char)i;
        (void)!write(pipes[i][1], &c, 1);
    }
    goro_wg_wait(pipewg);
    for (int i = 0; i < NPIPES; i++) {
        goro_close(pipes[i][0]);
        if (!usefifos)
            close(pipes[i][1]);
    }
}

Test(fd, ten_thousand_gs_each_wait_on_a_pipe_of_their_own, .timeout = 120)
{
    morefds();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    usefifos = rl.rlim_cur < 2 * NPIPES + 100;
    if (usefifos) {
        strcpy(fifodir, "/tmp/goro-fifos-XXXXXX");
        cr_assert_not_null(mkdtemp(fifodir));
    }
    pipes = calloc(NPIPES, sizeof *pipes);
    cr_assert_eq(test_run(2, pipesmain, NULL), 0);
    if (usefifos)
        rmdir(fifodir);
    cr_assert_eq(atomic_load(&pipebad), 0);
    cr_assert_eq(atomic_load(&pipeok), NPIPES);
    free(pipes);
}

/* ---- closed behind the runtime's back ------------------------------------------ */

/* A library closes its fd with close(2), not goro_close, and the number
 * comes back as another pipe: a wait on it must see the new file's
 * readiness, not sleep on the old registration. */
static int r_reuse_before, r_reuse_after, reuse_same;

static void reusewriter(void *arg)
{
    int fd = (int)(intptr_t)arg;
    goro_sleep_ns(30 * 1000000);
    (void)!write(fd, "z", 1);
}

static void reusemain(void *arg)
{
    (void)arg;
    int a[2], b[2];
    (void)!pipe2(a, O_NONBLOCK);
    goro_go(reusewriter, (void *)(intptr_t)a[1]);
    r_reuse_before = goro_wait_fd(a[0], POLLIN, now() + 5000000000ll);
    int old = a[0];
    close(a[0]);  /* behind the runtime's back */
    close(a[1]);
    (void)!pipe2(b, O_NONBLOCK);
    reuse_same = b[0] == old;
    goro_go(reusewriter, (void *)(intptr_t)b[1]);
    r_reuse_after = goro_wait_fd(b[0], POLLIN, now() + 5000000000ll);
    goro_close(b[0]);
    goro_close(b[1]);
}

Test(fd, an_fd_closed_behind_the_runtimes_back_and_reused_is_waited_on_afresh,
     .timeout = 30)
{
    cr_assert_eq(test_run(1, reusemain, NULL), 0);
    cr_assert(reuse_same, "the fd number was not reused: the test proves "
                          "nothing");
    cr_assert_eq(r_reuse_before, POLLIN);
    cr_assert_eq(r_reuse_after, POLLIN);
}

/* ---- stale readiness ------------------------------------------------------------ */

/* Data comes while nobody waits (the netpoller latches the edge), the
 * reader drains it, then waits: the wait must park, not return the old
 * readiness. Counted over many rounds, with the writer well behind. */
enum { STALE_ROUNDS = 200 };
static int stalepipe[2];
static atomic_int stale_spurious, stale_bad;

static void stalemain(void *arg)
{
    (void)arg;
    (void)!pipe2(stalepipe, O_NONBLOCK);
    char c;
    /* Register the fd: a first wait that times out. */
    goro_wait_fd(stalepipe[0], POLLIN, now() + 1000000);
    for (int i = 0; i < STALE_ROUNDS; i++) {
        (void)!write(stalepipe[1], "s", 1);
        goro_sleep_ns(200000);  /* the edge is latched meanwhile */
        if (read(stalepipe[0], &c, 1) != 1)
            atomic_fetch_add(&stale_bad, 1);
        int r = goro_wait_fd(stalepipe[0], POLLIN, now() + 300000);
        if (r != -ETIMEDOUT)
            atomic_fetch_add(&stale_spurious, 1);
    }
    goro_close(stalepipe[0]);
    goro_close(stalepipe[1]);
}

Test(fd, readiness_consumed_before_a_wait_does_not_end_it, .timeout = 60)
{
    cr_assert_eq(test_run(2, stalemain, NULL), 0);
    cr_assert_eq(atomic_load(&stale_bad), 0);
    cr_assert_eq(atomic_load(&stale_spurious), 0);
}

/* ---- from a thread that is not a G -------------------------------------------- */

static int thr_r1, thr_r2;

static void *plainthread(void *arg)
{
    int *p = arg;
    thr_r1 = goro_wait_fd(p[0], POLLIN, now() + 20000000);
    (void)!write(p[1], "t", 1);
    thr_r2 = goro_wait_fd(p[0], POLLIN, 0);
    return NULL;
}

Test(fd, a_plain_thread_waits_with_poll, .timeout = 30)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pthread_t t;
    pthread_create(&t, NULL, plainthread, p);
    pthread_join(t, NULL);
    cr_assert_eq(thr_r1, -ETIMEDOUT);
    cr_assert_eq(thr_r2, POLLIN);
    close(p[0]);
    close(p[1]);
}
