/*
 * cgocall.h - the libc functions whose calls from a program or plugin go
 * through goro (cgocall.c says why and how). goro.pc links with
 * -Wl,--wrap=NAME for every NAME below, so a call to NAME from code built
 * against goro reaches __wrap_NAME in libgoro.so.
 *
 * One line a function, the name first (the Makefile reads the names from
 * here). The includer defines the four macros:
 *
 *   LEAF(name)      a leaf routine of libc (string and memory functions,
 *                   the vDSO clock): it needs no more stack than a
 *                   small split-stack frame, so __wrap_name checks the
 *                   guard as such a frame does and jumps to it (amd64.S).
 *   SYSTEM(name)    anything else that neither blocks nor calls back:
 *                   run on the M's g0 stack with the argument registers
 *                   as they are (asmcgocall, amd64.S). At most six
 *                   integer or pointer arguments, none on the stack.
 *   VARIADIC(name, vname, ret, params, last, args)
 *                   a variadic function: __wrap_name (cgocall.c) runs
 *                   vname(args) on g0, with va_list ap started after
 *                   last.
 *   BLOCKING(name, ret, params, args)
 *                   a call that may block the thread: run on g0 between
 *                   goro_syscall_enter and goro_syscall_exit, so the P
 *                   goes on with the other Gs (cgocall.c). A signal
 *                   handler installed with SA_RESTART (the runtime's is)
 *                   restarts it.
 *   INTERRUPTIBLE(name, ret, params, args)
 *                   the same for a call that a handled signal cuts short
 *                   even with SA_RESTART (sleeps, waits with a timeout,
 *                   connect): the runtime's preemption signal is blocked
 *                   while it runs.
 *
 * In args, U converts an argument to uintptr_t.
 */

LEAF(memcpy)
LEAF(memmove)
LEAF(memset)
LEAF(memcmp)
LEAF(memchr)
LEAF(strlen)
LEAF(strnlen)
LEAF(strcmp)
LEAF(strncmp)
LEAF(strchr)
LEAF(strrchr)
LEAF(strcpy)
LEAF(stpcpy)
LEAF(__memcpy_chk)
LEAF(__memmove_chk)
LEAF(__memset_chk)
LEAF(strncpy)
LEAF(strcat)
LEAF(strncat)
LEAF(strcasecmp)
LEAF(strncasecmp)
LEAF(toupper)
LEAF(tolower)
LEAF(clock_gettime)
LEAF(gettimeofday)
LEAF(time)
LEAF(__errno_location)
LEAF(__ctype_b_loc)
LEAF(__ctype_tolower_loc)
LEAF(__ctype_toupper_loc)

SYSTEM(malloc)
SYSTEM(calloc)
SYSTEM(realloc)
SYSTEM(free)
SYSTEM(posix_memalign)
SYSTEM(aligned_alloc)
SYSTEM(strdup)
SYSTEM(strndup)
SYSTEM(strstr)
SYSTEM(strspn)
SYSTEM(strcspn)
SYSTEM(strpbrk)
SYSTEM(strtok_r)
SYSTEM(strerror)
SYSTEM(strtol)
SYSTEM(strtoul)
SYSTEM(strtoll)
SYSTEM(strtoull)
SYSTEM(strtod)
SYSTEM(atoi)
SYSTEM(atol)
SYSTEM(vsnprintf)
SYSTEM(vsprintf)
SYSTEM(vprintf)
SYSTEM(vfprintf)
SYSTEM(__vsnprintf_chk)
SYSTEM(__vsprintf_chk)
SYSTEM(__vprintf_chk)
SYSTEM(__vfprintf_chk)
SYSTEM(puts)
SYSTEM(fputs)
SYSTEM(fputc)
SYSTEM(putc)
SYSTEM(putchar)
SYSTEM(fwrite)
SYSTEM(fflush)
SYSTEM(perror)
SYSTEM(rand)
SYSTEM(random)
SYSTEM(exit)
SYSTEM(_exit)
SYSTEM(abort)
SYSTEM(__assert_fail)
SYSTEM(__stack_chk_fail)

VARIADIC(snprintf, vsnprintf, int, (char *s, size_t n, const char *fmt, ...), fmt, (U s, U n, U fmt, U ap))
VARIADIC(sprintf, vsprintf, int, (char *s, const char *fmt, ...), fmt, (U s, U fmt, U ap))
VARIADIC(printf, vprintf, int, (const char *fmt, ...), fmt, (U fmt, U ap))
VARIADIC(fprintf, vfprintf, int, (FILE *f, const char *fmt, ...), fmt, (U f, U fmt, U ap))
VARIADIC(__snprintf_chk, __vsnprintf_chk, int, (char *s, size_t n, int flag, size_t slen, const char *fmt, ...), fmt, (U s, U n, U flag, U slen, U fmt, U ap))
VARIADIC(__sprintf_chk, __vsprintf_chk, int, (char *s, int flag, size_t slen, const char *fmt, ...), fmt, (U s, U flag, U slen, U fmt, U ap))
VARIADIC(__printf_chk, __vprintf_chk, int, (int flag, const char *fmt, ...), fmt, (U flag, U fmt, U ap))
VARIADIC(__fprintf_chk, __vfprintf_chk, int, (FILE *f, int flag, const char *fmt, ...), fmt, (U f, U flag, U fmt, U ap))

INTERRUPTIBLE(sleep, unsigned, (unsigned s), (U s))
INTERRUPTIBLE(usleep, int, (useconds_t us), (U us))
INTERRUPTIBLE(nanosleep, int, (const struct timespec *req, struct timespec *rem), (U req, U rem))
INTERRUPTIBLE(clock_nanosleep, int, (clockid_t clk, int flags, const struct timespec *req, struct timespec *rem), (U clk, U flags, U req, U rem))
INTERRUPTIBLE(poll, int, (struct pollfd *fds, nfds_t n, int timeout), (U fds, U n, U timeout))
INTERRUPTIBLE(ppoll, int, (struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask), (U fds, U n, U t, U mask))
INTERRUPTIBLE(select, int, (int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t), (U n, U r, U w, U e, U t))
INTERRUPTIBLE(pselect, int, (int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *mask), (U n, U r, U w, U e, U t, U mask))
INTERRUPTIBLE(epoll_wait, int, (int ep, struct epoll_event *ev, int n, int timeout), (U ep, U ev, U n, U timeout))
INTERRUPTIBLE(epoll_pwait, int, (int ep, struct epoll_event *ev, int n, int timeout, const sigset_t *mask), (U ep, U ev, U n, U timeout, U mask))
BLOCKING(read, ssize_t, (int fd, void *buf, size_t n), (U fd, U buf, U n))
BLOCKING(write, ssize_t, (int fd, const void *buf, size_t n), (U fd, U buf, U n))
BLOCKING(readv, ssize_t, (int fd, const struct iovec *iov, int n), (U fd, U iov, U n))
BLOCKING(writev, ssize_t, (int fd, const struct iovec *iov, int n), (U fd, U iov, U n))
BLOCKING(pread, ssize_t, (int fd, void *buf, size_t n, off_t off), (U fd, U buf, U n, U off))
BLOCKING(pwrite, ssize_t, (int fd, const void *buf, size_t n, off_t off), (U fd, U buf, U n, U off))
BLOCKING(recv, ssize_t, (int fd, void *buf, size_t n, int flags), (U fd, U buf, U n, U flags))
BLOCKING(recvfrom, ssize_t, (int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *alen), (U fd, U buf, U n, U flags, U a, U alen))
BLOCKING(recvmsg, ssize_t, (int fd, struct msghdr *msg, int flags), (U fd, U msg, U flags))
BLOCKING(send, ssize_t, (int fd, const void *buf, size_t n, int flags), (U fd, U buf, U n, U flags))
BLOCKING(sendto, ssize_t, (int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t alen), (U fd, U buf, U n, U flags, U a, U alen))
BLOCKING(sendmsg, ssize_t, (int fd, const struct msghdr *msg, int flags), (U fd, U msg, U flags))
INTERRUPTIBLE(connect, int, (int fd, const struct sockaddr *a, socklen_t alen), (U fd, U a, U alen))
BLOCKING(accept, int, (int fd, struct sockaddr *a, socklen_t *alen), (U fd, U a, U alen))
BLOCKING(accept4, int, (int fd, struct sockaddr *a, socklen_t *alen, int flags), (U fd, U a, U alen, U flags))
BLOCKING(close, int, (int fd), (U fd))
BLOCKING(fsync, int, (int fd), (U fd))
BLOCKING(fdatasync, int, (int fd), (U fd))
BLOCKING(flock, int, (int fd, int op), (U fd, U op))
BLOCKING(waitpid, pid_t, (pid_t pid, int *status, int options), (U pid, U status, U options))
BLOCKING(wait, pid_t, (int *status), (U status))
BLOCKING(getaddrinfo, int, (const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res), (U node, U service, U hints, U res))
