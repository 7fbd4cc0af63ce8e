#!/usr/bin/env bash
# tools/bench.sh --quick as a test: the benchmark runs end to end and
# produces every figure (report.py check), whatever their size.
#
# Usage: bench_quick_test.sh FP6D FP6CTL TSC_HZ (meson passes the built ones)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export FP6D=${1:?FP6D missing} FP6CTL=${2:?FP6CTL missing} TSC_HZ_BIN=${3:?TSC_HZ missing}
FP6_BUILD_DIR=$(cd "$(dirname "$FP6D")/.." && pwd)
export FP6_BUILD_DIR
# shellcheck source=tools/lib.sh
. "$HERE/../../tools/lib.sh"
# shellcheck source=test/integration/harness.sh
. "$HERE/../integration/harness.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (DPDK, hugepages)"
command -v dpdk-testpmd >/dev/null || skip "dpdk-testpmd is missing (Debian's dpdk-dev)"
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing"

out=$(mktemp -d /tmp/fp6-bench-quick.XXXXXX)
trap 'rm -rf "$out"' EXIT
t0=$SECONDS
"$HERE/../../tools/bench.sh" --quick --out "$out" >"$out/log" 2>&1
rc=$?
cat "$out/log"
check "bench.sh --quick exits 0 (every figure produced)" test "$rc" -eq 0
check "the forwarding table names testpmd and fp6d" \
    grep -q "fp6d, 1 worker" "$out/summary.txt"
check "the load phase counted its packets" grep -q "^loss: " "$out/summary.txt"
note "took $((SECONDS - t0)) s"
summary
[ "$failed" -eq 0 ]
