#!/usr/bin/env python3
"""Scenario 3 — scale of `up`, and `status` latency.

100 fake Robust copies (fast-start knob: StartDelayMs = 0) of one role.

- baseline: the fakes' own start time, measured in the same run: the same command lines
  (from `gridctl plan --json`) started directly on PTYs by this script, in the same order
  `up` uses (the first copy alone, then the other 99 at once), until every console shows
  its prompt (cursor queries answered);
- `gridctl up --wait` from nothing to all-ready (wall time of the command);
- gridctl's overhead = up minus baseline;
- `gridctl status` latency with the 100 running (wall time of the command, N calls);
- `gridctl down` (reported, no target).
"""

import argparse
import os
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

PROMPT = b"R.O.B.U.S.T.# "
CPR_QUERY = b"\x1b[6n"


def start_direct(instances, timeout=60.0):
    """Starts every instance on its own PTY at once; returns when all show the prompt."""
    procs = []
    fds = {}
    for inst in instances:
        env = dict(os.environ, **inst["env"])
        proc, master = b.spawn_on_pty(inst["argv"], env=env, cwd=inst["cwd"])
        procs.append(proc)
        fds[master] = bytearray()
    pending = set(fds)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} fakes never showed the prompt")
        ready, _, _ = select.select(list(pending), [], [], 0.5)
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                raise RuntimeError("a fake exited during start")
            buf = fds[fd]
            buf += data
            # Answer every cursor query, like a terminal does.
            for _ in range(buf.count(CPR_QUERY)):
                os.write(fd, b"\x1b[1;1R")
            del buf[: max(0, len(buf) - 64)]
            if buf.replace(CPR_QUERY, b"").endswith(PROMPT):
                pending.discard(fd)
            else:
                # Keep only a tail, without half a query answered twice.
                buf[:] = buf.replace(CPR_QUERY, b"")
    return procs, list(fds)


def stop_direct(procs, masters):
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for fd in masters:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--status-calls", type=int, default=20)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    work = os.path.join(args.work, "s3")
    shutil.rmtree(work, ignore_errors=True)
    manifest = b.make_grid(work, "scale", args.count, 21000)
    b.gridctl(manifest, "render")
    instances = b.plan_instances(manifest)
    ports = [i["port"] for i in instances]
    runs = []
    try:
        for rep in range(args.reps):
            # Baseline: the fakes alone.
            t0 = time.monotonic()
            p1, m1 = start_direct(instances[:1])
            t1 = time.monotonic()
            p2, m2 = start_direct(instances[1:])
            t2 = time.monotonic()
            first = t1 - t0
            stop_direct(p1 + p2, m1 + m2)
            b.wait_ports_closed(ports)
            base = t2 - t0

            t0 = time.monotonic()
            up_out = b.gridctl(manifest, "up", "--wait").stdout
            up = time.monotonic() - t0
            status = []
            for _ in range(args.status_calls):
                s0 = time.monotonic()
                out = b.gridctl(manifest, "status").stdout
                status.append(time.monotonic() - s0)
            ready = out.count("ready")
            assert ready >= args.count, f"only {ready} ready:\n{out}"
            t0 = time.monotonic()
            b.gridctl(manifest, "down")
            down = time.monotonic() - t0
            b.wait_ports_closed(ports)
            runs.append({"baseline": base, "baseline_first": first, "up": up,
                         "overhead": up - base, "status": status, "down": down,
                         "up_output_tail": up_out.splitlines()[-6:],
                         "up_first_ready": next((l for l in up_out.splitlines()
                                                 if "ready after" in l), "")})
            b.log(f"scale rep {rep + 1}/{args.reps}: fakes alone {base:.2f} s, up --wait "
                  f"{up:.2f} s -> overhead {up - base:+.2f} s; status median "
                  f"{sorted(status)[len(status) // 2] * 1000:.1f} ms; down {down:.2f} s")
    finally:
        b.gridctl(manifest, "down", check=False)
    b.save(args.out, {"count": args.count, "reps": args.reps, "runs": runs})


if __name__ == "__main__":
    main()
