/*
 * configplugins.c - the plugins section: each entry checked, its args
 * read, and the entries as plugin.c keeps and compares them.
 *
 * A plugin's args is the one value of two shapes: a string, or a mapping
 * of keys to single values ({port: 7007}). No libcyaml type is either, so
 * the schema has it as CYAML_IGNORE (libcyaml skips it whatever it holds)
 * and the walk reads it (walk_args), checking each pair with its line:
 * the key a word that "key=value" cannot cut wrongly, once; the value a
 * scalar without control characters. A bad pair is reported and the walk
 * goes on. The string start() gets is made from the pairs (set_args);
 * a string's key=value words are its pairs (goro_plugin_arg), and a
 * plugin that refuses one has its message made here too
 * (gorod_arg_refusal), in the loader's words and with the pair's line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "show.h"

/* valid_arg_key: 1 to 63 letters, digits, '_', '-' or '.': a word that
 * the string form's "key=value" cannot cut in the wrong place. */
static bool valid_arg_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 63)
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
              (*k >= '0' && *k <= '9') || *k == '_' || *k == '-' ||
              *k == '.'))
            return false;
    return true;
}

/* rawargs_of: the record of the plugin whose args key is at path
 * ("plugins[N].args"), made when new; NULL when out of memory. */
static struct rawargs *rawargs_of(struct load *l, const char *path)
{
    unsigned n;
    if (sscanf(path, "plugins[%u].args", &n) != 1 || n > 1u << 20)
        return NULL;
    if (n >= l->nargs) {
        struct rawargs *a = realloc(l->args, (n + 1) * sizeof *a);
        if (a == NULL) {
            l->nomem = true;
            return NULL;
        }
        memset(a + l->nargs, 0, (n + 1 - l->nargs) * sizeof *a);
        l->args = a;
        l->nargs = n + 1;
    }
    return &l->args[n];
}

/* walk_args reads a plugin's args (w->ev is its first event): a string,
 * or a mapping of keys to single values, each checked here with its line:
 * the key a valid_arg_key, not twice; the value a scalar without NUL or
 * other control characters. A bad pair is reported and left out; the rest
 * of the file is still read (libcyaml skips args whatever it holds). */
int walk_args(struct walk *w, const char *path)
{
    struct load *l = w->l;
    struct rawargs *a = rawargs_of(l, path);
    char buf[128];
    if (a == NULL)
        return walk_skip(w);
    a->present = true;
    a->line = lineof(l, path);
    if (w->ev.type == YAML_SCALAR_EVENT) {
        const char *v = (const char *)w->ev.data.scalar.value;
        if (strlen(v) != w->ev.data.scalar.length) {
            errat(l, lineno(&w->ev.start_mark),
                  "%s: a value holding a NUL byte (\\0) is not allowed",
                  path);
            return 0;
        }
        if ((a->str = strdup(v)) == NULL)
            l->nomem = true;
        return 0;
    }
    if (w->ev.type == YAML_ALIAS_EVENT) {
        errat(l, lineno(&w->ev.start_mark), "%s: an alias (*%s) is not "
              "allowed", path, (const char *)w->ev.data.alias.anchor);
        l->hard = true;
        return 0;
    }
    if (w->ev.type != YAML_MAPPING_START_EVENT) {
        errat(l, lineno(&w->ev.start_mark), "%s: %s is not a string or a "
              "mapping of keys to single values ({port: 7007})", path,
              walk_kind(&w->ev));
        return walk_skip(w);
    }
    a->map = true;
    for (;;) {
        if (walk_next(w) != 0)
            return -1;
        if (w->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        int line = lineno(&w->ev.start_mark);
        if (w->ev.type != YAML_SCALAR_EVENT) {
            errat(l, line, "%s: %s is not allowed as a key", path,
                  walk_kind(&w->ev));
            if (w->ev.type == YAML_ALIAS_EVENT)
                l->hard = true;
            if (walk_skip(w) != 0 || walk_next(w) != 0 || walk_skip(w) != 0)
                return -1;
            continue;
        }
        char *key = strdup((const char *)w->ev.data.scalar.value);
        if (key == NULL) {
            l->nomem = true;
            return -1;
        }
        bool good = true;
        if (!valid_arg_key(key) ||
            strlen(key) != w->ev.data.scalar.length) {
            errat(l, line, "%s: %s is not a key of 1 to 63 letters, "
                  "digits, '_', '-' or '.'", path, show(key, buf, sizeof buf));
            good = false;
        }
        for (unsigned j = 0; good && j < a->n; j++)
            if (strcmp(a->kv[j].key, key) == 0) {
                errat(l, line, "%s.%s: duplicate key (first on line %d)",
                      path, key, a->kv[j].line);
                good = false;
            }
        char *sub = NULL;
        if (good && asprintf(&sub, "%s.%s", path, key) < 0) {
            free(key);
            l->nomem = true;
            return -1;
        }
        if (good)
            setline(l, sub, line);
        if (walk_next(w) != 0) {
            free(key);
            free(sub);
            return -1;
        }
        int vline = lineno(&w->ev.start_mark);
        const char *v = (const char *)w->ev.data.scalar.value;
        if (!good) {
            /* reported: the value is not looked at */
        } else if (w->ev.type == YAML_ALIAS_EVENT) {
            errat(l, vline, "%s: an alias (*%s) is not allowed", sub,
                  (const char *)w->ev.data.alias.anchor);
            l->hard = true;
            good = false;
        } else if (w->ev.type != YAML_SCALAR_EVENT) {
            errat(l, vline, "%s: %s is not a single value (a string, a "
                  "number, true or false)", sub, walk_kind(&w->ev));
            good = false;
        } else if (strlen(v) != w->ev.data.scalar.length) {
            errat(l, vline, "%s: a value holding a NUL byte (\\0) is not "
                  "allowed", sub);
            good = false;
        } else {
            for (const char *c = v; *c && good; c++)
                if ((unsigned char)*c < ' ' || *c == 0x7f) {
                    errat(l, vline, "%s: %s is not a value without control "
                          "characters (tabs, newlines)", sub,
                          show(v, buf, sizeof buf));
                    good = false;
                }
        }
        if (good) {
            gorod_arg *kv = (gorod_arg *)grow(
                a->kv, &a->cap, a->n, sizeof *kv);
            char *val = strdup(v);
            if (kv == NULL || val == NULL) {
                if (kv != NULL)
                    a->kv = kv;
                free(val);
                free(key);
                free(sub);
                l->nomem = true;
                return -1;
            }
            a->kv = kv;
            kv[a->n++] = (gorod_arg){key, val, line};
            key = NULL;
        }
        free(key);
        free(sub);
        if (walk_skip(w) != 0)
            return -1;
    }
}

/* args_words splits p->args into its blank-separated key=value words, the
 * pairs of the string form (a word without '=' or with a bad key is
 * none), each at line. */
static void args_words(struct load *l, gorod_plugin_conf *p, int line)
{
    unsigned cap = 0;
    for (const char *s = p->args; *s;) {
        size_t n = strcspn(s, " \t");
        const char *eq = memchr(s, '=', n);
        if (eq != NULL && eq > s && (size_t)(eq - s) <= 63) {
            char key[64];
            memcpy(key, s, (size_t)(eq - s));
            key[eq - s] = '\0';
            gorod_arg *kv = valid_arg_key(key)
                ? grow(p->argv, &cap, p->nargs, sizeof *kv) : NULL;
            if (valid_arg_key(key)) {
                char *k = strdup(key),
                     *v = strndup(eq + 1, n - (size_t)(eq - s) - 1);
                if (kv == NULL || k == NULL || v == NULL) {
                    if (kv != NULL)
                        p->argv = kv;
                    free(k);
                    free(v);
                    l->nomem = true;
                    return;
                }
                p->argv = kv;
                kv[p->nargs++] = (gorod_arg){k, v, line};
            }
        }
        s += n;
        s += strspn(s, " \t");
    }
}

/* set_args sets p's args from what the walk found (a: NULL when absent):
 * a string as it is, with its words as the pairs; a mapping's pairs, with
 * the string start() gets made of them. */
static void set_args(struct load *l, gorod_plugin_conf *p, struct rawargs *a)
{
    if (a == NULL || !a->present || !a->map) {
        set_string(l, &p->args, a && a->str ? a->str : "", false);
        if (p->args != NULL)
            args_words(l, p, a ? a->line : p->line);
        return;
    }
    p->args_map = true;
    p->argv = a->kv;            /* taken over */
    p->nargs = a->n;
    a->kv = NULL;
    a->n = a->cap = 0;
    size_t len = 1;
    for (unsigned j = 0; j < p->nargs; j++)
        len += strlen(p->argv[j].key) + strlen(p->argv[j].value) + 2;
    if ((p->args = malloc(len)) == NULL) {
        l->nomem = true;
        return;
    }
    size_t used = 0;
    for (unsigned j = 0; j < p->nargs; j++)
        used += (size_t)snprintf(p->args + used, len - used, "%s%s=%s",
                                 j ? " " : "", p->argv[j].key,
                                 p->argv[j].value);
    p->args[used] = '\0';
}

void check_plugin(struct load *l, const struct raw_plugin *rp,
                         unsigned i, gorod_config *c)
{
    gorod_plugin_conf *p = &c->plugins[i];
    char key[64], entry[32];
    snprintf(entry, sizeof entry, "plugins[%u]", i);
    p->line = lineof(l, entry);
    p->fixed_stack_size = 256 << 10;
    p->enabled = true;
#define PKEY(f) (snprintf(key, sizeof key, "%s." #f, entry), key)
    if (rp->name == NULL || rp->path == NULL)
        errat(l, p->line, "%s: %s missing (every plugin needs a name and a "
              "path)", entry,
              rp->name != NULL ? "path" : rp->path != NULL ? "name"
                                                           : "name and path");
    if (rp->name != NULL) {
        if (!valid_name(rp->name))
            refuse(&(struct check){l, PKEY(name), rp->name},
                   "1 to 31 letters, digits, '_' or '-'");
        for (unsigned j = 0; j < i; j++)
            if (c->plugins[j].name != NULL &&
                strcmp(c->plugins[j].name, rp->name) == 0) {
                char allowed[64];
                snprintf(allowed, sizeof allowed,
                         "unique (plugins[%u] on line %d has it too)", j,
                         c->plugins[j].line);
                refuse(&(struct check){l, PKEY(name), rp->name}, allowed);
                break;
            }
        set_string(l, &p->name, rp->name, false);
    }
    if (rp->path != NULL) {
        if (*rp->path == '\0')
            refuse(&(struct check){l, PKEY(path), rp->path},
                   "the path of a shared object");
        set_string(l, &p->path, rp->path, true);
    }
    set_args(l, p, i < l->nargs ? &l->args[i] : NULL);
    set_string(l, &p->file, l->file, false);
    p->index = i;
    if (rp->stack != NULL) {
        if (strcmp(rp->stack, "copy") != 0 && strcmp(rp->stack, "fixed") != 0)
            refuse(&(struct check){l, PKEY(stack), rp->stack},
                   "copy or fixed");
        p->fixed = strcmp(rp->stack, "fixed") == 0;
    }
    get_size(&(struct check){l, PKEY(fixed_stack_size), rp->fixed_stack_size},
             32768, 1ull << 30, false, 4096,
             "a multiple of 4096 between 32KiB and 1GiB",
             &p->fixed_stack_size);
    get_bool(&(struct check){l, PKEY(enabled), rp->enabled}, &p->enabled);
#undef PKEY
}

bool gorod_plugin_conf_equal(const gorod_plugin_conf *a,
                             const gorod_plugin_conf *b)
{
    if (a->args_map != b->args_map || a->nargs != b->nargs)
        return false;
    for (unsigned j = 0; j < a->nargs; j++)
        if (strcmp(a->argv[j].key, b->argv[j].key) != 0 ||
            strcmp(a->argv[j].value, b->argv[j].value) != 0)
            return false;
    return strcmp(a->name, b->name) == 0 && strcmp(a->path, b->path) == 0 &&
           strcmp(a->args, b->args) == 0 && a->fixed == b->fixed &&
           (!a->fixed || a->fixed_stack_size == b->fixed_stack_size) &&
           a->enabled == b->enabled;
}

void gorod_plugin_conf_clear(gorod_plugin_conf *c)
{
    free(c->name);
    free(c->path);
    free(c->args);
    free(c->file);
    for (unsigned j = 0; j < c->nargs; j++) {
        free(c->argv[j].key);
        free(c->argv[j].value);
    }
    free(c->argv);
    c->name = c->path = c->args = c->file = NULL;
    c->argv = NULL;
    c->nargs = 0;
}

bool gorod_plugin_conf_copy(gorod_plugin_conf *dst,
                            const gorod_plugin_conf *src)
{
    *dst = *src;
    dst->name = strdup(src->name ? src->name : "");
    dst->path = strdup(src->path ? src->path : "");
    dst->args = strdup(src->args ? src->args : "");
    dst->file = strdup(src->file ? src->file : "");
    dst->argv = src->nargs ? calloc(src->nargs, sizeof *dst->argv) : NULL;
    bool ok = dst->name && dst->path && dst->args && dst->file &&
              (src->nargs == 0 || dst->argv);
    dst->nargs = 0;
    for (unsigned j = 0; ok && j < src->nargs; j++) {
        gorod_arg *d = &dst->argv[j];
        *d = src->argv[j];
        d->key = strdup(src->argv[j].key);
        d->value = strdup(src->argv[j].value);
        dst->nargs++;
        ok = d->key && d->value;
    }
    if (!ok)
        gorod_plugin_conf_clear(dst);
    return ok;
}

void gorod_arg_refusal(const gorod_plugin_conf *c, unsigned i,
                       const char *allowed, char *out, size_t len)
{
    char buf[128];
    const gorod_arg *a = &c->argv[i];
    snprintf(out, len, "%s:%d: plugins[%u].args.%s: %s is not %s",
             c->file ? c->file : "?", a->line, c->index, a->key,
             show(a->value, buf, sizeof buf), allowed);
}
