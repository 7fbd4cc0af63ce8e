#!/usr/bin/env bash
# Soak test (not in CI): fp6d forwards for a chosen time while routes and
# neighbours churn, then reports the packets lost to stable routes (must be
# 0) and the growth of fp6d's resident memory (must be flat).
#
#   tools/soak.sh [SECONDS]        (default 300; run as root)
#
# Set up (net_pcap and net_null ports, no namespaces):
#   pa  replays a stable flow forever (infinite_rx) to 2001:db8:100::/48,
#       a static route via a static neighbour on p1 that never changes;
#   pb  replays a churn flow forever to 2001:db8:8000::/36, where routes
#       come and go;
#   p1  a net_null sink for the stable flow;
#   p2  a net_null sink with 64 gateways 2001:db8:f2::100..13f.
# Each round (about once a second): `route load` of a file adding 2000 /48s
# of 2001:db8:8000::/36 via those gateways, `neigh del` and `neigh add` of
# 16 gateways (their routes lose and regain their neighbour), then a
# `route load` deleting the 2000 routes again.
#
# Lost packets to the stable route: what pa received minus what p1 sent,
# minus what was dropped because pa was down (pa comes up after the first
# reading and goes down before the last one, so that no packet is in flight
# at either). Memory: fp6d's VmRSS,
# sampled every 10 s; the growth after the first minute (a warm-up for the
# FIB's and the allocator's pools) must stay under FP6_SOAK_RSS_KB
# (default 1024 KiB).
#
# Exit: 0 no loss and flat memory, 1 otherwise.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"

duration=${1:-300}
if ! [[ $duration =~ ^[0-9]+$ ]] || [ "$duration" -lt 10 ]; then
    fp6_die "usage: soak.sh [SECONDS] (at least 10)"
fi
rss_limit_kb=${FP6_SOAK_RSS_KB:-1024}
fp6_need_root
for bin in "$FP6D" "$FP6CTL"; do
    [ -x "$bin" ] || fp6_die "$bin is not built (ninja -C $FP6_BUILD_DIR)"
done
/usr/bin/python3 -c 'import scapy' 2>/dev/null || fp6_die "scapy is missing: run tools/setup.sh"

run_dir=/run/fp6-soak/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
prefix=fp6-soak-$$
read -ra eal <<<"$(fp6_eal_args "$prefix")"
fp6_clean_eal "$prefix"
worker=$(fp6_last_cpu)

ctl() { "$FP6CTL" --socket "$sock" --timeout 60 "$@"; }

/usr/bin/python3 - "$run_dir" <<'PY' || fp6_die "cannot write the pcaps"
import sys
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter

def write(path, mac, dsts):
    with PcapWriter(path, linktype=1) as w:
        for i, dst in enumerate(dsts):
            w.write(bytes(Ether(src="02:00:00:00:00:01", dst=mac) /
                          IPv6(src="2001:db8:f0::2", dst=dst) /
                          UDP(sport=4000 + i, dport=9) / Raw(b"\0\0")))

d = sys.argv[1]
write(d + "/stable.pcap", "02:70:63:61:70:00", ["2001:db8:100::%x" % (i + 1) for i in range(64)])
write(d + "/churn.pcap", "02:70:63:61:70:01",
      ["2001:db8:%x::1" % (0x8000 + i * 31) for i in range(64)])
with open(d + "/add.routes", "w") as f, open(d + "/del.routes", "w") as g:
    for i in range(2000):
        p = "2001:db8:%x::/48" % (0x8000 + i)
        f.write("route add %s via 2001:db8:f2::%x\n" % (p, 0x100 + i % 64))
        g.write("route del %s\n" % p)
PY

fp6_start_daemon "$run_dir/fp6d.log" --socket "$sock" --workers "$worker" -- "${eal[@]}"
fp6_wait_ready "$sock" 30 || { cat "$run_dir/fp6d.log"; exit 1; }
pid=$FP6_DAEMON_PID

{
    echo "port add p1 devargs net_null_soak1,no-rx=1"
    echo "port add p2 devargs net_null_soak2,no-rx=1"
    echo "port set p1 dad-transmits 0 up"
    echo "port set p2 dad-transmits 0 up"
    echo "addr add 2001:db8:f1::1/64 dev p1"
    echo "addr add 2001:db8:f2::1/64 dev p2"
    echo "neigh add 2001:db8:f1::2 lladdr 02:00:00:00:00:11 dev p1"
    for i in $(seq 0 63); do
        printf 'neigh add 2001:db8:f2::%x lladdr 02:00:00:00:01:%02x dev p2\n' $((0x100 + i)) "$i"
    done
    echo "route add 2001:db8:100::/48 via 2001:db8:f1::2"
    # Churn packets without a /48 are dropped as `unreachable`, a reason
    # the stable flow cannot have (no ICMPv6 errors: icmp-rate 0 on pb).
    echo "route add unreachable 2001:db8:8000::/33"
    echo "port add pa devargs net_pcap_soak_a,rx_pcap=$run_dir/stable.pcap,infinite_rx=1"
    echo "port add pb devargs net_pcap_soak_b,rx_pcap=$run_dir/churn.pcap,infinite_rx=1"
    echo "port set pb dad-transmits 0 icmp-rate 0 up"
} >"$run_dir/setup.fp6"
ctl -f "$run_dir/setup.fp6" >/dev/null || fp6_die "setup failed (log: $run_dir/fp6d.log)"
fp6_wait_dad "$sock" 10 || exit 1

# counters: pa's rx, p1's tx, drops.port_down, total forwarded.
counters() {
    ctl -j stats show | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
port = {p["ifname"]: p for p in d["ports"]}
print(port["pa"]["rx_packets"], port["p1"]["tx_packets"], d["drops"]["port_down"],
      sum(w["forwarded"] for w in d["workers"]))'
}
drops_json() { ctl -j stats show | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["drops"]))'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

# pa stays down until the first reading, so that no packet is between its
# rx and p1's tx counters then (nor at the last reading, below).
read -r rx0 tx0 down0 fwd0 < <(counters)
drops0=$(drops_json)
ctl port set pa up >/dev/null || fp6_die "port set pa up failed"
start=$SECONDS
rounds=0
rss_first=$(rss_kb)
rss_warm=
rss_max=$rss_first
next_sample=$((SECONDS + 10))
fp6_log "soaking for ${duration}s; RSS at start ${rss_first} KiB"
while [ $((SECONDS - start)) -lt "$duration" ]; do
    kill -0 "$pid" 2>/dev/null || fp6_die "fp6d died (log: $run_dir/fp6d.log)"
    ctl route load "$run_dir/add.routes" >/dev/null || fp6_die "route load (add) failed"
    for i in $(seq $((rounds % 4 * 16)) $((rounds % 4 * 16 + 15))); do
        a=$(printf '2001:db8:f2::%x' $((0x100 + i)))
        ctl neigh del "$a" dev p2 >/dev/null || fp6_die "neigh del $a failed"
        ctl neigh add "$a" lladdr "$(printf '02:00:00:00:01:%02x' "$i")" dev p2 >/dev/null ||
            fp6_die "neigh add $a failed"
    done
    ctl route load "$run_dir/del.routes" >/dev/null || fp6_die "route load (del) failed"
    rounds=$((rounds + 1))
    if [ "$SECONDS" -ge "$next_sample" ]; then
        r=$(rss_kb)
        [ "$r" -gt "$rss_max" ] && rss_max=$r
        [ -z "$rss_warm" ] && [ $((SECONDS - start)) -ge 60 ] && rss_warm=$r
        echo "$((SECONDS - start)) s: $rounds rounds, RSS $r KiB" >&2
        next_sample=$((SECONDS + 10))
    fi
done
rss_last=$(rss_kb)
ctl port set pa down
sleep 0.5
# pa still receives while down (each frame a port_down drop), and `stats
# show` reads its rx counter and the worker's drop counters microseconds
# apart, so one reading can be off by the bursts in between (seen: -576).
# Up to 5 readings; the figure is the first that is 0, else the last.
# TODO: an exact count needs a source that stops (a one-shot pcap re-added
# each round) or per-port counters kept by the worker itself.
readings=()
for _ in 1 2 3 4 5; do
    read -r rx1 tx1 down1 fwd1 < <(counters)
    lost=$(((rx1 - rx0) - (tx1 - tx0) - (down1 - down0)))
    readings+=("$lost")
    [ "$lost" -eq 0 ] && break
    sleep 0.3
done
drops1=$(drops_json)
fp6_stop_daemon || fp6_die "fp6d did not exit cleanly"

unexpected=$(/usr/bin/python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(sum(b[k] - a.get(k, 0) for k in b if k not in ("port_down", "unreachable")))' "$drops0" "$drops1")
rss_warm=${rss_warm:-$rss_first}
growth=$((rss_last - rss_warm))
echo "soak: $((SECONDS - start)) s, $rounds rounds of 2000 route adds + 2000 deletes + 16 neighbour del/add"
echo "stable flow: $((rx1 - rx0)) received, $((tx1 - tx0)) sent, $((down1 - down0)) dropped with pa down, lost $lost (readings: ${readings[*]})"
echo "drops for reasons the churn flow cannot explain (not port_down, not unreachable): $unexpected"
echo "forwarded in all: $((fwd1 - fwd0)); drops of both flows: $(/usr/bin/python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(", ".join("%s %d" % (k, b[k] - a.get(k, 0)) for k in b if b[k] != a.get(k, 0)))' "$drops0" "$drops1")"
echo "RSS: start $rss_first KiB, after warm-up $rss_warm KiB, end $rss_last KiB, max $rss_max KiB, growth after warm-up $growth KiB (limit $rss_limit_kb)"
[ "$lost" -eq 0 ] && [ "$unexpected" -eq 0 ] && [ "$growth" -le "$rss_limit_kb" ]
