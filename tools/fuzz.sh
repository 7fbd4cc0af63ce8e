#!/usr/bin/env bash
# Run one libFuzzer target of test/fuzz for a chosen time:
#
#   tools/fuzz.sh TARGET [SECONDS]      (default 60 seconds)
#   tools/fuzz.sh all [SECONDS]         each target in turn, SECONDS each
#   tools/fuzz.sh list                  the targets
#
# TARGET is fuzz_packet, fuzz_ext_headers, fuzz_ndp or fuzz_control (the
# "fuzz_" may be left out). Builds, once, a clang build with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer in $FP6_FUZZ_BUILD_DIR
# (default <repo>/build-fuzz; needs clang, which tools/setup.sh installs),
# then fuzzes from the seed corpus test/fuzz/corpus/TARGET. New inputs go to
# $FP6_FUZZ_BUILD_DIR/corpus/TARGET (the seed corpus is not touched: copy an
# input worth keeping there by hand); a crash, a sanitizer report or a
# broken invariant stops the run and leaves the input in
# $FP6_FUZZ_BUILD_DIR/artifacts/. Prints the executions and coverage; exits
# non-zero when the target failed. Extra libFuzzer flags: FP6_FUZZ_FLAGS.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"

TARGETS=(fuzz_packet fuzz_ext_headers fuzz_ndp fuzz_control)
BUILD=${FP6_FUZZ_BUILD_DIR:-$FP6_ROOT/build-fuzz}

usage() {
    echo "usage: ${0##*/} TARGET|all|list [SECONDS]; targets: ${TARGETS[*]}" >&2
    exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    usage
fi
want=$1
seconds=${2:-60}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || fp6_die "SECONDS must be a positive whole number, got \"$seconds\""
if [ "$want" = list ]; then
    printf '%s\n' "${TARGETS[@]}"
    exit 0
fi
if [ "$want" = all ]; then
    run=("${TARGETS[@]}")
else
    [[ "$want" == fuzz_* ]] || want=fuzz_$want
    found=0
    for t in "${TARGETS[@]}"; do
        [ "$t" = "$want" ] && found=1
    done
    [ "$found" -eq 1 ] || fp6_die "unknown target \"$1\"; targets: ${TARGETS[*]}"
    run=("$want")
fi

command -v clang++ >/dev/null || fp6_die "clang++ not found; tools/setup.sh installs it (Debian package clang)"
if [ ! -f "$BUILD/meson-private/coredata.dat" ]; then
    fp6_log "configuring the fuzz build in $BUILD"
    CC=clang CXX=clang++ meson setup "$BUILD" "$FP6_ROOT" -Dfuzz=true \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$BUILD" "${run[@]/#/test/fuzz/}"

# A sanitizer report is a failure, found once and kept as an artifact.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=0
for t in "${run[@]}"; do
    corpus=$BUILD/corpus/$t
    mkdir -p "$corpus" "$BUILD/artifacts"
    log=$BUILD/$t.log
    fp6_log "$t: fuzzing for ${seconds}s (log: $log)"
    rc=0
    # shellcheck disable=SC2086 # FP6_FUZZ_FLAGS is a list of flags
    "$BUILD/test/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$BUILD/artifacts/$t-" ${FP6_FUZZ_FLAGS:-} \
        "$corpus" "$FP6_ROOT/test/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    # libFuzzer prints its final stats twice after a crash: take the last.
    execs=$(awk '/stat::number_of_executed_units:/ { n = $2 } END { print n }' "$log")
    rate=$(awk '/stat::average_exec_per_sec:/ { n = $2 } END { print n }' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "$t: ${execs:-?} executions (${rate:-?}/s), ${cov:-cov: ?}, $(find "$corpus" -type f | wc -l) new inputs in $corpus"
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "$t FAILED (exit $rc); the end of $log:"
        tail -n 40 "$log"
    fi
done
exit "$failed"
