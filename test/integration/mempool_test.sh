#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Mempool exhaustion: fp6d with a tiny mbuf pool (--mbufs 2047) loses
# packets for want of buffers, counts them, does not crash, and forwards
# again once the buffers come back.
#
# Load: port pa replays a pcap forever (net_pcap infinite_rx, its 744 frames
# copied into mbufs of the pool once): a stable flow to 2001:db8:100::/48
# (via a static neighbour on the net_null port p1) and frames to 700
# addresses of 2001:db8:f2::/64. That prefix becomes connected on p2 (a
# net_null port: no neighbour ever answers) when the test adds
# 2001:db8:f2::1/64: from then each of the 700 addresses has an INCOMPLETE
# neighbour entry holding up to 3 packets (RFC 4861 7.2.2) for three
# retransmissions. The router-wide cap (RFC 6583, 1024 queued packets)
# bounds what the queues hold; with the 744 frames net_pcap keeps and what
# is in flight, that is still more than the 2047 mbufs, so the pool runs
# dry. Deleting the address ends it.
#
# What it proves:
#  1. exhaustion happens and stops forwarding (pa receives nothing: the
#     driver cannot allocate) while fp6d keeps answering on its socket;
#  2. the loss is counted: the neighbour queues count what they drop
#     (control.resolve_drops.queue_full), and a one-shot net_pcap port added
#     meanwhile counts the frames it could not take as rx_nombuf (net_pcap's
#     infinite_rx mode counts nothing when it cannot allocate: a driver
#     limitation);
#  3. once the address is deleted the buffers come back: pa receives again
#     and the stable flow is forwarded at no less than half its rate before;
#  4. fp6d stops cleanly (exit 0) afterwards.
#
# Usage: mempool_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3
/usr/bin/python3 -c 'import scapy' 2>/dev/null || fp6_die "scapy is missing: run tools/setup.sh"

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

daemon_dirs ft-mempool

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }

# pa is net_pcap's first port (MAC 02:70:63:61:70:00), pw its second.
/usr/bin/python3 - "$run_dir" <<'PY' || fp6_die "cannot write the pcaps"
import sys
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter

def frame(dst_mac, dst):
    return bytes(Ether(src="02:00:00:00:00:01", dst=dst_mac) /
                 IPv6(src="2001:db8:f0::2", dst=dst) / UDP(sport=4000, dport=9) / Raw(b"\0\0"))

with PcapWriter(sys.argv[1] + "/load.pcap", linktype=1) as w:
    for i in range(700):
        if i % 16 == 0:
            w.write(frame("02:70:63:61:70:00", "2001:db8:100::%x" % (i + 1)))
        w.write(frame("02:70:63:61:70:00", "2001:db8:f2::%x" % (0x1000 + i)))
with PcapWriter(sys.argv[1] + "/witness.pcap", linktype=1) as w:
    for i in range(5000):
        w.write(frame("02:70:63:61:70:01", "2001:db8:100::1"))
PY

fp6_start_daemon "$run_dir/fp6d.log" --socket "$sock" --workers "$worker" --mbufs 2047 \
    -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 30; then
    echo "not ok - fp6d ready"
    cat "$run_dir/fp6d.log"
    failed=$((failed + 1))
    exit 1
fi

# snap: one line of the counters this test reads, from `stats show`.
snap() {
    ctl -j stats show | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
port = {p["ifname"]: p for p in d["ports"]}
def get(name, key):
    return port[name][key] if name in port else 0
print(get("pa", "rx_packets"), sum(w["forwarded"] for w in d["workers"]),
      d["control"]["resolve_drops"]["queue_full"], get("pw", "rx_nombuf"),
      get("pw", "rx_packets"))'
}
pa_rx=0 fwd=0 queue_full=0 pw_nombuf=0 pw_rx=0
read_snap() { read -r pa_rx fwd queue_full pw_nombuf pw_rx < <(snap); }

set_up() {
    ctl -f /dev/stdin >/dev/null <<EOF
port add p1 devargs net_null_ft1,no-rx=1
port set p1 dad-transmits 0 up
addr add 2001:db8:f1::1/64 dev p1
neigh add 2001:db8:f1::2 lladdr 02:00:00:00:00:11 dev p1
route add 2001:db8:100::/48 via 2001:db8:f1::2
port add p2 devargs net_null_ft2,no-rx=1
port set p2 dad-transmits 0 up
port add pa devargs net_pcap_ft_a,rx_pcap=$run_dir/load.pcap,infinite_rx=1
addr add 2001:db8:f0::1/64 dev pa
neigh add 2001:db8:f0::2 lladdr 02:00:00:00:00:01 dev pa
port set pa dad-transmits 0 up
EOF
}
check "a net_pcap port replaying a stable flow and 700 unrouted destinations" set_up

# rate: forwarded packets a second over one second.
base_rate=0
forwarding() {
    local f0
    read_snap
    f0=$fwd
    sleep 1
    read_snap
    base_rate=$((fwd - f0))
    note "forwarded $base_rate packets/s"
    [ "$base_rate" -gt 0 ]
}
check "the stable flow is forwarded" forwarding

# Poll until pa's receive counter holds still over 0.3 s: the pool is dry.
dry() {
    local t0=$SECONDS before
    ctl addr add 2001:db8:f2::1/64 dev p2 || return 1
    read_snap
    while [ $((SECONDS - t0)) -lt 5 ]; do
        before=$pa_rx
        sleep 0.3
        read_snap
        if [ "$pa_rx" -eq "$before" ]; then
            note "pa stalled at $pa_rx frames; resolve_drops.queue_full = $queue_full"
            return 0
        fi
    done
    note "pa never stalled: $pa_rx frames"
    return 1
}
check "with 2001:db8:f2::/64 connected, the neighbour queues drain the pool: pa stalls" dry

counted() {
    ctl port add pw devargs "net_pcap_ft_w,rx_pcap=$run_dir/witness.pcap" >/dev/null || return 1
    ctl port set pw up >/dev/null || return 1  # a port is polled once it is up
    sleep 0.5
    read_snap
    note "pw: $pw_rx frames received, $pw_nombuf lost for want of an mbuf"
    [ "$queue_full" -gt 0 ] && [ "$pw_nombuf" -gt 0 ]
}
check "the loss is counted (resolve_drops.queue_full, rx_nombuf of a port added meanwhile)" counted

resumes() {
    local f0 rate
    ctl addr del 2001:db8:f2::1/64 dev p2 || return 1
    # The queued packets go when their entries fail (3 NS a second apart).
    sleep 4
    read_snap
    f0=$fwd
    sleep 1
    read_snap
    rate=$((fwd - f0))
    note "forwarded $rate packets/s after the address went (before: $base_rate)"
    [ $((rate * 2)) -ge "$base_rate" ]
}
check "once the address is deleted the buffers return and forwarding resumes" resumes

clean_exit() { fp6_stop_daemon; }
check "fp6d exits cleanly (status 0)" clean_exit

[ "$failed" -eq 0 ]
