#!/usr/bin/env bash
# Build fp6 and run every test: the unit suites in parallel, the integration
# suite (namespaces, needs root) one test at a time. Ends with a line
# "N passed, N failed" (", N skipped" when some were skipped) and exits
# non-zero when a test failed. Runs unattended (CI=true, no tty) as root on a
# fresh Debian 12 clone: tools/setup.sh installs what is missing first.
#
# Without arguments it also builds and runs the fast unit tests under ASan
# and UBSan (tools/sanitize.sh; FP6_SANITIZE=0 skips them), counted in the
# same closing line.
#
# Extra arguments go to `meson test`, e.g. `tools/test.sh --suite unit` or
# `tools/test.sh ip6_test`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"

# A failed set-up or build is one failure: say so in the closing line.
if ! "$HERE/setup.sh" </dev/null || ! ninja -C "$FP6_BUILD_DIR"; then
    echo "set-up or build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

testlog=$FP6_BUILD_DIR/meson-logs/testlog.json
rm -f "$testlog"
rc=0
meson test -C "$FP6_BUILD_DIR" --print-errorlogs "$@" </dev/null || rc=$?

# A full run (no arguments) also runs the fast unit tests under ASan and
# UBSan (tools/sanitize.sh, its own build); FP6_SANITIZE=0 leaves them out.
# Their results count in the closing line; a sanitizer build that fails
# counts as one failure.
san_logs=()
san_rc=0
san_build_failed=0
if [ $# -eq 0 ] && [ "${FP6_SANITIZE:-1}" != 0 ]; then
    export FP6_SAN_BUILD_DIR=${FP6_SAN_BUILD_DIR:-$FP6_ROOT/build-san}
    san_logs=("$FP6_SAN_BUILD_DIR/meson-logs/testlog.json")
    echo "sanitizer tests (tools/sanitize.sh):"
    "$HERE/sanitize.sh" </dev/null || san_rc=$?
    if [ "$san_rc" -ne 0 ] && [ ! -s "${san_logs[0]}" ]; then
        echo "sanitizer build failed"
        san_build_failed=1
    fi
fi

# testlog.json holds one JSON object per test run, each with a "result".
read -r passed failed skipped < <(
    /usr/bin/python3 - "$testlog" "${san_logs[@]}" <<'PY'
import json, sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                result = json.loads(line).get("result", "")
                if result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except FileNotFoundError:
        pass
print(passed, failed, skipped)
PY
)
failed=$((failed + san_build_failed))

# meson failing without a failed test in the log (a build error, a bad
# option) still counts as a failure.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "meson test exited with status $rc"
    failed=1
fi

summary="$passed passed, $failed failed"
if [ "$skipped" -gt 0 ]; then
    summary="$summary, $skipped skipped"
fi
echo "$summary"
[ "$failed" -eq 0 ]
