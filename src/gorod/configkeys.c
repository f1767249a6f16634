/*
 * configkeys.c - gorod's own scalar keys: one table, read by everything.
 *
 * Each of gorod's own keys (log, admin and metrics, the intervals at the
 * top) is one row of keys[] below, in the manner of the runtime's knobs
 * (src/runtime/config.c): its key as gorod.yaml spells it, its kind (how
 * it is read and printed), its default as text, the values allowed (bounds
 * and the words that say so in a message), one line of documentation, and
 * the field of gorod_config it fills. Everything that deals with a key
 * reads the row:
 *
 *   configknobs.c      the schema's fields (after the runtime's), and the
 *                      loop over the rows that checks and prints them;
 *   config.c           check_key: a row's default, then the file's text,
 *                      parsed by its kind and refused in the row's words
 *                      ("admin.mode: 0999 is not an octal mode from 0 to
 *                      0777");
 *   configprint.c      print_key: the value as gorod --check prints it;
 *   scripts/knobdoc.c  gorod.yaml's comments on these keys and their
 *                      paragraphs in gorod.yaml(5), from pub (it includes
 *                      this file); tests/test_config.c fails when the
 *                      comments drift.
 *
 * So a new key is one row and its field in gorod_config. The file is data
 * only, so that knobdoc and the runtime's tests can include it without
 * gorod's loader.
 *
 * Not rows: the entries of listeners and plugins. Each is a list of
 * mappings whose keys are checked together (a name unique among the
 * entries, name and address or path required, a plugin's args a string or
 * a mapping read by the walk), whose messages name the entry
 * (plugins[2].name) and whose values go into an array of structs, not one
 * field of gorod_config: a row would carry a flag for each of those, for
 * a handful of keys each. They are written out in config.c and
 * configplugins.c and documented in gorod.yaml's comments by hand.
 *
 * Rejected, as for the runtime's table: bounds derived from the words of
 * the message or the other way round (the messages are an interface), and
 * defaults kept as values beside a text to print.
 */
#include <stddef.h>
#include <sys/un.h>

#include "config.h"
#include "sockrecord.h"

/* The words log.level takes, in GLOG_* order, as the log lines say them. */
const char *const gorod_level_names[GLOG_DEBUG + 2] = {
    [GLOG_ERROR] = "error", [GLOG_WARN] = "warn", [GLOG_INFO] = "info",
    [GLOG_DEBUG] = "debug", NULL};

/* The words log.target keeps as they are instead of a path. */
static const char *const logwords[] = {"stderr", "syslog", NULL};

/* The longest socket path, which admin.socket's words say. */
#define SOCKET_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
_Static_assert(SOCKET_MAX == 107, "admin.socket's allowed words say 107");

/* AT(f, T): the offset of field f of gorod_config, which must be of type T
 * (the kind's type: a row of the wrong kind does not compile). */
#define AT(f, T) \
    (offsetof(gorod_config, f) + \
     0 * sizeof(_Generic(((gorod_config *)0)->f, T: 1)))
#define ROW(key, def, allowed, doc) \
    {key, NULL, 0, def, allowed, NULL, NULL, NULL, doc}

/* The keys, in the order gorod.yaml lists them and gorod --check prints
 * them. */
static const gorod_key keys[] = {
    {ROW("log.level", "info", "one of error, warn, info, debug",
         "Which messages are logged: those of this level and the more "
         "severe."),
     KEY_ENUM, AT(log.level, int), 0, 0, false, gorod_level_names},
    {ROW("log.target", "stderr", "stderr, syslog or a file path",
         "Where the log goes: stderr, syslog, or the path of a file to "
         "append to."),
     KEY_PATH, AT(log.target, char *), 0, 0, false, logwords},
    {ROW("admin.socket", GOROD_SYSTEM_SOCKET,
         "a socket path of at most 107 bytes once resolved",
         "The admin socket goroctl talks to; \"\" for none."),
     KEY_PATH, AT(admin.socket, char *), 0, SOCKET_MAX, true, NULL},
    {ROW("admin.mode", "0660", "an octal mode from 0 to 0777",
         "The admin socket's permissions, octal as chmod takes them (0660, "
         "660, 0o660)."),
     KEY_MODE, AT(admin.mode, uint32_t), 0, 0777, false, NULL},
    {ROW("metrics.listen", "127.0.0.1:9464",
         "\"\" or HOST:PORT with an IPv4 address or a [bracketed] IPv6 "
         "address and a port from 1 to 65535",
         "Where the Prometheus exposition is served (\"[::1]:9464\" on "
         "IPv6); \"\" for nowhere."),
     KEY_LISTEN, AT(metrics.listen, char *), 0, 0, false, NULL},
    {ROW("status_interval", "5s", "0 or a duration from 1s to 1h",
         "How often the one-line status is logged; 0: never."),
     KEY_DURATION, AT(status_interval_ns, int64_t), 1000000000,
     3600000000000, true, NULL},
    {ROW("shutdown_timeout", "10s", "a duration from 100ms to 10m",
         "How long shutdown waits for the plugins' Gs after calling their "
         "stop."),
     KEY_DURATION, AT(shutdown_timeout_ns, int64_t), 100000000,
     600000000000, false, NULL},
};

const gorod_key *gorod_key_at(size_t i)
{
    return i < sizeof keys / sizeof keys[0] ? &keys[i] : NULL;
}
