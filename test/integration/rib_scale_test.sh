#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# The RIB at Internet scale, with a worker forwarding throughout: fp6d gets
# packets to 2001:db8:100::/48 (a route via a static neighbour on p1) from a
# net_pcap port replaying a pcap forever, and sends them to a net_null port.
#
# Checks:
#  1. `route load` of the real table (../shared/data/ipv6-table-visible10.txt,
#     228,726 prefixes over four gateways; skipped with a message when the
#     file is absent) applies every line; the forwarded count keeps growing
#     and no packet is dropped for want of a route meanwhile.
#  2. `route get` of one address in each of 2000 sampled prefixes names the
#     prefix's own gateway (the longest match, so nested prefixes count).
#  3. `route show` of the whole table and `route show match` answer, each
#     within a bound that shows no stall (figures printed), and a `route get`
#     from another client is answered while the whole table streams.
#  4. A generated table grown to 1,000,000 prefixes (tools/gen_routes.py)
#     loads on top, traffic still flowing; the FIB's memory is printed and
#     stays within 512 MiB.
#  5. `route flush` empties the table of static routes; connected routes stay.
#  6. A daemon whose FIB holds few groups (--fib-groups 64) refuses a load
#     past that with "table full" on the first line that does not fit, and
#     the routes it has keep answering.
#  7. A bad line in a load file is reported with its number; the others apply.
#
# Usage: rib_scale_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3

TABLE=${FP6_TABLE:-$HERE/../../../shared/data/ipv6-table-visible10.txt}

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

daemon_dirs fp6-scale

ctl() { "$FP6CTL" --socket "$sock" --timeout 120 "$@"; }

# jget EXPR: evaluate EXPR over the JSON on stdin (as d) and print it.
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

start() {
    fp6_start_daemon "$run_dir/fp6d-$1.log" --socket "$sock" --workers "$worker" "${@:2}" \
        -- "${eal[@]}"
    if ! fp6_wait_ready "$sock" 30; then
        echo "not ok - fp6d ready ($1)"
        cat "$run_dir/fp6d-$1.log"
        failed=$((failed + 1))
        exit 1
    fi
}

# Ports: p0 receives the pcap (its MAC is net_pcap's first, 02:70:63:61:70:00),
# p1..p4 are net_null sinks with a gateway each.
/usr/bin/python3 "$HERE/../../tools/gen_pcap.py" --out "$run_dir/in.pcap" --count 256 \
    --dst-prefix 2001:db8:100::/48 --src 2001:db8:f0::2 >/dev/null ||
    skip "cannot write the pcap (scapy missing?)"
setup() {
    ctl port add p0 devargs "net_pcap_s$1,rx_pcap=$run_dir/in.pcap,infinite_rx=1" >/dev/null
    for n in 1 2 3 4; do
        ctl port add "p$n" devargs "net_null_s$1$n,no-rx=1" >/dev/null
    done
    for n in 0 1 2 3 4; do
        ctl port set "p$n" up dad-transmits 0
        ctl addr add "2001:db8:f$n::1/64" dev "p$n"
    done
    for n in 1 2 3 4; do
        ctl neigh add "2001:db8:f$n::2" lladdr "02:00:00:00:00:0$n" dev "p$n"
    done
    ctl route add 2001:db8:100::/48 via 2001:db8:f1::2
}
gws=2001:db8:f1::2,2001:db8:f2::2,2001:db8:f3::2,2001:db8:f4::2

counter() { ctl -j stats show | jget "$1"; }
forwarded() { counter 'sum(w["forwarded"] for w in d["workers"])'; }
no_route() { counter 'd["drops"]["no_route"]'; }

start a
setup a

# load FILE: `route load` of FILE while traffic flows; sets load_json and
# checks that forwarding went on and nothing was dropped for want of a route.
load_json=
fwd_before=0
fwd_after=0
nr_before=0
nr_after=0
load_file() {
    fwd_before=$(forwarded)
    nr_before=$(no_route)
    load_json=$(ctl -j route load "$1")
    fwd_after=$(forwarded)
    nr_after=$(no_route)
    note "route load $(basename "$1"): $load_json; forwarded +$((fwd_after - fwd_before)), no_route +$((nr_after - nr_before))"
}
kept_forwarding() { [ "$fwd_after" -gt "$fwd_before" ] && [ "$nr_after" -eq "$nr_before" ]; }

if [ -r "$TABLE" ]; then
    /usr/bin/python3 "$HERE/../../tools/gen_routes.py" --table "$TABLE" --gateways "$gws" \
        >"$run_dir/real.routes"
    real=$(wc -l <"$run_dir/real.routes")
    load_file "$run_dir/real.routes"
    all_applied() {
        [ "$(jget 'd["applied"]' <<<"$load_json")" -eq "$real" ] &&
            [ "$(jget 'd["refused"]' <<<"$load_json")" -eq 0 ]
    }
    check "route load of the real table applies all $real lines" all_applied
    check "forwarding went on during the load, nothing dropped for want of a route" kept_forwarding

    # 2000 sampled prefixes: one address in each must route via its own
    # gateway (the longest match: a sample covered by a longer prefix
    # expects that prefix's gateway).
    /usr/bin/python3 - "$run_dir/real.routes" >"$run_dir/sample.fp6" 2>"$run_dir/expect" <<'PY'
import ipaddress, random, sys
routes = {}
for line in open(sys.argv[1]):
    p, _, gw = line.split()
    routes[ipaddress.IPv6Network(p)] = gw
rng = random.Random(7)
nets = list(routes)
for n in rng.sample(nets, 2000):
    a = n.network_address + rng.randrange(n.num_addresses)
    best = max((m for m in (ipaddress.IPv6Network((int(a) >> (128 - l) << (128 - l), l)) for l in range(129)) if m in routes), key=lambda m: m.prefixlen)
    print("route get %s" % a)
    print(routes[best], file=sys.stderr)
PY
    gets_agree() {
        ctl -j -f "$run_dir/sample.fp6" | /usr/bin/python3 -c '
import json, sys
got = [json.loads(l)["gateway"] for l in sys.stdin if l.strip()]
want = open(sys.argv[1]).read().split()
bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
print("    # %d answers, %d wrong" % (len(got), len(bad)))
sys.exit(0 if len(got) == len(want) and not bad else 1)' "$run_dir/expect"
    }
    check "route get of 2000 sampled prefixes names each one's gateway" gets_agree

    show_ok() {
        local t0 t1 n
        t0=$(date +%s%N)
        n=$(ctl -j route show | jget 'len(d)')
        t1=$(date +%s%N)
        note "route show: $n routes in $(((t1 - t0) / 1000000)) ms"
        [ "$n" -ge "$real" ] && [ $(((t1 - t0) / 1000000)) -lt 20000 ]
    }
    check "route show streams the whole table" show_ok
    # The listing goes out a chunk per event-loop turn: another client is
    # answered meanwhile.
    get_during_show() {
        local t0 t1 ms
        ctl -j route show >"$run_dir/show.json" &
        local show_pid=$!
        sleep 0.2
        t0=$(date +%s%N)
        ctl route get 2001:db8:100::5 >/dev/null || return 1
        t1=$(date +%s%N)
        ms=$(((t1 - t0) / 1000000))
        wait "$show_pid" || return 1
        note "route get during a full route show: $ms ms"
        [ "$ms" -lt 1000 ] && [ "$(jget 'len(d)' <"$run_dir/show.json")" -ge "$real" ]
    }
    check "route get answers while a full route show streams" get_during_show
    match_ok() {
        local t0 t1 out
        t0=$(date +%s%N)
        out=$(ctl -j route show match 2001:db8:100::7)
        t1=$(date +%s%N)
        note "route show match: $(((t1 - t0) / 1000000)) ms"
        [ "$(jget 'd[0]["dst"]' <<<"$out")" = "2001:db8:100::/48" ] && [ $(((t1 - t0) / 1000000)) -lt 1000 ]
    }
    check "route show match answers at once with the longest match" match_ok

    /usr/bin/python3 "$HERE/../../tools/gen_routes.py" --table "$TABLE" --gateways "$gws" \
        --count 1000000 | tail -n +"$((real + 1))" >"$run_dir/grown.routes"
    load_file "$run_dir/grown.routes"
    grown_applied() { [ "$(jget 'd["refused"]' <<<"$load_json")" -eq 0 ]; }
    check "a table grown to 1,000,000 prefixes loads" grown_applied
    check "forwarding went on during that load too" kept_forwarding
    fib_small() {
        local r
        r=$(ctl -j stats show)
        note "routes: $(jget 'd["routes"]' <<<"$r")"
        [ "$(jget 'd["routes"]["fib_entries"] >= 1000000 and d["routes"]["fib_table_bytes"] + d["routes"]["fib_index_bytes"] <= 512 << 20' <<<"$r")" = True ]
    }
    check "the FIB holds 1,000,000 prefixes within 512 MiB" fib_small
    flush_ok() {
        local out
        out=$(ctl -j route flush)
        note "route flush: $out"
        [ "$(ctl -j stats show | jget 'd["routes"]["static"]')" -eq 0 ] &&
            [ "$(ctl -j route get 2001:db8:f1::9 | jget 'd["dev"]')" = p1 ]
    }
    check "route flush removes every static route and keeps connected ones" flush_ok
else
    note "skipped the real-table checks: $TABLE is absent"
fi

printf '2001:db8:200::/48 via 2001:db8:f3::2\nnot-a-prefix via 2001:db8:f3::2\n2001:db8:300::/48 via 2001:db8:f3::2\n' >"$run_dir/bad.routes"
load_file "$run_dir/bad.routes"
bad_line() {
    [ "$(jget 'd["applied"]' <<<"$load_json")" -eq 2 ] &&
        [ "$(jget 'd["first_refused"]["line"]' <<<"$load_json")" -eq 2 ] &&
        [[ $(jget 'd["first_refused"]["error"]' <<<"$load_json") == *not-a-prefix* ]]
}
check "a bad line is reported with its number and the others apply" bad_line

# --- a FIB that fills up ------------------------------------------------------
ctl route flush >/dev/null
fp6_stop_daemon
start b --fib-groups 64
setup b
# /64s in distinct /32s need five groups each beyond the first level.
/usr/bin/python3 -c '
for i in range(40):
    print("2001:%x:0:1::/64 via 2001:db8:f2::2" % (0x1000 + i))' >"$run_dir/full.routes"
load_file "$run_dir/full.routes"
table_full() {
    local applied line err
    applied=$(jget 'd["applied"]' <<<"$load_json")
    line=$(jget 'd["first_refused"]["line"]' <<<"$load_json")
    err=$(jget 'd["first_refused"]["error"]' <<<"$load_json")
    [ "$line" -eq $((applied + 1)) ] && [[ $err == *"table full"* ]] &&
        [ "$(ctl -j route get 2001:1000:0:1::5 | jget 'd["gateway"]')" = 2001:db8:f2::2 ] &&
        [ "$(ctl -j route get 2001:db8:100::5 | jget 'd["gateway"]')" = 2001:db8:f1::2 ] &&
        ! ctl route get "2001:$(printf %x $((0x1000 + line - 1))):0:1::5" >/dev/null 2>&1
}
check "a full FIB refuses with \"table full\" and keeps what it has" table_full
check "forwarding went on while the FIB filled" kept_forwarding

fp6_stop_daemon

[ "$failed" -eq 0 ]
