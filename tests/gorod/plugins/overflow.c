/*
 * overflow.c - a plugin whose G recurses without end 100 ms after start,
 * on a copying stack: the stack grows by copying until it would pass
 * stack.max_size, and the runtime stops the process with a report, for
 * the reliability tests (the report must name the plugin).
 */
#include <goro.h>
#include <goro/plugin.h>

#include <stddef.h>

static volatile int depth_limit;    /* 0: none; never set */

/* Each frame keeps 1 KiB live across the call: the recursion cannot be
 * turned into a loop, and the stack fills quickly. */
__attribute__((noinline)) static int deeper(volatile char *up, int n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    frame[1023] = up != NULL ? up[0] : 0;
    if (depth_limit != 0 && n >= depth_limit)
        return 0;
    return deeper(frame, n + 1) + frame[1023];
}

static void recurse(void *arg)
{
    (void)arg;
    goro_sleep_ns(100 * 1000 * 1000);
    deeper(NULL, 0);
}

static int overflow_start(const char *args)
{
    (void)args;
    return goro_go(recurse, NULL) > 0 ? 0 : 1;
}

GORO_PLUGIN_DEFINE("overflow", "1.0", overflow_start, NULL);
