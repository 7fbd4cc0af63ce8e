#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Integration test of fp6d and fp6ctl as an operator meets them, without
# namespaces: the ports are net_null devices (no-rx=1, so they receive
# nothing and drop what they are sent).
#
# Checks:
#  1. fp6d --version; --check-config of a good and a bad file; a startup
#     config with a refused line stops fp6d and names FILE:LINE.
#  2. fp6ctl exit codes: 0 done, 1 unparsable, 2 refused, 3 unreachable;
#     with -j an error is also a JSON object with "error" on stdout.
#  3. Refusals: exit 2, a one-line reason, and the tables unchanged.
#  4. Good paths: ports up, addresses, a neighbour, a static route, and the
#     shape of every `-j ... show`.
#  5. fp6ctl -f FILE stops at the first bad line and names FILE:LINE.
#  6. Malformed requests written raw on the socket get "ok":false replies
#     and leave fp6d answering.
#  7. SIGTERM: fp6d exits 0 within 5 s.
#
# Usage: cli_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

if [ "$(id -u)" -ne 0 ]; then
    skip "needs root for DPDK (hugepages, /var/run/dpdk)"
fi
[ -x /usr/bin/python3 ] ||
    fp6_die "/usr/bin/python3 is missing: run tools/setup.sh (it installs it)"
for bin in "$FP6D" "$FP6CTL"; do
    [ -x "$bin" ] || fp6_die "$bin is not built"
done

fp6_trap_cleanup
# Print the summary after the cleanup, whatever way the script ends.
trap 'fp6_cleanup; summary' EXIT

run_dir=/run/fp6c/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
log=$run_dir/fp6d.log
prefix=fp6c-cli-$$
bad_prefix=fp6c-clibad-$$
read -ra eal <<<"$(fp6_eal_args "$prefix")"
read -ra bad_eal <<<"$(fp6_eal_args "$bad_prefix")"
fp6_clean_eal "$prefix"
fp6_clean_eal "$bad_prefix"
worker=$(fp6_last_cpu)

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }

# run_ctl ARGS...: run fp6ctl ARGS... (ARGS may hold options, --socket
# included); sets rc, out (stdout) and err (stderr).
rc=0
out=
err=
run_ctl() {
    "$FP6CTL" --timeout 10 "$@" >"$run_dir/out" 2>"$run_dir/err" </dev/null
    rc=$?
    out=$(cat "$run_dir/out")
    err=$(cat "$run_dir/err")
}

# one_line_error: stderr of the last run_ctl is exactly one "fp6ctl: " line.
one_line_error() {
    if [ "$(wc -l <"$run_dir/err")" -ne 1 ] || [[ $err != "fp6ctl: "* ]]; then
        note "stderr is not one \"fp6ctl: \" line:" "$err"
        return 1
    fi
}

# jtest EXPR: read JSON on stdin; true when the Python expression EXPR (it
# may span lines) is true, with the document as d and the modules os and re.
jtest() {
    /usr/bin/python3 -c '
import json, os, re, sys
try:
    d = json.loads(sys.stdin.read())
except ValueError as e:
    print("    # not JSON: %s" % e)
    sys.exit(1)
try:
    sys.exit(0 if eval("(" + sys.argv[1] + ")", {"d": d, "os": os, "re": re}) else 1)
except Exception as e:
    print("    # %s: %s" % (type(e).__name__, e))
    sys.exit(1)
' "$1"
}

# snapshot: the routes, addresses, neighbours and ports (without counters)
# as JSON, for comparing before and after a refused command.
snapshot() {
    # Ages and lifetimes left move by themselves; what a refusal must not
    # change is everything else.
    ctl -j route show && ctl -j addr show | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
for p in d:
    for a in p["addr_info"]:
        a.pop("valid_life_time", None)
        a.pop("preferred_life_time", None)
print(json.dumps(d))
' && ctl -j neigh show | /usr/bin/python3 -c '
import json, sys
print(json.dumps([{k: v for k, v in n.items() if k != "age_ms"} for n in json.load(sys.stdin)]))
' &&
        ctl -j port show | /usr/bin/python3 -c '
import json, sys
keep = ("ifname", "port_id", "devargs", "address", "mtu", "admin")
print(json.dumps([{k: p.get(k) for k in keep} for p in json.load(sys.stdin)]))
'
}

# tables_same BEFORE AFTER: compare two snapshots, show the difference.
tables_same() {
    [ "$1" = "$2" ] && return 0
    note "the tables changed:" "$(diff <(echo "$1") <(echo "$2"))"
    return 1
}

# refused WANT ARGS...: `fp6ctl ARGS...` exits 2 with one line on stderr
# that contains WANT, prints nothing on stdout, and changes no table.
refused() {
    local want=$1 before after ok=0
    shift
    before=$(snapshot) || { note "cannot read the tables"; return 1; }
    run_ctl --socket "$sock" "$@"
    after=$(snapshot) || { note "cannot read the tables afterwards"; return 1; }
    note "$err"
    if [ "$rc" -ne 2 ]; then
        note "exit status $rc, expected 2"
        ok=1
    fi
    one_line_error || ok=1
    if [[ $err != *"$want"* ]]; then
        note "the message does not contain \"$want\""
        ok=1
    fi
    if [ -n "$out" ]; then
        note "unexpected stdout:" "$out"
        ok=1
    fi
    tables_same "$before" "$after" || ok=1
    return "$ok"
}

# --- 1. fp6d's own options ------------------------------------------------

version_printed() {
    local v
    v=$("$FP6D" --version 2>&1) || { note "exit status $?"; return 1; }
    note "$v"
    [[ $v =~ ^fp6d\ [0-9]+\.[0-9]+ ]]
}
check "fp6d --version prints a version" version_printed

good_conf=$run_dir/good.conf
cat >"$good_conf" <<'EOF'
# a config that parses
port add n0 devargs net_null0,no-rx=1
port set n0 up

addr add 2001:db8:1::1/64 dev n0   # trailing comment
route add default via 2001:db8:1::2
EOF
check_config_good() {
    local output status=0
    output=$("$FP6D" --check-config "$good_conf" 2>&1) || status=$?
    note "$output"
    [ "$status" -eq 0 ] || { note "exit status $status"; return 1; }
}
check "fp6d --check-config of a good file exits 0" check_config_good

bad_conf=$run_dir/bad.conf
cat >"$bad_conf" <<'EOF'
port add n0 devargs net_null0,no-rx=1
# line 3 has an unknown verb
route frob 2001:db8:100::/48
EOF
check_config_bad() {
    local output status=0
    output=$("$FP6D" --check-config "$bad_conf" 2>&1) || status=$?
    note "$output"
    [ "$status" -ne 0 ] || { note "exit status 0"; return 1; }
    [[ $output == *"$bad_conf:3:"* ]] || { note "does not name $bad_conf:3"; return 1; }
}
check "fp6d --check-config of a file with an unknown word on line 3 fails naming FILE:3" \
    check_config_bad

refused_conf=$run_dir/refused.conf
cat >"$refused_conf" <<'EOF'
port add n0 devargs net_null0,no-rx=1
addr add 2001:db8::1/64 dev nosuch
port set n0 up
EOF
startup_config_refused() {
    local status=0 bad_log=$run_dir/fp6d-bad.log
    timeout 20 "$FP6D" --config "$refused_conf" --socket "$run_dir/bad.sock" \
        --workers "$worker" --idle-sleep 1000 -- "${bad_eal[@]}" \
        >"$bad_log" 2>&1 </dev/null || status=$?
    note "exit status $status; last lines of its output:" "$(tail -n 3 "$bad_log")"
    if [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
        return 1
    fi
    grep -q "$refused_conf:2:.*unknown port" "$bad_log" ||
        { note "the output does not name $refused_conf:2 and \"unknown port\""; return 1; }
    if [ -e "$run_dir/bad.sock" ]; then
        note "it left its socket behind"
        return 1
    fi
}
check "fp6d --config with a refused line 2 exits non-zero naming FILE:2 and unknown port" \
    startup_config_refused

# --- the daemon under test ------------------------------------------------

fail_setup() {
    echo "not ok - $*"
    failed=$((failed + 1))
    if [ -f "$log" ]; then
        echo "--- fp6d log"
        cat "$log"
    fi
    exit 1
}

fp6_start_daemon "$log" --socket "$sock" --workers "$worker" --idle-sleep 1000 \
    -- "${eal[@]}"
fp6_wait_ready "$sock" 30 || fail_setup "fp6d ready on $sock"
echo "ok - fp6d ready (EAL: ${eal[*]})"
passed=$((passed + 1))

# --- 4. good paths ----------------------------------------------------------

nbr_mac=02:00:5e:00:53:02
setup_commands=(
    "port add n0 devargs net_null0,no-rx=1"
    "port add n1 devargs net_null1,no-rx=1"
    "port set n0 up"
    "port set n1 up"
    "addr add 2001:db8:1::1/64 dev n0"
    "addr add 2001:db8:2::1/64 dev n1"
    "neigh add 2001:db8:1::2 lladdr $nbr_mac dev n0"
    "route add 2001:db8:100::/48 via 2001:db8:1::2"
)
set_up() {
    local line words
    for line in "${setup_commands[@]}"; do
        read -ra words <<<"$line"
        run_ctl --socket "$sock" "${words[@]}"
        if [ "$rc" -ne 0 ] || [ -n "$out" ] || [ -n "$err" ]; then
            note "fp6ctl $line: exit status $rc" "$out" "$err"
            return 1
        fi
    done
}
check "two net_null ports up, addresses, a neighbour and a static route: exit 0, no output" \
    set_up

# Addresses start tentative while fp6d runs duplicate address detection;
# nothing answers on net_null, so they all become usable. Wait for that, so
# that the snapshots of the refusal checks below compare settled tables.
addrs_settled() {
    local i
    for ((i = 0; i < 50; i++)); do
        ctl -j addr show | jtest '
not any(a.get("tentative") or a.get("dadfailed") for p in d for a in p["addr_info"])' &&
            return 0
        sleep 0.2
    done
    note "$(ctl -j addr show)"
    return 1
}
check "every address leaves tentative within 10 s (nothing answers DAD on net_null)" \
    addrs_settled

route_show_json() {
    ctl -j route show | jtest '
all(k in r for r in d for k in ("dst", "type", "dev", "metric", "protocol", "flags"))
and any(r["dst"] == "2001:db8:100::/48" and r.get("gateway") == "2001:db8:1::2"
        and r["dev"] == "n0" and r["metric"] == 1024 and r["protocol"] == "static"
        for r in d)
and any(r["dst"] == "2001:db8:1::/64" and r["dev"] == "n0" and r["protocol"] == "kernel"
        and "gateway" not in r for r in d)
and any(r["dst"] == "2001:db8:1::1/128" and "local" in r["flags"] for r in d)
and any(r["dst"] == "2001:db8:2::/64" and r["dev"] == "n1" for r in d)'
}
check "route show -j: dst, gateway, dev, metric, protocol of the static, connected and local routes" \
    route_show_json

route_get_json() {
    ctl -j route get 2001:db8:100::5 | jtest '
d["gateway"] == "2001:db8:1::2" and d["dev"] == "n0" and d["protocol"] == "static"'
}
check "route get 2001:db8:100::5 -j: via 2001:db8:1::2 dev n0" route_get_json

# Source selection (RFC 6724) as `route get` reports it, live: the outgoing
# port's address (rule 5), the destination's own prefix, an operator's
# preferred-source (rule 4), a route's src, and `from`.
route_get_source() {
    ctl -j route get 2001:db8:100::5 | jtest 'd["prefsrc"] == "2001:db8:1::1"' || return 1
    ctl -j route get 2001:db8:2::77 | jtest 'd["prefsrc"] == "2001:db8:2::1" and d["dev"] == "n1"' ||
        return 1
    ctl addr add 2001:db8:1::9/64 dev n0 preferred-source || return 1
    local i
    for ((i = 0; i < 50; i++)); do
        ctl -j route get 2001:db8:100::5 | jtest 'd["prefsrc"] == "2001:db8:1::9"' && break
        sleep 0.2
    done
    [ "$i" -lt 50 ] || { note "preferred-source not chosen: $(ctl -j route get 2001:db8:100::5)"; return 1; }
    ctl route add 2001:db8:300::/48 via 2001:db8:1::2 src 2001:db8:2::1 || return 1
    ctl -j route get 2001:db8:300::1 | jtest 'd["prefsrc"] == "2001:db8:2::1"' || return 1
    ctl -j route get 2001:db8:300::1 from 2001:db8:1::1 | jtest 'd["prefsrc"] == "2001:db8:1::1"' ||
        return 1
    ctl route del 2001:db8:300::/48 && ctl addr del 2001:db8:1::9/64 dev n0
}
check "route get -j reports the source fp6 would use (rule 5, preferred-source, route src, from)" \
    route_get_source

route_show_table() {
    local table
    table=$(ctl route show) || return 1
    head -n 1 <<<"$table" | grep -q DESTINATION || { note "no header:" "$table"; return 1; }
    grep -Eq '^2001:db8:100::/48 +unicast +2001:db8:1::2 +n0 +static +1024' <<<"$table" ||
        { note "no row for 2001:db8:100::/48:" "$table"; return 1; }
}
check "route show (table): header and the static route's row" route_show_table

addr_show_json() {
    ctl -j addr show | jtest '
any(p["ifname"] == "n0" and any(a["local"] == "2001:db8:1::1" and a["prefixlen"] == 64
                                     and a["family"] == "inet6" for a in p["addr_info"])
        for p in d)
and any(p["ifname"] == "n1" and any(a["local"] == "2001:db8:2::1" and a["prefixlen"] == 64
                                     for a in p["addr_info"])
        for p in d)'
}
check "addr show -j: ifname, addr_info[].local/prefixlen" addr_show_json

neigh_show_json() {
    ctl -j neigh show | jtest '
any(n["dst"] == "2001:db8:1::2" and n["lladdr"] == "'"$nbr_mac"'" and n["dev"] == "n0"
    and "PERMANENT" in n["state"] for n in d)'
}
check "neigh show -j: dst, lladdr, dev, state" neigh_show_json

# net_null's link is up once the port is started; fp6d polls it every 250 ms.
port_show_json() {
    local i
    for ((i = 0; i < 10; i++)); do
        ctl -j port show | jtest '
sorted(p["ifname"] for p in d) == ["n0", "n1"]
and all(re.fullmatch("[0-9a-f]{2}(:[0-9a-f]{2}){5}", p["address"]) and p["mtu"] == 1500
        and p["admin"] == "up" and p["link"] == "up" for p in d)' >/dev/null && return 0
        sleep 0.2
    done
    ctl -j port show | jtest 'False'
    note "$(ctl -j port show)"
    return 1
}
check "port show -j: ifname, address, mtu, admin up, link up" port_show_json

stats_show_json() {
    ctl -j stats show | jtest '
all(isinstance(d["drops"][k], int)
    for k in ("no_route", "hop_limit", "no_neighbor", "bad_version", "truncated", "l2_not_ours"))
and sorted(p["ifname"] for p in d["ports"]) == ["n0", "n1"]
and len(d["workers"]) == 1'
}
check "stats show -j: drops.{no_route,hop_limit,no_neighbor,bad_version,truncated,l2_not_ours}" \
    stats_show_json

# --- 2. exit codes ----------------------------------------------------------

exit_0_done() {
    run_ctl --socket "$sock" port show
    [ "$rc" -eq 0 ] || { note "exit status $rc" "$err"; return 1; }
    grep -q '^n0 ' <<<"$out" || { note "no row for n0:" "$out"; return 1; }
    [ -z "$err" ] || { note "stderr: $err"; return 1; }
}
check "exit 0 for a good command (port show)" exit_0_done

# error_json MESSAGE: stdout of the last run_ctl is {"error": MESSAGE}.
error_json() {
    local want=${1#fp6ctl: }
    FP6C_WANT=$want jtest '
isinstance(d, dict) and d.get("error") == os.environ["FP6C_WANT"]' <<<"$out" ||
        { note "stdout is not {\"error\": \"$want\"}:" "$out"; return 1; }
}

exit_1_parse() {
    local before after
    before=$(snapshot) || return 1
    run_ctl --socket "$sock" rout show
    note "$err"
    [ "$rc" -eq 1 ] || { note "exit status $rc, expected 1"; return 1; }
    one_line_error || return 1
    [[ $err == *'"rout"'* ]] || { note "the message does not name \"rout\""; return 1; }
    [ -z "$out" ] || { note "stdout without -j: $out"; return 1; }
    run_ctl --socket "$sock" -j rout show
    [ "$rc" -eq 1 ] || { note "with -j: exit status $rc, expected 1"; return 1; }
    error_json "$err" || return 1
    after=$(snapshot) || return 1
    tables_same "$before" "$after"
}
check "exit 1 for an unparsable command (rout show), naming \"rout\"; -j prints {\"error\"}" \
    exit_1_parse

exit_2_refused() {
    run_ctl --socket "$sock" -j route add 2001:db8:100::/48 via 2001:db8:1::2
    note "$err"
    [ "$rc" -eq 2 ] || { note "exit status $rc, expected 2"; return 1; }
    one_line_error || return 1
    error_json "$err"
}
check "exit 2 for a refusal; -j prints {\"error\": reason}" exit_2_refused

exit_3_unreachable() {
    local missing=$run_dir/nosuch.sock
    run_ctl --socket "$missing" port show
    note "$err"
    [ "$rc" -eq 3 ] || { note "exit status $rc, expected 3"; return 1; }
    one_line_error || return 1
    [[ $err == *"$missing"* ]] || { note "the message does not name $missing"; return 1; }
    run_ctl --socket "$missing" -j port show
    [ "$rc" -eq 3 ] || { note "with -j: exit status $rc, expected 3"; return 1; }
    error_json "$err"
}
check "exit 3 when the socket does not exist; -j prints {\"error\"}" exit_3_unreachable

# --- 3. refusals ------------------------------------------------------------

check "route add with host bits: refused naming 2001:db8:100::/48" \
    refused "2001:db8:100::/48" route add 2001:db8:100::1/48 via 2001:db8:1::2
check "route add of an existing route: refused, \"route exists\"" \
    refused "route exists" route add 2001:db8:100::/48 via 2001:db8:1::2
check "route del of an absent route: refused, \"no such route\"" \
    refused "no such route" route del 2001:db8:200::/48
check "route add via a gateway that is not on-link: refused, \"not on-link\"" \
    refused "not on-link" route add 2001:db8:300::/48 via 2001:db8:9::1
check "addr add ::1/128: refused (loopback)" \
    refused "loopback" addr add ::1/128 dev n0
check "addr add ff02::1/64: refused (multicast)" \
    refused "multicast" addr add ff02::1/64 dev n0
check "addr add 2001:db8::/64: refused (subnet-router anycast)" \
    refused "subnet-router anycast" addr add 2001:db8::/64 dev n0
check "addr add of an address already on the port: refused, \"exists\"" \
    refused "exists" addr add 2001:db8:1::1/64 dev n0
check "addr add of an address of another port: refused, \"in use on n0\"" \
    refused "in use on n0" addr add 2001:db8:1::1/64 dev n1
check "addr del of an absent address: refused" \
    refused "2001:db8:7::1/64" addr del 2001:db8:7::1/64 dev n0
check "neigh add of one of our own addresses: refused, \"local address\"" \
    refused "local address" neigh add 2001:db8:1::1 lladdr 02:00:5e:00:53:09 dev n0
check "port set nosuch up: refused, \"unknown port\"" \
    refused "unknown port" port set nosuch up
check "port add of a name already added: refused, \"exists\"" \
    refused "port n0 exists" port add n0 devargs net_null7,no-rx=1

# --- 5. fp6ctl -f FILE ------------------------------------------------------

route_present() {
    ctl -j route show | jtest "any(r['dst'] == '$1' for r in d)"
}

file_stops_at_refusal() {
    local file=$run_dir/refusal.cmds ok=0
    cat >"$file" <<'EOF'
# 2001:db8:51::/48 is added on line 2; line 3 is refused; line 4 never runs
route add 2001:db8:51::/48 dev n0
route add 2001:db8:51::/48 dev n0
route add 2001:db8:52::/48 dev n0
EOF
    run_ctl --socket "$sock" -f "$file"
    note "$err"
    [ "$rc" -eq 2 ] || { note "exit status $rc, expected 2"; ok=1; }
    one_line_error || ok=1
    [[ $err == "fp6ctl: $file:3: route exists"* ]] ||
        { note "the message does not start with $file:3: route exists"; ok=1; }
    route_present 2001:db8:51::/48 || { note "line 2 was not applied"; ok=1; }
    if route_present 2001:db8:52::/48; then
        note "line 4 ran after the refusal"
        ok=1
    fi
    ctl route del 2001:db8:51::/48 dev n0 || ok=1
    ctl route del 2001:db8:52::/48 dev n0 >/dev/null 2>&1
    return "$ok"
}
check "fp6ctl -f: stops at the first refusal (exit 2, FILE:3), keeps the lines before" \
    file_stops_at_refusal

file_parse_error() {
    local file=$run_dir/typo.cmds before after ok=0
    cat >"$file" <<'EOF'
route add 2001:db8:53::/48 dev n0
route frob 2001:db8:54::/48
EOF
    before=$(snapshot) || return 1
    run_ctl --socket "$sock" -f "$file"
    after=$(snapshot) || return 1
    note "$err"
    [ "$rc" -eq 1 ] || { note "exit status $rc, expected 1"; ok=1; }
    one_line_error || ok=1
    [[ $err == "fp6ctl: $file:2: "*'"frob"'* ]] ||
        { note "the message does not name $file:2 and \"frob\""; ok=1; }
    tables_same "$before" "$after" || ok=1
    return "$ok"
}
check "fp6ctl -f: a line that does not parse stops the file before anything is sent (exit 1, FILE:2)" \
    file_parse_error

file_all_good() {
    local file=$run_dir/good.cmds before after ok=0
    cat >"$file" <<'EOF'
route add 2001:db8:55::/48 dev n0

route del 2001:db8:55::/48 dev n0  # back as it was
port show n0
EOF
    before=$(snapshot) || return 1
    run_ctl --socket "$sock" -j -f "$file"
    after=$(snapshot) || return 1
    [ "$rc" -eq 0 ] || { note "exit status $rc" "$err"; ok=1; }
    jtest 'len(d) == 1 and d[0]["ifname"] == "n0"' <<<"$out" ||
        { note "stdout is not port show n0:" "$out"; ok=1; }
    tables_same "$before" "$after" || ok=1
    return "$ok"
}
check "fp6ctl -f: a good file runs every line (exit 0)" file_all_good

# --- 6. malformed requests on the raw socket ---------------------------------

# raw KIND: send a malformed request of KIND on a fresh connection; print
# fp6d's reply line, then either the reply to a good request sent next on
# the same connection, or for "long" whether fp6d closed the connection.
raw() {
    /usr/bin/python3 -c '
import socket, sys

path, kind = sys.argv[1], sys.argv[2]
bad = {
    "notjson": b"this is not JSON\n",
    "v99": b"{\"v\":99,\"cmd\":\"port.show\"}\n",
    "unknown": b"{\"v\":1,\"cmd\":\"route.frob\"}\n",
    "long": b"x" * 70000 + b"\n",
}[kind]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(path)
f = s.makefile("rb")
try:
    s.sendall(bad)
except OSError:
    pass  # fp6d may close before it has read everything
print(f.readline().decode("utf-8", "replace").rstrip("\n"))
if kind == "long":
    s.settimeout(2)
    try:
        rest = f.readline()
        print("closed" if rest == b"" else "open: %r" % rest[:80])
    except ConnectionResetError:
        print("closed")
    except socket.timeout:
        print("open")
else:
    s.sendall(b"{\"v\":1,\"cmd\":\"neigh.show\"}\n")
    print(f.readline().decode("utf-8", "replace").rstrip("\n"))
' "$sock" "$1"
}

# raw_refused KIND ERROR: fp6d answers a KIND request {"ok":false} with
# ERROR in "error", then answers the next request on that connection (or,
# for "long", closes it).
raw_refused() {
    local kind=$1 want=$2 reply first second
    reply=$(raw "$kind") || { note "$reply"; return 1; }
    first=$(sed -n 1p <<<"$reply")
    second=$(sed -n 2p <<<"$reply")
    note "$first" "$second"
    FP6C_WANT=$want jtest '
d.get("ok") is False and os.environ["FP6C_WANT"] in d.get("error", "")' <<<"$first" ||
        { note "not an \"ok\":false reply with \"$want\""; return 1; }
    if [ "$kind" = long ]; then
        [ "$second" = closed ] || { note "fp6d kept the connection open"; return 1; }
    else
        jtest 'd.get("ok") is True and isinstance(d.get("data"), list)' <<<"$second" ||
            { note "the next request on the connection got no good answer"; return 1; }
    fi
}
check "raw: a line that is not JSON gets \"ok\":false, the connection goes on" \
    raw_refused notjson "request is not JSON"
check "raw: \"v\":99 gets \"ok\":false, the connection goes on" \
    raw_refused v99 "unsupported protocol version 99"
check "raw: an unknown \"cmd\" gets \"ok\":false, the connection goes on" \
    raw_refused unknown 'unknown command "route.frob"'
check "raw: a 70000-byte line gets \"ok\":false and a close" \
    raw_refused long "line longer than 65536 bytes"

still_answers() {
    kill -0 "$FP6_DAEMON_PID" 2>/dev/null || { note "fp6d is gone"; return 1; }
    run_ctl --socket "$sock" port show
    [ "$rc" -eq 0 ] || { note "exit status $rc" "$err"; return 1; }
    grep -q '^n1 ' <<<"$out" || { note "no row for n1:" "$out"; return 1; }
}
check "fp6d still answers port show after the malformed requests" still_answers

# --- 7. SIGTERM ---------------------------------------------------------------

# A client that has sent half a request and waits must not hold fp6d up.
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"{\"v\":1,\"cmd\":")
time.sleep(20)
' "$sock" &
idle_client=$!
FP6_CLEAN_PIDS+=("$idle_client")
sleep 0.3

sigterm_exit_0() {
    local pid=$FP6_DAEMON_PID start ms i status=0
    start=${EPOCHREALTIME/[.,]/}
    kill -TERM "$pid"
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    ms=$(((${EPOCHREALTIME/[.,]/} - start) / 1000))
    if kill -0 "$pid" 2>/dev/null; then
        note "still running ${ms} ms after SIGTERM"
        fp6_stop_daemon
        return 1
    fi
    fp6_stop_daemon || status=$?
    note "exited with status $status after about ${ms} ms"
    [ "$status" -eq 0 ]
}
check "SIGTERM (with a client connected): fp6d exits 0 within 5 s" sigterm_exit_0

socket_removed() {
    [ ! -e "$sock" ] || { note "$sock is still there"; return 1; }
}
check "fp6d removes its socket when it stops" socket_removed

kill "$idle_client" 2>/dev/null
wait "$idle_client" 2>/dev/null

if [ "$failed" -gt 0 ]; then
    echo "--- fp6d log"
    cat "$log"
    exit 1
fi
exit 0
