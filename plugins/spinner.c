/*
 * spinner.c - CPU-bound Gs, as a gorod plugin, so that preemption shows.
 *
 * A G that never blocks would keep its thread for ever under a purely
 * cooperative scheduler. goro preempts it after its time slice in two ways
 * (goro.h): at its next function call, through the split-stack prologue
 * (counted as preempt_sync), or, in a loop that calls nothing, with a
 * signal (preempt_async). This plugin runs both kinds: Gs with an even index
 * spin calling a small function that is not inlined, Gs with an odd index
 * spin in a loop with no call at all. With more spinners than processors the
 * preemption counters in gorod's status line and metrics climb, and the
 * other plugins keep serving meanwhile.
 *
 * They really spin: the point is to take CPU. Each uses one core while it
 * runs, and with the default gs=2 two cores are kept busy (fewer when the
 * runtime has fewer processors: the Gs then take turns). To spin less,
 * disable the plugin in the configuration; there is no gs=0.
 *
 * Arguments (space-separated key=value): gs=N (1..1024, default 2). An
 * unknown key or a bad value is reported on stderr and start returns 1.
 *
 * start spawns the spinners and waits for them (a wait group): it returns 0
 * when the plugin's work is done, after stop. stop sets a flag each loop
 * reads on every iteration (a relaxed atomic load: no call, so the call-free
 * loop stays call-free), and the spinners return.
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

#define PLUGIN "spinner"

static _Atomic bool stopping;   /* relaxed: polled on every iteration */
static goro_wg *wg;             /* made at load, freed at unload */
static volatile uint64_t sink;  /* the loops' results, so they are kept */

__attribute__((constructor)) static void spinner_init(void)
{
    wg = goro_wg_new();
}

__attribute__((destructor)) static void spinner_fini(void)
{
    goro_wg_free(wg);
    wg = NULL;
}

static int spinner_arg(const char *key, const char *val, void *ctx)
{
    if (strcmp(key, "gs") != 0)
        return ARG_UNKNOWN;
    if (!plugin_parse_uint(val, 1, 1024, ctx)) {
        fprintf(stderr, "%s: gs: '%s' is not a number of Gs (1..1024)\n",
                PLUGIN, val);
        return ARG_BAD;
    }
    return ARG_OK;
}

/* step: one round of a xorshift generator; a call the compiler must make. */
static __attribute__((noinline)) uint64_t step(uint64_t x)
{
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* spin_calls: preempted at a call (the prologue of step). */
static void spin_calls(void *arg)
{
    uint64_t x = 88172645463325252ull;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed))
        x = step(x);
    sink = x;
    goro_wg_done(wg);
}

/* spin_nocall: no call in the loop: preempted only by the signal. */
static void spin_nocall(void *arg)
{
    uint64_t x = 88172645463325252ull;
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    sink = x;
    goro_wg_done(wg);
}

static int spinner_start(const char *args)
{
    uint64_t gs = 2;
    if (!plugin_args(PLUGIN, args, "gs", spinner_arg, &gs))
        return 1;
    if (wg == NULL) {
        fprintf(stderr, "%s: out of memory\n", PLUGIN);
        return 1;
    }
    for (uint64_t i = 0; i < gs; i++) {
        goro_wg_add(wg, 1);
        if (goro_go(i % 2 == 0 ? spin_calls : spin_nocall, NULL) < 0)
            goro_wg_done(wg);
    }
    goro_wg_wait(wg);
    atomic_store_explicit(&stopping, false, memory_order_relaxed);
    return 0;
}

static void spinner_stop(void)
{
    atomic_store_explicit(&stopping, true, memory_order_relaxed);
}

GORO_PLUGIN_DEFINE(PLUGIN, "1.0", spinner_start, spinner_stop);
