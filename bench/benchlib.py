"""Shared helpers for the gridctl benchmarks (stdlib only).

- the holder's wire protocol (src/protocol.rs): frames of kind u8 + u32 BE length + payload,
  control payloads are JSON;
- writing an InstanceSpec (src/spec.rs) and starting/stopping a bare holder;
- /proc sampling (CPU ticks, RSS) and min/median/max summaries.
"""

import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BENCH_GRIDCTL: another build's gridctl (its gridctl-holder next to it), for before/after
# comparisons in the same run.
GRIDCTL = os.environ.get("BENCH_GRIDCTL") or os.path.join(ROOT, "target", "release", "gridctl")
FAKE_ROBUST = os.path.join(ROOT, "target", "release", "fake-robust")
TOOLS = os.environ.get("BENCH_TOOLS", os.path.join(ROOT, "bench", "tools", "bin"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

KIND_CONTROL = 0
KIND_DATA = 1
# The wire versions this library speaks, newest first: the same run measures the
# current holder (2) and an older build given by BENCH_GRIDCTL_ALT (1).
PROTOCOL_VERSIONS = (2, 1)


# --- protocol -----------------------------------------------------------------------

def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("holder closed the connection")
        buf += chunk
    return bytes(buf)


def send_frame(sock, kind, payload):
    sock.sendall(struct.pack(">BI", kind, len(payload)) + payload)


def recv_frame(sock):
    kind, length = struct.unpack(">BI", _recv_exact(sock, 5))
    return kind, _recv_exact(sock, length)


def request(sock, msg):
    send_frame(sock, KIND_CONTROL, json.dumps(msg).encode())
    kind, payload = recv_frame(sock)
    assert kind == KIND_CONTROL, kind
    return json.loads(payload)


def connect(path, timeout=10.0):
    """A greeted connection, in the newest version the holder speaks."""
    refused = None
    for version in PROTOCOL_VERSIONS:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        welcome = request(s, {"type": "hello", "version": version})
        if welcome.get("type") == "welcome":
            return s
        s.close()
        refused = welcome
    raise RuntimeError(f"holder refused hello: {refused}")


def holder_status(path):
    with connect(path) as s:
        return request(s, {"type": "status"})


# --- a bare holder from an InstanceSpec ------------------------------------------------

def write_spec(dirpath, name, program, args, env=(), log_max_bytes=10 << 20, log_keep=5,
               crash_loop_count=1, prompt="", connectors=()):
    """Writes <dir>/holder.json; returns (spec path, spec dict). Defaults follow the
    manifest's defaults (src/plan.rs): 10 MiB x 5 logs, 5000 lines, 50x200."""
    os.makedirs(dirpath, exist_ok=True)
    run = os.path.join(dirpath, "run")
    spec = {
        "name": name,
        "role": "bench",
        "program": program,
        "args": list(args),
        "cwd": dirpath,
        "env": [["TERM", "xterm-256color"]] + [list(kv) for kv in env],
        "socket": os.path.join(run, "holder.sock"),
        "holder_pid_file": os.path.join(dirpath, "holder.pid"),
        "console_log": os.path.join(dirpath, "log", "console.log"),
        "log_max_bytes": log_max_bytes,
        "log_keep": log_keep,
        "scrollback_lines": 5000,
        "rows": 50,
        "cols": 200,
        "robust_pid_file": os.path.join(dirpath, "Robust.pid"),
        "stop": {"command": "shutdown", "command_timeout_ms": 2000,
                 "sigint_timeout_ms": 1000, "sigterm_timeout_ms": 1000},
        # One exit ends in crash-loop: a finished producer is not restarted.
        "restart": {"backoff_initial_ms": 60000, "backoff_max_ms": 60000,
                    "stable_after_ms": 3600000, "crash_loop_count": crash_loop_count,
                    "crash_loop_window_ms": 3600000},
        "readiness": {"expected_connectors": list(connectors), "prompt": prompt,
                      "probe": None, "timeout_ms": 60000},
        "config_hash": "bench",
    }
    path = os.path.join(dirpath, "holder.json")
    with open(path, "w") as f:
        json.dump(spec, f, indent=1)
    return path, spec


def start_holder(spec_path, spec, timeout=15.0, gridctl=None, env=None):
    """Runs `gridctl-holder --spec` (the binary next to gridctl; `gridctl holder --spec`
    for builds from before the split; it daemonizes) and returns the holder's pid."""
    try:
        os.unlink(spec["holder_pid_file"])
    except FileNotFoundError:
        pass
    holder = os.path.join(os.path.dirname(gridctl or GRIDCTL), "gridctl-holder")
    # Builds from before the split have no gridctl-holder: their CLI is the holder.
    argv = [holder] if os.path.exists(holder) else [gridctl or GRIDCTL, "holder"]
    subprocess.run([*argv, "--spec", spec_path], check=True, env=env,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(spec["holder_pid_file"]) as f:
                pid = int(f.read().strip())
            if os.path.exists(spec["socket"]):
                return pid
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.005)
    raise RuntimeError(f"holder for {spec_path} did not start")


def stop_pid(pid, grace=5.0):
    """SIGTERM, then SIGKILL after `grace` seconds; only for pids this run started."""
    if not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.01)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


# --- /proc ---------------------------------------------------------------------------------

def cpu_ticks(pid):
    """utime + stime of `pid` (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children_of(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return out


# --- summaries -------------------------------------------------------------------------

def summary(values):
    values = sorted(values)
    return {"min": values[0], "median": statistics.median(values), "max": values[-1],
            "n": len(values), "values": values}


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def save(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def log(msg):
    print(f"[bench] {msg}", flush=True)


# --- grids made from a manifest ----------------------------------------------------------

DB_CONNECTION = "Data Source=localhost;Database=robust;User ID=opensim;Password=secret;"


def make_grid(dirpath, role, count, port):
    """A manifest of `count` fake Robust copies of one role (asset service, fast start)."""
    os.makedirs(dirpath, exist_ok=True)
    path = os.path.join(dirpath, "grid.toml")
    with open(path, "w") as f:
        f.write(f"""# Benchmark grid (bench/): {count} fake Robust copies.
[grid]
name = "Bench {role}"
domain = "grid.localhost"

[robust]
bin_dir = "{os.path.join(ROOT, 'examples', 'fake-bin')}"
command = ["{FAKE_ROBUST}", "Robust.dll"]

[database]
provider = "mysql"
connection = "{DB_CONNECTION}"

[roles.{role}]
services = ["asset"]
instances = {count}
port = {port}

# The fast-start knob: no start delay.
[roles.{role}.settings.FakeRobust]
StartDelayMs = "0"
""")
    return path


def gridctl(manifest, *args, check=True, capture=True, timeout=300):
    return subprocess.run([GRIDCTL, "-f", manifest, *args], check=check, timeout=timeout,
                          stdin=subprocess.DEVNULL,
                          capture_output=capture, text=True)


def plan_instances(manifest):
    """Each instance's exact command line, cwd and environment (`plan --json`), with the
    redacted database connection put back, so other supervisors run the same thing."""
    plan = json.loads(gridctl(manifest, "plan", "--json").stdout)
    out = []
    for inst in plan["instances"]:
        env = {k: (DB_CONNECTION if v == "<secret>" else v) for k, v in inst["env"]}
        out.append({"name": inst["name"], "argv": inst["argv"], "cwd": inst["cwd"],
                    "env": env, "port": inst["private_port"], "dir": inst["dir"]})
    return out


def holder_pids(manifest):
    plan = json.loads(gridctl(manifest, "plan", "--json").stdout)
    pids = []
    for inst in plan["instances"]:
        with open(os.path.join(inst["dir"], "holder.pid")) as f:
            pids.append(int(f.read().strip()))
    return pids


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_ports(ports, timeout=60.0):
    deadline = time.monotonic() + timeout
    pending = set(ports)
    while pending and time.monotonic() < deadline:
        pending = {p for p in pending if not port_open(p)}
        if pending:
            time.sleep(0.05)
    if pending:
        raise RuntimeError(f"ports never opened: {sorted(pending)[:5]}...")


def wait_ports_closed(ports, timeout=30.0):
    deadline = time.monotonic() + timeout
    pending = set(ports)
    while pending and time.monotonic() < deadline:
        pending = {p for p in pending if port_open(p)}
        if pending:
            time.sleep(0.05)


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, PermissionError):
        pass
    return 0


# --- a program on a PTY of our own --------------------------------------------------------

def spawn_on_pty(argv, rows=50, cols=200, env=None, cwd=None):
    """Starts argv as a session leader with a fresh PTY as its controlling terminal;
    returns (Popen, master fd)."""
    import fcntl
    import termios
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def setup():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            start_new_session=True, preexec_fn=setup, close_fds=True)
    os.close(slave)
    return proc, master
