#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Integration test on the demo topology: two Linux hosts in namespaces on
# veth pairs, fp6d routing between them through af_packet ports.
#
#   fp6t-a 2001:db8:a::2/64 --veth-- pa [fp6d] pb --veth-- 2001:db8:b::2/64 fp6t-b
#
# The hosts have no static neighbour entries: they resolve fp6's addresses
# with neighbour discovery, so the test first waits for fp6's duplicate
# address detection (fp6's entries for the hosts are still static).
#
# Checks: fp6's addresses pass DAD; A pings B 5/5; A learned fp6's MAC (as a
# router) by neighbour discovery; the hop limit drops by one each way (63
# seen at B for a request sent with 64, ttl=63 on A's replies); `stats show`
# counts forwarded packets; a packet to an unrouted prefix counts
# drops.no_route; a packet with hop limit 1 counts drops.hop_limit.
#
# Usage: demo_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no netns).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

need_netns

need_tools ping ethtool tcpdump /usr/bin/python3

fp6_trap_cleanup
# Print the summary after the cleanup, whatever way the script ends.
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/fp6t/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
config=$run_dir/fp6d.conf
log=$run_dir/fp6d.log

in_a() { ip netns exec fp6t-a "$@"; }
in_b() { ip netns exec fp6t-b "$@"; }
ctl() { "$FP6CTL" --socket "$sock" "$@"; }

fail_setup() {
    echo "FAIL - $*"
    failed=$((failed + 1))
    if [ -f "$log" ]; then
        echo "--- fp6d log"
        cat "$log"
    fi
    exit 1
}

fp6_host_ns fp6t-a fp6t-a-out fp6t-a-in 2001:db8:a::2/64 2001:db8:a::1 ||
    fail_setup "create host A"
fp6_host_ns fp6t-b fp6t-b-out fp6t-b-in 2001:db8:b::2/64 2001:db8:b::1 ||
    fail_setup "create host B"

cat >"$config" <<EOF
port add pa devargs net_af_packet0,iface=fp6t-a-out
port add pb devargs net_af_packet1,iface=fp6t-b-out
port set pa up
port set pb up
addr add 2001:db8:a::1/64 dev pa
addr add 2001:db8:b::1/64 dev pb
neigh add 2001:db8:a::2 lladdr $(fp6_mac fp6t-a-in fp6t-a) dev pa
neigh add 2001:db8:b::2 lladdr $(fp6_mac fp6t-b-in fp6t-b) dev pb
EOF

read -ra eal <<<"$(fp6_eal_args fp6t-demo)"
fp6_clean_eal fp6t-demo
fp6_start_daemon "$log" --config "$config" --socket "$sock" \
    --workers "$(fp6_last_cpu)" --idle-sleep 100 -- "${eal[@]}"
fp6_wait_ready "$sock" 60 || fail_setup "fp6d ready on $sock"
echo "ok   - fp6d ready (EAL: ${eal[*]})"
passed=$((passed + 1))
# The hosts have no static entries for fp6: they need its addresses past
# duplicate address detection before fp6 answers their solicitations.
fp6_wait_dad "$sock" 10 || fail_setup "fp6's addresses pass duplicate address detection"
echo "ok   - fp6's addresses pass duplicate address detection"
passed=$((passed + 1))

# counter KEY: current value of counter KEY from `fp6ctl -j stats show`.
counter() {
    ctl -j stats show | fp6_stat "$1"
}

# counter_grows KEY BEFORE: true once counter KEY exceeds BEFORE (the workers
# may publish counters a little after the packet; wait up to 3 s).
counter_grows() {
    local key=$1 before=$2 now i
    for ((i = 0; i < 15; i++)); do
        now=$(counter "$key") || now=
        if [ -n "$now" ] && [ "$now" -gt "$before" ]; then
            echo "     $key: $before -> $now"
            return 0
        fi
        sleep 0.2
    done
    echo "     $key: $before -> ${now:-?}"
    return 1
}

# 1. Five echo requests from A to B, five replies, each with hop limit 63
#    (B sends 64; fp6 forwards it once).
ping_out=$(in_a ping -6 -n -c 5 -i 0.2 -W 2 2001:db8:b::2 2>&1)
while IFS= read -r line; do
    echo "     $line"
done <<<"$ping_out"
ping_5_of_5() { grep -q '5 packets transmitted, 5 received' <<<"$ping_out"; }
replies_ttl_63() {
    [ "$(grep -c 'ttl=63' <<<"$ping_out")" -eq 5 ]
}
check "ping A -> B: 5/5 replies" ping_5_of_5
check "echo replies reach A with hop limit 63" replies_ttl_63

# A's entry for its gateway came from fp6's neighbour advertisement.
gw_learned_by_nd() {
    local entry
    entry=$(in_a ip -6 neigh show 2001:db8:a::1 dev fp6t-a-in)
    echo "     A's entry for 2001:db8:a::1: ${entry:-none}"
    grep -q "lladdr $(fp6_mac fp6t-a-out) router" <<<"$entry" &&
        ! grep -q PERMANENT <<<"$entry"
}
check "A learned fp6's MAC for its gateway by neighbour discovery" gw_learned_by_nd

# 2. The request sent with hop limit 64 arrives at B with 63.
request_hlim_at_b() {
    local cap=$run_dir/capture.txt pid i out
    # ICMPv6 echo request (type 128) right after the fixed header.
    in_b tcpdump -n -l -v -c 1 -i fp6t-b-in 'icmp6 and ip6[40] == 128' \
        >"$cap" 2>&1 &
    pid=$!
    for ((i = 0; i < 50; i++)); do
        grep -q 'listening on' "$cap" && break
        sleep 0.1
    done
    in_a ping -6 -n -c 1 -t 64 -W 2 2001:db8:b::2 >/dev/null 2>&1
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    out=$(grep -o 'hlim [0-9]*' "$cap" | head -n 1)
    echo "     captured at B: ${out:-nothing}"
    [ "$out" = "hlim 63" ]
}
check "request sent with hop limit 64 reaches B with 63" request_hlim_at_b

# 3. Counters.
forwarded=$(counter forwarded) || forwarded=
forwarded_counted() {
    echo "     forwarded: ${forwarded:-?}"
    [ -n "$forwarded" ] && [ "$forwarded" -gt 0 ]
}
check "stats show counts forwarded packets" forwarded_counted

# fp6 has no route for 2001:db8:ff::/48; A's default route sends it there.
no_route_before=$(counter drops.no_route) || no_route_before=0
in_a ping -6 -n -c 2 -i 0.2 -W 1 2001:db8:ff::1 >/dev/null 2>&1
check "packet to an unrouted prefix counts drops.no_route" \
    counter_grows drops.no_route "$no_route_before"

hop_limit_before=$(counter drops.hop_limit) || hop_limit_before=0
in_a ping -6 -n -c 2 -i 0.2 -t 1 -W 1 2001:db8:b::2 >/dev/null 2>&1
check "packet with hop limit 1 counts drops.hop_limit" \
    counter_grows drops.hop_limit "$hop_limit_before"

if [ "$failed" -gt 0 ]; then
    echo "--- fp6ctl stats show"
    ctl stats show 2>&1
fi

# 4. The daemon is still there after all this, and leaves on SIGTERM.
daemon_alive() { kill -0 "$FP6_DAEMON_PID" 2>/dev/null; }
check "fp6d still running after the checks" daemon_alive
check "fp6d exits with status 0 on SIGTERM" fp6_stop_daemon

if [ "$failed" -gt 0 ]; then
    echo "--- fp6d log"
    cat "$log"
    exit 1
fi
exit 0
