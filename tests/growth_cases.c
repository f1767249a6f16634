/* growth_cases.c - see growth_cases.h. Compiled with -DVARIANT=<compiler>_<opt>.
 *
 * Functions are noinline and results are checked through volatile sinks so
 * that -O2 keeps the frames (and the pointers between them) that the test is
 * about. Deep recursions are sized so that each case grows a 2 KiB stack to
 * at least 64 KiB. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "growth_cases.h"

#define NOINLINE __attribute__((noinline, noclone))
#ifdef __clang__
#undef NOINLINE
#define NOINLINE __attribute__((noinline))
#endif

static volatile long sink;

/* Keeps a frame of its own at every level of a recursion at -O2: the
 * compiler cannot turn the recursion into a loop when each level has a
 * volatile local that is read back after the deeper call. */
#define FRAMEPAD(depth) volatile char framepad[64]; framepad[0] = (char)(depth)
#define FRAMEPAD_OK(depth) (framepad[0] == (char)(depth))

/* 1. A chain of frames, each pointing at its caller's local. The chain is
 * walked at the bottom (after every move) and each frame checks its own
 * pointer on the way back up. */
struct node {
    long val;
    struct node *up;
    char pad[16];
};

NOINLINE static int chain(int depth, struct node *up)
{
    struct node here = {.val = depth * 7 + 1, .up = up};
    memset(here.pad, depth & 0xff, sizeof here.pad);
    struct node *self = &here;
    if (depth == 0) {
        /* Walk the whole chain from the bottom. */
        long expect = 1;
        for (struct node *n = &here; n != NULL; n = n->up) {
            if (n->val != expect)
                return 1;
            expect += 7;
        }
        return 0;
    }
    int r = chain(depth - 1, &here);
    if (r)
        return r;
    if (self != &here || here.up != up || here.val != depth * 7 + 1)
        return 2;
    for (size_t i = 0; i < sizeof here.pad; i++)
        if ((unsigned char)here.pad[i] != (depth & 0xff))
            return 3;
    return 0;
}

static int case_chain(void)
{
    return chain(20000, NULL);
}

/* 2. VLAs of varying size at every level, checked after the deeper levels
 * moved the stack; and one VLA far larger than the free stack, which makes
 * the alloca site call __morestack_allocate_stack_space. */
/* Sizes are multiples of 8: every byte of every word is written (see the
 * contract in goro.h: a word whose bytes were only partly written may keep
 * a stale stack address in the other bytes and be moved). */
NOINLINE static int vlas(int depth)
{
    int n = 16 + ((depth * 37) % 600) / 8 * 8;
    unsigned char buf[n];
    unsigned char *p = buf;
    for (int i = 0; i < n; i++)
        buf[i] = (unsigned char)(i + depth);
    if (depth > 0) {
        int r = vlas(depth - 1);
        if (r)
            return r;
    }
    if (p != buf)
        return 10;
    for (int i = 0; i < n; i++)
        if (buf[i] != (unsigned char)(i + depth))
            return 11;
    return 0;
}

NOINLINE static int bigvla(int n)
{
    long guard1 = 0x1111;
    char big[n];
    long guard2 = 0x2222;
    memset(big, 0x5a, n);
    sink = big[n - 1];
    int r = vlas(40);
    if (r)
        return r;
    for (int i = 0; i < n; i++)
        if (big[i] != 0x5a)
            return 12;
    if (guard1 != 0x1111 || guard2 != 0x2222)
        return 13;
    return 0;
}

static int case_vla(void)
{
    int r = bigvla(20000);
    if (r)
        return r;
    return vlas(300);
}

/* 3. Varargs. gcc compiles a varargs function split-stack, with a body that
 * expects a libgcc frame in %rbp after __morestack (amd64.S RESUME_BODY
 * handles it); clang refuses, so there the variadic functions are marked
 * no_split_stack, as a clang user must. In both, a va_list (pointers into
 * the caller's frame) is handed to a split-stack function that recurses
 * before reading the arguments: the va_list and what it points at move. */
#ifdef __clang__
#define VARIADIC __attribute__((no_split_stack))
#else
#define VARIADIC
#endif

NOINLINE static double vsum_list(int depth, int n, va_list ap)
{
    char pad[48];
    memset(pad, depth, sizeof pad);
    if (depth > 0) {
        double r = vsum_list(depth - 1, n, ap);
        sink = pad[depth % 48];
        return r;
    }
    double s = 0;
    for (int i = 0; i < n; i++) {
        if (i % 2 == 0)
            s += va_arg(ap, int);
        else
            s += va_arg(ap, double);
    }
    return s;
}

VARIADIC NOINLINE static double vsum(int depth, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    double s = vsum_list(depth, n, ap);
    va_end(ap);
    return s;
}

/* A variadic function in a recursion: growth happens in its own prologue
 * (gcc) or in the split-stack function it calls (clang, where it must be
 * no_split_stack and so must not recurse into itself unchecked). */
NOINLINE static long vdeep_next(int depth, long a, long b, long c, long d,
                                long e, long f, long g);

VARIADIC NOINLINE static long vdeep(int depth, ...)
{
    va_list ap;
    va_start(ap, depth);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long),
         g = va_arg(ap, long);
    va_end(ap);
    if (depth == 0)
        return a + b + c + d + e + f + g;
    return vdeep_next(depth - 1, a, b, c, d, e, f, g) + 1;
}

NOINLINE static long vdeep_next(int depth, long a, long b, long c, long d,
                                long e, long f, long g)
{
    return vdeep(depth, a, b, c, d, e, f, g);
}

static int case_varargs(void)
{
    /* 12 values: 6 ints, 6 doubles; more than fit in registers. */
    double s = vsum(2000, 12, 1, 0.5, 2, 0.25, 3, 0.125, 4, 1.5, 5, 2.5, 6,
                    3.5);
    if (s != 21 + 8.375)
        return 20;
    long r = vdeep(3000, 1L, 2L, 3L, 4L, 5L, 6L, 7L);
    if (r != 28 + 3000)
        return 21;
    return 0;
}

/* 4. Floating-point arguments in xmm registers and (past eight) on the
 * stack, live across growth at every level. */
NOINLINE static double fdeep(int depth, double a, float b, double c, double d,
                             double e, double f, double g, double h, double i,
                             double j)
{
    FRAMEPAD(depth);
    if (depth == 0)
        return a + b + c + d + e + f + g + h + i + j;
    double r = fdeep(depth - 1, a, b, c, d, e, f, g, h, i, j);
    if (!FRAMEPAD_OK(depth))
        r += 1e9;
    /* The arguments must still hold after the deeper frames moved us. */
    return r + (a == 1.0 && b == 2.0f && c == 3.0 && j == 10.0 ? 0.0 : 1e9);
}

static int case_floats(void)
{
    double r = fdeep(5000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    return r == 55.0 ? 0 : 30;
}

/* 5. Structs by value: a big one (passed on the stack, in memory) and a
 * small one (in registers), returned by value too. */
struct big {
    long v[8];
};
struct small {
    long a, b;
};

NOINLINE static struct small sdeep(int depth, struct big bg, struct small sm)
{
    FRAMEPAD(depth);
    if (depth == 0)
        return (struct small){bg.v[0] + bg.v[7], sm.a + sm.b};
    bg.v[depth % 8] += 0;  /* touch the callee's copy */
    struct small r = sdeep(depth - 1, bg, sm);
    for (int i = 0; i < 8; i++)
        if (bg.v[i] != i * 3)
            r.a = -1;
    if (sm.a != 100 || sm.b != 200 || !FRAMEPAD_OK(depth))
        r.b = -1;
    return r;
}

static int case_structs(void)
{
    struct big bg;
    for (int i = 0; i < 8; i++)
        bg.v[i] = i * 3;
    struct small r = sdeep(3000, bg, (struct small){100, 200});
    if (r.a != 21)
        return 40;
    if (r.b != 300)
        return 41;
    return 0;
}

/* 6. Growth inside a qsort comparator: glibc's qsort frames (code built
 * without -fsplit-stack, holding pointers into its own frames and a buffer
 * on the stack) are copied and adjusted with everything else. */
static int cmpcalls;

NOINLINE static int burn(int depth)
{
    FRAMEPAD(depth);
    if (depth == 0)
        return 0;
    int r = burn(depth - 1);
    return r + !FRAMEPAD_OK(depth);
}

static int cmpdeep(const void *a, const void *b)
{
    cmpcalls++;
    /* Recurse ever deeper on the first calls: several moves mid-sort. */
    if (cmpcalls < 6 && burn(100 * cmpcalls * cmpcalls) != 0)
        abort();
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int case_qsort(void)
{
    enum { N = 200 };
    int v[N];
    for (int i = 0; i < N; i++)
        v[i] = (i * 7919) % N;
    cmpcalls = 0;
    qsort(v, N, sizeof v[0], cmpdeep);
    for (int i = 0; i < N; i++)
        if (v[i] != i)
            return 50;
    return cmpcalls > 0 ? 0 : 51;
}

/* 7. More integer arguments than registers: the stack-passed ones sit just
 * above the return address when __morestack runs. */
NOINLINE static long manyargs(int depth, long a, long b, long c, long d,
                              long e, long f, long g, long h)
{
    FRAMEPAD(depth);
    if (depth == 0)
        return a + b + c + d + e + f + g + h;
    long r = manyargs(depth - 1, a, b, c, d, e, f, g, h);
    if (!FRAMEPAD_OK(depth))
        r += 1000000;
    return r + (g == 7 && h == 8 ? 0 : 1000000);
}

static int case_manyargs(void)
{
    return manyargs(5000, 1, 2, 3, 4, 5, 6, 7, 8) == 36 ? 0 : 60;
}

/* 8. A large frame (the `lea -FRAME(%rsp)` form of the prologue) at every
 * level. */
NOINLINE static int bigframe(int depth)
{
    char frame[5000];
    volatile char *fp = frame;  /* every byte used: the frame stays whole */
    for (int i = 0; i < 5000; i += 64)
        fp[i] = (char)(depth + i);
    if (depth > 0) {
        int r = bigframe(depth - 1);
        if (r)
            return r;
    }
    for (int i = 0; i < 5000; i += 64)
        if (fp[i] != (char)(depth + i))
            return 70;
    return 0;
}

static int case_bigframe(void)
{
    return bigframe(60);
}

/* 9. A pointer to a local kept in a callee-saved register across the
 * calls that move the stack (at -O2 the compiler keeps `p` in rbx/r12..). */
NOINLINE static int regptr(int depth)
{
    long local = depth;
    long *p = &local;
    for (int i = 0; i < 3; i++) {
        if (depth > 0 && regptr(depth - 1) != 0)
            return 80;
        if (burn(100 * (i + 1)) != 0)
            return 82;
        if (*p != depth)
            return 81;
        *p += 0;
    }
    return 0;
}

static int case_regptr(void)
{
    return regptr(5);  /* 3^5 calls, each level moving the stack */
}

const growth_case GROWTH_TABLE(VARIANT)[GROWTH_NCASES] = {
    {"chain", case_chain},       {"vla", case_vla},
    {"varargs", case_varargs},   {"floats", case_floats},
    {"structs", case_structs},   {"qsort", case_qsort},
    {"manyargs", case_manyargs}, {"bigframe", case_bigframe},
    {"regptr", case_regptr},
};
