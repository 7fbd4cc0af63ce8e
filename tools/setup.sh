#!/usr/bin/env bash
# Make this machine able to build, test and demo fp6 (Debian 12, as root):
# install the missing packages, reserve hugepages where it can, configure and
# build the meson build directory. Safe to run again: it only does what is
# missing.
#
# Environment: FP6_BUILD_DIR (default <repo>/build), FP6_HUGEPAGES (number of
# 2 MB pages to reserve, default 512; 0 leaves them alone).
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    build-essential meson ninja-build pkg-config
    libdpdk-dev dpdk
    liburcu-dev libabsl-dev libgtest-dev googletest nlohmann-json3-dev
    libcli11-dev libfmt-dev libedit-dev libmnl-dev
    # the man pages' test renders them; the service test verifies the unit
    groff-base systemd
    python3 python3-scapy python3-prometheus-client
    iputils-ping ethtool iproute2 tcpdump traceroute
    clang
    # tools/bench.sh (its --quick run is a test): dpdk-testpmd, l3fwd's
    # sources; the plots are optional (skipped without gnuplot)
    dpdk-dev dpdk-doc gnuplot-nox valgrind
)

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        fp6_die "missing packages: ${missing[*]}; run this script as root to install them"
    fi
    fp6_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
}

# Hugepages are an optimisation: fp6_eal_args falls back to --no-huge when
# fewer than 256 are free, so nothing here may fail the script.
reserve_hugepages() {
    local want=${FP6_HUGEPAGES:-512}
    local nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
    [ "$want" -gt 0 ] || return 0
    if [ "$(id -u)" -ne 0 ] || [ ! -w "$nr" ]; then
        fp6_log "note: cannot reserve hugepages here; fp6 will run with --no-huge"
        return 0
    fi
    if [ "$(cat "$nr")" -lt "$want" ]; then
        if ! echo "$want" >"$nr" 2>/dev/null; then
            fp6_log "note: writing $nr failed; fp6 will run with --no-huge"
        fi
        fp6_log "2 MB hugepages reserved: $(cat "$nr") (asked for $want)"
    fi
    if ! awk '$2 == "/dev/hugepages" && $3 == "hugetlbfs" { found = 1 } END { exit !found }' \
        /proc/mounts; then
        mkdir -p /dev/hugepages 2>/dev/null || true
        if ! mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null; then
            fp6_log "note: mounting hugetlbfs at /dev/hugepages failed"
        fi
    fi
    return 0
}

build() {
    if [ ! -f "$FP6_BUILD_DIR/meson-private/coredata.dat" ]; then
        meson setup "$FP6_BUILD_DIR" "$FP6_ROOT"
    fi
    ninja -C "$FP6_BUILD_DIR"
}

install_packages
reserve_hugepages
build
