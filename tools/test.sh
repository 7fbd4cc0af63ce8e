#!/usr/bin/env bash
# Build fp6 and run every test: the unit suites in parallel, the integration
# suite (namespaces, needs root) one test at a time. Ends with a line
# "N passed, N failed" (", N skipped" when some were skipped) and exits
# non-zero when a test failed. Runs unattended (CI=true, no tty) as root on a
# fresh Debian 12 clone: tools/setup.sh installs what is missing first.
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

# testlog.json holds one JSON object per test run, each with a "result".
read -r passed failed skipped < <(
    /usr/bin/python3 - "$testlog" <<'PY'
import json, sys

passed = failed = skipped = 0
try:
    with open(sys.argv[1]) as f:
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
