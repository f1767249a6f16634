/* stubborn.c - a test plugin that ignores stop(): start spawns Gs that
 * never end, of the kind given by args (default "spin,read"): `spin`, a
 * loop that calls nothing; `call`, a loop of calls; `read`, two Gs in a
 * read of a pipe nobody writes (a blocking call of the G, bracketed by the
 * wrapped read). Shutdown must still end at its deadline, exit 1. */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <goro/plugin.h>

static atomic_bool never;   /* never set: the loops run for ever */
static int pipefd[2];

static void spin(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&never, memory_order_relaxed))
        ;
}

static __attribute__((noinline)) void step(volatile long *x)
{
    ++*x;
}

static void call(void *arg)
{
    (void)arg;
    volatile long x = 0;
    while (!atomic_load_explicit(&never, memory_order_relaxed))
        step(&x);
}

static void reader(void *arg)
{
    (void)arg;
    char c;
    ssize_t n = read(pipefd[0], &c, 1);
    (void)n;
}

static int start(const char *args)
{
    if (args == NULL || args[0] == '\0')
        args = "spin,read";
    if (strstr(args, "read") != NULL) {
        if (pipe(pipefd) != 0)
            return 1;
        for (int i = 0; i < 2; i++)
            if (goro_go(reader, NULL) < 0)
                return 1;
    }
    if (strstr(args, "spin") != NULL && goro_go(spin, NULL) < 0)
        return 1;
    if (strstr(args, "call") != NULL && goro_go(call, NULL) < 0)
        return 1;
    return 0;
}

static void stop(void)
{
}

GORO_PLUGIN_DEFINE("stubborn", "1.0", start, stop);
