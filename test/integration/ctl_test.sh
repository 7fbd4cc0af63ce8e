#!/usr/bin/env bash
# The checks are functions called through check(); shellcheck cannot see that.
# shellcheck disable=SC2317
# fp6ctl as a whole against one fp6d on net_null ports (no namespaces).
#
# Checks:
#  1. Every option of `fp6d --help` and `fp6ctl --help` is in its man page.
#  2. Exit codes for every command of the grammar (from `fp6ctl --help`): 1
#     when a word is added that it cannot take, 3 when fp6d cannot be
#     reached; with -j the error is also {"error"} on stdout. 2 and its
#     one-line reason for a refusal.
#  3. -x echoes each command of a -f file to stderr, "+ COMMAND", before its
#     output; -h prints counters with SI suffixes (3 significant digits)
#     where the plain table prints the number.
#  4. The prompt through a pseudo-terminal (pty_prompt.py): help, ?, TAB
#     completion of words and of live port names and addresses, errors,
#     exit code, history file.
#  5. Bash completion (tools/completion/fp6ctl.bash) in a bash with
#     COMP_LINE set: command words, live port names, an address (bash's
#     split at ':'), nexthop groups.
#  6. Every command's -j output walked (cli_keys.py): exit 0, and the keys
#     as the ```keys blocks of docs/cli.md list them.
#
# Usage: ctl_test.sh [FP6D FP6CTL]   (meson passes the built binaries)
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/integration/harness.sh
. "$HERE/harness.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip "needs root for DPDK (hugepages, /var/run/dpdk)"
need_tools /usr/bin/python3

fp6_trap_cleanup
trap 'fp6_cleanup; summary' EXIT

daemon_dirs cl-ctl
man_dir=$FP6_ROOT/docs/man

ctl() { "$FP6CTL" --socket "$sock" --timeout 10 "$@"; }

# --- 1. man pages: options ----------------------------------------------------

# options_in_page HELP_TEXT PAGE: every --long option (and -x short one) of
# HELP_TEXT appears in the rendered PAGE.
options_in_page() {
    local help=$1 page=$2 text opt missing=()
    text=$(groff -man -Tascii -P-cbou -rLL=400n "$page" 2>&1)
    for opt in $(grep -oE '(^|[ [,])--?[a-z][a-z-]*' <<<"$help" | tr -d ' [,' | sort -u); do
        [ "$opt" = "--" ] && continue
        grep -qF -- "$opt" <<<"$text" || missing+=("$opt")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    note "missing in $page: ${missing[*]}"
    return 1
}
check "every option of fp6d --help is in fp6d.8" \
    options_in_page "$("$FP6D" --help)" "$man_dir/fp6d.8"
check "every option of fp6ctl --help is in fp6ctl.8" \
    options_in_page "$("$FP6CTL" --help | sed '/^Commands:/,$d')" "$man_dir/fp6ctl.8"

# --- the daemon ---------------------------------------------------------------

cat >"$run_dir/startup.conf" <<'EOF'
port add n0 devargs net_null0,no-rx=1
port add n1 devargs net_null1,no-rx=1
port set n0 up
port set n1 up
addr add 2001:db8:1::1/64 dev n0
EOF
fp6_start_daemon "$run_dir/fp6d.log" --config "$run_dir/startup.conf" --socket "$sock" \
    --workers "$worker" --idle-sleep 1000 -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 30; then
    echo "not ok - fp6d ready"
    cat "$run_dir/fp6d.log"
    failed=$((failed + 1))
    exit 1
fi

# --- 2. exit codes ------------------------------------------------------------

# The "OBJECT VERB" of every usage line of fp6ctl --help, and those of them
# that need an argument (a third word not in brackets).
mapfile -t commands < <("$FP6CTL" --help | sed '1,/^Commands:/d' |
    awk 'NF >= 2 && $1 ~ /^[a-z]/ { print $1, $2 }' | sort -u)
mapfile -t need_args < <("$FP6CTL" --help | sed '1,/^Commands:/d' |
    sed -E ':a; s/\[[^][]*\]//g; ta' | awk 'NF >= 3 && $1 ~ /^[a-z]/ { print $1, $2 }' | sort -u)

# codes_for_every_command: for each command, an extra word no command takes
# is a parse error (1) and an unreachable socket is 3, both with one
# "fp6ctl: " line on stderr and {"error"} on stdout with -j.
codes_for_every_command() {
    local cmd rc out err ok=0 words
    [ ${#commands[@]} -ge 20 ] || { note "only ${#commands[@]} commands in --help"; return 1; }
    for cmd in "${commands[@]}"; do
        read -ra words <<<"$cmd"
        out=$("$FP6CTL" --socket "$sock" -j "${words[@]}" 2001:db8::/64 zz-no-such-word \
            2>"$run_dir/err" </dev/null)
        rc=$?
        err=$(cat "$run_dir/err")
        if [ "$rc" -ne 1 ] || [[ $err != "fp6ctl: "* ]] || [[ $out != '{"error":'* ]]; then
            note "$cmd ... zz-no-such-word: exit $rc, stderr \"$err\", stdout \"$out\""
            ok=1
        fi
        out=$("$FP6CTL" --socket "$run_dir/cl-nosuch.sock" --timeout 1 -j "${words[@]}" \
            2>"$run_dir/err" </dev/null)
        rc=$?
        err=$(cat "$run_dir/err")
        # A command that parses without arguments reaches for the socket: 3;
        # one that needs arguments stops at parsing: 1.
        local want=3
        printf '%s\n' "${need_args[@]}" | grep -qxF "$cmd" && want=1
        if [ "$rc" -ne "$want" ] || [[ $out != '{"error":'* ]]; then
            note "$cmd with no fp6d: exit $rc, stderr \"$err\", stdout \"$out\""
            ok=1
        fi
        if [ "$rc" -eq 3 ] && [[ $err != *"cannot reach fp6d"* ]]; then
            note "$cmd with no fp6d: \"$err\" does not say it cannot reach fp6d"
            ok=1
        fi
    done
    note "${#commands[@]} commands"
    return "$ok"
}
check "every command: exit 1 for an unknown word; with no fp6d 3, or 1 when it lacks its arguments" \
    codes_for_every_command

# refusal WANT ARGS...: exit 2 and one stderr line holding WANT.
refusal() {
    local want=$1 rc err
    shift
    ctl "$@" >/dev/null 2>"$run_dir/err" </dev/null
    rc=$?
    err=$(cat "$run_dir/err")
    note "exit $rc: $err"
    [ "$rc" -eq 2 ] && [ "$(wc -l <"$run_dir/err")" -eq 1 ] && [[ $err == *"$want"* ]]
}
check "a refused port del: exit 2, fp6d's reason" refusal nosuch port del nosuch
check "a refused addr add: exit 2, fp6d's reason" refusal nosuch addr add 2001:db8:9::1/64 dev nosuch
check "a refused route del: exit 2, fp6d's reason" refusal 2001:db8:77:: route del 2001:db8:77::/48

# --- 3. -x and -h ---------------------------------------------------------------

cat >"$run_dir/echo.cmds" <<'EOF'
# comment lines are not commands
port show n0
   policy show   # trailing comment
EOF
echo_each_command() {
    local out
    out=$(ctl -x -f "$run_dir/echo.cmds" 2>&1 </dev/null) || { note "exit $?: $out"; return 1; }
    note "$(head -n 3 <<<"$out")"
    # The echo of a command comes before its output, and the next echo after.
    /usr/bin/python3 - "$out" <<'EOF'
import sys
lines = sys.argv[1].splitlines()
echoes = [i for i, l in enumerate(lines) if l.startswith("+ ")]
texts = [lines[i] for i in echoes]
ok = texts == ["+ port show n0", "+ policy show   # trailing comment"] or \
     texts == ["+ port show n0", "+ policy show"]
# port show's table (NAME ... n0) lies between the two echoes.
ok = ok and len(echoes) == 2 and any("n0" in l for l in lines[echoes[0] + 1:echoes[1]])
ok = ok and echoes[0] == 0 and echoes[1] < len(lines) - 1
sys.exit(0 if ok else 1)
EOF
}
check "-x -f FILE: \"+ COMMAND\" on stderr before each command's output" echo_each_command

no_echo_without_x() {
    local err
    err=$(ctl -f "$run_dir/echo.cmds" 2>&1 >/dev/null </dev/null)
    [ -z "$err" ] || { note "stderr: $err"; return 1; }
}
check "without -x nothing is echoed" no_echo_without_x

# A net_null port without no-rx=1 receives as fast as a worker polls: a
# moment up gives it millions of (invalid) packets to count. The counter
# keeps moving, so the tables are read between two JSON readings.
human_counters() {
    ctl port add n9 devargs net_null9 && ctl port set n9 up || return 1
    sleep 0.3
    local before plain human after
    before=$(ctl -j stats show) && plain=$(ctl stats show) && human=$(ctl -h stats show) &&
        after=$(ctl -j stats show) || return 1
    ctl port del n9
    /usr/bin/python3 - "$before" "$plain" "$human" "$after" <<'EOF'
import json, re, sys
def rx(doc):
    return next(p["rx_packets"] for p in json.loads(doc)["ports"] if p["ifname"] == "n9")
lo, hi = rx(sys.argv[1]), rx(sys.argv[4])

def cell(text):
    """The rx packets column of port n9's row (the second column)."""
    row = next((l for l in text.splitlines() if re.match(r"\s*n9\s", l)), "")
    print("    # " + row.strip())
    return row.split()[1] if len(row.split()) > 1 else ""

plain, human = cell(sys.argv[2]), cell(sys.argv[3])
print("    # rx_packets between %d and %d" % (lo, hi))
ok = lo >= 1000 and plain.isdigit() and lo <= int(plain) <= hi
# Three significant digits and an SI suffix: 1.23M, 12.3M, 123M.
m = re.fullmatch(r"(\d\.\d\d|\d\d\.\d|\d\d\d)([kMGTPE])", human)
if ok and m:
    value = float(m.group(1)) * 1000 ** ("kMGTPE".index(m.group(2)) + 1)
    # It rounds a count read between lo and hi: within half a unit of the
    # third digit.
    unit = 10 ** (len(str(int(value))) - 3)
    ok = lo - unit / 2 <= value <= hi + unit / 2
sys.exit(0 if ok and m else 1)
EOF
}
check "-h: a port's rx counter with an SI suffix where the plain table has the number" \
    human_counters

# --- 4. the prompt --------------------------------------------------------------

mkdir -p "$run_dir/home"
prompt_through_pty() {
    local out rc=0
    out=$(timeout 60 /usr/bin/python3 "$HERE/pty_prompt.py" "$FP6CTL" "$sock" "$run_dir/home" 2>&1) ||
        rc=$?
    note "$out"
    return "$rc"
}
check "the prompt (pty_prompt.py): help, ?, TAB, live names, errors, history" prompt_through_pty

no_prompt_without_tty() {
    local rc=0 out
    out=$(ctl 2>&1 </dev/null) || rc=$?
    note "exit $rc: $out"
    [ "$rc" -eq 1 ]
}
check "no command and no terminal: a usage error (exit 1), no prompt" no_prompt_without_tty

# --- 5. bash completion ---------------------------------------------------------

# bash_complete LINE: the candidates tools/completion/fp6ctl.bash gives for
# LINE (the cursor at its end), one a line.
bash_complete() {
    # shellcheck disable=SC2016
    bash --norc --noprofile -c '
        . "$1"
        COMP_LINE=$2
        COMP_POINT=${#COMP_LINE}
        _fp6ctl
        printf "%s\n" "${COMPREPLY[@]}"' _ "$FP6_ROOT/tools/completion/fp6ctl.bash" "$1"
}

# completes LINE WANT...: the candidates for LINE are exactly WANT.
completes() {
    local line=$1 got want
    shift
    got=$(bash_complete "$line" | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    note "\"$line\" -> $got"
    [ "$got" = "$want" ]
}
check "bash: the first word from the grammar" completes "$FP6CTL ro" route
check "bash: verbs of an object" completes "$FP6CTL neigh " add del flush show
check "bash: live port names after --socket S port set" \
    completes "$FP6CTL --socket $sock port set " n0 n1
check "bash: an address of fp6d's, past bash's split at ':'" \
    completes "$FP6CTL --socket $sock addr del 2001:db8:1::" 1/64
check "bash: a nexthop group's keywords" \
    completes "$FP6CTL route add default nexthop via fe80::1 " dev nexthop weight
check "bash: options" completes "$FP6CTL --ec" --echo

# --- 6. every command's -j keys -------------------------------------------------

cat >"$run_dir/routes.txt" <<'EOF'
2001:db8:200::/48 via 2001:db8:1::2
route add 2001:db8:201::/48 via 2001:db8:1::2
EOF
cat >"$run_dir/walk" <<EOF
port add w0 devargs net_null20,no-rx=1
port add w1 devargs net_null21,no-rx=1 mtu 9000
port add w2 devargs net_null22,no-rx=1 no-linklocal
port set w0 up dad-transmits 0
port set w1 up
port set w1 mtu 1500 dad-transmits 1 ra on interval 30
port show
port show w0
addr add 2001:db8:20::1/64 dev w0
addr add 2001:db8:21::1/64 dev w1 preferred-source
addr show
addr show dev w0
neigh add 2001:db8:20::2 lladdr 02:00:5e:00:53:20 dev w0
neigh add 2001:db8:21::2 lladdr 02:00:5e:00:53:21 dev w1 router
neigh show
neigh show dev w1
route add 2001:db8:100::/48 via 2001:db8:20::2 dev w0
route append 2001:db8:100::/48 via 2001:db8:21::2 dev w1
route replace 2001:db8:101::/48 nexthop via 2001:db8:20::2 dev w0 weight 2 nexthop via 2001:db8:21::2 dev w1
route add blackhole 2001:db8:dead::/48
route show
route show 2001:db8:100::/48
route get 2001:db8:100::1
route get 2001:db8:20::2 from 2001:db8:20::1
route del blackhole 2001:db8:dead::/48
route load $run_dir/routes.txt
route flush
neigh del 2001:db8:21::2 dev w1
neigh flush dev w0
stats show
stats reset
policy show
policy add 2001:db8:ff::/48 precedence 10 label 20
policy del 2001:db8:ff::/48
config show
show running-config
config save $run_dir/saved.conf
addr del 2001:db8:21::1/64 dev w1
port del w2
EOF
walk_keys() {
    local out rc=0
    out=$(/usr/bin/python3 "$HERE/cli_keys.py" "$FP6_ROOT/docs/cli.md" "$FP6CTL" "$sock" \
        "$run_dir/walk" 2>&1) || rc=$?
    note "$out"
    return "$rc"
}
check "every command's -j keys match docs/cli.md (cli_keys.py)" walk_keys

[ "$failed" -eq 0 ]
