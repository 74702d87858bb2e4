#!/usr/bin/env python3
"""Idle holder footprint of one build: COUNT fake Robust copies under `gridctl up --wait`,
idle for WINDOW s; prints per-holder RSS/PSS (KiB, min/median/max) and the holders' CPU
ticks over the window. `--gridctl DIR` picks the build (e.g. an older one to compare).
Usage: bench/idle_rss.py --gridctl target/release --work /tmp/w [--count 20] [--window 10]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gridctl", required=True, help="directory holding gridctl and fake-robust")
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--port", type=int, default=20400)
    args = ap.parse_args()
    d = os.path.abspath(args.gridctl)
    b.GRIDCTL = os.path.join(d, "gridctl")
    b.FAKE_ROBUST = os.path.join(d, "fake-robust")
    manifest = b.make_grid(os.path.join(args.work, "grid"), "asset", args.count, args.port)
    try:
        b.gridctl(manifest, "up", "--wait")
        pids = b.holder_pids(manifest)
        time.sleep(2.0)
        before = {p: b.cpu_ticks(p) for p in pids}
        time.sleep(args.window)
        ticks = sum(b.cpu_ticks(p) - before[p] for p in pids)
        rss = sorted(b.rss_kib(p) for p in pids)
        pss = sorted(b.pss_kib(p) for p in pids)
        exe = os.readlink(f"/proc/{pids[0]}/exe")
        print(f"{len(pids)} holders ({exe}), idle {args.window:.0f} s: CPU ticks total {ticks}; "
              f"RSS KiB min/median/max {rss[0]}/{statistics.median(rss):.0f}/{rss[-1]}; "
              f"PSS KiB min/median/max {pss[0]}/{statistics.median(pss):.0f}/{pss[-1]}")
    finally:
        b.gridctl(manifest, "down", check=False)


if __name__ == "__main__":
    main()
