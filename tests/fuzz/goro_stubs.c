/*
 * goro_stubs.c - the runtime symbols the daemon's stack-free pieces need
 * when they are built alone (the fuzz targets and the AddressSanitizer
 * checks, clang, no -fsplit-stack, no libgoro).
 *
 * goro.h routes errno through goro_errno_location() so that a G reads the
 * errno of the thread it runs on now; the loader and elfnote.c include it
 * through gorod.h. Outside the runtime there are no Gs and the thread's own
 * errno is the answer, as it is in src/runtime/proc.c.
 *
 * gorod's configknobs.c reads the runtime's table of knobs, so these builds
 * take src/runtime/config.c too. Its start of the runtime (goro_run, and
 * rtconfinit's copy into rtconf) is never called here, but it is linked:
 * print, rtconf and goro_run_config stand in for the runtime's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <goro.h>

int *goro_errno_location(void);
void print(const char *fmt, ...);

int *goro_errno_location(void)
{
    return __errno_location();
}

/* print writes to stderr, as the runtime's does. */
void print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

goro_config rtconf;

int goro_run_config(const goro_config *cfg, goro_fn main_fn, void *arg)
{
    return -ENOSYS;
}
