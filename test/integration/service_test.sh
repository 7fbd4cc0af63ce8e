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
#     RuntimeDirectory, EnvironmentFile=-/etc/default/fp6d), and
#     `systemd-analyze verify` accepts it (when systemd-analyze is there);
#     fp6d.default sets what the unit reads.
#
# Usage: service_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ge 2 ]; then
    FP6D=$(realpath "$1")
    FP6CTL=$(realpath "$2")
fi
# shellcheck source=tools/lib.sh
. "$HERE/../../tools/lib.sh"
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh"

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

unit_has() {
    local line missing=()
    for line in "Type=notify" "Restart=on-failure" "LimitMEMLOCK=infinity" \
        "RuntimeDirectory=fp6" "EnvironmentFile=-/etc/default/fp6d"; do
        grep -qx "$line" "$unit" || missing+=("$line")
    done
    [ ${#missing[@]} -eq 0 ] || { note "missing: ${missing[*]}"; return 1; }
}
check "the unit: Type=notify, Restart=on-failure, LimitMEMLOCK, RuntimeDirectory, EnvironmentFile" \
    unit_has

# The unit names the installed fp6d (/usr/local/bin); verify a copy that
# names the one under test.
unit_verifies() {
    if ! command -v systemd-analyze >/dev/null; then
        note "systemd-analyze is not installed: not verified"
        return 0
    fi
    local copy=$run_dir/fp6d.service out
    sed "s|/usr/local/bin/fp6d|$FP6D|g" "$unit" >"$copy"
    # Documentation= names the man pages: let man(1) find the tree's.
    mkdir -p "$run_dir/man/man8"
    ln -sf "$FP6_ROOT/docs/man/fp6d.8" "$FP6_ROOT/docs/man/fp6ctl.8" "$run_dir/man/man8/"
    local man_check=()
    command -v man >/dev/null || man_check=(--man=no)
    out=$(MANPATH=$run_dir/man systemd-analyze verify "${man_check[@]}" "$copy" 2>&1)
    local rc=$?
    # Lines about other units (the host's own) are not ours to judge.
    out=$(grep 'fp6d\.service' <<<"$out")
    note "$out"
    [ "$rc" -eq 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify accepts the unit" unit_verifies

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
