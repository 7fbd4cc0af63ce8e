#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Integration test: the ICMPv6 messages fp6 sends, as Linux hosts and their
# tools (ping, traceroute, the kernel's PMTU cache, a UDP socket) see them.
#
#   fp6i-a 2001:db8:a::2/64 --veth-- pa [fp6d] pb --veth-- 2001:db8:b::2/64 fp6i-b
#
# Checks:
#  - echo: A pings fp6's global and link-local addresses, and all-nodes;
#  - traceroute from A to B: hop 1 is fp6's 2001:db8:a::1, hop 2 is B;
#  - Destination Unreachable as ping prints it: no route (code 0), the
#    route types unreachable (0), prohibit (1) and reject (6), and a
#    link-local source leaving its link (2);
#  - Time Exceeded for a hop limit of 1, sent with the port's icmp-hop-limit;
#  - Packet Too Big with pb's MTU after `port set pb mtu 1280`, and A's
#    kernel caches that path MTU;
#  - Port Unreachable for UDP to fp6's address (captured on A, and the
#    connected socket gets ECONNREFUSED);
#  - Parameter Problem (unknown next header) for a packet to fp6;
#  - the per-port rate limit (`port set pa icmp-rate 1 icmp-burst 1`): 20
#    fast hop-limit-1 probes get at most a few errors, and the counters
#    show the rest were limited;
#  - RFC 4443 2.4 (e): an ICMPv6 error sent through fp6 to an unrouted
#    destination gets no error back (a UDP packet to the same place does).
#
# Usage: icmp_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no netns).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

need_netns

need_tools ping traceroute tcpdump ethtool /usr/bin/python3
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null ||
    fp6_die "scapy is missing for /usr/bin/python3: run tools/setup.sh (python3-scapy)"

# note_lines: each line of stdin as a note.
note_lines() {
    local line
    while IFS= read -r line; do
        [ -n "$line" ] && note "$line"
    done
}

fp6_trap_cleanup
# Print the summary after the cleanup, whatever way the script ends.
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/fp6i/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
config=$run_dir/fp6d.conf
log=$run_dir/fp6d.log

A=fp6i-a
A_IF=fp6i-a-in
B=fp6i-b
B_IF=fp6i-b-in
A_ADDR=2001:db8:a::2
B_ADDR=2001:db8:b::2
PA_ADDR=2001:db8:a::1
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }
ctl() { "$FP6CTL" --socket "$sock" "$@"; }

fail_setup() {
    echo "not ok - $*"
    failed=$((failed + 1))
    if [ -f "$log" ]; then
        echo "--- fp6d log"
        cat "$log"
    fi
    exit 1
}

# ---- set-up

fp6_host_ns "$A" fp6i-a-out "$A_IF" "$A_ADDR/64" "$PA_ADDR" || fail_setup "create host A"
fp6_host_ns "$B" fp6i-b-out "$B_IF" "$B_ADDR/64" 2001:db8:b::1 || fail_setup "create host B"
pa_mac=$(fp6_mac fp6i-a-out)
a_mac=$(fp6_mac "$A_IF" "$A")

cat >"$config" <<EOF
port add pa devargs net_af_packet0,iface=fp6i-a-out
port add pb devargs net_af_packet1,iface=fp6i-b-out
port set pa up
port set pb up
addr add $PA_ADDR/64 dev pa
addr add 2001:db8:b::1/64 dev pb
neigh add $A_ADDR lladdr $a_mac dev pa
neigh add $B_ADDR lladdr $(fp6_mac "$B_IF" "$B") dev pb
EOF

read -ra eal <<<"$(fp6_eal_args fp6i-icmp)"
fp6_clean_eal fp6i-icmp
fp6_start_daemon "$log" --config "$config" --socket "$sock" \
    --workers "$(fp6_last_cpu)" --idle-sleep 100 -- "${eal[@]}"
fp6_wait_ready "$sock" 60 || fail_setup "fp6d ready on $sock"
echo "ok - fp6d ready (EAL: ${eal[*]})"
passed=$((passed + 1))
fp6_wait_dad "$sock" 10 || fail_setup "fp6's addresses pass DAD"
echo "ok - fp6's addresses pass DAD"
passed=$((passed + 1))

# counter KEY: current value of counter KEY from `fp6ctl -j stats show`.
counter() {
    ctl -j stats show | fp6_stat "$1"
}

# ping_a ARGS...: ping -6 -n from A; prints its output, one note a line.
# Sets ping_out.
ping_out=
ping_a() {
    ping_out=$(in_a ping -6 -n "$@" 2>&1)
    note "ping $*:"
    grep -E 'from|From|transmitted' <<<"$ping_out" | sed 's/^/  /' | note_lines
}

# capture_a FILTER COMMAND...: run COMMAND in A while tcpdump captures, in
# A, the first packet matching FILTER (up to 3 s). Prints what tcpdump
# printed as notes; true when it captured one.
capture_a() {
    local filter=$1 cap=$run_dir/capture.txt pid i
    shift
    : >"$cap"
    in_a tcpdump -n -l -v -c 1 -i "$A_IF" "$filter" >"$cap" 2>&1 &
    pid=$!
    for ((i = 0; i < 50; i++)); do
        grep -q 'listening on' "$cap" && break
        sleep 0.1
    done
    "$@"
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    grep -v -e 'listening on' -e 'packets* captured' -e 'packets* received' \
        -e 'packets* dropped' "$cap" | note_lines
    grep -q 'packet captured' "$cap"
}

# ---- echo

# ping_replies N ARGS...: ping from A gets N replies of N.
ping_replies() {
    local n=$1
    shift
    ping_a -c "$n" -i 0.2 -W 2 "$@"
    grep -q "$n packets transmitted, $n received" <<<"$ping_out"
}
check "A pings fp6's $PA_ADDR" ping_replies 3 "$PA_ADDR"

pa_ll=$(ctl -j addr show dev pa | fp6_addr_states | awk '$4 == "link" { print $2 }')
check "A pings fp6's link-local ${pa_ll:-?}%$A_IF" ping_replies 3 "$pa_ll%$A_IF"

# Every node on the link answers all-nodes, A itself included: one of the
# answers must come from fp6's link-local address.
all_nodes_answered() {
    ping_a -c 2 -i 0.2 -W 2 "ff02::1%$A_IF"
    grep -q "from ${pa_ll}%$A_IF: icmp_seq=" <<<"$ping_out"
}
check "A pings ff02::1%$A_IF and fp6 answers" all_nodes_answered

# ---- traceroute

traceroute_hops() {
    local out hop1 hop2
    out=$(in_a traceroute -6 -n -w 2 -m 5 "$B_ADDR" 2>&1)
    note_lines <<<"$out"
    # The addresses a hop's line names (its first field is the hop number).
    hop1=$(awk '$1 == 1 { for (i = 2; i <= NF; i++) if ($i ~ /:/) print $i }' <<<"$out" | sort -u)
    hop2=$(awk '$1 == 2 { for (i = 2; i <= NF; i++) if ($i ~ /:/) print $i }' <<<"$out" | sort -u)
    [ "$hop1" = "$PA_ADDR" ] && [ "$hop2" = "$B_ADDR" ]
}
check "traceroute -6 A -> B: hop 1 $PA_ADDR, hop 2 $B_ADDR" traceroute_hops

# ---- Destination Unreachable

# ping_says TEXT ARGS...: one ping from A prints TEXT from fp6's address.
ping_says() {
    local text=$1
    shift
    ping_a -c 1 -W 2 "$@"
    grep -qF "From $PA_ADDR icmp_seq=1 $text" <<<"$ping_out"
}
check "unrouted 2001:db8:ff::1: 'Destination unreachable: No route'" \
    ping_says "Destination unreachable: No route" 2001:db8:ff::1

route_type_says() {
    local type=$1 prefix=$2 dst=$3 text=$4
    if ! ctl route add "$type" "$prefix"; then
        note "fp6ctl route add $type $prefix refused"
        return 1
    fi
    ping_says "$text" "$dst"
}
check "route add unreachable 2001:db8:f1::/48: 'Destination unreachable: No route'" \
    route_type_says unreachable 2001:db8:f1::/48 2001:db8:f1::1 "Destination unreachable: No route"
check "route add prohibit 2001:db8:f2::/48: 'Destination unreachable: Administratively prohibited'" \
    route_type_says prohibit 2001:db8:f2::/48 2001:db8:f2::1 \
    "Destination unreachable: Administratively prohibited"
# iputils ping names codes 0 to 4; code 6 (reject route) it prints by number.
check "route add reject 2001:db8:f3::/48: 'Destination unreachable: Unknown code 6'" \
    route_type_says reject 2001:db8:f3::/48 2001:db8:f3::1 "Destination unreachable: Unknown code 6"

# A packet from A's link-local address to B's global one would leave its
# link: code 2, from fp6's own link-local address (the one source in scope).
a_ll=$(in_a ip -6 addr show dev "$A_IF" scope link | awk '$1 == "inet6" { sub("/.*", "", $2); print $2 }')
beyond_scope() {
    ping_a -c 1 -W 2 -I "$A_IF" -I "$a_ll" "$B_ADDR"
    grep -qF "From $pa_ll%$A_IF icmp_seq=1 Destination unreachable: Beyond scope of source address" \
        <<<"$ping_out"
}
check "ping from A's ${a_ll:-?} to $B_ADDR: 'Beyond scope of source address' from fp6's link-local" \
    beyond_scope

# ---- Time Exceeded

check "ping -t 1 A -> B: 'Time exceeded: Hop limit'" \
    ping_says "Time exceeded: Hop limit" -t 1 "$B_ADDR"

hop_limit_probe() { in_a ping -6 -n -c 1 -W 2 -t 1 "$B_ADDR" >/dev/null 2>&1; }
error_hop_limit() {
    local rc
    if ! ctl port set pa icmp-hop-limit 7; then
        note "fp6ctl port set pa icmp-hop-limit 7 refused"
        return 1
    fi
    capture_a "icmp6 and src $PA_ADDR and ip6[40] == 3 and ip6[7] == 7" hop_limit_probe
    rc=$?
    ctl port set pa icmp-hop-limit 64 || note "fp6ctl: restoring pa's icmp-hop-limit refused"
    return "$rc"
}
check "port set pa icmp-hop-limit 7: fp6's Time Exceeded reach A with hop limit 7" \
    error_hop_limit

# ---- Packet Too Big

ptb_said() {
    if ! ctl port set pb mtu 1280; then
        note "fp6ctl port set pb mtu 1280 refused"
        return 1
    fi
    ping_says "Packet too big: mtu=1280" -s 1400 "$B_ADDR"
}
check "port set pb mtu 1280; ping -s 1400 A -> B: 'Packet too big: mtu=1280'" ptb_said

pmtu_cached() {
    local out
    out=$(in_a ip -6 route get "$B_ADDR" 2>&1)
    note_lines <<<"$out"
    grep -qw 'mtu 1280' <<<"$out"
}
check "A's kernel caches the path MTU: ip -6 route get $B_ADDR shows mtu 1280" pmtu_cached
ctl port set pb mtu 1500 || note "fp6ctl port set pb mtu 1500 refused"

# ---- Port Unreachable and Parameter Problem, for packets to fp6

# udp_to DST PORT: a UDP datagram from A's connected socket; prints "refused"
# when the kernel reports ECONNREFUSED (a Port Unreachable came back).
udp_to() {
    in_a /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"fp6 icmp test")
try:
    s.recv(100)
    print("answered")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
' "$1" "$2"
}

udp_out=
udp_probe() { udp_out=$(udp_to "$PA_ADDR" 9); }
port_unreachable() {
    local rc
    capture_a "icmp6 and src $PA_ADDR and ip6[40] == 1 and ip6[41] == 4" udp_probe
    rc=$?
    note "UDP socket to [$PA_ADDR]:9: ${udp_out:-nothing}"
    [ "$rc" -eq 0 ] && [ "$udp_out" = refused ]
}
check "UDP to fp6's $PA_ADDR gets Port Unreachable (captured on A; socket refused)" \
    port_unreachable

# send_a SCAPY_PACKET: send one frame from A to fp6's pa (scapy expression
# for what follows the Ethernet header).
send_a() {
    in_a /usr/bin/python3 -c '
import sys
from scapy.all import Ether, IPv6, UDP, ICMPv6DestUnreach, Raw, sendp
pkt = Ether(src=sys.argv[1], dst=sys.argv[2]) / eval(sys.argv[4])
sendp(pkt, iface=sys.argv[3], count=int(sys.argv[5]), inter=0.05, verbose=False)
' "$a_mac" "$pa_mac" "$A_IF" "$1" "${2:-1}"
}

# Next header 150 (unassigned), which fp6 does not know: code 1, the pointer
# at the IPv6 header's Next Header field (offset 6).
param_problem_probe() {
    send_a "IPv6(src='$A_ADDR', dst='$PA_ADDR', nh=150) / Raw(b'x' * 8)"
}
param_problem() {
    capture_a "icmp6 and src $PA_ADDR and ip6[40] == 4 and ip6[41] == 1 and ip6[44:4] == 6" \
        param_problem_probe
}
check "unknown next header to fp6 gets Parameter Problem code 1, pointer 6" param_problem

# ---- rate limit

rate_limited() {
    local errors limited_before suppressed_before limited suppressed
    if ! ctl port set pa icmp-rate 1 icmp-burst 1; then
        note "fp6ctl port set pa icmp-rate 1 icmp-burst 1 refused"
        return 1
    fi
    limited_before=$(counter icmp_ratelimited)
    suppressed_before=$(counter icmp_errors_suppressed)
    ping_out=$(in_a ping -6 -n -c 20 -i 0.01 -t 1 -W 1 "$B_ADDR" 2>&1)
    errors=$(grep -c 'Time exceeded' <<<"$ping_out")
    sleep 0.3
    limited=$(counter icmp_ratelimited)
    suppressed=$(counter icmp_errors_suppressed)
    note "errors received: $errors of 20"
    note "workers' icmp_ratelimited: $limited_before -> $limited," \
        "control.icmp_errors_suppressed: $suppressed_before -> $suppressed"
    [ "$errors" -le 3 ] && { [ "$limited" -gt "$limited_before" ] ||
        [ "$suppressed" -gt "$suppressed_before" ]; }
}
check "icmp-rate 1 icmp-burst 1: 20 probes in 0.2 s get at most 3 errors; the rest counted as limited" \
    rate_limited
ctl port set pa icmp-rate 100 icmp-burst 10 || note "fp6ctl: restoring pa's limits refused"
sleep 0.2

# ---- no error for an error (RFC 4443 2.4 (e))

# A Destination Unreachable (port) from A about a packet it got from
# 2001:db8:ff::1, sent to 2001:db8:ff::1, which fp6 has no route for.
error_to_unrouted() {
    local quoted="IPv6(src='2001:db8:ff::1', dst='$A_ADDR') / UDP(sport=5000, dport=9)"
    send_a "IPv6(src='$A_ADDR', dst='2001:db8:ff::1') / ICMPv6DestUnreach(code=4) / $quoted" 3
}
no_error_for_error() {
    local sent_before no_route_before punted_before sent no_route punted captured
    sent_before=$(counter icmp_errors_sent)
    no_route_before=$(counter drops.no_route)
    punted_before=$(counter icmp_punted)
    capture_a "icmp6 and src $PA_ADDR and ip6[40] == 1" error_to_unrouted
    captured=$?
    sleep 0.3
    sent=$(counter icmp_errors_sent)
    no_route=$(counter drops.no_route)
    punted=$(counter icmp_punted)
    note "drops.no_route: $no_route_before -> $no_route, icmp_punted: $punted_before -> $punted," \
        "control.icmp_errors_sent: $sent_before -> $sent"
    [ "$captured" -ne 0 ] && [ "$no_route" -ge $((no_route_before + 3)) ] &&
        [ "$sent" -eq "$sent_before" ]
}
check "3 ICMPv6 errors to unrouted 2001:db8:ff::1: dropped as no_route, no error back" \
    no_error_for_error

# The same destination, but UDP: an error is owed and sent (the counter
# above could move).
udp_to_unrouted() {
    send_a "IPv6(src='$A_ADDR', dst='2001:db8:ff::1') / UDP(sport=5000, dport=9)"
}
error_for_udp() {
    local sent_before sent rc
    sent_before=$(counter icmp_errors_sent)
    capture_a "icmp6 and src $PA_ADDR and ip6[40] == 1 and ip6[41] == 0" udp_to_unrouted
    rc=$?
    sleep 0.2
    sent=$(counter icmp_errors_sent)
    note "control.icmp_errors_sent: $sent_before -> $sent"
    [ "$rc" -eq 0 ] && [ "$sent" -gt "$sent_before" ]
}
check "control: UDP to unrouted 2001:db8:ff::1 gets No Route, icmp_errors_sent grows" \
    error_for_udp

# ---- the daemon

if [ "$failed" -gt 0 ]; then
    echo "--- fp6ctl stats show"
    ctl stats show 2>&1
fi

daemon_alive() { kill -0 "$FP6_DAEMON_PID" 2>/dev/null; }
check "fp6d still running after the checks" daemon_alive
check "fp6d exits with status 0 on SIGTERM" fp6_stop_daemon

if [ "$failed" -gt 0 ]; then
    echo "--- fp6d log"
    cat "$log"
    exit 1
fi
exit 0
