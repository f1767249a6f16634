/*
 * goro_stubs.c - the one runtime symbol the daemon's stack-free pieces need
 * when they are built alone (the fuzz targets and the AddressSanitizer
 * checks, clang, no -fsplit-stack, no libgoro).
 *
 * goro.h routes errno through goro_errno_location() so that a G reads the
 * errno of the thread it runs on now; config.c and elfnote.c include it
 * through gorod.h. Outside the runtime there are no Gs and the thread's own
 * errno is the answer, as it is in src/runtime/proc.c.
 */
#include <errno.h>

int *goro_errno_location(void);

int *goro_errno_location(void)
{
    return __errno_location();
}
