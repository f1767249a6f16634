/*
 * configprint.c - the configuration in effect, printed (gorod --check).
 *
 * Every key, defaults and GORO_* variables included, as YAML that loads
 * again to the same configuration: paths absolute, strings double-quoted
 * with YAML's escapes, sizes and durations in the runtime's own spelling
 * (goro_format_size, goro_format_duration). The scalar keys are printed
 * by their tables' rows (print_knobs, configknobs.c; gorod's own by
 * print_key, here); the lists of listeners and plugins follow.
 */
#include <stdio.h>
#include <stdint.h>

#include "config.h"

/* utf8 decodes the UTF-8 sequence at s: its code point into *cp and its
 * length, or 0 when s does not start a well-formed sequence. */
static int utf8(const unsigned char *s, uint32_t *cp)
{
    int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4)
        return 0;
    uint32_t c = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* quoted prints s as a YAML double-quoted scalar that loads back to s.
 * Printable characters go as they are; the others (C0 and C1 controls,
 * DEL, the byte order mark, and the line breaks NEL, LS and PS, which a
 * reader would fold) are escaped: inside a quoted scalar YAML allows only
 * printable characters. Bytes that are not UTF-8 (a path from a directory
 * whose name is not) have no escape and stay as they are. */
static void quoted(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned char ch = *s;
        uint32_t cp;
        int n;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < ' ' || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else if (ch < 0x80)
            fputc(ch, f);
        else if ((n = utf8(s, &cp)) == 0)
            fputc(ch, f);
        else {
            if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
                cp == 0xfffe || cp == 0xffff)
                fprintf(f, cp < 0x100 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
            else
                fwrite(s, 1, (size_t)n, f);
            s += n;
            continue;
        }
        s++;
    }
    fputc('"', f);
}

static const char *tf(bool b)
{
    return b ? "true" : "false";
}

/* print_key writes the value of gorod's key k in c as its kind says. */
void print_key(const gorod_key *k, const gorod_config *c, FILE *f)
{
    const void *v = (const char *)c + k->off;
    char a[32];
    switch (k->kind) {
    case KEY_ENUM:
        fputs(k->names[*(const int *)v], f);
        break;
    case KEY_DURATION:
        goro_format_duration(*(const int64_t *)v, a, sizeof a);
        fputs(a, f);
        break;
    case KEY_MODE:
        fprintf(f, "%04o", *(const uint32_t *)v);
        break;
    case KEY_PATH:
    case KEY_LISTEN:
        quoted(f, *(char *const *)v);
        break;
    }
}

/* printname prints a listener's or plugin's name (letters, digits, '_'
 * and '-': valid_name) plain, as it is written, unless it begins with '-'
 * ("-" alone would read back as a sequence entry): then quoted. */
static void printname(FILE *f, const char *name)
{
    if (name[0] == '-')
        quoted(f, name);
    else
        fputs(name, f);
}

void gorod_config_print(const gorod_config *c, FILE *f)
{
    char a[32];
    print_knobs(c, f);
    fprintf(f, "listeners:%s\n", c->nlisteners ? "" : " []");
    for (unsigned i = 0; i < c->nlisteners; i++) {
        const gorod_listener_conf *n = &c->listeners[i];
        fputs("  - name: ", f);
        printname(f, n->name);
        fputs("\n    address: ", f);
        quoted(f, n->address);
        fprintf(f, "\n    backlog: %u\n", n->backlog);
    }
    fprintf(f, "plugins:%s\n", c->nplugins ? "" : " []");
    for (unsigned i = 0; i < c->nplugins; i++) {
        const gorod_plugin_conf *p = &c->plugins[i];
        fputs("  - name: ", f);
        printname(f, p->name);
        fputs("\n    path: ", f);
        quoted(f, p->path);
        fprintf(f, "\n    args: ");
        if (p->args_map) {
            fputc('{', f);
            for (unsigned j = 0; j < p->nargs; j++) {
                fputs(j ? ", " : "", f);
                quoted(f, p->argv[j].key);
                fputs(": ", f);
                quoted(f, p->argv[j].value);
            }
            fputc('}', f);
        } else {
            quoted(f, p->args);
        }
        goro_format_size(p->fixed_stack_size, a, sizeof a);
        fprintf(f, "\n    stack: %s\n    fixed_stack_size: %s\n"
                   "    enabled: %s\n",
                p->fixed ? "fixed" : "copy", a, tf(p->enabled));
    }
}

