/*
 * stackwave.c - waves of Gs whose stacks grow and shrink, as a gorod plugin.
 *
 * A demonstration of copying stacks: every period a wave of Gs is spawned;
 * each G recurses until it uses `depth` bytes of stack (its stack grows by
 * copying, doubling each time, from the minimum size to the next power of
 * two above depth), returns to the top, and idles, parked in goro_sleep_ns,
 * for a period. The runtime's stack scan finds a parked G that uses a small
 * part of a large stack and halves it. Each G does this CYCLES times (so a
 * shrunk stack grows again) and exits. In gorod's status line and metrics the
 * stack bytes in use rise and fall, and the grow and shrink counters climb,
 * with about gs * CYCLES Gs alive.
 *
 * Arguments (space-separated key=value): gs=N (Gs per wave, 1..1000000,
 * default 100), depth=SIZE (stack bytes each G uses at its deepest: 1KiB..
 * 256MiB, default 64KiB; a number of bytes with an optional KiB/MiB (or K/M)
 * suffix), period=DURATION (1ms..1h, default 2s; ms or s suffix, a bare
 * number is seconds). An unknown key or a bad value is reported on stderr
 * and start returns 1.
 *
 * The recursion must really use the stack: each frame holds a volatile
 * buffer of FRAME_PAD bytes, writes it, recurses, and reads it after the
 * call returns, so the compiler can neither drop the buffer nor turn the
 * recursion into a loop. The number of frames is depth / FRAME_BYTES, where
 * FRAME_BYTES is the buffer plus what a frame adds (return address, saved
 * frame pointer, spills): close to depth, not exact.
 *
 * start is the wave controller and returns when the plugin's work is done:
 * after stop, once every G it spawned has ended (a wait group). A sleeping G
 * sleeps in slices of at most a quarter second and checks the stop flag
 * between them, and a G in its recursion finishes it (milliseconds), so stop
 * takes effect within about 250 ms. stop only sets the flag.
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

#define PLUGIN      "stackwave"
#define CYCLES      3
#define FRAME_PAD   224
#define FRAME_BYTES 256
#define SLICE_NS    (250LL * 1000 * 1000)

static _Atomic bool stopping;   /* relaxed: a flag polled by sleepers */
static uint64_t depth_bytes;    /* written by start before any G reads */
static int64_t period_ns;
static goro_wg *wg;             /* made at load, freed at unload */
static volatile uint64_t sink;  /* keeps the recursion's result alive */

__attribute__((constructor)) static void stackwave_init(void)
{
    wg = goro_wg_new();
}

__attribute__((destructor)) static void stackwave_fini(void)
{
    goro_wg_free(wg);
    wg = NULL;
}

/* ---- arguments ------------------------------------------------------------- */

static bool parse_size(const char *s, uint64_t *out)
{
    uint64_t v, mul;
    const char *u;
    if (!plugin_parse_num(s, &v, &u))
        return false;
    if (*u == '\0' || strcmp(u, "B") == 0)
        mul = 1;
    else if (strcmp(u, "KiB") == 0 || strcmp(u, "K") == 0 ||
             strcmp(u, "k") == 0)
        mul = 1024;
    else if (strcmp(u, "MiB") == 0 || strcmp(u, "M") == 0)
        mul = 1024 * 1024;
    else
        return false;
    if (v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static bool parse_duration(const char *s, int64_t *out)
{
    uint64_t v, mul;
    const char *u;
    if (!plugin_parse_num(s, &v, &u))
        return false;
    if (strcmp(u, "ms") == 0)
        mul = 1000 * 1000;
    else if (*u == '\0' || strcmp(u, "s") == 0)
        mul = 1000 * 1000 * 1000;
    else
        return false;
    if (v > (uint64_t)INT64_MAX / mul)
        return false;
    *out = (int64_t)(v * mul);
    return true;
}

static int stackwave_arg(const char *key, const char *val, void *ctx)
{
    uint64_t v;
    int64_t d;
    if (strcmp(key, "gs") == 0) {
        if (!plugin_parse_uint(val, 1, 1000000, ctx)) {
            fprintf(stderr, "%s: gs: '%s' is not a number of Gs "
                    "(1..1000000)\n", PLUGIN, val);
            return ARG_BAD;
        }
    } else if (strcmp(key, "depth") == 0) {
        if (!parse_size(val, &v) || v < 1024 || v > (256u << 20)) {
            fprintf(stderr, "%s: depth: '%s' is not a size between 1KiB "
                    "and 256MiB (bytes, or with KiB/MiB)\n", PLUGIN, val);
            return ARG_BAD;
        }
        depth_bytes = v;
    } else if (strcmp(key, "period") == 0) {
        if (!parse_duration(val, &d) || d < 1000000 ||
            d > 3600LL * 1000000000) {
            fprintf(stderr, "%s: period: '%s' is not a duration between "
                    "1ms and 1h (with ms or s)\n", PLUGIN, val);
            return ARG_BAD;
        }
        period_ns = d;
    } else {
        return ARG_UNKNOWN;
    }
    return ARG_OK;
}

/* ---- the wave -------------------------------------------------------------- */

/* recurse: n more frames of about FRAME_BYTES each. noinline and the use of
 * pad after the call keep every frame and its buffer. */
static __attribute__((noinline)) uint64_t recurse(uint64_t n)
{
    volatile unsigned char pad[FRAME_PAD];
    pad[0] = (unsigned char)n;
    pad[FRAME_PAD - 1] = (unsigned char)(n >> 8);
    if (n == 0)
        return pad[0];
    return recurse(n - 1) + pad[0] + pad[FRAME_PAD - 1];
}

/* nap: sleep ns in slices, returning early once stopping. */
static void nap(int64_t ns)
{
    while (ns > 0 && !atomic_load_explicit(&stopping, memory_order_relaxed)) {
        int64_t s = ns < SLICE_NS ? ns : SLICE_NS;
        goro_sleep_ns(s);
        ns -= s;
    }
}

static void wave_g(void *arg)
{
    for (int i = 0; i < CYCLES; i++) {
        if (atomic_load_explicit(&stopping, memory_order_relaxed))
            break;
        sink += recurse(depth_bytes / FRAME_BYTES);
        nap(period_ns);
    }
    goro_wg_done(wg);
}

static int stackwave_start(const char *args)
{
    uint64_t gs = 100;
    depth_bytes = 64 * 1024;
    period_ns = 2LL * 1000 * 1000 * 1000;
    if (!plugin_args(PLUGIN, args, "gs, depth, period", stackwave_arg, &gs))
        return 1;
    if (wg == NULL) {
        fprintf(stderr, "%s: out of memory\n", PLUGIN);
        return 1;
    }
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        for (uint64_t i = 0; i < gs; i++) {
            goro_wg_add(wg, 1);
            if (goro_go(wave_g, NULL) < 0) {
                goro_wg_done(wg);
                break;
            }
        }
        nap(period_ns);
    }
    goro_wg_wait(wg);
    atomic_store_explicit(&stopping, false, memory_order_relaxed);
    return 0;
}

static void stackwave_stop(void)
{
    atomic_store_explicit(&stopping, true, memory_order_relaxed);
}

GORO_PLUGIN_DEFINE(PLUGIN, "1.0", stackwave_start, stackwave_stop);
