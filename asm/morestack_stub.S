/*
 * morestack_stub.S - the split-stack entry points every program and plugin
 * links statically (build/lib/libgoro_morestack.a, named by goro.pc).
 *
 * -fsplit-stack code calls __morestack, __morestack_non_split and
 * __morestack_allocate_stack_space. They must be goro's, never libgcc's
 * segmented ones, and gold cannot bind such calls to a shared library (an
 * internal error in relocate, binutils 2.40). So each module gets these
 * hidden local definitions: __morestack_non_split keeps its fast path here
 * (it runs on every call of a function that calls libc); everything else
 * jumps through the GOT to libgoro.so's goro_morestack*. No register or
 * stack slot is touched before the jump: the libgoro entry sees exactly
 * what the prologue left.
 *
 * goro.pc links this archive whole (--whole-archive), so the stubs are in
 * every module whatever the order of the command line (`cc $(pkg-config
 * --cflags --libs goro) prog.c` names the libraries before the program's
 * objects, when nothing yet asks for __morestack). __wrap_pthread_create
 * keeps libgcc's segmented stacks out when -fsplit-stack is also on the
 * link line (the usual `$(CC) $(CFLAGS) prog.c $(LDLIBS)`): the gcc driver
 * then adds --wrap=pthread_create, gold takes libgoro.so's pthread_create
 * for __wrap_pthread_create, and libgcc's definition of it would bring in
 * libgcc's own __morestack and its constructor (which sets %fs:0x70 on the
 * main thread). Ours just calls the real pthread_create.
 */
#include "../src/runtime/asmdefs.h"

        .text

        .globl  __morestack
        .hidden __morestack
        .type   __morestack, @function
__morestack:
        .cfi_startproc
        jmp     *goro_morestack@GOTPCREL(%rip)
        .cfi_endproc
        .size   __morestack, .-__morestack

        .globl  __morestack_non_split
        .hidden __morestack_non_split
        .type   __morestack_non_split, @function
__morestack_non_split:
        .cfi_startproc
        NONSPLIT_FASTPATH .Lslow
.Lslow:
        jmp     *goro_morestack_non_split@GOTPCREL(%rip)
        .cfi_endproc
        .size   __morestack_non_split, .-__morestack_non_split

        .globl  __morestack_allocate_stack_space
        .hidden __morestack_allocate_stack_space
        .type   __morestack_allocate_stack_space, @function
__morestack_allocate_stack_space:
        .cfi_startproc
        jmp     *goro_morestack_allocate_stack_space@GOTPCREL(%rip)
        .cfi_endproc
        .size   __morestack_allocate_stack_space, .-__morestack_allocate_stack_space

        .globl  __wrap_pthread_create
        .type   __wrap_pthread_create, @function
        .weak   __real_pthread_create
__wrap_pthread_create:
        .cfi_startproc
        jmp     *__real_pthread_create@GOTPCREL(%rip)
        .cfi_endproc
        .size   __wrap_pthread_create, .-__wrap_pthread_create

/* The note that tells the runtime this module's code is goro-built
 * split-stack code, which it may preempt asynchronously (preempt.c). */
        .section .note.goro,"a",@note
        .balign 4
        .long   5                       /* name size: "goro\0" */
        .long   4                       /* descriptor size */
        .long   GORO_NOTE_TYPE
        .asciz  "goro"
        .balign 4
        .long   1                       /* version */

        .section .note.GNU-split-stack,"",@progbits
/* __wrap_pthread_create has no prologue for gold to rewrite. */
        .section .note.GNU-no-split-stack,"",@progbits
        .section .note.GNU-stack,"",@progbits
