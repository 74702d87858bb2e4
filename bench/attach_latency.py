#!/usr/bin/env python3
"""Scenario 4 — attach latency: keystroke-to-echo round trip.

Two copies of the same fake Robust (one grid, `gridctl plan --json` command lines): copy 1
under gridctl (`gridctl up lat-1`), copy 2 in a detached tmux session (status line off).
This script owns a PTY per client, runs `gridctl -f grid.toml attach lat-1` and
`tmux attach` in them (each puts our PTY in raw mode, as on an operator's terminal), and
for each keystroke measures the time from writing one letter to the master until that
letter comes back (the fake echoes typed keys itself, as Robust's LocalConsole does).
The two clients alternate in blocks of 50 keystrokes; every 250 letters the line is
erased with backspaces (untimed), since the console caps a line at 318 characters.

With BENCH_GRIDCTL_ALT=/path/to/other/gridctl, a third client attaches to a copy run by
that build (its own one-copy grid), interleaved in the same blocks: a before/after
comparison in the same run.
"""

import argparse
import os
import select
import shlex
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

LETTERS = b"abcdefghijklmnopqrstuvwxyz"


def drain(fd, quiet=0.15, limit=5.0):
    """Reads until `quiet` seconds pass without output."""
    end = time.monotonic() + limit
    out = bytearray()
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], quiet)
        if not r:
            break
        out += os.read(fd, 65536)
    return bytes(out)


class Client:
    def __init__(self, name, argv, env=None):
        self.name = name
        self.proc, self.fd = b.spawn_on_pty(argv, env=env)
        self.samples = []
        self.typed = 0
        drain(self.fd, quiet=0.5)  # attach banner, screen replay / redraw
        # The client must have put the terminal in raw mode: with the line discipline's
        # own echo still on, the "echo" would come from the kernel, not the console.
        lflag = termios.tcgetattr(self.fd)[3]
        if lflag & (termios.ECHO | termios.ICANON):
            raise RuntimeError(f"{name}: the terminal is not in raw mode")

    def keystroke(self, key):
        # Output still pending from the previous key must not count as this echo.
        while select.select([self.fd], [], [], 0)[0]:
            os.read(self.fd, 65536)
        os.write(self.fd, bytes([key]))
        t0 = time.perf_counter()
        seen = b""
        while True:
            r, _, _ = select.select([self.fd], [], [], 5.0)
            if not r:
                raise RuntimeError(f"{self.name}: no echo of {chr(key)!r} within 5 s")
            seen += os.read(self.fd, 65536)
            if bytes([key]) in seen:
                break
        self.samples.append(time.perf_counter() - t0)
        self.typed += 1
        if self.typed % 250 == 0:
            os.write(self.fd, b"\x7f" * 250)
            drain(self.fd)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    work = os.path.join(args.work, "s4")
    manifest = b.make_grid(work, "lat", 2, 21500)
    tmux_sock = os.path.join(work, "tmux.sock")
    tmux = ["tmux", "-S", tmux_sock, "-f", "/dev/null"]
    alt = os.environ.get("BENCH_GRIDCTL_ALT")
    alt_manifest = b.make_grid(os.path.join(work, "alt"), "latalt", 1, 21520) if alt else None
    clients = []
    try:
        b.gridctl(manifest, "up", "--wait", "lat-1")
        if alt:
            subprocess.run([alt, "-f", alt_manifest, "up", "--wait"], check=True,
                           stdin=subprocess.DEVNULL, capture_output=True)
        inst = b.plan_instances(manifest)[1]
        cmd = shlex.join(["env", *[f"{k}={v}" for k, v in inst["env"].items()],
                          *inst["argv"]])
        subprocess.run(tmux + ["new-session", "-d", "-s", "lat", "-x", "200", "-y", "50",
                               "-c", inst["cwd"], cmd, ";", "set-option", "-g", "status",
                               "off"], check=True)
        b.wait_ports([inst["port"]])
        time.sleep(0.5)
        env = dict(os.environ, TERM="xterm-256color")
        clients = [
            Client("gridctl attach", [b.GRIDCTL, "-f", manifest, "attach", "lat-1"], env),
            Client("tmux attach", tmux + ["attach-session", "-t", "lat"], env),
        ]
        if alt:
            clients.append(Client("gridctl attach (alt build)",
                                  [alt, "-f", alt_manifest, "attach", "latalt-1"], env))
        i = 0
        while any(c.typed < args.keys for c in clients):
            for c in clients:
                for _ in range(min(50, args.keys - c.typed)):
                    c.keystroke(LETTERS[i % len(LETTERS)])
                    i += 1
        result = {}
        for c in clients:
            ms = [s * 1000 for s in c.samples]
            result[c.name] = {"n": len(ms), "p50": b.percentile(ms, 50),
                              "p99": b.percentile(ms, 99), "min": min(ms), "max": max(ms)}
            b.log(f"attach: {c.name:26s} p50 {result[c.name]['p50']:.3f} ms  "
                  f"p99 {result[c.name]['p99']:.3f} ms  max {max(ms):.2f} ms")
    finally:
        for c in clients:
            c.close()
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)
        b.gridctl(manifest, "down", check=False)
        if alt:
            subprocess.run([alt, "-f", alt_manifest, "down"], stdin=subprocess.DEVNULL,
                           capture_output=True)
    b.save(args.out, {"keys": args.keys, "clients": result})


if __name__ == "__main__":
    main()
