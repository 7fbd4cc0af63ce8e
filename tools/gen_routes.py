#!/usr/bin/python3
"""Route files for `fp6ctl route load`: a real table, or a bigger one grown
from it, spread over gateways.

    gen_routes.py --table FILE --gateways GW[,GW...] [--count N] [--seed S]

Prints one `PREFIX via GW` line per prefix, the gateways taken in turn. With
--count above the table's size, the table is grown to N prefixes with the
same length mix: each new prefix takes a length drawn from the table's, and
its leading bits from a real prefix at most 16 bits shorter, the rest random
(the way address space fills in: more specifics inside what is already
announced). Deterministic for a given --seed.
"""

import argparse
import ipaddress
import random
import sys


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", required=True)
    p.add_argument("--gateways", required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    gws = a.gateways.split(",")
    rng = random.Random(a.seed)
    table = []
    with open(a.table) as f:
        for ln, line in enumerate(f, 1):
            line = line.split("#")[0].strip()
            if not line:
                continue
            try:
                n = ipaddress.IPv6Network(line)
            except ValueError as e:
                sys.exit("gen_routes.py: %s:%d: %s" % (a.table, ln, e))
            table.append((int(n.network_address), n.prefixlen))
    seen = set(table)
    by_len = {}
    for addr, plen in table:
        by_len.setdefault(plen, []).append(addr)
    lens = [plen for _, plen in table]
    parents = {}
    for plen in set(lens):
        parents[plen] = [q for q in by_len if plen - 16 <= q <= plen]
    out = list(table)
    while len(out) < a.count:
        plen = rng.choice(lens)
        q = rng.choice(parents[plen])
        base = rng.choice(by_len[q])
        addr = base | (rng.getrandbits(128 - q) if q < 128 else 0)
        addr &= ~((1 << (128 - plen)) - 1) & ((1 << 128) - 1)
        if (addr, plen) in seen:
            continue
        seen.add((addr, plen))
        out.append((addr, plen))
    w = sys.stdout.write
    for i, (addr, plen) in enumerate(out):
        w("%s/%d via %s\n" % (ipaddress.IPv6Address(addr), plen, gws[i % len(gws)]))


if __name__ == "__main__":
    main(sys.argv[1:])
