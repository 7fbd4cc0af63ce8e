#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Counters, the live view, the Prometheus endpoint and DPDK telemetry, on a
# net_null port that receives all the time (zero-filled frames, which every
# worker drops as not IPv6: real counters that move) and one that receives
# nothing.
#
# Checks:
#  1. `stats show -j` has the per-queue, extended, worker-loop, neighbour
#     and route counters, and they agree with each other.
#  2. `fp6ctl -j stats --watch 0.5 --count 3`: three JSON lines with rates
#     that follow the traffic (rx pps > 0, drop 100 %, busy > 0).
#  3. --metrics: GET /metrics parses with the Prometheus client's parser,
#     every family is fp6_, counters end in _total, and the values are the
#     ones of stats show; other paths are 404; a malformed --metrics value
#     stops fp6d with a message.
#  4. DPDK telemetry: /fp6/stats, /fp6/stats,PORT, /fp6/addr (with the DAD
#     state), /fp6/neigh and /fp6/routes answer on the telemetry socket.
#
# Usage: observability_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null ||
    fp6_die "python3-prometheus-client is missing: run tools/setup.sh (it installs it)"

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/ob-obs/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
prefix=ob-obs-$$
read -ra eal <<<"$(fp6_eal_args "$prefix")"
fp6_clean_eal "$prefix"
# A port of its own per run, away from the conventional 9474.
mport=$((20000 + $$ % 10000))

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }

bad_metrics() {
    local out rc=0
    out=$(timeout 10 "$FP6D" --metrics "127.0.0.1:99999" 2>&1) || rc=$?
    note "exit $rc: $out"
    [ "$rc" -eq 1 ] && [[ $out == *"99999"* ]]
}
check "fp6d --metrics 127.0.0.1:99999: exit 1 naming the port" bad_metrics

fp6_start_daemon "$run_dir/fp6d.log" --socket "$sock" --workers "$(fp6_last_cpu)" \
    --metrics "127.0.0.1:$mport" -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 30; then
    echo "not ok - fp6d ready"
    cat "$run_dir/fp6d.log"
    failed=$((failed + 1))
    exit 1
fi
ctl port add p0 devargs net_null0 && ctl port add n1 devargs net_null1,no-rx=1 &&
    ctl port set p0 up && ctl port set n1 up &&
    ctl addr add 2001:db8:1::1/64 dev n1 &&
    ctl neigh add 2001:db8:1::2 lladdr 02:00:5e:00:53:02 dev n1 &&
    ctl route add 2001:db8:100::/48 via 2001:db8:1::2 || fp6_die "set-up failed"
FP6CTL=$FP6CTL fp6_wait_dad "$sock" 10 || fp6_die "DAD did not finish"
sleep 1

# jcheck EXPR: JSON on stdin, true when the Python expression EXPR holds (d
# is the document); prints the failing expression's values otherwise.
jcheck() {
    /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
ok = eval("(" + sys.argv[1] + ")", {"d": d})
if not ok:
    print(json.dumps(d)[:1500])
sys.exit(0 if ok else 1)' "$1" | while IFS= read -r l; do note "$l"; done
    return "${PIPESTATUS[0]}"
}

stats_keys() {
    ctl -j stats show | jcheck '
[p for p in d["ports"] if p["ifname"] == "p0"][0]["queues"]["rx"][0]["packets"] > 0
and all("xstats" in p and "tx" in p["queues"] for p in d["ports"])
and all(w["loops"] > 0 and w["busy_cycles"] > 0 and w["idle_cycles"] >= 0
        and 1 <= w["rx_packets"] / max(w["rx_bursts"], 1) <= 64 for w in d["workers"])
and d["drops"]["not_ipv6"] > 0
and d["neighbors"]["PERMANENT"] == 1 and d["neighbors"]["total"] == 1
and d["routes"]["static"] == 1 and d["routes"]["routes"] >= 3
and d["tsc_hz"] > 0'
}
check "stats show: queues, xstats, worker loops/cycles/bursts, neighbours, routes, tsc_hz" \
    stats_keys

watch_json() {
    local out lines
    out=$(timeout 20 "$FP6CTL" --socket "$sock" -j stats --watch 0.5 --count 3) || return 1
    lines=$(wc -l <<<"$out")
    [ "$lines" -eq 3 ] || { note "$lines lines"; return 1; }
    tail -n 1 <<<"$out" | jcheck '
0.4 < d["interval_s"] < 1.5 and d["time"] > 1e9
and [p for p in d["ports"] if p["ifname"] == "p0"][0]["rx_pps"] > 1000
and [p for p in d["ports"] if p["ifname"] == "n1"][0]["rx_pps"] == 0
and d["workers"][0]["drop_pct"] > 99 and d["workers"][0]["busy_pct"] > 0
and d["workers"][0]["pkts_per_burst"] >= 1 and d["drops"]["not_ipv6"] > 0'
}
check "stats --watch -j: one object per interval, rates that follow the traffic" watch_json

watch_text() {
    local out
    out=$(timeout 10 "$FP6CTL" --socket "$sock" stats --watch 0.3 --count 1) || return 1
    note "$(head -n 4 <<<"$out")"
    grep -q "^p0 " <<<"$out" && grep -q "^not_ipv6 " <<<"$out" && grep -q "BUSY %" <<<"$out"
}
check "stats --watch: tables of ports, queues, workers and drop reasons" watch_text

watch_bad() {
    local rc=0
    "$FP6CTL" --socket "$sock" stats --watch 0 --count 1 >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 1 ]
}
check "stats --watch 0: exit 1" watch_bad

metrics() {
    /usr/bin/python3 - "$mport" "$sock" "$FP6CTL" <<'EOF' 2>&1 | while IFS= read -r l; do note "$l"; done
import json, subprocess, sys, urllib.error, urllib.request
from prometheus_client.parser import text_string_to_metric_families

port, sock, ctl = sys.argv[1:4]
url = "http://127.0.0.1:%s" % port
with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
    ctype = r.headers["Content-Type"]
    text = r.read().decode()
stats = json.loads(subprocess.check_output([ctl, "--socket", sock, "-j", "stats", "show"]))
fams = list(text_string_to_metric_families(text))
samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams for s in f.samples}
print("%d families, %d samples, %s" % (len(fams), len(samples), ctype))
assert ctype.startswith("text/plain; version=0.0.4"), ctype
assert all(f.name.startswith("fp6_") for f in fams)
for f in fams:
    if f.type == "counter":
        assert all(s.name.endswith("_total") for s in f.samples), f.name
# Scraped before stats show: a counter may only have grown since.
p0 = [p for p in stats["ports"] if p["ifname"] == "p0"][0]
got = samples[("fp6_port_rx_packets_total", (("port", "p0"),))]
assert 0 < got <= p0["rx_packets"], (got, p0["rx_packets"])
assert samples[("fp6_queue_rx_packets_total", (("port", "p0"), ("queue", "0")))] > 0
assert samples[("fp6_drops_total", (("reason", "not_ipv6"),))] > 0
assert samples[("fp6_worker_loops_total", (("worker", "0"),))] > 0
assert samples[("fp6_neighbors", (("state", "PERMANENT"),))] == 1
assert samples[("fp6_rib_static", ())] == 1
try:
    urllib.request.urlopen(url + "/other", timeout=5)
    raise AssertionError("/other answered")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
EOF
    return "${PIPESTATUS[0]}"
}
check "GET /metrics: the Prometheus parser reads it, fp6_ names, _total counters, right values" \
    metrics

telemetry() {
    /usr/bin/python3 - "/var/run/dpdk/$prefix/dpdk_telemetry.v2" <<'EOF' 2>&1 | while IFS= read -r l; do note "$l"; done
import json, socket, sys
def ask(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    s.recv(4096)
    s.send(cmd.encode())
    r = json.loads(s.recv(1 << 20))
    s.close()
    return r[cmd.split(",")[0]]
st = ask("/fp6/stats")
print("/fp6/stats rx_packets %d dropped %d" % (st["rx_packets"], st["dropped"]))
assert st["rx_packets"] > 0 and st["drop_not_ipv6"] > 0 and st["ports"] == 2
assert ask("/fp6/stats,p0")["rx_packets"] > 0
assert ask("/fp6/stats,nosuch") is None
addr = ask("/fp6/addr")
print("/fp6/addr %s" % addr)
assert "2001:db8:1::1/64 preferred" in addr["n1"]
assert any(a.startswith("fe80:") and a.endswith(" preferred") for a in addr["p0"])
neigh = ask("/fp6/neigh")
assert neigh["PERMANENT"] == 1
assert neigh["entries"] == ["2001:db8:1::2 dev n1 lladdr 02:00:5e:00:53:02 PERMANENT"], neigh
assert ask("/fp6/routes")["static"] == 1
EOF
    return "${PIPESTATUS[0]}"
}
check "DPDK telemetry: /fp6/stats, /fp6/stats,PORT, /fp6/addr with DAD state, /fp6/neigh, /fp6/routes" \
    telemetry

check "fp6d still running" kill -0 "$FP6_DAEMON_PID"
[ "$failed" -eq 0 ]
