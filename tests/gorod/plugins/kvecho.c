/* kvecho.c - a test plugin that shows what it was given: it listens on
 * 127.0.0.1 at the port of its argument `port` (goro_plugin_arg) and
 * writes to each client, then closes:
 *
 *   string: <the string start() got>
 *   <key>=<value>          one line per pair, goro_plugin_arg_at's order
 *
 * A port that is missing or not a number from 1 to 65535 is refused with
 * goro_plugin_arg_refuse (gorod names the file and line) and start returns
 * 1. start runs the accept loop until gorod cancels the group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <goro/plugin.h>

static int start(const char *args)
{
    const char *port = goro_plugin_arg("port");
    char *end = NULL;
    long n = port ? strtol(port, &end, 10) : 0;
    if (port == NULL || *port == '\0' || *end != '\0' || n < 1 || n > 65535) {
        if (port == NULL || goro_plugin_arg_refuse("port", "a port number "
                                                   "from 1 to 65535") != 0)
            fprintf(stderr, "kvecho: no port argument\n");
        return 1;
    }
    int lfd = goro_tcp_listen("127.0.0.1", (int)n, 0);
    if (lfd < 0) {
        fprintf(stderr, "kvecho: cannot listen on port %ld: %s\n", n,
                strerror(-lfd));
        return 1;
    }
    for (;;) {
        int fd = goro_accept(lfd);
        if (fd < 0)
            break;      /* cancelled: gorod stops us */
        char *out = malloc(8192);
        if (out != NULL) {
            size_t len = (size_t)snprintf(out, 8192, "string: %s\n", args);
            const char *k, *v;
            for (unsigned i = 0;
                 len < 8192 && goro_plugin_arg_at(i, &k, &v) == 0; i++)
                len += (size_t)snprintf(out + len, 8192 - len, "%s=%s\n",
                                        k, v);
            goro_write(fd, out, len < 8192 ? len : 8191);
            free(out);
        }
        goro_close(fd);
        goro_plugin_served(1);
    }
    goro_close(lfd);
    return 0;
}

GORO_PLUGIN_DEFINE("kvecho", "2.0", start, NULL);
