#!/usr/bin/env bash
# Build unit tests with AddressSanitizer and UndefinedBehaviorSanitizer and
# run them: any sanitizer report fails its test.
#
#   tools/sanitize.sh          the CI set (below): what tools/test.sh runs
#   tools/sanitize.sh --all    every test of the unit suite, fuzz corpora included
#
# The build lives in $FP6_SAN_BUILD_DIR (default <repo>/build-san), g++ at
# -O1 with debug information and assertions. The results are in its
# meson-logs/testlog.json, which tools/test.sh folds into its summary.
# docs/reliability.md says why these tests and what they cost.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"

BUILD=${FP6_SAN_BUILD_DIR:-$FP6_ROOT/build-san}

# The CI set: the code that reads what the network and clients send (packet
# path, ND, ICMPv6 and extension headers, reassembly, the control protocol
# and grammar), the corpora of the fuzz targets, and the FIB with readers
# racing its writer (lpm6_test, no EAL), and the RIB (rib_test), all fast.
CI_TESTS=(
    ip6_test grammar_test protocol_test packet_test malformed_test ndp_test icmp6_test
    reasm_test fuzz_packet fuzz_ext_headers fuzz_ndp fuzz_control lpm6_test rib_test
)

tests=("${CI_TESTS[@]}")
if [ "${1:-}" = --all ]; then
    tests=()
elif [ $# -ne 0 ]; then
    echo "usage: ${0##*/} [--all]" >&2
    exit 2
fi

if [ ! -f "$BUILD/meson-private/coredata.dat" ]; then
    meson setup "$BUILD" "$FP6_ROOT" -Db_sanitize=address,undefined -Doptimization=1 \
        -Ddebug=true -Db_ndebug=false >/dev/null
fi
if [ ${#tests[@]} -eq 0 ]; then
    ninja -C "$BUILD"
else
    targets=()
    for t in "${tests[@]}"; do
        case $t in
            fuzz_*) targets+=("test/fuzz/$t") ;;
            *) targets+=("test/unit/$t") ;;
        esac
    done
    ninja -C "$BUILD" "${targets[@]}"
fi

# UBSan only prints by default; halt so that the test fails. LeakSanitizer
# is on (ASan's default).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
rm -f "$BUILD/meson-logs/testlog.json"
if [ ${#tests[@]} -eq 0 ]; then
    meson test -C "$BUILD" --no-rebuild --print-errorlogs --suite unit
else
    meson test -C "$BUILD" --no-rebuild --print-errorlogs "${tests[@]}"
fi
