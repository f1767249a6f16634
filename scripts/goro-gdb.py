# goro-gdb.py - gdb commands for goro programs (Go's runtime-gdb.py).
#
#   info goroutines          every live G: id, status or wait reason,
#                            group, stack size ("*" marks a G running on
#                            a thread: use that thread's own bt)
#   goroutine N bt           the backtrace of G N
#   goroutine all bt         the backtrace of every G
#   goroutine N CMD          any gdb command in G N's frames (info frame,
#                            frame 2, ...)
#   goro chan EXPR           a channel's state: capacity, queued values,
#                            closed, the Gs waiting to send and receive
#
# gdb loads it by itself from libgoro.so's .debug_gdb_scripts section
# (asm/gdbscripts.S) when the library's path is in its auto-load
# safe-path; or load it with `source /usr/local/share/goro/goro-gdb.py`
# (installed there by `make install`; in a tree: scripts/goro-gdb.py),
# for example in ~/.gdbinit. It works on a live process and on a core
# file, and needs libgoro.so's debug information (it is built with -g).
#
# A parked G keeps its callee-saved registers in the switch frame at
# g->sched.sp (src/runtime/asmdefs.h): rip at +56, rbp +48, rbx +40,
# r12 +32, r13 +24, r14 +16, r15 +8. `goroutine N CMD` loads them (and
# rsp = sched.sp + 64, where the G resumes) into the selected thread's
# registers, runs CMD, and puts the thread's own registers back, as Go's
# script does: gdb's unwinder then walks the G's stack by the DWARF call
# frame information. A core file's registers cannot be written: there a
# frame unwinder (GFrameUnwinder) makes the G's saved registers those of
# the caller of the thread's innermost frame, and `goroutine N bt` shows
# the frames from #1 on, renumbered. A G that has not run yet has no
# switch frame (sched.sp is 0): it is shown as "not started" with the
# function it will run.

import gdb
import gdb.unwinder

G_STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall",
            4: "waiting", 6: "dead", 8: "copystack"}
GSCAN = 0x1000
G_RUNNABLE, G_WAITING, G_DEAD, G_IDLE = 1, 4, 6, 0
SF_REGS = [("rip", 56), ("rbp", 48), ("rbx", 40), ("r12", 32), ("r13", 24),
           ("r14", 16), ("r15", 8)]
SF_SIZE = 64


def _cstr(v):
    try:
        return v.string()
    except gdb.error:
        return "?"


def allgs():
    """The live Gs, as gdb.Values of type g*."""
    try:
        n = int(gdb.parse_and_eval("allglen"))
        arr = gdb.parse_and_eval("allgs")
    except gdb.error:
        raise gdb.GdbError("goro: no allgs here (is libgoro.so loaded, "
                           "with its debug information?)")
    out = []
    for i in range(n):
        gp = arr[i]
        if int(gp) == 0:
            continue
        st = int(gp["atomicstatus"]) & ~GSCAN
        if st in (G_DEAD, G_IDLE):
            continue
        out.append(gp)
    return out


def gstatus(gp):
    st = int(gp["atomicstatus"]) & ~GSCAN
    if st == G_WAITING:
        try:
            r = int(gp["waitreason"])
            return _cstr(gdb.parse_and_eval("waitReasonStrings")[r])
        except gdb.error:
            return "waiting"
    return G_STATUS.get(st, "?")


def findg(goid):
    for gp in allgs():
        if int(gp["goid"]) == goid:
            return gp
    raise gdb.GdbError("goro: no live goroutine %d" % goid)


def ondthread(gp):
    """A G with an M is on a thread: its saved context is stale."""
    st = int(gp["atomicstatus"]) & ~GSCAN
    return st in (2, 3, 8)


class InfoGoroutines(gdb.Command):
    """info goroutines: every live G (goro)."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK,
                         gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        for gp in allgs():
            grp = ""
            if int(gp["group"]) != 0:
                grp = ' group "%s"' % _cstr(gp["group"]["name"])
            size = int(gp["stack"]["hi"]) - int(gp["stack"]["lo"])
            mark = "*" if ondthread(gp) else " "
            pc = ""
            if notstarted(gp):
                pc = ", not started (%s)" % entryname(gp)
            elif not ondthread(gp):
                sp = int(gp["sched"]["sp"])
                try:
                    rip = int(gdb.parse_and_eval(
                        "*(unsigned long *)%d" % (sp + 56)))
                    blk = gdb.block_for_pc(rip)
                    fn = blk.function if blk is not None else None
                    while blk is not None and fn is None:
                        blk = blk.superblock
                        fn = blk.function if blk is not None else None
                    pc = " 0x%x in %s" % (rip, fn.name if fn else "??")
                except (gdb.error, RuntimeError):
                    pass
            print("%s %6d %s%s, %d-byte stack%s" %
                  (mark, int(gp["goid"]), gstatus(gp), grp, size, pc))


def notstarted(gp):
    """gp has never run: no switch frame yet (gogo starts it)."""
    return (int(gp["sched"]["sp"]) == 0 and
            int(gp["atomicstatus"]) & ~GSCAN == G_RUNNABLE)


def entryname(gp):
    """The name of the function gp runs (its fn), or its address."""
    pc = int(gp["fn"])
    try:
        blk = gdb.block_for_pc(pc)
        if blk is not None and blk.function is not None:
            return blk.function.name
    except RuntimeError:
        pass
    try:   # no debug information: the symbol table's name
        out = gdb.execute("info symbol 0x%x" % pc, to_string=True)
        if not out.startswith("No symbol"):
            return out.split()[0]
    except gdb.error:
        pass
    return "0x%x" % pc


class SwitchTo:
    """Load G gp's saved registers into the selected thread for a while."""

    def __init__(self, gp):
        self.gp = gp

    def __enter__(self):
        self.frame = gdb.selected_frame()
        gdb.execute("frame 0", to_string=True)
        self.saved = {}
        for r in ["rsp"] + [name for name, _ in SF_REGS]:
            self.saved[r] = int(gdb.parse_and_eval("$" + r))
        sp = int(self.gp["sched"]["sp"])
        for name, off in SF_REGS:
            v = int(gdb.parse_and_eval("*(unsigned long *)%d" % (sp + off)))
            gdb.execute("set $%s = %d" % (name, v), to_string=True)
        gdb.execute("set $rsp = %d" % (sp + SF_SIZE), to_string=True)
        return self

    def __exit__(self, *exc):
        for r, v in self.saved.items():
            gdb.execute("set $%s = %d" % (r, v), to_string=True)
        try:
            self.frame.select()
        except gdb.error:
            pass
        return False


_ulong = None


class GFrameUnwinder(gdb.unwinder.Unwinder):
    """While `target` is set: the innermost frame's caller is that G."""

    def __init__(self):
        super().__init__("goro-g")
        self.target = None

    def __call__(self, pf):
        if self.target is None or pf.level() != 0:
            return None
        global _ulong
        if _ulong is None:
            _ulong = gdb.lookup_type("unsigned long")
        sp = int(self.target["sched"]["sp"])
        # The id's stack address is the G's sp, not the thread's: gdb
        # stops a backtrace whose frames go back down the stack ("previous
        # frame inner to this frame"), and G stacks lie anywhere.
        fid = FrameId(gdb.Value(sp).cast(_ulong), pf.read_register("rip"))
        ui = pf.create_unwind_info(fid)
        for name, off in SF_REGS:
            v = gdb.parse_and_eval("*(unsigned long *)%d" % (sp + off))
            ui.add_saved_register(name, v.cast(_ulong))
        ui.add_saved_register("rsp", gdb.Value(sp + SF_SIZE).cast(_ulong))
        return ui


class FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


_unwinder = GFrameUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def corebt(gp):
    """bt of G gp through the unwinder: frames from #1, renumbered."""
    _unwinder.target = gp
    gdb.invalidate_cached_frames()
    try:
        out = gdb.execute("bt", to_string=True)
    finally:
        _unwinder.target = None
        gdb.invalidate_cached_frames()
    n = 0
    for line in out.splitlines():
        if line.startswith("#"):
            num, rest = line.split(None, 1)
            if num == "#0":
                continue
            line = "#%-3d%s" % (n, rest)
            n += 1
        elif n == 0:
            continue
        print(line)


def haveprocess():
    try:
        return gdb.selected_inferior().pid != 0 and \
            gdb.selected_inferior().threads()[0].is_valid() and \
            "core" not in (gdb.selected_inferior().connection.type or "")
    except (AttributeError, IndexError, gdb.error):
        return gdb.selected_inferior().pid != 0


class GoroutineCmd(gdb.Command):
    """goroutine N|all CMD: run CMD (bt, info frame, ...) in G N's frames."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        words = arg.split(None, 1)
        if len(words) < 2:
            raise gdb.GdbError("usage: goroutine N|all CMD (e.g. bt)")
        if words[0] == "all":
            gs = allgs()
        else:
            try:
                gs = [findg(int(words[0], 0))]
            except ValueError:
                raise gdb.GdbError("goroutine: %s: not a G id" % words[0])
        for gp in gs:
            print("goroutine %d [%s]:" % (int(gp["goid"]), gstatus(gp)))
            if ondthread(gp):
                print("\trunning on a thread: `info threads` and that "
                      "thread's bt show its stack")
                continue
            if notstarted(gp):
                print("\tnot started: it will run %s" % entryname(gp))
                print("")
                continue
            if not haveprocess():
                if words[1].strip() not in ("bt", "backtrace", "where"):
                    raise gdb.GdbError("goroutine: a core file's registers "
                                       "cannot be set: only bt here")
                corebt(gp)
            else:
                with SwitchTo(gp):
                    gdb.execute(words[1])
            print("")


class GoroPrefix(gdb.Command):
    """goro: goro's commands (goro chan EXPR)."""

    def __init__(self):
        super().__init__("goro", gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


def waiters(q):
    ids = []
    sg = q["first"]
    while int(sg) != 0 and len(ids) < 10000:
        ids.append(int(sg["gp"]["goid"]))
        sg = sg["next"]
    return ids


class GoroChan(gdb.Command):
    """goro chan EXPR: the state of the goro_chan EXPR points to."""

    def __init__(self):
        super().__init__("goro chan", gdb.COMMAND_DATA, gdb.COMPLETE_SYMBOL)

    def invoke(self, arg, from_tty):
        try:
            ctype = gdb.lookup_type("struct goro_chan")
        except gdb.error:
            raise gdb.GdbError("goro: struct goro_chan unknown (libgoro.so's "
                               "debug information?)")
        c = gdb.parse_and_eval(arg)
        c = c.cast(ctype.pointer()).dereference()
        print("chan %s: elemsize %d, capacity %d, queued %d%s" %
              (arg, int(c["elemsize"]), int(c["dataqsiz"]), int(c["qcount"]),
               ", closed" if bool(c["closed"]) else ""))
        print("  waiting to receive: %s" %
              (" ".join("goroutine %d" % i for i in waiters(c["recvq"]))
               or "none"))
        print("  waiting to send: %s" %
              (" ".join("goroutine %d" % i for i in waiters(c["sendq"]))
               or "none"))


InfoGoroutines()
GoroutineCmd()
GoroPrefix()
GoroChan()
