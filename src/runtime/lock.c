/*
 * lock.c - the runtime's own locks, on Linux futexes (Go's lock_futex.go).
 *
 * mutex: for short critical sections in the runtime (run queues, pools,
 * wait lists, channels). A contended locker spins briefly, then sleeps in
 * the kernel; unlock is a plain store (lock2 says how that stays correct);
 * the thread, not the G, waits, which is right only because holders never
 * block while holding one. A G holding a mutex counts in m->locks and must
 * not be preempted or parked except through gopark's unlock function.
 *
 * note: a one-shot wakeup. notesleep blocks the thread until notewakeup;
 * noteclear re-arms it. Ms park on their note when idle.
 *
 * The system calls are made with inline `syscall` instructions, not through
 * libc: these functions run on G stacks, and a call into code compiled
 * without -fsplit-stack would make gold demand the non-split headroom at
 * every caller. They also leave errno alone.
 */
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>

#include "runtime2.h"

static inline long rawsyscall4(long nr, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

/* futexsleep atomically checks *addr == val and sleeps, for at most ns
 * nanoseconds when ns >= 0. May wake spuriously. Returns 0 or -errno. */
long futexsleep(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tsp = &ts;
    }
    return rawsyscall4(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val,
                       (long)tsp);
}

/* futexwakeup wakes up to cnt threads sleeping on addr. */
void futexwakeup(_Atomic uint32_t *addr, uint32_t cnt)
{
    long r = rawsyscall4(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, cnt, 0);
    if (r < 0)
        throw("futexwakeup failed");
}

void osyield(void)
{
    rawsyscall4(SYS_sched_yield, 0, 0, 0, 0);
}

static inline void procyield(int n)
{
    while (n-- > 0)
        __builtin_ia32_pause();
}

enum { active_spin_cnt = 30 };
/* How often lock2 tries before sleeping: Go's figures. Variables so that
 * a test can make every contended lock sleep at once. */
int lock_active_spin = 4, lock_passive_spin = 1;

/* How many fenced unlocks with no new sleeper make a lock unfenced again
 * (unlockfence). A variable so that a test can make it small. */
uint32_t lock_unfence_after = 1u << 16;
_Atomic uint64_t lock_sleeps;   /* futex sleeps in lock2, for tests */

bool lockfence = true;

/* lockinit chooses how unlock orders its store before its load of
 * sleepers. Run from the library's constructor: before any thread can
 * take a lock of ours, so lockfence never changes under one. */
__attribute__((constructor)) static void lockinit(void)
{
    long cmds = rawsyscall4(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return;
    if (rawsyscall4(SYS_membarrier,
                    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0, 0) == 0)
        lockfence = false;
}

/* trylockspin takes l if it is seen unlocked. */
static inline bool trylockspin(mutex *l)
{
    while (atomic_load_explicit(&l->key, memory_order_relaxed) ==
           mutex_unlocked) {
        uint32_t want = mutex_unlocked;
        if (atomic_compare_exchange_weak_explicit(&l->key, &want,
                                                  mutex_locked,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

/* lock2 is lock's contended path (runtime2.h): the exchange found l
 * locked; m->locks is already counted. It spins, yields, then sleeps.
 *
 * Unlock stores mutex_unlocked, then loads sleepers to see whether to wake
 * one. With a full fence between the two (or a locked exchange, as Go's
 * unlock makes) that is a textbook Dekker against the sleeper, which
 * counts itself and then looks at the key; but the fence costs ~4-6 ns,
 * four times per channel round trip, and most locks never have a sleeper.
 * Without it, x86 may satisfy the load before the store is visible, so an
 * unlocker could miss a sleeper that counted itself and then still saw
 * the lock held: a lost wakeup. (Go's one-word lock cannot drop the
 * exchange at all: a plain store would overwrite the sleeper's mark. Here
 * sleepers count themselves in words unlock only reads, and sleep on
 * wakeseq, which no relock can restore behind their backs.)
 *
 * So a lock starts unfenced, and its first sleeper pays for both sides
 * (an asymmetric Dekker, as user-space RCU does). It counts itself in
 * l->sleepers, sets mutexFencing there, and calls membarrier(MEMBARRIER_
 * CMD_PRIVATE_EXPEDITED): every thread of the process that is running
 * executes a full barrier, and one that is not running has passed one.
 * unlock reads the word after its store; a read that saw no mutexFencing
 * retired before that barrier, so did the store before it, and the
 * barrier made the store visible before membarrier returned: the
 * sleeper's exchange sees that unlock. Every unlock that reads the word
 * later fences. Then the sleeper sets mutexFenced: later sleepers, which
 * find it in the word as they count themselves, rely on the unlockers'
 * fence (a membarrier interrupts every CPU running one of our threads).
 *
 * Not for good: after lock_unfence_after fenced unlocks with no new
 * sleeper, an unlock that finds no sleeper clears both bits in one
 * compare-and-swap of the whole word (unlockfence), and the next sleeper
 * makes a membarrier again. The count of sleepers is in that word, so the
 * swap fails while any thread sleeps or is in the membarrier step, and a
 * sleeper that counts itself after the swap finds the bits clear and makes
 * its own membarrier; so mutexFenced always speaks of a membarrier made
 * since the latest mutexFencing was set. Why not for good: a channel whose
 * two sides met once on two Ps, where one slept once on its lock (the
 * holder outlasted the spinning and the yield), would fence four times
 * per round trip for the rest of the program, which was most of what a
 * ping-pong on two Ps paid beyond one on one P (bench/RESULTS.md, "Gs
 * that talk across Ps").
 *
 * Waking: an unlock that sees sleepers wakes one only if no wake is in
 * flight (waking): it sets waking, bumps wakeseq and wakes it. A sleeper,
 * each time round, reads wakeseq, then clears waking (so the unlock that
 * follows a failed try wakes again: after its read, so a wake whose bump
 * it saw cannot set waking behind it), then tries the key, and sleeps
 * only while wakeseq is what it read. So each sleep costs one wake, not
 * one per unlock while the woken thread waits for a CPU.
 *
 * Without membarrier (old kernel, seccomp) lockfence makes every unlock
 * fence. Registration is inherited by a fork and made again after an exec
 * (the constructor runs again). */
/* Aligned, as unlockfence: on two Ps the channel and mutex benchmarks
 * spend a quarter of their time in these spins, and a 16-byte shift of
 * lock2 that unrelated code growth brought (its start 48 bytes into a
 * cache line instead of 32) made them twice as slow, the same code and
 * profile with more yields and futex sleeps (bench/RESULTS.md). */
__attribute__((aligned(64))) void lock2(mutex *l)
{
    for (int i = 0; i < lock_active_spin; i++) {
        if (trylockspin(l))
            return;
        procyield(active_spin_cnt);
    }
    for (int i = 0; i < lock_passive_spin; i++) {
        if (trylockspin(l))
            return;
        osyield();
    }
    uint32_t old = atomic_fetch_add_explicit(&l->sleepers, 1,
                                             memory_order_seq_cst);
    atomic_store_explicit(&l->quiet, 0, memory_order_relaxed);
    if (!lockfence && !(old & mutexFenced)) {
        atomic_fetch_or_explicit(&l->sleepers, mutexFencing,
                                 memory_order_seq_cst);
        if (rawsyscall4(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0,
                        0, 0) != 0)
            throw("membarrier failed");
        atomic_fetch_or_explicit(&l->sleepers, mutexFenced,
                                 memory_order_release);
    }
    for (;;) {
        uint32_t seq = atomic_load_explicit(&l->wakeseq,
                                            memory_order_acquire);
        atomic_store_explicit(&l->waking, 0, memory_order_relaxed);
        if (atomic_exchange_explicit(&l->key, mutex_locked,
                                     memory_order_acquire) == mutex_unlocked)
            break;
        atomic_fetch_add_explicit(&lock_sleeps, 1, memory_order_relaxed);
        futexsleep(&l->wakeseq, seq, -1);
    }
    atomic_fetch_sub_explicit(&l->sleepers, 1, memory_order_relaxed);
}

/* unlockfence: unlock's fenced path, after its store: the fence, then
 * the sleepers word, which it returns. After lock_unfence_after fenced
 * unlocks since a thread last began to sleep on l, if none sleeps, it
 * makes l's unlocks plain stores again (lock2 says why that is safe). */
__attribute__((aligned(64))) uint32_t unlockfence(mutex *l)
{
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t s = atomic_load_explicit(&l->sleepers, memory_order_relaxed);
    uint32_t q = atomic_load_explicit(&l->quiet, memory_order_relaxed) + 1;
    if (likely(q < lock_unfence_after) || s != (mutexFencing | mutexFenced)) {
        atomic_store_explicit(&l->quiet, q, memory_order_relaxed);
        return s;
    }
    atomic_store_explicit(&l->quiet, 0, memory_order_relaxed);
    atomic_compare_exchange_strong_explicit(&l->sleepers, &s, 0,
                                            memory_order_seq_cst,
                                            memory_order_relaxed);
    return s;
}

/* unlock2: unlock saw sleepers; wake one unless a wake is in flight. */
void unlock2(mutex *l)
{
    if (atomic_load_explicit(&l->waking, memory_order_relaxed) ||
        atomic_exchange_explicit(&l->waking, 1, memory_order_acq_rel))
        return;
    atomic_fetch_add_explicit(&l->wakeseq, 1, memory_order_release);
    futexwakeup(&l->wakeseq, 1);
}

_Atomic uint32_t unlockers;
m *_Atomic allm;

/* lockquiesce returns once no thread is inside unlock(l): l's memory may
 * then be freed. unlock reads l after the store that releases it (above),
 * so a thread that took l at once after that store and freed the object
 * holding it would leave that thread reading, and unlock2 writing, memory
 * the allocator may have given to someone else. The caller has seen l
 * released (it took l since, or was readied after the unlock): each M
 * shows the lock it is releasing from before that store (m->unlocking), so
 * the caller sees the M's mark if that unlock is not over; threads that are
 * no M (the loop thread, foreign threads sending on channels) count in
 * unlockers, which is waited out whole. Cheap: a look at each M; a wait
 * only in the rare case of an unlock still in flight.
 *
 * Rejected: the lock's words beside it in a table that is never freed (a
 * bucket shared by two locks would need wake-all futex wakes); deferring
 * every free to a point every M has passed (a list per P and a global
 * epoch for an event that a look at each M settles). */
void lockquiesce(mutex *l)
{
    atomic_thread_fence(memory_order_seq_cst);
    for (m *mp = atomic_load_explicit(&allm, memory_order_acquire);
         mp != NULL; mp = mp->alllink) {
        while (atomic_load_explicit(&mp->unlocking, memory_order_acquire) ==
               l)
            osyield();
    }
    while (atomic_load_explicit(&unlockers, memory_order_acquire) != 0)
        osyield();
}

void noteclear(note *n)
{
    atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void notewakeup(note *n)
{
    uint32_t old = atomic_exchange_explicit(&n->key, 1, memory_order_release);
    if (old != 0)
        throw("notewakeup - double wakeup");
    futexwakeup(&n->key, 1);
}

/* notesleep blocks the thread until notewakeup. Must run on g0 (it blocks
 * the M). */
void notesleep(note *n)
{
    while (atomic_load_explicit(&n->key, memory_order_acquire) == 0)
        futexsleep(&n->key, 0, -1);
}
