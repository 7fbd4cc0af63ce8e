# Sourced by the integration tests, with the script's arguments: the
# binaries meson passes (FP6D FP6CTL, when given), tools/lib.sh (unless the
# script sourced it already), the verdict of each check as an "ok - " /
# "not ok - " line, detail lines under it, the plain closing line
# "N passed, N failed", and the skip exit (77) meson knows.
# shellcheck shell=bash

if [ $# -ge 2 ]; then
    FP6D=$(realpath "$1")
    FP6CTL=$(realpath "$2")
fi
if ! declare -F fp6_cleanup >/dev/null; then
    # shellcheck source=tools/lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib.sh"
fi

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

# note TEXT...: details under the check that follows, "  # " before each
# line of each TEXT; empty TEXTs print nothing.
note() {
    local text line
    for text in "$@"; do
        [ -n "$text" ] || continue
        while IFS= read -r line; do
            echo "  # $line"
        done <<<"$text"
    done
}

summary() {
    echo "$passed passed, $failed failed"
}

# need_netns: skip unless this runs as root where network namespaces can be
# made (the tests' hosts live in them).
need_netns() {
    [ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces and veth pairs"
    ip netns list >/dev/null 2>&1 || skip "'ip netns' is not available"
    local probe=fp6-probe-$$
    ip netns add "$probe" 2>/dev/null || skip "cannot create a network namespace here"
    ip netns del "$probe"
}

# need_tools TOOL...: every tool is installed and fp6d and fp6ctl are built.
need_tools() {
    local tool bin
    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            fp6_die "$tool is missing: run tools/setup.sh (it installs it)"
    done
    for bin in "$FP6D" "$FP6CTL"; do
        [ -x "$bin" ] || fp6_die "$bin is not built"
    done
}

# daemon_dirs TAG: what a test that starts fp6d needs around it: a run
# directory /run/TAG/PID with the control socket in it, an EAL file prefix
# TAG-PID and its arguments, both removed at exit, and the CPU for the
# worker. Sets run_dir, sock, prefix, eal (an array) and worker.
# shellcheck disable=SC2034
daemon_dirs() {
    run_dir=/run/$1/$$
    fp6_tmpdir "$run_dir"
    sock=$run_dir/fp6d.sock
    prefix=$1-$$
    read -ra eal <<<"$(fp6_eal_args "$prefix")"
    fp6_clean_eal "$prefix"
    worker=$(fp6_last_cpu)
}
