/* preempt.c - asynchronous preemption seen from a program built the way
 * users build (pkg-config against libgoro.so), compiled by the Makefile with
 * gcc and clang at -O0 and -O2. Its loops call nothing, so only the signal
 * can stop them; each loop keeps values in locals (at -O0 in the red zone
 * of a leaf function), in SSE and AVX registers, and checks every one of
 * them after every preemption.
 *
 *   preemptprog async    procs=1: a call-free spinner beside a G that sleeps
 *                        1ms at a time; prints the sleeper's wake latency
 *                        in wall time and in the process's CPU time (what
 *                        the spinner burned before it was stopped)
 *   preemptprog moves    procs=2: three call-free spinners, each with its own
 *                        errno, run until each has changed threads
 *   preemptprog disable  procs=1: a spinner inside goro_preempt_disable for
 *                        several time slices; a ticker G must not run then
 *   preemptprog calls    procs=1: a spinner that calls a function beside
 *                        the sleeper: stopped at its calls, so the runtime
 *                        has no signal to send it
 *   preemptprog blocking [sleep|timers|io|all [REPS]]
 *                        procs=1: a G that has overrun its slice makes
 *                        blocking calls outside goro_syscall_enter/exit
 *                        (sleep, usleep, nanosleep, poll, select, read,
 *                        accept, connect), each directly, through a
 *                        pointer to libc's function and (but sleep and
 *                        usleep) through syscall(); beside a call-free
 *                        spinner. Each must return what it returns outside
 *                        goro: the preemption signal must not cut it short
 *   preemptprog handoff  procs=1: a G blocks in a read of a pipe that the
 *                        runtime is not told of (through a pointer to
 *                        libc's read and through syscall()); a ticker G on
 *                        the same P must go on running meanwhile (the P
 *                        handed to another thread): a plain thread writes
 *                        the byte once the ticker has ticked 5 times since
 *                        the read began (or after 10 s, and the check
 *                        fails); the blocked G must find its locals, errno
 *                        and the byte after the call
 *
 * Prints key=value pairs and exits 0 when every check held. */
#define _GNU_SOURCE
#include <goro.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;
static int failures;

static int64_t now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The CPU time of the whole process: while the sleeper sleeps, what the
 * spinner burns before it is stopped, whatever other work on the machine
 * does to the wall clock. */
static int64_t cputime(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The thread this code runs on, without a call even at -O0: glibc's TCB
 * pointer. */
#define thread_self()                                                      \
    ({                                                                      \
        uintptr_t t_;                                                       \
        __asm__ volatile("movq %%fs:0x10, %0" : "=r"(t_));                  \
        t_;                                                                 \
    })

typedef double v4d __attribute__((vector_size(32)));

/* A leaf loop: no calls, so no prologue check can stop it. Integers in
 * locals, a double and a 4-lane vector; i, j, d and every lane must agree
 * whenever the loop looks. Returns the number of disagreements. Built
 * twice: plain (SSE) and for AVX, whose upper register halves must survive
 * a preemption too. */
#define SPIN_BODY                                                           \
    long i = salt, j = salt, bad = 0;                                       \
    double d = (double)salt;                                                \
    v4d v = {(double)salt, (double)salt, (double)salt, (double)salt};       \
    const v4d one = {1, 1, 1, 1};                                           \
    uintptr_t self = thread_self();                                         \
    while (!*flag) {                                                        \
        i++;                                                                \
        j++;                                                                \
        d += 1.0;                                                           \
        v += one;                                                           \
        if (i != j || d != (double)i || v[0] != d || v[1] != d ||           \
            v[2] != d || v[3] != d)                                         \
            bad++;                                                          \
        uintptr_t t = thread_self();                                        \
        if (t != self) {                                                    \
            self = t;                                                       \
            ++*moves;                                                       \
        }                                                                   \
    }                                                                       \
    return bad;

__attribute__((noinline)) static long spin_sse(volatile int *flag, long salt,
                                                long *moves)
{
    SPIN_BODY
}

__attribute__((noinline, target("avx"))) static long
spin_avx(volatile int *flag, long salt, long *moves)
{
    SPIN_BODY
}

static long spin(volatile int *flag, long salt, long *moves)
{
    if (__builtin_cpu_supports("avx") && (salt & 1))
        return spin_avx(flag, salt, moves);
    return spin_sse(flag, salt, moves);
}

/* ---- async: a call-free spinner and a sleeper on one P ------------------- */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static goro_wg *wg;

static void spinner_wg(void *arg)
{
    long moves = 0;
    long bad = spin(&stop, (long)(intptr_t)arg, &moves);
    if (bad) {
        printf("spinner %ld: %ld bad values\n", (long)(intptr_t)arg, bad);
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    }
    goro_wg_done(wg);
}

/* calls: the loop calls a function, so the guard stops it at once. A leaf
 * without a frame gets no stack check from clang -O2, so step keeps a
 * local in memory. */
__attribute__((noinline)) static long step(long x)
{
    volatile long v[4];
    v[x & 3] = x;
    return v[x & 3] * 3 + 1;
}

static volatile long sink;

static void callspinner(void *arg)
{
    (void)arg;
    long x = 0;
    while (!stop)
        x = step(x);
    sink = x;
    goro_wg_done(wg);
}

/* A call-free spinner (or, with calls, one that calls a function) beside a
 * G that sleeps 1 ms at a time: the sleeper's wake latency. */
static void run_async(bool calls)
{
    enum { samples = 100 };
    int64_t lat[samples], cpu[samples];
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    if (calls)
        goro_go(callspinner, NULL);
    else
        goro_go(spinner_wg, (void *)(intptr_t)7);
    goro_yield();  /* let the spinner start */
    for (int i = 0; i < samples; i++) {
        int64_t t0 = now(), c0 = cputime();
        goro_sleep_ns(1000000);
        lat[i] = now() - t0 - 1000000;
        cpu[i] = cputime() - c0;
    }
    stop = 1;
    goro_wg_wait(wg);
    qsort(lat, samples, sizeof lat[0], cmp64);
    qsort(cpu, samples, sizeof cpu[0], cmp64);
    goro_stats st;
    goro_stats_get(&st);
    printf("sync=%llu async=%llu p50_us=%lld p99_us=%lld cpu_p99_us=%lld\n",
           (unsigned long long)st.preempt_sync,
           (unsigned long long)st.preempt_async,
           (long long)lat[samples / 2] / 1000,
           (long long)lat[samples * 99 / 100] / 1000,
           (long long)cpu[samples * 99 / 100] / 1000);
}

/* ---- moves: errno and registers across threads ------------------------------- */

static volatile int moved[3];

static void mover(void *arg)
{
    int id = (int)(intptr_t)arg;
    errno = 1000 + id;
    long moves = 0;
    long bad = spin(&stop, id * 1001, &moves);
    moved[id] = moves > 0;
    if (bad || errno != 1000 + id) {
        printf("mover %d: %ld bad values, errno %d\n", id, bad, errno);
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    }
    goro_wg_done(wg);
}

static void run_moves(void)
{
    wg = goro_wg_new();
    goro_wg_add(wg, 3);
    for (int i = 0; i < 3; i++)
        goro_go(mover, (void *)(intptr_t)i);
    /* The movers can only see their own thread change; give them until
     * each should have moved many times over. */
    goro_sleep_ns(2000000000);
    stop = 1;
    goro_wg_wait(wg);
    goro_stats st;
    goro_stats_get(&st);
    printf("async=%llu moved=%d%d%d\n", (unsigned long long)st.preempt_async,
           moved[0], moved[1], moved[2]);
}

/* ---- disable: a region that must keep the P ------------------------------------ */

static volatile long ticks;

static void ticker(void *arg)
{
    (void)arg;
    while (!stop) {
        ticks++;
        goro_sleep_ns(1000000);
    }
    goro_wg_done(wg);
}

static void run_disable(void)
{
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(ticker, NULL);
    goro_sleep_ns(5000000);
    goro_stats before, after;
    goro_stats_get(&before);
    goro_preempt_disable();
    long seen = ticks;
    int64_t t0 = now();
    long changed = 0;
    /* Five time slices (GORO_TIME_SLICE=2ms), calling only the clock. */
    while (now() - t0 < 10000000)
        changed += ticks != seen;
    goro_preempt_enable();
    int64_t t1 = now();
    /* Now the pending request stops this G at its next call. */
    while (ticks == seen && now() - t1 < 1000000000)
        ;
    goro_stats_get(&after);
    stop = 1;
    goro_wg_wait(wg);
    printf("changed_in_region=%ld ticked_after=%d preempted_after=%llu\n",
           changed, ticks != seen,
           (unsigned long long)(after.preempt_sync + after.preempt_async -
                                before.preempt_sync - before.preempt_async));
    if (changed != 0 || ticks == seen)
        failures++;
}

/* ---- blocking: calls the runtime does not know block ------------------------
 * The G first spins without calls for 30 ms (a plain thread ends the spin):
 * sysmon stops it by signal, which marks it as a G that calls nothing, so
 * at the end of its next slice, in the middle of the blocking call that
 * follows, sysmon would send the signal at once, and go on sending it at
 * its looks while the call lasts. Each call is made three ways: directly
 * (which a program linked with wrappers for these functions would bracket
 * as a system call), through a pointer to libc's function found by dlsym
 * (a pointer taken as `= sleep` in this file would be rewritten by
 * --wrap=sleep just as the call), and through syscall(). */

static volatile int spinstop;
static int blk_eintr, blk_bad, blk_calls, blk_unwrapped, blk_cut;

static void *after_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return NULL;
}

static void *end_spin(void *arg)
{
    (void)arg;
    after_ms(30);
    spinstop = 1;
    return NULL;
}

/* Spin without calls for 30 ms of wall time. */
static void overrun(void)
{
    pthread_t t;
    long moves = 0;
    spinstop = 0;
    if (pthread_create(&t, NULL, end_spin, NULL) != 0) {
        blk_bad++;
        return;
    }
    if (spin(&spinstop, 11, &moves) != 0)
        blk_bad++;
    pthread_join(t, NULL);
}

static int pipefd[2];
static int lsock;
static struct sockaddr_in laddr;

static void *write_later(void *arg)
{
    (void)arg;
    after_ms(200);
    if (write(pipefd[1], "x", 1) != 1)
        abort();
    return NULL;
}

static void *connect_later(void *arg)
{
    (void)arg;
    after_ms(200);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&laddr, sizeof laddr) != 0)
        abort();
    return (void *)(intptr_t)s;
}

enum { DIRECT, POINTER, SYSCALL };
static const char *hows[] = {"direct", "pointer", "syscall"};

/* check records one call, made how: it returned ret (want: the value it
 * must return) after t ns, at least min. A direct call goes through the
 * runtime's wrapper, which keeps the signal off the thread: it must never
 * be cut short. A call the runtime does not see (through a pointer or
 * syscall()) can be, in one window the runtime cannot close (README,
 * "Preemption"): the signal sent to a thread that was computing the
 * moment before it entered the call. Such a call returns early with EINTR
 * (sleep: with seconds left) and is counted apart, as cut; the test bounds
 * how many. glibc's sleep returns the whole seconds left, so sleep(1) cut
 * short returns 0 as if it had slept: errno, which it restores only when
 * it was not interrupted, still tells. Returns whether the call was cut. */
static bool check(const char *what, int how, long ret, long want, int err,
                  int64_t t, int64_t min)
{
    blk_calls++;
    if (how != DIRECT)
        blk_unwrapped++;
    bool eintr = err == EINTR && (ret != want || t < min);
    bool cut = eintr && how != DIRECT;
    bool ok = ret == want && t >= min;
    if (cut)
        blk_cut++;
    else if (eintr)
        blk_eintr++;
    if (!ok && !cut)
        blk_bad++;
    printf("%-9s %-7s ret=%ld errno=%d ms=%.1f%s\n", what, hows[how], ret,
           ret == -1 || eintr ? err : 0, (double)t / 1e6,
           cut ? " CUT" : eintr ? " EINTR" : ok ? "" : " BAD");
    return cut;
}

#define MS200 200000000

static void do_sleep(int how)
{
    unsigned (*volatile f)(unsigned) =
        (unsigned (*)(unsigned))dlsym(RTLD_DEFAULT, "sleep");
    overrun();
    errno = 0;
    int64_t t0 = now();
    long r = how == DIRECT ? (long)sleep(1) : (long)f(1);
    int err = errno;
    check("sleep", how, r, 0, err, now() - t0, 1000000000);
}

static void do_usleep(int how)
{
    int (*volatile f)(useconds_t) =
        (int (*)(useconds_t))dlsym(RTLD_DEFAULT, "usleep");
    overrun();
    errno = 0;
    int64_t t0 = now();
    long r = how == DIRECT ? usleep(200000) : f(200000);
    int err = errno;
    check("usleep", how, r, 0, err, now() - t0, MS200);
}

static void do_nanosleep(int how)
{
    int (*volatile f)(const struct timespec *, struct timespec *) =
        (int (*)(const struct timespec *, struct timespec *))dlsym(
            RTLD_DEFAULT, "nanosleep");
    struct timespec req = {0, MS200}, rem = {12345, 6789};
    overrun();
    errno = 0;
    int64_t t0 = now();
    long r = how == DIRECT    ? nanosleep(&req, &rem)
             : how == POINTER ? f(&req, &rem)
                              : syscall(SYS_nanosleep, &req, &rem);
    int err = errno;
    int64_t t = now() - t0;
    bool cut = check("nanosleep", how, r, 0, err, t, MS200);
    if (!cut && (rem.tv_sec != 12345 || rem.tv_nsec != 6789)) {
        printf("nanosleep %-7s wrote rem\n", hows[how]);
        blk_bad++;
    }
}

static void do_poll(int how)
{
    int (*volatile f)(struct pollfd *, nfds_t, int) =
        (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_DEFAULT, "poll");
    struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
    overrun();
    errno = 0;
    int64_t t0 = now();
    long r = how == DIRECT    ? poll(&pfd, 1, 200)
             : how == POINTER ? f(&pfd, 1, 200)
                              : syscall(SYS_poll, &pfd, 1, 200);
    int err = errno;
    check("poll", how, r, 0, err, now() - t0, MS200);
}

static void do_select(int how)
{
    int (*volatile f)(int, fd_set *, fd_set *, fd_set *, struct timeval *) =
        (int (*)(int, fd_set *, fd_set *, fd_set *, struct timeval *))dlsym(
            RTLD_DEFAULT, "select");
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(pipefd[0], &rd);
    struct timeval tv = {0, 200000};
    overrun();
    errno = 0;
    int64_t t0 = now();
    long r = how == DIRECT ? select(pipefd[0] + 1, &rd, NULL, NULL, &tv)
             : how == POINTER
                 ? f(pipefd[0] + 1, &rd, NULL, NULL, &tv)
                 : syscall(SYS_select, pipefd[0] + 1, &rd, NULL, NULL, &tv);
    int err = errno;
    check("select", how, r, 0, err, now() - t0, MS200);
}

static void do_read(int how)
{
    ssize_t (*volatile f)(int, void *, size_t) =
        (ssize_t (*)(int, void *, size_t))dlsym(RTLD_DEFAULT, "read");
    char c = 0;
    pthread_t t;
    overrun();
    errno = 0;
    int64_t t0 = now();
    if (pthread_create(&t, NULL, write_later, NULL) != 0) {
        blk_bad++;
        return;
    }
    long r = how == DIRECT    ? read(pipefd[0], &c, 1)
             : how == POINTER ? f(pipefd[0], &c, 1)
                              : syscall(SYS_read, pipefd[0], &c, 1);
    int err = errno;
    int64_t dt = now() - t0;
    pthread_join(t, NULL);
    if (r == -1) {  /* drain the byte the call did not get */
        char d;
        if (read(pipefd[0], &d, 1) != 1)
            blk_bad++;
    } else if (c != 'x') {
        blk_bad++;
    }
    check("read", how, r, 1, err, dt, MS200);
}

static void do_accept(int how)
{
    int (*volatile f)(int, struct sockaddr *, socklen_t *) =
        (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_DEFAULT,
                                                             "accept");
    pthread_t t;
    void *peer = NULL;
    overrun();
    errno = 0;
    int64_t t0 = now();
    if (pthread_create(&t, NULL, connect_later, NULL) != 0) {
        blk_bad++;
        return;
    }
    long r = how == DIRECT    ? accept(lsock, NULL, NULL)
             : how == POINTER ? f(lsock, NULL, NULL)
                              : syscall(SYS_accept, lsock, NULL, NULL);
    int err = errno;
    int64_t dt = now() - t0;
    pthread_join(t, &peer);
    if (r >= 0) {
        close((int)r);
    } else {  /* take the connection the call did not */
        int s = accept(lsock, NULL, NULL);
        if (s >= 0)
            close(s);
    }
    close((int)(intptr_t)peer);
    check("accept", how, r >= 0 ? 0 : r, 0, err, dt, MS200);
}

static void do_connect(int how)
{
    int (*volatile f)(int, const struct sockaddr *, socklen_t) =
        (int (*)(int, const struct sockaddr *, socklen_t))dlsym(
            RTLD_DEFAULT, "connect");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    overrun();
    errno = 0;
    int64_t t0 = now();
    long r = how == DIRECT
                 ? connect(s, (struct sockaddr *)&laddr, sizeof laddr)
             : how == POINTER
                 ? f(s, (struct sockaddr *)&laddr, sizeof laddr)
                 : syscall(SYS_connect, s, &laddr, sizeof laddr);
    int err = errno;
    int64_t dt = now() - t0;
    close(s);
    int a = accept(lsock, NULL, NULL);
    if (a >= 0)
        close(a);
    check("connect", how, r, 0, err, dt, 0);
}

static void run_blocking(const char *group, int reps)
{
    bool all = strcmp(group, "all") == 0;
    if (pipe(pipefd) != 0)
        abort();
    lsock = socket(AF_INET, SOCK_STREAM, 0);
    laddr.sin_family = AF_INET;
    laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof laddr;
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&laddr, sizeof laddr) ||
        listen(lsock, 16) ||
        getsockname(lsock, (struct sockaddr *)&laddr, &len))
        abort();
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(spinner_wg, (void *)(intptr_t)3);
    goro_yield();
    for (int rep = 0; rep < reps; rep++) {
        if (all || strcmp(group, "sleep") == 0) {
            do_sleep(DIRECT);
            do_sleep(POINTER);
        }
        if (all || strcmp(group, "timers") == 0) {
            do_usleep(DIRECT);
            do_usleep(POINTER);
            for (int how = DIRECT; how <= SYSCALL; how++) {
                do_nanosleep(how);
                do_poll(how);
                do_select(how);
            }
        }
        if (all || strcmp(group, "io") == 0) {
            for (int how = DIRECT; how <= SYSCALL; how++) {
                do_read(how);
                do_accept(how);
                do_connect(how);
            }
        }
    }
    stop = 1;
    goro_wg_wait(wg);
    goro_stats st;
    goro_stats_get(&st);
    printf("calls=%d unwrapped=%d cut=%d eintr=%d bad=%d async=%llu\n",
           blk_calls, blk_unwrapped, blk_cut, blk_eintr, blk_bad,
           (unsigned long long)st.preempt_async);
    if (blk_calls == 0 || blk_eintr != 0 || blk_bad != 0 ||
        st.preempt_async == 0)
        failures++;
}

/* ---- handoff: the P of a thread blocked without telling -------------------- */

static volatile long hticks;
static volatile int hstop;
static long hbefore;

/* The byte goes once the ticker ticked 5 times since hbefore: it cannot
 * while the blocked thread keeps the only P. */
static void *write_after_ticks(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000 && hticks - hbefore < 5; i++)
        after_ms(1);
    if (write(pipefd[1], "x", 1) != 1)
        abort();
    return NULL;
}

static void hticker(void *arg)
{
    (void)arg;
    while (!hstop) {
        goro_sleep_ns(1000000);
        hticks++;
    }
    goro_wg_done(wg);
}

/* One blocked read; its locals are checked after it. noinline: each read
 * has its own frame, as a library's would. */
static __attribute__((noinline)) void handoff_read(int how)
{
    ssize_t (*volatile f)(int, void *, size_t) =
        (ssize_t (*)(int, void *, size_t))dlsym(RTLD_DEFAULT, "read");
    volatile long canary[8];
    for (int i = 0; i < 8; i++)
        canary[i] = 0x5eed0000L + i * 7 + how;
    char c = 0;
    pthread_t t;
    long before = hticks;
    hbefore = before;
    int64_t t0 = now();
    if (pthread_create(&t, NULL, write_after_ticks, NULL) != 0) {
        blk_bad++;
        return;
    }
    long r = how == POINTER ? f(pipefd[0], &c, 1)
                            : syscall(SYS_read, pipefd[0], &c, 1);
    int err = errno;
    long during = hticks - before;
    int64_t dt = now() - t0;
    pthread_join(t, NULL);
    bool ok = r == 1 && c == 'x';
    for (int i = 0; i < 8; i++)
        if (canary[i] != 0x5eed0000L + i * 7 + how)
            ok = false;
    if (during < 5)
        ok = false;
    blk_calls++;
    if (!ok)
        blk_bad++;
    printf("handoff %-7s ret=%ld errno=%d ms=%.1f ticks=%ld%s\n", hows[how],
           r, r == -1 ? err : 0, (double)dt / 1e6, during, ok ? "" : " BAD");
}

static void run_handoff(void)
{
    if (pipe(pipefd) != 0)
        abort();
    wg = goro_wg_new();
    goro_wg_add(wg, 1);
    goro_go(hticker, NULL);
    goro_sleep_ns(5000000);
    for (int how = POINTER; how <= SYSCALL; how++) {
        handoff_read(how);
        goro_sleep_ns(1000000);  /* a call and a park after the block */
    }
    hstop = 1;
    goro_wg_wait(wg);
    printf("calls=%d bad=%d\n", blk_calls, blk_bad);
    if (blk_calls == 0 || blk_bad != 0)
        failures++;
}

static void mainfn(void *arg)
{
    char **args = arg;
    const char *mode = args[0];
    if (strcmp(mode, "async") == 0)
        run_async(false);
    else if (strcmp(mode, "calls") == 0)
        run_async(true);
    else if (strcmp(mode, "moves") == 0)
        run_moves();
    else if (strcmp(mode, "disable") == 0)
        run_disable();
    else if (strcmp(mode, "handoff") == 0)
        run_handoff();
    else if (strcmp(mode, "blocking") == 0)
        run_blocking(args[1] ? args[1] : "all", args[1] && args[2]
                                                    ? atoi(args[2])
                                                    : 1);
    else
        failures = -1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *procs = strcmp(mode, "moves") == 0 ? "2" : "1";
    setenv("GORO_PROCS", procs, 1);
    if (strcmp(mode, "disable") == 0)
        setenv("GORO_TIME_SLICE", "2ms", 1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *none[] = {(char *)mode, NULL};
    int rc = goro_run(mainfn, argc > 1 ? (void *)(argv + 1) : (void *)none);
    if (failures < 0) {
        fprintf(stderr,
                "usage: %s async|calls|moves|disable|blocking "
                "[sleep|timers|io|all [REPS]]\n",
                argv[0]);
        return 2;
    }
    printf("rc=%d failures=%d\n", rc, failures);
    return rc == 0 && failures == 0 ? 0 : 1;
}
