/*
 * stack.c - G stacks: allocation, and growth by copying.
 *
 * Every G runs on a stack of its own, a power of two in size, starting at
 * the minimum (2 KiB by default). Code that runs on G stacks is compiled
 * with -fsplit-stack: each function's prologue compares %rsp (less its frame
 * size, for big frames) with the guard word at %fs:0x70, which holds the
 * running G's stackguard0 = stack.lo + StackGuard. When the check fails the
 * prologue calls __morestack (asm/amd64.S), which saves the live registers
 * on the G's stack, switches to the M's g0 stack and calls newstack here.
 * newstack allocates a stack twice as large (or larger, if the frame needs
 * it), copystack copies the used part [sp, hi) to the top of the new one,
 * and the function resumes on the copy as if it had just been called.
 *
 * C has no pointer maps, so copystack adjusts conservatively: every 8-byte
 * word of the used part, saved registers included, whose value lies in the
 * old used range [sp, hi) is moved by the distance between the stacks. The
 * frame-pointer chain, pointers to locals and into callers' frames follow;
 * what cannot follow (a stack address kept on the heap or in another G) is
 * the contract of goro.h. Go's compiler makes the same copy exact.
 *
 * A function that calls code without checks (libc, any other library)
 * has gold make its prologue demand the non-split headroom (16 KiB) as
 * well, which would put every G that calls malloc or snprintf on 32 KiB.
 * The calls a program makes to the libc functions it uses most go
 * instead through goro's wrappers, which keep the caller's check plain
 * and run the function on the G's stack (a leaf) or on g0: cgocall.c says
 * how, and what was rejected.
 *
 * Allocation mirrors Go's stack.go:
 *
 *  - Small stacks (orders 0..stack_orders-1: 2, 4, 8, 16 KiB by default)
 *    come from spans of stackspansize bytes (32 KiB by default) carved into
 *    equal stacks. The global stackpool[order] lists spans that have free
 *    stacks, each order under its own lock; a span whose stacks are all
 *    free goes back to the allocator.
 *  - Each P keeps a stackcache[order]: a free list and its byte size. An
 *    empty cache is refilled with half of stack_cache_size from the pool
 *    (stackcacherefill); a cache that reaches stack_cache_size is released
 *    down to half (stackcacherelease). The cache needs no lock: only the M
 *    holding the P touches it, on g0.
 *  - When no P's cache may be used (an M without a P) the pool is used
 *    directly, under its lock.
 *  - A larger stack is a run of spans of its own (stackallocLarge), as
 *    Go's large stacks are spans of the heap.
 *
 * The runtime's own bookkeeping (span and chunk headers, the span map)
 * bypasses jemalloc's thread caches (MALLOCX_TCACHE_NONE): a cache holds
 * freed objects, and batches it took to allocate, for ever, and each of
 * them keeps a slab from going back.
 *
 * Spans come from chunks of 64 spans the runtime maps itself (aligned to
 * the chunk's size, so the span of a stack is found by masking its
 * address and looking the base up in spanmap, and a run of 2^k spans can
 * be aligned to its size); a large stack is a run of spans, or a mapping
 * of its own when it is larger than a chunk. Stacks are kept out of
 * jemalloc because the memory must come back: jemalloc gives back freed
 * pages, but keeps for ever the metadata of every extent and page it ever
 * handed out (its base allocations: some 8 MiB after a burst of 100,000
 * Gs on 4 KiB stacks), and a stack scan must be able to return a burst's
 * spans whole. A span that empties goes back to its chunk; each scan gives the
 * pages of the free spans back to the system (madvise) and unmaps the
 * chunks left with no span in use (stackscavenge).
 *
 * Under valgrind every stack a G may run on is registered with it
 * (VALGRIND_STACK_REGISTER) from stackalloc to stackfree, so that memcheck
 * takes a jump of %rsp between two stacks for a switch, not for a frame of
 * megabytes; see "valgrind" below.
 *
 * Rejected: segmented stacks (libgcc's own __morestack: a "hot split" at a
 * segment boundary makes a call in a loop allocate and free a segment every
 * iteration, the problem Go left behind in 1.3); one mmap per stack with a
 * guard page (a system call per G and 4 KiB granularity; kept for the
 * `fixed` mode and debugging); growing in place with mremap (needs address
 * space reserved above every stack).
 */
#include <jemalloc/jemalloc.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime2.h"
#include "trace.h"
#include "vg.h"

/* Read by __morestack_non_split. */
/* Read by __morestack_non_split in libgoro and in every module's stub
 * (through the GOT), hence exported. */
__attribute__((visibility("default"))) uintptr_t goro_nonsplit_headroom = 16384;

#define GORO_STR2(x) #x
#define GORO_STR(x) GORO_STR2(x)

typedef struct stackchunk stackchunk;

typedef struct stackspan {
    uintptr_t base;
    stackchunk *chunk;              /* the chunk it was carved from */
    struct stackspan *next, *prev;  /* in stackpool[order] while it has free
                                       stacks */
    gclink   *freelist;
    uint32_t  allocCount;           /* stacks handed out */
    int32_t   order;
    bool      inlist;
} stackspan;

/* Global pool of spans that have free stacks, one list and lock per order. */
static struct {
    mutex      lock;
    stackspan *first;
    uintptr_t  freebytes;           /* free stacks in the listed spans */
} stackpool[8];

static uintptr_t stackspansize;

/* ---- spanmap: span base -> stackspan ------------------------------------
 * Open addressing with linear probing and backward-shift deletion, grown
 * at 1/2 load, shrunk (to no less than 1024 slots) below 1/8, so that a
 * burst of Gs does not leave a table sized for it. Under spanmaplock
 * (after a stackpool lock, if any). */

static mutex spanmaplock;
static stackspan **spanmap;
static uintptr_t spanmapcap, spanmapcount;

static inline uintptr_t spanhash(uintptr_t base)
{
    uintptr_t h = base / stackspansize;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* spanmap_resize rehashes the table into ncap slots. Returns false (and
 * leaves it alone) if there is no memory for a smaller table. */
static bool spanmap_resize(uintptr_t ncap)
{
    stackspan **nm = mallocx(ncap * sizeof *nm,
                              MALLOCX_ZERO | MALLOCX_TCACHE_NONE);
    if (nm == NULL)
        return false;
    for (uintptr_t i = 0; i < spanmapcap; i++) {
        stackspan *t = spanmap[i];
        if (t == NULL)
            continue;
        uintptr_t j = spanhash(t->base) & (ncap - 1);
        while (nm[j] != NULL)
            j = (j + 1) & (ncap - 1);
        nm[j] = t;
    }
    if (spanmap)
        dallocx(spanmap, MALLOCX_TCACHE_NONE);
    spanmap = nm;
    spanmapcap = ncap;
    return true;
}

static void spanmap_put(stackspan *s)
{
    if (2 * (spanmapcount + 1) > spanmapcap &&
        !spanmap_resize(spanmapcap ? spanmapcap * 2 : 1024))
        throw("out of memory (spanmap)");
    uintptr_t j = spanhash(s->base) & (spanmapcap - 1);
    while (spanmap[j] != NULL)
        j = (j + 1) & (spanmapcap - 1);
    spanmap[j] = s;
    spanmapcount++;
}

static uintptr_t spanmap_slot(uintptr_t base)
{
    if (spanmapcap == 0)
        return UINTPTR_MAX;
    uintptr_t j = spanhash(base) & (spanmapcap - 1);
    while (spanmap[j] != NULL) {
        if (spanmap[j]->base == base)
            return j;
        j = (j + 1) & (spanmapcap - 1);
    }
    return UINTPTR_MAX;
}

static stackspan *spanOf(uintptr_t addr)
{
    uintptr_t base = addr & ~(stackspansize - 1);
    lock(&spanmaplock);
    uintptr_t j = spanmap_slot(base);
    stackspan *s = j == UINTPTR_MAX ? NULL : spanmap[j];
    unlock(&spanmaplock);
    return s;
}

static void spanmap_del(stackspan *s)
{
    lock(&spanmaplock);
    uintptr_t i = spanmap_slot(s->base);
    if (i == UINTPTR_MAX)
        throw("spanmap: span not found");
    spanmap[i] = NULL;
    spanmapcount--;
    /* Shift back the entries that probed past the hole. */
    uintptr_t mask = spanmapcap - 1;
    for (uintptr_t j = (i + 1) & mask; spanmap[j] != NULL; j = (j + 1) & mask) {
        uintptr_t h = spanhash(spanmap[j]->base) & mask;
        /* Move j to the hole at i unless its home h lies cyclically in
         * (i, j]. */
        bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            spanmap[i] = spanmap[j];
            spanmap[j] = NULL;
            i = j;
        }
    }
    if (spanmapcap > 1024 && 8 * spanmapcount < spanmapcap) {
        uintptr_t ncap = spanmapcap;
        while (ncap > 1024 && 8 * spanmapcount < ncap)
            ncap /= 2;
        spanmap_resize(ncap);
    }
    unlock(&spanmaplock);
}

/* ---- valgrind -------------------------------------------------------------
 * memcheck follows %rsp to know which stack bytes are live: a lower %rsp
 * makes the bytes in between undefined, a higher one makes them
 * inaccessible, unless the move is larger than --max-stackframe (2 MiB) or
 * lands in another registered stack, when it is a switch. G stacks are
 * small and sit next to each other in spans, so an unregistered switch
 * between two of them would look like a huge frame pushed or popped and
 * corrupt what memcheck knows of both. Hence:
 *
 *  - stackalloc registers the stack (the id is kept in vgstacks, by the
 *    stack's base) and makes it undefined: nothing on a fresh stack has
 *    been written by its G; stackfree deregisters it;
 *  - a small stack that goes back to a cache or the pool is inaccessible
 *    but for its link word, until stackalloc hands it out again: a stale
 *    pointer into a moved stack is then reported where it is used; a span
 *    (and a large stack) is made defined again before it goes back to
 *    jemalloc, which memcheck does not follow;
 *  - copystack moves the definedness of the used part with the bytes
 *    (vg_copybegin/vg_copyend): its conservative scan tests every word,
 *    padding and dead locals included, which are undefined and must stay so
 *    on the new stack.
 *
 * No stack changes its bounds in place (growing or shrinking allocates a
 * new one), so VALGRIND_STACK_CHANGE has no use. g0 is the thread's own
 * stack and the signal stack is given to sigaltstack: valgrind knows both.
 * Outside valgrind each entry point costs one RUNNING_ON_VALGRIND test. */

#if GORO_VALGRIND
typedef struct vgstack {
    uintptr_t lo;                   /* 0: empty slot */
    unsigned  id;
} vgstack;

static mutex vglock;
static vgstack *vgstacks;           /* open addressing, by lo */
static uintptr_t vgcap, vgcount;

static inline uintptr_t vghash(uintptr_t lo)
{
    uintptr_t h = (lo >> 11) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static void vg_register(stack stk)
{
    if (likely(!RUNNING_ON_VALGRIND))
        return;
    VALGRIND_MAKE_MEM_UNDEFINED((void *)stk.lo, stk.hi - stk.lo);
    unsigned id = VALGRIND_STACK_REGISTER(stk.lo, stk.hi - 1);
    lock(&vglock);
    if (2 * (vgcount + 1) > vgcap) {
        uintptr_t ncap = vgcap ? vgcap * 2 : 1024;
        vgstack *nt = mallocx(ncap * sizeof *nt, MALLOCX_ZERO);
        if (nt == NULL)
            throw("out of memory (valgrind stack table)");
        for (uintptr_t i = 0; i < vgcap; i++) {
            if (vgstacks[i].lo == 0)
                continue;
            uintptr_t j = vghash(vgstacks[i].lo) & (ncap - 1);
            while (nt[j].lo != 0)
                j = (j + 1) & (ncap - 1);
            nt[j] = vgstacks[i];
        }
        if (vgstacks)
            dallocx(vgstacks, 0);
        vgstacks = nt;
        vgcap = ncap;
    }
    uintptr_t j = vghash(stk.lo) & (vgcap - 1);
    while (vgstacks[j].lo != 0)
        j = (j + 1) & (vgcap - 1);
    vgstacks[j] = (vgstack){stk.lo, id};
    vgcount++;
    unlock(&vglock);
}

/* vg_deregister forgets stk; small stacks (pooled) become inaccessible but
 * for the link word, the others are about to go to munmap or jemalloc. */
static void vg_deregister(stack stk, bool pooled)
{
    if (likely(!RUNNING_ON_VALGRIND))
        return;
    lock(&vglock);
    uintptr_t mask = vgcap - 1, i = vgcap ? vghash(stk.lo) & mask : 0;
    while (vgcap != 0 && vgstacks[i].lo != 0 && vgstacks[i].lo != stk.lo)
        i = (i + 1) & mask;
    if (vgcap == 0 || vgstacks[i].lo == 0) {
        print("runtime: stackfree [%#lx, %#lx): not a registered stack\n",
              (unsigned long)stk.lo, (unsigned long)stk.hi);
        throw("valgrind: stack not registered");
    }
    VALGRIND_STACK_DEREGISTER(vgstacks[i].id);
    vgstacks[i].lo = 0;
    vgcount--;
    /* Shift back the entries that probed past the hole (as spanmap_del). */
    for (uintptr_t j = (i + 1) & mask; vgstacks[j].lo != 0; j = (j + 1) & mask) {
        uintptr_t h = vghash(vgstacks[j].lo) & mask;
        bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            vgstacks[i] = vgstacks[j];
            vgstacks[j].lo = 0;
            i = j;
        }
    }
    unlock(&vglock);
    if (pooled)
        VALGRIND_MAKE_MEM_NOACCESS((void *)(stk.lo + sizeof(gclink)),
                                   stk.hi - stk.lo - sizeof(gclink));
    else
        VALGRIND_MAKE_MEM_DEFINED((void *)stk.lo, stk.hi - stk.lo);
}

/* vg_defined makes memory going back to jemalloc defined again. */
static inline void vg_defined(void *p, uintptr_t n)
{
    VALGRIND_MAKE_MEM_DEFINED(p, n);
}

/* vg_copybegin saves the definedness of [src, src+n) and makes it defined
 * for copystack's scan; vg_copyend gives it to the copy at dst. Returns
 * the saved bits (NULL outside valgrind). On g0. */
static void *vg_copybegin(const void *src, uintptr_t n)
{
    if (likely(!RUNNING_ON_VALGRIND))
        return NULL;
    void *vbits = mallocx(n, 0);
    if (vbits == NULL)
        throw("out of memory (valgrind copystack)");
    VALGRIND_GET_VBITS(src, vbits, n);
    VALGRIND_MAKE_MEM_DEFINED(src, n);
    return vbits;
}

static void vg_copyend(void *vbits, void *dst, uintptr_t n)
{
    if (vbits == NULL)
        return;
    VALGRIND_SET_VBITS(dst, vbits, n);
    dallocx(vbits, 0);
}
#else
static inline void vg_register(stack stk) { (void)stk; }
static inline void vg_deregister(stack stk, bool pooled) { (void)stk; (void)pooled; }
static inline void vg_defined(void *p, uintptr_t n) { (void)p; (void)n; }
static inline void *vg_copybegin(const void *src, uintptr_t n)
{
    (void)src; (void)n;
    return NULL;
}
static inline void vg_copyend(void *vbits, void *dst, uintptr_t n)
{
    (void)vbits; (void)dst; (void)n;
}
#endif

/* ---- chunks: where spans come from --------------------------------------
 * A chunk is CHUNKSPANS spans of stackspansize bytes, mapped at once and
 * aligned to stackspansize. The chunks with a free span come first in
 * stackchunks, the full ones last. Under stackchunklock (after a stackpool
 * lock, if any). */

#define CHUNKSPANS 64

struct stackchunk {
    uintptr_t   base;
    uint64_t    free;               /* bit i: span i is not in use */
    uint64_t    dirty;              /* bit i: span i is free and may hold
                                       resident pages (not scavenged) */
    stackchunk *next, *prev;
};

static mutex stackchunklock;
static stackchunk *stackchunks;

static inline uint64_t chunkallfree(void)
{
    return CHUNKSPANS == 64 ? ~(uint64_t)0 : ((uint64_t)1 << CHUNKSPANS) - 1;
}

static void chunklist_remove(stackchunk *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        stackchunks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

static void chunklist_push(stackchunk *c)
{
    c->prev = NULL;
    c->next = stackchunks;
    if (c->next)
        c->next->prev = c;
    stackchunks = c;
}

static void chunklist_append(stackchunk *c)
{
    stackchunk *t = stackchunks;
    if (t == NULL) {
        chunklist_push(c);
        return;
    }
    while (t->next != NULL)
        t = t->next;
    c->prev = t;
    c->next = NULL;
    t->next = c;
}

/* chunkmap maps a new chunk: CHUNKSPANS spans, aligned to the chunk's own
 * size, so that a run of 2^k spans at a multiple of 2^k spans in it is
 * aligned to its size (a large stack's run; mapped with a chunk to spare,
 * the ends trimmed). */
static stackchunk *chunkmap(void)
{
    uintptr_t size = CHUNKSPANS * stackspansize;
    stackchunk *c = mallocx(sizeof *c, MALLOCX_ZERO | MALLOCX_TCACHE_NONE);
    char *v = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c == NULL || v == MAP_FAILED) {
        print("runtime: out of memory: cannot map a %lu-byte chunk of "
              "stack spans\n", (unsigned long)size);
        throw("out of memory (stackalloc)");
    }
    uintptr_t base = ((uintptr_t)v + size - 1) & ~(size - 1);
    uintptr_t head = base - (uintptr_t)v;
    uintptr_t tail = size - head;
    if ((head != 0 && munmap(v, head) != 0) ||
        (tail != 0 && munmap((char *)base + size, tail) != 0))
        throw("chunkmap: munmap failed");
    c->base = base;
    c->free = chunkallfree();
    return c;
}

/* runmask: the bits of the runs of n free spans (n a power of two up to
 * CHUNKSPANS) that start at a multiple of n in free: bit i is set when
 * spans i .. i+n-1 are all free and i % n == 0. */
static inline uint64_t runmask(uint64_t free, int n)
{
    uint64_t m = free;
    for (int w = 1; w < n; w *= 2)
        m &= m >> w;
    uint64_t starts = 0;
    for (int i = 0; i < CHUNKSPANS; i += n)
        starts |= (uint64_t)1 << i;
    return m & starts;
}

static inline uint64_t runbits(int i, int n)
{
    return (n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1) << i;
}

/* spanallocrun gives s the memory of n contiguous spans (n a power of two
 * up to CHUNKSPANS), aligned to n spans: the first chunk that has such a
 * run, else a new one. Any thread (after a stackpool lock, if any). */
static void spanallocrun(stackspan *s, int n)
{
    lock(&stackchunklock);
    stackchunk *c = stackchunks;
    uint64_t m = 0;
    for (; c != NULL && c->free != 0; c = c->next)
        if ((m = runmask(c->free, n)) != 0)
            break;
    if (c == NULL || m == 0) {
        c = chunkmap();
        chunklist_push(c);
        m = runmask(c->free, n);
    }
    int i = __builtin_ctzll(m);
    c->free &= ~runbits(i, n);
    c->dirty &= ~runbits(i, n);
    if (c->free == 0) {
        /* Full: behind the chunks that still have a free span. */
        chunklist_remove(c);
        chunklist_append(c);
    }
    unlock(&stackchunklock);
    s->base = c->base + (uintptr_t)i * stackspansize;
    s->chunk = c;
}

/* spanfreerun gives the n spans at s back to their chunk, dirty until the
 * next scan gives their pages back. Any thread. */
static void spanfreerun(stackspan *s, int n)
{
    stackchunk *c = s->chunk;
    int i = (int)((s->base - c->base) / stackspansize);
    lock(&stackchunklock);
    if (c->free == 0) {
        chunklist_remove(c);
        chunklist_push(c);
    }
    c->free |= runbits(i, n);
    c->dirty |= runbits(i, n);
    unlock(&stackchunklock);
}

static inline void spanalloc(stackspan *s)
{
    spanallocrun(s, 1);
}

static inline void spanfree(stackspan *s)
{
    spanfreerun(s, 1);
}

/* spanget hands out a span of *size bytes (aligned to its size) for
 * another of the runtime's structures (proc.c keeps its Gs in spans);
 * *chunk is what spanput needs back. Any thread. */
void *spanget(void **chunk, uintptr_t *size)
{
    stackspan s;
    spanalloc(&s);
    *chunk = s.chunk;
    *size = stackspansize;
    return (void *)s.base;
}

void spanput(void *base, void *chunk)
{
    stackspan s = {.base = (uintptr_t)base, .chunk = chunk};
    spanfree(&s);
}

/* scavengePerScan: what a periodic scan gives back at most. Giving pages
 * back costs the kernel time in proportion: madvise(MADV_DONTNEED) of 400
 * MiB of resident pages took 30 ms in one call, 57 ms span by span, on a
 * loaded 2-core x86-64 machine; the scan that gave back a 100,000-G burst
 * of 4 KiB stacks (tests/stress/waves) took 138 ms. 64 MiB keeps the loop
 * thread's pause to some 10 ms and still returns a burst at 64 MiB per
 * scan interval (1 s by default). */
#define scavengePerScan ((uintptr_t)64 << 20)

/* stackscavenge gives the pages of the free spans back to the system and
 * unmaps the chunks that have no span in use, until about limit bytes of
 * possibly resident pages went back. Returns how many. The madvise runs
 * under stackchunklock: a span handed out meanwhile would lose what its
 * new owner wrote. Called by the stack scan. */
static uintptr_t stackscavenge(uintptr_t limit)
{
    uintptr_t size = CHUNKSPANS * stackspansize, released = 0;
    stackchunk *unmap = NULL;
    lock(&stackchunklock);
    for (stackchunk *c = stackchunks, *next; c != NULL && released < limit;
         c = next) {
        next = c->next;
        if (c->free == 0)
            break;  /* the rest are full */
        if (c->free == chunkallfree()) {
            chunklist_remove(c);
            c->next = unmap;
            unmap = c;
            released += (uintptr_t)__builtin_popcountll(c->dirty) *
                        stackspansize;
            continue;
        }
        /* One madvise per run of dirty spans. */
        uint64_t d = c->dirty;
        while (d != 0) {
            int i = __builtin_ctzll(d);
            int j = i;
            while (j < CHUNKSPANS && (d >> j & 1))
                j++;
            uintptr_t len = (uintptr_t)(j - i) * stackspansize;
            if (madvise((void *)(c->base + (uintptr_t)i * stackspansize), len,
                        MADV_DONTNEED) != 0)
                throw("stackscavenge: madvise failed");
            released += len;
            d = j < 64 ? d & ~((((uint64_t)1 << j) - 1)) : 0;
        }
        c->dirty = 0;
    }
    unlock(&stackchunklock);
    while (unmap != NULL) {
        stackchunk *c = unmap;
        unmap = c->next;
        if (munmap((void *)c->base, size) != 0)
            throw("stackscavenge: munmap failed");
        dallocx(c, MALLOCX_TCACHE_NONE);
    }
    return released;
}

/* ---- sizes and orders ---------------------------------------------------- */

static inline uintptr_t ordersize(int order)
{
    return rtconf.stack_min << order;
}

/* stackorder returns the small order of an n-byte stack, or -1 if n is
 * large. */
int stackorder(uintptr_t n)
{
    int order = 0;
    uintptr_t n2 = rtconf.stack_min;
    while (n2 < n) {
        n2 <<= 1;
        order++;
    }
    return order < rtconf.stack_orders ? order : -1;
}

/* Statistics go to the P when there is one (owner only, no atomics). */
static inline void stat_inuse(int64_t delta)
{
    g *gp = getg();
    p *pp = gp ? gp->m->p : NULL;
    if (pp)
        pp->stats.stack_bytes_inuse += delta;
    else
        atomic_fetch_add_explicit((_Atomic int64_t *)&gstats.stack_bytes_inuse,
                                  delta, memory_order_relaxed);
}

void stackinit(void)
{
    uintptr_t maxsmall = ordersize(rtconf.stack_orders - 1);
    stackspansize = 32768;
    while (stackspansize < 2 * maxsmall)
        stackspansize <<= 1;
    goro_nonsplit_headroom = rtconf.nonsplit_headroom;
}

/* ---- the global pool -------------------------------------------------------- */

static void spanlist_insert(int order, stackspan *s)
{
    s->prev = NULL;
    s->next = stackpool[order].first;
    if (s->next)
        s->next->prev = s;
    stackpool[order].first = s;
    s->inlist = true;
}

static void spanlist_remove(int order, stackspan *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        stackpool[order].first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->inlist = false;
}

/* stackpoolalloc takes a stack from the global pool, carving a new span if
 * needed. stackpool[order].lock must be held. */
static gclink *stackpoolalloc(int order)
{
    uintptr_t size = ordersize(order);
    stackspan *s = stackpool[order].first;
    if (s == NULL) {
        s = mallocx(sizeof *s, MALLOCX_ZERO | MALLOCX_TCACHE_NONE);
        if (s == NULL) {
            print("runtime: out of memory: cannot allocate a span for "
                  "%lu-byte stacks\n", (unsigned long)size);
            throw("out of memory (stackalloc)");
        }
        spanalloc(s);
        s->order = order;
        /* Carve top down so that the list hands out low addresses first. */
        for (uintptr_t off = stackspansize; off >= size; off -= size) {
            gclink *x = (gclink *)(s->base + off - size);
            x->next = s->freelist;
            s->freelist = x;
        }
        lock(&spanmaplock);
        spanmap_put(s);
        unlock(&spanmaplock);
        spanlist_insert(order, s);
        stackpool[order].freebytes += stackspansize;
    }
    gclink *x = s->freelist;
    if (x == NULL)
        throw("span has no free stacks");
    s->freelist = x->next;
    s->allocCount++;
    stackpool[order].freebytes -= size;
    if (s->freelist == NULL)
        spanlist_remove(order, s);
    return x;
}

/* stackpoolfree returns a stack to the global pool; a span left with no
 * stack in use goes back to the allocator. stackpool[order].lock must be
 * held. */
static void stackpoolfree(gclink *x, int order)
{
    stackspan *s = spanOf((uintptr_t)x);
    if (s == NULL || s->order != order) {
        print("runtime: stackpoolfree %p order %d: not a stack of this "
              "pool\n", (void *)x, order);
        throw("bad stackpoolfree");
    }
    if (s->freelist == NULL)
        spanlist_insert(order, s);
    x->next = s->freelist;
    s->freelist = x;
    s->allocCount--;
    stackpool[order].freebytes += ordersize(order);
    if (s->allocCount == 0) {
        spanlist_remove(order, s);
        spanmap_del(s);
        stackpool[order].freebytes -= stackspansize;
        vg_defined((void *)s->base, stackspansize);
        spanfree(s);
        dallocx(s, MALLOCX_TCACHE_NONE);
    }
}

uintptr_t stackpool_bytes(int order)
{
    lock(&stackpool[order].lock);
    uintptr_t n = stackpool[order].freebytes;
    unlock(&stackpool[order].lock);
    return n;
}

/* ---- the per-P cache ------------------------------------------------------- */

/* stackcacherefill fills an empty cache with half of stack_cache_size from
 * the pool. Owner M of pp, on g0. */
void stackcacherefill(p *pp, int order)
{
    stackfreelist *c = &pp->stackcache[order];
    uintptr_t size = ordersize(order);
    lock(&stackpool[order].lock);
    while (c->size < rtconf.stack_cache_size / 2 || c->list == NULL) {
        gclink *x = stackpoolalloc(order);
        x->next = c->list;
        c->list = x;
        c->size += size;
    }
    unlock(&stackpool[order].lock);
}

/* stackcacherelease gives stacks back to the pool until the cache holds
 * half of stack_cache_size. Owner M of pp, on g0. */
void stackcacherelease(p *pp, int order)
{
    stackfreelist *c = &pp->stackcache[order];
    uintptr_t size = ordersize(order);
    lock(&stackpool[order].lock);
    while (c->size > rtconf.stack_cache_size / 2) {
        gclink *x = c->list;
        c->list = x->next;
        c->size -= size;
        stackpoolfree(x, order);
    }
    unlock(&stackpool[order].lock);
}

/* stackcache_clear empties every order of pp's cache into the pool. */
void stackcache_clear(p *pp)
{
    for (int order = 0; order < rtconf.stack_orders; order++) {
        stackfreelist *c = &pp->stackcache[order];
        lock(&stackpool[order].lock);
        while (c->list != NULL) {
            gclink *x = c->list;
            c->list = x->next;
            stackpoolfree(x, order);
        }
        c->size = 0;
        unlock(&stackpool[order].lock);
    }
}

/* ---- stackalloc / stackfree ------------------------------------------------ */

/* The from_system mode (the seeds' stackFromSystem): every stack is its own
 * mapping with a PROT_NONE page below it, so running off the end faults at
 * once; with fault_on_free (stackFaultOnFree) a freed stack is made
 * no-access and its addresses never reused, so a stale pointer into a
 * moved stack faults instead of reading what the next owner wrote. */
static void *sysstackalloc(uintptr_t n)
{
    char *v = mmap(NULL, n + PAGESIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (v == MAP_FAILED) {
        print("runtime: out of memory: cannot map a %lu-byte stack\n",
              (unsigned long)n);
        throw("out of memory (stackalloc)");
    }
    if (mprotect(v, PAGESIZE, PROT_NONE) != 0)
        throw("stackalloc: cannot protect the guard page");
    return v + PAGESIZE;
}

static void sysstackfree(void *v, uintptr_t n)
{
    char *base = (char *)v - PAGESIZE;
    if (rtconf.fault_on_free) {
        if (mprotect(base, n + PAGESIZE, PROT_NONE) != 0)
            throw("stackfree: cannot fault the freed stack");
    } else if (munmap(base, n + PAGESIZE) != 0) {
        throw("stackfree: munmap failed");
    }
}

/* Fixed stacks (a group's, see goro_group_new): n bytes, a multiple of the
 * page size, with a guard page below; never moved, shrunk or cached. Their
 * bytes are counted in use and in stackfixedbytes. On g0. */
_Atomic uint64_t stackfixedbytes;

stack stackallocfixed(uintptr_t n)
{
    char *v = sysstackalloc(n);
    stat_inuse((int64_t)n);
    atomic_fetch_add_explicit(&stackfixedbytes, n, memory_order_relaxed);
    stack stk = {(uintptr_t)v, (uintptr_t)v + n};
    vg_register(stk);
    return stk;
}

void stackfreefixed(stack stk)
{
    uintptr_t n = stk.hi - stk.lo;
    vg_deregister(stk, false);
    if (munmap((char *)stk.lo - PAGESIZE, n + PAGESIZE) != 0)
        throw("stackfreefixed: munmap failed");
    stat_inuse(-(int64_t)n);
    atomic_fetch_sub_explicit(&stackfixedbytes, n, memory_order_relaxed);
}

/* ---- large stacks ----------------------------------------------------------
 * A stack above the small orders is a run of n / stackspansize spans of a
 * chunk, aligned to n (Go takes it from the heap's pages, as a span of its
 * own), or, larger than a chunk, a mapping of its own aligned to n. Either
 * way a stackspan of order StackLargeOrder, in spanmap under its base,
 * records it for stackfree. Freed, its spans are dirty until the next scan
 * gives their pages back, and reused first meanwhile: a G that grows again
 * finds them. Large stacks are not taken from jemalloc: it keeps the
 * metadata of every extent it ever handed out (some 4 MiB after 20,000 Gs
 * each grew to 64 KiB once), which a scan could never give back. */

#define StackLargeOrder (-1)

static void *stackallocLarge(uintptr_t n)
{
    stackspan *s = mallocx(sizeof *s, MALLOCX_ZERO | MALLOCX_TCACHE_NONE);
    if (s == NULL)
        goto oom;
    s->order = StackLargeOrder;
    uintptr_t nspans = n / stackspansize;
    if (nspans <= CHUNKSPANS) {
        spanallocrun(s, (int)nspans);
    } else {
        char *v = mmap(NULL, 2 * n, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (v == MAP_FAILED) {
            dallocx(s, MALLOCX_TCACHE_NONE);
            goto oom;
        }
        uintptr_t base = ((uintptr_t)v + n - 1) & ~(n - 1);
        uintptr_t head = base - (uintptr_t)v, tail = n - head;
        if ((head != 0 && munmap(v, head) != 0) ||
            (tail != 0 && munmap((char *)base + n, tail) != 0))
            throw("stackalloc: munmap failed");
        s->base = base;
        s->chunk = NULL;
    }
    lock(&spanmaplock);
    spanmap_put(s);
    unlock(&spanmaplock);
    return (void *)s->base;
oom:
    print("runtime: out of memory: cannot allocate %lu-byte stack\n",
          (unsigned long)n);
    throw("out of memory (stackalloc)");
}

static void stackfreeLarge(stack stk)
{
    uintptr_t n = stk.hi - stk.lo;
    stackspan *s = spanOf(stk.lo);
    if (s == NULL || s->order != StackLargeOrder || s->base != stk.lo) {
        print("runtime: stackfree [%#lx, %#lx): not a large stack\n",
              (unsigned long)stk.lo, (unsigned long)stk.hi);
        throw("bad stackfree");
    }
    spanmap_del(s);
    if (s->chunk != NULL)
        spanfreerun(s, (int)(n / stackspansize));
    else if (munmap((void *)stk.lo, n) != 0)
        throw("stackfree: munmap failed");
    dallocx(s, MALLOCX_TCACHE_NONE);
}

static inline p *mypforstacks(void)
{
    g *gp = getg();
    if (onG(gp))
        throw("stackalloc/stackfree not on the scheduler stack");
    return gp ? gp->m->p : NULL;
}

/* stackalloc allocates an n-byte stack, n a power of two. Must run on g0
 * (it uses the P's cache and must not itself need to grow a stack). */
stack stackalloc(uintptr_t n)
{
    if (n == 0 || (n & (n - 1)) != 0)
        throw("stack size not a power of 2");
    p *pp = mypforstacks();
    void *v;
    int order = stackorder(n);
    if (rtconf.stack_debug >= 1)
        print("stackalloc %lu\n", (unsigned long)n);
    if (rtconf.from_system) {
        v = sysstackalloc(n);
    } else if (order >= 0) {
        if (pp == NULL) {
            lock(&stackpool[order].lock);
            v = stackpoolalloc(order);
            unlock(&stackpool[order].lock);
        } else {
            stackfreelist *c = &pp->stackcache[order];
            if (c->list == NULL)
                stackcacherefill(pp, order);
            gclink *x = c->list;
            c->list = x->next;
            c->size -= n;
            v = x;
        }
    } else {
        v = stackallocLarge(n);
    }
    stat_inuse((int64_t)n);
    stack stk = {(uintptr_t)v, (uintptr_t)v + n};
    vg_register(stk);
    return stk;
}

/* stackfree frees a stack allocated by stackalloc. Must run on g0. */
void stackfree(stack stk)
{
    uintptr_t n = stk.hi - stk.lo;
    if (n == 0 || (n & (n - 1)) != 0)
        throw("stack not a power of 2");
    p *pp = mypforstacks();
    gclink *x = (gclink *)stk.lo;
    int order = stackorder(n);
    if (rtconf.stack_debug >= 1)
        print("stackfree %#lx %lu\n", (unsigned long)stk.lo, (unsigned long)n);
    vg_deregister(stk, !rtconf.from_system && order >= 0);
    if (rtconf.from_system) {
        sysstackfree(x, n);
    } else if (order >= 0) {
        if (pp == NULL) {
            lock(&stackpool[order].lock);
            stackpoolfree(x, order);
            unlock(&stackpool[order].lock);
        } else {
            stackfreelist *c = &pp->stackcache[order];
            if (c->size >= rtconf.stack_cache_size)
                stackcacherelease(pp, order);
            x->next = c->list;
            c->list = x;
            c->size += n;
        }
    } else {
        stackfreeLarge(stk);
    }
    stat_inuse(-(int64_t)n);
}

/* ---- growth ------------------------------------------------------------------ */

/* copystack moves gp's stack to a new one of newsize bytes. gp must not be
 * running (Gcopystack, or held by a scan); its sched.sp is valid. Must run
 * on g0. */
void copystack(g *gp, uintptr_t newsize)
{
    stack old = gp->stack;
    uintptr_t sp = gp->sched.sp;
    if (old.lo == 0)
        throw("nil stackbase");
    if (sp < old.lo || sp >= old.hi)
        throw("copystack: sp outside the stack");
    uintptr_t used = old.hi - sp;
    stack new = stackalloc(newsize);
    if (newsize < used)
        throw("copystack: new stack too small");

    if (rtconf.stack_debug >= 1)
        print("copystack gp=%p [%#lx %#lx %#lx]/%lu -> [%#lx %#lx %#lx]/%lu\n",
              (void *)gp, (unsigned long)old.lo, (unsigned long)sp,
              (unsigned long)old.hi, (unsigned long)(old.hi - old.lo),
              (unsigned long)new.lo, (unsigned long)(new.hi - used),
              (unsigned long)new.hi, (unsigned long)newsize);
    if (rtconf.poison_copy)
        memset((void *)new.lo, 0xfd, newsize);

    /* Copy [sp, hi) to the top of the new stack, moving every word that
     * points into the old used range by delta as it goes. */
    uintptr_t delta = new.hi - old.hi;
    const uintptr_t *src = (const uintptr_t *)sp;
    uintptr_t *dst = (uintptr_t *)(new.hi - used);
    size_t nwords = used / sizeof(uintptr_t);
    uintptr_t span = old.hi - sp;
    void *vbits = vg_copybegin(src, used);
    if (likely(rtconf.stack_debug < 3)) {
        for (size_t i = 0; i < nwords; i++) {
            uintptr_t v = src[i];
            if (v - sp < span)
                v += delta;
            dst[i] = v;
        }
    } else {
        for (size_t i = 0; i < nwords; i++) {
            uintptr_t v = src[i];
            if (rtconf.stack_debug >= 4)
                print("        read %p: %#lx\n", (void *)&src[i],
                      (unsigned long)v);
            if (v - sp < span) {
                print("        adjust %p: %#lx -> %#lx\n", (void *)&dst[i],
                      (unsigned long)v, (unsigned long)(v + delta));
                v += delta;
            }
            dst[i] = v;
        }
    }
    vg_copyend(vbits, dst, used);

    /* The runtime's own pointers into the stack: channel waits. */
    adjustsudogs(gp, sp, old.hi, delta);

    gp->stack = new;
    if (gp->stackguard0 != stackPreempt)
        gp->stackguard0 = new.lo + StackGuard;
    gp->sched.sp = new.hi - used;

    pstats *st = mystats();
    st->stack_copied_bytes += used;
    if (rtconf.poison_copy)
        memset((void *)old.lo, 0xfc, old.hi - old.lo);
    stackfree(old);
}

/* newstack is called by __morestack (on g0) when gp's function needs more
 * stack than it has, or when the guard held stackPreempt. gp->sched.sp
 * points at the morestack frame; r10 in it is how many bytes the function
 * needs below its entry sp. Never returns: ends in gogo(gp), which resumes
 * the function (through morestack_resume / alloc_resume). */
void newstack(g *gp)
{
    m *mp = gp->m;
    int savederrno = *mp->errnop;
    if (gp != mp->curg)
        throw("newstack: not on the current G");
    morestackframe *f = (morestackframe *)gp->sched.sp;
    if (gp->sched.sp < gp->stack.lo || gp->sched.sp >= gp->stack.hi) {
        print("runtime: newstack sp=%#lx stack=[%#lx, %#lx)\n",
              (unsigned long)gp->sched.sp, (unsigned long)gp->stack.lo,
              (unsigned long)gp->stack.hi);
        throw("morestack: sp outside the G's stack");
    }
    uintptr_t entrysp = (uintptr_t)&f->retaddr + sizeof(uintptr_t);
    uintptr_t need = f->r10;

    /* A preemption request (preempt.c) brought us here, or rides along:
     * the real guard goes back either way; gp stops below, after any
     * growth this call needs, if it may. */
    if (__atomic_load_n(&gp->stackguard0, __ATOMIC_ACQUIRE) == stackPreempt)
        gp->stackguard0 = gp->stack.lo + StackGuard;
    /* sysmon took (or is taking) the P while the thread was blocked in
     * the kernel without goro_syscall_enter (preempt.c, sysblocktake):
     * this is the thread's first call since, and the G comes back from
     * that call here; without a P it waits for one below. */
    bool hasp = true;
    if (unlikely(atomic_load_explicit(&mp->sysblock, memory_order_acquire) !=
                 sysblockNone))
        hasp = sysblockback(mp, gp);
    /* In a system call (goro_syscall_enter) the G may grow, but it has no
     * P and stays Gsyscall: nobody else looks at its stack meanwhile. */
    bool insyscall = readgstatus(gp) == Gsyscall;

    uintptr_t oldsize = gp->stack.hi - gp->stack.lo;
    uintptr_t above = gp->stack.hi - entrysp;  /* bytes in use at entry */
    uintptr_t want = above + need + StackGuard + StackSmall + MF_SIZE + 8;
    /* need is checked on its own: a huge alloca would make want wrap. */
    if (unlikely(gp->fixedstack) && (need > oldsize || want > oldsize)) {
        print("runtime: goroutine %lld of group %s ran past its fixed "
              "%lu-byte stack [%#lx, %#lx): in use %lu, a frame needs %lu "
              "more\n", (long long)gp->goid, gp->group->name,
              (unsigned long)oldsize, (unsigned long)gp->stack.lo,
              (unsigned long)gp->stack.hi, (unsigned long)above,
              (unsigned long)need);
        throw("fixed stack overflow");
    }
    if (need > rtconf.stack_max || want > oldsize) {
        uintptr_t newsize = oldsize * 2;
        while (newsize < want && newsize <= rtconf.stack_max)
            newsize *= 2;
        if (newsize > rtconf.stack_max || need > rtconf.stack_max) {
            print("runtime: goroutine stack exceeds %lu-byte limit\n",
                  (unsigned long)rtconf.stack_max);
            print("runtime: goroutine %lld%s%s%s: stack size %lu, in use "
                  "%lu, a frame needs %lu more\n",
                  (long long)gp->goid,
                  gp->group != NULL ? " of group \"" : "",
                  gp->group != NULL ? gp->group->name : "",
                  gp->group != NULL ? "\"" : "", (unsigned long)oldsize,
                  (unsigned long)above, (unsigned long)need);
            throw("stack overflow");
        }
        if (!insyscall)
            casgstatus(gp, Grunning, Gcopystack);
        traceStack(gp, oldsize, newsize);
        copystack(gp, newsize);
        if (!insyscall)
            casgstatus(gp, Gcopystack, Grunning);
        mystats()->stack_grows++;
    }
    *mp->errnop = savederrno;
    if (!hasp)
        exitsyscall0(gp);  /* resumes the call once it has a P */
    if (gp->preempt && !insyscall && canpreempt(mp, gp)) {
        mystats()->preempt_sync++;
        traceGo(traceEvPreemptSync, gp);
        /* It stopped at a call: not call-free (preempt.c's table). */
        __atomic_store_n(&gp->callfree, 0, __ATOMIC_RELAXED);
        gopreempt_m(gp);
    }
    gogo(gp);
}

void morestackbad(g *gp, uintptr_t frame)
{
    if (gp == NULL) {
        /* The runtime leaves 0 in the guard of threads it does not run;
         * libgcc's segmented-stack support sets it on the main thread (a
         * constructor of its __morestack). Clear it first: the report's
         * own calls must not come back here. */
        setguard(0);
        print("runtime: __morestack on a thread the runtime does not run "
              "(sp=%#lx): its guard was set by libgcc's split-stack support, "
              "so the program was linked with libgcc's __morestack instead "
              "of goro's: link with the flags of `pkg-config --libs goro` "
              "(-Wl,--whole-archive -lgoro_morestack)\n",
              (unsigned long)frame);
        throw("morestack on a foreign thread");
    }
    print("runtime: morestack on g0 (m%d): sp=%#lx g0 stack [%#lx, %#lx)\n",
          gp->m->id, (unsigned long)frame, (unsigned long)gp->stack.lo,
          (unsigned long)gp->stack.hi);
    throw("morestack on g0");
}

/* ---- shrinking ----------------------------------------------------------- */

/* StackLimit: what a G may use below its saved sp without a check (Go's
 * _StackLimit): counted as used when deciding to shrink. */
#define StackLimit (StackGuard - StackSmall)

/* shrinkstack halves gp's stack if it uses less than a quarter of it, never
 * below the minimum. The caller holds gp (Gwaiting|Gscan): nobody runs it
 * and its sched.sp is valid. Every word of the used part that points into
 * it is moved by copystack; the runtime keeps no pointer into a parked
 * G's stack (wait lists, timers and the netpoller hold the G itself; a G in
 * file I/O is never shrunk, see stackscan), so nothing else needs
 * adjusting. Returns whether it shrank.
 *
 * The frames of a parked G passed their prologue checks on the stack it
 * had then. A function that calls code without checks (libc, jemalloc)
 * had its prologue demand the non-split headroom below its frame, and
 * will make such calls after the G wakes without checking again: a
 * halved stack no longer has that room, and the non-split code would run
 * off its bottom into whatever lies below. So the room taken away, up to
 * the headroom (a frame's promise never exceeds it, and reaches no lower
 * than the headroom below the deepest frame, sched.sp), is recorded in
 * gp->stackneed, and stackrestore grows the stack back before the G runs
 * again. A parked G stays small; a G that wakes gets the room it was
 * promised. */
bool shrinkstack(g *gp)
{
    if (rtconf.no_shrink || gp->fixedstack)
        return false;
    if (gp->stack.lo == 0)
        throw("missing stack in shrinkstack");
    uintptr_t oldsize = gp->stack.hi - gp->stack.lo;
    uintptr_t newsize = oldsize / 2;
    if (newsize < rtconf.stack_min)
        return false;
    uintptr_t used = gp->stack.hi - gp->sched.sp + StackLimit;
    if (used >= oldsize / 4)
        return false;
    /* A G parked on channels may have a sender or receiver copying into or
     * out of its stack under the channels' locks: hold them for the move
     * (Go's syncadjustsudogs). */
    uintptr_t need = gp->sched.sp - gp->stack.lo;
    if (need > rtconf.nonsplit_headroom + StackGuard)
        need = rtconf.nonsplit_headroom + StackGuard;
    if (gp->stackneed > need)
        need = gp->stackneed;   /* an earlier shrink's, still owed */
    traceStack(gp, oldsize, newsize);
    lockwaiting(gp);
    copystack(gp, newsize);
    unlockwaiting(gp);
    gp->stackneed = gp->sched.sp - gp->stack.lo < need ? (uint32_t)need : 0;
    mystats()->stack_shrinks++;
    return true;
}

/* stackrestore grows gp's stack until sched.sp has gp->stackneed free bytes
 * below it (see shrinkstack). gp is runnable and ours (execute, on g0):
 * no scan takes it. A select's sudogs may still be queued on the channels
 * it did not take: they are moved under the channels' locks as for a
 * shrink. */
void stackrestore(g *gp)
{
    uintptr_t used = gp->stack.hi - gp->sched.sp;
    uintptr_t size = gp->stack.hi - gp->stack.lo;
    uintptr_t newsize = size;
    while (newsize - used < gp->stackneed)
        newsize *= 2;
    gp->stackneed = 0;
    if (newsize == size)
        return;
    traceStack(gp, size, newsize);
    lockwaiting(gp);
    copystack(gp, newsize);
    unlockwaiting(gp);
    mystats()->stack_grows++;
}

/* scang shrinks gp's stack if it is parked (stackscan, under allglock). */
static void scang(g *gp, void *arg)
{
    if (readgstatus(gp) != Gwaiting ||
        !castogscanstatus(gp, Gwaiting, Gwaiting | Gscan))
        return;
    /* How long it has waited, to within an interval (traceback.c). */
    if (gp->waitsince == 0)
        gp->waitsince = nanotime_coarse();
    /* A G in a file operation, a blocking call or another loop call has
     * libuv's thread pool or the loop thread reading or writing its stack
     * (the request, maybe the buffer): its stack is pinned. The wait
     * reason is stable while we hold it. */
    if (gp->waitreason != waitReasonFileIO &&
        gp->waitreason != waitReasonBlocking &&
        gp->waitreason != waitReasonLoopCall && shrinkstack(gp))
        (*(int *)arg)++;
    /* release-store: the copy is visible before anyone readies gp */
    atomic_store_explicit(&gp->atomicstatus, Gwaiting, memory_order_release);
}

/* stackscan is the periodic stack scan (Go does this work during GC):
 *  - every parked G (Gwaiting) is held in Gwaiting|Gscan, so that nobody
 *    readies and runs it meanwhile, and shrunk if it uses under a quarter;
 *    running and runnable Gs are left alone (they are about to use their
 *    stacks);
 *  - dead Gs that sat on the global free list for a whole interval are
 *    released, stacks and all (gfscan, proc.c; Go frees their stacks at GC
 *    and keeps the Gs), so a burst of Gs does not keep its memory forever;
 *  - idle Ps' stack caches go back to the pool, and the pool gives empty
 *    spans back to the allocator (stackpoolfree does it as they empty).
 * Runs on g0 or on the loop thread. Returns how many stacks it shrank. */
int stackscan(void)
{
    int shrunk = 0;
    forallg(scang, &shrunk);

    /* A dead G is released once it has sat on the global free list for a
     * whole scan interval: a list that is in use keeps its Gs (spawning
     * stays cheap), an idle one gives them back. */
    int freed = gfscan();

    /* An idle P belongs to nobody while it is on the idle list, which is
     * under sched.lock; the caller's own P (goro_stack_scan) runs nothing
     * else meanwhile. */
    g *self = getg();
    if (self != NULL && self->m->p != NULL)
        stackcache_clear(self->m->p);
    lock(&sched.lock);
    for (p *pp = sched.pidle; pp != NULL; pp = pp->link)
        stackcache_clear(pp);
    unlock(&sched.lock);
    /* The free spans' pages go back to the system now; jemalloc keeps
     * freed pages (sudogs, span records) for its decay time (10 s): when
     * this scan freed anything, have it hand them back now too, so that
     * the process's RSS follows what its Gs use. */
    /* The periodic scan runs on the loop thread (no M), where timers and
     * the netpoller wait while it works: it gives back at most
     * scavengePerScan bytes of free spans' pages a time (what is left is
     * still reused first, and goes back at the next scans). An explicit
     * scan (goro_stack_scan) gives back everything: its caller asked. */
    uintptr_t scavenged =
        stackscavenge(self == NULL ? scavengePerScan : UINTPTR_MAX);
    if (shrunk > 0 || freed > 0 || scavenged > 0) {
        /* This thread's cache too. */
        mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
        mallctl("arena." GORO_STR(MALLCTL_ARENAS_ALL) ".purge", NULL, NULL,
                NULL, 0);
    }
    return shrunk;
}

static uintptr_t stackscan_sys(void *arg)
{
    (void)arg;
    return (uintptr_t)stackscan();
}

int goro_stack_scan(void)
{
    if (allgs == NULL)
        return 0;
    return (int)systemstack(stackscan_sys, NULL);
}
