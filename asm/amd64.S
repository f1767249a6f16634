/*
 * amd64.S - the runtime's context switches and the split-stack entry points.
 *
 * gogo, mcall and systemstack move a thread between a G's stack and its M's
 * g0 stack. __morestack, __morestack_non_split and
 * __morestack_allocate_stack_space are the three entry points that code
 * compiled with -fsplit-stack calls when a function's prologue (or an alloca
 * site) finds too little stack below %rsp; they replace libgcc's segmented
 * versions with Go's model: switch to g0, copy the whole stack to a larger
 * one (newstack/copystack in stack.c), resume on the copy.
 *
 * The frame layouts (the switch frame kept on a stopped G's stack and the
 * morestack frame) are drawn in src/runtime/asmdefs.h; the offsets are named
 * there and checked against the C structures.
 *
 * Registers saved across a switch are the ones the psABI says survive a call:
 * rbx, rbp, r12-r15, rsp, rip, plus the MXCSR and the x87 control word.
 * Everything else is dead at a call and is not saved (mcall, gogo) -- except
 * in __morestack, which runs *before* a function body and so must keep the
 * argument registers too.
 *
 * The current G is the thread-local goro_tls_g (initial-exec TLS, reached
 * through its GOT offset). %fs:0x70 (TCB_STACKGUARD) always holds the
 * running G's stackguard0, or g0's while the thread runs on g0.
 */
#include "../src/runtime/asmdefs.h"

/* Load the TLS offset of goro_tls_g: the G is then at %fs:(reg). */
        .hidden goro_tls_g
        .type   goro_tls_g, @tls_object
#define TLS_G_OFFSET(reg)  movq goro_tls_g@gottpoff(%rip), reg

/* Make g (a register) the running G of this thread: TLS slot and guard. */
.macro SETG g, off, tmp
        movq    \g, %fs:(\off)
        movq    G_STACKGUARD0(\g), \tmp
        movq    \tmp, %fs:TCB_STACKGUARD
.endm

/* Store the callee-saved registers and the FP control state into the switch
 * frame at (%rsp); the caller fills SF_RIP. */
.macro SAVE_SWITCHFRAME
        movq    %rbp, SF_RBP(%rsp)
        movq    %rbx, SF_RBX(%rsp)
        movq    %r12, SF_R12(%rsp)
        movq    %r13, SF_R13(%rsp)
        movq    %r14, SF_R14(%rsp)
        movq    %r15, SF_R15(%rsp)
        stmxcsr SF_FPCTL(%rsp)
        fnstcw  SF_FPCTL+4(%rsp)
.endm

/* After SAVE_SWITCHFRAME, on the way to g0: the FP control state just
 * saved is what the thread holds now (g0's code changes neither), so note
 * it in the M (\m) for gogo. Two loads of the sizes stored, so that both
 * are forwarded from the stores. */
.macro RECORD_FPCTL m, tmp
        movl    SF_FPCTL(%rsp), \tmp\()d
        movl    \tmp\()d, M_FPMXCSR(\m)
        movzwl  SF_FPCTL+4(%rsp), \tmp\()d
        movw    \tmp\()w, M_FPUCW(\m)
.endm


        .text

/*
 * void gogo(g *gp)
 * Resume gp: make it the running G and pop the switch frame at gp->sched.sp.
 * Must run on g0. Never returns.
 */
        .globl  gogo
        .hidden gogo
        .type   gogo, @function
gogo:
        .cfi_startproc
        TLS_G_OFFSET(%rax)
        SETG    %rdi, %rax, %rcx
        movq    G_SCHED_SP(%rdi), %rcx
        testq   %rcx, %rcx
        jz      .Lgogo_fresh
        movq    %rcx, %rsp
        /* ldmxcsr and fldcw are slow (they serialize part of the pipeline),
         * and so are stmxcsr and fnstcw; the values almost never differ
         * between Gs. m->fpmxcsr/fpucw hold what this thread has loaded
         * (see struct m): compare the frame with them and load only on a
         * difference. */
        movq    G_M(%rdi), %rdx
        movl    SF_FPCTL(%rsp), %eax
        cmpl    M_FPMXCSR(%rdx), %eax
        jne     1f
        movzwl  SF_FPCTL+4(%rsp), %eax
        cmpw    M_FPUCW(%rdx), %ax
        jne     1f
2:      movq    SF_R15(%rsp), %r15
        movq    SF_R14(%rsp), %r14
        movq    SF_R13(%rsp), %r13
        movq    SF_R12(%rsp), %r12
        movq    SF_RBX(%rsp), %rbx
        movq    SF_RBP(%rsp), %rbp
        addq    $SF_RIP, %rsp
        ret                             /* to SF_RIP */
1:      ldmxcsr SF_FPCTL(%rsp)
        fldcw   SF_FPCTL+4(%rsp)
        movl    SF_FPCTL(%rsp), %eax
        movl    %eax, M_FPMXCSR(%rdx)
        movzwl  SF_FPCTL+4(%rsp), %eax
        movw    %ax, M_FPUCW(%rdx)
        jmp     2b
        /* A G that never ran (sched.sp == 0: newproc1 leaves its stack
         * alone, so that the thread that creates a G does not pull the
         * stack's lines from the thread that ran its last owner): start
         * it in gostart with %rsp = hi - 8 under a zero return address
         * and a zero frame pointer, the FP control state the psABI's
         * defaults. The top 72 bytes, where a switch frame would lie,
         * are zeroed: the stack's last owner left return addresses into
         * the runtime there, and sysblocktake (preempt.c, runtimelive)
         * would take those words for live frames and keep a blocked G's
         * P. */
.Lgogo_fresh:
        movq    G_STACK_HI(%rdi), %rsp
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        pushq   $0
        addq    $64, %rsp
        xorl    %ebp, %ebp
        movq    G_M(%rdi), %rdx
        cmpl    $MXCSR_DEFAULT, M_FPMXCSR(%rdx)
        jne     3f
        cmpw    $FPUCW_DEFAULT, M_FPUCW(%rdx)
        jne     3f
        jmp     gostart
3:      movl    $MXCSR_DEFAULT, M_FPMXCSR(%rdx)
        movw    $FPUCW_DEFAULT, M_FPUCW(%rdx)
        ldmxcsr M_FPMXCSR(%rdx)
        fldcw   M_FPUCW(%rdx)
        jmp     gostart
        .cfi_endproc
        .size   gogo, .-gogo

/*
 * void mcall(void (*fn)(g *))
 * Save the running G's context (it resumes by returning from mcall), switch
 * to g0's stack and call fn(gp) there. fn must not return: it ends by
 * scheduling something (gogo). Must be called on a G, never on g0.
 */
        .globl  mcall
        .hidden mcall
        .type   mcall, @function
mcall:
        .cfi_startproc
        subq    $SF_RIP, %rsp           /* (%rsp+SF_RIP) is our return address */
        .cfi_adjust_cfa_offset SF_RIP
        SAVE_SWITCHFRAME
        TLS_G_OFFSET(%r8)
        movq    %fs:(%r8), %rsi         /* gp */
        movq    G_M(%rsi), %rax
        movq    M_G0(%rax), %rdx        /* g0 */
        cmpq    %rsi, %rdx
        je      .Lmcall_on_g0
        movq    %rsp, G_SCHED_SP(%rsi)
        RECORD_FPCTL %rax, %r9
        SETG    %rdx, %r8, %rax
        movq    G_SCHED_SP(%rdx), %rsp  /* g0's scheduling stack, 16-aligned */
        .cfi_undefined rip
        movq    %rdi, %rax
        movq    %rsi, %rdi
        call    *%rax
        ud2                             /* fn must not return */
.Lmcall_on_g0:
        andq    $-16, %rsp
        call    badmcall
        ud2
        .cfi_endproc
        .size   mcall, .-mcall

/*
 * uintptr_t systemstack(uintptr_t (*fn)(void *), void *arg)
 * Run fn(arg) on g0's stack and return its result. The G stays the M's
 * current G (it does not stop); only the stack and the guard change. Called
 * on g0, or on a thread that is not an M, it calls fn directly.
 */
        .globl  systemstack
        .hidden systemstack
        .type   systemstack, @function
systemstack:
        .cfi_startproc
        TLS_G_OFFSET(%r8)
        movq    %fs:(%r8), %rax         /* gp */
        testq   %rax, %rax
        jz      .Lsystemstack_direct
        movq    G_M(%rax), %rcx
        movq    M_G0(%rcx), %rdx
        cmpq    %rax, %rdx
        je      .Lsystemstack_direct
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        movq    %rsp, %rbp              /* the G's sp, kept across fn */
        .cfi_def_cfa_register rbp
        pushq   %rbx
        pushq   %r12
        .cfi_offset rbx, -24
        .cfi_offset r12, -32
        movq    %rax, %rbx              /* gp */
        movq    %r8, %r12               /* TLS offset of goro_tls_g */
        SETG    %rdx, %r8, %rcx
        movq    G_SCHED_SP(%rdx), %rsp
        movq    %rdi, %rcx
        movq    %rsi, %rdi
        call    *%rcx
        SETG    %rbx, %r12, %rcx        /* keeps %rax, fn's result */
        leaq    -16(%rbp), %rsp
        popq    %r12
        popq    %rbx
        popq    %rbp
        .cfi_def_cfa rsp, 8
        ret
.Lsystemstack_direct:
        movq    %rdi, %rax
        movq    %rsi, %rdi
        jmp     *%rax
        .cfi_endproc
        .size   systemstack, .-systemstack

/*
 * __morestack: called from a -fsplit-stack prologue that found %rsp (less
 * the frame size, for large frames) below the guard at %fs:0x70.
 *   (%rsp) = return address: a `ret`, then the function's body one byte on
 *   %r10   = bytes the function needs below its entry sp
 *   %r11   = size of its stack arguments (unused: the whole stack moves)
 *   rdi rsi rdx rcx r8 r9 rax xmm0-7 are live arguments.
 * Saves the morestack frame, switches to g0 and calls newstack(gp), which
 * grows (copies) the stack or, for a preemption request, schedules other Gs;
 * either way it ends in gogo(gp), which lands in morestack_resume on the
 * (possibly new) stack.
 */
        .globl  goro_morestack
        .type   goro_morestack, @function
        .globl  __morestack
        .hidden __morestack
        .type   __morestack, @function
goro_morestack:
__morestack:
        .cfi_startproc
.Lmorestack:
        subq    $MF_SIZE, %rsp
        .cfi_adjust_cfa_offset MF_SIZE
        movq    %rdi, MF_RDI(%rsp)
        movq    %rsi, MF_RSI(%rsp)
        movq    %rdx, MF_RDX(%rsp)
        movq    %rcx, MF_RCX(%rsp)
        movq    %r8,  MF_R8(%rsp)
        movq    %r9,  MF_R9(%rsp)
        movq    %rax, MF_RAX(%rsp)
        movq    %r10, MF_R10(%rsp)
        movq    %r11, MF_R11(%rsp)
        movdqu  %xmm0, MF_XMM0+0*16(%rsp)
        movdqu  %xmm1, MF_XMM0+1*16(%rsp)
        movdqu  %xmm2, MF_XMM0+2*16(%rsp)
        movdqu  %xmm3, MF_XMM0+3*16(%rsp)
        movdqu  %xmm4, MF_XMM0+4*16(%rsp)
        movdqu  %xmm5, MF_XMM0+5*16(%rsp)
        movdqu  %xmm6, MF_XMM0+6*16(%rsp)
        movdqu  %xmm7, MF_XMM0+7*16(%rsp)
        SAVE_SWITCHFRAME
        leaq    morestack_resume(%rip), %rax
        movq    %rax, SF_RIP(%rsp)
        /* fall through */
.Lmorestack_switch:
        TLS_G_OFFSET(%r8)
        movq    %fs:(%r8), %rdi         /* gp */
        testq   %rdi, %rdi
        jz      .Lmorestack_bad         /* not an M: nobody set this guard */
        movq    G_M(%rdi), %rax
        movq    M_G0(%rax), %rdx
        cmpq    %rdi, %rdx
        je      .Lmorestack_g0
        movq    %rsp, G_SCHED_SP(%rdi)
        RECORD_FPCTL %rax, %r9
        SETG    %rdx, %r8, %rax
        movq    G_SCHED_SP(%rdx), %rsp
        .cfi_undefined rip
        call    newstack                /* newstack(gp): never returns */
        ud2
/* On g0. The guard can hold stackPreempt here only because sysmon wrote
 * it while this M was between Gs (preempt.c): put g0's guard back and go
 * on if the frame fits; anything else is g0 running out of stack. sysmon
 * may write it again at any instruction, so the frame is checked against
 * g0's guard as read, never against %fs:0x70 read again. */
.Lmorestack_g0:
        cmpq    $STACK_PREEMPT, %fs:TCB_STACKGUARD
        jne     .Lmorestack_bad
        movq    G_STACKGUARD0(%rdx), %r8
        movq    %r8, %fs:TCB_STACKGUARD
        leaq    MF_RETADDR+8(%rsp), %rax        /* the function's entry sp */
        subq    MF_R10(%rsp), %rax
        jb      .Lmorestack_bad
        cmpq    %r8, %rax               /* not %fs:0x70: sysmon again */
        jb      .Lmorestack_bad
        addq    $SF_RIP, %rsp
        ret                     /* to morestack_resume or alloc_resume */
.Lmorestack_bad:
        movq    %rsp, %rsi              /* the morestack frame */
        andq    $-16, %rsp
        call    morestackbad            /* morestackbad(gp, frame): throws */
        ud2
        .cfi_endproc
        .size   __morestack, .-__morestack
        .size   goro_morestack, .-goro_morestack

/* Entered by gogo with %rsp at the morestack frame + SF_SIZE (the switch
 * frame has been popped). Restore the arguments and enter the body. */
        .globl  morestack_resume
        .hidden morestack_resume
        .type   morestack_resume, @function
morestack_resume:
        movq    MF_RDI-SF_SIZE(%rsp), %rdi
        movq    MF_RSI-SF_SIZE(%rsp), %rsi
        movq    MF_RDX-SF_SIZE(%rsp), %rdx
        movq    MF_RCX-SF_SIZE(%rsp), %rcx
        movq    MF_R8-SF_SIZE(%rsp), %r8
        movq    MF_R9-SF_SIZE(%rsp), %r9
        movq    MF_RAX-SF_SIZE(%rsp), %rax
        movdqu  MF_XMM0+0*16-SF_SIZE(%rsp), %xmm0
        movdqu  MF_XMM0+1*16-SF_SIZE(%rsp), %xmm1
        movdqu  MF_XMM0+2*16-SF_SIZE(%rsp), %xmm2
        movdqu  MF_XMM0+3*16-SF_SIZE(%rsp), %xmm3
        movdqu  MF_XMM0+4*16-SF_SIZE(%rsp), %xmm4
        movdqu  MF_XMM0+5*16-SF_SIZE(%rsp), %xmm5
        movdqu  MF_XMM0+6*16-SF_SIZE(%rsp), %xmm6
        movdqu  MF_XMM0+7*16-SF_SIZE(%rsp), %xmm7
        addq    $(MF_RETADDR-SF_SIZE), %rsp
        popq    %r10                    /* %rsp is the function's entry sp */
        RESUME_BODY
        .size   morestack_resume, .-morestack_resume

/*
 * __morestack_non_split: what gold makes a split-stack prologue call when
 * the function calls code compiled without -fsplit-stack (libc, libuv, ...):
 * such code has no checks, so the function must not start unless
 * frame + goro_nonsplit_headroom bytes are free. The fast path returns to the
 * body at once; only when the room is missing (or the guard holds a
 * preemption request) does it take the full __morestack path, asking for
 * the headroom as well. %r11 is free here: the body does not read it.
 */
        .globl  goro_morestack_non_split
        .type   goro_morestack_non_split, @function
        .globl  __morestack_non_split
        .hidden __morestack_non_split
        .type   __morestack_non_split, @function
goro_morestack_non_split:
__morestack_non_split:
        .cfi_startproc
        NONSPLIT_FASTPATH .Lnonsplit_slow
.Lnonsplit_slow:
        movq    goro_nonsplit_headroom@GOTPCREL(%rip), %r11
        addq    (%r11), %r10
        jmp     .Lmorestack
        .cfi_endproc
        .size   __morestack_non_split, .-__morestack_non_split
        .size   goro_morestack_non_split, .-goro_morestack_non_split

/*
 * void *__morestack_allocate_stack_space(size_t size)
 * Called by split-stack code at an alloca or VLA when size bytes would go
 * below the guard. libgcc returns heap memory here; this runtime grows the
 * stack instead (the same newstack path, asking for size + 256 bytes) and
 * returns to the caller with its %rsp lowered past a 16-aligned block of
 * size bytes, whose address is returned: the block then lives on the stack
 * like any alloca and goes away when the function returns (functions with
 * dynamic allocations restore %rsp from %rbp). A 128-byte gap is left below
 * the block for an outgoing-argument area the caller may address from %rsp.
 * A normal call: only callee-saved registers need keeping.
 */
        .globl  goro_morestack_allocate_stack_space
        .type   goro_morestack_allocate_stack_space, @function
        .globl  __morestack_allocate_stack_space
        .hidden __morestack_allocate_stack_space
        .type   __morestack_allocate_stack_space, @function
goro_morestack_allocate_stack_space:
__morestack_allocate_stack_space:
        .cfi_startproc
        subq    $MF_SIZE, %rsp
        .cfi_adjust_cfa_offset MF_SIZE
        movq    %rdi, MF_RDI(%rsp)
        leaq    256(%rdi), %rax
        movq    %rax, MF_R10(%rsp)
        movq    $0, MF_R11(%rsp)
        SAVE_SWITCHFRAME
        leaq    alloc_resume(%rip), %rax
        movq    %rax, SF_RIP(%rsp)
        jmp     .Lmorestack_switch
        .cfi_endproc
        .size   __morestack_allocate_stack_space, .-__morestack_allocate_stack_space
        .size   goro_morestack_allocate_stack_space, .-goro_morestack_allocate_stack_space

        .globl  alloc_resume
        .hidden alloc_resume
        .type   alloc_resume, @function
alloc_resume:
        movq    MF_RDI-SF_SIZE(%rsp), %rdi      /* size */
        movq    MF_RETADDR-SF_SIZE(%rsp), %r10  /* return address */
        leaq    MF_RETADDR+8-SF_SIZE(%rsp), %rax /* caller's sp at the call */
        subq    %rdi, %rax
        andq    $-16, %rax                      /* the block */
        leaq    -128(%rax), %rsp
        jmp     *%r10
        .size   alloc_resume, .-alloc_resume

/*
 * asyncPreempt: where the preemption signal handler (preempt.c) makes a
 * thread go. It is entered as if called from the interrupted instruction,
 * with %rsp 136 bytes below the interrupted %rsp: 128 bytes of red zone
 * left alone, then the interrupted pc as a return address. Every register
 * holds its interrupted value. Save the flags and the general registers on
 * the G's stack and the x87/SSE/AVX state (XSAVE, or FXSAVE without it)
 * into m->xsavebuf, then mcall(asyncpreempt_m), which gives the buffer to
 * the G and schedules something else. The G resumes here, on any M:
 * restore from g->asyncctx and the stack, and `ret $128` back to the
 * interrupted pc with the interrupted %rsp.
 */
        .globl  asyncPreempt
        .hidden asyncPreempt
        .type   asyncPreempt, @function
asyncPreempt:
        .cfi_startproc
        pushfq
        pushq   %rax
        pushq   %rbx
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %rbp
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        .cfi_adjust_cfa_offset 128
        movq    %rsp, %rbp              /* the register block; callee-saved */
        TLS_G_OFFSET(%rax)
        movq    %fs:(%rax), %rbx        /* gp; callee-saved */
        movq    G_M(%rbx), %rcx
        movq    M_XSAVEBUF(%rcx), %rcx
        cmpl    $0, goro_xsave_mode(%rip)
        je      1f
        movl    $-1, %eax
        movl    $-1, %edx
        xsave64 (%rcx)
        jmp     2f
1:      fxsave64 (%rcx)
2:      andq    $-16, %rsp
        cld
        leaq    asyncpreempt_m(%rip), %rdi
        call    mcall
        /* Resumed. */
        movq    G_ASYNCCTX(%rbx), %rcx
        cmpl    $0, goro_xsave_mode(%rip)
        je      3f
        movl    $-1, %eax
        movl    $-1, %edx
        xrstor64 (%rcx)
        jmp     4f
3:      fxrstor64 (%rcx)
4:      movq    %rbp, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rbp
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rbx
        popq    %rax
        popfq
        ret     $128
        .globl  asyncPreemptEnd
        .hidden asyncPreemptEnd
asyncPreemptEnd:                        /* for preempt.c: [asyncPreempt, here) */
        .cfi_endproc
        .size   asyncPreempt, .-asyncPreempt

/*
 * asmcgocall: the way of the SYSTEM wrappers (cgocall.c) onto g0. %r11 is
 * the C function; the argument registers (rdi, rsi, rdx, rcx, r8, r9, rax
 * and xmm0-7) reach it untouched, and its results (rax, rdx, xmm0-1) come
 * back untouched: only %r10 and %r11 are used before the call, %rcx after
 * it. Like systemstack, the G stays the M's current G; only the stack and
 * the guard change (sysmon's stackPreempt, if it came meanwhile, is in
 * gp->stackguard0 and goes back into the guard with it). On g0, or on a
 * thread that is not an M, a tail call.
 */
        .globl  asmcgocall
        .hidden asmcgocall
        .type   asmcgocall, @function
asmcgocall:
        .cfi_startproc
        movq    goro_tls_g@gottpoff(%rip), %r10
        movq    %fs:(%r10), %r10        /* gp */
        testq   %r10, %r10
        jz      .Lcgocall_direct
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        movq    %rsp, %rbp              /* the G's sp, kept across the call */
        .cfi_def_cfa_register rbp
        pushq   %rbx
        pushq   %r12
        .cfi_offset rbx, -24
        .cfi_offset r12, -32
        movq    %r10, %rbx              /* gp */
        movq    G_M(%r10), %r10
        movq    M_G0(%r10), %r10        /* g0 */
        cmpq    %rbx, %r10
        je      .Lcgocall_on_g0
        movq    goro_tls_g@gottpoff(%rip), %r12
        movq    %r10, %fs:(%r12)        /* g0 runs, with its guard */
        movq    G_STACKGUARD0(%r10), %r12
        movq    %r12, %fs:TCB_STACKGUARD
        movq    G_SCHED_SP(%r10), %rsp  /* 16-aligned */
        call    *%r11
        TLS_G_OFFSET(%rcx)
        SETG    %rbx, %rcx, %r12        /* gp again, with its guard */
        leaq    -16(%rbp), %rsp
        popq    %r12
        popq    %rbx
        popq    %rbp
        .cfi_def_cfa rsp, 8
        ret
.Lcgocall_on_g0:
        .cfi_def_cfa rbp, 16
        popq    %r12
        popq    %rbx
        popq    %rbp
        .cfi_def_cfa rsp, 8
.Lcgocall_direct:
        jmp     *%r11
        .cfi_endproc
        .size   asmcgocall, .-asmcgocall

/*
 * The wrappers of cgocall.h. The address of each libc function is a word
 * of .data.rel.ro (goro_libc_NAME) read at run time, never a relocation in
 * this text: gold takes any reference from split-stack code to a function
 * without the split-stack note for a call into non-split code and would
 * rewrite the wrapper's stack check to demand the non-split headroom, the
 * very cost the wrappers are there to avoid.
 */
.macro LIBCADDR name
.ifndef goro_libc_\name
        .pushsection .data.rel.ro,"aw"
        .balign 8
        .globl  goro_libc_\name
        .hidden goro_libc_\name
goro_libc_\name:
        .quad   \name
        .popsection
.endif
.endm

/* A leaf: the stack check of a small split-stack frame (the guard area
 * below the guard covers the routine's few bytes), then a tail call. When
 * the check fails (the stack is short, or sysmon asks the G to stop),
 * __morestack grows or stops the G and resumes at the jump, as it resumes
 * any function's body. */
.macro LEAFWRAP name
        LIBCADDR \name
        .globl  __wrap_\name
        .type   __wrap_\name, @function
__wrap_\name:
        .cfi_startproc
        cmpq    %fs:TCB_STACKGUARD, %rsp
        jb      1f
2:      jmp     *goro_libc_\name(%rip)
1:      xorl    %r10d, %r10d
        xorl    %r11d, %r11d
        call    __morestack
        ret
        jmp     2b
        .cfi_endproc
        .size   __wrap_\name, .-__wrap_\name
.endm

/* Anything else: on g0. */
.macro SYSWRAP name
        LIBCADDR \name
        .globl  __wrap_\name
        .type   __wrap_\name, @function
__wrap_\name:
        .cfi_startproc
        movq    goro_libc_\name(%rip), %r11
        jmp     asmcgocall
        .cfi_endproc
        .size   __wrap_\name, .-__wrap_\name
.endm

#define LEAF(name) LEAFWRAP name
#define SYSTEM(name) SYSWRAP name
#define VARIADIC(name, vname, ...) LIBCADDR vname
#define BLOCKING(name, ...) LIBCADDR name
#define INTERRUPTIBLE(name, ...) LIBCADDR name
#include "../src/runtime/cgocall.h"
#undef LEAF
#undef SYSTEM
#undef VARIADIC
#undef BLOCKING
#undef INTERRUPTIBLE

/* Names. Inside libgoro.so the entry points are the hidden __morestack*
 * symbols, so libgoro's own split-stack code binds to them directly. They
 * are exported as goro_morestack* for the stubs (asm/morestack_stub.S) that
 * programs and plugins link statically: gold 2.40 fails with an internal
 * error in relocate on any call from split-stack code to a __morestack
 * defined in a shared library, so every module carries its own local
 * __morestack that forwards here. */

/* This object defines __morestack: it must itself be marked split-stack, or
 * gold takes every call to __morestack for a call into non-split code and
 * rewrites every prologue to call __morestack_non_split. */
        .section .note.GNU-split-stack,"",@progbits
        .section .note.GNU-stack,"",@progbits
