#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# A pcap of varied IPv6 packets through fp6d on net_pcap ports, the output
# compared packet by packet with what each packet must become
# (test/integration/pcap_cases.py holds the cases and the comparison).
#
# p0 reads the pcap once (rx_pcap, no infinite_rx) and writes what fp6 sends
# back to the host (tx_pcap); p1 and p2 write what fp6 forwards. Neighbours
# are static, so forwarding needs no neighbour discovery. The pcap holds
# good packets to routed and connected prefixes (some with extension headers
# that only their destination reads), malformed frames, packets for the
# router, and packets to unrouted and refusing prefixes.
#
# A net_pcap port delivers its file as soon as it is added; the router must
# be ready by then. fp6d runs with --idle-sleep 3 s: once the idle worker's
# loop counter moves, it has just gone to sleep, and p0 is added and set up
# in one `fp6ctl -f` batch before the worker polls again.
#
# Checks:
#  1. the setup batch ran inside the worker's sleep (no packet reached p0
#     before it was up: drops.port_down stays 0);
#  2. p0 received every frame of the pcap and fp6d answered all it owes;
#  3. out0/out1/out2.pcap hold exactly the expected frames, in order, byte
#     for byte (hop limit decremented, MACs rewritten, padding trimmed,
#     ICMPv6 errors and echo replies whole); every drop reason and the
#     control counters moved by exactly what the cases say.
#
# Usage: pcap_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
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

daemon_dirs ft-pcap
cases=$HERE/pcap_cases.py

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# net_pcap names its ports' MACs 02:70:63:61:70:NN in creation order: p0,
# added third, is ...:02.
p0_mac=02:70:63:61:70:02
/usr/bin/python3 "$cases" gen "$run_dir/in.pcap" "$p0_mac" || fp6_die "cannot write the pcap"
# p1 and p2 read a pcap with no packets.
/usr/bin/python3 -c 'from scapy.utils import PcapWriter; PcapWriter(__import__("sys").argv[1], linktype=1).close()' \
    "$run_dir/empty.pcap"

fp6_start_daemon "$run_dir/fp6d.log" --socket "$sock" --workers "$worker" \
    --idle-sleep 3000000 -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 30; then
    echo "not ok - fp6d ready"
    cat "$run_dir/fp6d.log"
    failed=$((failed + 1))
    exit 1
fi

cat >"$run_dir/before.fp6" <<EOF
port add p1 devargs net_pcap_ft1,rx_pcap=$run_dir/empty.pcap,tx_pcap=$run_dir/out1.pcap
port add p2 devargs net_pcap_ft2,rx_pcap=$run_dir/empty.pcap,tx_pcap=$run_dir/out2.pcap
port set p1 dad-transmits 0 up
port set p2 dad-transmits 0 mtu 1300 up
addr add 2001:db8:f1::1/64 dev p1
addr add 2001:db8:f2::1/64 dev p2
neigh add 2001:db8:f1::2 lladdr 02:00:00:00:00:11 dev p1
neigh add 2001:db8:f2::2 lladdr 02:00:00:00:00:12 dev p2
route add 2001:db8:100::/48 via 2001:db8:f1::2
route add 2001:db8:200::/48 via 2001:db8:f2::2
route add blackhole 2001:db8:dead::/48
route add unreachable 2001:db8:bad::/48
route add prohibit 2001:db8:bad1::/48
EOF
cat >"$run_dir/p0.fp6" <<EOF
port add p0 devargs net_pcap_ft0,rx_pcap=$run_dir/in.pcap,tx_pcap=$run_dir/out0.pcap
addr add 2001:db8:f0::1/64 dev p0
neigh add 2001:db8:f0::2 lladdr 02:00:00:00:00:01 dev p0
port set p0 dad-transmits 0 icmp-rate 1000 icmp-burst 100 up
EOF

set_up() {
    ctl -f "$run_dir/before.fp6" >/dev/null || return 1
    fp6_wait_dad "$sock" 10 || return 1
    # Wait for the worker's loop counter to move: it has just begun a sleep.
    local loops0 loops t0
    loops0=$(ctl -j stats show | jget 'd["workers"][0]["loops"]')
    t0=$SECONDS
    while loops=$(ctl -j stats show | jget 'd["workers"][0]["loops"]') &&
        [ "$loops" = "$loops0" ]; do
        [ $((SECONDS - t0)) -lt 10 ] || { note "the worker's loop counter did not move"; return 1; }
        sleep 0.02
    done
    ctl -f "$run_dir/p0.fp6" >/dev/null
}
check "p1 and p2 with routes; p0 added and set up while the worker sleeps" set_up

in_time() {
    local mac port_down
    mac=$(ctl -j port show p0 | jget 'd[0]["address"]')
    port_down=$(ctl -j stats show | fp6_stat drops.port_down)
    note "p0 is $mac; drops.port_down = $port_down"
    [ "$mac" = "$p0_mac" ] && [ "$port_down" -eq 0 ]
}

# Until p0 has received every frame and sent every answer (the control
# thread's frames leave through the worker, once a loop).
n_in=$(/usr/bin/python3 "$cases" count "$run_dir/in.pcap")
all_in() {
    local t0=$SECONDS rx tx=-1 tx_was=-2
    while [ $((SECONDS - t0)) -lt 20 ]; do
        rx=$(ctl -j stats show | jget '[p["rx_packets"] for p in d["ports"] if p["ifname"] == "p0"][0]')
        if [ "$rx" -eq "$n_in" ]; then
            # Settled when p0's tx count holds still over one worker sleep.
            tx=$(ctl -j stats show | jget '[p["tx_packets"] for p in d["ports"] if p["ifname"] == "p0"][0]')
            [ "$tx" = "$tx_was" ] && { note "p0: $rx in, $tx out"; return 0; }
            tx_was=$tx
            sleep 3.5
        else
            sleep 0.2
        fi
    done
    note "p0 received $rx of $n_in frames, sent $tx"
    return 1
}
check "p0 received all $n_in frames of the pcap and fp6d answered" all_in
check "no frame came before p0 was up, and p0 has net_pcap's third MAC" in_time

ctl -j stats show >"$run_dir/stats.json"
ctl -j port show >"$run_dir/ports.json"
p0_ll=$(ctl -j addr show dev p0 | jget '[a["local"] for a in d[0]["addr_info"] if a["local"].startswith("fe80:")][0]')
# Stopping fp6d closes the ports, which flushes their tx_pcap files.
fp6_stop_daemon
same_output() {
    /usr/bin/python3 "$cases" check "$run_dir" "$run_dir/ports.json" "$p0_ll" "$run_dir/stats.json"
}
check "the output pcaps hold exactly the expected frames and the counters agree" same_output

[ "$failed" -eq 0 ]
