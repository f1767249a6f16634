/*
 * gdbscripts.S - scripts/goro-gdb.py inside libgoro.so, for gdb to load by
 * itself (gdb's ".debug_gdb_scripts section", as Go's binaries name
 * runtime-gdb.py).
 *
 * Each entry of the section is a kind byte and a NUL-terminated string;
 * kind 4 (SECTION_SCRIPT_ID_PYTHON_TEXT) is a Python script inline, its
 * first line a name for messages. gdb runs it when it loads libgoro.so
 * into a live process or a core file and the library's path is in its
 * auto-load safe-path (`set auto-load safe-path`, or add-auto-load-safe-path
 * in ~/.gdbinit; by default gdb declines, saying which line to add), after
 * which `info goroutines` and the rest work without a `source` line.
 *
 * The script goes in whole rather than as a file name (kind 1): gdb looks
 * for a named file in its current directory and source path only, where an
 * installed share/goro/goro-gdb.py is not, and a path fixed at build time
 * would name the build tree or the install PREFIX of one machine. Inline,
 * the library always carries the script that matches its structures.
 * The section is not loaded at run time (no "a" flag) and goes away with
 * strip --strip-debug, like the debug information the script needs.
 * The file must not contain a NUL byte (the entry ends at the first).
 */
        .pushsection .debug_gdb_scripts, "MS", @progbits, 1
        .byte   4                       /* SECTION_SCRIPT_ID_PYTHON_TEXT */
        .ascii  "goro-gdb.py\n"
        .incbin "scripts/goro-gdb.py"
        .byte   0
        .popsection

        .section .note.GNU-stack, "", @progbits
