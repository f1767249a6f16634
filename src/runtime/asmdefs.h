/*
 * asmdefs.h - offsets shared by asm/amd64.S and the C runtime.
 *
 * Included by both; the C side checks every offset against the structures
 * with _Static_assert in runtime2.h, so a field moved in C without touching
 * this file fails to compile.
 *
 * The switch frame. A G that is not running keeps its callee-saved registers
 * on its own stack, below the address it will resume at, and g->sched.sp
 * points at this frame (mcall and __morestack build it, gogo consumes it):
 *
 *      +56  rip      where the G resumes (mcall's return address, or
 *                    morestack_resume / alloc_resume)
 *      +48  rbp
 *      +40  rbx
 *      +32  r12
 *      +24  r13
 *      +16  r14
 *      +8   r15
 *      +4   x87 control word (16 bits)
 *      +0   MXCSR (32 bits)          <- g->sched.sp
 *
 * Keeping them on the stack rather than in the G keeps the G small and means
 * that copystack's word scan moves a saved rbp that points into the stack
 * together with everything else.
 *
 * The morestack frame. __morestack and __morestack_allocate_stack_space save
 * every register a split-stack prologue (or an alloca site) may have live,
 * below the return address of the call:
 *
 *      +272 return address into the function that needed more stack
 *      +144 xmm0 .. xmm7 (16 bytes each)
 *      +136 (pad, keeps the frame a multiple of 16)
 *      +128 r11  (stack argument size)
 *      +120 r10  (bytes needed below the function's entry sp)
 *      +112 rax, +104 r9, +96 r8, +88 rcx, +80 rdx, +72 rsi, +64 rdi
 *      +0   switch frame (rip = morestack_resume or alloc_resume)
 */
#ifndef GORO_ASMDEFS_H
#define GORO_ASMDEFS_H

/* struct g */
#define G_STACKGUARD0   64
#define G_STACK_LO      0
#define G_STACK_HI      8
#define G_SCHED_SP      16
#define G_M             72
#define G_ASYNCCTX      80

/* struct m */
#define M_G0            0
#define M_XSAVEBUF      88
#define M_FPMXCSR       136
#define M_FPUCW         140

/* the switch frame */
#define SF_FPCTL        0
#define SF_R15          8
#define SF_R14          16
#define SF_R13          24
#define SF_R12          32
#define SF_RBX          40
#define SF_RBP          48
#define SF_RIP          56
#define SF_SIZE         64

/* the morestack frame */
#define MF_RDI          64
#define MF_RSI          72
#define MF_RDX          80
#define MF_RCX          88
#define MF_R8           96
#define MF_R9           104
#define MF_RAX          112
#define MF_R10          120
#define MF_R11          128
#define MF_XMM0         144
#define MF_RETADDR      272
#define MF_SIZE         272   /* bytes below the return address */

/* glibc's tcbhead_t.__private_ss: the split-stack guard, read by every
 * -fsplit-stack prologue. */
#define TCB_STACKGUARD  0x70

/* stackPreempt (runtime2.h), as a sign-extended 32-bit immediate. */
#define STACK_PREEMPT   -1314

/* The type of the "goro" ELF note every module built against goro carries
 * (asm/morestack_stub.S): its code is the program's or a plugin's, built
 * split-stack, and may be preempted asynchronously (preempt.c). */
#define GORO_NOTE_TYPE  0x5350  /* "PS" */

/* Initial MXCSR (all exceptions masked, round to nearest) and x87 control
 * word (extended precision, all exceptions masked), as the psABI specifies
 * at process start. */
#define MXCSR_DEFAULT   0x1f80
#define FPUCW_DEFAULT   0x037f

#ifdef __ASSEMBLER__
/*
 * Jump to the body of the function whose prologue called __morestack.
 * %r10 holds the return address of that call: one byte later is the body
 * (past the `ret` that follows the call). A gcc varargs function instead
 * starts its body with `lea 0x18(%rbp),%r11` (bytes 4c 8d 5d 18), expecting
 * %rbp to point at a libgcc __morestack frame so that %r11 becomes the
 * address of its stack arguments, then jumps on; libgcc's own
 * __morestack_non_split recognises the same bytes. Here the arguments are
 * where they always were, just above the return address at (%rsp): compute
 * %r11 and skip the lea (4 bytes), leaving the caller's %rbp alone.
 */
.macro RESUME_BODY
        cmpl    $0x185d8d4c, 1(%r10)
        je      .Lvarargs\@
        addq    $1, %r10
        jmp     *%r10
.Lvarargs\@:
        leaq    8(%rsp), %r11
        addq    $5, %r10
        jmp     *%r10
.endm

/*
 * The fast path of __morestack_non_split: return to the body at once when
 * %r10 (the frame) + goro_nonsplit_headroom bytes fit above the guard,
 * otherwise jump to \slow (a named label: the macro has local labels of its
 * own) with %r10 intact. The sums are checked for carry:
 * a guard holding stackPreempt (near 2^64) must take the slow path. Only
 * %r11 and the flags are used; the body reads neither.
 */
.macro NONSPLIT_FASTPATH slow
        movq    goro_nonsplit_headroom@GOTPCREL(%rip), %r11
        movq    (%r11), %r11
        addq    %r10, %r11
        jc      \slow
        addq    %fs:TCB_STACKGUARD, %r11
        jc      \slow
        cmpq    %r11, %rsp
        jb      \slow
        popq    %r10
        RESUME_BODY
.endm
#endif /* __ASSEMBLER__ */

#endif
