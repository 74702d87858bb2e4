#!/usr/bin/env python3
"""Holder-only keystroke echo round trip (no attach client in the path), for comparing
holder builds in the same run: one fake Robust copy per build, a raw socket viewer
attached to each; a letter is sent as a data frame and timed until a data frame with
it comes back. The builds alternate in blocks of 50 keys.
Usage: bench/tools/echo_rtt.py --work DIR [--keys 1000] BUILD_DIR [BUILD_DIR ...]
(each BUILD_DIR holds gridctl, gridctl-holder and fake-robust).
"""

import argparse
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib as b  # noqa: E402


def run(binary, manifest, *args):
    return subprocess.run([binary, "-f", manifest, *args], check=True, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def drain(sock, quiet=0.2):
    """Reads whole frames until `quiet` seconds pass without one."""
    while select.select([sock], [], [], quiet)[0]:
        b.recv_frame(sock)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("builds", nargs="+")
    args = ap.parse_args()
    grids = []
    try:
        for i, d in enumerate(args.builds):
            d = os.path.abspath(d)
            b.FAKE_ROBUST = os.path.join(d, "fake-robust")
            m = b.make_grid(os.path.join(args.work, f"rtt{i}"), f"rtt{i}", 1, 21540 + i)
            gridctl = os.path.join(d, "gridctl")
            run(gridctl, m, "up", "--wait")
            grids.append((d, gridctl, m))
        viewers = []
        for d, gridctl, m in grids:
            plan = b.json.loads(run(gridctl, m, "plan", "--json").stdout)
            sock = b.connect(plan["instances"][0]["socket"])
            reply = b.request(sock, {"type": "attach", "read_only": False, "rows": 50,
                                     "cols": 200})
            assert reply.get("type") == "attached", reply
            sock.settimeout(None)
            drain(sock, 0.5)
            viewers.append({"build": d, "sock": sock, "samples": [], "typed": 0})
        letters = b"abcdefghijklmnopqrstuvwxyz"
        k = 0
        while any(v["typed"] < args.keys for v in viewers):
            for v in viewers:
                for _ in range(min(50, args.keys - v["typed"])):
                    key = letters[k % 26:k % 26 + 1]
                    k += 1
                    s = v["sock"]
                    drain(s, 0)
                    t0 = time.perf_counter()
                    b.send_frame(s, b.KIND_DATA, key)
                    seen = b""
                    while key not in seen:
                        kind, payload = b.recv_frame(s)
                        if kind == b.KIND_DATA:
                            seen += payload
                    v["samples"].append((time.perf_counter() - t0) * 1000)
                    v["typed"] += 1
                    if v["typed"] % 250 == 0:
                        b.send_frame(s, b.KIND_DATA, b"\x7f" * 250)
                        drain(s)
        for v in viewers:
            ms = sorted(v["samples"])
            print(f"{v['build']}: n {len(ms)} p50 {b.percentile(ms, 50):.3f} ms "
                  f"p90 {b.percentile(ms, 90):.3f} ms p99 {b.percentile(ms, 99):.3f} ms "
                  f"max {ms[-1]:.2f} ms")
    finally:
        for d, gridctl, m in grids:
            subprocess.run([gridctl, "-f", m, "down"], capture_output=True,
                           stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
