#!/usr/bin/env bash
# Build DPDK's l3fwd example, the reference of tools/bench.sh, from the
# sources Debian's dpdk-doc ships (/usr/share/dpdk/examples/l3fwd) against
# the installed libdpdk, into DIR (default: <build dir>/bench/l3fwd). Prints
# the binary's path. Two changes to the sources, both needed to run it on
# net_pcap with a full IPv6 table, each checked to have applied:
#  - rx offloads are masked to what the device offers (l3fwd asks for rx
#    checksum offload, which net_pcap refuses, and configure fails);
#  - the IPv6 route limits are raised: LPM6 to 1M rules and 128k tbl8
#    groups (128 MiB), FIB6 to 1M routes and 256k tbl8 groups (256 MiB; the
#    real table of 228k prefixes does not fit in 128k); l3fwd's own are 1024
#    LPM6 rules and 64k FIB6 routes;
#  - its line per added route is not printed (228k lines for the table).
# Nothing is rebuilt when DIR already holds a binary built from the same
# sources. Exit: 0 built (or up to date), 1 not possible here.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/lib.sh
. "$HERE/../lib.sh"

src=${L3FWD_SRC:-/usr/share/dpdk/examples}
dir=${1:-$FP6_BUILD_DIR/bench/l3fwd}
[ -f "$src/l3fwd/main.c" ] ||
    fp6_die "no l3fwd sources in $src/l3fwd: install Debian's dpdk-doc"
command -v make >/dev/null || fp6_die "make is missing (build-essential)"
pkg-config --exists libdpdk || fp6_die "libdpdk's pkg-config file is missing (libdpdk-dev)"

stamp=$(cat "$src"/l3fwd/*.[ch] "$0" | md5sum | cut -d " " -f 1)
if [ -x "$dir/l3fwd/build/l3fwd" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$dir/l3fwd/build/l3fwd"
    exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
cp -r "$src/l3fwd" "$src/common" "$dir/"
cd "$dir/l3fwd"

# patch FILE PATTERN REPLACEMENT: sed s|PATTERN|REPLACEMENT|, failing when
# PATTERN is not in FILE (another DPDK version: look at the sources again).
patch() {
    grep -q -- "$2" "$1" || fp6_die "l3fwd sources changed: '$2' not found in $1"
    sed -i "s|$2|$3|" "$1"
}
patch main.c 'ret = config_port_max_pkt_len(&local_port_conf, &dev_info);' \
    'local_port_conf.rxmode.offloads \&= dev_info.rx_offload_capa;\n\t\tret = config_port_max_pkt_len(\&local_port_conf, \&dev_info);'
patch main.c 'rxq_conf.offloads = port_conf.rxmode.offloads;' \
    'rxq_conf.offloads = port_conf.rxmode.offloads \& dev_info.rx_offload_capa;'
patch l3fwd_lpm.c '#define IPV6_L3FWD_LPM_MAX_RULES         1024' \
    '#define IPV6_L3FWD_LPM_MAX_RULES (1 << 20)'
patch l3fwd_lpm.c '#define IPV6_L3FWD_LPM_NUMBER_TBL8S (1 << 16)' \
    '#define IPV6_L3FWD_LPM_NUMBER_TBL8S (1 << 17)'
patch l3fwd_fib.c 'config.max_routes = (1 << 16) - 1;' 'config.max_routes = 1 << 20;'
patch l3fwd_fib.c 'config.trie.num_tbl8 = (1 << 15);' 'config.trie.num_tbl8 = 1 << 18;'
# l3fwd prints a line per route it adds: 228k lines for a full table.
patch l3fwd_lpm.c 'printf("LPM: Adding route %s / %d (%d) \[%s\]\\n",' \
    'if (0) printf("LPM: Adding route %s / %d (%d) [%s]\\n",'
patch l3fwd_fib.c 'printf("FIB: Adding route %s / %d (%d) \[%s\]\\n", abuf,' \
    'if (0) printf("FIB: Adding route %s / %d (%d) [%s]\\n", abuf,'

make -s -j"$(nproc)" >&2 || fp6_die "l3fwd did not build (see above)"
echo "$stamp" >"$dir/stamp"
echo "$dir/l3fwd/build/l3fwd"
