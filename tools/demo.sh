#!/usr/bin/env bash
# fp6 demo: two Linux hosts in network namespaces, one on each side of fp6.
#
#   fp6demo-a                      fp6d                       fp6demo-b
#   2001:db8:a::2/64 --veth-- pa 2001:db8:a::1  pb 2001:db8:b::1 --veth-- 2001:db8:b::2/64
#
# Host A pings host B through fp6; the script prints the result, fp6's ports
# and counters, then removes everything it made. Exit status 0 when the ping
# got replies. Run as root on Debian 12; it installs and builds what is
# missing first (tools/setup.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/lib.sh"
fp6_need_root
"$HERE/setup.sh"
fp6_trap_cleanup

run_dir=/run/fp6demo/$$
fp6_tmpdir "$run_dir"
sock=$run_dir/fp6d.sock
config=$run_dir/fp6d.conf
log=$run_dir/fp6d.log

echo "== creating hosts fp6demo-a and fp6demo-b"
fp6_host_ns fp6demo-a fp6demo-a-out fp6demo-a-in 2001:db8:a::2/64 2001:db8:a::1
fp6_host_ns fp6demo-b fp6demo-b-out fp6demo-b-in 2001:db8:b::2/64 2001:db8:b::1

# The hosts find fp6's addresses with neighbour discovery (fp6 answers their
# solicitations once duplicate address detection has passed); fp6 does not
# resolve neighbours itself yet, so its entries for the hosts are static.
cat >"$config" <<EOF
port add pa devargs net_af_packet0,iface=fp6demo-a-out
port add pb devargs net_af_packet1,iface=fp6demo-b-out
port set pa up
port set pb up
addr add 2001:db8:a::1/64 dev pa
addr add 2001:db8:b::1/64 dev pb
neigh add 2001:db8:a::2 lladdr $(fp6_mac fp6demo-a-in fp6demo-a) dev pa
neigh add 2001:db8:b::2 lladdr $(fp6_mac fp6demo-b-in fp6demo-b) dev pb
EOF
echo "== fp6d startup config ($config)"
cat "$config"

read -ra eal <<<"$(fp6_eal_args fp6demo)"
fp6_clean_eal fp6demo
cpu=$(fp6_last_cpu)
echo "== starting fp6d on CPU $cpu (EAL: ${eal[*]})"
fp6_start_daemon "$log" --config "$config" --socket "$sock" \
    --workers "$cpu" --idle-sleep 100 -- "${eal[@]}"
if ! fp6_wait_ready "$sock" 60; then
    echo "== fp6d log ($log)"
    cat "$log"
    exit 1
fi
echo "== waiting for fp6's duplicate address detection"
if ! fp6_wait_dad "$sock" 10; then
    echo "== fp6d log ($log)"
    cat "$log"
    exit 1
fi
echo "== fp6ctl addr show"
"$FP6CTL" --socket "$sock" addr show || true

echo "== ping from fp6demo-a (2001:db8:a::2) to fp6demo-b (2001:db8:b::2)"
rc=0
ip netns exec fp6demo-a ping -6 -c 5 -i 0.2 -W 2 2001:db8:b::2 || rc=$?

echo "== fp6ctl port show"
"$FP6CTL" --socket "$sock" port show || true
echo "== fp6ctl stats show"
"$FP6CTL" --socket "$sock" stats show || true

if [ "$rc" -eq 0 ]; then
    echo "== demo passed: host A reached host B through fp6"
else
    echo "== demo FAILED: no replies (ping exit status $rc); fp6d log follows"
    cat "$log"
fi
exit "$rc"
