/* gdbprog.c - parked in known places for scripts/goro-gdb.py (test_gdb.c,
 * which expects parked_recv's receive on line 16): a G receives on gdb_chan
 * (unbuffered), one sends on gdb_full (full), one sleeps; on its one P the
 * main G then spawns never_started and keeps the P (preemption disabled,
 * spinning) so that G stays runnable without ever having run; it prints
 * "ready" and the four ids first. -g, pkg-config. */
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

static void never_started(void *arg)
{
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
    goro_preempt_disable();
    int64_t n = goro_go(never_started, NULL);
    printf("ready %lld %lld %lld %lld\n", (long long)r, (long long)s,
           (long long)l, (long long)n);
    fflush(stdout);
    for (;;)   /* until the test kills the process */
        __builtin_ia32_pause();
}

int main(void)
{
    goro_config cfg;
    goro_config_default(&cfg);
    cfg.procs = 1;
    return goro_run_config(&cfg, mainfn, NULL) == 0 ? 0 : 1;
}
