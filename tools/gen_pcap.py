#!/usr/bin/python3
"""Write a pcap of small IPv6/UDP packets for fp6's benchmarks.

Each packet is Ethernet + IPv6 + UDP with a payload that makes the frame
--frame-size bytes (64 by default, the smallest Ethernet frame without its
FCS, so 2 bytes of UDP payload), from --src to a destination spread over
--dst-prefix (prefix::1, ::2, ... up to 65536 of them, one a packet; a /128
is the one address), hop limit 64.

With --flood-ratio R (0 <= R < 1), that share of the packets are the same
packets with hop limit 1 instead, spread evenly among the others: a router
owes each of them an ICMPv6 Time Exceeded (RFC 4443 3.3). --count counts the
good packets; the file holds count / (1 - R) packets in all, so that the
good packets of a flooded pcap are exactly those of the plain one.

Needs scapy (Debian's python3-scapy, for /usr/bin/python3).

    gen_pcap.py --out FILE [--count N] [--dst-mac MAC] [--flood-ratio R] ...
"""

import argparse
import ipaddress
import sys

try:
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import PcapWriter
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit("gen_pcap.py: scapy is missing (%s): run it with /usr/bin/python3, "
             "or install python3-scapy" % e)

ETH_IP6_UDP = 14 + 40 + 8


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="pcap file to write")
    p.add_argument("--count", type=int, default=1024,
                   help="good packets (default 1024)")
    p.add_argument("--flood-ratio", type=float, default=0.0,
                   help="share of all packets sent with hop limit 1 (default 0)")
    p.add_argument("--frame-size", type=int, default=64,
                   help="Ethernet frame size without FCS (default 64)")
    p.add_argument("--dst-mac", default="02:70:63:61:70:00",
                   help="destination MAC: the receiving port's (default: "
                        "DPDK's first net_pcap port)")
    p.add_argument("--src-mac", default="02:00:00:00:00:01")
    p.add_argument("--src", default="2001:db8:2::2", help="source address")
    p.add_argument("--dst-prefix", default="2001:db8:100::/48",
                   help="destinations are spread under this prefix")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be at least 1")
    if not 0.0 <= a.flood_ratio < 1.0:
        p.error("--flood-ratio must be in [0, 1)")
    if a.frame_size < ETH_IP6_UDP or a.frame_size > 1514:
        p.error("--frame-size must be %d..1514" % ETH_IP6_UDP)
    return a


def main(argv):
    a = parse_args(argv)
    net = ipaddress.IPv6Network(a.dst_prefix, strict=False)
    # Addresses after the prefix's own, at most 65536 (all of a /128: itself).
    spread = min(65536, net.num_addresses - 1)
    payload = b"\x00" * (a.frame_size - ETH_IP6_UDP)

    total = round(a.count / (1.0 - a.flood_ratio))
    flood = total - a.count
    good = 0
    written_flood = 0
    with PcapWriter(a.out, linktype=1, sync=False) as w:
        for i in range(total):
            # Bresenham spread: the i-th packet is a flood packet when that
            # keeps the flood count at round((i + 1) * flood / total).
            is_flood = (i + 1) * flood // total > written_flood
            # Good and flood packets count up apart, so the good ones are
            # the same in every file.
            n = written_flood if is_flood else good
            dst = str(net.network_address + (1 + n % spread if spread else 0))
            pkt = (Ether(src=a.src_mac, dst=a.dst_mac) /
                   IPv6(src=a.src, dst=dst, hlim=1 if is_flood else 64) /
                   UDP(sport=1024 + n % 1000, dport=9) / Raw(payload))
            w.write(pkt)
            if is_flood:
                written_flood += 1
            else:
                good += 1
    print("%s: %d packets, %d good, %d with hop limit 1, %d bytes each" %
          (a.out, total, good, written_flood, a.frame_size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
