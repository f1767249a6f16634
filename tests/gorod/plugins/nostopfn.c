/* nostopfn.c - a plugin without stop(): its Gs wait (a channel receive, a
 * select, a sleep with the group's context, a socket read) until a wait
 * fails. gorod's cancel of its group after stop must end them all. */
#include <sys/socket.h>
#include <goro/plugin.h>

static goro_chan *never;
static int sp[2];

static void receiver(void *arg)
{
    (void)arg;
    long v;
    while (goro_chan_recv(never, &v) == 0)
        ;
}

static void selecter(void *arg)
{
    (void)arg;
    long v;
    goro_select_case cs[1] = {{never, GORO_RECV, &v, NULL}};
    while (goro_select(cs, 1, 1) >= 0)
        ;
}

static void sleeper(void *arg)
{
    (void)arg;
    goro_ctx *ctx = goro_group_ctx(goro_group_self());
    while (goro_sleep_ctx(ctx, 1000 * 1000 * 1000) == 0)
        ;
}

static void reader(void *arg)
{
    (void)arg;
    char b[16];
    while (goro_read(sp[0], b, sizeof b) > 0)
        ;
    goro_close(sp[0]);
    goro_close(sp[1]);
}

static int start(const char *args)
{
    (void)args;
    never = goro_chan_new(sizeof(long), 0);
    if (never == NULL ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) != 0)
        return 1;
    for (int i = 0; i < 1000; i++)
        goro_go(receiver, NULL);
    goro_go(selecter, NULL);
    goro_go(sleeper, NULL);
    goro_go(reader, NULL);
    goro_plugin_served(1);
    receiver(NULL);
    return 0;
}

GORO_PLUGIN_DEFINE("nostopfn", "1.0", start, NULL);
