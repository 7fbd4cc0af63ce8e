#!/usr/bin/python3
"""Drives fp6d's long route operations (route load, route flush) for
route_progress_test.sh and prints what it saw as one JSON object.

Usage:
  route_progress.py stream SOCKET CMD ARGS_JSON [PROBE_DST]
      Sends the request on one connection and reads every line of the
      answer: {"progress": [each progress object, with "t" its arrival in ms
      from the request], "final": the last line, "ms": the whole answer}.
      With PROBE_DST, while the operation runs, a second connection asks
      route.get PROBE_DST and port.show after each of the first five
      progress lines ("probe_ms": their answer times), and one more
      route.load and route.flush ("second_load", "second_flush": the
      replies).
  leave SOCKET FILE
      Sends route.load FILE, reads the first progress line and closes the
      connection: {"first": that line}.
  pty FP6CTL ARGS...
      Runs fp6ctl ARGS under a pseudo-terminal: {"rc", "raw": everything it
      wrote, "redraws": progress lines drawn over with "\\r", "lines": the
      output split at "\\n" and "\\r", blanks dropped}.
"""

import json
import os
import pty
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s, s.makefile("rb")


def request(cmd, args):
    return (json.dumps({"v": 1, "cmd": cmd, "args": args}) + "\n").encode()


def answer(s, f, cmd, args):
    """One request, all of its reply lines; the last one."""
    s.sendall(request(cmd, args))
    while True:
        line = json.loads(f.readline())
        if not line.get("more"):
            return line


def stream(path, cmd, args, probe_dst=None):
    s, f = connect(path)
    out = {"progress": [], "probe_ms": []}
    t0 = time.monotonic()
    s.sendall(request(cmd, args))
    other = None
    while True:
        text = f.readline()
        if not text:
            out["final"] = None
            break
        line = json.loads(text)
        now = (time.monotonic() - t0) * 1000
        if "progress" in line:
            p = dict(line["progress"], t=round(now, 1), more=line.get("more"))
            out["progress"].append(p)
            if probe_dst and len(out["progress"]) <= 5:
                if other is None:
                    other = connect(path)
                for c, a in (("route.get", {"dst": probe_dst}), ("port.show", {})):
                    t1 = time.monotonic()
                    r = answer(other[0], other[1], c, a)
                    out["probe_ms"].append(round((time.monotonic() - t1) * 1000, 1))
                    if not r.get("ok"):
                        out.setdefault("probe_errors", []).append(r)
                if len(out["progress"]) == 1:
                    out["second_load"] = answer(other[0], other[1], "route.load", args)
                    out["second_flush"] = answer(other[0], other[1], "route.flush", {})
            continue
        if line.get("more"):
            out.setdefault("chunks", 0)
            out["chunks"] += 1
            continue
        out["final"] = line
        break
    out["ms"] = round((time.monotonic() - t0) * 1000, 1)
    return out


def leave(path, file):
    s, f = connect(path)
    s.sendall(request("route.load", {"file": file}))
    first = json.loads(f.readline())
    s.close()
    return {"first": first}


def run_pty(argv):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    raw = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        raw += chunk
    _, status = os.waitpid(pid, 0)
    text = raw.decode("utf-8", "replace")
    parts = [p.strip() for p in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [p for p in parts if p]
    return {
        "rc": os.waitstatus_to_exitcode(status),
        "raw": text,
        "redraws": text.count("\r" + "route "),
        "lines": lines,
    }


def main():
    what = sys.argv[1]
    if what == "stream":
        out = stream(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]),
                     sys.argv[5] if len(sys.argv) > 5 else None)
    elif what == "leave":
        out = leave(sys.argv[2], sys.argv[3])
    elif what == "pty":
        out = run_pty(sys.argv[2:])
    else:
        sys.exit("unknown check " + what)
    print(json.dumps(out))


main()
