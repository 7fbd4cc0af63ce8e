#!/usr/bin/env bash
# Instructions per forwarded packet of fp6's packet path, counted by
# valgrind's callgrind: a figure that does not move with the machine's load
# (this kind of machine has no hardware counters). Runs test/bench/fwd_bench
# (classify_burst on one burst of --burst packets, replayed; 64 by default,
# fp6d's burst; 32 gives the figures tracked before the seventh session)
# under callgrind,
# collecting inside fp6::classify_burst only (what it calls included), and
# divides the instructions (Ir) by the packets forwarded. callgrind does not
# run AVX-512 code; the figure is for the scalar paths.
#
# Cases: r16 (16 /64 routes), r1k (1024 /64 routes), and real (the real
# table, destinations drawn from it) when the table file is there.
#
# Usage: tools/bench-callgrind.sh [--bursts N] [--burst N] [--table FILE]
#        (fp6 built in build/ or FP6_BUILD_DIR, or FWD_BENCH=PATH of the
#        fwd_bench to count, e.g. one built before a change; valgrind)
# Exit: 0 when every case was counted; 1 otherwise.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"

bursts=2000
burst=64
table=$FP6_ROOT/../shared/data/ipv6-table-visible10.txt
while [ $# -gt 0 ]; do
    case $1 in
        --bursts)
            [ $# -ge 2 ] || fp6_die "--bursts needs a value"
            bursts=$2
            shift
            ;;
        --burst)
            [ $# -ge 2 ] || fp6_die "--burst needs a value"
            burst=$2
            shift
            ;;
        --table)
            [ $# -ge 2 ] || fp6_die "--table needs a value"
            table=$2
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
            exit 0
            ;;
        *) fp6_die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done
[[ "$bursts" =~ ^[1-9][0-9]*$ ]] || fp6_die "--bursts must be a whole number, at least 1"
[[ "$burst" =~ ^[1-9][0-9]*$ ]] || fp6_die "--burst must be a whole number, at least 1"
bench=${FWD_BENCH:-$FP6_BUILD_DIR/test/bench/fwd_bench}
[ -x "$bench" ] || fp6_die "$bench is not built: ninja -C $FP6_BUILD_DIR test/bench/fwd_bench"
command -v valgrind >/dev/null || fp6_die "valgrind is missing (apt-get install valgrind)"

dir=$(mktemp -d /tmp/fp6-callgrind.XXXXXX)
trap 'rm -rf "$dir"' EXIT

cases=("r16:--routes 16" "r1k:--routes 1024")
if [ -r "$table" ]; then
    cases+=("real:--table $table")
else
    fp6_log "no real table at $table: that case is skipped"
fi

rc=0
printf '%-6s %12s %10s %14s\n' case packets Ir Ir/packet
for c in "${cases[@]}"; do
    name=${c%%:*}
    read -ra args <<<"${c#*:}"
    out=$dir/$name.out
    if ! valgrind --tool=callgrind --callgrind-out-file="$out" \
        --toggle-collect='fp6::classify_burst(*WorkerLocal*)' "$bench" "${args[@]}" --bursts "$bursts" --burst "$burst" \
        >"$dir/$name.log" 2>&1; then
        tail -5 "$dir/$name.log" >&2
        fp6_log "error: $name: fwd_bench failed under callgrind"
        rc=1
        continue
    fi
    fwd=$(awk '/^packets / { print $4 }' "$dir/$name.log")
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$out")
    if [ -z "$fwd" ] || [ -z "$ir" ] || [ "$fwd" -eq 0 ]; then
        fp6_log "error: $name: no count (forwarded '$fwd', Ir '$ir')"
        rc=1
        continue
    fi
    printf '%-6s %12d %10d %14.1f\n' "$name" "$fwd" "$ir" "$(awk -v a="$ir" -v b="$fwd" 'BEGIN { print a / b }')"
done
exit "$rc"
