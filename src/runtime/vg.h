/*
 * vg.h - valgrind client requests for the runtime, or nothing.
 *
 * The runtime tells valgrind about the stacks it makes and switches between
 * (stack.c) and about the frame the preemption signal pushes on a G's stack
 * (preempt.c). Each request is a few inline instructions that do nothing
 * outside valgrind and call nothing (usable in no_split_stack code and
 * signal handlers). They are built in when <valgrind/memcheck.h> is there
 * (Debian's valgrind package); -DGORO_VALGRIND=0 leaves them out.
 */
#ifndef GORO_VG_H
#define GORO_VG_H

#ifndef GORO_VALGRIND
#if __has_include(<valgrind/memcheck.h>)
#define GORO_VALGRIND 1
#else
#define GORO_VALGRIND 0
#endif
#endif

#if GORO_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

#endif
