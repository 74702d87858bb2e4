#!/usr/bin/env bash
# bench/roll.sh — what a live change costs the requests going through nginx.
#
# Starts a grid of fake Robust copies (core + 3 asset copies) behind an nginx of its
# own (own prefix, config, pid file and error log in a temp dir, loopback ports only),
# then drives GET /assets/<id> and POST /assets through nginx's private listener with
# wrk at full speed (closed loop: as fast as this machine answers):
#   steady  — nothing changes, $STEADY_SECS seconds;
#   per operation, $ROUNDS times each, wrk started before and stopped (SIGINT) after it:
#     `restart --rolling asset` (3 copies), `scale asset=4` (up), `scale asset=3` (down);
# for two client kinds: keep-alive connections, and a new connection per request.
# Prints per phase and per operation: requests, non-2xx, socket errors, read errors
# (on keep-alive: idle connections nginx's old workers closed at a reload, seen by a
# client that had just sent a request on them), nginx reloads the command did (its
# "nginx: reloaded N time(s)" line), and read errors per reload.
#
# One command: `bench/roll.sh` (about a minute with the defaults). Installs wrk with
# apt-get if it is missing.
# Env: STEADY_SECS (5) ROUNDS (2) THREADS (2) CONNS (16) DRAIN (300ms) KEEP=1 (keep the temp dir)
# Everything it starts is stopped by pid on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STEADY_SECS=${STEADY_SECS:-5}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
CONNS=${CONNS:-16}
DRAIN=${DRAIN:-300ms}
HOST=asset.robust.internal

log() { printf '%s\n' "$*" >&2; }

# --- wrk --------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    log "installing wrk (apt-get)..."
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
command -v nginx >/dev/null || { log "nginx is not installed"; exit 1; }

# --- build ------------------------------------------------------------------------
log "building release binaries..."
(cd "$ROOT" && cargo build --release --quiet --bin gridctl --bin fake-robust)
GRIDCTL="$ROOT/target/release/gridctl"
FAKE="$ROOT/target/release/fake-robust"

# --- scratch dir, cleanup ------------------------------------------------------------
# Short path: holder sockets live under it.
DIR=$(mktemp -d /tmp/grb.XXXXXX)
NGINX_PID=""
WRK_PID=""
declare -A SEEN_PIDS=()

record_pids() {
    local p
    for p in $("$GRIDCTL" -f "$DIR/grid.toml" status --json 2>/dev/null |
        grep -oE '"(pid|holder_pid)": [0-9]+' | grep -oE '[0-9]+$'); do
        SEEN_PIDS[$p]=1
    done
}

ours() { # pid is alive and its command line names our scratch dir
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$DIR"
}

cleanup() {
    local rc=$?
    set +e
    if [ -n "$WRK_PID" ] && kill -0 "$WRK_PID" 2>/dev/null; then
        kill -KILL "$WRK_PID" 2>/dev/null; wait "$WRK_PID" 2>/dev/null
    fi
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        local workers
        workers=$(cat /proc/"$NGINX_PID"/task/*/children 2>/dev/null)
        kill -QUIT "$NGINX_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$NGINX_PID" 2>/dev/null; then
            kill -KILL "$NGINX_PID" 2>/dev/null
            for w in $workers; do kill -KILL "$w" 2>/dev/null; done
        fi
        wait "$NGINX_PID" 2>/dev/null
    fi
    if [ -f "$DIR/grid.toml" ]; then
        record_pids
        timeout 30 "$GRIDCTL" -f "$DIR/grid.toml" down >/dev/null 2>&1
        for p in "${!SEEN_PIDS[@]}"; do
            if ours "$p"; then kill -KILL "$p" 2>/dev/null; fi
        done
    fi
    if [ "${KEEP:-}" = 1 ]; then log "kept $DIR"; else rm -rf "$DIR"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- ports: a free run of 10 below the ephemeral range --------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
BASE=""
for _ in $(seq 200); do
    b=$((21000 + RANDOM % 9000))
    ok=1
    for i in $(seq 0 9); do port_free $((b + i)) || { ok=0; break; }; done
    if [ $ok = 1 ]; then BASE=$b; break; fi
done
[ -n "$BASE" ] || { log "no free port range"; exit 1; }
PUB=$((BASE + 8))
PRIV=$((BASE + 9))

mkdir -p "$DIR"/{logs,tmp,nginx}
NGX=(-p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log")
cat >"$DIR/grid.toml" <<EOF
# bench/roll.sh grid: fake Robust copies behind the bench's own nginx.
[grid]
name = "Roll Bench"
domain = "grid.localhost"

[robust]
bin_dir = "$ROOT/examples/fake-bin"
command = ["$FAKE", "Robust.dll"]

[database]
provider = "mysql"
connection = "x"

[nginx]
output = "nginx/grid.conf"
test_command = ["nginx", "-t", "-q", "-p", "$DIR/", "-c", "$DIR/nginx.conf", "-e", "$DIR/logs/error.log"]
reload_command = ["nginx", "-s", "reload", "-p", "$DIR/", "-c", "$DIR/nginx.conf", "-e", "$DIR/logs/error.log"]
public_listen = "127.0.0.1:$PUB"
private_listen = "127.0.0.1:$PRIV"
drain = "$DRAIN"

[supervise]
ready_timeout = "10s"
stop_timeout = "3s"

[roles.core]
services = ["grid", "gridinfo", "auth", "useraccount", "avatar", "griduser", "presence",
            "inventory", "login"]
port = $BASE
public_port = $((BASE + 1))

[roles.asset]
services = ["asset"]
instances = 3
port = $((BASE + 2))
EOF
cat >"$DIR/nginx.conf" <<EOF
# bench/roll.sh's own nginx: nothing outside $DIR.
daemon off;
worker_processes auto;
pid $DIR/logs/nginx.pid;
error_log $DIR/logs/error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $DIR/tmp/body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    include $DIR/nginx/grid.conf;
}
EOF
cat >"$DIR/load.lua" <<'EOF'
-- Two GETs of an asset, then one POST of a new one; HOST and CLOSE come from the env.
local host = os.getenv("BENCH_HOST")
local close = os.getenv("BENCH_CLOSE") == "1"
local n = 0
local body = '<?xml version="1.0"?><AssetBase><Data>AAAA</Data><Name>bench</Name><Type>0</Type></AssetBase>'
local get_h = { ["Host"] = host }
local post_h = { ["Host"] = host, ["Content-Type"] = "text/xml" }
if close then get_h["Connection"] = "close"; post_h["Connection"] = "close" end
request = function()
  n = n + 1
  if n % 3 == 0 then
    return wrk.format("POST", "/assets", post_h, body)
  end
  return wrk.format("GET", string.format("/assets/00000000-0000-4000-8000-%012d", n), get_h)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50=%d p99=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
EOF

# --- grid + nginx -------------------------------------------------------------------
G() { "$GRIDCTL" -f "$DIR/grid.toml" "$@"; }
log "starting the grid in $DIR (ports $BASE..$PRIV)..."
# nginx first: `up` drives it (copies join their upstream once ready, then a reload).
G render-nginx -o "$DIR/nginx/grid.conf" 2>/dev/null
nginx -t -q "${NGX[@]}"
nginx "${NGX[@]}" </dev/null >/dev/null 2>&1 &
NGINX_PID=$!
for _ in $(seq 100); do [ -s "$DIR/logs/nginx.pid" ] && break; sleep 0.05; done
[ "$(cat "$DIR/logs/nginx.pid" 2>/dev/null)" = "$NGINX_PID" ] || { log "nginx did not start"; exit 1; }
for _ in $(seq 100); do port_free "$PRIV" || break; sleep 0.05; done
G up --wait >/dev/null
record_pids
curl -fsS -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$PRIV/assets/00000000-0000-4000-8000-000000000001" 2>/dev/null ||
    { log "no answer through nginx"; exit 1; }

URL="http://127.0.0.1:$PRIV/"
export BENCH_HOST=$HOST

# wrk_run NAME SECONDS → runs wrk for a fixed time, output in $DIR/NAME.out
wrk_run() {
    wrk -t"$THREADS" -c"$CONNS" -d"$2s" --timeout 5s -s "$DIR/load.lua" "$URL" >"$DIR/$1.out" 2>&1
}

# wrk_op NAME CMD... → wrk runs while one gridctl command changes the grid, then gets
# SIGINT; the command's reload count is appended to $DIR/NAME.reloads.
wrk_op() {
    local name=$1; shift
    wrk -t"$THREADS" -c"$CONNS" -d600s --timeout 5s -s "$DIR/load.lua" "$URL" >>"$DIR/$name.out" 2>&1 &
    WRK_PID=$!
    sleep 0.2 # let wrk connect before the change
    local t0 t1 out
    t0=$(date +%s.%N)
    out=$(G "$@" 2>&1) || log "gridctl $* failed: $out"
    t1=$(date +%s.%N)
    printf '%s\n' "$out" >>"$DIR/$name.cmds"
    kill -INT "$WRK_PID"
    wait "$WRK_PID" || true
    WRK_PID=""
    echo "$out" | grep -oE 'nginx: reloaded [0-9]+' | grep -oE '[0-9]+$' | tail -1 >>"$DIR/$name.reloads"
    printf '%.2f\n' "$(echo "$t1 - $t0" | bc)" >>"$DIR/$name.secs"
    record_pids
}

# One round per $ROUNDS: a rolling restart of the 3 copies, a scale up to 4, back down to 3.
ops_series() { # MODE
    local r
    for r in $(seq "$ROUNDS"); do
        wrk_op "roll-$1" restart --rolling asset
        wrk_op "up-$1" scale asset=4
        wrk_op "down-$1" scale asset=3
    done
}

# Sum of KEY over the RESULT lines of NAME.out (one per wrk run; p50/p99: the largest).
field() {
    case $2 in
    p50 | p99) grep -oE "$2=[0-9]+" "$DIR/$1.out" | cut -d= -f2 | sort -n | tail -1 ;;
    *) grep -oE "$2=[0-9]+" "$DIR/$1.out" | cut -d= -f2 | paste -sd+ | bc ;;
    esac
}

sum_file() { [ -s "$DIR/$1" ] && paste -sd+ "$DIR/$1" | bc || echo 0; }

op_row() { # NAME LABEL
    local req non2xx sock read reloads per secs
    req=$(field "$1" requests); non2xx=$(field "$1" status); read=$(field "$1" read)
    sock=$(( $(field "$1" connect) + read + $(field "$1" write) + $(field "$1" timeout) ))
    reloads=$(sum_file "$1.reloads")
    if [ "$reloads" -gt 0 ]; then per=$(echo "scale=2; $read / $reloads" | bc); else per="-"; fi
    secs=$(paste -sd' ' "$DIR/$1.secs" | sed 's/ /s, /g')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %ss |\n' \
        "$2" "$ROUNDS" "$req" "$non2xx" "$sock" "$read" "$reloads" "$per" "$secs"
}

row() { # NAME LABEL
    local req dur non2xx sock rps p50 p99
    req=$(field "$1" requests); dur=$(field "$1" duration_us)
    non2xx=$(field "$1" status)
    sock=$(( $(field "$1" connect) + $(field "$1" read) + $(field "$1" write) + $(field "$1" timeout) ))
    rps=$(echo "scale=0; $req * 1000000 / $dur" | bc)
    p50=$(echo "scale=2; $(field "$1" p50) / 1000" | bc)
    p99=$(echo "scale=2; $(field "$1" p99) / 1000" | bc)
    printf '| %s | %.1f s | %s | %s | %s (c %s / r %s / w %s / t %s) | %s | %s ms | %s ms |\n' \
        "$2" "$(echo "scale=2; $dur / 1000000" | bc)" "$req" "$non2xx" "$sock" \
        "$(field "$1" connect)" "$(field "$1" read)" "$(field "$1" write)" "$(field "$1" timeout)" "$rps" "$p50" "$p99"
}


for mode in keepalive close; do
    if [ $mode = close ]; then export BENCH_CLOSE=1; else export BENCH_CLOSE=0; fi
    log "[$mode] steady state, ${STEADY_SECS}s..."
    wrk_run "steady-$mode" "$STEADY_SECS"
    log "[$mode] restart --rolling asset, scale asset=4, scale asset=3 (x$ROUNDS), each under wrk..."
    ops_series "$mode"
done

errors_in_log=$(grep -cE 'upstream|connect\(\) failed' "$DIR/logs/error.log" 2>/dev/null || true)
echo
echo "## bench/roll.sh — $(nproc) cores, nginx $(nginx -v 2>&1 | cut -d/ -f2), wrk -t$THREADS -c$CONNS (closed loop, max rate), GET:POST = 2:1, drain $DRAIN"
echo
echo "| phase | duration | requests | non-2xx | socket errors (connect/read/write/timeout) | req/s | p50 | p99 |"
echo "|---|---|---|---|---|---|---|---|"
row steady-keepalive "steady, keep-alive"
row steady-close "steady, new connection per request"
echo
echo "Per operation (sums over $ROUNDS runs; wrk runs from 0.2 s before each command to its end):"
echo
echo "| operation | runs | requests | non-2xx | socket errors | read errors (keep-alive resets) | nginx reloads | resets per reload | command time |"
echo "|---|---|---|---|---|---|---|---|---|"
op_row roll-keepalive "restart --rolling asset (3 copies), keep-alive"
op_row up-keepalive "scale asset=4 (up), keep-alive"
op_row down-keepalive "scale asset=3 (down), keep-alive"
op_row roll-close "restart --rolling asset (3 copies), new connection per request"
op_row up-close "scale asset=4 (up), new connection per request"
op_row down-close "scale asset=3 (down), new connection per request"
echo
echo "- nginx error log lines about upstreams (refused/cut connections to copies): $errors_in_log"
