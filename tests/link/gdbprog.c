/* gdbprog.c - parked in known places for scripts/goro-gdb.py (test_gdb.c,
 * which expects parked_recv's receive on line 14): a G receives on gdb_chan
 * (unbuffered), one sends on gdb_full (full), one sleeps; the main G prints
 * "ready" and their ids (the P's batch of ids) and sleeps. -g, pkg-config. */
#include <goro.h>
#include <stdio.h>

goro_chan *gdb_chan, *gdb_full;
static volatile long sink;

__attribute__((noinline)) static void parked_recv(void *arg)
{
    int v = 0;
    goro_chan_recv(gdb_chan, &v);
    sink += v + (long)arg;
}

__attribute__((noinline)) static void parked_send(void *arg)
{
    int v = 7;
    goro_chan_send(gdb_full, &v);
    sink += (long)arg;
}

__attribute__((noinline)) static void parked_sleep(void *arg)
{
    goro_sleep_ns(3600LL * 1000000000);
    sink += (long)arg;
}

static void mainfn(void *arg)
{
    (void)arg;
    gdb_chan = goro_chan_new(sizeof(int), 0);
    gdb_full = goro_chan_new(sizeof(int), 1);
    int v = 1;
    goro_chan_send(gdb_full, &v);
    int64_t r = goro_go(parked_recv, NULL);
    int64_t s = goro_go(parked_send, NULL);
    int64_t l = goro_go(parked_sleep, NULL);
    goro_sleep_ns(100000000);
    printf("ready %lld %lld %lld\n", (long long)r, (long long)s,
           (long long)l);
    fflush(stdout);
    goro_sleep_ns(3600LL * 1000000000);
    sink++;
}

int main(void)
{
    return goro_run(mainfn, NULL) == 0 ? 0 : 1;
}
