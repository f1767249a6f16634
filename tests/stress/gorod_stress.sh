#!/bin/sh
# gorod_stress.sh - STRESS_CONNS (10,000) TCP connections held open at once
# through gorod's echo plugin, every one served (`make stress-gorod`).
#
# Runs the real gorod on a generated configuration with the echo plugin
# alone (so that the figures are the connections' own: no other plugin's
# Gs or stacks), then tests/stress/gorod_conns: connect all (at most 256
# connects in flight), STRESS_ROUNDS rounds of one message on every
# connection with every echo checked, each followed by a sample of gorod
# (RSS, `goroctl stats`) taken while every connection is open and idle, and
# a hold of STRESS_HOLD seconds; then close all.
#
# Before starting it checks what would make the run fail for reasons that
# are not gorod's, and says which limit to raise: the loopback ephemeral
# port range must hold the connections; gorod's soft RLIMIT_NOFILE (gorod
# raises it to the hard limit at start) must hold them plus its own fds;
# the listen backlog (the echo plugin listens with SOMAXCONN, capped by
# net.core.somaxconn) is reported: with the client's connect window below
# it, a small backlog costs time, not connections.
#
# Criteria (exit 1 with the reason otherwise): all connected and every echo
# right (gorod_conns exits 0); gorod alive at every sample; after the
# client closed and SETTLE_SCANS stack scans, the live Gs are the
# baseline's again; gorod exits 0 on SIGTERM.
#
# Reports: connections, rounds, time to connect all, gorod's RSS, Gs and
# stack bytes in use at the peak (the largest RSS among the samples with
# every connection open) and the RSS cost per connection:
# (RSS at the sample - RSS of the idle baseline) / connections, at the peak
# and at the last round (after the stack scans shrank the parked Gs'
# stacks).
#
# Environment: GOROD GOROCTL PLUGINS GOROD_CONNS (the built programs), OUT
# (build/stress-gorod), STRESS_CONNS (10000), STRESS_ROUNDS (3),
# STRESS_HOLD (seconds, 3). Writes OUT/samples.csv, OUT/client.txt,
# OUT/gorod.log and OUT/summary.txt.
set -eu
PROG=stress-gorod
. "$(dirname "$0")/../soak/lib.sh"

# The hook: gorod_conns runs this script as `gorod_stress.sh sample LABEL`
# with every connection open; the parent's settings come in the
# environment.
OUT=${OUT:-build/stress-gorod}
if [ "${1:-}" = sample ]; then
    SCRATCH=$STRESS_SCRATCH
    GOROD_PID=$STRESS_GOROD_PID
    sample
    echo "$2,$RSS_KB,$GS,$STACK" >>"$STRESS_CSV"
    echo "stress-gorod: with every connection open: RSS $RSS_KB KiB," \
         "Gs $GS, stack bytes in use $STACK"
    exit 0
fi

N=${STRESS_CONNS:-10000}
ROUNDS=${STRESS_ROUNDS:-3}
HOLD=${STRESS_HOLD:-3}
SETTLE_SCANS=3
WINDOW=256
for v in N ROUNDS HOLD; do
    eval "x=\$$v"
    case "$x" in
        ''|*[!0-9]*) die "$v='$x': a whole number is allowed";;
    esac
done
[ "$N" -ge 1 ] && [ "$ROUNDS" -ge 1 ] || die "STRESS_CONNS and STRESS_ROUNDS: at least 1"
need GOROD; need GOROCTL; need GOROD_CONNS; need PLUGINS

# (awk, not read: dash's byte-at-a-time read gets one byte of a sysctl file)
set -- $(awk '{ print $1, $2 }' /proc/sys/net/ipv4/ip_local_port_range)
plo=$1 phi=$2
nports=$((phi - plo + 1))
[ "$nports" -ge "$N" ] ||
    die "net.ipv4.ip_local_port_range $plo..$phi has $nports ports for $N" \
        "connections: widen it (sysctl -w net.ipv4.ip_local_port_range=...)"
somaxconn=$(cat /proc/sys/net/core/somaxconn)
synbacklog=$(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)

mkdir -p "$OUT"
CSV=$OUT/samples.csv
scratch_init
free_port ECHO_PORT
write_config "$SCRATCH/gorod.yaml" "$ECHO_PORT" "" none
gorod_start "$SCRATCH/gorod.yaml"
nofile=$(awk '/^Max open files/ { print $4 }' "/proc/$GOROD_PID/limits")
case "$nofile" in
    unlimited) ;;
    *) nfds=$(ls "/proc/$GOROD_PID/fd" | wc -l)
       [ "$nofile" -ge $((N + nfds)) ] ||
           die "gorod's RLIMIT_NOFILE is $nofile: $N connections and its" \
               "$nfds open fds need $((N + nfds)); raise the hard limit" \
               "(ulimit -Hn, LimitNOFILE=)";;
esac
echo "stress-gorod: $N connections to gorod's echo plugin on port" \
     "$ECHO_PORT; ephemeral ports $plo..$phi ($nports), somaxconn" \
     "$somaxconn, tcp_max_syn_backlog $synbacklog, gorod's fd limit $nofile," \
     "connect window $WINDOW"

echo "label,rss_kb,gs_live,stack_bytes_inuse" >"$CSV"
sleep $((SETTLE_SCANS * SCAN_S))
sample
echo "baseline,$RSS_KB,$GS,$STACK" >>"$CSV"
base_rss=$RSS_KB base_gs=$GS base_stack=$STACK

client_rc=0
STRESS_SCRATCH=$SCRATCH STRESS_GOROD_PID=$GOROD_PID STRESS_CSV=$CSV \
GOROD_SOCKET=$SCRATCH/gorod.sock GOROCTL=$GOROCTL \
    "$GOROD_CONNS" -p "$ECHO_PORT" -n "$N" -r "$ROUNDS" -h "$HOLD" \
    -w "$WINDOW" -x "sh '$0' sample held" 2>&1 | tee "$OUT/client.txt" ||
    true
# tee's status hides the client's: its summary line tells.
line=$(grep '^gorod_conns: conns=' "$OUT/client.txt" || true)
kv() { printf '%s\n' "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
connected=$(kv connected); rounds=$(kv rounds); errors=$(kv errors)
connect_s=$(kv connect_s); round_max=$(kv round_max_s)

sleep $((SETTLE_SCANS * SCAN_S))
sample
echo "after,$RSS_KB,$GS,$STACK" >>"$CSV"
after_gs=$GS after_rss=$RSS_KB after_stack=$STACK
gorod_stop

set -- $(awk -F, '$1 == "held" { n++; if ($2 > r) { r = $2; g = $3; s = $4 }
                                 last = $2 } END { print n + 0, r + 0, g + 0, s + 0, last + 0 }' "$CSV")
nheld=$1 peak_rss=$2 peak_gs=$3 peak_stack=$4 last_rss=$5
percon() { awk -v a="$1" -v b="$base_rss" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / n }'; }
{
    echo "stress-gorod summary ($N connections, $CSV)"
    echo "  connected ${connected:-?} of $N in ${connect_s:-?} s;" \
         "${rounds:-?} round(s) of $N echoes, every one checked, the slowest" \
         "${round_max:-?} s; errors ${errors:-?}"
    echo "  gorod idle: RSS $base_rss KiB, Gs $base_gs, stack bytes in use" \
         "$base_stack"
    if [ "$nheld" -gt 0 ]; then
        echo "  gorod at the peak (all open): RSS $peak_rss KiB, Gs" \
             "$peak_gs, stack bytes in use $peak_stack;" \
             "$(percon "$peak_rss") KiB RSS per connection"
        echo "  at the last round: RSS $last_rss KiB," \
             "$(percon "$last_rss") KiB RSS per connection"
    fi
    echo "  after close and $SETTLE_SCANS scans: RSS $after_rss KiB, Gs" \
         "$after_gs, stack bytes in use $after_stack"
} | tee "$OUT/summary.txt"

fails=
[ -n "$line" ] || fails="$fails
  - gorod_conns printed no summary ($OUT/client.txt)"
[ "${connected:-0}" = "$N" ] && [ "${errors:-1}" = 0 ] &&
    [ "${rounds:-0}" = "$ROUNDS" ] || fails="$fails
  - ${connected:-?} of $N connected, ${rounds:-?} of $ROUNDS rounds right," \
    "${errors:-?} error(s) ($OUT/client.txt)"
[ "$nheld" -eq "$ROUNDS" ] || fails="$fails
  - $nheld of $ROUNDS samples with every connection open"
[ "$after_gs" -eq "$base_gs" ] || fails="$fails
  - Gs after the close: $after_gs, baseline $base_gs (they must be equal)"
if [ -n "$fails" ]; then
    echo "stress-gorod: FAIL:$fails" | tee -a "$OUT/summary.txt" >&2
    exit 1
fi
echo "stress-gorod: PASS" | tee -a "$OUT/summary.txt"
