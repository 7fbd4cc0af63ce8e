#!/usr/bin/env bash
# Integration test: router advertisements (RFC 4861 6.2) to a Linux host that
# has nothing configured but accept_ra: it must get its default route via
# fp6's link-local address and a SLAAC address in the advertised prefix; a
# router solicitation is answered within 0.5 s; `ra off` sends a final RA
# with router lifetime 0 and the host drops its default route.
#
#   fp6r-h (accept_ra, no address, no route) fp6r-h-in --veth-- fp6r-h-out = p0 [fp6d]
#
# Usage: ra_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no netns).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root for network namespaces and veth pairs"
    exit 77
fi
if ! ip netns add fp6r-probe-$$ 2>/dev/null; then
    echo "SKIP: cannot create a network namespace here"
    exit 77
fi
ip netns del fp6r-probe-$$

fp6_trap_cleanup
trap 'fp6_cleanup; summary; [ "$failed" -eq 0 ]' EXIT

run_dir=/run/fp6r-ra/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
log=$run_dir/fp6d.log
H=fp6r-h
IF=fp6r-h-in
in_h() { ip netns exec "$H" "$@"; }
ctl() { "$FP6CTL" --socket "$sock" "$@"; }

# The host: a veth with IPv6 on and nothing configured but accept_ra.
fp6_trap_cleanup
ip netns del "$H" 2>/dev/null
ip link del dev fp6r-h-out 2>/dev/null
ip netns add "$H" && FP6_CLEAN_NETNS+=("$H")
ip link add fp6r-h-out type veth peer name "$IF" netns "$H" && FP6_CLEAN_LINKS+=(fp6r-h-out)
sysctl -q -w net.ipv6.conf.fp6r-h-out.disable_ipv6=1
ip link set dev fp6r-h-out up
in_h sysctl -q -w "net.ipv6.conf.$IF.accept_ra=1" "net.ipv6.conf.$IF.forwarding=0"
in_h ip link set dev lo up
in_h ethtool -K "$IF" tx off >/dev/null
in_h ip link set dev "$IF" up

cat >"$run_dir/fp6d.conf" <<EOF
port add p0 devargs net_af_packet0,iface=fp6r-h-out
port set p0 up
addr add 2001:db8:7::1/64 dev p0
port set p0 ra on interval 30
port set p0 ra prefix 2001:db8:7::/64
EOF
read -ra eal <<<"$(fp6_eal_args fp6r-ra)"
fp6_clean_eal fp6r-ra
fp6_start_daemon "$log" --config "$run_dir/fp6d.conf" --socket "$sock" \
    --workers "$(fp6_last_cpu)" --idle-sleep 100 -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 60; then
    echo "not ok - fp6d ready"
    failed=$((failed + 1))
    cat "$log"
    exit 1
fi
fp6_wait_dad "$sock" 10 || note "fp6's addresses did not settle"

fp6_ll=$(ctl -j addr show dev p0 | /usr/bin/python3 -c '
import json, sys
print([a["local"] for a in json.load(sys.stdin)[0]["addr_info"] if a["scope"] == "link"][0])')

# wait_for SECONDS COMMAND...: retry COMMAND every 0.2 s.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.2
    done
}
default_via_fp6() {
    local routes
    routes=$(in_h ip -6 route show default)
    grep -q "via $fp6_ll dev $IF proto ra" <<<"$routes"
}
slaac_addr() {
    local addrs
    addrs=$(in_h ip -6 addr show dev "$IF" scope global)
    grep -q 'inet6 2001:db8:7:0:' <<<"$addrs"
}
no_default() { ! default_via_fp6; }
ra_sent() { ctl -j stats show | fp6_stat control.ra_sent; }

got_default() {
    wait_for 20 default_via_fp6 || { note "$(in_h ip -6 route)"; return 1; }
}
check "the host's default route is via fp6's link-local $fp6_ll (proto ra)" got_default

got_slaac() {
    wait_for 10 slaac_addr || { note "$(in_h ip -6 addr show dev "$IF")"; return 1; }
}
check "the host has a SLAAC address in 2001:db8:7::/64" got_slaac

pings_fp6() { in_h ping -6 -c 2 -i 0.2 -W 2 2001:db8:7::1 >/dev/null; }
check "the host pings fp6 through what it learnt" pings_fp6

send_rs() {
    in_h /usr/bin/python3 -c '
import sys
from scapy.all import Ether, IPv6, ICMPv6ND_RS, sendp
sendp(Ether(dst="33:33:00:00:00:02")/IPv6(dst="ff02::2", hlim=int(sys.argv[2]))/ICMPv6ND_RS(),
      iface=sys.argv[1], verbose=False)' "$IF" "$1" 2>/dev/null
}

# A router solicitation is answered within 0.5 s once 3 s have passed since
# the last multicast RA (RFC 4861 6.2.6).
rs_answered() {
    local before after
    sleep 3.1
    before=$(ra_sent)
    send_rs 255 || return 1
    sleep 0.7
    after=$(ra_sent)
    note "ra_sent $before -> $after"
    [ "$after" -gt "$before" ]
}
check "a router solicitation gets an RA within 0.5 s" rs_answered

# An invalid RS (hop limit 64, RFC 4861 6.1.1) gets nothing.
bad_rs_ignored() {
    local before after drops
    sleep 3.1
    before=$(ra_sent)
    send_rs 64 || return 1
    sleep 0.7
    after=$(ra_sent)
    drops=$(ctl -j stats show | fp6_stat nd_drops.bad_hop_limit)
    note "ra_sent $before -> $after, bad_hop_limit $drops"
    [ "$after" -eq "$before" ] && [ "$drops" -ge 1 ]
}
check "an RS with hop limit 64 gets nothing and is counted bad_hop_limit" bad_rs_ignored

ra_off_final() {
    ctl port set p0 ra off || return 1
    wait_for 5 no_default || { note "$(in_h ip -6 route)"; return 1; }
}
check "ra off: a final RA (lifetime 0) removes the host's default route" ra_off_final

[ "$failed" -eq 0 ]
