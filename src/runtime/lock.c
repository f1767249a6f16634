/*
 * lock.c - the runtime's own locks, on Linux futexes (Go's lock_futex.go).
 *
 * mutex: for short critical sections in the runtime (run queues, pools,
 * wait lists). A contended locker spins briefly, then sleeps in the kernel;
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

enum { active_spin = 4, active_spin_cnt = 30, passive_spin = 1 };

/* trylockspin takes l if it is seen unlocked, leaving the key at wait. */
static inline bool trylockspin(mutex *l, uint32_t wait)
{
    while (atomic_load_explicit(&l->key, memory_order_relaxed) ==
           mutex_unlocked) {
        uint32_t want = mutex_unlocked;
        if (atomic_compare_exchange_weak_explicit(&l->key, &want, wait,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

/* lock2 is lock's contended path (runtime2.h): the exchange found the key
 * at v (locked, maybe with sleepers); m->locks is already counted. */
void lock2(mutex *l, uint32_t v)
{
    /* wait is mutex_locked or mutex_sleeping: if we ever sleep we must
     * leave the key at mutex_sleeping so that unlock wakes someone. */
    uint32_t wait = v;
    for (;;) {
        for (int i = 0; i < active_spin; i++) {
            if (trylockspin(l, wait))
                return;
            procyield(active_spin_cnt);
        }
        for (int i = 0; i < passive_spin; i++) {
            if (trylockspin(l, wait))
                return;
            osyield();
        }
        v = atomic_exchange_explicit(&l->key, mutex_sleeping,
                                     memory_order_acquire);
        if (v == mutex_unlocked)
            return;
        wait = mutex_sleeping;
        futexsleep(&l->key, mutex_sleeping, -1);
    }
}

/* unlock2 is unlock's path for a key that was not simply mutex_locked:
 * wake a sleeper, or throw on an unlocked lock. */
void unlock2(mutex *l, uint32_t v)
{
    if (v == mutex_unlocked)
        throw("unlock of unlocked lock");
    if (v == mutex_sleeping)
        futexwakeup(&l->key, 1);
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
