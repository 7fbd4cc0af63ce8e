#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Long route operations in slices: `route load` of 262,144 routes and
# `route flush` of them send progress lines while other clients are served,
# and end with the same summary as ever. fp6d runs on net_null ports.
#
# Checks:
#  0. A route load in the startup config (--config) is applied whole before
#     fp6d answers its first request.
#  1. route.load on the socket: progress lines come (more:true, no data),
#     lines and bytes growing, bytes_total the file's size; the last line is
#     the summary (every line applied).
#  2. While it runs, a second client's route get and port show are answered
#     within 250 ms each (figures printed); another route load and a route
#     flush are refused with "in progress".
#  3. route.flush sends progress (removed of total) and removes them all.
#  4. fp6ctl on a terminal redraws one progress line ("\r"), then prints
#     the summary; with -j on a terminal only the JSON; into a pipe only the
#     summary line.
#  5. A client that leaves after the first progress line: the load goes on
#     to its end (every route in the table, the summary in fp6d's log), and
#     the next load is accepted.
#  6. A bad line late in a sliced load is reported with its number.
#     6b. Whole "route add|del PREFIX via GW dev NAME" lines (the quick path
#     of a routing daemon's churn) apply and undo each other; a del of a
#     route that is not there is refused with its line number.
#  7. With a small FIB (--fib-groups 64), a load of many lines that fill
#     more than one slice, then routes that do not fit, reports "table
#     full" on the first line that did not fit.
#
# Usage: route_progress_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

daemon_dirs pg-progress
drive() { /usr/bin/python3 "$HERE/route_progress.py" "$@"; }
ctl() { "$FP6CTL" --socket "$sock" --timeout 60 "$@"; }
# jget EXPR: evaluate EXPR over the JSON on stdin (as d) and print it.
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
static_routes() { ctl -j stats show | jget 'd["routes"]["static"]'; }

# start NAME [EXTRA-CONFIG-LINE] [FP6D-OPTION...]: fp6d with a startup config
# of two net_null ports with an address and a neighbour each, a route via
# p1, then EXTRA-CONFIG-LINE.
start() {
    local conf=$run_dir/fp6d-$1.conf n
    : >"$conf"
    for n in 1 2; do
        {
            echo "port add p$n devargs net_null_prog$1$n,no-rx=1"
            echo "port set p$n up dad-transmits 0"
            echo "addr add 2001:db8:f$n::1/64 dev p$n"
            echo "neigh add 2001:db8:f$n::2 lladdr 02:00:00:00:00:0$n dev p$n"
        } >>"$conf"
    done
    echo "route add 2001:db8:100::/48 via 2001:db8:f1::2" >>"$conf"
    echo "${2:-}" >>"$conf"
    fp6_start_daemon "$run_dir/fp6d-$1.log" --config "$conf" --socket "$sock" \
        --workers "$worker" --idle-sleep 1000 "${@:3}" -- "${eal[@]}"
    if ! fp6_wait_ready "$sock" 60; then
        echo "not ok - fp6d ready ($1)"
        cat "$run_dir/fp6d-$1.log"
        failed=$((failed + 1))
        exit 1
    fi
}

# 262,144 /48s in 3fff::/20 (RFC 9637), over two gateways: about half a
# second of loading, some fifty slices.
total=262144
/usr/bin/python3 - "$run_dir/big.routes" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for x in range(4):
        for y in range(65536):
            f.write("3fff:%x:%x::/48 via 2001:db8:f%d::2\n" % (x, y, 1 + y % 2))
PY
size=$(stat -c %s "$run_dir/big.routes")

# --- 0. the startup config: a load runs whole, before fp6d answers -----------------
start a "route load $run_dir/big.routes"
config_load_whole() {
    local n
    n=$(static_routes)
    note "static routes at the first answer: $n"
    [ "$n" -eq $((total + 1)) ] &&
        ctl route flush >/dev/null && ctl route add 2001:db8:100::/48 via 2001:db8:f1::2
}
check "a route load in the startup config is applied whole before fp6d serves" config_load_whole

# --- 1 and 2: the protocol, other clients meanwhile ---------------------------
drive stream "$sock" route.load "{\"file\": \"$run_dir/big.routes\"}" 2001:db8:100::5 \
    >"$run_dir/load.json"
load_progress() {
    /usr/bin/python3 - "$run_dir/load.json" "$size" "$total" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
size, total = int(sys.argv[2]), int(sys.argv[3])
p, final = d["progress"], d["final"]
print("    # %d progress lines in %.0f ms; the first %s; the last %s" % (len(p), d["ms"], p[:1], p[-1:]))
print("    # final: %s" % final)
grows = all(a["lines"] < b["lines"] and a["bytes"] < b["bytes"] for a, b in zip(p, p[1:]))
shape = all(x["more"] is True and x["bytes_total"] == size and x["bytes"] <= size and
            x["applied"] + x["refused"] <= x["lines"] < total for x in p)
data = (final or {}).get("data") or {}
ok = (len(p) >= 2 and grows and shape and final.get("ok") is True and "more" not in final and
      data.get("applied") == total and data.get("refused") == 0 and data.get("lines") == total and
      isinstance(data.get("ms"), int) and "first_refused" not in data)
sys.exit(0 if ok else 1)
PY
}
check "route load: progress lines growing to the file's size, then the summary" load_progress
served_meanwhile() {
    /usr/bin/python3 - "$run_dir/load.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ms = d["probe_ms"]
print("    # route get / port show during the load answered in %s ms" % ms)
print("    # second load: %s" % d.get("second_load"))
print("    # flush meanwhile: %s" % d.get("second_flush"))
refused = all(not r.get("ok") and "in progress" in r.get("error", "")
              for r in (d.get("second_load", {}), d.get("second_flush", {})))
sys.exit(0 if len(ms) >= 4 and max(ms) < 250 and not d.get("probe_errors") and refused else 1)
PY
}
check "other clients are answered during the load; a second load or a flush is refused" \
    served_meanwhile
all_loaded() { [ "$(static_routes)" -eq $((total + 1)) ]; }
check "every route of the load is in the table" all_loaded

# --- 3. route flush ---------------------------------------------------------------
drive stream "$sock" route.flush '{}' >"$run_dir/flush.json"
flush_progress() {
    /usr/bin/python3 - "$run_dir/flush.json" "$total" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want = int(sys.argv[2]) + 1
p, final = d["progress"], d["final"]
print("    # %d progress lines in %.0f ms; the last %s; final %s" % (len(p), d["ms"], p[-1:], final))
ok = (len(p) >= 1 and all(x["total"] == want and 0 < x["removed"] <= want for x in p) and
      all(a["removed"] < b["removed"] for a, b in zip(p, p[1:])) and
      final.get("ok") is True and final.get("data") == {"removed": want})
sys.exit(0 if ok else 1)
PY
}
check "route flush: progress (removed of total), then every static route removed" flush_progress
flushed() { [ "$(static_routes)" -eq 0 ] && ctl route get 2001:db8:f1::9 >/dev/null; }
check "no static route is left, connected ones stay" flushed

# --- 4. fp6ctl ----------------------------------------------------------------------
terminal() {
    drive pty "$FP6CTL" --socket "$sock" route load "$run_dir/big.routes" >"$run_dir/tty.json"
    ctl route flush >/dev/null
    /usr/bin/python3 - "$run_dir/tty.json" "$total" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
n = sys.argv[2]
lines = d["lines"]
print("    # rc %s, %d redraws; shown: %s ... %s" % (d["rc"], d["redraws"], lines[:1], lines[-1:]))
drawn = [l for l in lines if l.startswith("route load:")]
shape = all(re.fullmatch(r"route load: \d+ lines, \d+%, \S+/s(, about [\d.]+ s left)?", l) for l in drawn)
last = lines[-1] if lines else ""
sys.exit(0 if d["rc"] == 0 and d["redraws"] >= 2 and shape and
         re.fullmatch(r"%s routes applied from %s lines in \d+ ms" % (n, n), last) else 1)
PY
}
check "fp6ctl on a terminal: a progress line redrawn, then the summary" terminal
terminal_json() {
    drive pty "$FP6CTL" --socket "$sock" -j route load "$run_dir/big.routes" >"$run_dir/tty-j.json"
    ctl route flush >/dev/null
    /usr/bin/python3 - "$run_dir/tty-j.json" "$total" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("    # rc %s, output %s" % (d["rc"], d["raw"][:200]))
ok = d["rc"] == 0 and d["redraws"] == 0 and len(d["lines"]) == 1
ok = ok and json.loads(d["lines"][0])["applied"] == int(sys.argv[2])
sys.exit(0 if ok else 1)
PY
}
check "fp6ctl -j on a terminal: only the final JSON" terminal_json
piped() {
    local out rc=0
    out=$(ctl route load "$run_dir/big.routes") || rc=1
    ctl route flush >/dev/null
    note "$out"
    [ "$rc" -eq 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ $out != *$'\r'* ]] &&
        [[ $out == "$total routes applied from $total lines in "* ]]
}
check "fp6ctl into a pipe: only the summary line" piped

# --- 5. a client that leaves --------------------------------------------------------
left_goes_on() {
    local i first done_line="route load $run_dir/big.routes: $total applied" before
    before=$(grep -c "$done_line" "$run_dir/fp6d-a.log")
    first=$(drive leave "$sock" "$run_dir/big.routes")
    note "first line before leaving: $first"
    [[ $first == *progress* ]] || return 1
    for ((i = 0; i < 150; i++)); do
        [ "$(grep -c "$done_line" "$run_dir/fp6d-a.log")" -gt "$before" ] && break
        sleep 0.1
    done
    note "$(grep 'client of a route load\|route load .*big.routes' "$run_dir/fp6d-a.log" | tail -n 2)"
    # (check 3 flushed the one route of the set-up too)
    [ "$(static_routes)" -eq "$total" ] || return 1
    ctl route flush >/dev/null && [ "$(static_routes)" -eq 0 ]
}
check "a client leaves mid-load: the load goes on to its end, the next operation runs" left_goes_on

# --- 6. a bad line late in a sliced load --------------------------------------------
late_bad_line() {
    local out bad=$((total - 10))
    sed "${bad}s/.*/3fff:zz::\\/48 via 2001:db8:f1::2/" "$run_dir/big.routes" >"$run_dir/bad.routes"
    local rc=0
    out=$(ctl -j route load "$run_dir/bad.routes") || rc=$?
    ctl route flush >/dev/null
    note "exit $rc; $(jget 'd["first_refused"], d["applied"], d["refused"]' <<<"$out")"
    [ "$rc" -eq 2 ] && [ "$(jget 'd["first_refused"]["line"]' <<<"$out")" -eq "$bad" ] &&
        [ "$(jget 'd["applied"]' <<<"$out")" -eq $((total - 1)) ] &&
        [ "$(jget 'd["refused"]' <<<"$out")" -eq 1 ]
}
check "a bad line near the end of a sliced load is reported with its number, exit 2" late_bad_line

# --- 6b. whole "route add/del ... via ... dev ..." lines (a routing daemon's churn) -
add_del_lines() {
    local out_add out_del
    head -n 3000 "$run_dir/big.routes" | sed 's/^\(.*\) via \(.*\)$/route add \1 via \2 dev p1/;
        s/via 2001:db8:f2::2 dev p1/via 2001:db8:f2::2 dev p2/' >"$run_dir/adds.routes"
    sed 's/^route add /route del /' "$run_dir/adds.routes" >"$run_dir/dels.routes"
    echo "route del 3fff:3:ffff::/48 via 2001:db8:f1::2 dev p1" >>"$run_dir/dels.routes"
    out_add=$(ctl -j route load "$run_dir/adds.routes")
    [ "$(static_routes)" -eq 3000 ] || return 1
    [ "$(ctl -j route get 3fff:0:1::9 | jget 'd["gateway"]')" = 2001:db8:f2::2 ] || return 1
    out_del=$(ctl -j route load "$run_dir/dels.routes")
    note "adds: $out_add"
    note "dels: $out_del"
    [ "$(jget 'd["applied"], d["refused"]' <<<"$out_add")" = "(3000, 0)" ] &&
        [ "$(jget 'd["applied"], d["refused"], d["first_refused"]["line"]' <<<"$out_del")" = \
            "(3000, 1, 3001)" ] && [ "$(static_routes)" -eq 0 ]
}
check "route add and route del lines apply and undo each other; a del of nothing is refused" \
    add_del_lines

# --- 7. table full after several slices ---------------------------------------------
fp6_stop_daemon
start b "" --fib-groups 64
table_full_sliced() {
    # Replacing one route over and over (no new FIB groups) fills several
    # slices; then /64s in distinct /32s, five groups each, until none fit.
    /usr/bin/python3 - "$run_dir/full.routes" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(60000):
        f.write("route replace 2001:db8:100::/48 via 2001:db8:f%d::2\n" % (1 + i % 2))
    for i in range(40):
        f.write("2001:%x:0:1::/64 via 2001:db8:f2::2\n" % (0x1000 + i))
PY
    drive stream "$sock" route.load "{\"file\": \"$run_dir/full.routes\"}" >"$run_dir/full.json"
    /usr/bin/python3 - "$run_dir/full.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
data = d["final"]["data"]
print("    # %d progress lines; %s" % (len(d["progress"]), data))
bad = data.get("first_refused", {})
ok = (len(d["progress"]) >= 2 and 60000 < data["applied"] < 60040 and
      bad.get("line") == data["applied"] + 1 and "table full" in bad.get("error", ""))
sys.exit(0 if ok else 1)
PY
    [ "$(ctl -j route get 2001:1000:0:1::5 | jget 'd["gateway"]')" = 2001:db8:f2::2 ]
}
check "table full lands on the first line that does not fit, after several slices" \
    table_full_sliced

fp6_stop_daemon

[ "$failed" -eq 0 ]
