/*
 * fixed_nosplit.c - a valid plugin built without -fsplit-stack, for
 * `stack: fixed`.
 *
 * Its code has no prologue checks, so it can only run on a fixed stack (one
 * mapping per G with a guard page, never moved): gorod must refuse it in
 * `copy` mode (no .note.GNU-split-stack) and run it in `fixed` mode. start
 * spawns a G that recurses using about 100 KiB of stack (far more than a
 * copying stack starts with, and nothing grows it), counts one request
 * served when it got back, then idles until stop. start returns 0 at once.
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define FRAME_PAD 240
#define FRAMES    (100 * 1024 / 256)

static _Atomic bool stopping;
static volatile uint64_t sink;

static __attribute__((noinline)) uint64_t recurse(int n)
{
    volatile unsigned char pad[FRAME_PAD];
    pad[0] = (unsigned char)n;
    pad[FRAME_PAD - 1] = (unsigned char)(n >> 3);
    if (n == 0)
        return pad[0];
    return recurse(n - 1) + pad[0] + pad[FRAME_PAD - 1];
}

static void work(void *arg)
{
    sink = recurse(FRAMES);
    goro_plugin_served(1);
    while (!atomic_load_explicit(&stopping, memory_order_relaxed))
        goro_sleep_ns(10 * 1000 * 1000);
}

static int fixed_start(const char *args)
{
    atomic_store_explicit(&stopping, false, memory_order_relaxed);
    return goro_go(work, NULL) > 0 ? 0 : 1;
}

static void fixed_stop(void)
{
    atomic_store_explicit(&stopping, true, memory_order_relaxed);
}

GORO_PLUGIN_DEFINE("fixed_nosplit", "1.0", fixed_start, fixed_stop);
