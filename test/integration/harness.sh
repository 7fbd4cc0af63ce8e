# Sourced by the integration tests after tools/lib.sh: the verdict of each
# check as an "ok - " / "not ok - " line, detail lines under it, the plain
# closing line "N passed, N failed", and the skip exit (77) meson knows.
# shellcheck shell=bash

passed=0
failed=0

# skip REASON: the test cannot run here (not root, no namespaces).
skip() {
    echo "SKIP: $*"
    exit 77
}

# check NAME COMMAND...: run one check, print its verdict.
check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok - $name"
        passed=$((passed + 1))
    else
        echo "not ok - $name"
        failed=$((failed + 1))
    fi
}

# note TEXT...: a detail line under the check that follows.
note() {
    echo "  # $*"
}

summary() {
    echo "$passed passed, $failed failed"
}
