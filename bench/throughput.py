#!/usr/bin/env python3
"""Scenario 1 — console throughput.

A child (tools/logwriter) writes BYTES of typical Robust log lines as fast as it can.
Every configuration runs the same writer; the time reported is the writer's own, from
its first write to its last write returning (so daemon start-up is not counted, and the
PTY back-pressure of a slow reader is). Configurations, interleaved within each
repetition so that machine noise spreads over all of them:

  bare-pty     tools/ptydrain: a PTY master read in 64 KiB reads into /dev/null (the limit)
  holder       gridctl's holder (console log on, default 10 MiB x 5 rotation), no viewer
  holder+view  the same with one attached viewer (a socket client reading and discarding)
  tmux         tmux 3 server, detached session, no client
  screen       GNU screen, `screen -D -m` (detached), no client
  pipe-file    a plain pipe drained into a file (what supervisord does)

Consumer CPU = CPU of the consuming process(es) during the run (the writer's own CPU
excluded).

With BENCH_GRIDCTL_ALT=/path/to/other/gridctl (its gridctl-holder next to it), the default
set also runs `holder-alt` and `holder-alt+view`: the same two holder configurations with
that build, interleaved in the same repetitions (before/after comparisons).
"""

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

LOGWRITER = os.path.join(b.TOOLS, "logwriter")
PTYDRAIN = os.path.join(b.TOOLS, "ptydrain")
CONFIGS = ["bare-pty", "holder", "holder+view", "tmux", "screen", "pipe-file"]


def read_marker(path, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"producer did not finish within {timeout} s")
        time.sleep(0.01)
    elapsed, user, system = (float(x) for x in open(path).read().split())
    return elapsed, user + system


def wait_rusage(proc):
    """Waits for `proc`; CPU of it and everything it reaped (seconds)."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime


def run_bare(work, nbytes, timeout, pipe=False):
    marker = os.path.join(work, "done")
    out = os.path.join(work, "pipe.out") if pipe else "/dev/null"
    proc = subprocess.Popen([PTYDRAIN, "--pipe" if pipe else "--pty", out, LOGWRITER,
                             str(nbytes), marker], stdout=subprocess.DEVNULL)
    cpu_all = wait_rusage(proc)
    elapsed, writer_cpu = read_marker(marker, timeout)
    if pipe:
        size = os.path.getsize(out)
        assert size == nbytes, f"pipe file has {size} bytes, expected {nbytes}"
        os.unlink(out)
    return elapsed, cpu_all - writer_cpu, {}


class Viewer(threading.Thread):
    """An attached viewer that reads and discards everything (python, 1 MiB reads)."""

    def __init__(self, sock_path):
        super().__init__(daemon=True)
        self.sock = b.connect(sock_path)
        reply = b.request(self.sock, {"type": "attach", "read_only": True, "rows": 50,
                                      "cols": 200})
        assert reply.get("type") == "attached", reply
        self.sock.settimeout(None)
        self.received = 0

    def run(self):
        buf = bytearray(1 << 20)
        try:
            while True:
                n = self.sock.recv_into(buf)
                if n == 0:
                    return
                self.received += n
        except OSError:
            return


def run_holder(work, nbytes, timeout, viewer=False, gridctl=None):
    marker = os.path.join(work, "done")
    go = os.path.join(work, "go")
    hdir = os.path.join(work, "holder")
    spec_path, spec = b.write_spec(hdir, "throughput", LOGWRITER, [str(nbytes), marker, go])
    pid = b.start_holder(spec_path, spec, gridctl=gridctl)
    view = None
    try:
        if viewer:
            view = Viewer(spec["socket"])
            view.start()
        ticks0 = b.cpu_ticks(pid)
        open(go, "w").close()
        elapsed, _ = read_marker(marker, timeout)
        ticks = b.cpu_ticks(pid) - ticks0
        extra = {}
        st = b.holder_status(spec["socket"])
        if viewer:
            extra["viewers_at_end"] = st.get("viewers")
            extra["viewer_bytes"] = view.received
        logs = [f for f in os.listdir(os.path.join(hdir, "log")) if f.startswith("console.log")]
        extra["log_bytes"] = sum(os.path.getsize(os.path.join(hdir, "log", f)) for f in logs)
    finally:
        b.stop_pid(pid)
        if view:
            view.sock.close()
    shutil.rmtree(hdir, ignore_errors=True)
    return elapsed, ticks / b.CLK_TCK, extra


def run_tmux(work, nbytes, timeout):
    marker = os.path.join(work, "done")
    go = os.path.join(work, "go")
    sock = os.path.join(work, "tmux.sock")
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    cmd = f"{LOGWRITER} {nbytes} {marker} {go}"
    subprocess.run(tmux + ["new-session", "-d", "-s", "tp", "-x", "200", "-y", "50", cmd,
                           ";", "set-option", "-g", "remain-on-exit", "on"], check=True)
    server = int(subprocess.run(tmux + ["display-message", "-p", "#{pid}"], check=True,
                                capture_output=True, text=True).stdout.strip())
    try:
        ticks0 = b.cpu_ticks(server)
        open(go, "w").close()
        elapsed, _ = read_marker(marker, timeout)
        # The writer's last bytes may still sit in the PTY: let tmux finish them.
        time.sleep(0.05)
        ticks = b.cpu_ticks(server) - ticks0
    finally:
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)
        b.stop_pid(server, grace=2)
    return elapsed, ticks / b.CLK_TCK, {}


def run_screen(work, nbytes, timeout):
    marker = os.path.join(work, "done")
    screendir = os.path.join(work, "screen")
    os.makedirs(screendir, mode=0o700, exist_ok=True)
    os.chmod(screendir, 0o700)
    env = dict(os.environ, SCREENDIR=screendir, TERM="xterm-256color")
    # -D -m: a detached session that stays in the foreground, so it is our child.
    proc = subprocess.Popen(["screen", "-D", "-m", "-S", "bench-tp", LOGWRITER, str(nbytes),
                             marker], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cpu_all = wait_rusage(proc)
    except BaseException:
        b.stop_pid(proc.pid)
        raise
    elapsed, writer_cpu = read_marker(marker, 5)
    return elapsed, cpu_all - writer_cpu, {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    alt = ["holder-alt", "holder-alt+view"] if os.environ.get("BENCH_GRIDCTL_ALT") else []
    ap.add_argument("--configs", default=",".join(CONFIGS + alt))
    args = ap.parse_args()
    configs = args.configs.split(",")
    timeout = max(120.0, args.bytes / (5 << 20))  # no slower than 5 MiB/s
    runners = {
        "bare-pty": lambda w: run_bare(w, args.bytes, timeout),
        "holder": lambda w: run_holder(w, args.bytes, timeout),
        "holder+view": lambda w: run_holder(w, args.bytes, timeout, viewer=True),
        "tmux": lambda w: run_tmux(w, args.bytes, timeout),
        "screen": lambda w: run_screen(w, args.bytes, timeout),
        "pipe-file": lambda w: run_bare(w, args.bytes, timeout, pipe=True),
        # For profiling experiments with another gridctl build (not in the default set).
        # (BENCH_GRIDCTL_ALT=path; the holder inherits this process's environment).
        "holder-alt": lambda w: run_holder(w, args.bytes, timeout,
                                           gridctl=os.environ.get("BENCH_GRIDCTL_ALT")),
        "holder-alt+view": lambda w: run_holder(w, args.bytes, timeout, viewer=True,
                                                gridctl=os.environ.get("BENCH_GRIDCTL_ALT")),
    }
    results = {c: [] for c in configs}
    for rep in range(args.reps):
        for c in configs:
            work = os.path.join(args.work, f"s1-{c.replace('+', '-')}-{rep}")
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            elapsed, cpu, extra = runners[c](work)
            shutil.rmtree(work, ignore_errors=True)
            results[c].append({"seconds": elapsed, "consumer_cpu": cpu, **extra})
            mbps = args.bytes / elapsed / 1e6
            b.log(f"throughput rep {rep + 1}/{args.reps} {c:12s} {elapsed:7.2f} s "
                  f"{mbps:7.1f} MB/s  consumer CPU {cpu:6.2f} s {extra if extra else ''}")
    b.save(args.out, {"bytes": args.bytes, "reps": args.reps, "runs": results})
    # Ratios against the bare PTY of the same repetition (min / median / max).
    if "bare-pty" in results:
        bare = [r["seconds"] for r in results["bare-pty"]]
        for c in configs:
            ratios = sorted(bare[i] / r["seconds"] for i, r in enumerate(results[c]))
            cpu = sorted(r["consumer_cpu"] for r in results[c])
            b.log(f"throughput {c:15s} x bare min/median/max "
                  f"{ratios[0]:.2f} / {statistics.median(ratios):.2f} / {ratios[-1]:.2f}; "
                  f"consumer CPU median {statistics.median(cpu):.2f} s")


if __name__ == "__main__":
    main()
