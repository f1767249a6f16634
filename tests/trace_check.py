#!/usr/bin/env python3
"""trace_check.py [--procs N] [--drop N] [--break after|by] FILE IOFD:
check the execution trace (src/runtime/trace.c) that
tests/link/traceprog.c wrote to FILE; IOFD is the pipe fd it printed.

Every event is checked against the Trace Event Format (strict JSON, the
fields each phase needs), then the program's known behaviour: each G's
state slices follow each other without a gap or an overlap, each naming
the state the previous one said comes next; the counts of waits, yields,
stack growths, preemptions and creations; the wait reasons; the netpoll
wake's fd; runs on one P never overlap; a G that unparks another runs
then; a G shown starting straight after another's stop (args.after)
starts on the P that G's run ended on, at that moment; with --procs 1
the ping-pong's hand-overs are such switches. Prints what failed and
exits 1. To show that the check notices, --drop N first removes the Nth
state slice of the file that has one of its G before and after it,
--break after names another G in the first "after", --break by names the
unparked G itself as its waker in the first unpark by a G. Used by
tests/test_trace.c."""
import collections
import json
import sys

ROUNDS = 10          # traceprog.c's
WORKERS = ["echoer", "sleeper", "recurser", "yielder", "syscaller",
           "iowaiter", "spinner"]
EPS = 0.0015         # microseconds: the file's 3 decimals, rounded twice

errors = []


def fail(msg):
    errors.append(msg)


def reject_constant(name):
    raise ValueError("not JSON: " + name)


def main():
    argv = sys.argv[1:]
    opts = {}
    while argv[:1] and argv[0].startswith("--"):
        opts[argv[0]], argv = argv[1], argv[2:]
    path, iofd = argv[0], int(argv[1])
    procs = int(opts.get("--procs", 0))
    with open(path) as f:
        events = json.load(f, parse_constant=reject_constant)
    if "--drop" in opts:
        # A state between two others of its G: a G's first or last may
        # rightly be missing (one that lived before the trace, or still
        # runs at its end), and which those are in the file's order
        # depends on when each buffer was written.
        byg = collections.defaultdict(list)
        for i, e in enumerate(events):
            if isinstance(e, dict) and e.get("ph") == "X" \
                    and e.get("pid") == 2:
                byg[e.get("tid")].append(i)
        inner = sorted(i for ss in byg.values()
                       for i in sorted(ss, key=lambda i: events[i]["ts"])[1:-1])
        del events[inner[int(opts["--drop"]) % len(inner)]]
    brk = opts.get("--break")
    for e in events:
        args = e.get("args", {}) if isinstance(e, dict) else {}
        if brk == "after" and "after" in args:
            args["after"] = args["goid"]
            break
        if brk == "by" and e.get("name") == "unpark" and args.get("by"):
            args["by"] = args["goid"]
            break
    if not isinstance(events, list) or not events:
        print("not a JSON array of events")
        return 1

    # The format: the fields each phase needs.
    for e in events:
        if not isinstance(e, dict):
            fail("not an object: %r" % (e,))
            continue
        ph = e.get("ph")
        if ph not in ("M", "X", "i") or e.get("pid") not in (1, 2) \
                or not isinstance(e.get("tid"), int) \
                or not isinstance(e.get("name"), str):
            fail("bad event: %r" % (e,))
            continue
        if ph == "M":
            if e["name"] not in ("process_name", "thread_name",
                                 "thread_sort_index") or "args" not in e:
                fail("bad metadata: %r" % (e,))
            continue
        ts = e.get("ts")
        if not isinstance(ts, (int, float)) or ts < 0:
            fail("bad ts: %r" % (e,))
        args = e.get("args", {})
        if not isinstance(args.get("goid"), int) or \
                not isinstance(args.get("ev"), str):
            fail("no goid or ev: %r" % (e,))
        if ph == "X":
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0 \
                    or not isinstance(args.get("next"), str):
                fail("bad slice: %r" % (e,))
        elif e.get("s") not in ("t", "g"):
            fail("bad instant: %r" % (e,))
    if errors:
        return report()

    # Which G runs which function.
    goid = {}
    for e in events:
        if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == 2:
            parts = e["args"]["name"].split(" ")
            if len(parts) == 2:
                goid[parts[1]] = int(parts[0][1:])
    for fn in WORKERS + ["mainfn"]:
        if fn not in goid:
            fail("no track named after %s: %s" % (fn, sorted(goid)))
    if errors:
        return report()
    main_g = goid["mainfn"]

    slices = collections.defaultdict(list)   # goid -> state slices
    instants = collections.defaultdict(list)  # goid -> instants
    runs = collections.defaultdict(list)     # P -> run slices
    for e in events:
        if e["ph"] == "X" and e["pid"] == 2:
            slices[e["tid"]].append(e)
        elif e["ph"] == "X" and e["pid"] == 1:
            runs[e["tid"]].append(e)
        elif e["ph"] == "i" and e["pid"] == 2:
            instants[e["tid"]].append(e)

    # Each G's states, in order: walk the chain from the first slice, each
    # next one beginning where the last ended and named as it announced.
    chains = {}
    for g, ss in slices.items():
        rest = sorted(ss, key=lambda s: (s["ts"], s["dur"]))
        chain = [rest.pop(0)]
        while rest:
            last = chain[-1]
            end = last["ts"] + last["dur"]
            want = last["args"]["next"]
            pick = None
            for i, s in enumerate(rest):
                if abs(s["ts"] - end) <= EPS and s["name"] == want:
                    pick = i
                    break
                if s["ts"] > end + EPS:
                    break
            if pick is None:
                fail("G%d: after %s ending at %.3f (next %r) comes %s at "
                     "%.3f" % (g, last["name"], end, want, rest[0]["name"],
                               rest[0]["ts"]))
                break
            chain.append(rest.pop(pick))
        chains[g] = chain

    def names(fn, ev=None):
        return [s["name"] for s in chains.get(goid[fn], [])
                if ev is None or s["args"]["ev"] == ev]

    # In time order: the buffers of different Ps come in any order.
    def inst(fn, name):
        return sorted((i for i in instants.get(goid[fn], [])
                       if i["name"] == name), key=lambda i: i["ts"])

    created = [i for g in instants for i in instants[g]
               if i["name"] == "created"]
    if len(created) != 1 + len(WORKERS) and len(created) != len(WORKERS):
        fail("%d creations, not %d" % (len(created), 1 + len(WORKERS)))
    running_at_end = []
    for fn in WORKERS:
        c = inst(fn, "created")
        if len(c) != 1 or c[0]["args"]["parent"] != main_g:
            fail("%s: created %r, not once by G%d" % (fn, c, main_g))
        ch = chains.get(goid[fn], [])
        if not ch or ch[0]["name"] != "runnable":
            fail("%s: does not begin runnable: %r" % (fn, ch[:1]))
        # The last G to call goro_wg_done may still run when the main G
        # (and the trace) ends: that one may end running, or runnable if
        # a preemption stopped it after its goro_wg_done.
        last = ch[-1]["args"] if ch else {}
        if last.get("next") not in ("dead", "running") and \
                (last.get("next"), last.get("ev")) != ("runnable",
                                                       "GoPreempt"):
            fail("%s: does not end dead (nor running, nor preempted)" % fn)
        if last.get("next") in ("running", "runnable"):
            running_at_end.append(fn)
        elif sum(1 for s in ch if s["args"]["ev"] == "GoEnd") != 1:
            fail("%s: not one GoEnd" % fn)
    if len(running_at_end) > 1:
        fail("more than one G still running at the end: %r" % running_at_end)

    # Each hand-over on an unbuffered channel has exactly one party parked:
    # 2 * ROUNDS of them, and the echoer's last receive, which the close
    # ends, or not (if it came after).
    chanwaits = sum(1 for fn in ("mainfn", "echoer") for n in names(fn)
                    if n in ("chan send", "chan receive"))
    if not 2 * ROUNDS <= chanwaits <= 2 * ROUNDS + 1:
        fail("%d channel waits of mainfn and echoer, not %d or %d"
             % (chanwaits, 2 * ROUNDS, 2 * ROUNDS + 1))
    if names("mainfn").count("wait group") > 2:
        fail("mainfn waited on its two wait groups more than twice")
    if names("sleeper").count("sleep") != 3:
        fail("sleeper: %d sleeps, not 3: %r" % (names("sleeper").count("sleep"),
                                               names("sleeper")))
    io = [n for n in names("iowaiter") if n.startswith("IO wait")]
    wake = inst("iowaiter", "netpoll wake")
    if len(io) != 1 or len(wake) != 1 or wake[0]["args"]["fd"] != iofd:
        fail("iowaiter: IO waits %r, netpoll wakes %r (fd %d)"
             % (io, wake, iofd))
    if len(names("yielder", "GoSched")) != 5:
        fail("yielder: %d yields, not 5" % len(names("yielder", "GoSched")))
    if "syscall" not in names("syscaller"):
        fail("syscaller: no syscall: %r" % names("syscaller"))
    grows = inst("recurser", "stack grow")
    sizes = [(g["args"]["old"], g["args"]["new"]) for g in grows]
    if not sizes or any(n <= o or n & (n - 1) for o, n in sizes) or \
            any(sizes[i][1] != sizes[i + 1][0] for i in range(len(sizes) - 1)) \
            or sizes[-1][1] < 64 * 1024:
        fail("recurser: stack growths %r" % sizes)
    pre = inst("spinner", "preempt (async)") + inst("spinner", "preempt (sync)")
    if not inst("spinner", "preempt (async)"):
        fail("spinner: no asynchronous preemption")
    if len(names("spinner", "GoPreempt")) != len(pre):
        fail("spinner: %d GoPreempt, %d preemptions"
             % (len(names("spinner", "GoPreempt")), len(pre)))

    # A G that unparks another runs then: within one of its running
    # slices, or after the last, if it was still running at the end.
    def running_at(g, t):
        ch = chains.get(g, [])
        for s in ch:
            if s["name"] == "running" and \
                    s["ts"] - EPS <= t <= s["ts"] + s["dur"] + EPS:
                return True
        return bool(ch) and ch[-1]["args"]["next"] == "running" and \
            t >= ch[-1]["ts"] + ch[-1]["dur"] - EPS
    unparks = [i for g in instants for i in instants[g]
               if i["name"] == "unpark"]
    for u in unparks:
        by = u["args"]["by"]
        if by != 0 and not running_at(by, u["ts"]):
            fail("G%d unparked at %.3f by G%d, which did not run then"
                 % (u["tid"], u["ts"], by))

    # A start straight after a stop (one record a switch): the stopped G's
    # run ended on the same P at the moment the successor's runnable state
    # ends.
    switches = 0
    for g, ch in chains.items():
        for s in ch:
            after = s["args"].get("after")
            if after is None:
                continue
            switches += 1
            t = s["ts"] + s["dur"]
            if s["args"]["ev"] != "GoStart" or not any(
                    r["name"] == "running" and r["args"].get("p") ==
                    s["args"].get("p") and
                    abs(r["ts"] + r["dur"] - t) <= EPS
                    for r in chains.get(after, [])):
                fail("G%d starts at %.3f on P%s after G%d, whose run did "
                     "not end there then" % (g, t, s["args"].get("p"), after))
    if procs == 1 and switches < ROUNDS:
        fail("%d starts straight after a stop on one P, not at least %d "
             "(the ping-pong's)" % (switches, ROUNDS))

    # A P runs one G at a time.
    for pid, rs in runs.items():
        rs.sort(key=lambda s: s["ts"])
        for a, b in zip(rs, rs[1:]):
            if b["ts"] < a["ts"] + a["dur"] - EPS:
                fail("P%d: %s [%.3f +%.3f] overlaps %s at %.3f"
                     % (pid, a["name"], a["ts"], a["dur"], b["name"], b["ts"]))
                break
    return report(len(events))


def report(n=0):
    for e in errors[:20]:
        print(e)
    if errors:
        print("%d errors" % len(errors))
        return 1
    print("trace ok: %d events" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
