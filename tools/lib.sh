# shellcheck shell=bash
# Shell functions shared by tools/demo.sh, tools/test.sh, .ci/run and the
# integration tests. Source it from bash; it sets no shell options itself.
#
# Variables a caller may set before sourcing:
#   FP6_BUILD_DIR  meson build directory (default: <repo>/build)
#   FP6D, FP6CTL   paths of the daemon and the client (default: in the build dir)

FP6_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FP6_BUILD_DIR=${FP6_BUILD_DIR:-$FP6_ROOT/build}
FP6D=${FP6D:-$FP6_BUILD_DIR/control/fp6d}
FP6CTL=${FP6CTL:-$FP6_BUILD_DIR/tools/fp6ctl}

# What fp6_cleanup undoes, in this order: daemons first, then
# namespaces (deleting one also deletes the veth ends inside it), then the
# outer veth ends left in the root namespace, then files.
FP6_CLEAN_PIDS=()
FP6_CLEAN_NETNS=()
FP6_CLEAN_LINKS=()
FP6_CLEAN_PATHS=()
FP6_CLEAN_RMDIRS=()
FP6_CLEAN_TRAPPED=0

fp6_log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

fp6_die() {
    fp6_log "error: $*"
    exit 1
}

# fp6_need_root: fail unless the shell runs as root.
fp6_need_root() {
    [ "$(id -u)" -eq 0 ] || fp6_die "must run as root (namespaces, veth pairs, hugepages)"
}

# fp6_free_hugepages: number of free 2 MB hugepages (0 when unknown).
fp6_free_hugepages() {
    local n
    n=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo 2>/dev/null)
    local size
    size=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo 2>/dev/null)
    if [ "${size:-0}" != 2048 ]; then
        echo 0
        return
    fi
    echo "${n:-0}"
}

# fp6_eal_args PREFIX: EAL arguments for one fp6 process. PREFIX names its
# runtime directory (/var/run/dpdk/PREFIX, where the telemetry socket lives),
# so that processes started at the same time do not collide. With at least
# 256 free 2 MB hugepages EAL uses them through --in-memory (no files left
# in hugetlbfs). Without, it runs on ordinary memory: --no-huge -m 512, and
# --no-shconf instead of --in-memory, which EAL 22.11 refuses beside
# --no-huge ("--legacy-mem is not compatible with --in-memory").
fp6_eal_args() {
    local prefix=${1:?fp6_eal_args: PREFIX missing}
    if [ "$(fp6_free_hugepages)" -ge 256 ]; then
        echo "--file-prefix $prefix --in-memory --no-pci"
    else
        echo "--file-prefix $prefix --no-shconf --no-huge -m 512 --no-pci"
    fi
}

# fp6_clean_eal PREFIX: remove EAL's runtime directory for PREFIX on cleanup
# (EAL leaves it behind, telemetry socket included).
fp6_clean_eal() {
    fp6_trap_cleanup
    FP6_CLEAN_PATHS+=("/var/run/dpdk/$1")
    FP6_CLEAN_RMDIRS+=("/var/run/dpdk")
}

# fp6_last_cpu: the highest CPU this process may run on.
fp6_last_cpu() {
    local list
    list=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
    echo "${list##*[-,]}"
}

# fp6_wait_ready SOCKET TIMEOUT: wait until fp6d answers `port show` on
# SOCKET; give up after TIMEOUT seconds, or at once if the daemon started by
# fp6_start_daemon has exited. Returns 0 when ready.
fp6_wait_ready() {
    local sock=${1:?fp6_wait_ready: SOCKET missing}
    local timeout=${2:-30}
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if "$FP6CTL" --socket "$sock" port show >/dev/null 2>&1; then
            return 0
        fi
        if [ -n "${FP6_DAEMON_PID:-}" ] && ! kill -0 "$FP6_DAEMON_PID" 2>/dev/null; then
            fp6_log "fp6d (pid $FP6_DAEMON_PID) exited before it was ready"
            return 1
        fi
        sleep 0.2
    done
    fp6_log "fp6d did not answer on $sock within ${timeout}s"
    return 1
}

# fp6_addr_states: read `fp6ctl -j addr show` JSON on stdin and print one
# line per address: IFNAME ADDR PLEN SCOPE STATE, where STATE is "usable",
# "tentative" (duplicate address detection still running, or the port not
# operational) or "dadfailed". A flag left out of the JSON counts as false.
fp6_addr_states() {
    /usr/bin/python3 -c '
import json, sys

try:
    doc = json.load(sys.stdin)
except ValueError as e:
    sys.exit("fp6_addr_states: addresses are not JSON: %s" % e)
for port in doc:
    for a in port.get("addr_info", []):
        if a.get("dadfailed") is True:
            state = "dadfailed"
        elif a.get("tentative") is True:
            state = "tentative"
        else:
            state = "usable"
        print(port.get("ifname"), a.get("local"), a.get("prefixlen"),
              a.get("scope"), state)
'
}

# fp6_wait_dad SOCKET TIMEOUT: wait until duplicate address detection has
# finished for every address of fp6d on SOCKET (none tentative), polling
# `fp6ctl -j addr show`. Returns 0 when every address is usable. Fails,
# printing the addresses, when one is dadfailed (it stays so), when TIMEOUT
# seconds (default 10) pass with one still tentative, or at once if the
# daemon started by fp6_start_daemon has exited.
fp6_wait_dad() {
    local sock=${1:?fp6_wait_dad: SOCKET missing}
    local timeout=${2:-10}
    local deadline=$((SECONDS + timeout)) out states
    while :; do
        # out: what the last poll saw, for the message if it is the last.
        if out=$("$FP6CTL" --socket "$sock" -j addr show 2>&1) &&
            states=$(fp6_addr_states <<<"$out" 2>&1); then
            out=$states
            if grep -q ' dadfailed$' <<<"$states"; then
                fp6_log "duplicate address detection failed on $sock:"
                printf '%s\n' "$states" >&2
                return 1
            fi
            if ! grep -q ' tentative$' <<<"$states"; then
                return 0
            fi
        fi
        if [ -n "${FP6_DAEMON_PID:-}" ] && ! kill -0 "$FP6_DAEMON_PID" 2>/dev/null; then
            fp6_log "fp6d (pid $FP6_DAEMON_PID) exited during duplicate address detection"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            fp6_log "addresses on $sock still tentative after ${timeout}s:"
            printf '%s\n' "$out" >&2
            return 1
        fi
        sleep 0.2
    done
}

# fp6_start_daemon LOGFILE ARGS...: start "$FP6D" ARGS... in the background,
# its stderr and stdout into LOGFILE; sets FP6_DAEMON_PID. fp6_cleanup stops
# it with SIGTERM and waits for it.
fp6_start_daemon() {
    local log=${1:?fp6_start_daemon: LOGFILE missing}
    shift
    fp6_trap_cleanup
    "$FP6D" "$@" >"$log" 2>&1 </dev/null &
    FP6_DAEMON_PID=$!
    FP6_CLEAN_PIDS+=("$FP6_DAEMON_PID")
}

# fp6_stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL. Returns the
# exit status of PID (a child of this shell), 0 if it was already reaped.
fp6_stop_pid() {
    local pid=$1 i status=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        fp6_log "pid $pid ignored SIGTERM for 10s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || status=$?
    return "$status"
}

# fp6_stop_daemon: stop the daemon of fp6_start_daemon now (SIGTERM, then
# SIGKILL after 10 s); returns its exit status.
fp6_stop_daemon() {
    local pid=${FP6_DAEMON_PID:?fp6_stop_daemon: no daemon started} i
    for i in "${!FP6_CLEAN_PIDS[@]}"; do
        [ "${FP6_CLEAN_PIDS[i]}" = "$pid" ] && unset 'FP6_CLEAN_PIDS[i]'
    done
    FP6_CLEAN_PIDS=("${FP6_CLEAN_PIDS[@]}")
    FP6_DAEMON_PID=
    fp6_stop_pid "$pid"
}

# fp6_cleanup: remove everything registered by the functions of this file.
# Safe to call more than once.
fp6_cleanup() {
    local i
    for ((i = ${#FP6_CLEAN_PIDS[@]} - 1; i >= 0; i--)); do
        fp6_stop_pid "${FP6_CLEAN_PIDS[i]}" || true
    done
    FP6_CLEAN_PIDS=()
    for ((i = ${#FP6_CLEAN_NETNS[@]} - 1; i >= 0; i--)); do
        ip netns del "${FP6_CLEAN_NETNS[i]}" 2>/dev/null || true
    done
    FP6_CLEAN_NETNS=()
    for ((i = ${#FP6_CLEAN_LINKS[@]} - 1; i >= 0; i--)); do
        if ip link show dev "${FP6_CLEAN_LINKS[i]}" >/dev/null 2>&1; then
            ip link del dev "${FP6_CLEAN_LINKS[i]}" 2>/dev/null || true
        fi
    done
    FP6_CLEAN_LINKS=()
    for ((i = ${#FP6_CLEAN_PATHS[@]} - 1; i >= 0; i--)); do
        rm -rf -- "${FP6_CLEAN_PATHS[i]}" || true
    done
    FP6_CLEAN_PATHS=()
    for ((i = ${#FP6_CLEAN_RMDIRS[@]} - 1; i >= 0; i--)); do
        rmdir -- "${FP6_CLEAN_RMDIRS[i]}" 2>/dev/null || true
    done
    FP6_CLEAN_RMDIRS=()
    return 0
}

# fp6_trap_cleanup: run fp6_cleanup when the script exits, fails or is
# interrupted. Keeps the script's exit status; Ctrl-C exits 130, SIGTERM 143.
fp6_trap_cleanup() {
    [ "$FP6_CLEAN_TRAPPED" -eq 1 ] && return 0
    FP6_CLEAN_TRAPPED=1
    trap 'fp6_cleanup' EXIT
    trap 'fp6_cleanup; trap - EXIT; exit 130' INT
    trap 'fp6_cleanup; trap - EXIT; exit 143' TERM
    trap 'fp6_cleanup; trap - EXIT; exit 129' HUP
}

# fp6_tmpdir DIR: create DIR (mode 700) and remove it on cleanup, with its
# parent when that is left empty.
fp6_tmpdir() {
    local parent
    parent=$(dirname "$1")
    fp6_trap_cleanup
    if [ ! -d "$parent" ]; then
        mkdir -p "$parent"
    fi
    FP6_CLEAN_RMDIRS+=("$parent")
    mkdir -m 700 "$1"
    FP6_CLEAN_PATHS+=("$1")
}

# fp6_mac IFACE [NS]: MAC address of IFACE (in namespace NS when given).
fp6_mac() {
    if [ -n "${2:-}" ]; then
        ip netns exec "$2" cat "/sys/class/net/$1/address"
    else
        cat "/sys/class/net/$1/address"
    fi
}

# fp6_host_ns NS VETH_OUT VETH_IN ADDR/PLEN GW: make a Linux host for fp6 to
# route to. Creates namespace NS and a veth pair; VETH_IN goes into NS with
# ADDR (no DAD) and a default route via GW, VETH_OUT stays in the root
# namespace for an af_packet port. The host has no static neighbour entry:
# it finds GW (fp6's address) with neighbour discovery, which fp6 answers
# once GW has passed its duplicate address detection (fp6_wait_dad).
# Everything is removed by fp6_cleanup.
#
# Hygiene a real peer needs:
#  - IPv6 off on VETH_OUT, or the root namespace's kernel answers ND and
#    echo requests with the same MAC as fp6's port;
#  - tx checksum offload off on VETH_IN, or the host sends packets whose
#    checksums are left for a NIC to fill in, and fp6 sees them wrong;
#  - nodad, so the address is usable at once (not tentative).
fp6_host_ns() {
    local ns=${1:?} out=${2:?} in=${3:?} addr=${4:?} gw=${5:?}
    fp6_trap_cleanup
    # A run killed with SIGKILL leaves its namespace and veth behind; the
    # names are this script's own, so clear them.
    ip netns del "$ns" 2>/dev/null || true
    ip link del dev "$out" 2>/dev/null || true

    ip netns add "$ns" || return 1
    FP6_CLEAN_NETNS+=("$ns")
    ip link add "$out" type veth peer name "$in" netns "$ns" || return 1
    FP6_CLEAN_LINKS+=("$out")

    sysctl -q -w "net.ipv6.conf.$out.disable_ipv6=1" || return 1
    ip link set dev "$out" up || return 1

    ip netns exec "$ns" ip link set dev lo up || return 1
    ip netns exec "$ns" ethtool -K "$in" tx off >/dev/null || return 1
    ip netns exec "$ns" ip link set dev "$in" up || return 1
    ip netns exec "$ns" ip -6 addr add "$addr" dev "$in" nodad || return 1
    ip netns exec "$ns" ip -6 route add default via "$gw" dev "$in" || return 1
}

# fp6_stat KEY: read `fp6ctl -j stats show` JSON on stdin and print the sum
# of every number whose key path ends with KEY ("forwarded",
# "drops.no_route"). Lists are looked through; a key that itself contains
# dots matches the same way. Prints 0 when nothing matches.
fp6_stat() {
    /usr/bin/python3 -c '
import json, sys

want = sys.argv[1].split(".")
total = 0

def walk(node, path):
    global total
    if isinstance(node, dict):
        for k, v in node.items():
            walk(v, path + str(k).split("."))
    elif isinstance(node, list):
        for v in node:
            walk(v, path)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        if path[-len(want):] == want:
            total += node

try:
    doc = json.load(sys.stdin)
except ValueError as e:
    sys.exit("fp6_stat: stats are not JSON: %s" % e)
walk(doc, [])
print(int(total))
' "$1"
}
