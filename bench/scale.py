#!/usr/bin/env python3
"""Scenario 3 — scale of `up`, and `status` latency.

`--count` fake Robust copies (1,000 by default; fast-start knob: StartDelayMs = 0) of
one role, on 127.0.0.1 ports inside the bench's range 19000–21599.

- baseline: the fakes' own start time, measured in the same run: the same command lines
  (from `gridctl plan --json`) started directly on PTYs by this script, in the same order
  `up` uses (the first copy alone, then the others at once), until every console shows
  its prompt (cursor queries answered);
- `gridctl up --wait` from nothing to all-ready (wall time of the command);
- gridctl's overhead = up minus baseline;
- `gridctl status` latency with the 100 running (wall time of the command, N calls);
- `gridctl down` (reported, no target).
"""

import argparse
import os
import re
import resource
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
# The console redraws its prompt with cursor moves around it (ESC [ row ; col H).
CSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


# The bench's port range is 19000-21599: small grids keep their usual ports, large ones
# start lower so that every copy fits.
PORT_LIMIT = 21600


def base_port(count):
    base = 21000 if count <= PORT_LIMIT - 21000 else 19000
    if base + count > PORT_LIMIT:
        raise SystemExit(f"scale: {count} copies do not fit in ports 19000-{PORT_LIMIT - 1}")
    return base


def raise_nofile():
    """A PTY master per copy (and gridctl's sockets): lift the soft fd limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def start_direct(instances, timeout=60.0):
    """Starts every instance on its own PTY at once; returns when all show the prompt.
    On failure every process it started is stopped (by its pid) before it raises."""
    procs = []
    fds = {}
    try:
        for inst in instances:
            env = dict(os.environ, **inst["env"])
            proc, master = b.spawn_on_pty(inst["argv"], env=env, cwd=inst["cwd"])
            procs.append(proc)
            fds[master] = bytearray()
        wait_prompts(fds, timeout)
    except BaseException:
        stop_direct(procs, list(fds))
        raise
    return procs, list(fds)


def wait_prompts(fds, timeout):
    # poll, not select: select stops at fd 1024.
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    pending = set(fds)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} fakes never showed the prompt")
        for fd, _ in poller.poll(500):
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
            if CSI.sub(b"", buf).endswith(PROMPT):
                pending.discard(fd)
                poller.unregister(fd)
            else:
                # Keep only a tail, without half a query answered twice.
                buf[:] = buf.replace(CPR_QUERY, b"")


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


def stop_leftovers(instances):
    """After `gridctl down`: SIGTERM any holder or copy still running from this grid, by
    the pids in its own instance directories (nothing else is touched)."""
    for inst in instances:
        for name in ("holder.pid", "Robust.pid"):
            try:
                with open(os.path.join(inst["dir"], name)) as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                continue
            if b.pid_alive(pid) and started_here(pid, inst):
                b.stop_pid(pid, grace=2.0)


def started_here(pid, inst):
    """Whether `pid` is still this copy's holder or fake (a pid file may outlive its
    process, and the pid be reused): its command line names the instance directory
    (holder) or it runs in the copy's directory (fake)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if inst["dir"].encode() in f.read():
                return True
        return os.readlink(f"/proc/{pid}/cwd") in (inst["cwd"], inst["dir"])
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--status-calls", type=int, default=20)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    raise_nofile()
    work = os.path.join(args.work, "s3")
    shutil.rmtree(work, ignore_errors=True)
    manifest = b.make_grid(work, "scale", args.count, base_port(args.count))
    b.gridctl(manifest, "render")
    instances = b.plan_instances(manifest)
    ports = [i["port"] for i in instances]
    # Generous bounds that still end a hung run: about 0.1 s per copy on top of a minute.
    slow = 60.0 + 0.1 * args.count
    runs = []
    try:
        for rep in range(args.reps):
            # Baseline: the fakes alone.
            t0 = time.monotonic()
            p1, m1 = start_direct(instances[:1], timeout=slow)
            t1 = time.monotonic()
            try:
                p2, m2 = start_direct(instances[1:], timeout=slow)
            except BaseException:
                stop_direct(p1, m1)
                raise
            t2 = time.monotonic()
            first = t1 - t0
            stop_direct(p1 + p2, m1 + m2)
            b.wait_ports_closed(ports, timeout=slow)
            base = t2 - t0

            t0 = time.monotonic()
            up_out = b.gridctl(manifest, "up", "--wait", timeout=5 * slow).stdout
            up = time.monotonic() - t0
            status = []
            for _ in range(args.status_calls):
                s0 = time.monotonic()
                out = b.gridctl(manifest, "status", timeout=slow).stdout
                status.append(time.monotonic() - s0)
            ready = out.count("ready")
            assert ready >= args.count, f"only {ready} ready:\n{out}"
            t0 = time.monotonic()
            b.gridctl(manifest, "down", timeout=5 * slow)
            down = time.monotonic() - t0
            b.wait_ports_closed(ports, timeout=slow)
            st_ms = [x * 1000 for x in status]
            runs.append({"baseline": base, "baseline_first": first, "up": up,
                         "overhead": up - base, "status": status,
                         "status_p90": b.percentile(status, 90), "down": down,
                         "up_output_tail": up_out.splitlines()[-6:],
                         "up_first_ready": next((l for l in up_out.splitlines()
                                                 if "ready after" in l), "")})
            b.log(f"scale rep {rep + 1}/{args.reps} ({args.count} copies): fakes alone "
                  f"{base:.2f} s, up --wait {up:.2f} s -> overhead {up - base:+.2f} s; "
                  f"status min/median/p90/max {min(st_ms):.1f}/"
                  f"{sorted(st_ms)[len(st_ms) // 2]:.1f}/{b.percentile(st_ms, 90):.1f}/"
                  f"{max(st_ms):.1f} ms; down {down:.2f} s")
    finally:
        try:
            b.gridctl(manifest, "down", check=False, timeout=5 * slow)
        finally:
            stop_leftovers(instances)
    b.save(args.out, {"count": args.count, "reps": args.reps, "runs": runs})


if __name__ == "__main__":
    main()
