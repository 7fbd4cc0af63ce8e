#!/usr/bin/python3
"""Traffic and route sets for tools/bench.sh.

Writes, into --out DIR, for each forwarding scenario NAME (r16, r1k, real):

  NAME.pcap    64-byte Ethernet/IPv6/UDP frames to destinations covered by
               the scenario's routes, one destination a packet, cycled
  NAME.fp6     fp6ctl command file: the routes via next hops on port p1
  NAME.l3fwd6  l3fwd --rule_ipv6 file: the same prefixes, out of port 1
  NAME.routes  the prefixes alone, one a line

and for the load and churn phases:

  stable.pcap     traffic to the 16 stable /64s only; packet i goes to
                  stable prefix i % 16, whose next hop is on port p(1 + i % 4):
                  any contiguous run of packets splits evenly over p1..p4
                  (to within one packet a port)
  stable.fp6      the stable routes and the neighbours of p1..p5
  table.fp6       the table to load while forwarding, as `route add`
                  lines, next hops spread over p1..p4: the real table, or
                  without one the r1k prefixes
  table-del.fp6   the same as `route del` lines
  table.routes    the same routes, one a line: PREFIX via GW dev PORT
  churn-add.fp6, churn-del.fp6
                  --churn prefixes (siblings of the stable /64s and longer
                  prefixes inside unused /64s of the same /48, so they share
                  the FIB's upper levels with the stable ones) via p5, which
                  no stable packet may reach
  split.json      what the report needs: ports, expected shares

Frames are built here (no scapy): the UDP checksum is computed, as IPv6
requires (RFC 8200 8.1). Deterministic for a given --seed.

    gen.py --out DIR [--table FILE] [--dst-mac MAC] [--seed N] [--churn N]
"""

import argparse
import ipaddress
import json
import os
import random
import struct
import sys

SRC = ipaddress.IPv6Address("2001:db8:f0::2")  # on p0's prefix, 2001:db8:f0::/64
SRC_MAC = bytes.fromhex("020000000001")
STABLE_BASE = 0x20010db801000000 << 64  # 2001:db8:100::/48
PORTS = ["p1", "p2", "p3", "p4"]
CHURN_PORT = "p5"


def gw_of(port):
    """The static neighbour that is the next hop on `port` (pN: 2001:db8:N::2)."""
    n = int(port[1:])
    return "2001:db8:%x::2" % n


def gw_mac(port):
    return "02:00:00:00:0%d:02" % int(port[1:])


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def frame(dst_mac, dst, frame_size=64):
    """Ethernet + IPv6 + UDP, frame_size bytes without FCS, hop limit 64."""
    payload = b"\0" * (frame_size - 14 - 40 - 8)
    ulen = 8 + len(payload)
    src = SRC.packed
    dst = dst.packed
    udp = struct.pack("!HHHH", 1024, 9, ulen, 0) + payload
    # RFC 8200 8.1: the pseudo-header is source, destination, length, next header.
    pseudo = src + dst + struct.pack("!IxxxB", ulen, 17)
    c = 0xFFFF - csum(pseudo + udp)
    udp = udp[:6] + struct.pack("!H", c or 0xFFFF) + udp[8:]
    ip = struct.pack("!IHBB", 6 << 28, ulen, 17, 64) + src + dst
    return dst_mac + SRC_MAC + b"\x86\xdd" + ip + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        # Classic pcap, microsecond stamps, Ethernet (linktype 1).
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)


def host_in(net, rng):
    """A random address inside `net`, not its first (the subnet-router anycast)."""
    if net.num_addresses <= 2:
        return net[net.num_addresses - 1]
    return net[rng.randrange(1, min(net.num_addresses, 1 << 63))]


def write_scenario(out, name, nets, dsts, dst_mac, port="p1"):
    write_pcap(os.path.join(out, name + ".pcap"), [frame(dst_mac, d) for d in dsts])
    with open(os.path.join(out, name + ".routes"), "w") as f:
        for n in nets:
            f.write("%s\n" % n)
    with open(os.path.join(out, name + ".fp6"), "w") as f:
        for n in nets:
            f.write("route add %s via %s dev %s\n" % (n, gw_of(port), port))
    with open(os.path.join(out, name + ".l3fwd6"), "w") as f:
        for n in nets:
            f.write("R%s/%d 1\n" % (n.network_address, n.prefixlen))


def stable_nets():
    return [ipaddress.IPv6Network(((STABLE_BASE | (k << 64)), 64)) for k in range(16)]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--table", help="the real table, one prefix a line")
    p.add_argument("--dst-mac", default="02:70:63:61:70:00",
                   help="the receiving port's MAC (DPDK's first net_pcap port)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--churn", type=int, default=10000, help="churn prefixes (default 10000)")
    # net_pcap copies the whole file into mbufs of the port's pool at start:
    # l3fwd's pool (about 8k mbufs here) does not hold 8192 of them.
    p.add_argument("--table-packets", type=int, default=4096)
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    try:
        dst_mac = bytes.fromhex(a.dst_mac.replace(":", ""))
        assert len(dst_mac) == 6
    except (ValueError, AssertionError):
        p.error("--dst-mac: not a MAC address: %s" % a.dst_mac)
    os.makedirs(a.out, exist_ok=True)

    # r16: 16 /64s, 64 packets each, the prefixes interleaved.
    nets = stable_nets()
    dsts = [nets[i % 16][1 + i // 16] for i in range(1024)]
    write_scenario(a.out, "r16", nets, dsts, dst_mac)

    # r1k: 1024 prefixes of /44 to /64 under 2001:db8:8000::/33 (clear of the
    # ports' own prefixes), each in a /44 of its own so that none covers
    # another; 4 packets each.
    nets = []
    for slot in rng.sample(range(1 << 11), 1024):
        plen = rng.choice((44, 48, 56, 64))
        bits = (0x20010db8 << 96) | (1 << 95) | (slot << 84) | (rng.getrandbits(84) << 0)
        nets.append(ipaddress.IPv6Network((bits & ~((1 << 128 - plen) - 1), plen)))
    r1k = nets
    dsts = [host_in(nets[i % 1024], rng) for i in range(4096)]
    write_scenario(a.out, "r1k", nets, dsts, dst_mac)

    # real: the table, destinations drawn from random prefixes of it.
    table = []
    if a.table:
        with open(a.table) as f:
            for ln, line in enumerate(f, 1):
                line = line.split("#")[0].strip()
                if not line:
                    continue
                try:
                    table.append(ipaddress.IPv6Network(line))
                except ValueError as e:
                    sys.exit("gen.py: %s:%d: %s" % (a.table, ln, e))
        picks = [table[rng.randrange(len(table))] for _ in range(a.table_packets)]
        write_scenario(a.out, "real", table, [host_in(n, rng) for n in picks], dst_mac)

    # Load and churn phases.
    nets = stable_nets()
    write_pcap(os.path.join(a.out, "stable.pcap"),
               [frame(dst_mac, nets[i % 16][1 + i // 16]) for i in range(1024)])
    with open(os.path.join(a.out, "stable.fp6"), "w") as f:
        for port in PORTS + [CHURN_PORT]:
            f.write("neigh add %s lladdr %s dev %s\n" % (gw_of(port), gw_mac(port), port))
        for k, n in enumerate(nets):
            port = PORTS[k % 4]
            f.write("route add %s via %s dev %s\n" % (n, gw_of(port), port))
    load = table or r1k
    with open(os.path.join(a.out, "table.fp6"), "w") as f, \
            open(os.path.join(a.out, "table-del.fp6"), "w") as d, \
            open(os.path.join(a.out, "table.routes"), "w") as g:
        for i, n in enumerate(load):
            port = PORTS[i % 4]
            f.write("route add %s via %s dev %s\n" % (n, gw_of(port), port))
            d.write("route del %s via %s dev %s\n" % (n, gw_of(port), port))
            g.write("%s via %s dev %s\n" % (n, gw_of(port), port))
    churn = []
    for i in range(a.churn):
        # Unused /64s of 2001:db8:100::/48 (k >= 0x1000), whole or in part.
        k = 0x1000 + i // 4
        plen = (64, 80, 96, 112)[i % 4]
        sub = (i % 4) << (128 - plen) if plen > 64 else 0
        churn.append(ipaddress.IPv6Network((STABLE_BASE | (k << 64) | sub, plen)))
    with open(os.path.join(a.out, "churn-add.fp6"), "w") as f:
        for n in churn:
            f.write("route add %s via %s dev %s\n" % (n, gw_of(CHURN_PORT), CHURN_PORT))
    with open(os.path.join(a.out, "churn-del.fp6"), "w") as f:
        for n in churn:
            f.write("route del %s via %s dev %s\n" % (n, gw_of(CHURN_PORT), CHURN_PORT))
    json.dump({"ports": PORTS, "churn_port": CHURN_PORT, "stable_packets": 1024,
               "table_routes": len(load), "real_table": bool(table), "churn_routes": len(churn)},
              open(os.path.join(a.out, "split.json"), "w"))


if __name__ == "__main__":
    main(sys.argv[1:])
