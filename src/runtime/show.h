/* show.h - a value named in an error message, the same way wherever the
 * message comes from: the runtime's configuration (goro_config_set) and
 * gorod's reading of its YAML file, which names a value in the file's
 * words, so that an operator sees one spelling for one mistake. */
#ifndef GORO_SHOW_H
#define GORO_SHOW_H

#include <stdbool.h>
#include <stdio.h>

/* show renders v as it is, or double-quoted with escapes when it is empty
 * or holds blanks, quotes or control bytes, into buf (len bytes), and
 * returns buf. Past 80 bytes of v it ends with "...". */
static inline const char *show(const char *v, char *buf, size_t len)
{
    bool quote = *v == '\0';
    for (const char *s = v; *s && !quote; s++)
        quote = (unsigned char)*s <= ' ' || *s == '"' || *s == 0x7f;
    size_t n = 0;
    if (quote)
        buf[n++] = '"';
    for (const char *s = v; *s && n + 8 < len; s++) {
        if (s - v == 80) {
            n += (size_t)snprintf(buf + n, len - n, "...");
            break;
        }
        unsigned char ch = (unsigned char)*s;
        if (!quote || (ch >= ' ' && ch != '"' && ch != '\\' && ch != 0x7f))
            buf[n++] = (char)ch;
        else if (ch == '"' || ch == '\\')
            n += (size_t)snprintf(buf + n, len - n, "\\%c", ch);
        else
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", ch);
    }
    if (quote)
        buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

#endif
