/*
 * cfgutil.h - running `gorod --check` on configuration files written into
 * a scratch directory, for the configuration tests.
 *
 * $GOROD is the daemon's absolute path, $GOROD_SRCDIR the repository's
 * root. Everything here is static inline: each test file that includes it
 * gets its own copy and nothing clashes at link time.
 */
#ifndef GOROD_TEST_CFGUTIL_H
#define GOROD_TEST_CFGUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* A command's output, both streams whole, and how it ended. */
struct cfg_run {
    char *out, *err;
    int status; /* the exit status, or 128 + the signal */
};

/* cfg_tmpdir makes a scratch directory, malloc'd path. */
static inline char *cfg_tmpdir(void)
{
    char *d = strdup("/tmp/gorod-config-XXXXXX");
    cr_assert(d != NULL && mkdtemp(d) != NULL, "mkdtemp: %s",
              strerror(errno));
    return d;
}

static inline int cfg_rm1(const char *path, const struct stat *st, int flag,
                          struct FTW *ftw)
{
    return remove(path);
}

/* cfg_rmtree removes the scratch directory and frees its name. */
static inline void cfg_rmtree(char *dir)
{
    nftw(dir, cfg_rm1, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* cfg_write writes text to dir/name (name may hold one subdirectory level,
 * made as needed) and returns the file's path, malloc'd. */
static inline char *cfg_write(const char *dir, const char *name,
                              const char *text)
{
    char *path;
    cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert(fclose(f) == 0);
    return path;
}

/* cfg_drain reads what fd has into *buf (growing it), returning 0 at EOF. */
static inline int cfg_drain(int fd, char **buf, size_t *len)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0)
        return n < 0 && errno == EINTR ? 1 : 0;
    *buf = realloc(*buf, *len + (size_t)n + 1);
    cr_assert(*buf != NULL);
    memcpy(*buf + *len, chunk, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return 1;
}

/* cfg_check runs `$GOROD --check --config config` in directory cwd and
 * returns its output and status. */
static inline struct cfg_run cfg_check(const char *cwd, const char *config)
{
    const char *gorod = getenv("GOROD");
    cr_assert(gorod != NULL, "GOROD must name the daemon's binary");
    int out[2], err[2];
    cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        if (chdir(cwd) != 0)
            _exit(126);
        execl(gorod, "gorod", "--check", "--config", config, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    struct cfg_run r = {calloc(1, 1), calloc(1, 1), -1};
    size_t outlen = 0, errlen = 0;
    struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            cr_assert(errno == EINTR);
            continue;
        }
        if (p[0].revents && !cfg_drain(out[0], &r.out, &outlen))
            p[0].fd = -1;
        if (p[1].revents && !cfg_drain(err[0], &r.err, &errlen))
            p[1].fd = -1;
    }
    close(out[0]);
    close(err[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        cr_assert(errno == EINTR);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

static inline void cfg_run_free(struct cfg_run *r)
{
    free(r->out);
    free(r->err);
}

#endif
