#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Integration test: duplicate address detection between fp6d and the Linux
# kernel, with no static neighbour entries on the host side.
#
#   fp6d-h  2001:db8:d::2/64 fp6d-h-in --veth-- fp6d-h-out = p0 [fp6d]
#   fp6d-g  2001:db8:e::2/64 fp6d-g-in --veth-- fp6d-g-out = p1 [fp6d]
#
# (a) fp6 detects a duplicate: H owns 2001:db8:d::5; fp6 adds it too and
#     marks it dadfailed, logs one line about it, and never answers for it.
# (b) the host detects fp6's address: H adds fp6's 2001:db8:d::1 (with DAD)
#     and its kernel marks it dadfailed; fp6 keeps it.
# (c) H pings fp6's global and link-local addresses, resolved by neighbour
#     discovery; H's entries carry fp6's MAC and the router flag.
# (d) port down keeps the addresses and withdraws the connected route; port
#     up runs DAD again (tentative, then usable within 3 s, route back).
# (e) a port added with no-linklocal gets no fe80 address.
#
# Usage: dad_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no netns).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

need_netns

need_tools ping ethtool /usr/bin/python3

fp6_trap_cleanup
# Print the summary after the cleanup, whatever way the script ends.
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/fp6d-dad/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
config=$run_dir/fp6d.conf
log=$run_dir/fp6d.log

H=fp6d-h
H_IF=fp6d-h-in
in_h() { ip netns exec "$H" "$@"; }
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

# now_ms: a clock in milliseconds.
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t / 1000))
}

# wait_until SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds
# (0) or SECONDS pass (1).
wait_until() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# addr_states DEV: fp6's addresses on port DEV, one per line (fp6_addr_states).
addr_states() {
    ctl -j addr show dev "$1" | fp6_addr_states
}

# addr_state DEV ADDR: usable, tentative, dadfailed, absent, or error (no
# answer from fp6d).
addr_state() {
    local states s
    if ! states=$(addr_states "$1"); then
        echo error
        return
    fi
    s=$(awk -v a="$2" '$2 == a { print $5 }' <<<"$states")
    echo "${s:-absent}"
}

state_is() {
    [ "$(addr_state "$1" "$2")" = "$3" ]
}

# all_in_state DEV STATE: DEV has addresses, and every one is in STATE.
all_in_state() {
    local states
    states=$(addr_states "$1") || return 1
    [ -n "$states" ] && ! awk -v s="$2" '$5 != s { bad = 1 } END { exit !bad }' <<<"$states"
}

# route_dsts: the destinations of `fp6ctl route show`, one per line.
route_dsts() {
    ctl -j route show | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r.get("dst"))
'
}

# has_route PREFIX: fp6 lists PREFIX. (Not `route_dsts | grep -q`: grep
# leaving early breaks the pipe, and pipefail turns that into a failure.)
has_route() {
    local dsts
    dsts=$(route_dsts) || return 1
    grep -qxF "$1" <<<"$dsts"
}

# host_addr ADDR: H's line for ADDR in `ip -6 addr show`.
host_addr() {
    in_h ip -6 addr show dev "$H_IF" | grep -F "inet6 $1/"
}

# ---- set-up

fp6_host_ns "$H" fp6d-h-out "$H_IF" 2001:db8:d::2/64 2001:db8:d::1 ||
    fail_setup "create host $H"
# The kernel's own DAD, for (b): one probe, and on (the default).
in_h sysctl -q -w "net.ipv6.conf.$H_IF.accept_dad=1" \
    "net.ipv6.conf.$H_IF.dad_transmits=1" || fail_setup "DAD settings on $H"
# For (a): H owns 2001:db8:d::5 before fp6 wants it.
in_h ip -6 addr add 2001:db8:d::5/64 dev "$H_IF" nodad ||
    fail_setup "add 2001:db8:d::5 to $H"
# For (e): the second port's peer.
fp6_host_ns fp6d-g fp6d-g-out fp6d-g-in 2001:db8:e::2/64 2001:db8:e::1 ||
    fail_setup "create host fp6d-g"
fp6_mac_p0=$(fp6_mac fp6d-h-out)

cat >"$config" <<EOF
port add p0 devargs net_af_packet0,iface=fp6d-h-out
port set p0 up
addr add 2001:db8:d::1/64 dev p0
EOF

read -ra eal <<<"$(fp6_eal_args fp6d-dad)"
fp6_clean_eal fp6d-dad
fp6_start_daemon "$log" --config "$config" --socket "$sock" \
    --workers "$(fp6_last_cpu)" --idle-sleep 100 -- "${eal[@]}"
fp6_wait_ready "$sock" 60 || fail_setup "fp6d ready on $sock"
echo "ok - fp6d ready (EAL: ${eal[*]})"
passed=$((passed + 1))
fp6_wait_dad "$sock" 10 || fail_setup "fp6's addresses pass DAD"
echo "ok - fp6's addresses pass DAD"
passed=$((passed + 1))

# ---- (a) fp6 detects a duplicate

ctl addr add 2001:db8:d::5/64 dev p0 || fail_setup "fp6ctl addr add 2001:db8:d::5/64 dev p0"
dup_detected() {
    wait_until 5 state_is p0 2001:db8:d::5 dadfailed
    local rc=$?
    note "fp6: $(addr_states p0 | grep -F ' 2001:db8:d::5 ')"
    return "$rc"
}
check "(a) fp6 marks 2001:db8:d::5, which H owns, dadfailed within 5 s" dup_detected

# The line wanted says "duplicate" (not "passed duplicate address
# detection") at warning level.
dup_logged() {
    local lines
    lines=$(grep -F '2001:db8:d::5' "$log" | grep -w p0 | grep -i duplicate)
    while IFS= read -r line; do
        note "log: $line"
    done <<<"$lines"
    [ -n "$lines" ] && [ "$(wc -l <<<"$lines")" -eq 1 ] && ! grep -q passed <<<"$lines" &&
        grep -q '^fp6.nd: warning: ' <<<"$lines"
}
check "(a) the fp6d log has one warning line saying so, naming p0 and the address" dup_logged

# H gives the address up and forgets its neighbours: now only fp6 could
# answer a solicitation for 2001:db8:d::5, and it must not.
in_h ip -6 addr del 2001:db8:d::5/64 dev "$H_IF"
in_h ip -6 neigh flush dev "$H_IF"
dup_not_answered() {
    local out entry
    out=$(in_h ping -6 -n -c 2 -W 1 2001:db8:d::5 2>&1)
    local rc=$?
    note "ping: $(grep -E 'transmitted|unreachable' <<<"$out" | head -n 1)"
    entry=$(in_h ip -6 neigh show 2001:db8:d::5 dev "$H_IF")
    note "H's entry for 2001:db8:d::5: ${entry:-none}"
    [ "$rc" -ne 0 ] && ! grep -q lladdr <<<"$entry"
}
check "(a) fp6 does not answer for its dadfailed address (ping from H fails)" dup_not_answered

dup_deleted() {
    ctl addr del 2001:db8:d::5/64 dev p0 && state_is p0 2001:db8:d::5 absent
}
check "(a) addr del removes the dadfailed address" dup_deleted

# ---- (b) the host detects fp6's address

in_h ip -6 addr add 2001:db8:d::1/64 dev "$H_IF" ||
    fail_setup "add 2001:db8:d::1 to $H (with DAD)"
host_dadfailed() {
    local line
    line=$(host_addr 2001:db8:d::1) && grep -q dadfailed <<<"$line"
}
host_detects() {
    wait_until 5 host_dadfailed
    local rc=$?
    note "H: $(host_addr 2001:db8:d::1 | sed 's/^ *//')"
    return "$rc"
}
check "(b) H's kernel marks 2001:db8:d::1, fp6's, dadfailed within 5 s" host_detects
fp6_keeps() {
    note "fp6: $(addr_states p0 | grep -F ' 2001:db8:d::1 ')"
    state_is p0 2001:db8:d::1 usable
}
check "(b) fp6 keeps 2001:db8:d::1 usable" fp6_keeps
in_h ip -6 addr del 2001:db8:d::1/64 dev "$H_IF"
in_h ip -6 neigh flush dev "$H_IF"

# ---- (c) pings without static entries

ll=$(addr_states p0 | awk '$4 == "link" { print $2 }')
have_ll() {
    note "p0 link-local: ${ll:-none}"
    [[ "$ll" == fe80:* ]]
}
check "(c) p0 has a link-local address" have_ll

no_static() {
    local perm
    perm=$(in_h ip -6 neigh show nud permanent)
    [ -z "$perm" ] || note "permanent entries on H: $perm"
    [ -z "$perm" ]
}
check "(c) H has no static neighbour entries" no_static

# ping_all TARGET: two echo requests from H, two replies.
ping_all() {
    local out
    out=$(in_h ping -6 -n -c 2 -i 0.2 -W 2 "$1" 2>&1)
    note "ping $1: $(grep transmitted <<<"$out")"
    grep -q '2 packets transmitted, 2 received' <<<"$out"
}
check "(c) H pings fp6's 2001:db8:d::1" ping_all 2001:db8:d::1
check "(c) H pings fp6's link-local ${ll:-?}%$H_IF" ping_all "$ll%$H_IF"

# learned_router ADDR: H's entry for ADDR has fp6's MAC and the router flag.
learned_router() {
    local entry
    entry=$(in_h ip -6 neigh show "$1" dev "$H_IF")
    note "H's entry: ${entry:-none}"
    grep -q "lladdr $fp6_mac_p0 router" <<<"$entry" && ! grep -q PERMANENT <<<"$entry"
}
check "(c) H's entry for 2001:db8:d::1 has fp6's MAC $fp6_mac_p0 and router" \
    learned_router 2001:db8:d::1
check "(c) H's entry for ${ll:-?} has fp6's MAC and router" learned_router "$ll"

# ---- (d) port down/up runs DAD again

ctl port set p0 down || fail_setup "fp6ctl port set p0 down"
kept_addrs() {
    local states
    states=$(addr_states p0)
    note "fp6 after down: $(tr '\n' ';' <<<"$states")"
    grep -qF ' 2001:db8:d::1 ' <<<"$states" && grep -qF " $ll " <<<"$states"
}
check "(d) port down keeps p0's addresses" kept_addrs
route_gone() {
    local dsts
    dsts=$(route_dsts) || return 1
    note "fp6 routes: $(tr '\n' ' ' <<<"$dsts")"
    ! grep -qxF 2001:db8:d::/64 <<<"$dsts"
}
check "(d) port down withdraws the connected route 2001:db8:d::/64" route_gone

t_up=$(now_ms)
ctl port set p0 up || fail_setup "fp6ctl port set p0 up"
states_at_up=$(addr_states p0)
tentative_first() {
    note "fp6 at up: $(tr '\n' ';' <<<"$states_at_up")"
    [ -n "$states_at_up" ] &&
        ! awk '$5 != "tentative" { bad = 1 } END { exit !bad }' <<<"$states_at_up"
}
check "(d) port up: every address of p0 tentative at first" tentative_first
usable_again() {
    wait_until 4 all_in_state p0 usable
    local rc=$? took
    took=$(($(now_ms) - t_up))
    note "usable after ${took} ms: $(addr_states p0 | tr '\n' ';')"
    [ "$rc" -eq 0 ] && [ "$took" -le 3000 ]
}
check "(d) port up: every address usable again within 3 s" usable_again
route_back() {
    note "fp6 routes: $(ctl -j route show 2>&1)"
    has_route 2001:db8:d::/64
}
check "(d) port up: the connected route 2001:db8:d::/64 is back" route_back
check "(d) H pings 2001:db8:d::1 again" ping_all 2001:db8:d::1

# ---- (e) no-linklocal

p1_up() {
    ctl port add p1 devargs net_af_packet1,iface=fp6d-g-out no-linklocal &&
        ctl port set p1 up &&
        ctl addr add 2001:db8:e::1/64 dev p1 &&
        wait_until 4 all_in_state p1 usable
}
check "(e) port p1 added with no-linklocal: up, 2001:db8:e::1 passes DAD" p1_up
no_ll() {
    local states
    states=$(addr_states p1)
    note "p1: $(tr '\n' ';' <<<"$states")"
    [ -n "$states" ] && ! grep -qi ' fe80:' <<<"$states"
}
check "(e) p1 has no fe80 address" no_ll

# ---- the daemon

daemon_alive() { kill -0 "$FP6_DAEMON_PID" 2>/dev/null; }
check "fp6d still running after the checks" daemon_alive
check "fp6d exits with status 0 on SIGTERM" fp6_stop_daemon

if [ "$failed" -gt 0 ]; then
    echo "--- fp6d log"
    cat "$log"
    exit 1
fi
exit 0
