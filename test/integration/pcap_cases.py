#!/usr/bin/python3
"""The packets of pcap_test.sh and what fp6d must make of each.

    pcap_cases.py gen IN.PCAP P0_MAC
    pcap_cases.py check OUT_DIR PORTS.JSON P0_LINKLOCAL STATS.JSON
    pcap_cases.py count PCAP

`gen` writes the input pcap: Ethernet frames from host H0 (2001:db8:f0::2,
02:00:00:00:00:01) on p0's link, to P0_MAC. `check` rebuilds the same cases
and compares, frame by frame and byte for byte, what fp6d wrote to
OUT_DIR/out0.pcap, out1.pcap and out2.pcap with what each case expects:

  fwd=PORT     forwarded out PORT to its gateway's MAC from the port's MAC,
               hop limit one lower, the IPv6 packet trimmed to its Payload
               Length and otherwise untouched;
  drop=REASON  counted under drops.REASON of `stats show`, with the ICMPv6
               error icmp=(type, code, parameter) sent back to H0 when given;
  echo=ADDR    an echo reply from ADDR to H0;
  icmp=...     (without drop) an error for a packet to the router itself;
  counter=KEY  nothing sent; control.KEY of `stats show` counts it.

Frames fp6 sends to multicast destinations of its own accord (MLD reports,
unsolicited router traffic) are no case's result: they are left out of the
comparison and only counted. Every drop reason and the control counters the
cases move must have moved by exactly what the cases say.

Exit 0 when everything matches; otherwise each difference is printed.
Needs scapy (Debian's python3-scapy, for /usr/bin/python3).
"""

import collections
import json
import struct
import sys

from scapy.layers.inet import IP, UDP, TCP
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
                                ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, in6_chksum)
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter, RawPcapReader

H0 = "2001:db8:f0::2"
H0_MAC = "02:00:00:00:00:01"
R0 = "2001:db8:f0::1"
R1 = "2001:db8:f1::1"
GW = {"p1": ("2001:db8:f1::2", "02:00:00:00:00:11"),
      "p2": ("2001:db8:f2::2", "02:00:00:00:00:12")}
P2_MTU = 1300
ICMP_ERROR_MAX = 1280


def cases(p0_mac):
    """[(name, frame bytes, expectation dict)], the same at each call."""
    out = []

    def add(name, frame, **expect):
        out.append((name, bytes(frame), expect))

    def eth(dst=p0_mac, **kw):
        return Ether(src=H0_MAC, dst=dst, **kw)

    def ip6(dst, src=H0, hlim=64, **kw):
        return IPv6(src=src, dst=dst, hlim=hlim, **kw)

    def udp(n=16):
        return UDP(sport=4000, dport=9) / Raw(bytes(i & 0xFF for i in range(n)))

    # Good packets to routed and connected destinations.
    add("udp to 2001:db8:100::/48 via p1", eth() / ip6("2001:db8:100::1") / udp(), fwd="p1")
    add("udp to 2001:db8:200::/48 via p2", eth() / ip6("2001:db8:200::5") / udp(), fwd="p2")
    add("tcp with a flow label and traffic class",
        eth() / ip6("2001:db8:100::2", tc=0x28, fl=0x12345) /
        TCP(sport=40000, dport=80, flags="S") / Raw(b"x" * 20), fwd="p1")
    add("udp to the connected neighbour on p1", eth() / ip6(GW["p1"][0]) / udp(), fwd="p1")
    add("1400-byte frame through p1 (mtu 1500)", eth() / ip6("2001:db8:100::3") /
        udp(1400 - 62), fwd="p1")
    add("hop limit 2 leaves with 1", eth() / ip6("2001:db8:200::6", hlim=2) / udp(), fwd="p2")
    add("ethernet padding after the payload is trimmed",
        bytes(eth() / ip6("2001:db8:100::4") / udp(2)) + b"\xee" * 24, fwd="p1")
    # In transit, only the destination reads extension headers (RFC 8200 4).
    add("first fragment in transit", eth() / ip6("2001:db8:100::5") /
        IPv6ExtHdrFragment(id=77, m=1, offset=0) / udp(40), fwd="p1")
    add("hop-by-hop not first, in transit", eth() / ip6("2001:db8:200::7") /
        IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / udp(), fwd="p2")
    add("routing header with segments left, in transit", eth() / ip6("2001:db8:100::6") /
        IPv6ExtHdrRouting(addresses=["2001:db8:100::99"], segleft=1) / udp(), fwd="p1")

    # Malformed.
    add("not IPv6 (an IPv4 frame)", eth(type=0x0800) / IP(dst="192.0.2.1") / udp(),
        drop="not_ipv6")
    add("unicast to another MAC", eth(dst="02:00:00:00:99:99") / ip6("2001:db8:100::1") /
        udp(), drop="l2_not_ours")
    add("IPv6 header cut at 30 bytes", bytes(eth() / ip6("2001:db8:100::1") / udp())[:14 + 30],
        drop="truncated")
    add("Ethernet header only", bytes(eth(type=0x86DD))[:14], drop="truncated")
    add("version 4 in an IPv6 frame", eth() / ip6("2001:db8:100::1", version=4) / udp(),
        drop="bad_version")
    add("payload length past the frame", eth() / ip6("2001:db8:100::1", plen=400) / udp(),
        drop="bad_length")
    add("payload length 0 without a jumbo option", eth() / ip6("2001:db8:100::1", plen=0) /
        IPv6ExtHdrHopByHop() / udp(), drop="bad_length")
    add("multicast source", eth() / ip6("2001:db8:100::1", src="ff02::1") / udp(),
        drop="bad_source")
    add("loopback destination", eth() / ip6("::1") / udp(), drop="bad_dest")
    add("global multicast (no multicast routing)", eth(dst="33:33:00:00:12:34") /
        ip6("ff0e::1234") / udp(), drop="mcast_forward")

    # To unrouted prefixes, and routes that refuse.
    add("no route", eth() / ip6("2001:db8:999::1") / udp(), drop="no_route", icmp=(1, 0, 0))
    add("blackhole route", eth() / ip6("2001:db8:dead::1") / udp(), drop="blackhole")
    add("unreachable route", eth() / ip6("2001:db8:bad::1") / udp(), drop="unreachable",
        icmp=(1, 0, 0))
    add("prohibit route", eth() / ip6("2001:db8:bad1::1") / udp(), drop="unreachable",
        icmp=(1, 1, 0))
    add("hop limit 1 in transit", eth() / ip6("2001:db8:100::7", hlim=1) / udp(),
        drop="hop_limit", icmp=(3, 0, 0))
    add("1400 bytes into p2's mtu 1300", eth() / ip6("2001:db8:200::8") / udp(1400 - 62),
        drop="too_big", icmp=(2, 0, P2_MTU))
    add("link-local source leaving its link", eth() / ip6("2001:db8:100::8", src="fe80::2") /
        udp(), drop="linklocal_scope", icmp=(1, 2, 0), from_ll=True)

    # To the router.
    add("echo request to p0's address", eth() / ip6(R0) /
        ICMPv6EchoRequest(id=7, seq=1, data=b"fp6 pcap test one"), echo=R0)
    add("echo request to p1's address, arriving on p0", eth() / ip6(R1) /
        ICMPv6EchoRequest(id=7, seq=2, data=b"fp6 pcap test two"), echo=R1)
    add("echo request with a bad checksum", eth() / ip6(R0) /
        ICMPv6EchoRequest(id=7, seq=3, cksum=0x1234), counter="punt_unhandled")
    add("udp to the router", eth() / ip6(R0) / udp(), icmp=(1, 4, 0))
    add("NS with a zero-length option", eth(dst="33:33:ff:00:00:01") /
        ip6("ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=R0) / ICMPv6NDOptSrcLLAddr(len=0,
        lladdr=H0_MAC), counter="nd_drops.option_len_zero")
    return out


def ip_part(frame):
    """The IPv6 packet of a frame, cut to its Payload Length."""
    ip = frame[14:]
    plen = struct.unpack("!H", ip[4:6])[0]
    return ip[:40 + plen]


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def forwarded(frame, port_mac, gw_mac):
    ip = bytearray(ip_part(frame))
    ip[7] -= 1
    return mac_bytes(gw_mac) + mac_bytes(port_mac) + b"\x86\xdd" + bytes(ip)


def icmp_error(frame, src, p0_mac, typ, code, param):
    """To the packet's source, quoting as much of the packet as fits in 1280
    bytes (RFC 4443 2.4 (c))."""
    quoted = ip_part(frame)[:ICMP_ERROR_MAX - 40 - 8]
    body = struct.pack("!BBHI", typ, code, 0, param) + quoted
    hdr = IPv6(src=src, dst=IPv6(quoted).src, hlim=64, nh=58, plen=len(body))
    cks = in6_chksum(58, hdr, body)
    body = body[:2] + struct.pack("!H", cks) + body[4:]
    return mac_bytes(H0_MAC) + mac_bytes(p0_mac) + b"\x86\xdd" + bytes(hdr)[:40] + body


def echo_reply(frame, src, p0_mac):
    req = Ether(frame)[ICMPv6EchoRequest]
    reply = (Ether(src=p0_mac, dst=H0_MAC) / IPv6(src=src, dst=H0, hlim=64) /
             ICMPv6EchoReply(id=req.id, seq=req.seq, data=req.data))
    return bytes(reply)


def read_pcap(path):
    try:
        r = RawPcapReader(path)
    except FileNotFoundError:
        return None
    frames = [data for data, _ in r]
    r.close()
    return frames


def is_own_multicast(frame):
    return len(frame) >= 54 and frame[12:14] == b"\x86\xdd" and frame[38] == 0xFF


def describe(frame):
    try:
        return Ether(frame).summary()
    except Exception:  # noqa: BLE001 - any undecodable frame is shown raw
        return frame[:64].hex()


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "first difference at byte %d (got %02x, want %02x), lengths %d/%d" % (
                i, x, y, len(a), len(b))
    return "lengths %d (got) / %d (want)" % (len(a), len(b))


def compare(port, got, expected, ordered):
    """Differences between the frames a port sent and those expected. A
    forwarding port keeps the order of arrival (one worker, one queue); the
    router's own answers on p0 leave in an order that is no contract (echo
    replies and errors take different paths), so there each expected frame
    is looked for among all that p0 sent."""
    bad = []
    if ordered:
        for i in range(max(len(got), len(expected))):
            if i >= len(got):
                bad.append("%s: missing frame %d (%s): %s" % (port, i, expected[i][0],
                                                              describe(expected[i][1])))
            elif i >= len(expected):
                bad.append("%s: unexpected frame %d: %s" % (port, i, describe(got[i])))
            elif got[i] != expected[i][1]:
                bad.append("%s: frame %d (%s) differs: %s\n      got  %s\n      want %s" % (
                    port, i, expected[i][0], first_diff(got[i], expected[i][1]),
                    describe(got[i]), describe(expected[i][1])))
        return bad
    left = list(got)
    for name, frame in expected:
        if frame in left:
            left.remove(frame)
        else:
            bad.append("%s: no frame for %s, want %s\n      %s" % (
                port, name, describe(frame), frame.hex()))
    for frame in left:
        bad.append("%s: unexpected frame %s\n      %s" % (port, describe(frame), frame.hex()))
    return bad


def check(out_dir, ports_json, p0_ll, stats_json):
    ports = {p["ifname"]: p for p in json.load(open(ports_json))}
    stats = json.load(open(stats_json))
    mac = {name: p["address"] for name, p in ports.items()}
    p0_mac = mac["p0"]
    all_cases = cases(p0_mac)
    want = {"p0": [], "p1": [], "p2": []}
    drops = collections.Counter()
    counters = collections.Counter()
    for name, frame, e in all_cases:
        if "fwd" in e:
            port = e["fwd"]
            want[port].append((name, forwarded(frame, mac[port], GW[port][1])))
        if "drop" in e:
            drops[e["drop"]] += 1
        if "icmp" in e:
            src = p0_ll if e.get("from_ll") else R0
            want["p0"].append((name, icmp_error(frame, src, p0_mac, *e["icmp"])))
            counters["icmp_errors_sent"] += 1
        if "echo" in e:
            want["p0"].append((name, echo_reply(frame, e["echo"], p0_mac)))
            counters["echo_replies"] += 1
        if "counter" in e:
            counters[e["counter"]] += 1

    bad = []
    for port, expected in want.items():
        got = read_pcap("%s/out%s.pcap" % (out_dir, port[1:]))
        if got is None:
            bad.append("%s: no output pcap" % port)
            continue
        own = [f for f in got if is_own_multicast(f)]
        got = [f for f in got if not is_own_multicast(f)]
        print("  # %s: %d frames out, %d expected, %d of fp6's own to multicast left aside" %
              (port, len(got), len(expected), len(own)))
        bad += compare(port, got, expected, ordered=(port != "p0"))

    for reason, n in sorted(stats["drops"].items()):
        if n != drops.get(reason, 0):
            bad.append("drops.%s = %d, want %d" % (reason, n, drops.get(reason, 0)))
    for key, n in sorted(counters.items()):
        node = stats["control"]
        for k in key.split("."):
            node = node[k]
        if node != n:
            bad.append("control.%s = %d, want %d" % (key, node, n))
    rx = next(p for p in stats["ports"] if p["ifname"] == "p0")["rx_packets"]
    if rx != len(all_cases):
        bad.append("p0 received %d frames, the pcap holds %d" % (rx, len(all_cases)))
    fwd = sum(w["forwarded"] for w in stats["workers"])
    if fwd != len(want["p1"]) + len(want["p2"]):
        bad.append("workers forwarded %d, want %d" % (fwd, len(want["p1"]) + len(want["p2"])))
    print("  # %d cases: %d forwarded, %d dropped by the workers, %d answered by the router" %
          (len(all_cases), len(want["p1"]) + len(want["p2"]), sum(drops.values()),
           len(want["p0"])))
    for b in bad:
        print("  # " + b)
    return 0 if not bad else 1


def main(argv):
    if len(argv) == 3 and argv[0] == "gen":
        with PcapWriter(argv[1], linktype=1, sync=True) as w:
            for _, frame, _ in cases(argv[2]):
                w.write(frame)
        return 0
    if len(argv) == 2 and argv[0] == "count":
        print(len(read_pcap(argv[1])))
        return 0
    if len(argv) == 5 and argv[0] == "check":
        return check(*argv[1:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
