/*
 * foreign.c - threads that are not Gs handing work to Gs (Seastar's alien,
 * Go's cgo callbacks): a library's callback thread, a thread the program
 * made itself. Such a thread may send on and receive from channels
 * (goro_chan_send, goro_chan_recv: blocking the thread, not parking a G;
 * goro_chan_try_send, goro_chan_try_recv: never blocking), close them, and
 * wait on an fd (goro_wait_fd: poll(2)).
 *
 * Blocking: the thread queues a sudog on its own stack (which does not
 * move) with gp NULL and a note, and sleeps on the note's futex; a G (or
 * another thread) that completes the exchange or closes the channel copies
 * the value under the channel's lock, as for a G, and wakes the note
 * instead of readying a G (chan.c's wake). Readying a G from such a thread
 * puts it on the global run queue and wakes an idle P (proc.c's ready).
 *
 * Deadlock: checkdead reports a deadlock when every G waits for another
 * G. A G waiting for a value a foreign thread will send is not deadlocked,
 * so the runtime counts the foreign threads that may send: a thread is
 * counted from its first channel call until it exits (a thread-specific
 * key's destructor), and goro_foreign_hold/release count one more for a
 * thread that has not yet made its first call (the race between its start
 * and the Gs' wait). While any is counted, no deadlock is reported.
 *
 * Rejected: -EPERM for every call from such a thread (what goro did: a
 * library's callback could reach Gs only through a pipe and the netpoller);
 * making the thread an M with a G of its own (Go's needm for cgo
 * callbacks: a G per foreign thread and the scheduler's locks on a path
 * that needs none of them).
 */
#include <pthread.h>

#include "runtime2.h"

_Atomic int32_t foreignthreads;

static pthread_key_t foreignkey;
static pthread_once_t foreignonce = PTHREAD_ONCE_INIT;

static void foreignexit(void *v)
{
    (void)v;
    atomic_fetch_sub(&foreignthreads, 1);
}

static void foreigninit(void)
{
    if (pthread_key_create(&foreignkey, foreignexit) != 0)
        throw("foreign: cannot create a thread-specific key");
}

void foreignthread(void)
{
    pthread_once(&foreignonce, foreigninit);
    if (pthread_getspecific(foreignkey) != NULL)
        return;
    atomic_fetch_add(&foreignthreads, 1);
    pthread_setspecific(foreignkey, (void *)1);
}

int foreignblock(struct goro_chan *c, mutex *lk, void *q, void *elem,
                 void (*enq)(void *q, sudog *sg))
{
    note n;
    sudog sg = {0};
    noteclear(&n);
    sg.elem = elem;
    sg.c = c;
    sg.tnote = &n;
    enq(q, &sg);
    unlock(lk);
    notesleep(&n);
    /* The waker set success under the channel's lock before the note. */
    return sg.success ? 0 : -EPIPE;
}

void goro_foreign_hold(void)
{
    atomic_fetch_add(&foreignthreads, 1);
}

void goro_foreign_release(void)
{
    if (atomic_fetch_sub(&foreignthreads, 1) <= 0)
        throw("goro_foreign_release without goro_foreign_hold");
}
