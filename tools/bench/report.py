#!/usr/bin/python3
"""Figures of tools/bench.sh.

  report.py window --name N --scenario S --rx PORT --tx PORT --tsc-hz HZ
                   --t0 F --t1 F [--stats0 F --stats1 F]
      one measured window (two tel.py snapshots, and for fp6d two `fp6ctl
      stats show -j`) -> JSON: Mpps out of the tx port, Mpps into the rx
      port, the busy share of the forwarding thread, TSC cycles per packet
  report.py table FILE...       the forwarding table from window JSONs
  report.py loss ...            the load/churn figures -> JSON (see below)
  report.py show-load FILE      those figures as text, the 100-ms series too
  report.py plot --dir D FILE...  SVGs with gnuplot
  report.py check --dir D --expect WHAT...
      exit 1 unless each expected figure is there (NAME:SCENARIO, or "load")
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROGRAMS = [("testpmd", "testpmd io (ceiling)"), ("l3fwd-lpm", "l3fwd LPM6"),
            ("l3fwd-fib", "l3fwd FIB6"), ("l3fwd-fib512", "l3fwd FIB6, AVX-512 lookup"),
            ("fp6d", "fp6d, 1 worker"),
            ("fp6d-2w", "fp6d, 2 workers"), ("fp6d-memif", "fp6d, 1 worker, memif")]
SCENARIOS = [("r16", "16 /64 routes"), ("r1k", "1k routes"), ("real", "real table")]


def load(path):
    with open(path) as f:
        return json.load(f)


def fp6_counts(doc):
    """Worker totals of `stats show -j`: forwarded, rx, drops by reason."""
    ws = doc.get("workers", [])
    return {
        "rx": sum(w.get("rx_packets", 0) for w in ws),
        "forwarded": sum(w.get("forwarded", 0) for w in ws),
        "punted": sum(w.get("punted", 0) for w in ws),
        "drops": dict(doc.get("drops", {})),
    }


def cmd_window(a):
    t0, t1 = load(a.t0), load(a.t1)
    dt = t1["time"] - t0["time"]
    tx = (t1["ports"][a.tx]["opackets"] - t0["ports"][a.tx]["opackets"]) / dt
    rx = (t1["ports"][a.rx]["ipackets"] - t0["ports"][a.rx]["ipackets"]) / dt
    # The forwarding threads: the --threads that used the most CPU in the
    # window (cycles per packet are then theirs together).
    used = sorted((t1["threads"].get(tid, v) - v for tid, v in t0["threads"].items()), reverse=True)
    busy = sum(used[:a.threads])
    share = busy / CLK_TCK / dt
    out = {"name": a.name, "scenario": a.scenario, "seconds": dt, "mpps": tx / 1e6,
           "rx_mpps": rx / 1e6, "cpu_share": share,
           "cycles_per_packet": a.tsc_hz * share / tx if tx else None}
    if a.stats0 and a.stats1:
        s0, s1 = fp6_counts(load(a.stats0)), fp6_counts(load(a.stats1))
        out["fp6_forwarded"] = s1["forwarded"] - s0["forwarded"]
        out["fib_lookup"] = load(a.stats1).get("routes", {}).get("fib_lookup")
        out["fp6_drops"] = {k: v - s0["drops"].get(k, 0) for k, v in s1["drops"].items()
                            if v - s0["drops"].get(k, 0)}
    json.dump(out, sys.stdout)
    print()


def num(x, fmt):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt % x


def results(files):
    res = {}
    for f in files:
        try:
            r = load(f)
        except (OSError, ValueError):
            continue
        res[(r["name"], r["scenario"])] = r
    return res


def cmd_table(a):
    res = results(a.files)
    if not res:
        sys.exit("report.py: no figures")
    scens = [s for s in SCENARIOS if any(k[1] == s[0] for k in res)]
    head = ["what"] + [label for _, label in scens]
    rows = [head]
    for name, label in PROGRAMS:
        if not any((name, s) in res for s, _ in scens):
            continue
        row = [label]
        for s, _ in scens:
            r = res.get((name, s))
            if r is None:
                row.append("-")
                continue
            cell = "%.2f Mpps, %s cyc/pkt" % (r["mpps"], num(r["cycles_per_packet"], "%.0f"))
            io = res.get(("testpmd", s))
            if name != "testpmd" and io and io["mpps"]:
                cell += " (%.2f x io)" % (r["mpps"] / io["mpps"])
            row.append(cell)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    print()
    for (s, label), name in [(sc, n) for sc in scens for n in ("fp6d", "fp6d-memif")]:
        f = res.get((name, s))
        if not f:
            continue
        ratios = []
        for ref in ("l3fwd-lpm", "l3fwd-fib", "l3fwd-fib512"):
            r = res.get((ref, s))
            if r and r["mpps"]:
                ratios.append("%.2f x %s" % (f["mpps"] / r["mpps"], ref))
        line = "%s, %s: %s" % (name, label, ", ".join(ratios) or "no l3fwd figure")
        line += "; forwarding core busy %.0f%%" % (100 * f["cpu_share"])
        if f.get("fib_lookup"):
            line += "; %s FIB walk" % f["fib_lookup"]
        two = res.get(("fp6d-2w", s))
        if name == "fp6d" and two and f["mpps"]:
            line += "; 2 workers: %.2f x 1 worker" % (two["mpps"] / f["mpps"])
        if f.get("fp6_drops"):
            line += "; drops: " + ", ".join("%s %d" % kv for kv in sorted(f["fp6_drops"].items()))
        print(line)


def series(samples, events):
    """100-ms forwarding rates: [(t from 'up', Mpps)] from tel.py sample lines."""
    rows = []
    with open(samples) as f:
        for line in f:
            v = line.split()
            if len(v) >= 3:
                rows.append((float(v[0]), sum(int(x) for x in v[2:])))
    t_up = events.get("up", rows[0][0] if rows else 0.0)
    out = []
    for (ta, a), (tb, b) in zip(rows, rows[1:]):
        if tb > ta:
            out.append(((ta + tb) / 2 - t_up, (b - a) / (tb - ta) / 1e6))
    return out


def read_events(path):
    ev = {}
    with open(path) as f:
        for line in f:
            t, label = line.split(None, 1)
            ev[label.strip()] = float(t)
    return ev


def cmd_loss(a):
    s0, s1 = load(a.stats0), load(a.stats1)
    c0, c1 = fp6_counts(s0), fp6_counts(s1)
    port_tx = {}
    for p1 in s1.get("ports", []):
        p0 = next((p for p in s0.get("ports", []) if p["ifname"] == p1["ifname"]), {})
        port_tx[p1["ifname"]] = p1.get("tx_packets", 0) - p0.get("tx_packets", 0)
    drops = {k: v - c0["drops"].get(k, 0) for k, v in c1["drops"].items()}
    # Everything p0 brought in while up: sent somewhere, dropped for a reason
    # other than p0 being down, or punted. Each of p1..p4 owes a quarter.
    dropped = sum(v for k, v in drops.items() if k != "port_down")
    punted = c1["punted"] - c0["punted"]
    good = [port_tx.get("p%d" % i, 0) for i in range(1, 5)]
    wrong_port = port_tx.get("p5", 0)
    arrived = sum(good) + wrong_port + dropped + punted
    share = -(-arrived // 4)  # a contiguous run of i % 4 gives each ceil(n/4) at most
    misrouted = wrong_port + sum(max(0, g - share) for g in good)
    ev = read_events(a.events)
    rates = series(a.samples, ev)
    t_up = ev.get("up", 0.0)
    phases = {}
    for (start, end) in (("up", "load"), ("load", "loaded"), ("churn", "churned"),
                         ("delete", "deleted")):
        if start in ev and end in ev:
            lo, hi = ev[start] - t_up, ev[end] - t_up
            vals = [r for t, r in rates if lo <= t <= hi]
            phases[start] = {"from": lo, "to": hi, "mpps": vals}
    doc = {
        "arrived": arrived, "per_port": port_tx, "dropped": dropped, "punted": punted,
        "misrouted": misrouted, "loss": dropped + punted + misrouted,
        "drops": {k: v for k, v in drops.items() if v},
        "loaded_routes": a.loaded, "load_s": a.load_s, "delete_s": a.delete_s,
        "route_load": bool(a.route_load), "real_table": bool(a.real_table),
        "churn_updates": a.churn_updates, "churn_s": a.churn_s, "churn_batch": a.churn_batch,
        "load_ms": a.load_ms, "delete_ms": a.delete_ms,
        "events": {k: v - t_up for k, v in ev.items()}, "rates": rates, "phases": phases,
    }
    json.dump(doc, sys.stdout)
    print()


def cmd_show_load(a):
    d = load(a.file)
    how = "route load" if d["route_load"] else "fp6ctl -f, one route a command"
    what = "the real table" if d["real_table"] else "the r1k routes"
    print("load: %d routes of %s in %.3f s (%s): %.0f routes/s; deleted in %.3f s: %.0f routes/s"
          % (d["loaded_routes"], what, d["load_s"], how,
             d["loaded_routes"] / d["load_s"] if d["load_s"] else float("nan"), d["delete_s"],
             d["loaded_routes"] / d["delete_s"] if d["delete_s"] else float("nan")))
    if d.get("load_ms", -1) >= 0 and d.get("delete_ms", -1) >= 0:
        print("      fp6d's own time (the reply's ms, without fp6ctl's start): load %d ms, delete %d ms"
              % (d["load_ms"], d["delete_ms"]))
    print("churn: %d updates in %.3f s: %.0f updates/s (%s)"
          % (d["churn_updates"], d["churn_s"],
             d["churn_updates"] / d["churn_s"] if d["churn_s"] else float("nan"),
             "route load, %d a file" % (2 * d.get("churn_batch", 1000)) if d["route_load"]
             else "fp6ctl -f, one update a command"))
    print("loss: %d of %d packets to the stable prefixes (%d dropped, %d punted, %d misrouted);"
          " per port %s" % (d["loss"], d["arrived"], d["dropped"], d["punted"], d["misrouted"],
                             ", ".join("%s %d" % kv for kv in sorted(d["per_port"].items()))))
    if d["drops"]:
        print("drops: " + ", ".join("%s %d" % kv for kv in sorted(d["drops"].items())))
    print("forwarding rate per 100 ms (Mpps):")
    for name, ph in d["phases"].items():
        v = ph["mpps"]
        if not v:
            continue
        print("  %-7s %5.1f-%5.1f s: min %.2f, median %.2f, max %.2f" % (
            name, ph["from"], ph["to"], min(v), statistics.median(v), max(v)))
    vals = [r for _, r in d["rates"]]
    for i in range(0, len(vals), 10):
        print("  %6.1f s: %s" % (d["rates"][i][0], " ".join("%5.2f" % x for x in vals[i:i + 10])))


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def cmd_plot(a):
    res = results(a.files)
    if res:
        scens = [s for s in SCENARIOS if any(k[1] == s[0] for k in res)]
        progs = [p for p in PROGRAMS if any(k[0] == p[0] for k in res)]
        dat = os.path.join(a.dir, "mpps.dat")
        with open(dat, "w") as f:
            f.write("scenario " + " ".join('"%s"' % label for _, label in progs) + "\n")
            for s, label in scens:
                vals = [res.get((p, s), {}).get("mpps", float("nan")) for p, _ in progs]
                f.write('"%s" %s\n' % (label, " ".join("%.3f" % v for v in vals)))
        cols = ", ".join("'%s' using %d:xtic(1) title columnheader" % (dat, i + 2)
                         for i in range(len(progs)))
        gnuplot("""set terminal svg size 800,450 font "sans,11"
set output '%s'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'Mpps (64-byte IPv6/UDP, one core)'
set yrange [0:*]
set key top right
set grid ytics
set title 'Forwarding rate per route set'
plot %s
""" % (os.path.join(a.dir, "mpps.svg"), cols))
    lj = os.path.join(a.dir, "load.json")
    if os.path.exists(lj):
        d = load(lj)
        dat = os.path.join(a.dir, "rates.dat")
        with open(dat, "w") as f:
            for t, r in d["rates"]:
                f.write("%.3f %.4f\n" % (t, r))
        marks = "".join("set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 lc rgb 'gray'\n"
                        "set label '%s' at %.3f, graph 0.97 rotate by 90 right font ',9'\n"
                        % (t, t, name, t + 0.05) for name, t in d["events"].items())
        gnuplot("""set terminal svg size 900,400 font "sans,11"
set output '%s'
set xlabel 'seconds'
set ylabel 'Mpps forwarded, per 100 ms'
set yrange [0:*]
set grid
set title 'fp6d while its table is loaded, churned and deleted'
%splot '%s' using 1:2 with lines lw 2 title 'forwarded'
""" % (os.path.join(a.dir, "load-churn.svg"), marks, dat))


def cmd_check(a):
    missing = []
    for want in a.expect:
        if want == "load":
            path = os.path.join(a.dir, "load.json")
            try:
                d = load(path)
                ok = d["arrived"] > 0 and len(d["rates"]) > 0
            except (OSError, ValueError, KeyError):
                ok = False
        else:
            name, scen = want.split(":")
            try:
                d = load(os.path.join(a.dir, "fwd-%s-%s.json" % (name, scen)))
                ok = d["mpps"] > 0 and d["cycles_per_packet"] is not None
            except (OSError, ValueError, KeyError):
                ok = False
        if not ok:
            missing.append(want)
    if missing:
        sys.exit("report.py: figures missing: %s" % " ".join(missing))
    print("every figure asked for is there: %s" % " ".join(a.expect))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("window")
    for opt in ("name", "scenario", "rx", "tx", "t0", "t1"):
        w.add_argument("--" + opt, required=True)
    w.add_argument("--tsc-hz", type=float, required=True)
    w.add_argument("--threads", type=int, default=1)
    w.add_argument("--stats0")
    w.add_argument("--stats1")
    t = sub.add_parser("table")
    t.add_argument("files", nargs="*")
    lo = sub.add_parser("loss")
    for opt in ("stats0", "stats1", "samples", "events"):
        lo.add_argument("--" + opt, required=True)
    for opt in ("loaded", "churn-updates", "churn-batch", "route-load", "real-table", "load-ms",
                "delete-ms"):
        lo.add_argument("--" + opt, type=int, required=True)
    for opt in ("load-s", "delete-s", "churn-s"):
        lo.add_argument("--" + opt, type=float, required=True)
    s = sub.add_parser("show-load")
    s.add_argument("file")
    pl = sub.add_parser("plot")
    pl.add_argument("--dir", required=True)
    pl.add_argument("files", nargs="*")
    c = sub.add_parser("check")
    c.add_argument("--dir", required=True)
    c.add_argument("--expect", nargs="+", required=True)
    a = p.parse_args(argv)
    {"window": cmd_window, "table": cmd_table, "loss": cmd_loss, "show-load": cmd_show_load,
     "plot": cmd_plot, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    main(sys.argv[1:])
