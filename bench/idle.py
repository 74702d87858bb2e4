#!/usr/bin/env python3
"""Scenario 2 — idle cost.

20 fake Robust copies idle for WINDOW seconds under each supervisor, all three at the same
time (idle processes do not compete; the window is the same for all): gridctl holders
(`gridctl up --wait`), one tmux server with 20 detached sessions, and 20 detached GNU
screen sessions. Each runs the exact command line `gridctl plan --json` gives (three
grids on different ports). Measured: CPU ticks of the supervising processes over the
window (utime+stime from /proc, 1 tick = 1/CLK_TCK s) and their RSS/PSS at its end.

With BENCH_GRIDCTL_ALT=/path/to/other/gridctl, a fourth group runs the same 20 copies under
that build's holders, in the same window (before/after comparison).
"""

import argparse
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402


def screen_pids(screendir):
    pids = []
    for entry in os.listdir(screendir):
        pid = entry.split(".", 1)[0]
        if pid.isdigit():
            pids.append(int(pid))
    return pids


def sample(pids):
    return {pid: b.cpu_ticks(pid) for pid in pids}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    n = args.count
    work = os.path.join(args.work, "s2")
    os.makedirs(work, exist_ok=True)

    g_manifest = b.make_grid(os.path.join(work, "gridctl"), "idleg", n, 20000)
    t_manifest = b.make_grid(os.path.join(work, "tmux"), "idlet", n, 20100)
    s_manifest = b.make_grid(os.path.join(work, "screen"), "idles", n, 20200)
    b.gridctl(t_manifest, "render")
    b.gridctl(s_manifest, "render")
    tmux_sock = os.path.join(work, "tmux.sock")
    tmux = ["tmux", "-S", tmux_sock, "-f", "/dev/null"]
    screendir = os.path.join(work, "screendir")
    os.makedirs(screendir, mode=0o700, exist_ok=True)
    os.chmod(screendir, 0o700)
    alt = os.environ.get("BENCH_GRIDCTL_ALT")
    a_manifest = b.make_grid(os.path.join(work, "alt"), "idlea", n, 20300) if alt else None
    tmux_server = None
    result = {}
    try:
        b.gridctl(g_manifest, "up", "--wait")
        holders = b.holder_pids(g_manifest)
        if alt:
            subprocess.run([alt, "-f", a_manifest, "up", "--wait"], check=True,
                           stdin=subprocess.DEVNULL, capture_output=True)

        for i, inst in enumerate(b.plan_instances(t_manifest)):
            # The environment goes through env(1): tmux would read a trailing `;` in
            # `-e NAME=VALUE` as a command separator.
            cmd = shlex.join(["env", *[f"{k}={v}" for k, v in inst["env"].items()],
                              *inst["argv"]])
            subprocess.run(tmux + ["new-session", "-d", "-s", inst["name"], "-x", "200",
                                   "-y", "50", "-c", inst["cwd"], cmd], check=True)
            if i == 0:
                tmux_server = int(subprocess.run(tmux + ["display-message", "-p", "#{pid}"],
                                                 check=True, capture_output=True,
                                                 text=True).stdout.strip())
        for inst in b.plan_instances(s_manifest):
            env = dict(os.environ, SCREENDIR=screendir, **inst["env"])
            subprocess.run(["screen", "-dmS", inst["name"], *inst["argv"]], env=env,
                           cwd=inst["cwd"], check=True)
        b.wait_ports([20100 + i for i in range(n)] + [20200 + i for i in range(n)])
        screens = screen_pids(screendir)
        assert len(screens) == n, f"{len(screens)} screen sessions"
        groups = {"gridctl holders": holders, "tmux server": [tmux_server],
                  "screen sessions": screens}
        if alt:
            groups["alt build holders"] = b.holder_pids(a_manifest)
        time.sleep(2.0)  # let every console settle (prompts, cursor queries)
        before = {g: sample(p) for g, p in groups.items()}
        b.log(f"idle: {n} instances under each of gridctl, tmux, screen; "
              f"sampling for {args.window:.0f} s")
        time.sleep(args.window)
        for g, pids in groups.items():
            after = sample(pids)
            ticks = [after[p] - before[g][p] for p in pids]
            rss = [b.rss_kib(p) for p in pids]
            pss = [b.pss_kib(p) for p in pids]
            result[g] = {"processes": len(pids), "instances": n, "ticks": ticks,
                         "ticks_total": sum(ticks), "rss_kib": rss, "rss_total_kib": sum(rss),
                         "pss_kib": pss, "pss_total_kib": sum(pss)}
            b.log(f"idle: {g:17s} {len(pids):3d} proc  ticks total {sum(ticks):4d}  "
                  f"RSS total {sum(rss) / 1024:6.1f} MiB  PSS total {sum(pss) / 1024:6.1f} MiB "
                  f"(per instance RSS {sum(rss) / n / 1024:.2f} MiB)")
    finally:
        b.gridctl(g_manifest, "down", check=False)
        if alt:
            subprocess.run([alt, "-f", a_manifest, "down"], stdin=subprocess.DEVNULL,
                           capture_output=True)
        if tmux_server:
            subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL)
        subprocess.run(["screen", "-wipe"], env=dict(os.environ, SCREENDIR=screendir),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for pid in screen_pids(screendir):
            b.stop_pid(pid, grace=2)
    b.save(args.out, {"count": n, "window": args.window, "clk_tck": b.CLK_TCK,
                      "groups": result})


if __name__ == "__main__":
    main()
