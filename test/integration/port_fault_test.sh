#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# A port taken down, brought back, deleted and added again while traffic
# flows, on net_pcap and net_null ports (no namespaces).
#
# Port pa replays a pcap forever (net_pcap infinite_rx): a flow to
# 2001:db8:100::/48 via a static neighbour on p1 and one to 2001:db8:200::/48
# via a static neighbour on p2 (both net_null sinks).
#
# Checks:
#  1. both flows leave by their ports (tx_packets of p1 and p2 grow);
#  2. `port set p2 down`: p1 keeps forwarding, p2 sends nothing, and the
#     packets for p2 are counted as dropped (the drop counters grow by what
#     pa receives beyond what p1 sends);
#  3. `port set p2 up`: p2's addresses run duplicate address detection again
#     (tentative first, then usable), the route via p2 is back and p2 sends
#     again;
#  4. `port del p2`: p1 keeps forwarding, the packets for p2 are counted as
#     dropped;
#  5. p2 added again with its address and neighbour: the static route via
#     2001:db8:f2::2 is active again and p2 forwards.
#
# Usage: port_fault_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
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

daemon_dirs ft-portfault

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

/usr/bin/python3 - "$run_dir/load.pcap" <<'PY' || fp6_die "cannot write the pcap"
import sys
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter

with PcapWriter(sys.argv[1], linktype=1) as w:
    for i in range(32):
        dst = "2001:db8:%d00::%x" % (1 + i % 2, i + 1)
        w.write(bytes(Ether(src="02:00:00:00:00:01", dst="02:70:63:61:70:00") /
                      IPv6(src="2001:db8:f0::2", dst=dst) / UDP(sport=4000 + i, dport=9) /
                      Raw(b"\0\0")))
PY

fp6_start_daemon "$run_dir/fp6d.log" --socket "$sock" --workers "$worker" -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 30; then
    echo "not ok - fp6d ready"
    cat "$run_dir/fp6d.log"
    failed=$((failed + 1))
    exit 1
fi

add_p2() {
    ctl -f /dev/stdin >/dev/null <<EOF
port add p2 devargs net_null_ft2$1,no-rx=1
port set p2 dad-transmits 1 retrans-timer 1000 up
addr add 2001:db8:f2::1/64 dev p2
neigh add 2001:db8:f2::2 lladdr 02:00:00:00:00:12 dev p2
EOF
}
set_up() {
    ctl -f /dev/stdin >/dev/null <<EOF || return 1
port add p1 devargs net_null_ft1,no-rx=1
port set p1 dad-transmits 0 up
addr add 2001:db8:f1::1/64 dev p1
neigh add 2001:db8:f1::2 lladdr 02:00:00:00:00:11 dev p1
EOF
    add_p2 a || return 1
    ctl -f /dev/stdin >/dev/null <<EOF || return 1
route add 2001:db8:100::/48 via 2001:db8:f1::2
route add 2001:db8:200::/48 via 2001:db8:f2::2
port add pa devargs net_pcap_ft_a,rx_pcap=$run_dir/load.pcap,infinite_rx=1
addr add 2001:db8:f0::1/64 dev pa
port set pa dad-transmits 0 up
EOF
    fp6_wait_dad "$sock" 10
}
check "pa replaying two flows, p1 and p2 as their ways out" set_up

# Counters over one second: pa's rx, p1's and p2's tx, the sum of drops.
rx=0 tx1=0 tx2=0 drops=0
over_a_second() {
    local a b
    a=$(ctl -j stats show)
    sleep 1
    b=$(ctl -j stats show)
    read -r rx tx1 tx2 drops < <(/usr/bin/python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def port(d, name, key):
    return sum(p[key] for p in d["ports"] if p["ifname"] == name)
def delta(name, key):
    return port(b, name, key) - port(a, name, key)
print(delta("pa", "rx_packets"), delta("p1", "tx_packets"), delta("p2", "tx_packets"),
      sum(b["drops"].values()) - sum(a["drops"].values()))' "$a" "$b")
    note "in one second: pa rx $rx, p1 tx $tx1, p2 tx $tx2, drops $drops"
}
both_flow() { over_a_second; [ "$tx1" -gt 0 ] && [ "$tx2" -gt 0 ]; }
check "both flows are forwarded" both_flow

# While p2 is out: p1 goes on, p2 sends nothing, and everything pa took
# that p1 did not send is a counted drop (within 1 % for counters read a
# few microseconds apart).
p2_out() {
    over_a_second
    local lost=$((rx - tx1))
    [ "$tx1" -gt 0 ] && [ "$tx2" -eq 0 ] && [ "$drops" -gt 0 ] &&
        [ $((drops * 100)) -ge $((lost * 99)) ] && [ $((drops * 100)) -le $((lost * 101)) ]
}
drop_reasons() {
    ctl -j stats show | jget '", ".join("%s %d" % kv for kv in d["drops"].items() if kv[1])'
}

ctl port set p2 down
check "p2 down: p1 keeps forwarding, p2 sends nothing, the rest is counted dropped" p2_out
note "drops so far: $(drop_reasons)"

dad_again() {
    local states t0=$SECONDS
    ctl port set p2 up || return 1
    states=$(ctl -j addr show dev p2 | fp6_addr_states)
    note "just after up: $(tr '\n' ';' <<<"$states")"
    grep -q "2001:db8:f2::1 64 global tentative" <<<"$states" || return 1
    fp6_wait_dad "$sock" 10 || return 1
    note "usable after about $((SECONDS - t0)) s"
}
check "p2 up: its addresses run duplicate address detection again" dad_again

route_back() {
    [ "$(ctl -j route get 2001:db8:200::1 | jget 'd["dev"]')" = p2 ] || return 1
    both_flow
}
check "p2 up: the route via p2 is back and both flows are forwarded" route_back

p2_gone() {
    ctl port del p2 || return 1
    p2_out
}
check "p2 deleted: p1 keeps forwarding, the packets for p2 are counted dropped" p2_gone
note "drops so far: $(drop_reasons)"

p2_again() {
    add_p2 b || return 1
    fp6_wait_dad "$sock" 10 || return 1
    [ "$(ctl -j route get 2001:db8:200::1 | jget 'd["dev"]')" = p2 ] || return 1
    both_flow
}
check "p2 added again: the static route via it is active and both flows are forwarded" p2_again

clean_exit() { fp6_stop_daemon; }
check "fp6d exits cleanly (status 0)" clean_exit

[ "$failed" -eq 0 ]
