#!/usr/bin/python3
"""DPDK telemetry client for tools/bench.sh: port counters of a running DPDK
process (testpmd, l3fwd, fp6d) read over its telemetry socket,
/var/run/dpdk/PREFIX/dpdk_telemetry.v2, which EAL serves from a thread of
its own (it answers while fp6d's control thread is busy loading routes).

  tel.py snapshot PREFIX PORT... [--pid PID]
      one JSON object: {"time", "ports": {PORT: /ethdev/stats}, "threads":
      {TID: CPU ticks}} (threads only with --pid: user + system time of
      each thread of PID, in clock ticks)
  tel.py sample PREFIX PORT... --interval S --out FILE
      every S seconds, a line "TIME rx(PORT1) tx(PORT2) tx(PORT3) ...":
      the first port's received packets, the others' sent packets; until
      SIGTERM or SIGINT
"""

import json
import os
import signal
import socket
import sys
import time


class Telemetry:
    def __init__(self, prefix, timeout=5.0):
        path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.s.recv(16384)  # the greeting

    def port(self, pid):
        self.s.send(("/ethdev/stats,%s" % pid).encode())
        reply = json.loads(self.s.recv(1 << 20))
        stats = reply.get("/ethdev/stats")
        if not isinstance(stats, dict):
            raise RuntimeError("no stats for port %s: %s" % (pid, reply))
        return stats


def thread_ticks(pid):
    ticks = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state is field 3, utime 14, stime 15.
        ticks[tid] = int(fields[11]) + int(fields[12])
    return ticks


def wait_socket(prefix, timeout):
    end = time.monotonic() + timeout
    while True:
        try:
            return Telemetry(prefix)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def main(argv):
    if len(argv) < 3 or argv[0] not in ("snapshot", "sample"):
        sys.exit(__doc__)
    mode, prefix = argv[0], argv[1]
    rest = argv[2:]
    opts = {}
    ports = []
    i = 0
    while i < len(rest):
        if rest[i].startswith("--"):
            opts[rest[i][2:]] = rest[i + 1]
            i += 2
        else:
            ports.append(rest[i])
            i += 1
    try:
        tel = wait_socket(prefix, float(opts.get("wait", "10")))
    except OSError as e:
        sys.exit("tel.py: no telemetry socket for %s: %s" % (prefix, e))
    if mode == "snapshot":
        t0 = time.time()
        doc = {"ports": {p: tel.port(p) for p in ports}}
        doc["time"] = (t0 + time.time()) / 2
        if "pid" in opts:
            doc["threads"] = thread_ticks(int(opts["pid"]))
        json.dump(doc, sys.stdout)
        print()
        return
    interval = float(opts.get("interval", "0.1"))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    with open(opts["out"], "w") as out:
        nxt = time.monotonic()
        while not stop:
            t = time.time()
            try:
                vals = [tel.port(ports[0])["ipackets"]]
                vals += [tel.port(p)["opackets"] for p in ports[1:]]
            except (OSError, RuntimeError, ValueError):
                break  # the process went away
            out.write("%.6f %s\n" % ((t + time.time()) / 2, " ".join(map(str, vals))))
            out.flush()
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))


if __name__ == "__main__":
    main(sys.argv[1:])
