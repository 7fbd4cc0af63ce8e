#!/usr/bin/python3
"""Walks every fp6ctl command against a running fp6d and checks its -j keys
against the ```keys OBJECT VERB``` blocks of docs/cli.md.

Usage: cli_keys.py CLI_MD FP6CTL SOCKET WALK_FILE
  WALK_FILE holds the command lines to run, in order, one per line.

Checks, each printed as "ok - ..." / "not ok - ...":
  - every "OBJECT VERB" of the grammar (from `fp6ctl --help`) is walked;
  - every walked line exits 0 and prints nothing or one JSON document, and
    -p prints an indented document of the same keys;
  - the keys printed all match a path of the command's block, and every path
    of the block not marked "?" is printed;
  - a command without a block prints nothing;
  - every block names a command of the grammar.
Exit status: 0 when every check passed, 1 otherwise.
"""

import json
import re
import subprocess
import sys

failed = 0
passed = 0


def check(name, ok, details=()):
    global failed, passed
    print(("ok - " if ok else "not ok - ") + name)
    for d in details:
        print("    # " + d)
    if ok:
        passed += 1
    else:
        failed += 1


def doc_blocks(path):
    """{"port show": [(path, optional), ...]} from the ```keys blocks."""
    blocks = {}
    current = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^```keys\s+(.+?)\s*$", line)
            if m:
                current = m.group(1)
                blocks[current] = []
                continue
            if current is not None:
                if line.startswith("```"):
                    current = None
                elif line.strip():
                    p = line.strip()
                    blocks[current].append((p.rstrip("?"), p.endswith("?")))
    return blocks


def grammar_commands(fp6ctl):
    """["port add", ...] from the usage lines fp6ctl --help prints."""
    out = subprocess.run([fp6ctl, "--help"], capture_output=True, text=True, check=True).stdout
    cmds = []
    in_cmds = False
    for line in out.splitlines():
        if line.strip() == "Commands:":
            in_cmds = True
            continue
        if in_cmds:
            words = line.split()
            if len(words) < 2 or not re.match(r"^[a-z]", words[0]):
                break
            cmd = words[0] + " " + words[1]
            if cmd not in cmds:
                cmds.append(cmd)
    return cmds


def key_paths(value, prefix=""):
    """Every object key path in value, "[]" for array elements."""
    paths = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = prefix + "." + k if prefix else k
            paths.add(p)
            paths |= key_paths(v, p)
    elif isinstance(value, list):
        for v in value:
            paths |= key_paths(v, prefix + "[]")
    return paths


def split_path(p):
    """"ports[].queues.rx[].bytes" -> ["ports", "[]", "queues", "rx", "[]", "bytes"]."""
    return re.findall(r"\[\]|[^.\[\]]+", p)


def matches(doc, actual):
    """True if the actual path equals doc (with "*" for any key) or is a
    path above it (a documented path implies its parents)."""
    d, a = split_path(doc), split_path(actual)
    if len(a) > len(d):
        return False
    return all(x == "*" and y != "[]" or x == y for x, y in zip(d, a))


def command_of(line):
    words = line.split()
    return words[0] + " " + words[1] if len(words) >= 2 else line


def main():
    cli_md, fp6ctl, sock, walk_file = sys.argv[1:5]
    blocks = doc_blocks(cli_md)
    grammar = grammar_commands(fp6ctl)
    with open(walk_file, encoding="utf-8") as f:
        walk = [l.strip() for l in f if l.strip() and not l.startswith("#")]

    walked = {command_of(l) for l in walk}
    missing = [c for c in grammar if c not in walked]
    check("every command of the grammar (%d) is walked" % len(grammar), not missing,
          ["not walked: " + c for c in missing])
    stale = [b for b in blocks if b not in grammar]
    check("every keys block of docs/cli.md names a command of the grammar", not stale,
          ["no such command: " + b for b in stale])

    for line in walk:
        cmd = command_of(line)
        run = subprocess.run([fp6ctl, "--socket", sock, "--timeout", "10", "-j"] + line.split(),
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
        details = []
        ok = run.returncode == 0
        if not ok:
            details.append("exit status %d: %s" % (run.returncode, run.stderr.strip()))
        data = None
        text = run.stdout.strip()
        if ok and text:
            try:
                data = json.loads(text)
            except ValueError as e:
                ok = False
                details.append("not JSON: %s" % e)
        if ok and data is not None:
            pretty = subprocess.run([fp6ctl, "--socket", sock, "-p"] + line.split(),
                                    capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if cmd.endswith(" show") or cmd.endswith(" get"):
                # Counters and ages move between the two calls: compare the
                # shape (the key paths), and that -p indents.
                try:
                    same = key_paths(json.loads(pretty.stdout)) == key_paths(data)
                except ValueError:
                    same = False
                if not same:
                    ok = False
                    details.append("-p does not print a document of the same keys")
                elif isinstance(data, (list, dict)) and data and "\n  " not in pretty.stdout:
                    ok = False
                    details.append("-p does not indent")
        block = blocks.get(cmd)
        if ok and block is None and data is not None:
            ok = False
            details.append("prints %s but docs/cli.md has no keys block for it" % text[:200])
        if ok and block is not None:
            if block == [("(string)", False)]:
                if not isinstance(data, str):
                    ok = False
                    details.append("the block says a string, fp6d printed " + text[:200])
            elif data is None:
                ok = False
                details.append("the block lists keys, fp6d printed nothing")
            else:
                actual = key_paths(data)
                undocumented = sorted(p for p in actual if not any(matches(d, p) for d, _ in block))
                absent = [d for d, opt in block
                          if not opt and not any(matches(d, p) and len(split_path(p)) ==
                                                 len(split_path(d)) for p in actual)]
                for p in undocumented:
                    details.append("printed but not in docs/cli.md: " + p)
                for d in absent:
                    details.append("in docs/cli.md but not printed: " + d)
                ok = not undocumented and not absent
        check("fp6ctl -j %s: exit 0, keys as docs/cli.md lists them" % line, ok, details)

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
