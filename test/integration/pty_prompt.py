#!/usr/bin/python3
"""Drives fp6ctl's interactive prompt through a pseudo-terminal, as a person
at a keyboard would, and checks what the terminal shows.

Usage: pty_prompt.py FP6CTL SOCKET HOME
  HOME is a scratch directory; the history file lands there.

Each step types keys and waits (up to 10 s) for a text on the terminal;
prints "ok - ..." / "not ok - ..." per step. Exit status 0 when all passed.
"""

import os
import pty
import re
import select
import sys
import time

fp6ctl, sock, home = sys.argv[1:4]
ESC = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|[\x07\r]")

pid, fd = pty.fork()
if pid == 0:
    env = dict(os.environ, HOME=home, TERM="dumb")
    os.execve(fp6ctl, [fp6ctl, "--socket", sock], env)

seen = b""
failed = 0


def screen():
    """What the terminal shows so far, without control sequences."""
    return ESC.sub(b"", seen).decode("utf-8", "replace")


def expect(name, keys, pattern, timeout=10.0):
    """Types keys, then waits for pattern (a regex) in the new output."""
    global seen, failed
    start = len(screen())
    if keys:
        os.write(fd, keys.encode())
    deadline = time.monotonic() + timeout
    while True:
        new = screen()[start:]
        if re.search(pattern, new, re.S):
            print("ok - " + name)
            return new
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
    failed += 1
    print("not ok - " + name)
    for line in screen()[start:].splitlines()[-15:]:
        print("    # " + repr(line))
    return None


expect("the prompt appears", "", r"fp6> ")
expect("help lists every command and the prompt's own words", "help\n",
       r"port add NAME devargs DEVARGS.*stats show.*exit, quit.*fp6> ")
expect("TAB on an ambiguous word lists the candidates", "po\t", r"policy\s+port.*fp6> po")
expect("TAB completes a unique command word", "r\t", r"port $")
expect("TAB completes the verb, ENTER runs the command", "sh\t\n",
       r"NAME\s+PORT\s+ADMIN.*\bn0\b.*\bn1\b.*fp6> ")
# n0 and n1 share "n": the first TAB inserts it, the second lists both.
expect("TAB after \"port set \" lists the live port names from fp6d", "port set \t\t",
       r"\bn0\s+n1\b.*fp6> port set n")
expect("? shows the usage of the command typed so far and what may follow", "?",
       r"port set NAME \[up\|down\].*next: .*\bn0\b")
# Ctrl-U clears the line.
expect("? after an object lists its commands only", "\x15route ?",
       r"route add .*route get ADDR")
expect("TAB completes a live address after addr del", "\x15addr del 2001:db8:1::\t",
       r"2001:db8:1::1/64 $")
expect("a refused command prints fp6d's reason and the prompt goes on",
       "\x15port del nosuch\n", r"fp6ctl: .*nosuch.*fp6> ")
expect("a parse error names the word and the prompt goes on", "route frob\n",
       r"fp6ctl: unknown word \"frob\".*fp6> ")
expect("exit leaves", "exit\n", r"exit")

_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
# The last command (route frob) failed to parse: exit code 1.
if code == 1:
    print("ok - fp6ctl exits with the last command's code (1)")
else:
    failed += 1
    print("not ok - fp6ctl exits with the last command's code (1)")
    print("    # exit status %d" % code)

hist = os.path.join(home, ".fp6ctl_history")
try:
    with open(hist, encoding="utf-8", errors="replace") as f:
        history = f.read()
except OSError as e:
    history = ""
    print("    # %s" % e)
# libedit's history file encodes blanks as \040.
entries = history.replace("\\040", " ")
if "port show" in entries and "route frob" in entries:
    print("ok - the history file holds the commands typed")
else:
    failed += 1
    print("not ok - the history file holds the commands typed")
    print("    # " + repr(history[:300]))

sys.exit(1 if failed else 0)
