/*
 * goro.h - Go's concurrency runtime for C programs.
 *
 * A program starts the runtime with goro_run(main_fn, arg); main_fn runs as
 * the first green thread (a "G") and goro_run returns when it returns. Inside
 * a G, goro_go spawns more; they are multiplexed onto a few OS threads, each
 * starts on a small stack that grows by copying, and the blocking operations
 * below park the G, not the thread.
 *
 * Build with the flags of `pkg-config --cflags --libs goro` (they add
 * -fsplit-stack and the link options the copying stacks need), in one
 * command (`cc $(pkg-config --cflags --libs goro) prog.c -o prog`) or
 * compiling with --cflags and linking with --libs, in any order and with
 * the compile flags on the link line too.
 *
 * Every function that can fail returns 0 (or a count, or an id) on success
 * and a negative errno value on failure.
 *
 * The contract copying stacks impose on C code: the address of a local
 * variable must not be kept where it outlives the call or is seen by another
 * G (a global, the heap, another G's stack); setjmp/longjmp must not cross a
 * call that may grow the stack; thread-local variables belong to the thread,
 * and a G may move to another thread at any function call (preemption) and,
 * in code built against goro, between any two instructions (preemption by
 * signal; see goro_preempt_disable). errno is the exception: the runtime
 * keeps it per G (see below).
 *
 * The copy is conservative (C has no pointer maps): every 8-byte word of the
 * used stack whose value lies in the used range is taken for a pointer and
 * moved. An integer equal to such an address is moved too; so is a word
 * whose bytes were only partly written (the tail of a char array whose size
 * is not a multiple of 8, a lone short or bool) when the bytes the program
 * never wrote still hold an old stack address. Stacks are aligned to their
 * size, so only bits 11 and up of such a word can change. Initialise whole
 * words (or keep such data off the stack) where that matters.
 *
 * clang rejects variadic functions under -fsplit-stack: mark them
 * __attribute__((no_split_stack)). An unchecked function runs on the guard
 * area, which leaves it 392 bytes of frame: it must be small and must not
 * recurse into itself.
 */
#ifndef GORO_H
#define GORO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GORO_EXTERN __attribute__((visibility("default")))
#else
#define GORO_EXTERN
#endif

typedef void (*goro_fn)(void *arg);

/* Start the runtime (configured by the GORO_* environment variables, see
 * README.md), run main_fn(arg) as the first G and return 0 when it returns,
 * whatever the other Gs do, as a Go program exits when main returns. The
 * calling thread runs no G meanwhile: it waits. Gs still running then (a
 * loop, a blocking call) are abandoned: they go on until the process
 * exits, which the caller should do soon; goro_run waits at most 100 ms for
 * them to reach the scheduler and end their threads, and keeps the
 * runtime's threads up for them when they do not.
 * Returns -EINVAL for a NULL main_fn or a bad GORO_* value (a message on
 * stderr names it), -EALREADY if the runtime already ran in this process,
 * -EBUSY when called from inside a G, -ENOEXEC when the program's
 * split-stack code was linked with libgcc's __morestack instead of goro's
 * (link flags other than pkg-config's; a message says which). */
GORO_EXTERN int goro_run(goro_fn main_fn, void *arg);

/* Spawn a G running fn(arg). Returns its id (> 0); -EINVAL for a NULL fn,
 * -EPERM when not called from a G. */
GORO_EXTERN int64_t goro_go(goro_fn fn, void *arg);

/* Let other Gs run; the caller is runnable again at once. */
GORO_EXTERN void goro_yield(void);

/* The calling G's id, or 0 outside any G. */
GORO_EXTERN int64_t goro_id(void);

/* Park the calling G for at least ns nanoseconds (ns <= 0 yields). */
GORO_EXTERN void goro_sleep_ns(int64_t ns);

/* Preemption. A G that runs longer than the time slice (GORO_TIME_SLICE,
 * 10ms) is stopped at its next function call, or, in a loop of program or
 * plugin code that calls nothing, by a signal (SIGURG, owned by the
 * runtime; a handler the program had is still called for SIGURGs that are
 * not the runtime's). A thread's G may change at any of those points.
 * goro_preempt_disable/enable bracket a region during which the calling G
 * keeps its thread (it may still park or yield of its own accord); they
 * nest. */
GORO_EXTERN void goro_preempt_disable(void);
GORO_EXTERN void goro_preempt_enable(void);

/* Bracket a call that may block the thread (a blocking call inside another
 * library): meanwhile the G's processor may be handed to another thread,
 * so the other Gs go on running. Between the two, call nothing of goro's;
 * errno is kept. They do not nest. The program's own calls of libc's
 * blocking functions (sleep, poll, read, connect, ...: README.md, "Calls
 * into libc") are bracketed so already, through the link flags of goro.pc. */
GORO_EXTERN void goro_syscall_enter(void);
GORO_EXTERN void goro_syscall_exit(void);

/* Wait group: Add/Done/Wait as in Go's sync.WaitGroup. A counter that goes
 * negative is a fatal error, as in Go. */
typedef struct goro_wg goro_wg;
GORO_EXTERN goro_wg *goro_wg_new(void);            /* NULL when out of memory */
GORO_EXTERN void     goro_wg_add(goro_wg *wg, int64_t delta);
GORO_EXTERN void     goro_wg_done(goro_wg *wg);
GORO_EXTERN void     goro_wg_wait(goro_wg *wg);
GORO_EXTERN void     goro_wg_free(goro_wg *wg);

/* Mutex that parks the G, not the thread. Waiters are served in FIFO order
 * and the lock is handed to the next waiter directly. */
typedef struct goro_mutex goro_mutex;
GORO_EXTERN goro_mutex *goro_mutex_new(void);      /* NULL when out of memory */
GORO_EXTERN void goro_mutex_lock(goro_mutex *m);
GORO_EXTERN void goro_mutex_unlock(goro_mutex *m);
GORO_EXTERN void goro_mutex_free(goro_mutex *m);

/* Channels, as Go's: values of elemsize bytes are copied in and out;
 * capacity 0 makes an unbuffered channel, where a send waits for a
 * receiver and hands the value over directly. Waiters are served in FIFO
 * order. A send on a closed channel returns -EPIPE (Go panics); a receive
 * on a closed channel returns the buffered values, then -EPIPE with *elem
 * zeroed. Closing a closed channel, or freeing one with waiters, is a fatal
 * error (as Go's panic). elem may be NULL when elemsize is 0, and for a
 * receive that discards the value. */
typedef struct goro_chan goro_chan;
GORO_EXTERN goro_chan *goro_chan_new(size_t elemsize, size_t capacity);
    /* NULL with errno EINVAL (too large) or ENOMEM */
GORO_EXTERN int  goro_chan_send(goro_chan *c, const void *elem);
GORO_EXTERN int  goro_chan_recv(goro_chan *c, void *elem);
GORO_EXTERN void goro_chan_close(goro_chan *c);
GORO_EXTERN void goro_chan_free(goro_chan *c);

#define GORO_SEND 1
#define GORO_RECV 2
typedef struct goro_select_case {
    goro_chan *c;     /* NULL: a case that is never ready, as a nil channel */
    int dir;          /* GORO_SEND or GORO_RECV */
    void *elem;       /* the value to send, or where to receive */
    int *ok;          /* may be NULL; set to 1, or 0 when the channel was
                         closed (a receive got a zero value, a send failed) */
} goro_select_case;
/* Wait until one of the cases can proceed, perform it and return its index;
 * among several ready cases one is chosen at random, as in Go. With block
 * == 0, return -EAGAIN when none is ready. -EINVAL for n < 1 or > 65536,
 * NULL cases, or a dir that is neither GORO_SEND nor GORO_RECV. */
GORO_EXTERN int goro_select(goro_select_case *cases, int n, int block);

/*
 * Network: TCP over ordinary non-blocking sockets; a call that would block
 * parks the G, not the thread (the call is made on the G's own thread first,
 * and again each time the fd is reported ready). Addresses are numeric IPv4
 * or IPv6 literals ("127.0.0.1", "::1"): no name resolution, a host name is
 * -EINVAL. Accepted and connected sockets have TCP_NODELAY set, as in Go.
 * Every call returns a negative errno on failure; -EPERM when not called
 * from a G. Fds a G ever waited on must be closed with goro_close.
 *
 * goro_tcp_listen: host NULL listens on every IPv4 address; port 0..65535
 * (0: the kernel chooses, see getsockname); backlog <= 0 is SOMAXCONN.
 * goro_tcp_connect: port 1..65535; -ECONNREFUSED etc. as the kernel says.
 * goro_read: up to len bytes, 0 at end of file (or for len 0).
 * goro_write: writes all len bytes, parking as often as needed, and returns
 * len; if an error stops it after part of the data was written, it returns
 * the bytes written (< len), else the error. A peer that went away gives
 * -EPIPE (never SIGPIPE).
 * goro_close: a G parked in a call on fd wakes with -ECANCELED.
 *
 * Deadlines: the *_deadline variants take an absolute CLOCK_MONOTONIC time
 * in nanoseconds (0: none) and return -ETIMEDOUT if the G is still waiting
 * then. The deadline bounds the waiting only: a call that can complete at
 * once does, even past its deadline. A write that times out after part of
 * the data was written returns the bytes written.
 */
GORO_EXTERN int     goro_tcp_listen(const char *host, int port, int backlog);
GORO_EXTERN int     goro_accept(int listen_fd);
GORO_EXTERN int     goro_tcp_connect(const char *host, int port);
GORO_EXTERN ssize_t goro_read(int fd, void *buf, size_t len);
GORO_EXTERN ssize_t goro_write(int fd, const void *buf, size_t len);
GORO_EXTERN int     goro_close(int fd);
GORO_EXTERN ssize_t goro_read_deadline(int fd, void *buf, size_t len,
                                       int64_t deadline_ns);
GORO_EXTERN ssize_t goro_write_deadline(int fd, const void *buf, size_t len,
                                        int64_t deadline_ns);
GORO_EXTERN int     goro_accept_deadline(int listen_fd, int64_t deadline_ns);

/* Files: one pread/pwrite (at offset off, or at the file position when off
 * is -1) run by libuv's thread pool while the G is parked; the count may be
 * short, as pread's. len at most INT_MAX. buf may be on the G's stack: the
 * stack does not move meanwhile. */
GORO_EXTERN ssize_t goro_file_read(int fd, void *buf, size_t len, int64_t off);
GORO_EXTERN ssize_t goro_file_write(int fd, const void *buf, size_t len,
                                    int64_t off);

/* Figures, for tests and benchmarks. */
typedef struct goro_stats {
    uint64_t gs_live, gs_created, procs, threads;
    uint64_t stack_bytes_inuse, stack_grows, stack_shrinks, stack_copied_bytes;
    uint64_t preempt_sync, preempt_async, ctx_switches;
} goro_stats;
GORO_EXTERN void goro_stats_get(goro_stats *out);

/* Run a stack scan now (the runtime also runs one every
 * GORO_STACK_SCAN_INTERVAL): every parked G whose stack is more than four
 * times what it uses gets one half the size; dead Gs give back their
 * stacks. Returns how many stacks were shrunk. */
GORO_EXTERN int goro_stack_scan(void);

/*
 * Groups: a named set of Gs, as a daemon keeps one per task plugin. A G
 * spawned into a group with goro_group_go, and every G that G or its
 * descendants spawn with goro_go, belongs to it. The group counts its live
 * Gs, and goro_group_wait parks until none is left.
 *
 * fixed_stack: 0 for ordinary copying stacks; otherwise the size of the one
 * stack each G of the group gets (a multiple of 4KiB, 32KiB..1GiB), mapped
 * with a PROT_NONE guard page below it and never moved or shrunk: for code
 * built without -fsplit-stack. Running past it is a fatal error naming the
 * G and its group. udata is the caller's, returned by goro_group_udata.
 */
typedef struct goro_group goro_group;
GORO_EXTERN goro_group *goro_group_new(const char *name, size_t fixed_stack,
                                       void *udata);
    /* NULL with errno EINVAL (NULL or empty name, bad fixed_stack) or ENOMEM */
GORO_EXTERN int64_t goro_group_go(goro_group *grp, goro_fn fn, void *arg);
    /* as goro_go; -EINVAL for a NULL grp or fn */
GORO_EXTERN int64_t     goro_group_live(const goro_group *grp);
GORO_EXTERN const char *goro_group_name(const goro_group *grp);
GORO_EXTERN void       *goro_group_udata(const goro_group *grp);
GORO_EXTERN goro_group *goro_group_self(void);  /* the caller's, or NULL */
/* Park until the group has no live G, or until deadline_ns (absolute
 * CLOCK_MONOTONIC, 0: none): 0, or -ETIMEDOUT. From a G not in the group. */
GORO_EXTERN int goro_group_wait(goro_group *grp, int64_t deadline_ns);
/* Free an empty group: 0, or -EBUSY while it has live Gs. */
GORO_EXTERN int goro_group_free(goro_group *grp);

/* Run fn(arg) on a thread of libuv's pool while the calling G is parked, for
 * a call that blocks long or needs a deep stack of its own (dlopen, a
 * library that recurses): fn runs on an ordinary thread stack, not the G's,
 * so it may use any amount of stack. fn must not call goro. Returns 0. */
GORO_EXTERN int goro_blocking(goro_fn fn, void *arg);

/* Signals, as Go's os/signal.Notify: from now on each delivery of signo
 * (handled on the runtime's loop thread with libuv) sends the signal number
 * (an int) on c without blocking: when c is full the signal is dropped, so
 * give c a buffer. goro_signal_stop(signo) restores the default action. Not
 * SIGURG (the runtime's), SIGKILL or SIGSTOP: -EINVAL. */
GORO_EXTERN int goro_signal_notify(int signo, goro_chan *c);
GORO_EXTERN int goro_signal_stop(int signo);
/* Handlers a program installs itself. The threads that run Gs block every
 * signal sent to the process (kill, ^C, SIGCHLD, timers), so the kernel
 * gives those to the runtime's other threads, which have ordinary stacks:
 * a handler never interrupts a G for them. A thread running Gs still takes
 * the signals its own code raises: SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGTRAP, SIGSYS, SIGABRT, SIGPIPE and SIGXFSZ. A handler for one of those
 * must be installed with SA_ONSTACK (every such thread has a signal stack)
 * and without stack checks (__attribute__((no_split_stack))): a G's stack
 * has no room for the kernel's signal frame. goro_run gives its thread its
 * signal mask back when it returns. */

/*
 * Introspection, for a daemon's status and metrics. goro_metrics_get fills
 * the first out->size bytes of *out (set size = sizeof(goro_metrics) first;
 * fields added later go at the end). The figures are read without stopping
 * the world: each is exact, but they are not all of one instant.
 */
#define GORO_SCHEDLAT_BUCKETS 20   /* bucket i: <= 1us << i; the last: +Inf */
typedef struct goro_metrics {
    uint64_t size;
    /* Gs by status (goro_gs_snapshot's names) */
    uint64_t gs_runnable, gs_running, gs_syscall, gs_waiting, gs_dead;
    uint64_t gs_io_wait;             /* of gs_waiting: on the netpoller */
    uint64_t gs_created, gs_exited;
    uint64_t ms, ms_idle, ps, ps_idle;
    uint64_t runq_global, runq_local; /* Gs queued; local: all Ps' sum */
    uint64_t stack_bytes_inuse;      /* held by Gs */
    uint64_t stack_bytes_by_order[8];/* of that: min, 2*min, ... sizes */
    uint64_t stack_bytes_large;      /* of that: larger stacks */
    uint64_t stack_bytes_fixed;      /* of that: fixed (group) stacks */
    uint64_t stack_grows, stack_shrinks, stack_copied_bytes;
    uint64_t preempt_sync, preempt_async, ctx_switches;
    /* time from runnable to running, sampled (one G in 8, as Go) */
    uint64_t schedlat_count, schedlat_sum_ns;
    uint64_t schedlat_bucket[GORO_SCHEDLAT_BUCKETS]; /* not cumulative */
} goro_metrics;
GORO_EXTERN void goro_metrics_get(goro_metrics *out);

/* One line of goro_gs_snapshot. */
typedef struct goro_ginfo {
    int64_t  id;
    char     status[12];       /* runnable running syscall waiting */
    char     waitreason[20];   /* "" unless waiting: "sleep", "chan receive",
                                  "IO wait read", ... */
    char     group[32];        /* "" when in no group */
    uint64_t stack_size;
    int64_t  age_ns;           /* time since it was spawned */
} goro_ginfo;
/* Describe up to max live Gs (id order); returns how many are live, which
 * may be more than max. */
GORO_EXTERN int64_t goro_gs_snapshot(goro_ginfo *out, size_t max);

/*
 * errno is kept per G: the runtime saves it when a G stops and restores it
 * when the G runs again, on whatever thread. glibc declares
 * __errno_location() const, so a compiler may keep the address of one
 * thread's errno across a call after which the G runs on another thread.
 * goro_errno_location() is not const: through this definition every use of
 * errno in code that includes goro.h reads the current thread's slot.
 */
GORO_EXTERN int *goro_errno_location(void);
#undef errno
#define errno (*goro_errno_location())

#ifdef __cplusplus
}
#endif
#endif /* GORO_H */
