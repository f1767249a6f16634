/*
 * elfnote.c - whether a shared object was built with goro's split-stack flags.
 *
 * gcc and clang mark every object file compiled with -fsplit-stack with an
 * empty section named .note.GNU-split-stack, and the linker keeps it in the
 * shared object when all of its inputs have it (gold also reads it to decide
 * which calls need the non-split headroom; see SPLIT-STACK.md). A plugin
 * without it has functions with no prologue check: run on a small copying
 * stack they would overflow it silently. gorod refuses such a plugin unless
 * its configuration says `stack: fixed`. One that has it must also have
 * .note.goro, the note of goro's morestack stubs (asm/morestack_stub.S):
 * without them its prologues would call libgcc's segmented-stack
 * __morestack, linked in silently when the stubs are missing.
 *
 * The check reads the ELF header and the section header table with pread,
 * then the section-header string table (e_shstrndx), and looks for the name.
 * Nothing is mapped; only what is needed is read, so a large file costs a few
 * small reads. The file comes from a configuration and may be anything: every
 * offset and size is checked against the file's size before it is used, every
 * string read is bounded by its section, and a malformed file is an answer
 * (-1 and a reason), never a crash. Only <elf.h> is used (no libelf).
 *
 * Section headers, not program headers: a note section with no contents
 * occupies no PT_NOTE segment, so the section table is the only place the
 * mark exists. A stripped object keeps its section headers (strip removes
 * .symtab, not the table), so this works on installed plugins.
 */
#include "gorod.h"

#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Refuse tables larger than this: no real shared object has 64Ki sections
 * with a 16 MiB name table, and it bounds the memory a hostile file costs. */
#define MAX_SHNUM     65536u
#define MAX_STRTAB    (16u << 20)

static int fail(char *why, size_t len, const char *msg)
{
    if (why != NULL && len > 0)
        snprintf(why, len, "%s", msg);
    return -1;
}

/* read_at: exactly n bytes at off, or -1 (a short read is a truncated file). */
static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done,
                          (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0) {
            errno = 0;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* in_file: whether [off, off+n) lies inside a file of size fsize. */
static bool in_file(uint64_t off, uint64_t n, uint64_t fsize)
{
    return off <= fsize && n <= fsize - off;
}

int elf_has_section(const char *path, const char *name, char *why, size_t len)
{
    int fd = -1, ret = -1;
    Elf64_Shdr *sh = NULL;
    char *names = NULL;
    char msg[256] = "";

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, sizeof msg, "%s", strerror(errno));
        return fail(why, len, msg);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(msg, sizeof msg, "%s", strerror(errno));
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, sizeof msg, "not a regular file");
        goto err;
    }
    uint64_t fsize = (uint64_t)st.st_size;

    unsigned char ident[EI_NIDENT];
    if (fsize < EI_NIDENT || read_at(fd, ident, EI_NIDENT, 0) < 0 ||
        memcmp(ident, ELFMAG, SELFMAG) != 0) {
        snprintf(msg, sizeof msg, "not an ELF file");
        goto err;
    }
    if (ident[EI_CLASS] == ELFCLASS32) {
        snprintf(msg, sizeof msg, "32-bit ELF");
        goto err;
    }
    if (ident[EI_CLASS] != ELFCLASS64) {
        snprintf(msg, sizeof msg, "bad ELF class %u", ident[EI_CLASS]);
        goto err;
    }
    if (ident[EI_DATA] != ELFDATA2LSB) {
        snprintf(msg, sizeof msg, "not a little-endian ELF file");
        goto err;
    }

    Elf64_Ehdr eh;
    if (fsize < sizeof eh || read_at(fd, &eh, sizeof eh, 0) < 0) {
        snprintf(msg, sizeof msg, "truncated ELF header");
        goto err;
    }
    if (eh.e_machine != EM_X86_64) {
        snprintf(msg, sizeof msg, "not an x86-64 ELF file (machine %u)",
                 eh.e_machine);
        goto err;
    }
    if (eh.e_type != ET_DYN) {
        snprintf(msg, sizeof msg, "not a shared object (ELF type %u)",
                 eh.e_type);
        goto err;
    }
    if (eh.e_shoff == 0) {
        snprintf(msg, sizeof msg, "no section headers");
        goto err;
    }
    if (eh.e_shentsize != sizeof(Elf64_Shdr)) {
        snprintf(msg, sizeof msg, "bad section header size %u",
                 eh.e_shentsize);
        goto err;
    }

    /* Section 0 holds the real count and string table index when they do
     * not fit in the header's 16-bit fields. */
    Elf64_Shdr sh0;
    if (!in_file(eh.e_shoff, sizeof sh0, fsize) ||
        read_at(fd, &sh0, sizeof sh0, eh.e_shoff) < 0) {
        snprintf(msg, sizeof msg, "truncated section headers");
        goto err;
    }
    uint64_t shnum = eh.e_shnum ? eh.e_shnum : sh0.sh_size;
    uint64_t shstrndx = eh.e_shstrndx == SHN_XINDEX ? sh0.sh_link
                                                    : eh.e_shstrndx;
    if (shnum == 0 || shnum > MAX_SHNUM) {
        snprintf(msg, sizeof msg, "bad section count %llu",
                 (unsigned long long)shnum);
        goto err;
    }
    if (shstrndx == SHN_UNDEF || shstrndx >= shnum) {
        snprintf(msg, sizeof msg, "bad section name table index %llu",
                 (unsigned long long)shstrndx);
        goto err;
    }
    uint64_t tabsize = shnum * sizeof(Elf64_Shdr);
    if (!in_file(eh.e_shoff, tabsize, fsize)) {
        snprintf(msg, sizeof msg, "truncated section headers");
        goto err;
    }
    sh = malloc(tabsize);
    if (sh == NULL) {
        snprintf(msg, sizeof msg, "%s", strerror(ENOMEM));
        goto err;
    }
    if (read_at(fd, sh, tabsize, eh.e_shoff) < 0) {
        snprintf(msg, sizeof msg, "truncated section headers");
        goto err;
    }

    const Elf64_Shdr *st_sh = &sh[shstrndx];
    if (st_sh->sh_type != SHT_STRTAB) {
        snprintf(msg, sizeof msg, "section name table is not a string table");
        goto err;
    }
    if (st_sh->sh_size == 0 || st_sh->sh_size > MAX_STRTAB ||
        !in_file(st_sh->sh_offset, st_sh->sh_size, fsize)) {
        snprintf(msg, sizeof msg, "truncated section name table");
        goto err;
    }
    size_t nsize = (size_t)st_sh->sh_size;
    names = malloc(nsize + 1);
    if (names == NULL) {
        snprintf(msg, sizeof msg, "%s", strerror(ENOMEM));
        goto err;
    }
    if (read_at(fd, names, nsize, st_sh->sh_offset) < 0) {
        snprintf(msg, sizeof msg, "truncated section name table");
        goto err;
    }
    names[nsize] = '\0';    /* a last name without its NUL stays bounded */

    ret = 0;
    for (uint64_t i = 1; i < shnum; i++) {
        uint64_t off = sh[i].sh_name;
        if (off >= nsize)
            continue;       /* a bad name cannot be ours */
        if (strcmp(names + off, name) == 0) {
            ret = 1;
            break;
        }
    }
    free(names);
    free(sh);
    close(fd);
    return ret;

err:
    if (msg[0] == '\0')
        snprintf(msg, sizeof msg, "unreadable");
    free(names);
    free(sh);
    if (fd >= 0)
        close(fd);
    return fail(why, len, msg);
}

int elf_has_split_stack_note(const char *path, char *why, size_t len)
{
    return elf_has_section(path, ".note.GNU-split-stack", why, len);
}
