#!/usr/bin/env bash
# Does a flood of hop-limit-1 packets starve fp6's control thread or slow the
# good traffic? Two runs of fp6d, each fed by a net_pcap port that replays a
# pcap forever (no NIC, no peer):
#
#   no-flood  64-byte IPv6/UDP packets to destinations under 2001:db8:100::/48,
#             which fp6 routes out of a net_null port (good traffic);
#   flood     the same good packets, each followed by the same packet with
#             hop limit 1: half of what arrives is owed an ICMPv6 Time
#             Exceeded (RFC 4443 3.3), which the per-port rate limit
#             (default 100/s, burst 10) must keep from the control thread.
#
# Each case measures, from `fp6ctl -j stats show`, the rate of forwarded
# (good) packets and of all received packets over 2 x --seconds N (default
# 5): N seconds of `fp6ctl port show` called back to back (latency of each
# call, fp6ctl's own start-up included), then N seconds of `port.show`
# requests over one connection to the control socket (the control thread's
# round trip alone). It prints a table with the ICMPv6 counters of each run:
# the workers' icmp_punted and icmp_ratelimited, the control thread's
# icmp_errors_sent.
#
# With the pcap replayed as fast as the worker takes it, the worker is the
# bottleneck: in the flood case the good packets can only get the share of
# the worker they have of the input. A good-rate ratio above 0.5 means a
# dropped hop-limit-1 packet costs the worker less than a forwarded one.
#
#   p0  net_pcap0,rx_pcap=FILE,infinite_rx=1   2001:db8:2::1/64 (the pcap's
#       source, 2001:db8:2::2, is on it; its Time Exceeded go back out p0,
#       where net_pcap without tx_pcap drops them)
#   p1  net_null0,no-rx=1   2001:db8:1::1/64; 2001:db8:100::/48 via
#       2001:db8:1::2, a static neighbour
#
# One worker on the last CPU, busy polling (no --idle-sleep); the control
# thread on the first. Hugepages are used when at least 256 are free, else
# ordinary memory (tools/lib.sh fp6_eal_args).
#
# --unlimited adds a third case, flood-unlimited: the flood with p0's limit
# raised to `icmp-rate 1000000 icmp-burst 1000000`, to show what the limit
# spares the control thread.
#
# --rounds R runs the cases R times over, interleaved (default 1): on a
# shared or virtual machine the figures move from run to run; each flood
# case is compared with the no-flood case of its own round.
#
# Usage: tools/bench-icmp-flood.sh [--seconds N] [--rounds R] [--unlimited]
#        (as root, fp6 built in build/ or FP6_BUILD_DIR)
# Exit: 0 when both runs were measured, whatever the figures; 1 when it
#       could not run.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"

usage() {
    sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
}

seconds=5
rounds=1
unlimited=0
while [ $# -gt 0 ]; do
    case $1 in
        --seconds)
            [ $# -ge 2 ] || fp6_die "--seconds needs a value"
            seconds=$2
            shift 2
            ;;
        --seconds=*)
            seconds=${1#--seconds=}
            shift
            ;;
        --rounds)
            [ $# -ge 2 ] || fp6_die "--rounds needs a value"
            rounds=$2
            shift 2
            ;;
        --unlimited)
            unlimited=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            fp6_die "unknown argument '$1' (see --help)"
            ;;
    esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || fp6_die "--seconds must be a whole number of seconds, at least 1"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || fp6_die "--rounds must be a whole number, at least 1"

fp6_need_root
for bin in "$FP6D" "$FP6CTL"; do
    [ -x "$bin" ] || fp6_die "$bin is not built: run 'ninja -C ${FP6_BUILD_DIR}' first"
done
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null ||
    fp6_die "scapy is missing for /usr/bin/python3: install python3-scapy (tools/setup.sh)"

run_dir=/run/fp6i-bench/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
prefix=fp6i-bench-$$
# The first net_pcap port of a process gets this MAC (DPDK 22.11); checked below.
pcap_mac=02:70:63:61:70:00
null_gw_mac=02:00:00:00:00:02

# now_us: a clock in microseconds.
now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t))
}

ctl() { "$FP6CTL" --socket "$sock" "$@"; }

# telemetry FILE PORT...: DPDK's own counters of the ports (ethdev ids), read
# through EAL's telemetry socket, which answers from a thread of its own
# even when fp6d's control thread does not; into FILE as JSON, with the time.
telemetry() {
    local out=$1
    shift
    /usr/bin/python3 - "/var/run/dpdk/$prefix/dpdk_telemetry.v2" "$@" >"$out" <<'PY'
import json, socket, sys, time

s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
s.recv(16384)  # the greeting
ports = {}
t = time.time()
for pid in sys.argv[2:]:
    s.send(("/ethdev/stats,%s" % pid).encode())
    ports[pid] = json.loads(s.recv(65536))["/ethdev/stats"]
json.dump({"time": (t + time.time()) / 2, "ports": ports}, sys.stdout)
PY
}

# Other work on the machine skews the figures: say how busy it was.
load_start=$(cut -d " " -f 1-3 /proc/loadavg)

fp6_log "generating the pcaps"
/usr/bin/python3 "$HERE/gen_pcap.py" --out "$run_dir/no-flood.pcap" --dst-mac "$pcap_mac" >&2 ||
    fp6_die "gen_pcap.py failed"
/usr/bin/python3 "$HERE/gen_pcap.py" --out "$run_dir/flood.pcap" --dst-mac "$pcap_mac" \
    --flood-ratio 0.5 >&2 || fp6_die "gen_pcap.py failed"

read -ra eal <<<"$(fp6_eal_args "$prefix")"
fp6_clean_eal "$prefix"
worker_cpu=$(fp6_last_cpu)
[ "$worker_cpu" -gt 0 ] || fp6_die "needs at least 2 CPUs (one worker, one control thread)"
# fp6d puts its control thread on the first allowed CPU (not a worker's);
# the clients that measure it run there too, off the worker's CPU.
control_cpu=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
control_cpu=${control_cpu%%[-,]*}
command -v taskset >/dev/null || fp6_die "taskset is missing (util-linux)"

# worker_ticks PID: CPU time (user + system, clock ticks) of fp6d PID's worker
# threads so far. Other work on the machine takes the worker's CPU away from
# it; this says how much it had.
worker_ticks() {
    local t total=0 comm fields
    for t in /proc/"$1"/task/*; do
        read -r comm <"$t/comm" 2>/dev/null || continue
        [[ "$comm" == rte-worker-* ]] || continue
        # utime and stime are fields 14 and 15; comm (2) has no blanks here.
        read -ra fields <"$t/stat" || continue
        total=$((total + fields[13] + fields[14]))
    done
    echo "$total"
}

# run_case ROUND NAME PCAP [COMMAND]: one fp6d fed by PCAP, COMMAND (an
# fp6ctl command line) run after the set-up; writes $run_dir/NAME.json.
run_case() {
    local round=$1
    shift
    local name=$1 pcap=$2 extra=${3:-} log=$run_dir/$1.log mac tb0 tb1 ta0 ta1 deadline t e words
    local cpu0 cpu1
    local lat=$run_dir/$1.lat stats_timeout=5 p0_id p1_id
    fp6_log "$name: starting fp6d (workers: CPU $worker_cpu; EAL: ${eal[*]})"
    fp6_start_daemon "$log" --socket "$sock" --workers "$worker_cpu" -- "${eal[@]}"
    if ! fp6_wait_ready "$sock" 60; then
        cat "$log" >&2
        fp6_die "$name: fp6d did not start"
    fi
    if ! ctl -f - <<EOF; then
port add p0 devargs net_pcap0,rx_pcap=$pcap,infinite_rx=1
port add p1 devargs net_null0,no-rx=1
EOF
        cat "$log" >&2
        fp6_die "$name: ports not added"
    fi
    read -r mac p0_id p1_id < <(ctl -j port show | /usr/bin/python3 -c '
import json, sys
ports = {p["ifname"]: p for p in json.load(sys.stdin)}
print(ports["p0"]["address"], ports["p0"]["port_id"], ports["p1"]["port_id"])')
    [ -n "${p1_id:-}" ] || fp6_die "$name: no MAC or port ids from port show"
    [ "$mac" = "$pcap_mac" ] ||
        fp6_die "$name: p0's MAC is $mac, the pcap was written for $pcap_mac"
    if ! ctl -f - <<EOF; then
port set p0 up
port set p1 up
addr add 2001:db8:2::1/64 dev p0
addr add 2001:db8:1::1/64 dev p1
neigh add 2001:db8:1::2 lladdr $null_gw_mac dev p1
route add 2001:db8:100::/48 via 2001:db8:1::2 dev p1
EOF
        cat "$log" >&2
        fp6_die "$name: configuration refused"
    fi
    # Time Exceeded needs a usable source address on p0: past DAD.
    fp6_wait_dad "$sock" 10 || fp6_die "$name: addresses still tentative"
    if [ -n "$extra" ]; then
        read -ra words <<<"$extra"
        ctl "${words[@]}" || fp6_die "$name: '$extra' refused"
    fi
    sleep 1

    # A control thread that does not answer is a result, not a failure: every
    # call has a timeout, and what timed out is counted.
    telemetry "$run_dir/$name.tel.before" "$p0_id" "$p1_id" ||
        fp6_die "$name: no answer on the telemetry socket"
    cpu0=$(worker_ticks "$FP6_DAEMON_PID")
    tb0=$(now_us)
    ctl --timeout "$stats_timeout" -j stats show >"$run_dir/$name.before" ||
        fp6_log "$name: no stats before the run"
    tb1=$(now_us)
    # The clients run on the control thread's CPU, off the worker's. First
    # fp6ctl, a process per call; then one connection, request after request.
    : >"$lat"
    deadline=$((tb1 + seconds * 1000000))
    while :; do
        t=$(now_us)
        [ "$t" -ge "$deadline" ] && break
        if taskset -c "$control_cpu" "$FP6CTL" --socket "$sock" --timeout 2 port show \
            >/dev/null 2>&1; then
            e=$(now_us)
            echo $((e - t)) >>"$lat"
        else
            echo timeout >>"$lat"
        fi
    done
    taskset -c "$control_cpu" /usr/bin/python3 - "$sock" "$seconds" >"$lat.rpc" <<'PY' ||
import json, socket, sys, time

# port.show over one connection (docs/protocol.md): the control thread's
# own round trip, without fp6ctl's start-up. Microseconds, one a line. No
# answer within 2 s: "timeout", and the connection is done (a late answer
# would be taken for the next one's).
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(2)
s.connect(sys.argv[1])
f = s.makefile("rb")
req = json.dumps({"v": 1, "cmd": "port.show"}).encode() + b"\n"
end = time.monotonic() + int(sys.argv[2])
while time.monotonic() < end:
    t = time.perf_counter()
    try:
        s.sendall(req)
        while True:
            line = f.readline()
            if not line:
                sys.exit("fp6d closed the connection")
            reply = json.loads(line)
            if not reply.get("ok"):
                sys.exit("port.show refused: %s" % reply.get("error"))
            if not reply.get("more"):
                break
    except (socket.timeout, TimeoutError):
        print("timeout")
        break
    print(int((time.perf_counter() - t) * 1e6))
PY
        fp6_die "$name: port.show over the socket failed during the run"
    ta0=$(now_us)
    ctl --timeout "$stats_timeout" -j stats show >"$run_dir/$name.after" ||
        fp6_log "$name: no stats after the run"
    ta1=$(now_us)
    cpu1=$(worker_ticks "$FP6_DAEMON_PID")
    telemetry "$run_dir/$name.tel.after" "$p0_id" "$p1_id" ||
        fp6_die "$name: no answer on the telemetry socket"
    kill -0 "$FP6_DAEMON_PID" 2>/dev/null || fp6_die "$name: fp6d died during the run"
    t=$(now_us)
    fp6_stop_daemon || fp6_log "$name: fp6d exited with status $?"
    e=$(now_us)
    echo $(((e - t) / 1000)) >"$run_dir/$name.stop_ms"

    /usr/bin/python3 - "$name" "$run_dir/$name.before" "$run_dir/$name.after" "$lat" \
        "$lat.rpc" "$tb0,$tb1,$ta0,$ta1" "$(cat "$run_dir/$name.stop_ms")" \
        "$run_dir/$name.tel.before" "$run_dir/$name.tel.after" "$p0_id" "$p1_id" "$round" \
        "$(((cpu1 - cpu0) * 1000000 / $(getconf CLK_TCK)))" \
        >"$run_dir/$name.json" <<'PY' ||
import json, sys

name, before, after, lat, rpc, times, stop_ms, tel_b, tel_a, p0, p1, rnd, cpu_us = sys.argv[1:14]
# When each `stats show` was asked and answered (us): its counters are from
# some moment in between.
tb0, tb1, ta0, ta1 = (int(x) for x in times.split(","))
secs = ((ta0 + ta1) - (tb0 + tb1)) / 2e6

def stats(path):
    """`stats show -j` as saved, or None when fp6d did not answer."""
    try:
        doc = json.load(open(path))
    except (OSError, ValueError):
        return None
    return doc if "workers" in doc else None

b = stats(before)
a = stats(after)
# Counts need both; rates from them, both answered within 0.2 s.
counts = a is not None and b is not None
have = counts and tb1 - tb0 < 200000 and ta1 - ta0 < 200000
nan = float("nan")

# DPDK's port counters: p0's received packets, p1's sent ones (the good
# traffic, and the little the control thread sends there).
tb = json.load(open(tel_b))
ta = json.load(open(tel_a))
tel_secs = ta["time"] - tb["time"]
tel_rx = (ta["ports"][p0]["ipackets"] - tb["ports"][p0]["ipackets"]) / tel_secs / 1e6
tel_good = (ta["ports"][p1]["opackets"] - tb["ports"][p1]["opackets"]) / tel_secs / 1e6

def workers(doc, key):
    return sum(w.get(key, 0) for w in doc.get("workers", []))

def delta_w(key):
    return workers(a, key) - workers(b, key) if counts else None

def delta_c(key):
    if not counts:
        return None
    return a.get("control", {}).get(key, 0) - b.get("control", {}).get(key, 0)

def delta_d(key):
    return a.get("drops", {}).get(key, 0) - b.get("drops", {}).get(key, 0) if counts else None

def load(path):
    """Answered calls in ms, sorted, and the number that timed out."""
    words = open(path).read().split()
    return sorted(int(x) / 1000.0 for x in words if x != "timeout"), words.count("timeout")

def rate(key, fallback):
    return delta_w(key) / secs / 1e6 if have else fallback

def pct(xs, p):
    """The p-th percentile of sorted xs, by nearest rank."""
    if not xs:
        return float("nan")
    k = max(1, -(-len(xs) * p // 100))
    return xs[int(k) - 1]

cli, cli_timeouts = load(lat)
rpc, rpc_timeouts = load(rpc)
json.dump({
    "case": name.split(".")[0],
    "round": int(rnd),
    "seconds": secs,
    "stats": have,
    # The share of one CPU the worker had, over the whole window.
    "worker_cpu": int(cpu_us) / (ta1 - tb0),
    "stats_ms": [(tb1 - tb0) / 1000, (ta1 - ta0) / 1000],
    "stop_ms": int(stop_ms),
    "rx_mpps": rate("rx_packets", tel_rx),
    "good_mpps": rate("forwarded", tel_good),
    "tel_rx_mpps": tel_rx,
    "tel_good_mpps": tel_good,
    "hop_limit_drops": delta_d("hop_limit"),
    "other_drops": (sum(a["drops"].values()) - sum(b["drops"].values()) - delta_d("hop_limit")
                    if counts else None),
    "cli_calls": len(cli),
    "cli_timeouts": cli_timeouts,
    "rpc_timeouts": rpc_timeouts,
    "cli_p50_ms": pct(cli, 50),
    "cli_p99_ms": pct(cli, 99),
    "cli_max_ms": cli[-1] if cli else float("nan"),
    "rpc_calls": len(rpc),
    "rpc_p50_ms": pct(rpc, 50),
    "rpc_p99_ms": pct(rpc, 99),
    "rpc_max_ms": rpc[-1] if rpc else float("nan"),
    "icmp_punted": delta_w("icmp_punted"),
    "icmp_ratelimited": delta_w("icmp_ratelimited"),
    "icmp_errors_sent": delta_c("icmp_errors_sent"),
    "icmp_errors_suppressed": delta_c("icmp_errors_suppressed"),
    "icmp_no_source": delta_c("icmp_no_source"),
    "echo_replies": delta_c("echo_replies"),
    "control_tx_dropped": delta_c("tx_dropped"),
}, sys.stdout)
PY
        fp6_die "$name: figures not computed"
    fp6_log "$name: done"
}

results=()
for ((r = 1; r <= rounds; r++)); do
    run_case "$r" "no-flood.$r" "$run_dir/no-flood.pcap"
    run_case "$r" "flood.$r" "$run_dir/flood.pcap"
    results+=("$run_dir/no-flood.$r.json" "$run_dir/flood.$r.json")
    if [ "$unlimited" -eq 1 ]; then
        run_case "$r" "flood-unlimited.$r" "$run_dir/flood.pcap" \
            "port set p0 icmp-rate 1000000 icmp-burst 1000000"
        results+=("$run_dir/flood-unlimited.$r.json")
    fi
done

echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "fp6d: 1 worker on CPU $worker_cpu (busy polling), control thread and clients on CPU $control_cpu"
echo "EAL: ${eal[*]}"
echo "load average (1, 5, 15 min) at the start: $load_start, at the end: $(cut -d " " -f 1-3 /proc/loadavg)"
echo "each case, $rounds round(s): $seconds s of fp6ctl calls, then $seconds s of socket round trips;"
echo "64-byte IPv6/UDP from net_pcap (infinite_rx) to net_null"
echo
/usr/bin/python3 - "${results[@]}" <<'PY' ||
import json, math, sys

rows = [json.load(open(f)) for f in sys.argv[1:]]
rounds = max(r["round"] for r in rows)
# Each round's flood cases against its own no-flood case.
base = {r["round"]: r for r in rows if r["case"] == "no-flood"}
for r in rows:
    b = base[r["round"]]
    r["good_ratio"] = r["good_mpps"] / b["good_mpps"] if b["good_mpps"] else float("nan")
    r["rx_ratio"] = r["rx_mpps"] / b["rx_mpps"] if b["rx_mpps"] else float("nan")
    # Per second of CPU the worker had: the figures without the time other
    # work took from it.
    r["good_per_cpu"] = r["good_mpps"] / r["worker_cpu"] if r["worker_cpu"] else float("nan")
    r["rx_per_cpu"] = r["rx_mpps"] / r["worker_cpu"] if r["worker_cpu"] else float("nan")

    r["label"] = r["case"] + (" #%d" % r["round"] if rounds > 1 else "")

def num(x, fmt="%d"):
    """x formatted, or n/a when it is unknown."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return fmt % x

def lat(r, kind, fmt):
    text = "%s / %s" % (num(r[kind + "_p50_ms"], fmt), num(r[kind + "_p99_ms"], fmt))
    if r[kind + "_timeouts"]:
        text += " (%d timed out)" % r[kind + "_timeouts"]
    return text

head = ("case", "good Mpps", "ratio flood/no-flood", "rx Mpps", "worker CPU", "CLI p50/p99 ms",
        "socket p50/p99 ms", "icmp_punted", "icmp_ratelimited", "icmp_errors_sent")
lines = [head]
for r in rows:
    lines.append((r["label"], num(r["good_mpps"], "%.2f"), num(r["good_ratio"], "%.2f"),
                  num(r["rx_mpps"], "%.2f"), num(100 * r["worker_cpu"], "%.0f%%"),
                  lat(r, "cli", "%.1f"), lat(r, "rpc", "%.3f"),
                  num(r["icmp_punted"]), num(r["icmp_ratelimited"]), num(r["icmp_errors_sent"])))
widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for line in lines[1:]:
    print("| " + " | ".join(c.rjust(w) if i else c.ljust(w)
                             for i, (c, w) in enumerate(zip(line, widths))) + " |")
print()
for r in rows:
    print("%s: rx ratio %s; %s hop_limit drops; %d fp6ctl calls answered (max %s ms); "
          "%d socket round trips (max %s ms); fp6d stopped %d ms after SIGTERM"
          % (r["label"], num(r["rx_ratio"], "%.2f"), num(r["hop_limit_drops"]),
             r["cli_calls"], num(r["cli_max_ms"], "%.1f"), r["rpc_calls"],
             num(r["rpc_max_ms"], "%.3f"), r["stop_ms"]))
    if not r["stats"]:
        print("%s: stats show took %.0f ms before the run, %.0f ms after (or failed): "
              "its Mpps are DPDK's port counters, its other counts approximate or unknown"
              % (r["label"], r["stats_ms"][0], r["stats_ms"][1]))
    print("%s: DPDK port counters: %.2f Mpps received on p0, %.2f Mpps sent on p1"
          % (r["label"], r["tel_rx_mpps"], r["tel_good_mpps"]))
    b = base[r["round"]]
    print("%s: per worker CPU-second: %s Mpps good, %s Mpps received (good ratio %s)"
          % (r["label"], num(r["good_per_cpu"], "%.2f"), num(r["rx_per_cpu"], "%.2f"),
             num(r["good_per_cpu"] / b["good_per_cpu"], "%.2f")))
    odd = [(k, r[k]) for k in ("icmp_errors_suppressed", "icmp_no_source",
                                   "control_tx_dropped", "other_drops") if r[k]]
    if odd:
        print("%s: also %s" % (r["label"], ", ".join("%s %d" % kv for kv in odd)))
PY
    fp6_die "table not printed"
