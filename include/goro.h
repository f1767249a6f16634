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
#include <poll.h>
#include <stdbool.h>
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
 * (link flags other than pkg-config's; a message says which). goro_run is
 * goro_config_default, goro_config_from_env and goro_run_config. */
GORO_EXTERN int goro_run(goro_fn main_fn, void *arg);

/*
 * Configuration. The runtime's knobs are one table (src/runtime/config.c):
 * each has a key ("stack.min_size", as gorod.yaml spells it), an
 * environment variable (GORO_STACK_MIN_SIZE), a type, a default, the values
 * allowed and one line of documentation; README.md's table is written from
 * it. A program that configures the runtime itself:
 *
 *     goro_config cfg;
 *     goro_config_error err;
 *     goro_config_default(&cfg);
 *     if (goro_config_set(&cfg, "stack.min_size", "4KiB", &err) != 0 ||
 *         goro_config_from_env(&cfg, &err) != 0)   (optional: GORO_* win)
 *         fprintf(stderr, "%s\n", err.msg);
 *     goro_run_config(&cfg, main_fn, arg);
 *
 * Values are text as in gorod.yaml: whole numbers are digits only; sizes
 * are bytes or a number with K/KiB, M/MiB, G/GiB (powers of 1024) or B;
 * durations a number with ns, us, ms, s, m or h (0 may stand alone);
 * booleans true or false (True, TRUE, False, FALSE); enums one of their
 * names. In the environment the same, except booleans: 0 or 1.
 *
 * The fields may also be written directly (goro_run_config checks them
 * all). Their invariants are those of the table; the runtime reads them
 * under these names (rtconf, runtime2.h).
 */
typedef struct goro_config {
    int32_t   procs;             /* sched.procs: Ps; 0: the CPUs */
    uintptr_t stack_min;         /* stack.min_size: power of two */
    int32_t   stack_orders;      /* stack.orders: small sizes cached, 1..8 */
    uintptr_t stack_cache_size;  /* stack.cache_size: per P, per order */
    uintptr_t stack_max;         /* stack.max_size: largest stack of a G */
    uintptr_t nonsplit_headroom; /* stack.non_split_headroom */
    int64_t   scan_interval_ns;  /* stack.scan_interval; 0: never */
    int64_t   time_slice_ns;     /* sched.time_slice; 0: never preempt */
    bool      async_preempt;     /* sched.async_preempt */
    bool      no_shrink;         /* stack.no_shrink */
    /* The seeds' debug knobs (Go's stack.go: stackDebug, stackPoisonCopy,
     * stackFromSystem, stackFaultOnFree). */
    int32_t   stack_debug;       /* stack.debug: 0..4 */
    bool      poison_copy;       /* stack.poison_copy */
    bool      from_system;       /* stack.from_system */
    bool      fault_on_free;     /* stack.fault_on_free; implies from_system */
    int32_t   traceback;         /* traceback: GORO_TRACEBACK_NONE.. */
    /* Bit i: knob i (goro_config_knob(i)) was set by goro_config_set or
     * goro_config_from_env; of those, by the environment. Messages about
     * a value not set say "(the default)"; those about one set by the
     * environment name its variable. */
    uint64_t  set, set_by_env;
    int64_t   stall_report_ns;   /* sched.stall_report; 0: never */
    uint64_t  spare[5];          /* zero: room for knobs added later */
} goro_config;

/* GORO_TRACEBACK's values (Go's GOTRACEBACK), as goro_config.traceback. */
#define GORO_TRACEBACK_NONE   0
#define GORO_TRACEBACK_SINGLE 1
#define GORO_TRACEBACK_ALL    2
#define GORO_TRACEBACK_CRASH  3

/* A refused value or rule: msg is what gorod prints after "FILE:LINE: ",
 * and what goro_run prints after "goro: " ("stack.min_size: 3000 is not a
 * power of two between 2048 and 65536", "GORO_STACK_MIN_SIZE=3000: not a
 * power of two between 2048 and 65536"); keys the knobs it is about
 * (NULL-terminated), so that a loader can point at where they were set. */
typedef struct goro_config_error {
    char        msg[256];
    const char *keys[4];
} goro_config_error;

/* Every knob at its default; nothing marked as set. */
GORO_EXTERN void goro_config_default(goro_config *cfg);

/* Set the knob key ("sched.time_slice") from its text ("10ms"). 0, or
 * -ENOENT for an unknown key, -EINVAL for a value not allowed (cfg is left
 * as it was); *err (may be NULL) then says why. */
GORO_EXTERN int goro_config_set(goro_config *cfg, const char *key,
                                const char *value, goro_config_error *err);

/* Apply the GORO_* variables that are set to cfg (over what it holds).
 * 0, or -EINVAL at the first value not allowed, described in *err (may be
 * NULL): "GORO_STACK_ORDERS=9: not a whole number from 1 to 8". */
GORO_EXTERN int goro_config_from_env(goro_config *cfg, goro_config_error *err);

/* Check every value and the rules between keys ("stack.max_size: 64KiB is
 * not at least twice stack.min_size (64KiB)"). 0 when all hold; else
 * -EINVAL, with the first nerr problems described in err[0], err[1], ...
 * (an entry with an empty msg after the last when there is room). */
GORO_EXTERN int goro_config_check(const goro_config *cfg,
                                  goro_config_error *err, size_t nerr);

/* Write key's value as text that goro_config_set takes back ("2KiB",
 * "10ms", "true", "single") into buf: 0, -ENOENT for an unknown key,
 * -ERANGE when len is too small. */
GORO_EXTERN int goro_config_get(const goro_config *cfg, const char *key,
                                char *buf, size_t len);

/* One knob, for documentation and printing. */
#define GORO_KNOB_NUMBER   1  /* a whole number */
#define GORO_KNOB_SIZE     2  /* bytes */
#define GORO_KNOB_DURATION 3  /* nanoseconds */
#define GORO_KNOB_BOOL     4
#define GORO_KNOB_ENUM     5  /* one of a few names */
typedef struct goro_knob {
    const char *key;         /* "stack.min_size" */
    const char *env;         /* "GORO_STACK_MIN_SIZE" */
    int         type;        /* GORO_KNOB_* */
    const char *def;         /* the default, as goro_config_get writes it */
    const char *allowed;     /* "a power of two between 2048 and 65536" */
    const char *env_def;     /* the same two for the environment (only */
    const char *env_allowed; /* booleans differ: 0 or 1 there) */
    const char *rule;        /* a rule between this key and others, or NULL:
                                "at least twice stack.min_size" */
    const char *doc;         /* one line: "A G's first stack." */
} goro_knob;
/* Knob i (0, 1, ... in the table's order), or NULL past the last. */
GORO_EXTERN const goro_knob *goro_config_knob(size_t i);

/* The table's sizes and durations as text, for a program's own settings
 * written as its knobs are (gorod's status_interval, say): parse a size
 * ("64KiB") into bytes or a duration ("10ms") into nanoseconds by the
 * rules above: 0, or -EINVAL with *out unchanged. Format one in the
 * largest unit that divides it ("2KiB", "1GiB", "3000"; "10ms", "0"),
 * text the parser takes back: snprintf's count. */
GORO_EXTERN int goro_parse_size(const char *s, uint64_t *out);
GORO_EXTERN int goro_parse_duration(const char *s, int64_t *out);
GORO_EXTERN int goro_format_size(uint64_t bytes, char *buf, size_t len);
GORO_EXTERN int goro_format_duration(int64_t ns, char *buf, size_t len);

/* Start the runtime configured by *cfg (copied; goro_config_check must
 * pass: else -EINVAL with a message on stderr, and the runtime may still
 * be started), run main_fn(arg) as the first G; otherwise as goro_run. */
GORO_EXTERN int goro_run_config(const goro_config *cfg, goro_fn main_fn,
                                void *arg);

/* Spawn a G running fn(arg). Returns its id (> 0); -EINVAL for a NULL fn,
 * -EPERM when not called from a G. The new G may run before goro_go
 * returns (on another P), and goro_go may yield: a G that has spawned
 * hundreds in a row while the runtime's queue of runnable Gs is long
 * waits behind them, as a preempted G does, so that spawning cannot
 * outrun the Ps without bound (not with preemption disabled). */
GORO_EXTERN int64_t goro_go(goro_fn fn, void *arg);

/* Joinable Gs, as pthread_create/pthread_join: goro_go_joinable spawns a
 * G running fn(arg) and returns its id (> 0; -EINVAL for a NULL fn,
 * -ENOMEM, -EPERM outside a G); goro_join(id, &result) waits for that G
 * to end and stores fn's return value in *result (result may be NULL).
 * Each joinable G must be joined once or detached (goro_detach): until
 * then the runtime keeps its id and result (a record of about 64 bytes,
 * not the G or its stack). Gs spawned with goro_go are detached. Errors:
 * -ESRCH no joinable G with that id (never one, detached, or joined
 * already), -EDEADLK the caller's own id, -EINVAL another G is joining
 * it, -EPERM outside a G. goro_join_ctx (below, with the contexts) also
 * returns -ECANCELED or -ETIMEDOUT when ctx ends the wait, and goro_join
 * -ECANCELED when the caller's group is cancelled; the G stays joinable
 * then. goro_detach: 0, -ESRCH, -EINVAL (a G is joining it). */
typedef int (*goro_join_fn)(void *arg);
GORO_EXTERN int64_t goro_go_joinable(goro_join_fn fn, void *arg);
GORO_EXTERN int     goro_join(int64_t id, int *result);
GORO_EXTERN int     goro_detach(int64_t id);

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
 * nest. Code that cannot be stopped (a library or libc built without
 * -fsplit-stack, goro_cgocall, such a region) keeps the G's P for as long
 * as it runs: GORO_STALL_REPORT=100ms (goro_config.stall_report_ns, off by
 * default) prints the stack of a G that held its P that long so, once per
 * stall, on stderr (README.md, "Stall reports"). */
GORO_EXTERN void goro_preempt_disable(void);
GORO_EXTERN void goro_preempt_enable(void);

/* Bracket a call that may block the thread (a blocking call inside another
 * library): meanwhile the G's processor may be handed to another thread,
 * so the other Gs go on running. Between the two, call nothing of goro's;
 * errno is kept. They do not nest. The program's own calls of libc's
 * blocking functions (sleep, poll, read, connect, ...: README.md, "Calls
 * into libc") are bracketed so already, through the link flags of goro.pc.
 * An unbracketed call that blocks loses its processor too, but later (a
 * millisecond when other Gs wait; README.md, "Preemption"). */
GORO_EXTERN void goro_syscall_enter(void);
GORO_EXTERN void goro_syscall_exit(void);

/* Run fn(arg) on the calling thread's own stack (the M's, megabytes), as
 * Go's cgo runs C, and return 0 when it returns (-EINVAL for a NULL fn).
 * For calls into a library built without -fsplit-stack that may need more
 * stack than the non-split headroom (16 KiB: an RSA signature in OpenSSL
 * does), or that would make the G's stack grow to 32 KiB for a short
 * call; and for calls whose thread-local results must be read on the
 * thread that made them (OpenSSL's error queue, below): meanwhile the G
 * is neither preempted nor moved to another thread, and its stack does
 * not move, so arg may point into it. fn must not block for long (its P
 * waits: use goro_blocking or goro_syscall_enter for that), must not
 * longjmp out, and may call of goro only goro_chan_try_send,
 * goro_chan_try_recv and errno. Outside a G, fn(arg) is simply called.
 *
 * Libraries with per-thread state. A G may change threads at any function
 * call, so state a library keeps per thread (OpenSSL's error queue,
 * ERR_get_error; a thread's locale; strerror's buffer) must be produced
 * and consumed without a move in between: make the library call and read
 * its per-thread results in one goro_cgocall (or between
 * goro_preempt_disable and goro_preempt_enable, without parking), and
 * leave nothing behind for the next G on that thread (for OpenSSL:
 * ERR_clear_error before and after). goro/ssl.h's adapter does so. */
GORO_EXTERN int goro_cgocall(goro_fn fn, void *arg);

/* Lock the calling G to its thread, as Go's runtime.LockOSThread: until as
 * many goro_unlock_thread calls as there were goro_lock_thread calls (they
 * nest), the G runs on this thread only and the thread runs no other G.
 * For libraries whose state is per thread and lives across parking calls
 * (a thread's namespace, credentials or signal mask, a GL context). The G
 * still parks, sleeps and is preempted as usual; meanwhile its thread
 * sleeps and gives its processor to the other Gs; each time it runs again
 * costs two thread wake-ups. A G that ends locked ends its thread too (the
 * runtime cannot know what state the G left it in); goro_run returns as
 * usual. Both return 0, or -EPERM outside a G; goro_lock_thread -EOVERFLOW
 * past 2^31-1 nested calls; goro_unlock_thread on an unlocked G does
 * nothing. */
GORO_EXTERN int goro_lock_thread(void);
GORO_EXTERN int goro_unlock_thread(void);

/* Wait group: Add/Done/Wait as in Go's sync.WaitGroup. A counter that goes
 * negative is a fatal error, as in Go. */
typedef struct goro_wg goro_wg;
GORO_EXTERN goro_wg *goro_wg_new(void);            /* NULL when out of memory */
GORO_EXTERN void     goro_wg_add(goro_wg *wg, int64_t delta);
GORO_EXTERN void     goro_wg_done(goro_wg *wg);
GORO_EXTERN void     goro_wg_wait(goro_wg *wg);
GORO_EXTERN void     goro_wg_free(goro_wg *wg);

/* Mutex that parks the G, not the thread: Go's sync.Mutex. Unlock wakes a
 * waiter, which competes with the running Gs for the lock (a G finding it
 * held spins briefly when another processor runs); a waiter that waited
 * over 1 ms turns the mutex to FIFO hand-over until the queue drains, so no
 * waiter starves. Any G may unlock it (as in Go). goro_mutex_trylock: 0
 * when it took the lock, -EBUSY when it is held. For Gs only: a thread
 * that is not a G must not lock, try or unlock it (on one P its fast
 * paths count on only the P's thread touching it). */
typedef struct goro_mutex goro_mutex;
GORO_EXTERN goro_mutex *goro_mutex_new(void);      /* NULL when out of memory */
GORO_EXTERN void goro_mutex_lock(goro_mutex *m);
GORO_EXTERN int  goro_mutex_trylock(goro_mutex *m);
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
 * -EINVAL (goro_dial and goro_listen, below, take names). Accepted and connected sockets have TCP_NODELAY set, as in Go.
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

/*
 * Any fd (Go's RawConn, libdill's fdin/fdout, Tokio's AsyncFd): for fds
 * goro did not create (a library's socket, a pipe, an eventfd, a timerfd,
 * a tty) as well as its own.
 *
 * goro_wait_fd parks the calling G until fd is ready for events (POLLIN,
 * POLLOUT or both, from poll.h) and returns the ready subset (> 0), with
 * POLLHUP and POLLERR added as poll(2) adds them (POLLIN too at a peer's
 * shutdown, and POLLRDHUP then); -ETIMEDOUT at deadline_ns (absolute
 * CLOCK_MONOTONIC, 0: none; as the deadlines above: a fd ready now returns
 * at once, even past it); -ECANCELED when another G closes fd with
 * goro_close meanwhile; -EBADF for an fd that is not open; -EINVAL for
 * other events. Level-triggered, as poll(2): a fd ready now costs one
 * poll(2) that does not wait, and no park. As with poll, readiness may be
 * gone by the time the caller acts (another reader took the data): use
 * non-blocking fds and call again on EAGAIN. From a thread that is not a
 * G it is poll(2) itself, blocking the thread.
 *
 * Closing: close a fd that Gs waited on with goro_close, which wakes its
 * waiters (-ECANCELED) and makes the netpoller forget it. A fd closed any
 * other way (by the library that owns it) is tolerated: the next wait on
 * that number, whatever file it names by then, finds out and registers it
 * afresh (one epoll_ctl per park that the fast path never pays). But a G
 * parked on it when it is closed so stays parked until its deadline, as a
 * thread in poll(2) would: wake it first (goro_close, or whatever makes the
 * fd ready, such as shutdown(2) on a socket).
 */
GORO_EXTERN int goro_wait_fd(int fd, int events, int64_t deadline_ns);

/*
 * Names and networks, as Go's net.Dial and net.Listen. network is "tcp",
 * "tcp4", "tcp6", "udp", "udp4", "udp6", "unix" or "unixgram"; address is
 * "host:port" for the first six (a host name, an IPv4 literal or an IPv6
 * literal in brackets: "localhost:80", "192.0.2.1:http", "[::1]:8080";
 * the port a number or a service name of /etc/services) and a path for
 * Unix sockets ("@name": Linux's abstract namespace, no file). The fds
 * returned are non-blocking and close-on-exec, for goro_read, goro_write,
 * goro_sendto, goro_recvfrom and goro_close; TCP ones have TCP_NODELAY.
 *
 * Host names are resolved by the system's getaddrinfo (nsswitch,
 * /etc/hosts, DNS) on libuv's thread pool while the G is parked (the
 * thread runs other Gs); a numeric host and port are taken at once, and
 * so is a name in /etc/hosts where nsswitch.conf's hosts line puts files
 * first, from a copy of the file looked at again (stat) at most every
 * 5 s: a change to it shows within 5 s. That answer is the list
 * getaddrinfo would give (the family's addresses in its order, the
 * service and socket types of the hints); where its order would need
 * the machine's routes (several addresses that are not loopback), or
 * the hints ask for AI_CANONNAME, AI_V4MAPPED or AI_ALL, the name goes
 * to the pool as any other. The
 * errors of resolution: -ENOENT no such host (EAI_NONAME, EAI_NODATA,
 * EAI_ADDRFAMILY), -ESRCH no such service (EAI_SERVICE), -EAGAIN a
 * temporary failure (EAI_AGAIN), -EIO the resolver failed (EAI_FAIL),
 * -EAFNOSUPPORT, -ESOCKTNOSUPPORT, -ENOMEM, -EINVAL bad flags or hints,
 * -ENAMETOOLONG, or the errno of EAI_SYSTEM.
 *
 * goro_dial connects to every address of the host in the resolver's order
 * (IPv6 first where it works) until one accepts; the deadline (absolute
 * CLOCK_MONOTONIC, 0: none) bounds the resolution and all the connects,
 * -ETIMEDOUT past it; when every address fails, the first one's error
 * (-ECONNREFUSED, ...). An empty host is the local system (":80": 127.0.0.1,
 * or ::1 for tcp6/udp6). A "udp" or "unixgram" dial connects the socket:
 * goro_read/goro_write then exchange datagrams with that peer only.
 * -EINVAL for an unknown network or a malformed address (an IPv6 literal
 * without brackets, no port).
 *
 * goro_listen binds the first address of the host and, for "tcp" and
 * "unix", listens (backlog <= 0: SOMAXCONN); for "udp" and "unixgram" it
 * only binds: receive with goro_recvfrom. An empty host is every address:
 * for "tcp" and "udp" IPv6's wildcard, which takes IPv4 too (IPv4's alone
 * where the system has no IPv6); ":0" lets the kernel choose the port
 * (getsockname). TCP listeners set SO_REUSEADDR. A Unix socket's file is
 * neither removed before nor after: -EADDRINUSE if it exists.
 * goro_listen_flags takes GORO_LISTEN_REUSEPORT, SO_REUSEPORT: several
 * sockets (processes) listen on one port, the kernel spreading the
 * connections or datagrams among them.
 *
 * goro_getaddrinfo is getaddrinfo(3) with the G parked and a deadline
 * (or the /etc/hosts answer above); 0 and *res (free it with
 * goro_freeaddrinfo, whichever way it came), or the errors above.
 * All of these return -EPERM when not called from a G.
 */
#define GORO_LISTEN_REUSEPORT 1
struct addrinfo;
struct sockaddr;
GORO_EXTERN int  goro_dial(const char *network, const char *address,
                           int64_t deadline_ns);
GORO_EXTERN int  goro_listen(const char *network, const char *address,
                             int backlog);
GORO_EXTERN int  goro_listen_flags(const char *network, const char *address,
                                   int backlog, int flags);
GORO_EXTERN int  goro_getaddrinfo(const char *node, const char *service,
                                  const struct addrinfo *hints,
                                  struct addrinfo **res, int64_t deadline_ns);
GORO_EXTERN void goro_freeaddrinfo(struct addrinfo *ai);

/* Datagrams with addresses, and fd passing. goro_sendto sends one datagram
 * (to NULL: the connected peer) and goro_recvfrom receives one (from may
 * be NULL; a datagram longer than len is cut, as recvfrom's), parking the
 * G while the socket's buffer is full or empty; -ETIMEDOUT at deadline_ns
 * (0: none). They work on stream sockets too (one send or receive).
 *
 * goro_send_fds sends len > 0 bytes of buf (on a stream socket, maybe
 * fewer: the count is returned) with nfds (0..253) fds attached
 * (SCM_RIGHTS) over a Unix socket: the peer gets its own copies, for
 * handing a listener or a connection to another process. goro_recv_fds
 * receives up to len bytes and the fds sent with them, at most *nfds of
 * them (in: the room in fds; out: how many came), close-on-exec; any
 * beyond that room are closed. Returns the bytes received (0: the peer
 * closed). */
GORO_EXTERN ssize_t goro_sendto(int fd, const void *buf, size_t len,
                                const struct sockaddr *to, unsigned tolen,
                                int64_t deadline_ns);
GORO_EXTERN ssize_t goro_recvfrom(int fd, void *buf, size_t len,
                                  struct sockaddr *from, unsigned *fromlen,
                                  int64_t deadline_ns);
GORO_EXTERN ssize_t goro_send_fds(int sock, const void *buf, size_t len,
                                  const int *fds, int nfds,
                                  int64_t deadline_ns);
GORO_EXTERN ssize_t goro_recv_fds(int sock, void *buf, size_t len, int *fds,
                                  int *nfds, int64_t deadline_ns);

/*
 * From threads that are not Gs (a library's callback thread, a thread the
 * program made): such a thread may hand work to Gs and take results back
 * through channels. goro_chan_send and goro_chan_recv block the thread
 * (not a G) until the exchange is done, with the semantics above;
 * goro_chan_try_send and goro_chan_try_recv never block, from a G or a
 * thread: -EAGAIN when the exchange cannot be done now. goro_chan_close
 * and goro_wait_fd (as poll(2)) work there too; goro_go, goro_select and
 * the socket calls do not (-EPERM): to start work in a G, send it on a
 * channel to a G that spawns. The runtime's own threads outside a G get
 * -EPERM from the blocking calls.
 *
 * Deadlocks: when every G waits for another G the runtime reports "all
 * goroutines are asleep" and exits (2), as Go does. A thread that has made
 * a channel call counts as one that may still send, until it exits, and
 * no deadlock is reported meanwhile. A G that waits for a thread that has
 * not made its first call yet is covered by goro_foreign_hold() (before
 * the thread starts, or before the G waits) and goro_foreign_release()
 * (once the thread made its call, or is joined): they nest.
 */
GORO_EXTERN int  goro_chan_try_send(goro_chan *c, const void *elem);
GORO_EXTERN int  goro_chan_try_recv(goro_chan *c, void *elem);
GORO_EXTERN void goro_foreign_hold(void);
GORO_EXTERN void goro_foreign_release(void);

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
/* The fds the group's Gs opened through goro (goro_accept, goro_dial,
 * goro_listen, goro_tcp_listen/connect, goro_recv_fds) and have not closed
 * with goro_close: who holds the process's fds when it runs out. */
GORO_EXTERN int64_t     goro_group_fds(const goro_group *grp);
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
 * Stacks of every G, as Go prints them on SIGQUIT: one block per live G,
 * "goroutine 17 [chan receive, 3 minutes, group \"echo\", 8 KiB stack]:",
 * its frames (function, then file:line where the program has debug
 * information, else module+offset) and "created by ...". Parked Gs are
 * walked (each held for the time of its walk, the others run on); running
 * and runnable Gs other than the caller are shown without their stack.
 * goro_stacks_dump writes every G's to fd (the caller's first when called
 * from a G); goro_stacks_dump_group only those of the named group (NULL:
 * all). They return how many Gs they wrote, or -EBADF. From a G or any
 * thread; one dump at a time. The runtime prints the same on SIGQUIT
 * (then exits 2), on a fatal error and on a crash, as GORO_TRACEBACK
 * says (README.md).
 */
GORO_EXTERN int goro_stacks_dump(int fd);
GORO_EXTERN int goro_stacks_dump_group(int fd, const char *group);

/*
 * Execution trace, as Go's runtime/trace: what every G and P did (a G's
 * creation, runs, stops and their reason, parks with the wait reason,
 * unparks, system calls; steals, preemptions, stack growth and shrinking,
 * netpoll wakes), written to fd as JSON in the Trace Event Format, which
 * Perfetto (ui.perfetto.dev) and chrome://tracing open: a track per P and
 * one per G (README.md, "Execution trace"). goro_trace_start returns 0,
 * -EBUSY while a trace runs, -EBADF, -EPERM outside a running runtime,
 * -ENOMEM. A thread of the runtime writes to fd as the trace goes (a
 * non-blocking fd is waited on); goro_trace_stop ends the trace, writes
 * the rest and returns 0, -ESRCH when no trace runs, or the first write
 * error (-EPIPE, ...; the file is then cut short). fd stays the caller's.
 * GORO_TRACE=FILE traces the whole run of goro_run into FILE.
 */
GORO_EXTERN int goro_trace_start(int fd);
GORO_EXTERN int goro_trace_stop(void);

/*
 * The rest of Go's sync, for Gs (a call that waits parks the G; calling one
 * outside a G, or with NULL, is a fatal error, as for the mutex).
 *
 * goro_cond: Go's sync.Cond with the mutex given at each wait:
 * goro_cond_wait(cv, mu) unlocks mu (held by the caller), waits for a
 * signal or broadcast, and locks mu again before it returns. A signal
 * wakes the longest waiting G, a broadcast all; one sent when nobody waits
 * is lost. Wait in a loop on the condition, as with any condition
 * variable. Freeing one with waiters is a fatal error.
 *
 * goro_rwmutex: Go's sync.RWMutex: any number of readers or one writer; a
 * writer that waits blocks new readers (so readers cannot starve it), and
 * the readers that queued behind it go in before the next writer.
 *
 * goro_once: goro_once_do(&once, fn, arg) calls fn(arg) the first time
 * only; every call returns after that first call of fn has returned (the
 * others wait). Initialise with GORO_ONCE_INIT (static or automatic, never
 * copied once used). fn must not call goro_once_do on the same once.
 *
 * goro_sem: a weighted semaphore, Go's x/sync/semaphore: n units; acquire
 * waits for w of them, FIFO (a large request at the head is not overtaken
 * by smaller ones behind it). goro_sem_acquire and
 * goro_sem_acquire_deadline (absolute, goro_now's clock; -ETIMEDOUT, 0:
 * none) return 0, or -EINVAL for w < 0 or w > n (it could never be
 * admitted); goro_sem_tryacquire: 0 or -EAGAIN, without waiting; releasing
 * more than was acquired is a fatal error. goro_sem_new: NULL with errno
 * EINVAL (n <= 0) or ENOMEM.
 *
 * G-local values: pthread's keys, for Gs. goro_key_new returns a key (>= 0)
 * or -EAGAIN (GORO_KEYS_MAX are live); a new G sees NULL for every key;
 * when a G's function returns, the destructor of each key whose value is
 * not NULL is called with it, on that G (a destructor that sets values
 * again runs them again, up to four rounds). goro_key_delete frees the key
 * (no destructors run; values set with it are no longer seen);
 * goro_key_set: 0, -EINVAL (not a live key), -EPERM (outside a G), -ENOMEM.
 */
typedef struct goro_cond goro_cond;
GORO_EXTERN goro_cond *goro_cond_new(void);        /* NULL when out of memory */
GORO_EXTERN void goro_cond_wait(goro_cond *cv, goro_mutex *mu);
GORO_EXTERN void goro_cond_signal(goro_cond *cv);
GORO_EXTERN void goro_cond_broadcast(goro_cond *cv);
GORO_EXTERN void goro_cond_free(goro_cond *cv);

typedef struct goro_rwmutex goro_rwmutex;
GORO_EXTERN goro_rwmutex *goro_rwmutex_new(void);  /* NULL when out of memory */
GORO_EXTERN void goro_rwmutex_rlock(goro_rwmutex *rw);
GORO_EXTERN void goro_rwmutex_runlock(goro_rwmutex *rw);
GORO_EXTERN void goro_rwmutex_lock(goro_rwmutex *rw);
GORO_EXTERN void goro_rwmutex_unlock(goro_rwmutex *rw);
GORO_EXTERN void goro_rwmutex_free(goro_rwmutex *rw);

typedef struct goro_once {
    uint64_t opaque[8];
} goro_once;
#define GORO_ONCE_INIT {{0}}
GORO_EXTERN void goro_once_do(goro_once *once, goro_fn fn, void *arg);

typedef struct goro_sem goro_sem;
GORO_EXTERN goro_sem *goro_sem_new(int64_t n);
GORO_EXTERN int  goro_sem_acquire(goro_sem *s, int64_t w);
GORO_EXTERN int  goro_sem_acquire_deadline(goro_sem *s, int64_t w,
                                           int64_t deadline_ns);
GORO_EXTERN int  goro_sem_tryacquire(goro_sem *s, int64_t w);
GORO_EXTERN void goro_sem_release(goro_sem *s, int64_t w);
GORO_EXTERN void goro_sem_free(goro_sem *s);

#define GORO_KEYS_MAX 256
GORO_EXTERN int   goro_key_new(void (*destructor)(void *value));
GORO_EXTERN int   goro_key_delete(int key);
GORO_EXTERN int   goro_key_set(int key, void *value);
GORO_EXTERN void *goro_key_get(int key);   /* NULL when unset or no key */

/*
 * Time. goro_now() is the clock every deadline of goro uses
 * (CLOCK_MONOTONIC, in nanoseconds); a deadline is an absolute time on it,
 * a duration a count of nanoseconds.
 *
 * Timers and tickers, as Go's time.Timer and time.Ticker: each has a
 * channel (goro_timer_chan, goro_ticker_chan) of capacity 1 on which it
 * sends goro_now() (an int64_t) when it fires, without blocking: a value
 * not received yet is kept and the new one dropped, so a slow receiver of
 * a ticker misses ticks, and a ticker's ticks stay on start + k * period.
 * The channels belong to their timer: never close or goro_chan_free one.
 * Pending timers live on the runtime's timer heap (no G each): a million
 * cost memory only. Usable from any G; NULL with errno ENOMEM, EINVAL
 * (a period <= 0), or EPERM (the runtime is not running).
 *
 * Stop and reset as Go (1.23 on): once goro_timer_stop, goro_timer_reset,
 * goro_ticker_stop or goro_ticker_reset returns, a receive never sees a
 * value from before it (a value sent but not received is discarded).
 * goro_timer_stop returns 1 if that kept the program from seeing the
 * timer fire (it was pending, or its value was not received), else 0;
 * goro_timer_reset re-arms the timer d from now (d <= 0: at once) and
 * returns the same. A G parked receiving on the channel stays parked.
 * goro_timer_free and goro_ticker_free stop and free (no G may be waiting
 * on the channel: that is a fatal error).
 */
GORO_EXTERN int64_t goro_now(void);
typedef struct goro_timer goro_timer;
GORO_EXTERN goro_timer *goro_timer_new(int64_t d);    /* fires once, d from now */
GORO_EXTERN goro_chan  *goro_timer_chan(goro_timer *t);
GORO_EXTERN int  goro_timer_stop(goro_timer *t);
GORO_EXTERN int  goro_timer_reset(goro_timer *t, int64_t d);
GORO_EXTERN void goro_timer_free(goro_timer *t);
typedef struct goro_ticker goro_ticker;
GORO_EXTERN goro_ticker *goro_ticker_new(int64_t period); /* first tick at period */
GORO_EXTERN goro_chan   *goro_ticker_chan(goro_ticker *tk);
GORO_EXTERN void goro_ticker_stop(goro_ticker *tk);
GORO_EXTERN int  goro_ticker_reset(goro_ticker *tk, int64_t period); /* -EINVAL: period <= 0 */
GORO_EXTERN void goro_ticker_free(goro_ticker *tk);
/* goro_after: a channel that receives goro_now() once, d from now (Go's
 * time.After), with nothing to free or drain: it is the calling G's own
 * timer, re-armed (and emptied) by each of its calls and stopped when the
 * G ends. So it is for that G only, and valid until its next goro_after;
 * a program that needs two at once uses goro_timer_new. NULL with errno
 * EPERM outside a G. */
GORO_EXTERN goro_chan *goro_after(int64_t d);
/* goro_select with a deadline (absolute, goro_now's clock): as
 * goro_select(cases, n, 1), or -ETIMEDOUT when no case could proceed
 * before deadline_ns. A case ready at once is taken even past the
 * deadline; 0 means no deadline. The deadline costs nothing when a case
 * is ready at once, and never a G. */
GORO_EXTERN int goro_select_deadline(goro_select_case *cases, int n,
                                     int64_t deadline_ns);

/*
 * Contexts: cancellation, as Go's context package. A context is a cancel
 * scope with an optional deadline (absolute, goro_now's clock); contexts
 * form a tree: cancelling one cancels its descendants, and a child's
 * deadline is the earlier of its own and its parent's. NULL is the root
 * that is never cancelled: goro_ctx_new(NULL) makes a new root, and every
 * *_ctx call below takes NULL for "no context".
 *
 * goro_ctx_new, goro_ctx_new_deadline (0: none; one already past gives a
 * context cancelled with -ETIMEDOUT): NULL with errno ENOMEM (or EINVAL:
 * a negative deadline). A child of a cancelled parent is born cancelled.
 * goro_ctx_cancel(ctx, cause): cancels ctx and its descendants (a second
 * cancel changes nothing); cause is a negative errno the program picks to
 * say why (>= 0: -ECANCELED). goro_ctx_err: 0 while not cancelled, then
 * -ECANCELED, or -ETIMEDOUT when a deadline ended it (its own or an
 * ancestor's). goro_ctx_cause: 0, then the cause of the cancel that ended
 * it (inherited from the ancestor cancelled; -ETIMEDOUT for a deadline).
 * goro_ctx_done: a channel (no values) that is closed when ctx is
 * cancelled: a receive case for goro_select. It belongs to the context:
 * never close or free it. goro_ctx_deadline: the effective deadline, or
 * 0.
 *
 * Freeing: whoever made a context frees it with goro_ctx_free, which
 * cancels it first (Go's CancelFunc), so cancel-and-free is one call.
 * Contexts may be freed in any order (a child keeps what it needs of its
 * parent; a freed parent's children are cancelled and stay valid until
 * their own free). A G may still be returning from a wait the free ended:
 * the memory stays until it has. But no G may use ctx after the free: a
 * G selecting on goro_ctx_done(ctx) must have left that select first (as
 * with any channel); cancel, wait for the Gs, then free.
 *
 * The *_ctx forms wait as their plain calls, and stop waiting when ctx is
 * cancelled (-ECANCELED) or its deadline passes (-ETIMEDOUT); nothing is
 * consumed then (no value sent or received, no unit or lock taken, no
 * data read). As with deadlines, a context ends waiting only: a call that
 * can complete at once does, even with a cancelled context (as Go's
 * semaphore.Acquire); check goro_ctx_err in loops that seldom wait. The
 * calls of a G in a group are also ended by the group's cancel (below).
 * Not cancellable: file I/O (goro_file_read/write), goro_blocking, and
 * name resolution in goro_dial (bounded by the context's deadline).
 * goro_cond_wait_ctx holds mu again when it returns, whatever it returns
 * (a wait ended early may cost a later signal's waiter a spurious
 * wake-up, never the signal). goro_rwmutex_lock_ctx: the context ends the
 * wait behind other writers; once the writer has barred new readers, its
 * wait for the readers still inside is not cancellable. A reader with a
 * context that finds a writer waits behind the writers, not with the
 * readers queued for that writer. goro_sleep_ctx returns 0 after ns.
 * From a thread that is not a G: -EPERM.
 *
 * Groups: each group has a context (goro_group_ctx, made and freed with
 * the group), to derive contexts from. goro_group_cancel(grp, cause)
 * cancels it: every wait of the group's Gs in a *_ctx call, and in the
 * plain calls that can report it (channel sends and receives,
 * goro_select, goro_sem_acquire*, goro_join, the fd and socket calls,
 * goro_wait_fd, goro_group_wait) ends with -ECANCELED, and goro_sleep_ns
 * returns early;
 * goro_mutex_lock, goro_cond_wait, goro_wg_wait and the rwmutex wait on.
 * It stays cancelled: a G of the group that waits later gets -ECANCELED
 * at once. This is how a daemon stops a plugin's Gs.
 */
typedef struct goro_ctx goro_ctx;
GORO_EXTERN goro_ctx *goro_ctx_new(goro_ctx *parent);
GORO_EXTERN goro_ctx *goro_ctx_new_deadline(goro_ctx *parent,
                                            int64_t deadline_ns);
GORO_EXTERN void      goro_ctx_cancel(goro_ctx *ctx, int cause);
GORO_EXTERN void      goro_ctx_free(goro_ctx *ctx);
GORO_EXTERN goro_chan *goro_ctx_done(goro_ctx *ctx);
GORO_EXTERN int       goro_ctx_err(const goro_ctx *ctx);
GORO_EXTERN int       goro_ctx_cause(const goro_ctx *ctx);
GORO_EXTERN int64_t   goro_ctx_deadline(const goro_ctx *ctx);

GORO_EXTERN int  goro_chan_send_ctx(goro_ctx *ctx, goro_chan *c,
                                    const void *elem);
GORO_EXTERN int  goro_chan_recv_ctx(goro_ctx *ctx, goro_chan *c, void *elem);
GORO_EXTERN int  goro_select_ctx(goro_ctx *ctx, goro_select_case *cases,
                                 int n);
GORO_EXTERN int  goro_sleep_ctx(goro_ctx *ctx, int64_t ns);
GORO_EXTERN int  goro_mutex_lock_ctx(goro_ctx *ctx, goro_mutex *m);
GORO_EXTERN int  goro_sem_acquire_ctx(goro_ctx *ctx, goro_sem *s, int64_t w);
GORO_EXTERN int  goro_wg_wait_ctx(goro_ctx *ctx, goro_wg *wg);
GORO_EXTERN int  goro_join_ctx(goro_ctx *ctx, int64_t id, int *result);
GORO_EXTERN int  goro_cond_wait_ctx(goro_ctx *ctx, goro_cond *cv,
                                    goro_mutex *mu);
GORO_EXTERN int  goro_rwmutex_rlock_ctx(goro_ctx *ctx, goro_rwmutex *rw);
GORO_EXTERN int  goro_rwmutex_lock_ctx(goro_ctx *ctx, goro_rwmutex *rw);
GORO_EXTERN int  goro_group_wait_ctx(goro_ctx *ctx, goro_group *grp);
GORO_EXTERN int  goro_wait_fd_ctx(goro_ctx *ctx, int fd, int events);
GORO_EXTERN ssize_t goro_read_ctx(goro_ctx *ctx, int fd, void *buf,
                                  size_t len);
GORO_EXTERN ssize_t goro_write_ctx(goro_ctx *ctx, int fd, const void *buf,
                                   size_t len);
GORO_EXTERN int  goro_accept_ctx(goro_ctx *ctx, int listen_fd);
GORO_EXTERN int  goro_dial_ctx(goro_ctx *ctx, const char *network,
                               const char *address);
GORO_EXTERN ssize_t goro_sendto_ctx(goro_ctx *ctx, int fd, const void *buf,
                                    size_t len, const struct sockaddr *to,
                                    unsigned tolen);
GORO_EXTERN ssize_t goro_recvfrom_ctx(goro_ctx *ctx, int fd, void *buf,
                                      size_t len, struct sockaddr *from,
                                      unsigned *fromlen);
GORO_EXTERN ssize_t goro_send_fds_ctx(goro_ctx *ctx, int sock,
                                      const void *buf, size_t len,
                                      const int *fds, int nfds);
GORO_EXTERN ssize_t goro_recv_fds_ctx(goro_ctx *ctx, int sock, void *buf,
                                      size_t len, int *fds, int *nfds);

GORO_EXTERN goro_ctx *goro_group_ctx(goro_group *grp);
GORO_EXTERN int       goro_group_cancel(goro_group *grp, int cause);
    /* 0, or -EINVAL for a NULL grp */

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
