#!/usr/bin/env bash
# gridctl benchmarks: one command runs every scenario and prints a markdown table.
#
#   bench/run.sh            full run (1 GiB throughput, 3 repetitions), writes bench/RESULTS.md
#   bench/run.sh --quick    100 MB, for development (RESULTS.md is left alone)
#
# Environment: BENCH_BYTES (default 1073741824), BENCH_REPS (3), BENCH_IDLE_SECONDS (30),
# BENCH_KEYS (1000), BENCH_SCALE (1000; --quick too), BENCH_ONLY (e.g. "1,3": run only those scenarios),
# BENCH_GRIDCTL_ALT (another build's gridctl: scenarios 1, 2 and 4 also measure its holder).
# See bench/README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
cd "$root"

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if [ "$quick" = 1 ]; then
  bytes="${BENCH_BYTES:-100000000}"
else
  bytes="${BENCH_BYTES:-1073741824}"
fi
reps="${BENCH_REPS:-3}"
idle="${BENCH_IDLE_SECONDS:-30}"
keys="${BENCH_KEYS:-1000}"
# Scenario 3's copies: --quick changes only the throughput bytes, so BENCH_SCALE holds for both.
scale="${BENCH_SCALE:-1000}"
only="${BENCH_ONLY:-1,2,3,4}"
started=$(date +%s)

say() { printf '[bench] %s\n' "$*"; }

# --- dependencies: tmux and GNU screen from Debian ------------------------------------------
missing=()
for tool in tmux screen; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
for tool in python3 cc cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: $tool is required" >&2; exit 1; }
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing ${missing[*]} (apt-get)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- build ----------------------------------------------------------------------------------
say "cargo build --release"
# The holder is its own binary (crates/gridctl-holder); gridctl starts it from its own directory.
cargo build --release --quiet --bin gridctl --bin fake-robust --bin gridctl-holder
mkdir -p "$here/tools/bin"
cc -O2 -Wall -o "$here/tools/bin/logwriter" "$here/tools/logwriter.c"
cc -O2 -Wall -o "$here/tools/bin/ptydrain" "$here/tools/ptydrain.c" -lutil

# --- scratch space and cleanup of everything this run started ------------------------------
work="$(mktemp -d /tmp/gridctl-bench.XXXXXX)"
results="$work/results"
mkdir -p "$results"
cleanup() {
  set +e
  # Grids: graceful down (only manifests this run wrote).
  while IFS= read -r m; do
    "$root/target/release/gridctl" -f "$m" down >/dev/null 2>&1
  done < <(find "$work" -name grid.toml 2>/dev/null)
  # Bare holders of scenario 1, by their pid files.
  while IFS= read -r p; do
    pid="$(cat "$p" 2>/dev/null)"
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done < <(find "$work" -name holder.pid 2>/dev/null)
  # tmux servers on this run's sockets; screen sessions in this run's SCREENDIRs.
  while IFS= read -r s; do tmux -S "$s" kill-server 2>/dev/null; done \
    < <(find "$work" -name 'tmux.sock' 2>/dev/null)
  while IFS= read -r d; do
    for e in "$d"/*; do
      pid="${e##*/}"; pid="${pid%%.*}"
      case "$pid" in ''|*[!0-9]*) ;; *) kill -TERM "$pid" 2>/dev/null ;; esac
    done
  done < <(find "$work" -type d \( -name screen -o -name screendir \) 2>/dev/null)
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export BENCH_TOOLS="$here/tools/bin"
run_scenario() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

if run_scenario 1; then
  say "1/4 console throughput: $bytes bytes x $reps repetitions"
  python3 "$here/throughput.py" --bytes "$bytes" --reps "$reps" --work "$work" \
    --out "$results/s1.json"
fi
if run_scenario 2; then
  say "2/4 idle cost: 20 instances, ${idle} s"
  python3 "$here/idle.py" --count 20 --window "$idle" --work "$work" --out "$results/s2.json"
fi
if run_scenario 3; then
  say "3/4 scale of up: $scale instances x $reps repetitions"
  python3 "$here/scale.py" --count "$scale" --reps "$reps" --work "$work" \
    --out "$results/s3.json"
fi
if run_scenario 4; then
  say "4/4 attach latency: $keys keystrokes per client"
  python3 "$here/attach_latency.py" --keys "$keys" --work "$work" --out "$results/s4.json"
fi

say "done in $(( $(date +%s) - started )) s"
echo
if [ "$quick" = 0 ] && [ "$only" = "1,2,3,4" ]; then
  python3 "$here/report.py" --results "$results" --write "$here/RESULTS.md" \
    --command "bench/run.sh"
  say "wrote bench/RESULTS.md"
else
  python3 "$here/report.py" --results "$results"
fi
