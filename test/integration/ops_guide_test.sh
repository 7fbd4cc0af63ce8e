#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# docs/operations.md cannot rot: its startup config and every fp6ctl and fp6d
# line of its ```sh blocks run against a daemon on net_null ports, as the
# comment at the top of the guide describes.
#
# Checks:
#  1. The guide has a startup config block and commands to run, and every
#     block it does not run says why (guide-test: skip REASON).
#  2. fp6d starts with the guide's startup config (devargs made net_null).
#  3. Each fp6ctl / fp6d line, in the guide's order, exits 0; fp6d only for
#     --check-config, --version or --help (a line that would start a second
#     daemon must sit in a skipped block).
#
# Usage: ops_guide_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

daemon_dirs cl-ops
guide=$FP6_ROOT/docs/operations.md

# extract: write the guide's file blocks under $run_dir (with /etc/fp6 moved
# and devargs made net_null) and print the plan, one line each:
#   file PATH          a file written (its new path)
#   run WORDS...       a command line to run, already rewritten
#   skip LINE: REASON  a block not run
#   bad LINE: MESSAGE  a block the guide's rules do not allow
extract() {
    /usr/bin/python3 - "$guide" "$run_dir" <<'EOF'
import os, re, sys
guide, scratch = sys.argv[1:3]
devargs = {}

def rewrite(text):
    text = text.replace("/etc/fp6", scratch + "/etc/fp6")
    def net_null(m):
        n = devargs.setdefault(m.group(1), len(devargs))
        return "devargs net_null%d,no-rx=1" % n
    return re.sub(r"devargs (\S+)", net_null, text)

marker = None  # ("skip", reason) or ("file", path) for the next block
block = None   # (kind, first line number, lines)
for no, line in enumerate(open(guide, encoding="utf-8"), 1):
    line = line.rstrip("\n")
    if block is None:
        m = re.match(r"<!-- guide-test: (skip|file) (.*?)\s*-->", line)
        if m:
            marker = (m.group(1), m.group(2))
            continue
        m = re.match(r"```(\S*)", line)
        if m:
            block = (m.group(1), no, [])
        continue
    if not line.startswith("```"):
        block[2].append(line)
        continue
    kind, first, lines = block
    block = None
    if marker and marker[0] == "skip":
        print("skip %d: %s" % (first, marker[1]))
    elif marker and marker[0] == "file":
        path = rewrite(marker[1])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(rewrite("\n".join(lines) + "\n"))
        print("file %s" % path)
    elif kind == "sh":
        for i, l in enumerate(lines):
            words = l.split()
            if words and words[0] in ("fp6ctl", "fp6d"):
                print("run %d %s" % (first + 1 + i, rewrite(l)))
    elif kind == "" and any(re.match(r"\s*(fp6ctl|fp6d)\s", l) for l in lines):
        print("bad %d: an unmarked block holds fp6ctl/fp6d lines: make it sh or skip it" % first)
    marker = None
EOF
}
plan=$(extract) || { echo "not ok - the guide could not be read"; failed=$((failed + 1)); exit 1; }

# --- 1. the plan ---------------------------------------------------------------

conf=$(awk '$1 == "file" && $2 ~ /\.conf$/ { print $2; exit }' <<<"$plan")
plan_is_sound() {
    note "$(grep -c '^run ' <<<"$plan") lines to run, $(grep -c '^skip ' <<<"$plan") blocks skipped:"
    note "$(grep '^skip ' <<<"$plan")"
    [ -n "$conf" ] || { note "no startup config (guide-test: file ....conf) block"; return 1; }
    [ "$(grep -c '^run ' <<<"$plan")" -ge 10 ] || { note "fewer than 10 lines to run"; return 1; }
    if grep -q '^bad ' <<<"$plan"; then
        note "$(grep '^bad ' <<<"$plan")"
        return 1
    fi
    # A skipped block says why.
    ! grep -qE '^skip [0-9]+: *$' <<<"$plan"
}
check "the guide has a startup config, lines to run, and a reason for each block skipped" \
    plan_is_sound

# --- 2. the daemon, from the guide's config ----------------------------------------

fp6_start_daemon "$run_dir/fp6d.log" --config "$conf" --socket "$sock" --workers "$worker" \
    --idle-sleep 1000 -- "${eal[@]}"
started() {
    fp6_wait_ready "$sock" 30 || { note "$(tail -n 5 "$run_dir/fp6d.log")"; return 1; }
}
check "fp6d starts with the guide's startup config" started || exit 1

# --- 3. every line ---------------------------------------------------------------

# run_line NO WORDS...: run one line of the guide (NO: its line number).
run_line() {
    local no=$1 out rc=0
    shift
    case "$1" in
    fp6ctl) out=$("$FP6CTL" --socket "$sock" --timeout 10 "${@:2}" 2>&1 </dev/null) || rc=$? ;;
    fp6d)
        case "${2:-}" in
        --check-config | --version | --help) out=$("$FP6D" "${@:2}" 2>&1 </dev/null) || rc=$? ;;
        *)
            note "line $no would start a second fp6d: put its block under guide-test: skip"
            return 1
            ;;
        esac
        ;;
    esac
    note "$(head -n 4 <<<"$out")"
    [ "$rc" -eq 0 ] || { note "exit status $rc"; return 1; }
}

while read -r kind no words; do
    [ "$kind" = run ] || continue
    read -ra argv <<<"$words"
    check "docs/operations.md:$no: $words" run_line "$no" "${argv[@]}"
done <<<"$plan"

[ "$failed" -eq 0 ]
