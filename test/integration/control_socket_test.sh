#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# The control socket against clients that misbehave, and many at once (net_null
# ports, no namespaces). The clients are Python, writing the protocol raw.
#
# Checks:
#  1. Malformed JSON, a JSON array, deep nesting, invalid UTF-8, a wrong
#     version, a missing or unknown command, args not an object: each gets
#     one "ok":false reply and the same connection then answers a good
#     request.
#  2. A request longer than 65536 bytes gets an error reply and is closed.
#  3. A client that connects and sends nothing, and one that sends half a
#     request and disconnects, do not delay other clients; one that leaves
#     half a request is closed after about 5 s.
#  4. 64 clients in parallel, each adding a neighbour and a policy entry and
#     reading them back: every request answered ok, and afterwards fp6d
#     holds exactly the 64 neighbours and 64 policy entries.
#  5. Over 256 clients at once: the extra ones are told "too many clients",
#     and fp6d answers again once they are gone.
#  6. A second fp6d on the same --socket is refused and the first keeps its
#     socket; --socket naming a plain file is refused and the file kept;
#     port names a saved configuration could not carry are refused; route
#     load of a directory or a FIFO is refused at once; port.set with an
#     unknown key or nothing to set is refused; --check-config of a
#     directory is refused, and a startup route load with a refused line
#     stops fp6d's start.
#  7. The FIB lookup walk: `stats show` reports what --fib-lookup auto chose
#     for this CPU (avx512 where it has AVX-512F, else scalar); an unknown
#     walk, one the CPU lacks, and one wider than EAL's
#     --force-max-simd-bitwidth are refused with a message.
#
# Usage: control_socket_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/ob-sock/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
prefix=ob-sock-$$
read -ra eal <<<"$(fp6_eal_args "$prefix")"
fp6_clean_eal "$prefix"

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }

fp6_start_daemon "$run_dir/fp6d.log" --socket "$sock" --workers "$(fp6_last_cpu)" \
    --idle-sleep 1000 -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 30; then
    echo "not ok - fp6d ready"
    cat "$run_dir/fp6d.log"
    failed=$((failed + 1))
    exit 1
fi
ctl port add n0 devargs net_null0,no-rx=1 && ctl port set n0 up &&
    ctl addr add 2001:db8:1::1/64 dev n0 || fp6_die "set-up failed"

# py CASE: run one case of the Python client below; its lines are notes.
py() {
    /usr/bin/python3 - "$sock" "$1" <<'EOF' 2>&1 | while IFS= read -r l; do note "$l"; done
import json, select, socket, sys, threading, time

path, case = sys.argv[1], sys.argv[2]

def conn():
    # A full backlog refuses a unix connect with EAGAIN: wait for fp6d's
    # accept to catch up.
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            time.sleep(0.01)
    fail("cannot connect: backlog full for 2 s")

def reply(s):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return json.loads(buf)

def call(s, cmd, args=None):
    s.sendall((json.dumps({"v": 1, "cmd": cmd, "args": args or {}}) + "\n").encode())
    return reply(s)

def fail(msg):
    print(msg)
    sys.exit(1)

if case == "malformed":
    bad = [b"{not json", b"[1,2,3]", b"[" * 30000 + b"]" * 30000, b'{"v":1,"cmd":"\xff\xfe"}',
           b'{"v":2,"cmd":"port.show"}', b'{"v":1}', b'{"v":1,"cmd":"port.frob"}',
           b'{"v":1,"cmd":"port.show","args":[1]}', b'{"v":1,"cmd":"port.add","args":{"ifname":7}}',
           b'{"v":1,"cmd":"route.add","args":{"dst":"' + b"a" * 60000 + b'"}}', b"", b"\x00\x01"]
    s = conn()
    for line in bad:
        s.sendall(line + b"\n")
        r = reply(s)
        if r.get("ok") is not False or not r.get("error"):
            fail("no error reply to %r: %r" % (line[:40], r))
        print("%r -> %s" % (line[:30], r["error"][:70]))
    r = call(s, "port.show")
    if r.get("ok") is not True:
        fail("the connection no longer answers: %r" % r)
elif case == "oversized":
    s = conn()
    s.sendall(b'{"v":1,"cmd":"port.show","args":{"x":"' + b"y" * 70000 + b'"}}\n')
    r = reply(s)
    print(r.get("error"))
    if r.get("ok") is not False or "longer" not in r.get("error", ""):
        fail("no 'longer than' error")
    if s.recv(100) != b"":
        fail("connection not closed after an oversized request")
elif case == "idle":
    quiet = conn()                       # connects and says nothing
    half = conn()
    half.sendall(b'{"v":1,"cmd":"po')    # half a request, then gone
    half.close()
    stuck = conn()
    stuck.sendall(b'{"v":1,"cmd":"port.sh')  # half a request, and stays
    t = time.monotonic()
    for _ in range(20):
        if call(conn(), "port.show").get("ok") is not True:
            fail("a request was refused")
    dt = time.monotonic() - t
    print("20 requests on fresh connections beside them: %.3f s" % dt)
    if dt > 2:
        fail("the idle clients delayed the others")
    stuck.settimeout(10)
    t = time.monotonic()
    r = reply(stuck)
    dt = time.monotonic() - t
    print("half a request: closed after %.1f s with %r" % (dt, r.get("error")))
    if r.get("ok") is not False or not (3 <= dt <= 8):
        fail("the half request was not timed out after about 5 s")
    if call(quiet, "port.show").get("ok") is not True:
        fail("the quiet client was dropped")
elif case == "parallel":
    errors = []
    go = threading.Barrier(64)
    def client(i):
        try:
            s = conn()
            go.wait()
            for cmd, args in [
                ("neigh.add", {"dst": "2001:db8:1::%x" % (0x100 + i), "dev": "n0",
                               "lladdr": "02:00:00:00:01:%02x" % i}),
                ("policy.add", {"prefix": "2001:db8:%x::/48" % (0x1000 + i),
                                "precedence": i, "label": 100 + i}),
                ("neigh.show", {"dev": "n0"}), ("stats.show", {}), ("policy.show", {})]:
                r = call(s, cmd, args)
                if r.get("ok") is not True:
                    errors.append("%d %s: %r" % (i, cmd, r))
        except Exception as e:
            errors.append("%d: %s" % (i, e))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(64)]
    t = time.monotonic()
    for th in threads: th.start()
    for th in threads: th.join()
    print("64 clients x 5 requests: %.2f s" % (time.monotonic() - t))
    if errors:
        fail("; ".join(errors[:5]))
    s = conn()
    neigh = {n["dst"] for n in call(s, "neigh.show", {"dev": "n0"})["data"]}
    want = {"2001:db8:1::%x" % (0x100 + i) for i in range(64)}
    pol = {(p["prefix"], p["precedence"], p["label"]) for p in call(s, "policy.show")["data"]}
    want_pol = {("2001:db8:%x::/48" % (0x1000 + i), i, 100 + i) for i in range(64)}
    if neigh != want:
        fail("neighbours: missing %s, extra %s" % (sorted(want - neigh)[:3], sorted(neigh - want)[:3]))
    if not want_pol <= pol or len(pol) != len(want_pol) + 9:
        fail("policy table: %d entries, %d of ours" % (len(pol), len(want_pol & pol)))
elif case == "many":
    socks, refused = [], 0
    for _ in range(300):
        s = conn()
        socks.append(s)
    time.sleep(0.5)  # the refusals are written at accept time
    readable, _, _ = select.select(socks, [], [], 1)
    for s in readable:
        if b"too many clients" in s.recv(4096):
            refused += 1
    print("300 connections: %d told \"too many clients\"" % refused)
    for s in socks:
        s.close()
    time.sleep(0.5)
    if call(conn(), "port.show").get("ok") is not True:
        fail("no answer once they are gone")
    if refused < 300 - 256:
        fail("expected at least %d refusals" % (300 - 256))
EOF
    return "${PIPESTATUS[0]}"
}

SECONDS=0
check "malformed, truncated, non-object, deep, bad UTF-8 and unknown requests: error replies" \
    py malformed
check "a request over 65536 bytes: error reply, connection closed" py oversized
check "silent and half-sent clients cost nothing; a half request is closed after ~5 s" py idle
check "64 clients in parallel: all answered, all 64 neighbours and policy entries there" \
    py parallel
check "over 256 clients: the extra ones are told so, then fp6d answers again" py many

# 6. What a new operator's trial broke (all must be refused, clearly, with
# fp6d answering on).
second_daemon_refused() {
    local out rc=0 p2=ob-sock2-$$ eal2
    read -ra eal2 <<<"$(fp6_eal_args "$p2")"
    out=$(timeout 60 "$FP6D" --socket "$sock" --workers "$(fp6_last_cpu)" -- "${eal2[@]}" 2>&1) ||
        rc=$?
    fp6_clean_eal "$p2"
    note "second fp6d: exit $rc: $(grep -m1 'another fp6d' <<<"$out")"
    [ "$rc" -ne 0 ] && grep -q "another fp6d answers at $sock" <<<"$out" &&
        [ -S "$sock" ] && ctl port show >/dev/null
}
check "a second fp6d on the same --socket is refused; the first keeps its socket" \
    second_daemon_refused
not_a_socket_kept() {
    local out rc=0 f=$run_dir/plain-file p3=ob-sock3-$$ eal3
    echo keep >"$f"
    read -ra eal3 <<<"$(fp6_eal_args "$p3")"
    out=$(timeout 60 "$FP6D" --socket "$f" --workers "$(fp6_last_cpu)" -- "${eal3[@]}" 2>&1) ||
        rc=$?
    fp6_clean_eal "$p3"
    note "fp6d --socket FILE: exit $rc: $(grep -m1 'not a socket' <<<"$out")"
    [ "$rc" -ne 0 ] && [ "$(cat "$f")" = keep ]
}
check "--socket naming a file that is not a socket: refused, the file kept" not_a_socket_kept
odd_names_refused() {
    local name out
    for name in 'q"x' '#q' 'a b' "$(printf 'n\nl')" 'sixteen-chars-xx' '-dash'; do
        out=$(ctl port add "$name" devargs net_null_obodd 2>&1) && return 1
        [[ $out == *"must be 1..15 letters, digits"* ]] || { note "$name: $out"; return 1; }
    done
    note "last: $out"
    ! ctl port show | grep -q obodd
}
check "port names with quotes, #, blanks, newlines, over 15 bytes or a leading '-' are refused" \
    odd_names_refused
load_not_a_file() {
    local out fifo=$run_dir/fifo
    mkfifo "$fifo"
    out=$(ctl route load "$run_dir" 2>&1) && return 1
    [[ $out == *"is a directory"* ]] || { note "$out"; return 1; }
    out=$(ctl route load "$fifo" 2>&1) && return 1
    note "$out"
    [[ $out == *"is a FIFO"* ]] && ctl port show >/dev/null
}
check "route load of a directory or a FIFO: refused at once, fp6d answers" load_not_a_file
port_set_keys() {
    /usr/bin/python3 - "$sock" <<'EOF'
import json, socket, sys
def call(args):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sys.argv[1])
    c.sendall((json.dumps({"v": 1, "cmd": "port.set", "args": args}) + "\n").encode())
    return json.loads(c.makefile().readline())
for args, want in (({"ifname": "p0", "bogus": 1}, 'no setting "bogus"'),
                   ({"ifname": "p0"}, "at least one thing to set"),
                   ({"ifname": "p0", "ra_interval": 30}, "router advertisement setting")):
    r = call(args)
    print("    # %s -> %s" % (json.dumps(args), r.get("error")))
    if r.get("ok") or want not in r.get("error", ""):
        sys.exit(1)
EOF
}
config_files_only() {
    local out rc=0 conf=$run_dir/bad-load.conf routes=$run_dir/bad.routes p4=ob-sock4-$$ eal4
    out=$("$FP6D" --check-config "$run_dir" 2>&1) && return 1
    note "--check-config DIR: $out"
    [[ $out == *"not a regular file"* ]] || return 1
    # A startup route load whose file has a refused line stops the start.
    printf '2001:db8:77::/48 via 2001:db8:ff::1\n' >"$routes"  # no such gateway on-link
    printf 'route load %s\n' "$routes" >"$conf"
    read -ra eal4 <<<"$(fp6_eal_args "$p4")"
    out=$(timeout 60 "$FP6D" --config "$conf" --socket "$run_dir/s4.sock" \
        --workers "$(fp6_last_cpu)" -- "${eal4[@]}" 2>&1) || rc=$?
    fp6_clean_eal "$p4"
    note "startup route load with a refused line: exit $rc: $(grep -m1 'lines refused' <<<"$out")"
    [ "$rc" -ne 0 ] && [[ $out == *"1 lines refused, the first line 1"* ]]
}
check "a directory as config is refused; a startup route load with refused lines stops the start" \
    config_files_only
fib_lookup_choice() {
    local out rc want=scalar p5=ob-sock5-$$ eal5
    grep -qw avx512f /proc/cpuinfo && want=avx512
    out=$(ctl -j stats show |
        /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["routes"]["fib_lookup"])')
    note "auto chose the $out walk (this CPU: $want expected)"
    [ "$out" = "$want" ] || return 1
    # Refused before EAL starts: a walk that is not one, or one this CPU lacks.
    out=$("$FP6D" --fib-lookup avx3 2>&1) && return 1
    [[ $out == *'--fib-lookup takes auto, scalar, avx2 or avx512, not "avx3"'* ]] || return 1
    if [ "$want" = scalar ]; then
        out=$("$FP6D" --fib-lookup avx512 2>&1) && return 1
        note "$out"
        [[ $out == *"this CPU (or its OS) has no AVX-512F"* ]] || return 1
    fi
    grep -qw avx2 /proc/cpuinfo || return 0
    # An EAL width below the walk's: refused before EAL starts.
    read -ra eal5 <<<"$(fp6_eal_args "$p5")"
    rc=0
    out=$(timeout 60 "$FP6D" --socket "$run_dir/s5.sock" --workers "$(fp6_last_cpu)" \
        --fib-lookup avx2 -- "${eal5[@]}" --force-max-simd-bitwidth=128 2>&1) || rc=$?
    fp6_clean_eal "$p5"
    note "avx2 with EAL at 128 bits: exit $rc: $(grep -m1 'vector code' <<<"$out")"
    [ "$rc" -ne 0 ] && [[ $out == *"needs vector code of 256 bits; the EAL arguments allow 128"* ]] &&
        [[ $out != *"EAL:"* ]]
}
check "the FIB lookup walk: auto's choice reported; unknown, unsupported or too wide walks refused" \
    fib_lookup_choice
ctl port add p0 devargs net_null_obkeys >/dev/null || note "port add p0 failed"
check "port.set over the socket: an unknown key or nothing to set is refused" port_set_keys

check "fp6d still running" kill -0 "$FP6_DAEMON_PID"
note "cases took ${SECONDS}s"

[ "$failed" -eq 0 ]
