#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Integration test: neighbour discovery (RFC 4861) between fp6d and Linux
# hosts, with no static neighbour entry anywhere: fp6's startup config has
# no `neigh add`, the hosts have none either.
#
#   fp6n-a 2001:db8:a::2/64 --veth-- pa [fp6d] pb --veth-- 2001:db8:b::2/64 fp6n-b
#
# Both ports run with short timers: base-reachable 2000 ms (ReachableTime
# 1..3 s), retrans-timer 300 ms.
#
# 1. A pings B and B pings A, 5/5 each; fp6 lists A and B with their real
#    MACs, learnt (not PERMANENT).
# 2. The state machine on its timers: an entry resolved afresh is REACHABLE,
#    STALE after ReachableTime (0.5..1.5 x base-reachable) with no traffic;
#    a packet makes it DELAY; DELAY_FIRST_PROBE_TIME (5 s) later fp6 probes
#    with a unicast NS (PROBE), B answers with a solicited NA, and the entry
#    is REACHABLE again. A packet sent while REACHABLE does not turn the
#    STALE that follows into DELAY; one sent as soon as it is STALE does.
# 3. B changes its MAC and announces it with an unsolicited NA (O set): fp6's
#    entry takes the new MAC and is STALE (RFC 4861 7.2.5), and stays so
#    while nothing is sent to B; pings still work.
# 4. An address nobody owns (2001:db8:b::99): fp6 sends 3 multicast NS
#    (MAX_MULTICAST_SOLICIT) 300 ms apart, then A's ping gets "Destination
#    unreachable: Address unreachable" from 2001:db8:a::1; the entry is
#    FAILED, gone after the 3 s hold-down; resolve_drops.resolution_failed
#    grew.
# 5. A flood of 20,000 NS with distinct sources and random MACs from B's
#    link, with `port set pb neigh-max 512`: pb never lists more than 512
#    dynamic entries. A first flood warms fp6d up; across a second one
#    (20,000 other sources), a ping flow A -> B (300 requests, one every
#    50 ms) started before it and ending after it loses at most 1%, and
#    fp6d's memory stays flat (VmRSS within 2 MiB, hugepages within 4 MiB).
# 6. Ten packets back to back to an address nobody answers: three wait
#    (queue of 3), resolve_drops.queue_full grows by at least 7.
#
# Usage: nd_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no netns).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

need_netns

need_tools ping tcpdump ethtool /usr/bin/python3
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null ||
    fp6_die "scapy is missing for /usr/bin/python3: run tools/setup.sh (python3-scapy)"

fp6_trap_cleanup
# Print the summary after the cleanup, whatever way the script ends.
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/fp6n/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
config=$run_dir/fp6d.conf
log=$run_dir/fp6d.log

A=fp6n-a
B=fp6n-b
A_IF=fp6n-a-in
B_IF=fp6n-b-in
A_ADDR=2001:db8:a::2
B_ADDR=2001:db8:b::2
GW_A=2001:db8:a::1
GW_B=2001:db8:b::1
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

# now_ms: a clock in milliseconds.
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t / 1000))
}

# counter KEY: current value of counter KEY from `fp6ctl -j stats show`
# (fp6_stat: the sum of every number whose key path ends with KEY).
counter() {
    ctl -j stats show | fp6_stat "$1"
}

# parse_neigh: read `fp6ctl -j neigh show` JSON on stdin and print one line
# per entry: DST DEV STATE LLADDR AGE_MS ROUTER QUEUED (LLADDR "-" when
# there is none).
parse_neigh() {
    /usr/bin/python3 -c '
import json, sys

try:
    doc = json.load(sys.stdin)
except ValueError as e:
    sys.exit("parse_neigh: neighbours are not JSON: %s" % e)
for n in doc:
    state = n.get("state")
    if isinstance(state, list):
        state = ",".join(state) if state else "-"
    print(n.get("dst"), n.get("dev"), state or "-", n.get("lladdr") or "-",
          n.get("age_ms", "-"), "router" if n.get("router") else "-",
          n.get("queued", "-"))
'
}

# neigh_lines [DEV]: fp6's neighbour entries (on DEV), as parse_neigh prints.
neigh_lines() {
    local args=()
    [ $# -ge 1 ] && args=(dev "$1")
    ctl -j neigh show "${args[@]}" | parse_neigh
}

# Set by sample_entry: what the last look at one entry found.
E_STATE=
E_MAC=
E_AGE=
E_QUEUED=
E_SEEN=
# sample_entry DEV ADDR: look at the entry once; E_STATE is its state (or
# "absent", "error"), E_SEEN when fp6d answered (now_ms), E_AGE the time
# in that state then (ms). E_SEEN - E_AGE is when the state was entered.
sample_entry() {
    local doc lines line
    E_STATE=error E_MAC=- E_AGE=0 E_QUEUED=0
    # The time is taken as soon as fp6d has answered, before the parsing.
    doc=$(ctl -j neigh show dev "$1") || return 0
    E_SEEN=$(now_ms)
    lines=$(parse_neigh <<<"$doc") || return 0
    line=$(awk -v a="$2" '$1 == a' <<<"$lines")
    if [ -z "$line" ]; then
        E_STATE=absent
        return 0
    fi
    read -r _ _ E_STATE E_MAC E_AGE _ E_QUEUED <<<"$line"
    [[ "$E_AGE" =~ ^[0-9]+$ ]] || E_AGE=0
}

# Set by wait_state: the states seen on the way, in order, and when the
# awaited state was entered (fp6's age of the entry subtracted from the
# moment it was seen), on the now_ms clock.
W_PATH=
W_ENTERED=0
# wait_state DEV ADDR STATE SECONDS: look at the entry every 0.1 s until it
# is in STATE (0), or SECONDS pass (1).
wait_state() {
    local dev=$1 addr=$2 want=$3 deadline last=
    deadline=$(($(now_ms) + $4 * 1000))
    W_PATH=
    while :; do
        sample_entry "$dev" "$addr"
        if [ "$E_STATE" != "$last" ]; then
            W_PATH+="${W_PATH:+ -> }$E_STATE"
            last=$E_STATE
        fi
        if [ "$E_STATE" = "$want" ]; then
            W_ENTERED=$((E_SEEN - E_AGE))
            return 0
        fi
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# dyn_count DEV: number of fp6's non-PERMANENT entries on DEV.
dyn_count() {
    local lines
    lines=$(neigh_lines "$1") || return 1
    awk '$3 != "PERMANENT" { n++ } END { print n + 0 }' <<<"$lines"
}

# forget_pid PID: take PID (a child this script has waited for) off the list
# fp6_cleanup stops.
forget_pid() {
    local i
    for i in "${!FP6_CLEAN_PIDS[@]}"; do
        [ "${FP6_CLEAN_PIDS[i]}" = "$1" ] && unset 'FP6_CLEAN_PIDS[i]'
    done
    FP6_CLEAN_PIDS=("${FP6_CLEAN_PIDS[@]}")
}

# capture_start NS FILE FILTER...: tcpdump in namespace NS on its host link
# into FILE (text, -v, each packet's line starting with its time in seconds
# since the epoch), in the background, until capture_stop. Returns once it
# listens.
CAP_PIDS=()
capture_start() {
    local ns=$1 file=$2 i pid
    shift 2
    local dev=$A_IF
    [ "$ns" = "$B" ] && dev=$B_IF
    # (--immediate-mode: without it, what sits in a half-full capture block
    # when tcpdump is stopped is never printed.)
    ip netns exec "$ns" tcpdump -n -l -v -tt --immediate-mode -i "$dev" "$@" >"$file" 2>&1 &
    pid=$!
    CAP_PIDS+=("$pid")
    FP6_CLEAN_PIDS+=("$pid")
    for ((i = 0; i < 50; i++)); do
        grep -q 'listening on' "$file" && return 0
        sleep 0.1
    done
    return 1
}

# capture_stop: stop every tcpdump of capture_start (they flush on SIGINT).
capture_stop() {
    local pid
    for pid in "${CAP_PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        forget_pid "$pid"
    done
    CAP_PIDS=()
}

# times_ms FILE PATTERN: the times (ms since the epoch) of the captured
# packets in FILE whose line matches the extended regular expression PATTERN.
times_ms() {
    # (%.0f: mawk's %d stops at 2^31.)
    awk -v re="$2" '$0 ~ re { printf "%.0f\n", $1 * 1000 }' "$1"
}

# scapy_send NS IFACE CODE: run CODE (python, after `from scapy.all import *`)
# with /usr/bin/python3 in namespace NS; IFACE is in the variable `iface`.
scapy_send() {
    ip netns exec "$1" /usr/bin/python3 -c "
from scapy.all import *
conf.verb = 0
iface = '$2'
$3
"
}

# ---- set-up

fp6_host_ns "$A" fp6n-a-out "$A_IF" "$A_ADDR/64" "$GW_A" || fail_setup "create host $A"
fp6_host_ns "$B" fp6n-b-out "$B_IF" "$B_ADDR/64" "$GW_B" || fail_setup "create host $B"
A_MAC=$(fp6_mac "$A_IF" "$A")
B_MAC=$(fp6_mac "$B_IF" "$B")
PA_MAC=$(fp6_mac fp6n-a-out)

# No `neigh add`: fp6 finds the hosts by neighbour discovery.
cat >"$config" <<EOF
port add pa devargs net_af_packet0,iface=fp6n-a-out
port add pb devargs net_af_packet1,iface=fp6n-b-out
port set pa base-reachable 2000 retrans-timer 300
port set pb base-reachable 2000 retrans-timer 300
port set pa up
port set pb up
addr add $GW_A/64 dev pa
addr add $GW_B/64 dev pb
EOF

read -ra eal <<<"$(fp6_eal_args fp6n-nd)"
fp6_clean_eal fp6n-nd
fp6_start_daemon "$log" --config "$config" --socket "$sock" \
    --workers "$(fp6_last_cpu)" --idle-sleep 100 -- "${eal[@]}"
fp6_wait_ready "$sock" 60 || fail_setup "fp6d ready on $sock"
echo "ok - fp6d ready (EAL: ${eal[*]})"
passed=$((passed + 1))
fp6_wait_dad "$sock" 10 || fail_setup "fp6's addresses pass duplicate address detection"
echo "ok - fp6's addresses pass duplicate address detection"
passed=$((passed + 1))

# ---- 1. resolution both ways, no static entries

no_static_anywhere() {
    local perm_a perm_b perm_fp6
    perm_a=$(in_a ip -6 neigh show nud permanent)
    perm_b=$(in_b ip -6 neigh show nud permanent)
    perm_fp6=$(neigh_lines | awk '$3 == "PERMANENT"')
    [ -z "$perm_a$perm_b$perm_fp6" ] ||
        note "permanent entries: A: ${perm_a:-none}; B: ${perm_b:-none}; fp6: ${perm_fp6:-none}"
    [ -z "$perm_a$perm_b$perm_fp6" ]
}
check "1. no static neighbour entries on A, B or fp6" no_static_anywhere

# ping_5 NS DST: five echo requests from NS to DST, five replies.
ping_5() {
    local out
    out=$(ip netns exec "$1" ping -6 -n -c 5 -i 0.2 -W 2 "$2" 2>&1)
    note "ping $2 from $1: $(grep -E 'transmitted' <<<"$out")"
    grep -q '5 packets transmitted, 5 received' <<<"$out"
}
check "1. ping A -> B: 5/5" ping_5 "$A" "$B_ADDR"
check "1. ping B -> A: 5/5" ping_5 "$B" "$A_ADDR"

# learnt DEV ADDR MAC: fp6 lists ADDR on DEV with MAC, in a dynamic state.
learnt() {
    sample_entry "$1" "$2"
    note "fp6: $2 on $1: $E_STATE $E_MAC (host's MAC $3)"
    [ "$E_MAC" = "$3" ] && [ "$E_STATE" != PERMANENT ] && [ "$E_STATE" != absent ] &&
        [ "$E_STATE" != INCOMPLETE ] && [ "$E_STATE" != FAILED ]
}
check "1. fp6 lists A ($A_ADDR) on pa with A's MAC, learnt" learnt pa "$A_ADDR" "$A_MAC"
check "1. fp6 lists B ($B_ADDR) on pb with B's MAC, learnt" learnt pb "$B_ADDR" "$B_MAC"

# ---- 2. the state machine on its timers

# Start from no entry, so that the ping below resolves B afresh: INCOMPLETE,
# multicast NS, B's solicited NA, REACHABLE (RFC 4861 7.2.5).
ctl neigh del "$B_ADDR" dev pb || fail_setup "fp6ctl neigh del $B_ADDR dev pb"
in_a ping -6 -n -c 1 -W 2 "$B_ADDR" >/dev/null 2>&1
sample_entry pb "$B_ADDR"
reach_entered=$((E_SEEN - E_AGE))
reachable_after_ping() {
    note "right after the ping: $E_STATE, ${E_AGE} ms in that state"
    [ "$E_STATE" = REACHABLE ]
}
check "2. right after a ping resolves B afresh, B's entry is REACHABLE" reachable_after_ping

# ReachableTime is drawn from 0.5..1.5 x BaseReachableTime (RFC 4861 6.3.2):
# 1000..3000 ms here, then STALE (7.3.3). Nothing is sent to B meanwhile.
stale_on_time() {
    local rc=0 took
    wait_state pb "$B_ADDR" STALE 4 || rc=1
    took=$((W_ENTERED - reach_entered))
    note "seen: $W_PATH; REACHABLE lasted ${took} ms (ReachableTime 1000..3000)"
    [ "$rc" -eq 0 ] && [ "$took" -ge 900 ] && [ "$took" -le 3200 ]
}
check "2. with no traffic it becomes STALE after 0.5..1.5 x base-reachable (<= 3.5 s)" stale_on_time

# A packet to B while STALE: the workers use the MAC and fp6 notices the use
# (polled every 250 ms), DELAY (7.3.3). DELAY_FIRST_PROBE_TIME (5 s) later:
# PROBE, a unicast NS to B's cached MAC; B answers it with a solicited NA,
# so the entry goes back to REACHABLE (7.2.5), about 5 s after DELAY.
probe_cap=$run_dir/probe.txt
capture_start "$B" "$probe_cap" 'icmp6 and (ip6[40] == 135 or ip6[40] == 136)' ||
    note "tcpdump in $B did not start"
ns_before=$(counter control.ns_sent) || ns_before=0
# fp6 notices that the workers used an entry by looking every 250 ms; the
# ping waits until it has looked at the STALE entry at least twice (a
# packet sent sooner is the subject of a check of its own, below).
sleep 0.6
in_a ping -6 -n -c 1 -W 2 "$B_ADDR" >/dev/null 2>&1
delay_after_ping() {
    local rc=0
    wait_state pb "$B_ADDR" DELAY 2 || rc=1
    note "after the ping: $W_PATH"
    return "$rc"
}
check "2. a ping to the STALE entry makes it DELAY" delay_after_ping
delay_entered=$W_ENTERED

probe_then_reachable() {
    local rc=0 took
    wait_state pb "$B_ADDR" REACHABLE 8 || rc=1
    took=$((W_ENTERED - delay_entered))
    note "seen: $W_PATH; REACHABLE again ${took} ms after DELAY began (5000, + 300 per lost probe)"
    [ "$rc" -eq 0 ] && [ "$took" -ge 4900 ] && [ "$took" -le 5800 ]
}
check "2. after DELAY_FIRST_PROBE_TIME (5 s) the probe is answered: REACHABLE again" \
    probe_then_reachable
capture_stop

unicast_probe_seen() {
    local ns_now probes nas
    ns_now=$(counter control.ns_sent) || ns_now=0
    # fp6's probe: an NS for B sent to B's own address (not its
    # solicited-node group); B's answer: a solicited NA.
    probes=$(grep -c "> $B_ADDR: .*neighbor solicitation, .*who has $B_ADDR" "$probe_cap")
    nas=$(grep -Ec "$B_ADDR > .*neighbor advertisement, .*tgt is $B_ADDR, .*Flags \[solicited" "$probe_cap")
    note "ns_sent: $ns_before -> $ns_now; at B: $probes unicast NS for $B_ADDR, $nas solicited NA back"
    [ "$ns_now" -gt "$ns_before" ] && [ "$probes" -ge 1 ] && [ "$nas" -ge 1 ]
}
check "2. the probe in PROBE is a unicast NS to B, answered by a solicited NA" \
    unicast_probe_seen

# Traffic while REACHABLE, none after: the entry goes STALE and stays so.
# Only a packet sent while it is STALE makes it DELAY (RFC 4861 7.3.3, and
# appendix C); one sent before does not.
in_a ping -6 -n -c 1 -W 2 "$B_ADDR" >/dev/null 2>&1
sample_entry pb "$B_ADDR"
pinged_in=$E_STATE
fwd_before=$(counter forwarded) || fwd_before=
stays_stale_after_reachable_traffic() {
    local rc=0 fwd_now
    wait_state pb "$B_ADDR" STALE 4 || rc=1
    note "ping sent while $pinged_in; then: $W_PATH"
    sleep 1
    sample_entry pb "$B_ADDR"
    fwd_now=$(counter forwarded) || fwd_now=
    note "1 s after STALE: $E_STATE, ${E_AGE} ms in that state; packets forwarded since the ping:" \
        "$((${fwd_now:-0} - ${fwd_before:-0}))"
    [ "$rc" -eq 0 ] && [ "$pinged_in" = REACHABLE ] && [ "$E_STATE" = STALE ]
}
check "2. a ping while REACHABLE, none after: STALE, and it stays STALE" \
    stays_stale_after_reachable_traffic

# stale_now: B's entry is STALE (one quick look, no parsing in python).
stale_now() {
    local doc obj
    doc=$(ctl -j neigh show dev pb) || return 1
    while IFS= read -r obj; do
        [[ "$obj" == *'"dst":"'"$B_ADDR"'"'* && "$obj" == *'"STALE"'* ]] && return 0
    done <<<"${doc//\}/$'\n'}"
    return 1
}
# The first packet sent to a STALE entry makes it DELAY however soon after
# the entry became STALE (7.3.3). B is resolved afresh, and pinged as soon
# as its entry is seen STALE.
ctl neigh del "$B_ADDR" dev pb || fail_setup "fp6ctl neigh del $B_ADDR dev pb"
in_a ping -6 -n -c 1 -W 2 "$B_ADDR" >/dev/null 2>&1
t_stale=$(($(now_ms) + 4000))
until stale_now || [ "$(now_ms)" -ge "$t_stale" ]; do :; done
t_stale=$(now_ms)
in_a ping -6 -n -c 1 -W 2 "$B_ADDR" >/dev/null 2>&1
t_ping=$(($(now_ms) - t_stale))
first_packet_in_stale() {
    local rc=0
    wait_state pb "$B_ADDR" DELAY 2 || rc=1
    note "STALE seen, ping done ${t_ping} ms later; then: $W_PATH"
    return "$rc"
}
check "2. a ping as soon as the entry is STALE makes it DELAY too" first_packet_in_stale

# ---- 3. B changes its MAC

B_NEW_MAC=02:f6:0b:00:00:02
in_b ip link set dev "$B_IF" address "$B_NEW_MAC" || fail_setup "change $B_IF's MAC"
scapy_send "$B" "$B_IF" "
sendp(Ether(src='$B_NEW_MAC', dst='33:33:00:00:00:01') /
      IPv6(src='$B_ADDR', dst='ff02::1', hlim=255) /
      ICMPv6ND_NA(tgt='$B_ADDR', R=0, S=0, O=1) /
      ICMPv6NDOptDstLLAddr(lladdr='$B_NEW_MAC'), iface=iface)
" || note "scapy could not send the NA"

new_mac_taken() {
    local i
    for ((i = 0; i < 20; i++)); do
        sample_entry pb "$B_ADDR"
        [ "$E_MAC" = "$B_NEW_MAC" ] && break
        sleep 0.1
    done
    note "fp6: $B_ADDR on pb: $E_STATE $E_MAC (new MAC $B_NEW_MAC)"
    [ "$E_MAC" = "$B_NEW_MAC" ]
}
fwd_before=$(counter forwarded) || fwd_before=
check "3. an unsolicited NA with O set gives fp6's entry B's new MAC" new_mac_taken

# RFC 4861 7.2.5: O set, S clear, a different address: STALE; and an entry
# stays STALE until a packet is sent to it (7.3.3). Nothing is sent to B
# here (the workers' forwarded count says so).
stays_stale() {
    local first=$E_STATE fwd_now
    sleep 1
    sample_entry pb "$B_ADDR"
    fwd_now=$(counter forwarded) || fwd_now=
    note "right after the NA: $first; 1 s later: $E_STATE, ${E_AGE} ms in that state;" \
        "packets forwarded meanwhile: $((${fwd_now:-0} - ${fwd_before:-0}))"
    [ "$first" = STALE ] && [ "$E_STATE" = STALE ]
}
check "3. the entry is STALE after the NA, and stays STALE with no traffic" stays_stale
check "3. ping A -> B after the MAC change: 5/5" ping_5 "$A" "$B_ADDR"

# ---- 4. an address nobody answers for

GONE=2001:db8:b::99
gone_cap_b=$run_dir/gone-b.txt
gone_cap_a=$run_dir/gone-a.txt
capture_start "$B" "$gone_cap_b" 'icmp6 and ip6[40] == 135' ||
    note "tcpdump in $B did not start"
# A's echo request to GONE, and the error that comes back.
capture_start "$A" "$gone_cap_a" "icmp6 and (ip6[40] == 1 or (ip6[40] == 128 and ip6 dst $GONE))" ||
    note "tcpdump in $A did not start"
failed_before=$(counter resolve_drops.resolution_failed) || failed_before=0
gone_out=$(in_a ping -6 -n -c 1 -W 5 "$GONE" 2>&1)
sample_entry pb "$GONE"
gone_state=$E_STATE
gone_failed_at=$((E_SEEN - E_AGE))
sleep 0.3
capture_stop

unreachable_from_fp6() {
    note "ping $GONE: $(grep -E '^From|transmitted' <<<"$gone_out" | tr '\n' ';')"
    grep -q "^From $GW_A icmp_seq=1 Destination unreachable: Address unreachable" <<<"$gone_out"
}
check "4. ping $GONE: \"Destination unreachable: Address unreachable\" from $GW_A" \
    unreachable_from_fp6

# RFC 4861 7.2.2: MAX_MULTICAST_SOLICIT (3) NS, RetransTimer (300 ms) apart,
# and the error once the last one has gone unanswered for RetransTimer:
# about 900 ms after the request.
three_ns_then_error() {
    local ns req err gaps
    ns=$(times_ms "$gone_cap_b" "neighbor solicitation, .*who has $GONE\$")
    req=$(times_ms "$gone_cap_a" "> $GONE: .*echo request" | head -n 1)
    err=$(times_ms "$gone_cap_a" "$GW_A > $A_ADDR: .*destination unreachable" | head -n 1)
    mapfile -t ns <<<"$ns"
    gaps=$(for ((i = 1; i < ${#ns[@]}; i++)); do printf '%d ' $((ns[i] - ns[i - 1])); done)
    note "NS for $GONE seen at B: ${#ns[@]}, $gaps ms apart (300 wanted);" \
        "error at A $((${err:-0} - ${req:-0})) ms after the request, $((${err:-0} - ${ns[-1]:-0})) ms after the last NS"
    [ -n "$req" ] && [ -n "$err" ] && [ "${#ns[@]}" -eq 3 ] || return 1
    for ((i = 1; i < 3; i++)); do
        [ $((ns[i] - ns[i - 1])) -ge 250 ] && [ $((ns[i] - ns[i - 1])) -le 500 ] || return 1
    done
    [ $((err - ns[2])) -ge 250 ] && [ $((err - ns[2])) -le 600 ] &&
        [ $((err - req)) -ge 850 ] && [ $((err - req)) -le 1500 ]
}
check "4. fp6 sent 3 NS for $GONE, 300 ms apart, and the error came ~900 ms after the request" \
    three_ns_then_error

failed_then_gone() {
    local rc=0 held
    note "entry right after the ping: $gone_state"
    [ "$gone_state" = FAILED ] || rc=1
    wait_state pb "$GONE" absent 5 || rc=1
    held=$((E_SEEN - gone_failed_at))
    note "seen: $W_PATH; gone within ${held} ms of FAILED (hold-down 3000)"
    [ "$rc" -eq 0 ] && [ "$held" -ge 2900 ] && [ "$held" -le 3700 ]
}
check "4. the entry is FAILED, then gone after the 3 s hold-down" failed_then_gone

resolution_failed_counted() {
    local now
    now=$(counter resolve_drops.resolution_failed) || now=
    note "resolve_drops.resolution_failed: $failed_before -> ${now:-?}"
    [ -n "$now" ] && [ "$now" -gt "$failed_before" ]
}
check "4. resolve_drops.resolution_failed grew" resolution_failed_counted

# ---- 5. NS flood with a bounded table

NEIGH_MAX=512
FLOOD_N=20000
ctl port set pb neigh-max "$NEIGH_MAX" || fail_setup "fp6ctl port set pb neigh-max $NEIGH_MAX"

# The flood: NS for fp6's 2001:db8:b::1 to its solicited-node group, each
# from its own 2001:db8:b::/64 address with a random unicast MAC (in the
# Ethernet header and the source link-layer option). scapy builds one frame
# by itself and checks the hand-built ones against it (building 20,000 with
# scapy takes longer than this test may run); its L2 socket sends them.
# Every run draws new sources.
flood_py=$run_dir/flood.py
cat >"$flood_py" <<'EOF'
import random, socket, struct, sys, time
from scapy.all import Ether, IPv6, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, conf, raw

iface, count, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tgt = socket.inet_pton(socket.AF_INET6, target)
group = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:0")[:13] + tgt[13:]
group_mac = b"\x33\x33" + group[12:]
prefix = socket.inet_pton(socket.AF_INET6, "2001:db8:b::")[:8]

def csum(data):
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return 0xFFFF - s

def frame(mac, src):
    body = struct.pack("!BBHI", 135, 0, 0, 0) + tgt + b"\x01\x01" + mac
    pseudo = src + group + struct.pack("!I3xB", len(body), 58)
    body = body[:2] + struct.pack("!H", csum(pseudo + body)) + body[4:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + group
    return group_mac + mac + b"\x86\xdd" + ip6 + body

def fmt_mac(mac):
    return ":".join("%02x" % b for b in mac)

rng = random.Random()  # seeded from os.urandom: each run has its own sources
seen = set()
frames = []
while len(frames) < count:
    iid = rng.getrandbits(64)
    if iid < 0x100 or iid in seen:
        continue  # keep clear of ::1, ::2, ::99 and friends
    seen.add(iid)
    mac = bytes([(rng.getrandbits(8) & 0xFC) | 0x02]) + rng.randbytes(5)
    frames.append(frame(mac, prefix + iid.to_bytes(8, "big")))

mac = frames[0][6:12]
src = socket.inet_ntop(socket.AF_INET6, frames[0][22:38])
ref = raw(Ether(src=fmt_mac(mac), dst=fmt_mac(group_mac)) /
          IPv6(src=src, dst=socket.inet_ntop(socket.AF_INET6, group), hlim=255) /
          ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=fmt_mac(mac)))
if ref != frames[0]:
    sys.exit("flood: hand-built NS differs from scapy's:\n%s\n%s" % (ref.hex(), frames[0].hex()))

s = conf.L2socket(iface=iface)
t = time.time()
for f in frames:
    s.send(f)
took = time.time() - t
s.close()
print("sent %d NS in %.2f s (%.0f/s)" % (count, took, count / took))
EOF

flood_log=$run_dir/flood.log
max_seen=0
samples=0
last_seen=
# sample_table: one look at pb's table size, keeping the largest.
sample_table() {
    local n
    n=$(dyn_count pb) || return 0
    samples=$((samples + 1))
    [ "$n" -gt "$max_seen" ] && max_seen=$n
    last_seen=$n
}
# flood: send FLOOD_N NS from B in the background, looking at pb's table
# every 0.2 s while scapy runs and for 1 s after; sets flood_rc and
# flood_t0/flood_t1 (now_ms when it was started and when it ended).
flood() {
    local pid i
    flood_t0=$(now_ms)
    ip netns exec "$B" /usr/bin/python3 "$flood_py" "$B_IF" "$FLOOD_N" "$GW_B" >>"$flood_log" 2>&1 &
    pid=$!
    FP6_CLEAN_PIDS+=("$pid")
    while kill -0 "$pid" 2>/dev/null; do
        sample_table
        sleep 0.2
    done
    wait "$pid"
    flood_rc=$?
    flood_t1=$(now_ms)
    forget_pid "$pid"
    # fp6 may still be working through what the flood left in its rings.
    for ((i = 0; i < 5; i++)); do
        sample_table
        sleep 0.2
    done
}

# mem_kib PID: fp6d's resident memory in KiB: "VMRSS HUGETLB", its ordinary
# pages and the hugepages it has mapped (EAL's heap, where the FIB lives;
# none without hugepages, when EAL's memory is ordinary pages in VmRSS).
mem_kib() {
    awk '/^VmRSS:/ { r = $2 } /^HugetlbPages:/ { h = $2 } END { print r + 0, h + 0 }' \
        "/proc/$1/status"
}

# The first flood fills the table from empty and touches fp6d's memory for
# the first time: its heap grows by a few MiB, and without hugepages EAL's
# memory (FIB tables, mbufs) comes into VmRSS page by page (about 70 MiB).
# Memory is compared across the second one, which must leave it flat.
flood
warm_rc=$flood_rc
read -r rss_warm huge_warm <<<"$(mem_kib "$FP6_DAEMON_PID")"
warmed_up() {
    note "first flood: $(tr '\n' ' ' <"$flood_log")(exit $warm_rc);" \
        "pb now has ${last_seen:-?} dynamic entries; fp6d VmRSS $rss_warm KiB, hugepages $huge_warm KiB"
    [ "$warm_rc" -eq 0 ]
}
check "5. scapy sent $FLOOD_N NS with distinct sources from $B's link" warmed_up
: >"$flood_log"

# A flow of 300 echo requests, one every 50 ms, ends by itself (stopping
# ping while a request is in flight would count it lost).
FLOW_N=300
flow_out=$run_dir/flow.txt
flow_t0=$(now_ms)
# (ip netns exec, not in_a: $! must be ping itself.)
ip netns exec "$A" ping -6 -n -c "$FLOW_N" -i 0.05 -W 1 "$B_ADDR" >"$flow_out" 2>&1 &
flow_pid=$!
FP6_CLEAN_PIDS+=("$flow_pid")
sleep 1
flow_started() {
    local n
    n=$(grep -c 'bytes from' "$flow_out")
    note "replies in the first second: $n"
    [ "$n" -ge 10 ]
}
check "5. a ping flow A -> B every 50 ms runs before the second flood" flow_started

read -r rss_before huge_before <<<"$(mem_kib "$FP6_DAEMON_PID")"
# What fp6 does about B while it floods: its multicast NS for B (B's entry
# gone, resolved again) and the packets its queue could not hold.
flood_cap=$run_dir/flood-ns.txt
capture_start "$B" "$flood_cap" "icmp6 and ip6[40] == 135 and ip6 src $GW_B" ||
    note "tcpdump in $B did not start"
qfull_before=$(counter resolve_drops.queue_full) || qfull_before=0
flood
flow_outlived_flood=0
kill -0 "$flow_pid" 2>/dev/null && flow_outlived_flood=1
# The flow ends by itself (ping's 50 ms are a little more: about 17 s after
# it began); 25 s at most.
while kill -0 "$flow_pid" 2>/dev/null && [ "$(now_ms)" -lt $((flow_t0 + 25000)) ]; do
    sleep 0.2
done
kill -INT "$flow_pid" 2>/dev/null
wait "$flow_pid" 2>/dev/null
forget_pid "$flow_pid"
read -r rss_after huge_after <<<"$(mem_kib "$FP6_DAEMON_PID")"
capture_stop
qfull_after=$(counter resolve_drops.queue_full) || qfull_after=0

flood_sent() {
    note "second flood: $(tr '\n' ' ' <"$flood_log")(exit $flood_rc)"
    [ "$flood_rc" -eq 0 ]
}
check "5. scapy sent $FLOOD_N NS from $FLOOD_N other sources" flood_sent

table_bounded() {
    note "most dynamic entries on pb seen: $max_seen ($samples samples, during both floods" \
        "and 1 s after each); last: ${last_seen:-?}"
    [ "$max_seen" -le "$NEIGH_MAX" ] && [ "$max_seen" -gt 0 ]
}
check "5. pb never lists more than neigh-max ($NEIGH_MAX) dynamic entries" table_bounded

flow_kept() {
    local stats tx rx lost
    stats=$(grep transmitted "$flow_out")
    tx=$(awk '{ print $1 }' <<<"$stats")
    rx=$(awk '{ print $4 }' <<<"$stats")
    # Which requests got no reply, and which ones were sent while scapy
    # ran (seq = ms since the flow began / 50, roughly).
    lost=$(sed -n 's/.* icmp_seq=\([0-9]*\) .*time=.*/\1/p' "$flow_out" |
        awk -v n="${tx:-0}" '{ got[$1] = 1 } END { for (i = 1; i <= n; i++) if (!got[i]) printf "%d ", i }')
    note "flow: $stats"
    note "no reply to icmp_seq: ${lost:-none}; scapy ran from seq ~$(((flood_t0 - flow_t0) / 50))" \
        "to ~$(((flood_t1 - flow_t0) / 50)); flow still running when the flood ended: $flow_outlived_flood"
    note "meanwhile fp6 sent $(grep -c "> ff02::1:ff00:2: .*who has $B_ADDR" "$flood_cap") multicast" \
        "NS for $B_ADDR (its entry had gone), and resolve_drops.queue_full went $qfull_before -> $qfull_after"
    [ "$flow_outlived_flood" -eq 1 ] && [ -n "$tx" ] && [ -n "$rx" ] && [ "$tx" -eq "$FLOW_N" ] &&
        [ $(((tx - rx) * 100)) -le "$tx" ]
}
check "5. the ping flow A -> B, running across the flood, loses at most 1%" flow_kept

# 20,000 NS leaking 100 bytes each would be 2 MiB of heap; a FIB table
# (64 MiB) or a hugepage (2 MiB) per batch would show in the hugepages.
mem_flat() {
    note "fp6d VmRSS: $rss_before -> $rss_after KiB; hugepages: $huge_before -> $huge_after KiB"
    [ $((rss_after - rss_before)) -le 2048 ] && [ $((huge_after - huge_before)) -le 4096 ]
}
check "5. fp6d's memory stays flat across the flood (VmRSS +2 MiB, hugepages +4 MiB at most)" mem_flat

check "5. ping A -> B after the flood: 5/5" ping_5 "$A" "$B_ADDR"

# ---- 6. the queue of an INCOMPLETE entry

SILENT=2001:db8:b::77
# A longer retransmit timer keeps the entry INCOMPLETE (3 x 1 s) long enough
# to look at its queue; the bound does not depend on it.
ctl port set pb retrans-timer 1000 || fail_setup "fp6ctl port set pb retrans-timer 1000"
queue_before=$(counter resolve_drops.queue_full) || queue_before=0
scapy_send "$A" "$A_IF" "
sendp([Ether(src='$A_MAC', dst='$PA_MAC') /
       IPv6(src='$A_ADDR', dst='$SILENT', hlim=64) /
       ICMPv6EchoRequest(id=0x6e64, seq=i) for i in range(10)], iface=iface)
" || note "scapy could not send the packets"
sample_entry pb "$SILENT"
queue_held() {
    note "fp6: $SILENT on pb: $E_STATE, queued $E_QUEUED"
    [ "$E_STATE" = INCOMPLETE ] && [ "$E_QUEUED" = 3 ]
}
check "6. 10 packets for $SILENT: the INCOMPLETE entry holds 3" queue_held
queue_dropped() {
    local now i
    for ((i = 0; i < 10; i++)); do
        now=$(counter resolve_drops.queue_full) || now=
        [ -n "$now" ] && [ "$now" -ge $((queue_before + 7)) ] && break
        sleep 0.2
    done
    note "resolve_drops.queue_full: $queue_before -> ${now:-?}"
    [ -n "$now" ] && [ "$now" -ge $((queue_before + 7)) ]
}
check "6. resolve_drops.queue_full grows by at least 10 - 3" queue_dropped

# ---- the daemon

daemon_alive() { kill -0 "$FP6_DAEMON_PID" 2>/dev/null; }
check "fp6d still running after the checks" daemon_alive

if [ "$failed" -gt 0 ]; then
    echo "--- fp6ctl neigh show"
    ctl neigh show 2>&1 | head -n 40
    echo "--- fp6ctl stats show"
    ctl stats show 2>&1
fi
check "fp6d exits with status 0 on SIGTERM" fp6_stop_daemon

if [ "$failed" -gt 0 ]; then
    echo "--- fp6d log"
    tail -n 100 "$log"
    exit 1
fi
exit 0
