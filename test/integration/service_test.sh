#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# fp6d as a systemd service, without systemd: a datagram socket stands in for
# the service manager's $NOTIFY_SOCKET (sd_notify(3)).
#
# Checks:
#  1. READY=1 arrives with MAINPID (fp6d's pid) and a STATUS line, and at the
#     moment it arrives the control socket answers, the ports of the startup
#     config are up and its route is in place.
#  2. SIGTERM: STOPPING=1 arrives, fp6d exits 0.
#  3. A startup config with a refused line: fp6d exits 1 and sends no READY.
#  4. The unit (tools/systemd/fp6d.service) has what the service needs
#     (Type=notify, Restart=on-failure, LimitMEMLOCK=infinity,
#     RuntimeDirectory, EnvironmentFile=-/etc/default/fp6d, the user fp6
#     with CAP_NET_RAW and CAP_NET_ADMIN only, fp6d.socket), and
#     `systemd-analyze verify` accepts it and fp6d.socket (when
#     systemd-analyze is there); fp6d.socket listens where fp6ctl looks;
#     fp6d.sysusers makes the user and groups the units name;
#     fp6d.default sets what the unit reads.
#  5. Socket activation, with systemd-socket-activate standing in for
#     systemd: the first fp6ctl command on the activator's socket starts
#     fp6d, which takes that socket over (sd_listen_fds(3): LISTEN_PID,
#     LISTEN_FDS, fd 3) and answers; at SIGTERM it exits 0 and leaves the
#     socket file, which is the manager's. fp6d refuses malformed
#     LISTEN_FDS, more than one socket, or an fd 3 that is not a listening
#     socket, and ignores LISTEN_FDS meant for another process.
#
# Usage: service_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/cl-svc/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
notify=$run_dir/notify.sock
prefix=cl-svc-$$
read -ra eal <<<"$(fp6_eal_args "$prefix")"
fp6_clean_eal "$prefix"
worker=$(fp6_last_cpu)
unit=$FP6_ROOT/tools/systemd/fp6d.service

# listen: bind $notify, and for each datagram print one JSON line
# {"msg", "t"}; on READY=1 also what fp6d answered at that moment
# ("ports": port show, "routes": route show), asked before the next
# datagram is read. Ends after STOPPING=1, or after 40 s.
listen() {
    /usr/bin/python3 - "$notify" "$FP6CTL" "$sock" <<'EOF'
import json, os, socket, subprocess, sys, time
path, ctl, sock = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(40)
print(json.dumps({"listening": True}), flush=True)
while True:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        break
    out = {"msg": msg, "t": time.time()}
    if "READY=1" in msg.split("\n"):
        for key, cmd in (("ports", "port show"), ("routes", "route show")):
            r = subprocess.run([ctl, "--socket", sock, "--timeout", "1", "-j"] + cmd.split(),
                               capture_output=True, text=True)
            out[key] = json.loads(r.stdout) if r.returncode == 0 else r.stderr.strip()
    print(json.dumps(out), flush=True)
    if "STOPPING=1" in msg.split("\n"):
        break
EOF
}

# start_listener LOG: listen in the background into LOG, once it is bound.
start_listener() {
    local log=$1 i
    rm -f "$notify"
    listen >"$log" 2>&1 &
    listener=$!
    FP6_CLEAN_PIDS+=("$listener")
    for ((i = 0; i < 50; i++)); do
        grep -q listening "$log" 2>/dev/null && return 0
        sleep 0.1
    done
    note "the listener did not start:" "$(cat "$log")"
    return 1
}

cat >"$run_dir/good.conf" <<'EOF'
port add s0 devargs net_null0,no-rx=1
port add s1 devargs net_null1,no-rx=1
port set s0 up
port set s1 up
addr add 2001:db8:5::1/64 dev s0
route add 2001:db8:500::/48 via 2001:db8:5::2 dev s0
EOF

# --- 1. READY --------------------------------------------------------------

start_listener "$run_dir/notify-good.log" || exit 1
NOTIFY_SOCKET=$notify fp6_start_daemon "$run_dir/fp6d.log" --config "$run_dir/good.conf" \
    --socket "$sock" --workers "$worker" --idle-sleep 1000 -- "${eal[@]}"
daemon=$FP6_DAEMON_PID

ready_when_serving() {
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q 'READY=1' "$run_dir/notify-good.log" && break
        kill -0 "$daemon" 2>/dev/null || { note "fp6d exited:" "$(tail -n 5 "$run_dir/fp6d.log")"; return 1; }
        sleep 0.1
    done
    /usr/bin/python3 - "$run_dir/notify-good.log" "$daemon" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ready = [l for l in lines if "READY=1" in l.get("msg", "").split("\n")]
if not ready:
    print("    # no READY=1 within 30 s: %s" % lines)
    sys.exit(1)
r = ready[0]
fields = dict(f.split("=", 1) for f in r["msg"].split("\n") if "=" in f)
print("    # " + r["msg"].replace("\n", " | "))
ok = fields.get("MAINPID") == sys.argv[2] and fields.get("STATUS", "") != ""
ports = r.get("ports")
if not isinstance(ports, list):
    print("    # port show at READY: %s" % ports)
    sys.exit(1)
admin = {p["ifname"]: p["admin"] for p in ports}
print("    # ports at READY: %s" % admin)
ok = ok and admin == {"s0": "up", "s1": "up"}
routes = r.get("routes")
dsts = [x.get("dst") for x in routes] if isinstance(routes, list) else routes
print("    # routes at READY: %s" % dsts)
ok = ok and isinstance(routes, list) and "2001:db8:500::/48" in dsts
ok = ok and len(ready) == 1
sys.exit(0 if ok else 1)
EOF
}
check "READY=1 with MAINPID and STATUS once the socket answers, ports up, config applied" \
    ready_when_serving

# --- 2. STOPPING -------------------------------------------------------------

stopping_on_sigterm() {
    local status=0 i
    fp6_stop_daemon || status=$?
    for ((i = 0; i < 50; i++)); do
        kill -0 "$listener" 2>/dev/null || break
        sleep 0.1
    done
    [ "$status" -eq 0 ] || { note "fp6d exit status $status"; return 1; }
    grep -q 'STOPPING=1' "$run_dir/notify-good.log" ||
        { note "no STOPPING=1:" "$(cat "$run_dir/notify-good.log")"; return 1; }
}
check "SIGTERM: STOPPING=1, then exit 0" stopping_on_sigterm

# --- 3. no READY for a refused config ------------------------------------------

cat >"$run_dir/refused.conf" <<'EOF'
port add s0 devargs net_null0,no-rx=1
addr add 2001:db8:5::1/64 dev nosuch
EOF
no_ready_when_refused() {
    local status=0
    start_listener "$run_dir/notify-bad.log" || return 1
    NOTIFY_SOCKET=$notify timeout 30 "$FP6D" --config "$run_dir/refused.conf" --socket "$sock" \
        --workers "$worker" --idle-sleep 1000 -- "${eal[@]}" >"$run_dir/fp6d-bad.log" 2>&1 \
        </dev/null || status=$?
    sleep 0.2
    note "exit status $status; $(tail -n 1 "$run_dir/fp6d-bad.log")"
    [ "$status" -eq 1 ] || return 1
    if grep -q 'READY=1' "$run_dir/notify-bad.log"; then
        note "READY=1 was sent:" "$(cat "$run_dir/notify-bad.log")"
        return 1
    fi
}
check "a refused startup config: exit 1 and no READY=1" no_ready_when_refused
kill "$listener" 2>/dev/null

# --- 4. the unit ---------------------------------------------------------------

socket_unit=$FP6_ROOT/tools/systemd/fp6d.socket
sysusers=$FP6_ROOT/tools/systemd/fp6d.sysusers
unit_has() {
    local line missing=()
    for line in "Type=notify" "Restart=on-failure" "LimitMEMLOCK=infinity" \
        "RuntimeDirectory=fp6/dpdk" "Environment=XDG_RUNTIME_DIR=/run/fp6" \
        "EnvironmentFile=-/etc/default/fp6d" "Requires=fp6d.socket" "User=fp6" "Group=fp6" \
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN" \
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN" "Also=fp6d.socket"; do
        grep -qx "$line" "$unit" || missing+=("$line")
    done
    [ ${#missing[@]} -eq 0 ] || { note "missing: ${missing[*]}"; return 1; }
}
check "the unit: Type=notify, Restart, LimitMEMLOCK, RuntimeDirectory, user fp6 and its capabilities" \
    unit_has
socket_unit_matches() {
    local want
    # fp6ctl's default socket, as its --help gives it.
    want=$("$FP6CTL" --help | sed -n 's/.*--socket TEXT=\([^ ]*\).*/\1/p')
    note "fp6ctl's default socket: $want"
    [ -n "$want" ] && grep -qx "ListenStream=$want" "$socket_unit" &&
        grep -qx "SocketMode=0660" "$socket_unit" && grep -qx "SocketGroup=fp6adm" "$socket_unit"
}
check "fp6d.socket listens where fp6ctl looks, mode 0660, group fp6adm" socket_unit_matches
sysusers_make_them() {
    if ! command -v systemd-sysusers >/dev/null; then
        note "systemd-sysusers is not installed: not checked"
        return 0
    fi
    # Into a scratch root: the machine's own users are not touched.
    local root=$run_dir/sysroot
    mkdir -p "$root/etc"
    systemd-sysusers --root="$root" "$sysusers" >/dev/null 2>&1 || return 1
    note "$(cut -d: -f1,6,7 "$root/etc/passwd" | tr '\n' ' ') / $(cut -d: -f1 "$root/etc/group" | tr '\n' ' ')"
    grep -q '^fp6:.*:/usr/sbin/nologin$' "$root/etc/passwd" &&
        grep -q '^fp6:' "$root/etc/group" && grep -q '^fp6adm:' "$root/etc/group"
}
check "fp6d.sysusers makes the user fp6 and the groups fp6 and fp6adm" sysusers_make_them

# The unit names the installed fp6d (/usr/local/bin); verify a copy that
# names the one under test.
unit_verifies() {
    if ! command -v systemd-analyze >/dev/null; then
        note "systemd-analyze is not installed: not verified"
        return 0
    fi
    local copy=$run_dir/fp6d.service out
    sed "s|/usr/local/bin/fp6d|$FP6D|g" "$unit" >"$copy"
    cp "$socket_unit" "$run_dir/fp6d.socket"
    # Documentation= names the man pages: let man(1) find the tree's.
    mkdir -p "$run_dir/man/man8"
    ln -sf "$FP6_ROOT/docs/man/fp6d.8" "$FP6_ROOT/docs/man/fp6ctl.8" "$run_dir/man/man8/"
    local man_check=()
    command -v man >/dev/null || man_check=(--man=no)
    out=$(MANPATH=$run_dir/man systemd-analyze verify "${man_check[@]}" "$copy" \
        "$run_dir/fp6d.socket" 2>&1)
    local rc=$?
    # Lines about other units (the host's own) are not ours to judge.
    out=$(grep 'fp6d\.s' <<<"$out")
    note "$out"
    [ "$rc" -eq 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify accepts fp6d.service and fp6d.socket" unit_verifies

default_file_matches() {
    # fp6d.default sets the variables the unit uses, and nothing else.
    local used set
    used=$(grep -oE 'FP6D_[A-Z_]+' "$unit" | sort -u | tr '\n' ' ')
    set=$(grep -oE '^FP6D_[A-Z_]+=' "$FP6_ROOT/tools/systemd/fp6d.default" | tr -d '=' |
        sort -u | tr '\n' ' ')
    note "unit uses: $used; fp6d.default sets: $set"
    [ -n "$used" ] && [ "$used" = "$set" ]
}
check "fp6d.default sets the variables the unit reads" default_file_matches

# --- 5. socket activation ----------------------------------------------------------

# systemd-socket-activate (systemd's package) listens on a socket and, at
# the first connection, execs the command with that socket as fd 3 and
# LISTEN_PID/LISTEN_FDS set, as systemd does for fp6d.socket.
asock=$run_dir/activated.sock
activated_serves() {
    if ! command -v systemd-socket-activate >/dev/null; then
        note "systemd-socket-activate is not installed: not checked"
        return 0
    fi
    local pid i t0 t1 out
    systemd-socket-activate -l "$asock" "$FP6D" --workers "$worker" --idle-sleep 1000 \
        -- "${eal[@]}" >"$run_dir/activated.log" 2>&1 </dev/null &
    pid=$!
    FP6_CLEAN_PIDS+=("$pid")
    for ((i = 0; i < 50; i++)); do
        [ -S "$asock" ] && break
        sleep 0.1
    done
    # Nothing started before the first connection.
    grep -q 'fp6\.' "$run_dir/activated.log" && { note "fp6d ran before a connection"; return 1; }
    t0=$(date +%s%N)
    "$FP6CTL" --socket "$asock" port add a0 devargs net_null_svca0,no-rx=1 || return 1
    t1=$(date +%s%N)
    out=$("$FP6CTL" --socket "$asock" -j port show) || return 1
    note "the first command (fp6d starting) answered in $(((t1 - t0) / 1000000)) ms; ports: $out"
    note "$(grep 'control socket' "$run_dir/activated.log")"
    [[ $out == *'"ifname":"a0"'* ]] || return 1
    grep -q "control socket from the service manager at $asock" "$run_dir/activated.log" ||
        return 1
    # fp6d is the process the activator became: SIGTERM, exit 0, and the
    # socket file (not fp6d's to remove) is still there.
    local status=0
    fp6_stop_pid "$pid" || status=$?
    note "exit status $status; socket file left: $([ -S "$asock" ] && echo yes || echo no)"
    [ "$status" -eq 0 ] && [ -S "$asock" ]
}
check "socket activation: the first fp6ctl starts fp6d on the activator's socket; it leaves the socket" \
    activated_serves

# bad_activation WANT WRAPPER...: fp6d started through WRAPPER (a shell
# that sets LISTEN_* and fds, then execs it) exits 1 with WANT in its message.
bad_activation() {
    local want=$1 status=0 out
    shift
    out=$(env "$@" "$FP6D" --socket "$run_dir/bad.sock" --workers "$worker" -- "${eal[@]}" \
        2>&1 </dev/null) || status=$?
    note "$* -> exit $status: $(grep 'fp6d:' <<<"$out" | tail -n 1)"
    [ "$status" -eq 1 ] && [[ $out == *"$want"* ]]
}
# LISTEN_PID must name fp6d itself: a shell that execs it keeps its pid ($$
# is the inner shell's, hence the single quotes).
# shellcheck disable=SC2016
activation_refusals() {
    local ok=0
    bad_activation "must be numbers" bash -c 'LISTEN_PID=$$ LISTEN_FDS=x exec "$0" "$@"' || ok=1
    bad_activation "fp6d takes one" bash -c 'LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" "$@" 3</dev/null 4</dev/null' ||
        ok=1
    bad_activation "fd 3 is not open" \
        bash -c 'export LISTEN_PID=$$ LISTEN_FDS=1; exec 3<&-; exec "$0" "$@"' || ok=1
    bad_activation "is not a socket" \
        bash -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@" 3</dev/null' || ok=1
    return "$ok"
}
check "socket activation: malformed LISTEN_FDS, two sockets, a closed or wrong fd 3 are refused" \
    activation_refusals

# LISTEN_* inherited from a parent that was activated (LISTEN_PID names
# another process) are not fp6d's: it makes its own socket.
not_for_us() {
    LISTEN_PID=1 LISTEN_FDS=1 fp6_start_daemon "$run_dir/fp6d-other.log" --socket "$sock" \
        --workers "$worker" --idle-sleep 1000 -- "${eal[@]}"
    fp6_wait_ready "$sock" 30 || return 1
    note "$(grep 'control socket' "$run_dir/fp6d-other.log")"
    grep -q "control socket listening at $sock" "$run_dir/fp6d-other.log" && fp6_stop_daemon
}
check "socket activation: LISTEN_FDS for another process are ignored" not_for_us

[ "$failed" -eq 0 ]
