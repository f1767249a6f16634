/*
 * loadclient.h - what the plain (non-goro) load clients of the soak and the
 * connection stress share: a monotonic clock and the error report that
 * counts every error and prints the first twenty. Header only: each client
 * is one file.
 */
#ifndef GORO_TESTS_LOADCLIENT_H
#define GORO_TESTS_LOADCLIENT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static uint64_t nerrors;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* lc_error counts one error of program prog, on connection i (or of the
 * client itself when i < 0), and prints it if it is among the first 20. */
__attribute__((format(printf, 3, 4)))
static void lc_error(const char *prog, long i, const char *fmt, ...)
{
    nerrors++;
    if (nerrors > 20) {
        if (nerrors == 21)
            fprintf(stderr, "%s: more errors, not shown\n", prog);
        return;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (i >= 0)
        fprintf(stderr, "%s: connection %ld: %s\n", prog, i, msg);
    else
        fprintf(stderr, "%s: %s\n", prog, msg);
}

#endif
