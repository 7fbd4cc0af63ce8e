#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# Integration test: the exception path to the host's stack (`port set NAME
# host-if on`), with fp6d in a namespace of its own so that its TUN, and the
# sockets on it, are nobody else's.
#
#   hx-h: 2001:db8:1::2/64 (+ 2001:db8:99::2 on lo) --veth-- hx0 [fp6d in hx-r]
#                                                              TUN hx0 in hx-r
#
# Checks:
#  - the TUN exists, is up with the port's MTU, and carries fp6's usable
#    addresses (global and link-local) once they passed DAD;
#  - H's ping to the router is answered once, by fp6 (no DUP!, nothing went
#    up to the host);
#  - TCP from H to a listener on the router's global address, 200 kB each
#    way, and to its link-local address (fe80::...%veth);
#  - UDP from H to the router and back, also 4000 bytes (fragments
#    reassembled by fp6 go up; the host's fragmented answer comes down);
#  - UDP from H to ff02::5, a group a socket joined on the TUN (the kernel's
#    MLD report makes fp6 listen to it on the port), answered;
#  - TCP from the router's namespace to H: on-link, and off-link through a
#    fp6 route with a kernel route via the TUN;
#  - the host counters moved (stats show host.*); a packet the kernel sends
#    from an address that is not fp6's is dropped as bad_source; the
#    metrics endpoint has them;
#  - addr add/del on fp6 adds/removes it on the TUN; port down takes the TUN
#    down without addresses, port up brings them back;
#  - show running-config has `host-if on`; another name (host-if IFNAME)
#    works; an interface name that exists, or a malformed one, is refused,
#    the previous TUN stays and fp6d keeps answering;
#  - host-if off: the TUN is gone and UDP gets Port Unreachable again, also
#    a 4000-byte datagram fp6 reassembles.
#
# Usage: host_path_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no netns).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

need_netns
need_tools ping ethtool /usr/bin/python3
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

daemon_dirs hx-host
config=$run_dir/fp6d.conf
log=$run_dir/fp6d.log
peer=$run_dir/peer.py

R=hx-r
H=hx-h
H_IF=hx-h-in
H_OUT=hx-h-out
H_ADDR=2001:db8:1::2
R_ADDR=2001:db8:1::1
FAR=2001:db8:99::2
in_r() { ip netns exec "$R" "$@"; }
in_h() { ip netns exec "$H" "$@"; }
ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }
counter() { ctl -j stats show | fp6_stat "$1"; }

fail_setup() {
    echo "not ok - $*"
    failed=$((failed + 1))
    if [ -f "$log" ]; then
        echo "--- fp6d log"
        cat "$log"
    fi
    exit 1
}

# The peers: small socket programs, one per role.
cat >"$peer" <<'PY'
import socket, sys

def addr_of(host, port, kind):
    return socket.getaddrinfo(host, port, socket.AF_INET6, kind)[0][4]

def tcp_echo_server(host, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr_of(host, int(port), socket.SOCK_STREAM))
    s.listen(4)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        c.settimeout(10)
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
        c.close()

def tcp_client(host, port, n, src=None):
    data = bytes((i * 7) & 0xff for i in range(int(n)))
    c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(addr_of(host, int(port), socket.SOCK_STREAM))
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    got = bytearray()
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += d
    print("sent %d, echoed %d, %s, local %s" %
          (len(data), len(got), "same" if got == data else "DIFFERENT", c.getsockname()[0]))
    sys.exit(0 if got == data else 1)

def udp_echo_server(host, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(addr_of(host, int(port), socket.SOCK_DGRAM))
    print("listening", flush=True)
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(b"re:" + d, a)

def udp_client(host, port, src="", size="9"):
    msg = b"hello fp6" + b"." * (int(size) - 9)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    if src:
        s.bind((src, 0))
    s.settimeout(3)
    s.connect(addr_of(host, int(port), socket.SOCK_DGRAM))
    s.send(msg)
    try:
        d = s.recv(65536)
    except ConnectionRefusedError:
        print("refused (Port Unreachable)")
        sys.exit(2)
    except socket.timeout:
        print("no answer")
        sys.exit(3)
    print("answer %r" % (d if len(d) < 40 else "%d bytes" % len(d)))
    sys.exit(0 if d == b"re:" + msg else 1)

def udp_group_server(group, ifname, port):
    # Joining makes the kernel report the group (MLD) into the TUN.
    import struct
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", int(port)))
    idx = socket.if_nametoindex(ifname)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                 socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", idx))
    print("listening", flush=True)
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(b"re:" + d, a)

def udp_group_client(group, ifname, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(1)
    dst = (group, int(port), 0, socket.if_nametoindex(ifname))
    for attempt in range(5):
        s.sendto(b"hello group", dst)
        try:
            d, a = s.recvfrom(65536)
        except socket.timeout:
            continue
        print("answer %r from %s after %d tries" % (d, a[0], attempt + 1))
        sys.exit(0 if d == b"re:hello group" else 1)
    print("no answer")
    sys.exit(3)

globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
PY

# serve NS ROLE ARGS...: a server of peer.py in namespace NS, stopped at the
# end; waits until it listens.
serve() {
    local ns=$1 out
    shift
    out=$run_dir/serve-$ns-$1-$3.txt
    : >"$out"
    ip netns exec "$ns" /usr/bin/python3 "$peer" "$@" >"$out" 2>&1 &
    FP6_CLEAN_PIDS+=($!)
    for _ in $(seq 50); do
        grep -q listening "$out" && return 0
        sleep 0.1
    done
    note "server $* in $ns did not start: $(cat "$out")"
    return 1
}

# run_peer NS ARGS...: a client of peer.py in NS; its output as a note.
run_peer() {
    local ns=$1 out rc
    shift
    out=$(ip netns exec "$ns" timeout 20 /usr/bin/python3 "$peer" "$@" 2>&1)
    rc=$?
    note "$*: $out"
    return "$rc"
}

# ---- set-up: H as in the other tests, its veth's outer end moved into R

fp6_host_ns "$H" "$H_OUT" "$H_IF" "$H_ADDR/64" "$R_ADDR" || fail_setup "create host H"
ip netns del "$R" 2>/dev/null || true
ip netns add "$R" || fail_setup "create namespace $R"
FP6_CLEAN_NETNS+=("$R")
ip link set "$H_OUT" netns "$R" || fail_setup "move $H_OUT into $R"
in_r sysctl -q -w "net.ipv6.conf.$H_OUT.disable_ipv6=1" || fail_setup "IPv6 off on $H_OUT"
in_r ip link set dev "$H_OUT" up || fail_setup "$H_OUT up"
in_r ip link set dev lo up || fail_setup "lo up in $R"
in_h ip -6 addr add "$FAR/128" dev lo || fail_setup "$FAR on H's lo"

cat >"$config" <<EOF
port add hx0 devargs net_af_packet0,iface=$H_OUT
port set hx0 host-if on
port set hx0 up
addr add $R_ADDR/64 dev hx0
EOF

# fp6d in R (ip netns exec execs it: the pid is fp6d's).
ip netns exec "$R" "$FP6D" --config "$config" --socket "$sock" --workers "$worker" \
    --idle-sleep 100 --metrics 127.0.0.1:9474 -- "${eal[@]}" >"$log" 2>&1 </dev/null &
FP6_DAEMON_PID=$!
FP6_CLEAN_PIDS+=("$FP6_DAEMON_PID")
fp6_wait_ready "$sock" 60 || fail_setup "fp6d ready on $sock"
fp6_wait_dad "$sock" 10 || fail_setup "fp6's addresses pass DAD"
echo "ok - fp6d ready in $R, addresses usable"
passed=$((passed + 1))
r_ll=$(ctl -j addr show dev hx0 | fp6_addr_states | awk '$4 == "link" { print $2 }')

# tun_has WHAT...: `ip -6 addr show dev hx0` in R shows every WHAT (within 3 s).
tun_addrs=
tun_has() {
    local w ok
    for _ in $(seq 30); do
        tun_addrs=$(in_r ip -6 -o addr show dev hx0 2>&1)
        ok=1
        for w in "$@"; do grep -qF -- "$w" <<<"$tun_addrs" || ok=0; done
        [ "$ok" = 1 ] && return 0
        sleep 0.1
    done
    note "hx0 in $R: $(tr '\n' ';' <<<"$tun_addrs")"
    return 1
}
tun_lacks() {
    for _ in $(seq 30); do
        tun_addrs=$(in_r ip -6 -o addr show dev hx0 2>&1)
        grep -qF -- "$1" <<<"$tun_addrs" || return 0
        sleep 0.1
    done
    note "hx0 in $R: $(tr '\n' ';' <<<"$tun_addrs")"
    return 1
}
tun_link() {
    local out
    out=$(in_r ip -o link show dev "${2:-hx0}" 2>&1)
    note "$out"
    grep -q "$1" <<<"$out"
}
check "TUN hx0 is up in $R with mtu 1500" tun_link ",UP,LOWER_UP> mtu 1500 "
check "TUN hx0 has $R_ADDR/64 and $r_ll/64" tun_has "$R_ADDR/64" "$r_ll/64"
only_ours() {
    local n
    n=$(in_r ip -6 -o addr show dev hx0 | grep -c inet6)
    [ "$n" = 2 ]
}
check "TUN hx0 has no address of the kernel's own" only_ours

# ---- echo stays fp6's

echo_once() {
    local out up0 up1 rep0 rep1
    up0=$(counter host.to_host_packets)
    rep0=$(counter control.echo_replies)
    out=$(in_h ping -6 -n -c 3 -i 0.2 -W 2 "$R_ADDR" 2>&1)
    up1=$(counter host.to_host_packets)
    rep1=$(counter control.echo_replies)
    note "$(grep -E 'transmitted|DUP' <<<"$out")"
    note "echo_replies +$((rep1 - rep0)), to_host_packets +$((up1 - up0))"
    grep -q '3 packets transmitted, 3 received' <<<"$out" && ! grep -q DUP <<<"$out" &&
        [ $((rep1 - rep0)) = 3 ] && [ "$up1" = "$up0" ]
}
check "H's ping to $R_ADDR is answered once, by fp6" echo_once

# ---- H to the router's stack

serve "$R" tcp-echo-server "$R_ADDR" 7000 || fail_setup "TCP listener on $R_ADDR"
serve "$R" tcp-echo-server :: 7002 || fail_setup "TCP listener on ::"
serve "$R" udp-echo-server "$R_ADDR" 7001 || fail_setup "UDP listener on $R_ADDR"
check "TCP H -> [$R_ADDR]:7000, 200 kB each way" run_peer "$H" tcp-client "$R_ADDR" 7000 200000
check "TCP H -> [$r_ll%$H_IF]:7002 (link-local)" run_peer "$H" tcp-client "$r_ll%$H_IF" 7002 20000
check "UDP H -> [$R_ADDR]:7001 and back" run_peer "$H" udp-client "$R_ADDR" 7001
# 4000 bytes: fragmented by H, reassembled by fp6 (a chained mbuf up), the
# answer fragmented by the host's stack and forwarded by fp6.
reasm_up() {
    local r0 r1
    r0=$(counter reassembly.reassembled)
    run_peer "$H" udp-client "$R_ADDR" 7001 "" 4000 || return 1
    r1=$(counter reassembly.reassembled)
    note "reassembly.reassembled +$((r1 - r0))"
    [ $((r1 - r0)) -ge 1 ]
}
check "UDP 4000 bytes H -> router, fragmented both ways" reasm_up

# A group the host's socket joins on the TUN (ff02::5, OSPFv3's
# AllSPFRouters): the kernel's MLD report makes fp6 listen to it on the port,
# so what H sends to it reaches the socket.
serve "$R" udp-group-server ff02::5 hx0 7005 || fail_setup "UDP listener on ff02::5"
group_reaches_host() {
    run_peer "$H" udp-group-client ff02::5 "$H_IF" 7005 || return 1
    note "$(grep -m1 'host listens to ff02::5' "$log")"
    grep -q 'hx0: the host listens to ff02::5' "$log"
}
check "UDP to ff02::5, joined by a socket on the TUN, reaches it and is answered" \
    group_reaches_host

# ---- the router's stack to H

serve "$H" tcp-echo-server :: 7003 || fail_setup "TCP listener in H"
check "TCP $R -> [$H_ADDR]:7003 (on-link)" run_peer "$R" tcp-client "$H_ADDR" 7003 50000
ctl route add 2001:db8:99::/64 via "$H_ADDR" dev hx0 || fail_setup "route to 2001:db8:99::/64"
in_r ip -6 route add 2001:db8:99::/64 dev hx0 || fail_setup "kernel route via hx0"
check "TCP $R -> [$FAR]:7003 (off-link, fp6's route)" run_peer "$R" tcp-client "$FAR" 7003 50000

counters_moved() {
    local s
    s=$(ctl -j stats show)
    note "host: $(/usr/bin/python3 -c 'import json,sys; h=json.load(sys.stdin)["host"]; h.pop("ports"); print(json.dumps(h))' <<<"$s")"
    [ "$(fp6_stat host.to_host_bytes <<<"$s")" -gt 300000 ] &&
        [ "$(fp6_stat host.from_host_bytes <<<"$s")" -gt 300000 ] &&
        [ "$(fp6_stat host.to_host_packets <<<"$s")" -gt 100 ] &&
        [ "$(fp6_stat host.from_host_packets <<<"$s")" -gt 100 ]
}
check "host counters: > 300 kB and > 100 packets each way" counters_moved

bad_source() {
    local d0 d1
    in_r ip -6 addr add 2001:db8:1::77/128 dev hx0 nodad || return 1
    d0=$(ctl -j stats show | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["host"]["drops"]["bad_source"])')
    run_peer "$R" udp-client "$H_ADDR" 9 2001:db8:1::77
    d1=$(ctl -j stats show | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["host"]["drops"]["bad_source"])')
    in_r ip -6 addr del 2001:db8:1::77/128 dev hx0
    note "host.drops.bad_source +$((d1 - d0))"
    [ $((d1 - d0)) -ge 1 ]
}
check "a packet from 2001:db8:1::77 (not fp6's) is dropped as bad_source" bad_source

metrics_have_host() {
    local text
    text=$(in_r /usr/bin/python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9474/metrics", timeout=5).read().decode())') || return 1
    note "$(grep -E '^fp6_host_(drops_total\{reason="bad_source"\}|to_host_packets_total|port_from_host_packets_total)' <<<"$text" | tr '\n' ';')"
    grep -qE '^fp6_host_to_host_packets_total [1-9]' <<<"$text" &&
        grep -qE '^fp6_host_drops_total\{reason="bad_source"\} [1-9]' <<<"$text" &&
        grep -qE '^fp6_host_port_from_host_packets_total\{port="hx0"\} [1-9]' <<<"$text"
}
check "metrics: fp6_host_*, by reason and by port" metrics_have_host

# ---- the TUN follows the port

addr_follow() {
    ctl addr add 2001:db8:2::1/64 dev hx0 || return 1
    tun_has 2001:db8:2::1/64 || return 1
    ctl addr del 2001:db8:2::1/64 dev hx0 || return 1
    tun_lacks 2001:db8:2::1/64
}
check "addr add/del on fp6: the TUN gains and loses 2001:db8:2::1/64" addr_follow

down_up() {
    ctl port set hx0 down || return 1
    tun_lacks "$R_ADDR" || return 1
    tun_link "state DOWN" || return 1
    ctl port set hx0 up || return 1
    fp6_wait_dad "$sock" 10 || return 1
    tun_has "$R_ADDR/64" "$r_ll/64"
}
check "port down: TUN down without addresses; port up: they are back" down_up
check "UDP to the router works after port down/up" run_peer "$H" udp-client "$R_ADDR" 7001

# ---- the setting

check "show running-config has 'port set hx0 host-if on'" \
    bash -c "'$FP6CTL' --socket '$sock' show running-config | grep -qx 'port set hx0 host-if on'"

refused() {
    local out
    if out=$(ctl port set hx0 host-if "$1" 2>&1); then
        note "accepted: $out"
        return 1
    fi
    note "$out"
    grep -q "$2" <<<"$out" && ctl port show hx0 >/dev/null && tun_link UP hx0
}
check "host-if lo (exists) is refused; hx0 stays" refused lo "has an interface of that name"
check "host-if bad/name is refused; hx0 stays" refused bad/name "must not contain"

renamed() {
    ctl port set hx0 host-if hx-tun1 || return 1
    tun_link UP hx-tun1 || return 1
    ! in_r ip link show dev hx0 >/dev/null 2>&1 || return 1
    ctl show running-config | grep -qx 'port set hx0 host-if hx-tun1'
}
check "host-if hx-tun1 replaces hx0 and is saved as such" renamed

off_again() {
    local rc=0
    ctl port set hx0 host-if off || return 1
    if in_r ip link show dev hx-tun1 >/dev/null 2>&1; then
        note "hx-tun1 still there"
        return 1
    fi
    run_peer "$H" udp-client "$R_ADDR" 7001 || rc=$?
    [ "$rc" = 2 ] || return 1
    # Reassembled (a chained mbuf) as well.
    rc=0
    run_peer "$H" udp-client "$R_ADDR" 7001 "" 4000 || rc=$?
    [ "$rc" = 2 ]
}
check "host-if off: the TUN is gone, UDP (also 4000 bytes) gets Port Unreachable" off_again

still_up() {
    ctl port show hx0 >/dev/null && kill -0 "$FP6_DAEMON_PID"
}
check "fp6d still runs" still_up
if [ "$failed" -gt 0 ] || [ -n "${HX_SHOW_LOG:-}" ]; then
    echo "--- fp6d log"
    cat "$log"
fi

[ "$failed" -eq 0 ]
