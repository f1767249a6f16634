/* gdbprog.c - a program parked in known places, for scripts/goro-gdb.py
 * (tests/test_gdb.c): G 2 receives on gdb_chan (unbuffered, empty), G 3
 * sends on gdb_full (capacity 1, full), G 4 sleeps, and the main G sleeps
 * after it printed "ready". Built with the pkg-config flags, -g. */
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
    goro_go(parked_recv, NULL);
    goro_go(parked_send, NULL);
    goro_go(parked_sleep, NULL);
    goro_sleep_ns(100000000);
    printf("ready\n");
    fflush(stdout);
    goro_sleep_ns(3600LL * 1000000000);
    sink++;
}

int main(void)
{
    return goro_run(mainfn, NULL) == 0 ? 0 : 1;
}
