#!/usr/bin/env python3
"""Turns the scenario JSON files into the markdown table (stdout) and bench/RESULTS.md."""

import argparse
import json
import os
import statistics
import subprocess


def load(d, name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None


def mmm(values, fmt="{:.2f}"):
    v = sorted(values)
    return f"{fmt.format(v[0])} / {fmt.format(statistics.median(v))} / {fmt.format(v[-1])}"


def mark(ok):
    return "✅ met" if ok else "❌ missed"


def table(d):
    rows = ["| scenario | measurement | gridctl | baseline(s) in the same run | target | status |",
            "|---|---|---|---|---|---|"]
    s1 = load(d, "s1.json")
    if s1:
        runs = s1["runs"]
        gib = s1["bytes"] / (1 << 30)
        reps = s1["reps"]
        bare = [r["seconds"] for r in runs["bare-pty"]]

        def ratio(cfg):  # throughput relative to the bare PTY of the same repetition
            return [bare[i] / runs[cfg][i]["seconds"] for i in range(reps)]

        def cell(cfg):
            secs = [r["seconds"] for r in runs[cfg]]
            cpu = [r["consumer_cpu"] / gib for r in runs[cfg]]
            return (f"{mmm(secs)} s; **{mmm(ratio(cfg))}×** bare; "
                    f"CPU {statistics.median(cpu):.2f} s/GiB")

        base_cells = "; ".join(
            f"{c}: {mmm([r['seconds'] for r in runs[c]])} s = {mmm(ratio(c))}×, "
            f"CPU {statistics.median([r['consumer_cpu'] / gib for r in runs[c]]):.2f} s/GiB"
            for c in ["bare-pty", "tmux", "screen", "pipe-file"] if c in runs)
        size = f"{s1['bytes'] / (1 << 20):.0f} MiB" if gib < 1 else f"{gib:.0f} GiB"
        h = statistics.median(ratio("holder"))
        rows.append(f"| 1. throughput ({size}, {reps} reps) | holder, console log on, no viewer "
                    f"| {cell('holder')} | {base_cells} | ≥ 0.85× bare | {mark(h >= 0.85)} |")
        if "holder+view" in runs:
            hv = statistics.median(ratio("holder+view"))
            dropped = sum(1 for r in runs["holder+view"] if r.get("viewers_at_end") == 0)
            note = (f" ⚠ in {dropped} of {reps} reps the holder disconnected the viewer "
                    "before the end" if dropped else "")
            rows.append(f"| | holder, log on, 1 viewer | {cell('holder+view')}{note} | (same) "
                        f"| ≥ 0.8× bare | {mark(hv >= 0.8)} |")
    s2 = load(d, "s2.json")
    if s2:
        g = s2["groups"]
        n = s2["count"]

        def idle(name):
            x = g[name]
            return (f"{x['ticks_total']} ticks total, RSS {x['rss_total_kib'] / n / 1024:.2f} MiB"
                    f" / PSS {x['pss_total_kib'] / n / 1024:.2f} MiB per instance "
                    f"({x['processes']} proc)")
        hd = g["gridctl holders"]
        rss = statistics.median(hd["rss_kib"])
        ok = hd["ticks_total"] == 0 and rss <= 2048
        rows.append(f"| 2. idle ({n} fakes, {s2['window']:.0f} s) | holders' CPU ticks, memory "
                    f"| {idle('gridctl holders')}; max RSS {max(hd['rss_kib']) / 1024:.2f} MiB "
                    f"| tmux: {idle('tmux server')}; screen: {idle('screen sessions')} "
                    f"| 0 ticks, ≤ 2 MiB RSS each | {mark(ok)} "
                    f"({'0 ticks' if hd['ticks_total'] == 0 else 'ticks > 0'}, median RSS "
                    f"{'≤' if rss <= 2048 else '>'} 2 MiB) |")
    s3 = load(d, "s3.json")
    if s3:
        runs = s3["runs"]
        n = s3["count"]
        over = [r["overhead"] for r in runs]
        st = [x * 1000 for r in runs for x in r["status"]]
        rows.append(f"| 3. `up --wait` ({n} fakes, {len(runs)} reps) | total; overhead = total − "
                    f"fakes' own start | {mmm([r['up'] for r in runs])} s; overhead "
                    f"**{mmm(over)} s** | fakes started directly (1, then {n - 1} at once): "
                    f"{mmm([r['baseline'] for r in runs])} s | overhead ≤ 2 s "
                    f"| {mark(statistics.median(over) <= 2.0)} |")
        rows.append(f"| | `status` with {n} instances ({len(st)} calls) | {mmm(st, '{:.1f}')} ms "
                    f"(p90 {sorted(st)[int(len(st) * 0.9) - 1]:.1f} ms) | — | ≤ 100 ms "
                    f"| {mark(statistics.median(st) <= 100)} |")
        rows.append(f"| | `down` ({n}) | {mmm([r['down'] for r in runs])} s | — | — | — |")
    s4 = load(d, "s4.json")
    if s4:
        c = s4["clients"]
        g, t = c["gridctl attach"], c["tmux attach"]
        rows.append(f"| 4. attach echo ({s4['keys']} keys each) | p50 / p99 (max) "
                    f"| {g['p50']:.3f} / **{g['p99']:.3f}** ms ({g['max']:.2f}) "
                    f"| tmux attach: {t['p50']:.3f} / {t['p99']:.3f} ms ({t['max']:.2f}) "
                    f"| p99 ≤ tmux's | {mark(g['p99'] <= t['p99'])} |")
    return "\n".join(rows)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.rstrip()
    except OSError:
        return "?"


def machine():
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    return "\n".join([
        f"- date: {sh('date -u +%Y-%m-%dT%H:%M:%SZ')}",
        f"- CPU: {cpu}, `nproc` = {sh('nproc')}",
        f"- kernel: {sh('uname -srm')}",
        f"- OS: {sh('. /etc/os-release && echo $PRETTY_NAME')}",
        f"- tools: {sh('tmux -V')}, {sh('screen --version')}, {sh('rustc --version')}",
        "- load average at the end: " + " ".join(open("/proc/loadavg").read().split()[:3]) + " "
        "(the machine is shared: other builds and tests ran during the benchmark)",
        "- memory (`free -h`):",
        "",
        "```",
        sh("free -h"),
        "```",
    ])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--write", help="write RESULTS.md here")
    ap.add_argument("--command", default="bench/run.sh")
    args = ap.parse_args()
    t = table(args.results)
    print(t)
    if args.write:
        notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
        with open(args.write, "w") as f:
            f.write("# gridctl benchmark results\n\n")
            f.write(f"Produced by `{args.command}` (see bench/README.md for what each "
                    "scenario measures). Times are min / median / max over the repetitions; "
                    "ratios compare with the baseline of the **same repetition**.\n\n")
            f.write("## Machine\n\n" + machine() + "\n\n## Results\n\n" + t + "\n")
            if os.path.exists(notes):
                f.write("\n" + open(notes).read())
            f.write("\n## Raw data\n\n")
            for name in ["s1.json", "s2.json", "s3.json", "s4.json"]:
                d = load(args.results, name)
                if d:
                    f.write(f"<details><summary>{name}</summary>\n\n```json\n"
                            f"{json.dumps(d, indent=1)}\n```\n</details>\n\n")


if __name__ == "__main__":
    main()
