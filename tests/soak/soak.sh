#!/bin/sh
# soak.sh - the daemon under sustained load (`make soak`).
#
# Runs the real gorod in the foreground on a generated configuration with
# the example plugins (echo, httphello, stackwave, spinner) and drives a
# steady, moderate load with clients that are not goro: wrk against
# httphello, and tests/soak/echoload (C, epoll) against echo, whose
# connections churn (each lives about SOAK_ECHO_LIFE_MS, then closes
# gracefully and is replaced). Every SOAK_INTERVAL seconds it samples
# gorod's RSS (VmRSS) and `goroctl stats` into a CSV.
#
# Phases (t = 0 when the load starts; the load phase holds the RSS probes
# of criterion 3):
#   baseline  gorod with echo and httphello only, idle: after SETTLE_SCANS
#             stack scans, BASE_SAMPLES samples a second apart.
#   load      stackwave and spinner loaded (goroctl reload), wrk and
#             echoload for SOAK_DURATION seconds.
#   after     load stopped, stackwave and spinner unloaded again (reload),
#             SETTLE_SCANS scans later BASE_SAMPLES samples.
# stackwave and spinner are out of the baseline and after phases because
# stackwave's waves swing the stack bytes in use by some 30 MB every 2 s,
# which would hide anything the load left behind; during the load they run.
#
# Criteria; any failure exits 1 with the reason:
#   1. gorod alive and answering goroctl at every sample, and exiting 0 on
#      SIGTERM at the end.
#   2. No client error: wrk's socket errors (connect, read, write, timeout;
#      --timeout 5s) and non-2xx/3xx responses are 0; echoload's errors
#      (mismatched bytes, unexpected end of file or reset, a failed
#      connect, an echo or close stalled 10 s) are 0.
#   3. RSS drift under SOAK_MAX_DRIFT percent (5), measured by two probes
#      with the client load on: stackwave and spinner are unloaded for a
#      moment (reload), SETTLE_SCANS scans later BASE_SAMPLES samples a
#      second apart are taken, and they are loaded again. Probe 1 starts at
#      W = min(120 s, 20% of the duration), probe 2 so as to end before the
#      clients do; drift = (median(probe 2) - median(probe 1)) /
#      median(probe 1). Only growth fails. With stackwave running, RSS
#      swings between about 15 and 60 MB in regimes lasting minutes (the
#      phase of its wave timer against the stack scan's drifts), which makes
#      the median of any window a measure of that phase, not of growth (a
#      first 600 s run read +190% that way, with RSS at equal stack bytes in
#      use flat); the swing is printed too.
#   4. After the load, the live Gs are exactly the baseline's (every
#      connection G ended), and the stack bytes in use are within the
#      tolerance above the baseline (medians of the BASE_SAMPLES samples):
#      tol = Ps * 63 * min_size. A dead G keeps its starting (min_size)
#      stack on its P's free list, which holds at most 63 (gfput in
#      src/runtime/proc.c moves half of it to the global list at 64); the
#      global list's stacks are freed by the second scan that finds them
#      (stackscan, src/runtime/stack.c), and grown stacks are never kept.
#      So once the connection Gs have ended and two scans have passed, the
#      only stack bytes the load may legitimately leave are those free
#      lists, full where the baseline's were nearly empty.
#
# Environment: GOROD GOROCTL PLUGINS ECHOLOAD (the built programs), OUT
# (the build directory for the results), SOAK_DURATION (seconds, 600),
# SOAK_INTERVAL (2), SOAK_WRK_THREADS (1), SOAK_WRK_CONNS (20),
# SOAK_ECHO_CONNS (50), SOAK_ECHO_RATE (messages/s, 2000),
# SOAK_ECHO_LIFE_MS (2000), SOAK_MAX_DRIFT (5). Writes OUT/samples.csv,
# OUT/wrk.txt, OUT/echoload.txt, OUT/gorod.log and OUT/summary.txt.
set -eu
PROG=soak
. "$(dirname "$0")/lib.sh"

D=${SOAK_DURATION:-600}
I=${SOAK_INTERVAL:-2}
WRK_T=${SOAK_WRK_THREADS:-1}
WRK_C=${SOAK_WRK_CONNS:-20}
ECHO_C=${SOAK_ECHO_CONNS:-50}
ECHO_RATE=${SOAK_ECHO_RATE:-2000}
ECHO_LIFE=${SOAK_ECHO_LIFE_MS:-2000}
MAX_DRIFT=${SOAK_MAX_DRIFT:-5}
OUT=${OUT:-build/soak}
SETTLE_SCANS=3
BASE_SAMPLES=5

for v in D I WRK_T WRK_C ECHO_C ECHO_RATE ECHO_LIFE MAX_DRIFT; do
    eval "x=\$$v"
    case "$x" in
        ''|*[!0-9]*) die "$v='$x': a whole number is allowed";;
    esac
done
[ "$D" -ge 10 ] || die "SOAK_DURATION=$D: at least 10 seconds"
[ "$I" -ge 1 ] || die "SOAK_INTERVAL=$I: at least 1 second"
need GOROD; need GOROCTL; need ECHOLOAD
need PLUGINS
WRK=$(command -v wrk) || die "wrk not found (scripts/install-deps installs it)"

mkdir -p "$OUT"
CSV=$OUT/samples.csv
scratch_init
free_port ECHO_PORT
free_port HTTP_PORT
write_config "$SCRATCH/quiet.yaml" "$ECHO_PORT" "$HTTP_PORT" false
write_config "$SCRATCH/full.yaml" "$ECHO_PORT" "$HTTP_PORT" true
cp "$SCRATCH/quiet.yaml" "$SCRATCH/gorod.yaml"

echo "soak: gorod on echo port $ECHO_PORT, http port $HTTP_PORT;" \
     "load for $D s, a sample every $I s"
gorod_start "$SCRATCH/gorod.yaml"
echo "phase,t_s,rss_kb,gs_live,stack_bytes_inuse,stack_grows,stack_shrinks,served" >"$CSV"
T0=$(now_ns)
record() {   # record PHASE: one sample into the CSV
    sample
    t=$(awk -v a="$(now_ns)" -v b="$T0" 'BEGIN { printf "%.1f", (a - b) / 1e9 }')
    echo "$1,$t,$RSS_KB,$GS,$STACK,$GROWS,$SHRINKS,$SERVED" >>"$CSV"
}

# running PLUGINS: goroctl stats must show that many plugins running.
running() {
    sample
    n=$(stat_of plugins_running)
    [ "$n" = "$1" ] || { cat "$SCRATCH/gorod.log" >&2
        die "$n plugin(s) running, $1 expected (gorod's log above)"; }
}

# settled PHASE: SETTLE_SCANS stack scans, then BASE_SAMPLES samples of
# PHASE a second apart.
settled() {
    sleep $((SETTLE_SCANS * SCAN_S))
    i=0
    while [ $i -lt $BASE_SAMPLES ]; do
        record "$1"
        i=$((i + 1))
        sleep 1
    done
}

# use NAME WHAT: run on $SCRATCH/NAME.yaml (quiet: echo and httphello;
# full: with stackwave and spinner) through a reload.
use() {
    cp "$SCRATCH/$1.yaml" "$SCRATCH/gorod.yaml"
    ctl reload >/dev/null || die "goroctl reload ($2) failed"
}

# ---- baseline ----
running 2
settled baseline

# ---- load ----
use full "stackwave and spinner in"
running 4
T0=$(now_ns)
"$WRK" -t"$WRK_T" -c"$WRK_C" -d"${D}s" --timeout 5s --latency \
    "http://127.0.0.1:$HTTP_PORT/" >"$OUT/wrk.txt" 2>&1 &
WRK_PID=$!
"$ECHOLOAD" -p "$ECHO_PORT" -c "$ECHO_C" -d "$D" -r "$ECHO_RATE" \
    -l "$ECHO_LIFE" >"$OUT/echoload.txt" 2>&1 &
ECHO_PID=$!
CLEANUP_PIDS="$WRK_PID $ECHO_PID"
# probe N: RSS with the client load on but stackwave and spinner out for a
# moment (their waves swing RSS between about 15 and 60 MB in regimes that
# last minutes, as the wave and scan timers drift in phase); the drift
# criterion compares probe 1 (at W) with probe 2 (before the end).
probe() {
    use quiet "probe $1, quiet"
    settled "probe$1"
    use full "probe $1, full"
}
PROBE_S=$((SETTLE_SCANS * SCAN_S + 2 * BASE_SAMPLES))
W=$((D / 5 < 120 ? D / 5 : 120))
[ $((D - W)) -gt $((2 * PROBE_S)) ] ||
    die "SOAK_DURATION=$D is too short for two RSS probes of ${PROBE_S} s"
probed=0
last_print=0
while kill -0 "$WRK_PID" 2>/dev/null || kill -0 "$ECHO_PID" 2>/dev/null; do
    sleep "$I"
    record load
    el=${t%.*}
    if [ $probed -eq 0 ] && [ "$el" -ge "$W" ]; then
        probe 1; probed=1
    elif [ $probed -eq 1 ] && [ "$el" -ge $((D - 2 * PROBE_S)) ]; then
        probe 2; probed=2
    fi
    if [ $((el - last_print)) -ge 60 ]; then
        last_print=$el
        echo "soak: t=${el}s rss=${RSS_KB} KiB Gs=$GS stack=$STACK B" \
             "served=$SERVED"
    fi
done
wrk_rc=0; wait "$WRK_PID" || wrk_rc=$?
echo_rc=0; wait "$ECHO_PID" || echo_rc=$?
CLEANUP_PIDS=

# ---- after ----
use quiet "stackwave and spinner out"
running 2
settled after
gorod_stop

# ---- verdict ----
fails=
fail() { fails="$fails
  - $*"; }

# wrk
wrk_req=$(awk '/requests in/ { print $1 }' "$OUT/wrk.txt")
wrk_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$OUT/wrk.txt")
wrk_sock=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' \
    "$OUT/wrk.txt")
wrk_non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$OUT/wrk.txt")
[ $wrk_rc -eq 0 ] && [ -n "$wrk_req" ] ||
    fail "wrk exited with status $wrk_rc (output: $OUT/wrk.txt)"
[ "${wrk_sock:-0}" -eq 0 ] || fail "wrk: $wrk_sock socket error(s) ($OUT/wrk.txt)"
[ "${wrk_non2xx:-0}" -eq 0 ] || fail "wrk: $wrk_non2xx non-2xx/3xx response(s)"

# echoload
echo_line=$(grep '^echoload: conns=' "$OUT/echoload.txt" || true)
kv() { printf '%s\n' "$echo_line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
echo_msgs=$(kv messages); echo_rate=$(kv msgs_per_s)
echo_errs=$(kv errors); echo_conns=$(kv connects)
[ -n "$echo_line" ] || fail "echoload printed no summary (exit status $echo_rc, $OUT/echoload.txt)"
[ $echo_rc -eq 0 ] && [ "${echo_errs:-1}" -eq 0 ] ||
    fail "echoload: ${echo_errs:-?} error(s), exit status $echo_rc ($OUT/echoload.txt)"

# RSS drift: the probes' medians
rss_first=$(awk -F, '$1 == "probe1" { print $3 }' "$CSV" | median)
rss_last=$(awk -F, '$1 == "probe2" { print $3 }' "$CSV" | median)
t_first=$(awk -F, '$1 == "probe1" { print int($2) }' "$CSV" | head -n 1)
t_last=$(awk -F, '$1 == "probe2" { print int($2) }' "$CSV" | head -n 1)
if [ "$rss_first" = NA ] || [ "$rss_last" = NA ]; then
    fail "RSS drift: a probe is missing ($CSV)"
    drift_pct=NA
else
    drift_pct=$(awk -v a="$rss_first" -v b="$rss_last" 'BEGIN {
        printf "%.2f", (b - a) * 100 / a }')
    awk -v d="$drift_pct" -v m="$MAX_DRIFT" 'BEGIN { exit !(d < m) }' ||
        fail "RSS drift ${drift_pct}% >= ${MAX_DRIFT}%: probe medians" \
             "${rss_first} KiB at t=${t_first} s, ${rss_last} KiB at t=${t_last} s"
fi
swing=$(awk -F, '$1 == "load" && $2 >= '"$W"' { if (!n++ || $3 < lo) lo = $3
                     if ($3 > hi) hi = $3 } END { print lo + 0, hi + 0 }' "$CSV")

# Gs and stack bytes back to the baseline
col() { awk -F, -v p="$1" -v c="$2" '$1 == p { print $c }' "$CSV" | median; }
gs_base=$(col baseline 4); gs_after=$(col after 4)
st_base=$(col baseline 5); st_after=$(col after 5)
tol=$((PS * 63 * STACK_MIN))
[ "$gs_after" -eq "$gs_base" ] ||
    fail "Gs after the load: $gs_after, baseline $gs_base (they must be equal)"
[ $((st_after - st_base)) -le $tol ] ||
    fail "stack bytes in use after the load: $st_after, baseline $st_base:" \
         "$((st_after - st_base)) more, tolerance $tol (Ps $PS * 63 * $STACK_MIN)"

peak=$(awk -F, '$1 == "load" { if ($3 > r) r = $3; if ($4 > g) g = $4;
                                if ($5 > s) s = $5 } END { print r, g, s }' "$CSV")
grows_shrinks=$(awk -F, '$1 == "load" { g = $6; s = $7; v = $8 } END { print g, s, v }' "$CSV")
set -- $peak $grows_shrinks

{
    echo "soak summary (SOAK_DURATION=$D s, a sample every $I s: $CSV)"
    echo "  load: wrk -t$WRK_T -c$WRK_C (httphello), echoload -c $ECHO_C" \
         "-r $ECHO_RATE -l $ECHO_LIFE (echo); stackwave, spinner running"
    echo "  wrk: ${wrk_req:-?} requests, ${wrk_rps:-?} req/s, socket errors" \
         "${wrk_sock:-0}, non-2xx/3xx ${wrk_non2xx:-0}"
    echo "  echoload: ${echo_msgs:-?} echoes checked, ${echo_rate:-?} msg/s," \
         "${echo_conns:-?} connections opened, errors ${echo_errs:-?}"
    echo "  gorod served (all plugins): $6 requests; stack grows $4, shrinks $5"
    echo "  RSS probes (load on, stackwave/spinner out, median of" \
         "$BASE_SAMPLES): ${rss_first} KiB at t=${t_first:-?} s," \
         "${rss_last} KiB at t=${t_last:-?} s: drift ${drift_pct}%" \
         "(limit +${MAX_DRIFT}%)"
    echo "  RSS with every plugin, t >= $W s: $swing KiB (min, max)"
    echo "  peak under load: RSS $1 KiB, Gs $2, stack bytes in use $3"
    echo "  Gs: baseline $gs_base, after $gs_after"
    echo "  stack bytes in use: baseline $st_base, after $st_after" \
         "(tolerance +$tol)"
} | tee "$OUT/summary.txt"

if [ -n "$fails" ]; then
    echo "soak: FAIL:$fails" | tee -a "$OUT/summary.txt" >&2
    exit 1
fi
echo "soak: PASS" | tee -a "$OUT/summary.txt"
