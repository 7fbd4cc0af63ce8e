#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# fp6d as a user of its own with only the capabilities its ports need, as
# tools/systemd/fp6d.service runs it: what docs/operations.md ("A dedicated
# user") says was measured is measured here. The test makes a throwaway
# daemon user, an operators' group with a user in it, and removes them at
# the end; fp6d runs under setpriv(1) with af_packet ports on veth pairs.
#
# Checks:
#  1. With no capability, EAL starts (hugepages through --in-memory, or
#     --no-huge) but an af_packet port cannot be made (no CAP_NET_RAW).
#  2. With CAP_NET_RAW alone, the port is made but does not start (setting
#     its MAC and promiscuous mode needs CAP_NET_ADMIN).
#  3. With CAP_NET_RAW and CAP_NET_ADMIN, and nothing else: fp6d runs as the
#     user, its capability sets hold those two only, it forwards a ping
#     between two Linux hosts and answers one to itself.
#  4. The control socket is the user's, mode 0660, group the operators'
#     (--socket-group): a member of the group uses fp6ctl, anyone else is
#     refused ("permission denied", exit 3).
#  5. The throwaway users and group are gone at the end.
#
# Usage: unprivileged_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no netns).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

need_netns
need_tools ping ethtool setpriv useradd userdel groupadd groupdel /usr/bin/python3


# Throwaway names, unique to this run (at most 32 characters).
daemon_user=pg-fp6d$$
operator=pg-fp6o$$
operators=pg-fp6adm$$

remove_accounts() {
    userdel "$daemon_user" 2>/dev/null
    userdel "$operator" 2>/dev/null
    groupdel "$operators" 2>/dev/null
    groupdel "$daemon_user" 2>/dev/null
    groupdel "$operator" 2>/dev/null
    return 0
}
fp6_trap_cleanup
trap 'fp6_cleanup; remove_accounts; summary' EXIT
trap 'fp6_cleanup; remove_accounts; trap - EXIT; exit 130' INT
trap 'fp6_cleanup; remove_accounts; trap - EXIT; exit 143' TERM

daemon_dirs pg-unpriv
# The daemon user makes its socket in a directory of its own; the path to it
# must be searchable by the operators.
chmod 0755 "$run_dir"
# The binaries must be reachable by the daemon user: a build directory under
# a private one (a home of mode 0700, a mktemp -d clone) is not, so they run
# from a copy beside the test's files (they link only system libraries).
mkdir -m 0755 "$run_dir/bin"
cp "$FP6D" "$FP6CTL" "$run_dir/bin/"
FP6D=$run_dir/bin/$(basename "$FP6D")
FP6CTL=$run_dir/bin/$(basename "$FP6CTL")
for bin in "$FP6D" "$FP6CTL"; do
    setpriv --reuid nobody --regid nogroup --clear-groups test -x "$bin" ||
        skip "$bin is not executable by other users (a parent directory is private)"
done
sock_dir=$run_dir/sock
sock=$sock_dir/fp6d.sock
log=$run_dir/fp6d.log

groupadd --system "$operators" || fp6_die "groupadd $operators"
useradd --system --no-create-home --user-group --shell /usr/sbin/nologin \
    --groups "$operators" "$daemon_user" || fp6_die "useradd $daemon_user"
useradd --system --no-create-home --user-group --shell /usr/sbin/nologin \
    --groups "$operators" "$operator" || fp6_die "useradd $operator"
mkdir -m 0755 "$sock_dir" "$run_dir/xdg"
chown "$daemon_user:$daemon_user" "$sock_dir" "$run_dir/xdg"

A=pg-ua$$
B=pg-ub$$
fp6_host_ns "$A" "pg-ua$$" pg-ua-in 2001:db8:a1::2/64 2001:db8:a1::1 ||
    fp6_die "cannot make host A"
fp6_host_ns "$B" "pg-ub$$" pg-ub-in 2001:db8:b1::2/64 2001:db8:b1::1 ||
    fp6_die "cannot make host B"

# start CAPS: fp6d as the daemon user with exactly the capabilities CAPS
# ("-all" for none, "-all,+net_raw,..." for some) inheritable, ambient and
# in the bounding set, its groups from /etc/group. setpriv and env exec, so
# the pid is fp6d's.
start() {
    rm -f "$sock"
    setpriv --reuid "$daemon_user" --regid "$daemon_user" --init-groups \
        --inh-caps="$1" --ambient-caps="$1" --bounding-set="$1" \
        env XDG_RUNTIME_DIR="$run_dir/xdg" \
        "$FP6D" --socket "$sock" --socket-group "$operators" --workers "$worker" \
        --idle-sleep 1000 -- "${eal[@]}" >"$log" 2>&1 </dev/null &
    FP6_DAEMON_PID=$!
    FP6_CLEAN_PIDS+=("$FP6_DAEMON_PID")
    fp6_wait_ready "$sock" 30
}
ctl() { "$FP6CTL" --socket "$sock" "$@"; }
port_a() { ctl port add pa devargs "net_af_packet_ua,iface=pg-ua$$" 2>&1; }

# --- 1 and 2: what is missing shows --------------------------------------------
no_caps() {
    start -all || { note "$(tail -n 5 "$log")"; return 1; }
    local out
    out=$(port_a)
    note "port add: $out"
    note "log: $(grep -i 'AF_PACKET socket' "$log" | head -n 1)"
    fp6_stop_daemon
    [[ $out == *"the driver refused it"* ]] && grep -qi 'could not open AF_PACKET socket' "$log"
}
check "no capability: EAL starts, an af_packet port cannot be made (the log says why)" no_caps

raw_only() {
    start -all,+net_raw || { note "$(tail -n 5 "$log")"; return 1; }
    local out
    out=$(port_a)
    note "port add: $out"
    note "$(grep -i 'not permitted' "$log" | head -n 2 | tr '\n' ' ')"
    fp6_stop_daemon
    [[ $out == *"start failed: Operation not permitted"* ]]
}
check "CAP_NET_RAW alone: the port is made but cannot start (MAC, promiscuous mode)" raw_only

# --- 3. the two it needs --------------------------------------------------------
caps=-all,+net_raw,+net_admin
runs_as_user() {
    start "$caps" || { note "$(tail -n 5 "$log")"; return 1; }
    local status
    status=$(grep -E '^(Uid|Gid|CapEff|CapPrm|CapBnd|CapAmb):' "/proc/$FP6_DAEMON_PID/status" |
        tr -s '\t' ' ' | tr '\n' ';')
    note "$status"
    local uid
    uid=$(id -u "$daemon_user")
    # CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13.
    [[ $status == *"Uid: $uid $uid $uid $uid;"* ]] &&
        [[ $status == *"CapEff: 0000000000003000;"* ]] &&
        [[ $status == *"CapBnd: 0000000000003000;"* ]]
}
check "with CAP_NET_RAW and CAP_NET_ADMIN: fp6d runs as the user with those two only" runs_as_user

forwards() {
    ctl port add pa devargs "net_af_packet_ua,iface=pg-ua$$" &&
        ctl port add pb devargs "net_af_packet_ub,iface=pg-ub$$" &&
        ctl port set pa up dad-transmits 0 && ctl port set pb up dad-transmits 0 &&
        ctl addr add 2001:db8:a1::1/64 dev pa && ctl addr add 2001:db8:b1::1/64 dev pb ||
        return 1
    fp6_wait_dad "$sock" 10 || return 1
    local out rc=0
    out=$(ip netns exec "$A" ping -6 -c 3 -i 0.2 -W 2 2001:db8:b1::2 2>&1) || rc=1
    note "$(tail -n 2 <<<"$out" | head -n 1)"
    ip netns exec "$A" ping -6 -c 1 -W 2 2001:db8:a1::1 >/dev/null || rc=1
    note "forwarded: $(ctl -j stats show | fp6_stat forwarded)"
    [ "$rc" -eq 0 ]
}
check "as the user: a ping from host A to host B goes through fp6, and fp6 answers one" forwards

# --- 4. who may use the socket ---------------------------------------------------
socket_perms() {
    local st
    st=$(stat -c '%U %G %a' "$sock")
    note "socket: $st"
    [ "$st" = "$daemon_user $operators 660" ]
}
check "the socket is the user's, mode 0660, group the operators'" socket_perms

operator_uses_it() {
    setpriv --reuid "$operator" --regid "$operator" --init-groups \
        "$FP6CTL" --socket "$sock" port show >/dev/null
}
check "a member of the operators' group uses fp6ctl" operator_uses_it

outsider_refused() {
    local out rc=0
    out=$(setpriv --reuid nobody --regid nogroup --clear-groups \
        "$FP6CTL" --socket "$sock" port show 2>&1) || rc=$?
    note "exit $rc: $out"
    [ "$rc" -eq 3 ] && [[ $out == *"permission denied"* ]]
}
check "anyone else is refused (exit 3, permission denied)" outsider_refused

fp6_stop_daemon

# --- 5. nothing left ---------------------------------------------------------------
accounts_removed() {
    remove_accounts
    ! id "$daemon_user" >/dev/null 2>&1 && ! id "$operator" >/dev/null 2>&1 &&
        ! getent group "$operators" >/dev/null
}
check "the throwaway users and group are removed" accounts_removed

[ "$failed" -eq 0 ]
