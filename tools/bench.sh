#!/usr/bin/env bash
# fp6's forwarding benchmark, in one run, on this machine, with no NIC: every
# program is fed 64-byte IPv6/UDP frames by a net_pcap port that replays a
# pcap forever (rx_pcap=FILE,infinite_rx=1, no tx_pcap) and sends to a
# net_null port; one forwarding core (the last CPU), the rest on the first.
#
#  1. Traffic and routes (tools/bench/gen.py): r16, 16 /64 routes; r1k, 1024
#     routes of /44 to /64; real, the real table (--table, default
#     ../shared/data/ipv6-table-visible10.txt beside the repository) with
#     destinations drawn from it. Without the table that scenario is skipped.
#  2. Forwarding, each measured over --seconds after --warmup, from DPDK's
#     port counters (telemetry socket) and, for fp6d, `fp6ctl stats show -j`:
#       testpmd  dpdk-testpmd io forwarding: the I/O ceiling
#       l3fwd    DPDK's l3fwd example (tools/bench/build-l3fwd.sh), LPM6 and
#                FIB6 lookups, the same routes from --rule_ipv6 files; where
#                the CPU has AVX-512F also FIB6 with EAL allowing 512-bit
#                code (rte_fib6's AVX-512 lookup: l3fwd-fib512)
#       fp6d     one worker, ports from devargs, a static neighbour
#     Prints Mpps, TSC cycles per packet of the forwarding core (its busy
#     CPU time x TSC rate / packets) and the ratios to testpmd and l3fwd.
#  3. Load and churn, while fp6d forwards traffic to 16 stable /64s whose
#     next hops are on p1..p4 (packet i to p(1 + i % 4)): the table loaded,
#     then --churn-seconds of route add/del of 10000 prefixes next to the
#     stable ones via p5 (--churn-batch at a time, 5000 unless told: a chunk
#     added, the previous one deleted), then the table deleted. Changes go in with one `fp6ctl route
#     load FILE` per file; an fp6ctl without `route load` gets them with
#     `fp6ctl -f`, a command per change, and loads only the first
#     --fallback-routes routes of the table. Prints the forwarding rate per 100 ms and the loss:
#     packets to the stable prefixes dropped, or sent to a port other than
#     their own (each of p1..p4 must get its quarter, to within the one
#     packet a contiguous run allows; p5 none).
#  4. Plots (SVG, gnuplot; skipped without it): per-100-ms rate during load
#     and churn, Mpps per scenario against the references.
#
# --memif: step 2 for fp6d only, fed through a net_memif server port by a
# separate generator process (dpdk-testpmd io from the pcap to a memif
# client port, on the first CPU); no load phase. The rate is then the
# generator's as much as fp6d's (docs/performance.md).
#
# Results (JSON, text, SVG) go to --out (default <build dir>/bench/results).
# Not a pass/fail test: the figures move with the machine's load. --quick
# proves the tool works in seconds (CI): 1-s windows, r16 and r1k only,
# l3fwd LPM6 only, a short load phase; it exits non-zero when a figure is
# missing, never because of its size.
#
# Usage: tools/bench.sh [--quick] [--seconds N] [--warmup S] [--table FILE]
#          [--out DIR] [--no-l3fwd] [--no-load] [--churn-seconds N] [--churn-batch N]
#          [--fallback-routes N] [--memif]
#        (as root; fp6 built in build/ or FP6_BUILD_DIR; dpdk-testpmd from
#        Debian's dpdk-dev, l3fwd's sources from dpdk-doc, gnuplot optional)
# Exit: 0 when every figure asked for was produced; 1 otherwise.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"

usage() {
    sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
}

quick=0
seconds=5
warmup=2
table=$FP6_ROOT/../shared/data/ipv6-table-visible10.txt
out=$FP6_BUILD_DIR/bench/results
use_l3fwd=1
use_load=1
churn_seconds=5
churn_batch=5000
fallback_routes=2000
memif=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --seconds | --warmup | --table | --out | --churn-seconds | --churn-batch | --fallback-routes)
            [ $# -ge 2 ] || fp6_die "$1 needs a value"
            v=$2
            case $1 in
                --seconds) seconds=$v ;;
                --warmup) warmup=$v ;;
                --table) table=$v ;;
                --out) out=$v ;;
                --churn-seconds) churn_seconds=$v ;;
                --churn-batch) churn_batch=$v ;;
                --fallback-routes) fallback_routes=$v ;;
            esac
            shift
            ;;
        --no-l3fwd) use_l3fwd=0 ;;
        --memif) memif=1 ;;
        --no-load) use_load=0 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) fp6_die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done
if [ "$quick" -eq 1 ]; then
    seconds=1
    warmup=0.5
    churn_seconds=1
    churn_batch=1000
    fallback_routes=50
fi
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || fp6_die "--seconds must be a whole number, at least 1"
[[ "$churn_seconds" =~ ^[1-9][0-9]*$ ]] || fp6_die "--churn-seconds must be a whole number, at least 1"
[[ "$churn_batch" =~ ^[1-9][0-9]*$ ]] && [ "$churn_batch" -le 5000 ] ||
    fp6_die "--churn-batch must be a whole number from 1 to 5000 (half the churn set)"
[[ "$fallback_routes" =~ ^[1-9][0-9]*$ ]] || fp6_die "--fallback-routes must be a whole number"
[[ "$warmup" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fp6_die "--warmup must be a number of seconds"

fp6_need_root
for bin in "$FP6D" "$FP6CTL"; do
    [ -x "$bin" ] || fp6_die "$bin is not built: run 'ninja -C ${FP6_BUILD_DIR}' first"
done
TSC_HZ_BIN=${TSC_HZ_BIN:-$FP6_BUILD_DIR/test/bench/tsc_hz}
[ -x "$TSC_HZ_BIN" ] || fp6_die "$TSC_HZ_BIN is not built: ninja -C $FP6_BUILD_DIR test/bench/tsc_hz"
PY=/usr/bin/python3
[ -x "$PY" ] || fp6_die "$PY is missing"
command -v taskset >/dev/null || fp6_die "taskset is missing (util-linux)"

ctl_cpu=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
ctl_cpu=${ctl_cpu%%[-,]*}
wk_cpu=$(fp6_last_cpu)
[ "$wk_cpu" != "$ctl_cpu" ] || fp6_die "needs at least 2 CPUs (a forwarding core and one for the rest)"
tsc_hz=$("$TSC_HZ_BIN") || fp6_die "tsc_hz failed"

run_dir=/run/fp6-bn-bench/$$
fp6_tmpdir "$run_dir"
gen=$run_dir/gen
mkdir -p "$out" || fp6_die "cannot create $out"
# What an earlier run left there (and nothing else: --out may be any folder).
rm -f "$out"/fwd-*.json "$out"/load.json "$out"/load-stats[01].json "$out"/summary.txt \
    "$out"/events.txt "$out"/samples.txt "$out"/mpps.dat "$out"/mpps.svg "$out"/rates.dat \
    "$out"/load-churn.svg
load_start=$(cut -d " " -f 1-3 /proc/loadavg)

# --- 1. traffic and routes ---------------------------------------------------
scenarios=(r16 r1k real)
gen_args=(--out "$gen")
if [ "$quick" -eq 1 ]; then
    scenarios=(r16 r1k)
    fp6_log "quick: the real table is left out"
elif [ -r "$table" ]; then
    gen_args+=(--table "$table")
else
    fp6_log "no real table at $table: the 'real' scenario is skipped (--table FILE)"
    scenarios=(r16 r1k)
fi
fp6_log "generating traffic and routes"
"$PY" "$HERE/bench/gen.py" "${gen_args[@]}" || fp6_die "gen.py failed"
echo "R198.18.0.0/15 1" >"$gen/v4.l3fwd"  # l3fwd wants an IPv4 file beside the IPv6 one

# Whether this fp6ctl knows `route load` (exit 1: the grammar refused it;
# 3: it parsed and then found no daemon).
have_route_load=0
"$FP6CTL" --socket "$run_dir/none" --timeout 1 route load /dev/null >/dev/null 2>&1
[ $? -eq 3 ] && have_route_load=1

# --- helpers -------------------------------------------------------------------

# bench_eal PREFIX: sets the caller's `eal` to the EAL options of a process
# named PREFIX: hugepages when 512 (1 GiB) are free, else 1 GiB of ordinary
# memory (l3fwd's full FIB6 table needs ~300 MiB). EAL's runtime directory
# for PREFIX goes on cleanup.
bench_eal() {
    fp6_clean_eal "$1"
    if [ "$(fp6_free_hugepages)" -ge 512 ]; then
        eal=(--file-prefix "$1" --in-memory --no-pci)
    else
        eal=(--file-prefix "$1" --no-shconf --no-huge -m 1024 --no-pci)
    fi
}

# start PID_VAR LOG CMD...: CMD in the background, stopped on cleanup.
start() {
    local var=$1 log=$2
    shift 2
    fp6_trap_cleanup
    "$@" >"$log" 2>&1 </dev/null &
    printf -v "$var" '%s' "$!"
    FP6_CLEAN_PIDS+=("$!")
}

# stop PID: SIGTERM (SIGKILL after 10 s), forgotten by the cleanup.
stop() {
    local i
    for i in "${!FP6_CLEAN_PIDS[@]}"; do
        [ "${FP6_CLEAN_PIDS[i]}" = "$1" ] && unset 'FP6_CLEAN_PIDS[i]'
    done
    FP6_CLEAN_PIDS=("${FP6_CLEAN_PIDS[@]}")
    fp6_stop_pid "$1" || true
}

# wait_forwarding PREFIX PID TXPORT TIMEOUT: until TXPORT has sent more
# packets than a control thread sends (ND, MLD) by itself.
wait_forwarding() {
    local deadline=$((SECONDS + $4)) snap
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$2" 2>/dev/null || return 1
        if snap=$("$PY" "$HERE/bench/tel.py" snapshot "$1" "$3" --wait 1 2>/dev/null) &&
            "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if list(d["ports"].values())[0]["opackets"] > 10000 else 1)' "$snap"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# measure NAME SCENARIO PREFIX PID RXPORT TXPORT [STATS_CMD]: after --warmup,
# two telemetry snapshots --seconds apart (and STATS_CMD's output, fp6ctl
# stats, beside each) into $out/fwd-NAME-SCENARIO.json.
measure() {
    local name=$1 scen=$2 prefix=$3 pid=$4 rx=$5 tx=$6 stats_cmd=${7:-} threads=${8:-1}
    local f=$run_dir/$name-$scen
    sleep "$warmup"
    [ -n "$stats_cmd" ] && { $stats_cmd >"$f.stats0" || return 1; }
    "$PY" "$HERE/bench/tel.py" snapshot "$prefix" "$rx" "$tx" --pid "$pid" >"$f.t0" || return 1
    sleep "$seconds"
    "$PY" "$HERE/bench/tel.py" snapshot "$prefix" "$rx" "$tx" --pid "$pid" >"$f.t1" || return 1
    [ -n "$stats_cmd" ] && { $stats_cmd >"$f.stats1" || return 1; }
    "$PY" "$HERE/bench/report.py" window --name "$name" --scenario "$scen" --rx "$rx" --tx "$tx" \
        --tsc-hz "$tsc_hz" --t0 "$f.t0" --t1 "$f.t1" --threads "$threads" \
        ${stats_cmd:+--stats0 "$f.stats0" --stats1 "$f.stats1"} >"$out/fwd-$name-$scen.json"
}

# The vdevs of every forwarding run: port 0 replays PCAP, port 1 sinks.
vdevs() {
    echo "--vdev net_pcap0,rx_pcap=$1,infinite_rx=1 --vdev net_null0,no-rx=1"
}

failures=0
fail() {
    fp6_log "error: $*"
    failures=$((failures + 1))
}

# --- 2. forwarding ---------------------------------------------------------------

run_testpmd() {
    local scen=$1 prefix=bn-bench-tp-$$ pid eal vd
    command -v dpdk-testpmd >/dev/null || {
        fail "dpdk-testpmd is missing (Debian's dpdk-dev): no I/O ceiling"
        return
    }
    bench_eal "$prefix"
    read -ra vd <<<"$(vdevs "$gen/$scen.pcap")"
    fp6_log "testpmd io, $scen"
    # --stats-period: testpmd then waits for a signal, not for stdin.
    start pid "$run_dir/testpmd-$scen.log" dpdk-testpmd -l "$ctl_cpu,$wk_cpu" \
        --main-lcore "$ctl_cpu" "${eal[@]}" "${vd[@]}" -- --forward-mode=io --auto-start \
        --nb-cores=1 --rxq=1 --txq=1 --stats-period 3600
    if wait_forwarding "$prefix" "$pid" 1 30 && measure testpmd "$scen" "$prefix" "$pid" 0 1; then
        :
    else
        tail -5 "$run_dir/testpmd-$scen.log" >&2
        fail "testpmd $scen: not measured"
    fi
    stop "$pid"
}

l3fwd_bin=
run_l3fwd() {
    local scen=$1 name=l3fwd-$2 lookup=$2 prefix=bn-bench-l3-$$ pid eal vd
    [ -n "$l3fwd_bin" ] || return
    bench_eal "$prefix"
    if [ "$lookup" = fib512 ]; then
        eal+=(--force-max-simd-bitwidth=512)
        lookup=fib
    fi
    read -ra vd <<<"$(vdevs "$gen/$scen.pcap")"
    fp6_log "$name, $scen"
    # One lcore, the main one: l3fwd opens a tx queue per lcore, and a
    # net_pcap port has one. --parse-ptype: net_pcap reports no packet types.
    start pid "$run_dir/$name-$scen.log" "$l3fwd_bin" -l "$wk_cpu" "${eal[@]}" "${vd[@]}" \
        -- -p 0x3 --config "(0,0,$wk_cpu),(1,0,$wk_cpu)" --lookup "$lookup" \
        --rule_ipv4 "$gen/v4.l3fwd" --rule_ipv6 "$gen/$scen.l3fwd6" --parse-ptype
    if wait_forwarding "$prefix" "$pid" 1 120 && measure "$name" "$scen" "$prefix" "$pid" 0 1; then
        :
    else
        tail -5 "$run_dir/$name-$scen.log" >&2
        fail "$name $scen: not measured"
    fi
    stop "$pid"
}

# fp6d_start NAME: an fp6d with one worker on $wk_cpu; sets fp6d_pid,
# fp6d_prefix, sock.
fp6d_pid=
fp6d_prefix=
sock=
fp6d_start() {
    local eal
    fp6d_prefix=bn-bench-fp6-$1-$$
    sock=$run_dir/fp6d-$1.sock
    bench_eal "$fp6d_prefix"
    local name=$1
    shift
    # Extra EAL arguments (an --lcores map) replace --workers.
    if [ $# -eq 0 ]; then
        set -- --workers "$wk_cpu" -- "${eal[@]}"
    else
        set -- -- "${eal[@]}" "$@"
    fi
    start fp6d_pid "$run_dir/fp6d-$name.log" "$FP6D" --socket "$sock" "$@"
    FP6_DAEMON_PID=$fp6d_pid
    fp6_wait_ready "$sock" 60 || {
        tail -5 "$run_dir/fp6d-$name.log" >&2
        return 1
    }
}

ctl() { "$FP6CTL" --socket "$sock" "$@"; }
stats_json() { "$FP6CTL" --socket "$sock" -j stats show; }
# port_ids NAME...: the port ids of the ports NAME... of fp6d at $sock, on one line.
port_ids() {
    ctl -j port show | "$PY" -c '
import json, sys
ports = {p["ifname"]: p["port_id"] for p in json.load(sys.stdin)}
print(" ".join(str(ports[n]) for n in sys.argv[1:]))' "$@"
}

# apply FILE: the route changes of FILE (route add/del lines), with one
# `route load` (its refused lines are a failure: it goes on past them), or
# with `fp6ctl -f` (a command, and a FIB commit, per line) when fp6ctl has no
# `route load`.
apply() {
    local reply
    if [ "$have_route_load" -eq 1 ]; then
        reply=$(ctl -j --timeout 600 route load "$1") || return 1
        # The reply is one compact JSON object; read it without starting an
        # interpreter per step (the churn applies a file every few ms).
        if [[ $reply =~ \"ms\":([0-9]+) ]]; then
            echo "${BASH_REMATCH[1]}" >"$run_dir/last.ms"
        fi
        if [[ $reply != *'"refused":0'* ]]; then
            echo "route load $1: lines refused: $reply" >&2
            return 1
        fi
    else
        ctl --timeout 600 -f "$1" >/dev/null
    fi
}

run_fp6d() {
    local scen=$1 p0 p1 name=fp6d gen_pid='' eal
    local p0_dev="net_pcap0,rx_pcap=$gen/$scen.pcap,infinite_rx=1"
    if [ "$memif" -eq 1 ]; then
        name=fp6d-memif
        p0_dev="net_memif0,role=server,socket=$run_dir/memif-$scen.sock,socket-abstract=no"
        p0_dev+=",mac=02:70:63:61:70:00"  # the pcap's destination
    fi
    if [ "$scen" = real ] && [ "$have_route_load" -eq 0 ]; then
        fail "fp6d real: skipped: this fp6ctl has no 'route load', and adding 228k routes one" \
            "command at a time rebuilds the FIB at each"
        return
    fi
    fp6_log "fp6d, $scen"
    fp6d_start "$scen" || {
        fail "fp6d $scen: did not start"
        return
    }
    if ! ctl -f - <<EOF; then
port add p0 devargs $p0_dev
port add p1 devargs net_null0,no-rx=1
port set p0 up
port set p1 up
addr add 2001:db8:f0::1/64 dev p0
addr add 2001:db8:1::1/64 dev p1
neigh add 2001:db8:1::2 lladdr 02:00:00:00:01:02 dev p1
EOF
        fail "fp6d $scen: configuration refused"
        stop "$fp6d_pid"
        return
    fi
    read -r p0 p1 < <(port_ids p0 p1)
    local t0=$EPOCHREALTIME
    if ! apply "$gen/$scen.fp6"; then
        fail "fp6d $scen: routes refused"
        stop "$fp6d_pid"
        return
    fi
    fp6_log "fp6d $scen: routes in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s"
    if [ "$memif" -eq 1 ]; then
        # The generator: testpmd io from the pcap to a memif client port, its
        # forwarding lcore beside the control thread, off the worker's CPU.
        bench_eal "bn-bench-gen-$$"
        start gen_pid "$run_dir/gen-$scen.log" dpdk-testpmd --lcores "0@$ctl_cpu,1@$ctl_cpu" \
            --main-lcore 0 "${eal[@]}" --vdev "net_pcap0,rx_pcap=$gen/$scen.pcap,infinite_rx=1" \
            --vdev "net_memif0,role=client,socket=$run_dir/memif-$scen.sock,socket-abstract=no" \
            -- --forward-mode=io --auto-start --nb-cores=1 --rxq=1 --txq=1 --stats-period 3600
    fi
    if wait_forwarding "$fp6d_prefix" "$fp6d_pid" "$p1" 30 &&
        measure "$name" "$scen" "$fp6d_prefix" "$fp6d_pid" "$p0" "$p1" stats_json; then
        :
    else
        tail -5 "$run_dir/fp6d-$scen.log" >&2
        [ -n "$gen_pid" ] && tail -5 "$run_dir/gen-$scen.log" >&2
        fail "fp6d $scen: not measured"
    fi
    [ -n "$gen_pid" ] && stop "$gen_pid"
    stop "$fp6d_pid"
}

if [ "$memif" -eq 1 ]; then
    use_l3fwd=0
    use_load=0
    command -v dpdk-testpmd >/dev/null || fp6_die "--memif: dpdk-testpmd (the generator) is missing"
    fp6_log "memif mode: fp6d only, fed by testpmd through net_memif (see docs/performance.md)"
fi
if [ "$use_l3fwd" -eq 1 ]; then
    t0=$SECONDS
    if l3fwd_bin=$("$HERE/bench/build-l3fwd.sh" "$FP6_BUILD_DIR/bench/l3fwd"); then
        fp6_log "l3fwd ready in $((SECONDS - t0)) s"
    else
        fail "l3fwd could not be built: no reference figures"
        l3fwd_bin=
    fi
fi
lookups=(lpm fib)
# rte_fib6 takes its AVX-512 lookup only where EAL allows 512-bit code.
grep -qw avx512f /proc/cpuinfo && lookups+=(fib512)
[ "$quick" -eq 1 ] && lookups=(lpm)
for scen in "${scenarios[@]}"; do
    if [ "$memif" -eq 1 ]; then
        run_fp6d "$scen"
        continue
    fi
    run_testpmd "$scen"
    for lk in "${lookups[@]}"; do
        run_l3fwd "$scen" "$lk"
    done
    run_fp6d "$scen"
done

# Scaling: fp6d with two workers, one per CPU, fed by two net_pcap ports
# (queue 0 of port id goes to worker id mod 2), the second one's frames
# addressed to its own MAC (net_pcap numbers its MACs in creation order).
# On a 2-CPU machine the control thread and the telemetry reads share the
# first worker's CPU.
run_fp6d_two_workers() {
    local scen=$1 p0 p1
    fp6_log "fp6d, $scen, 2 workers"
    "$PY" - "$gen/$scen.pcap" "$run_dir/$scen-b.pcap" <<'PY' || {
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
off = 24  # the global header; then records of a 16-byte header and the frame
while off + 16 <= len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    data[off + 16 + 5] = 0x01  # destination 02:70:63:61:70:01
    off += 16 + incl
open(sys.argv[2], "wb").write(data)
PY
        fail "fp6d $scen, 2 workers: no second pcap"
        return
    }
    # EAL's lcore map: the control thread (lcore 0) and worker 1 on the
    # first CPU, worker 2 on the other.
    fp6d_start "$scen-2w" --lcores "0@$ctl_cpu,1@$ctl_cpu,2@$wk_cpu" --main-lcore 0 || {
        fail "fp6d $scen, 2 workers: did not start"
        return
    }
    if ! ctl -f - <<EOF; then
port add p0 devargs net_pcap0,rx_pcap=$gen/$scen.pcap,infinite_rx=1
port add p0b devargs net_pcap1,rx_pcap=$run_dir/$scen-b.pcap,infinite_rx=1
port add p1 devargs net_null0,no-rx=1
port set p0 up
port set p0b up
port set p1 up
addr add 2001:db8:f0::1/64 dev p0
addr add 2001:db8:f1::1/64 dev p0b
addr add 2001:db8:1::1/64 dev p1
neigh add 2001:db8:1::2 lladdr 02:00:00:00:01:02 dev p1
EOF
        fail "fp6d $scen, 2 workers: configuration refused"
        stop "$fp6d_pid"
        return
    fi
    read -r p0 p1 < <(port_ids p0 p1)
    if apply "$gen/$scen.fp6" && wait_forwarding "$fp6d_prefix" "$fp6d_pid" "$p1" 30 &&
        measure fp6d-2w "$scen" "$fp6d_prefix" "$fp6d_pid" "$p0" "$p1" stats_json 2; then
        :
    else
        tail -5 "$run_dir/fp6d-$scen-2w.log" >&2
        fail "fp6d $scen, 2 workers: not measured"
    fi
    stop "$fp6d_pid"
}
[ "$memif" -eq 0 ] && run_fp6d_two_workers r16

# --- 3. load and churn -----------------------------------------------------------

# event LABEL: a mark on the 100-ms series.
event() { echo "$EPOCHREALTIME $*" >>"$out/events.txt"; }

# timed LABEL CMD...: CMD's wall time in seconds into $run_dir/LABEL.s.
timed() {
    local label=$1 t0=$EPOCHREALTIME rc=0
    shift
    "$@" || rc=$?
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }' >"$run_dir/$label.s"
    return "$rc"
}

run_load() {
    local ids sampler n_table part_add part_del loaded
    fp6_log "load and churn"
    fp6d_start load || {
        fail "load phase: fp6d did not start"
        return
    }
    # p0 stays down until the window opens: nothing is forwarded before it
    # and after it, so the counters read then are exact.
    if ! ctl -f - <<EOF; then
port add p0 devargs net_pcap0,rx_pcap=$gen/stable.pcap,infinite_rx=1
port add p1 devargs net_null0,no-rx=1
port add p2 devargs net_null1,no-rx=1
port add p3 devargs net_null2,no-rx=1
port add p4 devargs net_null3,no-rx=1
port add p5 devargs net_null4,no-rx=1
port set p1 up
port set p2 up
port set p3 up
port set p4 up
port set p5 up
addr add 2001:db8:1::1/64 dev p1
addr add 2001:db8:2::1/64 dev p2
addr add 2001:db8:3::1/64 dev p3
addr add 2001:db8:4::1/64 dev p4
addr add 2001:db8:5::1/64 dev p5
EOF
        fail "load phase: configuration refused"
        stop "$fp6d_pid"
        return
    fi
    ctl -f "$gen/stable.fp6" || {
        fail "load phase: stable routes refused"
        stop "$fp6d_pid"
        return
    }
    # DAD's solicitations and MLD reports go out before the window.
    fp6_wait_dad "$sock" 10 || fail "load phase: addresses still tentative"
    sleep 1
    ids=$(port_ids p0 p1 p2 p3 p4 p5)
    stats_json >"$out/load-stats0.json" || fail "load phase: no stats"
    : >"$out/events.txt"
    # shellcheck disable=SC2086
    start sampler "$run_dir/sampler.log" taskset -c "$ctl_cpu" "$PY" "$HERE/bench/tel.py" sample \
        "$fp6d_prefix" $ids --interval 0.1 --out "$out/samples.txt"
    sleep 0.3
    event up
    ctl port set p0 up || fail "load phase: p0 not up"
    sleep 1

    n_table=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["table_routes"])' \
        "$gen/split.json")
    if [ "$have_route_load" -eq 1 ]; then
        loaded=$n_table
    else
        loaded=$((fallback_routes < n_table ? fallback_routes : n_table))
        fp6_log "this fp6ctl has no 'route load': loading the first $loaded of $n_table routes" \
            "one command at a time (-f)"
    fi
    part_add=$run_dir/part-add.fp6
    part_del=$run_dir/part-del.fp6
    head -n "$loaded" "$gen/table.fp6" >"$part_add"
    head -n "$loaded" "$gen/table-del.fp6" >"$part_del"
    event load
    timed load apply "$part_add" || fail "load phase: routes refused"
    cp "$run_dir/last.ms" "$run_dir/load.ms" 2>/dev/null
    event loaded
    sleep 1

    # Churn: the 10000 prefixes in chunks of --churn-batch; step k adds
    # chunk k and deletes chunk k - 1, round and round (after the last
    # chunk, chunk 0 again) until --churn-seconds are up, checked between
    # steps; then the chunk left is deleted. The rate counts everything: each
    # step's fp6ctl start, the file's parsing, the RIB and the FIB, as a
    # routing daemon handing fp6d its updates in batches would see it.
    local n_churn=0 t_end k n c0
    split -l "$churn_batch" -d -a 5 "$gen/churn-add.fp6" "$run_dir/churn-add."
    split -l "$churn_batch" -d -a 5 "$gen/churn-del.fp6" "$run_dir/churn-del."
    local chunks=("$run_dir"/churn-add.*)
    n=${#chunks[@]}
    local -a step_lines
    cp "${chunks[0]}" "$run_dir/step.0"
    for ((k = 1; k <= n; k++)); do
        cat "${chunks[k % n]}" "${chunks[k - 1]/churn-add/churn-del}" >"$run_dir/step.$k"
    done
    for ((k = 0; k <= n; k++)); do
        step_lines[k]=$(wc -l <"$run_dir/step.$k")
    done
    # Between steps nothing but fp6ctl runs: the clock is bash's own, in
    # microseconds.
    event churn
    c0=$EPOCHREALTIME
    t_end=$((${c0/./} + churn_seconds * 1000000))
    k=0
    while :; do
        apply "$run_dir/step.$k" || { fail "churn: changes refused"; break; }
        n_churn=$((n_churn + step_lines[k]))
        k=$((k % n + 1))
        [ "${EPOCHREALTIME/./}" -lt "$t_end" ] || break
    done
    # Step k would add chunk k % n: the one present is chunk k - 1.
    apply "${chunks[k - 1]/churn-add/churn-del}" || fail "churn: changes refused"
    n_churn=$((n_churn + $(wc -l <"${chunks[k - 1]}")))
    awk -v a="$c0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }' >"$run_dir/churn.s"
    event churned
    sleep 1
    event delete
    timed delete apply "$part_del" || fail "load phase: deletes refused"
    cp "$run_dir/last.ms" "$run_dir/delete.ms" 2>/dev/null
    event deleted
    sleep 1
    ctl port set p0 down || fail "load phase: p0 not down"
    event down
    sleep 0.5
    stop "$sampler"
    stats_json >"$out/load-stats1.json" || fail "load phase: no stats at the end"
    stop "$fp6d_pid"
    "$PY" "$HERE/bench/report.py" loss --stats0 "$out/load-stats0.json" \
        --stats1 "$out/load-stats1.json" --samples "$out/samples.txt" --events "$out/events.txt" \
        --loaded "$loaded" --load-s "$(cat "$run_dir/load.s")" \
        --delete-s "$(cat "$run_dir/delete.s")" --churn-updates "$n_churn" \
        --load-ms "$(cat "$run_dir/load.ms" 2>/dev/null || echo -1)" \
        --delete-ms "$(cat "$run_dir/delete.ms" 2>/dev/null || echo -1)" \
        --churn-s "$(cat "$run_dir/churn.s")" --churn-batch "$churn_batch" \
        --route-load "$have_route_load" \
        --real-table "$("$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["real_table"]))' "$gen/split.json")" \
        >"$out/load.json" || fail "load phase: figures not computed"
}
[ "$use_load" -eq 1 ] && run_load

# --- 4. report and plots ---------------------------------------------------------
{
    echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
        "$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
        "TSC $(awk -v h="$tsc_hz" 'BEGIN { printf "%.3f GHz", h / 1e9 }')"
    echo "DPDK: $(pkg-config --modversion libdpdk 2>/dev/null || echo unknown); EAL memory:" \
        "$(if [ "$(fp6_free_hugepages)" -ge 512 ]; then echo hugepages; else echo --no-huge; fi)"
    echo "forwarding core: CPU $wk_cpu; the rest on CPU $ctl_cpu; $seconds s windows after $warmup s"
    echo "load average (1, 5, 15 min) at the start: $load_start, at the end: $(cut -d " " -f 1-3 /proc/loadavg)"
    echo
    "$PY" "$HERE/bench/report.py" table "$out"/fwd-*.json || echo "(no forwarding figures)"
    if [ -f "$out/load.json" ]; then
        echo
        "$PY" "$HERE/bench/report.py" show-load "$out/load.json"
    fi
} | tee "$out/summary.txt"

if command -v gnuplot >/dev/null; then
    "$PY" "$HERE/bench/report.py" plot --dir "$out" "$out"/fwd-*.json || fail "plots failed"
else
    fp6_log "gnuplot is missing: no plots (apt-get install gnuplot-nox)"
fi

# --quick: every figure asked for must be there (not its size).
if [ "$quick" -eq 1 ] && [ "$memif" -eq 1 ]; then
    "$PY" "$HERE/bench/report.py" check --dir "$out" --expect fp6d-memif:r16 fp6d-memif:r1k ||
        fail "figures missing"
elif [ "$quick" -eq 1 ]; then
    expect=(testpmd:r16 fp6d:r16 fp6d:r1k)
    [ -n "$l3fwd_bin" ] && expect+=(l3fwd-lpm:r16)
    [ "$use_load" -eq 1 ] && expect+=(load)
    "$PY" "$HERE/bench/report.py" check --dir "$out" --expect "${expect[@]}" ||
        fail "figures missing"
fi
fp6_log "results in $out"
[ "$failures" -eq 0 ]
