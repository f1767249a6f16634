/* fdhog.c - a test plugin that takes, in its start(), every descriptor
 * the process may still open (as a server restarted under load accepts a
 * full queue at once), and gives them back in stop(). gorod's admin
 * socket and metrics listener must have kept their own. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <goro/plugin.h>

static int *fds;
static size_t nfds, cap;

static int start(const char *args)
{
    (void)args;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno == EMFILE || errno == ENFILE ? 0 : 1;
        if (nfds == cap) {
            size_t ncap = cap != 0 ? 2 * cap : 256;
            int *n = realloc(fds, ncap * sizeof *n);
            if (n == NULL) {
                close(fd);
                return 1;
            }
            fds = n;
            cap = ncap;
        }
        fds[nfds++] = fd;
    }
}

static void stop(void)
{
    while (nfds > 0)
        close(fds[--nfds]);
}

GORO_PLUGIN_DEFINE("fdhog", "1.0", start, stop);
