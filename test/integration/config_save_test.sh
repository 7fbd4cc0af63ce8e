#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# `show running-config` and `config save`, on net_null ports (no namespaces).
#
# Checks:
#  1. A daemon started without --config refuses `config save` with no FILE,
#     naming --config (exit 2).
#  2. After ports, settings, addresses, neighbours, routes (one left
#     inactive by removing its gateway's address: saved with `pending`), router
#     advertisements and policy changes, `config save FILE` writes exactly
#     what `show running-config` prints, through a rename (a new inode), mode
#     0640, and no temporary file is left beside it; a relative FILE is
#     taken from fp6ctl's directory.
#  3. A save into a missing directory is refused and names it.
#  4. fp6d restarted with --config of the saved file shows the same ports
#     (without counters), addresses, static neighbours, routes and policy
#     table, and the same running config (address lifetimes aside).
#  5. `config save` with no FILE on that daemon rewrites its --config file
#     with the same text.
#
# Usage: config_save_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

daemon_dirs ob-cfg

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }

start() {
    fp6_start_daemon "$run_dir/fp6d-$1.log" --socket "$sock" --workers "$worker" \
        --idle-sleep 1000 "${@:2}" -- "${eal[@]}"
    if ! fp6_wait_ready "$sock" 30; then
        echo "not ok - fp6d ready ($1)"
        cat "$run_dir/fp6d-$1.log"
        failed=$((failed + 1))
        exit 1
    fi
}

# --- 1. no --config, no FILE -------------------------------------------------

start first

refuses_without_config() {
    local out rc=0
    out=$(ctl config save 2>&1) || rc=$?
    note "exit $rc: $out"
    [ "$rc" -eq 2 ] && [[ $out == *"--config"* ]]
}
check "config save with no FILE and no --config: exit 2 naming --config" refuses_without_config

# --- 2. configure, show, save -------------------------------------------------

nbr_mac=02:00:5e:00:53:02
setup_commands=(
    "port add n0 devargs net_null0,no-rx=1"
    "port add n1 devargs net_null1,no-rx=1 mtu 9000 no-linklocal"
    "port set n0 dad-transmits 2 retrans-timer 200 icmp-rate 50 icmp-burst 5 icmp-hop-limit 32"
    "port set n1 strict-source on base-reachable 20000 neigh-max 100 redirects off"
    "addr add 2001:db8:1::1/64 dev n0"
    "addr add 2001:db8:2::1/64 dev n1 preferred-source valid_lft 86400 preferred_lft 3600"
    "addr add 2001:db8:3::1/64 dev n1 temporary"
    "port set n0 up"
    "port set n1 up"
    "neigh add 2001:db8:1::2 lladdr $nbr_mac dev n0 router"
    "neigh add 2001:db8:2::7 lladdr 02:00:5e:00:53:07 dev n1"
    "route add 2001:db8:100::/48 via 2001:db8:1::2"
    "route add 2001:db8:200::/48 via 2001:db8:2::7 metric 50 src 2001:db8:2::1"
    "route add blackhole 2001:db8:dead::/48"
    "route add unreachable 2001:db8:beef::/48 metric 7"
    "addr add 2001:db8:4::1/64 dev n0"
    "route add 2001:db8:400::/48 via 2001:db8:4::9"
    "addr del 2001:db8:4::1/64 dev n0"
    "port set n0 ra prefix 2001:db8:1::/64 no-autonomous valid_lft 600 preferred_lft 300"
    "port set n0 ra on interval 30"
    "policy del ::ffff:0:0/96"
    "policy add 2001:db8:300::/48 precedence 7 label 9"
    "policy add ::/0 precedence 45 label 1"
)
set_up() {
    local line words
    for line in "${setup_commands[@]}"; do
        read -ra words <<<"$line"
        if ! ctl "${words[@]}" >/dev/null; then
            note "fp6ctl $line failed"
            return 1
        fi
    done
    FP6CTL=$FP6CTL fp6_wait_dad "$sock" 15
}
check "a router with two ports, settings, addresses, neighbours, routes, RAs, policy" set_up

# Address lifetimes count down by the second: two texts taken apart in time
# are compared without them (and their counts separately, see below).
no_lifetimes() { sed -E 's/(preferred|valid)_lft [0-9]+/\1_lft N/g' "$1"; }
# The lifetimes of file $2 are those of $1, or up to 5 s less.
lifetimes_follow() {
    paste -d ' ' <(grep -oE '_lft [0-9]+' "$1" | cut -d' ' -f2) \
        <(grep -oE '_lft [0-9]+' "$2" | cut -d' ' -f2) |
        awk 'NF != 2 || $2 > $1 || $2 < $1 - 5 { bad = 1 } END { exit bad }'
}

ctl show running-config >"$run_dir/shown.conf"
saved=$run_dir/saved.conf
echo "# an old file" >"$saved"
chmod 0644 "$saved"

saves_what_it_shows() {
    local before after
    before=$(stat -c %i "$saved")
    ctl config save "$saved" >/dev/null || return 1
    after=$(stat -c %i "$saved")
    diff -u <(no_lifetimes "$run_dir/shown.conf") <(no_lifetimes "$saved") >"$run_dir/diff" ||
        { note "saved differs from shown:" "$(cat "$run_dir/diff")"; return 1; }
    lifetimes_follow "$run_dir/shown.conf" "$saved" ||
        { note "saved lifetimes are not the shown ones, a few seconds on"; return 1; }
    [ "$before" != "$after" ] || { note "same inode: not written through a rename"; return 1; }
    [ "$(stat -c %a "$saved")" = 644 ] || { note "mode $(stat -c %a "$saved")"; return 1; }
    if ls -A "$run_dir" | grep -q '^\.saved\.conf\.'; then
        note "a temporary file was left: $(ls -A "$run_dir")"
        return 1
    fi
}
check "config save FILE: the text of show running-config, a new inode, the old mode kept" \
    saves_what_it_shows

has_every_part() {
    local want
    for want in "port add n1 devargs net_null1,no-rx=1 mtu 9000 no-linklocal" \
        "dad-transmits 2" "retrans-timer 200" "icmp-rate 50" "icmp-burst 5" \
        "icmp-hop-limit 32" "strict-source on" "base-reachable 20000" "neigh-max 100" \
        "redirects off" "addr add 2001:db8:3::1/64 dev n1 temporary" \
        "neigh add 2001:db8:1::2 lladdr $nbr_mac dev n0 router" \
        "route add blackhole 2001:db8:dead::/48" "metric 50 src 2001:db8:2::1" \
        "route add 2001:db8:400::/48 via 2001:db8:4::9 pending" \
        "port set n0 ra on interval 30" "policy add 2001:db8:300::/48 precedence 7 label 9"; do
        grep -qF -- "$want" "$saved" || { note "missing: $want"; return 1; }
    done
    # The link-local address fp6 made itself is not configuration.
    ! grep -q "addr add fe80" "$saved" || { note "auto link-local written"; return 1; }
}
check "the saved file holds every setting made, and not the automatic link-local" \
    has_every_part

relative_path() {
    (cd "$run_dir" && ctl config save rel.conf >/dev/null) || return 1
    [ -f "$run_dir/rel.conf" ] && [ "$(stat -c %a "$run_dir/rel.conf")" = 640 ]
}
check "config save with a relative FILE writes it in fp6ctl's directory, mode 640" relative_path

missing_dir() {
    local out rc=0
    out=$(ctl config save "$run_dir/nosuch/x.conf" 2>&1) || rc=$?
    note "exit $rc: $out"
    [ "$rc" -eq 2 ] && [[ $out == *"$run_dir/nosuch"* ]]
}
check "config save into a missing directory: exit 2 naming it" missing_dir

# What must survive a restart: everything but counters, ages, lifetimes and
# what follows from the MAC, which net_null draws at random at each start
# (the MAC itself, the link-local address fp6 derives from it, and its
# routes).
state() {
    ctl -j port show | /usr/bin/python3 -c '
import json, sys
for p in json.load(sys.stdin):
    p.pop("stats", None); p.pop("port_id", None); p.pop("address", None)
    print(json.dumps(p, sort_keys=True))'
    ctl -j addr show | /usr/bin/python3 -c '
import json, sys
for p in json.load(sys.stdin):
    p["addr_info"] = [a for a in p["addr_info"] if not a["local"].startswith("fe80:")]
    for a in p["addr_info"]:
        a.pop("valid_life_time"); a.pop("preferred_life_time")
    print(json.dumps(p, sort_keys=True))'
    ctl -j neigh show | /usr/bin/python3 -c '
import json, sys
for n in json.load(sys.stdin):
    if "PERMANENT" in n["state"]:
        n.pop("age_ms", None)
        print(json.dumps(n, sort_keys=True))'
    ctl -j route show | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if not (r["dst"].startswith("fe80:") and "local" in r["flags"]):
        print(json.dumps(r, sort_keys=True))'
    ctl -j policy show
}
state >"$run_dir/state-before"
fp6_stop_daemon

# --- 4. restart from the saved file -------------------------------------------

start second --config "$saved"
FP6CTL=$FP6CTL fp6_wait_dad "$sock" 15 >/dev/null 2>&1

same_state() {
    state >"$run_dir/state-after"
    diff -u "$run_dir/state-before" "$run_dir/state-after" >"$run_dir/diff" ||
        { note "differs after restart:" "$(cat "$run_dir/diff")"; return 1; }
    [ "$(wc -l <"$run_dir/state-after")" -gt 8 ] || { note "suspiciously little state"; return 1; }
}
check "fp6d --config of the saved file: same ports, addresses, neighbours, routes, policy" \
    same_state

same_running_config() {
    ctl show running-config >"$run_dir/shown2.conf" || return 1
    diff -u <(no_lifetimes "$run_dir/shown.conf") <(no_lifetimes "$run_dir/shown2.conf") \
        >"$run_dir/diff" || { note "$(cat "$run_dir/diff")"; return 1; }
}
check "and the same running config (lifetimes aside)" same_running_config

default_file() {
    ctl config save >/dev/null || return 1
    diff -u <(no_lifetimes "$run_dir/shown2.conf") <(no_lifetimes "$saved") >"$run_dir/diff" ||
        { note "$(cat "$run_dir/diff")"; return 1; }
}
check "config save with no FILE rewrites the --config file" default_file

[ "$failed" -eq 0 ]
