"""REST order entry, side by side: the venue against the closest Python peer, PyPI
`matching-engine` 0.1.1 (FastAPI under uvicorn, one process; no authentication, balances or
risk checks), both driven by one neutral closed-loop load generator, `wrk` (Debian), with a
Lua script (bench/rest_side_by_side.lua) that sends pre-generated unique requests.

Run from the repository root with the venue's virtualenv (bench/README.md says more):

    .venv/bin/python bench/rest_side_by_side.py                 # 3 rounds at 8 and 32 conns
    .venv/bin/python bench/rest_side_by_side.py --rounds 5 --duration 20 --connections 8,32

What one run does (a fresh server and data dir each time, so every run starts from the
same empty book):
  1. start the server (venue: `venue serve --data-dir DIR --port P`, fsync batch; peer:
     `python -m uvicorn matching_engine.gateway:create_app --factory --workers 1 --loop
     uvloop --http httptools --no-access-log`, ME_FSYNC=1: both fsync every group commit);
  2. set up (venue: BTC-USDT, a buying and a selling account, funded, a trader key each);
  3. check a sample of the order flow is accepted (status 200, not rejected);
  4. warm-up: wrk for --warmup seconds, then wait until the server is idle;
  5. generate the measured requests (signed just now for the venue: unique nonce each,
     X-VENUE-RECV-WINDOW 60000), read /proc/PID/stat (utime + stime), run wrk for
     --duration seconds, wait until the server is idle again (the venue's SQL projector
     finishes its backlog), read /proc/PID/stat again;
  6. stop the server.
The same order flow goes to both: alternating buy (account 1) and sell (account 2) of
0.001 BTC-USDT around 27000.00, 90% resting 1 to 50 ticks away from the mid, 10% priced 5
ticks through it (they take the best resting order), seeded.

Then, for the venue alone, an open-loop check at fixed rates with the project's own
`venue loadtest --rate R --duration S --json` (fresh server per run), with the server's CPU
per request.

Results: bench/results/rest-side-by-side-<stamp>/results.json, chart.png (matplotlib from
the bench's own virtualenv, bench/results/peer-venv), server logs; a table on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import hmac
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA = BENCH / "rest_side_by_side.lua"
CHART = BENCH / "rest_side_by_side_chart.py"
VENUE_BIN = Path(sys.executable).parent / "venue"
PEER_VERSION = "0.1.1"
# The peer's HTTP stack is pinned to the versions the venue's virtualenv runs, so the
# comparison is of the two applications, not of two FastAPI/uvicorn releases.
SHARED_STACK = ("fastapi", "starlette", "uvicorn", "httptools", "uvloop", "pydantic")
CLK_TCK = os.sysconf("SC_CLK_TCK")

SYMBOL = "BTC-USDT"
MID_TICKS = 2_700_000  # 27000.00 at tick 0.01 (both venues list BTC-USDT with tick 0.01)
QUANTITY = "0.001"
VENUE_ORDERS = "/api/v1/orders"
PEER_ORDERS = f"/markets/{SYMBOL}/orders"

IS_TTY = sys.stderr.isatty()


def say(message: str) -> None:
    if IS_TTY:
        sys.stderr.write("\r\x1b[K")
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def status_line(message: str) -> None:
    """A transient progress line (rewritten in place on a terminal, else printed)."""
    if IS_TTY:
        sys.stderr.write("\r\x1b[K" + message)
        sys.stderr.flush()
    else:
        say(message)


# ----------------------------------------------------------------------------- environment


def find_python312() -> str:
    """A Python >= 3.12 for the peer (it requires it): $PEER_PYTHON, python3.1x on PATH, or
    a pyenv install."""
    candidates = [os.environ.get("PEER_PYTHON", "")]
    candidates += [shutil.which(f"python3.{minor}") or "" for minor in (12, 13, 14)]
    for root in (os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"):
        if root:
            candidates += sorted(glob.glob(f"{root}/versions/3.1[2-9]*/bin/python3.1[2-9]"))
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if probe.stdout.strip() == "True":
            return candidate
    sys.exit("no Python >= 3.12 found for the peer (set PEER_PYTHON=/path/to/python3.12)")


def ensure_bench_venv(venv: Path) -> Path:
    """The bench's own virtualenv (never the project's): the peer, its ASGI server pinned to
    the venue's versions, and matplotlib for the chart."""
    pins = [f"matching-engine[gateway]=={PEER_VERSION}"]
    pins += [f"{name}=={metadata.version(name)}" for name in SHARED_STACK]
    pins.append("matplotlib")
    stamp = venv / ".bench-installed"
    wanted = "\n".join(pins)
    python = venv / "bin" / "python"
    if stamp.exists() and stamp.read_text() == wanted and python.exists():
        return python
    if not python.exists():
        base = find_python312()
        say(f"creating the bench virtualenv {venv} with {base}")
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    say("installing into it: " + " ".join(pins))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins],
        check=True,
    )
    stamp.write_text(wanted)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def others(busy: float, total: float, ours: float) -> float:
    """Cores' worth of CPU used by other processes: machine busy jiffies minus ours (server
    and load generator), over the window's length (total jiffies / CPUs)."""
    cpus = os.cpu_count() or 1
    return max(0.0, busy - ours) / max(total / cpus, 1)


def wait_idle(pid: int, timeout_s: float = 20.0) -> float:
    """Wait until the process uses under ~4% of a core over 250 ms (its backlog is done).
    Returns the seconds waited."""
    start = time.monotonic()
    last = cpu_ticks(pid)
    while time.monotonic() - start < timeout_s:
        time.sleep(0.25)
        now = cpu_ticks(pid)
        if now - last <= 1:
            break
        last = now
    return time.monotonic() - start


def http_json(method: str, url: str, body: Any = None, timeout: float = 10) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return run.stdout.strip()

    dirty = [line for line in git("status", "--porcelain", "src").splitlines() if line]
    return {"head": git("rev-parse", "--short", "HEAD"), "src_files_modified": len(dirty)}


def wrk_version() -> str:
    run = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (run.stdout + run.stderr).splitlines()[0].strip()


# ----------------------------------------------------------------------------- the servers


def clean_env() -> dict[str, str]:
    """The environment without any venue setting that would change what is measured."""
    drop = {
        "DATABASE_URL", "HOST", "PORT", "LOG_LEVEL", "MAX_ORDERS_PER_SECOND",
        "ORDER_BOOK_DEPTH", "MATCHING_INTERVAL_MS", "ORDER_EXPIRATION_HOURS",
        "MAX_ORDER_BOOK_SIZE", "RATE_LIMIT_PER_MINUTE", "JWT_SECRET_KEY", "REDIS_URL",
    }  # fmt: skip
    return {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.upper().startswith(("VENUE_", "ME_"))
    }


@dataclass
class Server:
    name: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = Path("server.log")
    keys: list[dict[str, str]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    ready_path = "/"
    orders_path = "/"

    def start(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        argv, env = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                argv, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {log.name}")
            try:
                urllib.request.urlopen(self.base + self.ready_path, timeout=1).read()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after 60 s; see {log.name}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def set_up(self) -> None:
        """Accounts, funds, keys (venue)."""

    def seq(self) -> int:
        """The server's last sequenced command (a check on the count wrk reports)."""
        raise NotImplementedError

    def line(self, body: str, side_index: int, nonce: str, stamp: int) -> str:
        raise NotImplementedError

    def body(self, side: str, price: str, side_index: int) -> str:
        raise NotImplementedError

    def accepted(self, status: int, answer: dict[str, Any]) -> bool:
        raise NotImplementedError


class Venue(Server):
    ready_path = "/ready"
    orders_path = VENUE_ORDERS

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = clean_env() | {
            "VENUE_FSYNC": "batch",  # the default, durable: fsync per group commit
            "MAX_ORDERS_PER_SECOND": "1000000",  # the default risk profile's order rate
            "RATE_LIMIT_PER_MINUTE": "0",  # no per-key request limit
            "VENUE_RECV_WINDOW_MS": "60000",  # the requests also say so themselves
        }
        data = self.workdir / "data"
        return [str(VENUE_BIN), "serve", "--data-dir", str(data), "--port", str(self.port)], env

    def admin(self, method: str, path: str, body: Any) -> Any:
        from venue.client.http import ApiClient

        key = json.loads((self.workdir / "data" / "admin-key.json").read_text())
        with ApiClient(self.base, key["key_id"], key["secret"]) as client:
            response = client.request(method, path, body)
        if response.status_code >= 400:
            raise RuntimeError(f"venue set-up {method} {path}: {response.text}")
        return response.json()

    def set_up(self) -> None:
        self.admin("POST", "/api/v1/admin/instruments", {
            "symbol": SYMBOL, "base_asset": "BTC", "quote_asset": "USDT", "tick_size": "0.01",
            "lot_size": "0.0001", "base_decimals": 8, "quote_decimals": 6,
        })  # fmt: skip
        self.keys = []
        for name in ("bench-buyer", "bench-seller"):
            account = self.admin("POST", "/api/v1/admin/accounts", {"name": name})
            path = f"/api/v1/admin/accounts/{account['account_id']}"
            for asset, amount in (("USDT", "10000000000"), ("BTC", "1000000")):
                self.admin("POST", f"{path}/deposits", {"asset": asset, "amount": amount})
            key = self.admin("POST", f"{path}/api-keys", {"role": "trader", "label": "bench"})
            self.keys.append({"key_id": key["key_id"], "secret": key["secret"]})

    def seq(self) -> int:
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as response:
            for raw in response.read().decode().splitlines():
                if raw.startswith("venue_last_seq "):
                    return int(float(raw.split()[1]))
        return -1

    def body(self, side: str, price: str, side_index: int) -> str:
        return f'{{"symbol":"{SYMBOL}","side":"{side}","quantity":"{QUANTITY}","price":"{price}"}}'

    def line(self, body: str, side_index: int, nonce: str, stamp: int) -> str:
        # The signed string of venue.client.signing (nonce form), over the exact body bytes.
        key = self.keys[side_index]
        message = f"{stamp}\n{nonce}\nPOST\n{VENUE_ORDERS}\n\n{body}".encode()
        signature = hmac.new(key["secret"].encode(), message, hashlib.sha256).hexdigest()
        return (
            f"{body}\tX-VENUE-KEY: {key['key_id']}\tX-VENUE-TIMESTAMP: {stamp}\t"
            f"X-VENUE-NONCE: {nonce}\tX-VENUE-SIGNATURE: {signature}\t"
            f"X-VENUE-RECV-WINDOW: 60000\n"
        )

    def accepted(self, status: int, answer: dict[str, Any]) -> bool:
        return status == 200 and answer.get("status") in ("new", "filled", "partially_filled")


class Peer(Server):
    ready_path = "/healthz"
    orders_path = PEER_ORDERS
    python: str = ""

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = clean_env() | {"ME_DATA_DIR": str(self.workdir / "data"), "ME_FSYNC": "1"}
        argv = [
            self.python, "-m", "uvicorn", "matching_engine.gateway:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--loop", "uvloop", "--http", "httptools", "--no-access-log",
            "--log-level", "info", "--timeout-keep-alive", "5",
        ]  # fmt: skip
        return argv, env

    def seq(self) -> int:
        for market in http_json("GET", self.base + "/markets"):
            if market["symbol"] == SYMBOL:
                return int(market["last_seq"])
        return -1

    def body(self, side: str, price: str, side_index: int) -> str:
        account = side_index + 1  # buys from account 1, sells from account 2: no self-trades
        return f'{{"account":{account},"side":"{side}","quantity":"{QUANTITY}","price":"{price}"}}'

    def line(self, body: str, side_index: int, nonce: str, stamp: int) -> str:
        return body + "\n"

    def accepted(self, status: int, answer: dict[str, Any]) -> bool:
        return status == 200 and answer.get("status") in ("resting", "filled", "partially_filled")


# ----------------------------------------------------------------------------- order flow


def order_flow(n: int, seed: int) -> list[tuple[str, str, int]]:
    """(side, price, side_index): alternating buy/sell around the mid, 90% resting 1..50
    ticks away, 10% priced 5 ticks through the mid (each takes the best resting order)."""
    rng = random.Random(seed)
    flow = []
    for i in range(n):
        side_index = i % 2
        offset = -5 if rng.random() < 0.10 else rng.randint(1, 50)
        ticks = MID_TICKS - offset if side_index == 0 else MID_TICKS + offset
        flow.append(("buy" if side_index == 0 else "sell", f"{ticks // 100}.{ticks % 100:02d}",
                     side_index))  # fmt: skip
    return flow


def write_requests(server: Server, path: Path, n: int, seed: int, tag: str) -> None:
    stamp = time.time_ns() // 1_000_000
    with open(path, "w") as out:
        chunk = []
        for i, (side, price, side_index) in enumerate(order_flow(n, seed)):
            if i % 20_000 == 0:
                stamp = time.time_ns() // 1_000_000
            body = server.body(side, price, side_index)
            chunk.append(server.line(body, side_index, f"{tag}-{i}", stamp))
            if len(chunk) >= 10_000:
                out.writelines(chunk)
                chunk.clear()
        out.writelines(chunk)


def check_sample(server: Server, sample: Path) -> None:
    """Send the first requests of a file one by one and insist that each is accepted."""
    for raw in sample.read_text().splitlines():
        body, *headers = raw.split("\t")
        request = urllib.request.Request(
            server.base + server.orders_path, data=body.encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        for header in headers:
            name, value = header.split(": ", 1)
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, json.loads(exc.read() or b"{}")
        if not server.accepted(status, answer):
            raise RuntimeError(f"{server.name} refused a sample order: {status} {answer}")


# ----------------------------------------------------------------------------- wrk


def run_wrk(
    url: str, connections: int, seconds: float, requests: Path, path: str, out: Path, label: str
) -> dict[str, Any]:
    env = os.environ | {"BENCH_REQUESTS": str(requests), "BENCH_PATH": path, "BENCH_OUT": str(out)}
    argv = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
        "-s", str(LUA), url,
    ]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    start = time.monotonic()
    next_note = 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        elapsed = time.monotonic() - start
        if elapsed >= next_note:
            status_line(f"  {label}: {elapsed:4.0f} / {seconds:g} s")
            next_note += 1.0 if IS_TTY else 5.0
        time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = proc.stdout.read().decode() if proc.stdout else ""
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text}")
    result: dict[str, Any] = json.loads(out.read_text())
    result["wrk_cpu_s"] = usage.ru_utime + usage.ru_stime
    result["wrk_stdout"] = text
    return result


@dataclass
class Plan:
    rounds: int
    duration: float
    warmup: float
    connections: list[int]
    max_rate: int
    seed: int
    workdir: Path


def measure(server: Server, conns: int, plan: Plan, label: str) -> dict[str, Any]:
    """One run: fresh server, set-up, sample check, warm-up, measured wrk run, stop."""
    status_line(f"  {label}: starting")
    server.start()
    try:
        server.set_up()
        work = plan.workdir
        sample = work / f"{server.name}-sample.txt"
        write_requests(server, sample, 20, plan.seed + 1, f"s{time.time_ns()}")
        check_sample(server, sample)
        files = work / f"{server.name}-requests.txt"
        tag = f"r{time.time_ns()}"
        if plan.warmup > 0:
            write_requests(
                server, files, int(plan.max_rate * plan.warmup), plan.seed + 2, tag + "w"
            )
            warm = run_wrk(server.base, conns, plan.warmup, files, server.orders_path,
                           work / "wrk-warmup.json", f"{label} warm-up")  # fmt: skip
            if warm["reused"]:
                raise RuntimeError("the warm-up ran out of requests: raise --max-rate")
        wait_idle(server.pid)
        n = int(plan.max_rate * plan.duration)
        write_requests(server, files, n, plan.seed, tag + "m")
        seq_before = server.seq()
        busy0, total0 = machine_busy()
        cpu0 = cpu_ticks(server.pid)
        wall0 = time.monotonic()
        result = run_wrk(server.base, conns, plan.duration, files, server.orders_path,
                         work / "wrk.json", label)  # fmt: skip
        busy1, total1 = machine_busy()
        cpu_window = cpu_ticks(server.pid)
        drain_s = wait_idle(server.pid)
        cpu1 = cpu_ticks(server.pid)
        wall1 = time.monotonic()
        seq_after = server.seq()
        files.unlink()
    finally:
        server.stop()
    answered = result["requests"]
    seconds = result["duration_us"] / 1e6
    ok = answered - result["errors"]["status"]
    cpu_s = (cpu1 - cpu0) / CLK_TCK
    run = {
        "system": server.name,
        "connections": conns,
        "orders_per_s": answered / seconds,
        "ok_per_s": ok / seconds,
        "answered": answered,
        "non_2xx": result["errors"]["status"],
        "socket_errors": {k: v for k, v in result["errors"].items() if k != "status"},
        "requests_generated": n,
        "requests_reused": result["reused"],
        "duration_s": seconds,
        "latency_ms": {k: v / 1000 for k, v in result["latency_us"].items()},
        "server_cpu_s": cpu_s,
        "server_cpu_us_per_order": cpu_s * 1e6 / max(answered, 1),
        "server_cpu_cores": cpu_s / (wall1 - wall0),
        "drain_after_run_s": drain_s,
        "machine_busy_share": (busy1 - busy0) / max(total1 - total0, 1),
        # CPU used by everything else on the machine during the measured window, in cores
        # (other tenants' work: the figure to read before trusting a run)
        "other_cores": others(
            busy1 - busy0, total1 - total0, cpu_window - cpu0 + result["wrk_cpu_s"] * CLK_TCK
        ),
        "wrk_cpu_us_per_request": result["wrk_cpu_s"] * 1e6 / max(answered, 1),
        "seq_delta": seq_after - seq_before,
        "loadavg": os.getloadavg(),
        "valid": result["reused"] == 0 and result["errors"]["status"] == 0,
    }
    return run


# ----------------------------------------------------------------------------- open loop


def open_loop(
    venue: Venue, rate: int, seconds: float, warmup: float, extra: list[str]
) -> dict[str, Any]:
    venue.start()
    try:
        venue.admin("POST", "/api/v1/admin/instruments", {
            "symbol": SYMBOL, "base_asset": "BTC", "quote_asset": "USDT", "tick_size": "0.01",
            "lot_size": "0.0001", "base_decimals": 8, "quote_decimals": 6,
        })  # fmt: skip
        wait_idle(venue.pid)
        cpu0 = cpu_ticks(venue.pid)
        busy0, total0 = machine_busy()
        argv = [
            str(VENUE_BIN), "loadtest", "--url", venue.base, "--rate", str(rate),
            "--duration", f"{seconds:g}", "--warmup", f"{warmup:g}", "--json",
            "--key-file", str(venue.workdir / "data" / "admin-key.json"), *extra,
        ]  # fmt: skip
        out = venue.workdir.parent / "loadtest.json"
        with open(out, "wb") as stdout:
            proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.DEVNULL,
                                    env=clean_env())  # fmt: skip
            start = time.monotonic()
            next_note = 0.0
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                elapsed = time.monotonic() - start
                if elapsed >= next_note:
                    status_line(
                        f"  open loop {rate}/s: {elapsed:4.0f} s "
                        f"(set-up, {warmup:g} s warm-up, {seconds:g} s measured)"
                    )
                    next_note += 1.0 if IS_TTY else 5.0
                time.sleep(0.2)
        busy1, total1 = machine_busy()
        cpu_window = cpu_ticks(venue.pid)
        wait_idle(venue.pid)
        cpu1 = cpu_ticks(venue.pid)
    finally:
        venue.stop()
    client_cpu_s = usage.ru_utime + usage.ru_stime
    report = json.loads(out.read_text())
    # Every request sent reaches the server (a client-side timeout does not withdraw it), so
    # the server's CPU is divided by all sent, warm-up included (set-up requests: ~100, not
    # counted, so the figure is a slight over-estimate).
    requests = report["sent"] + round(rate * warmup)
    cpu_s = (cpu1 - cpu0) / CLK_TCK
    latency = report["latency"] or {}
    return {
        "rate": rate,
        "answered_per_s": report["throughput"],
        "kept_up": report["kept_up"],
        "outcomes": report["outcomes"],
        "latency_ms": {k.removesuffix("_ms"): v for k, v in latency.items() if k.endswith("_ms")},
        "server_cpu_us_per_request": cpu_s * 1e6 / max(requests, 1),
        "loadtest_exit": proc.returncode,
        "timeouts": report["failed"],
        "client_cpu_us_per_request": client_cpu_s * 1e6 / max(requests, 1),
        "other_cores": others(
            busy1 - busy0, total1 - total0, cpu_window - cpu0 + client_cpu_s * CLK_TCK
        ),
        "loadavg": os.getloadavg(),
        "report": report,
    }


# ----------------------------------------------------------------------------- summary


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(runs: list[dict[str, Any]], connections: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for conns in connections:
        at = [r for r in runs if r["connections"] == conns]
        entry: dict[str, Any] = {}
        for system in ("venue", "peer"):
            mine = [r for r in at if r["system"] == system]
            entry[system] = {
                "orders_per_s": median([r["orders_per_s"] for r in mine]),
                "orders_per_s_runs": [round(r["orders_per_s"], 1) for r in mine],
                "p50_ms": median([r["latency_ms"]["p50"] for r in mine]),
                "p90_ms": median([r["latency_ms"]["p90"] for r in mine]),
                "p99_ms": median([r["latency_ms"]["p99"] for r in mine]),
                "p99.9_ms": median([r["latency_ms"]["p99.9"] for r in mine]),
                "server_cpu_us_per_order": median([r["server_cpu_us_per_order"] for r in mine]),
                "server_cpu_cores": median([r["server_cpu_cores"] for r in mine]),
                "wrk_cpu_us_per_request": median([r["wrk_cpu_us_per_request"] for r in mine]),
                "other_cores": median([r["other_cores"] for r in mine]),
                "all_valid": all(r["valid"] for r in mine),
            }
        venue_runs = [r for r in at if r["system"] == "venue"]
        peer_runs = [r for r in at if r["system"] == "peer"]
        ratios = [
            v["orders_per_s"] / p["orders_per_s"]
            for v, p in zip(venue_runs, peer_runs, strict=False)
        ]
        # Orders per CPU-second, venue / peer: steadier than wall-clock when other tenants take
        # CPU (it is not the target's figure, which is orders/s).
        cpu_ratios = [
            p["server_cpu_us_per_order"] / v["server_cpu_us_per_order"]
            for v, p in zip(venue_runs, peer_runs, strict=False)
        ]
        entry["cpu_efficiency_ratio_per_round"] = [round(x, 3) for x in cpu_ratios]
        entry["cpu_efficiency_ratio_median"] = median(cpu_ratios)
        entry["ratio_per_round"] = [round(x, 3) for x in ratios]
        entry["ratio_median_of_rounds"] = median(ratios)
        entry["ratio_of_medians"] = entry["venue"]["orders_per_s"] / entry["peer"]["orders_per_s"]
        out[str(conns)] = entry
    return out


def print_tables(
    summary: dict[str, Any], runs: list[dict[str, Any]], loops: list[dict[str, Any]]
) -> None:
    if summary:
        print_closed(summary, runs)
    if loops:
        print_open(loops)


def print_closed(summary: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    print()
    print("REST order entry, closed loop (wrk -t1), per round: orders/s (venue / peer = ratio)")
    for conns in summary:
        venue_runs = [r for r in runs if r["system"] == "venue" and r["connections"] == int(conns)]
        peer_runs = [r for r in runs if r["system"] == "peer" and r["connections"] == int(conns)]
        for v, p in zip(venue_runs, peer_runs, strict=False):
            print(
                f"  {conns:>3} conns, round {v['round']}: {v['orders_per_s']:>6,.0f} / "
                f"{p['orders_per_s']:>6,.0f} = {v['orders_per_s'] / p['orders_per_s']:.2f}x   "
                f"(other tenants' CPU during the runs: {v['other_cores']:.2f} / "
                f"{p['other_cores']:.2f} cores)"
            )
    print()
    head = (f"{'conns':>5} {'system':<6} {'orders/s':>10} {'p50 ms':>8} {'p90 ms':>8} "
            f"{'p99 ms':>8} {'p99.9 ms':>9} {'CPU us/order':>13} {'cores':>6} "
            f"{'others':>7}")  # fmt: skip
    print("Medians over the rounds:")
    print(head)
    for conns, entry in summary.items():
        for system in ("venue", "peer"):
            s = entry[system]
            flag = "" if s["all_valid"] else "  (INVALID runs: see JSON)"
            print(
                f"{conns:>5} {system:<6} {s['orders_per_s']:>10,.0f} {s['p50_ms']:>8.2f} "
                f"{s['p90_ms']:>8.2f} {s['p99_ms']:>8.2f} {s['p99.9_ms']:>9.2f} "
                f"{s['server_cpu_us_per_order']:>13,.0f} {s['server_cpu_cores']:>6.2f} "
                f"{s['other_cores']:>7.2f}{flag}"
            )
        print(
            f"{conns:>5} ratio  venue/peer: median of per-round ratios "
            f"{entry['ratio_median_of_rounds']:.2f}x, ratio of medians "
            f"{entry['ratio_of_medians']:.2f}x (target >= 1.5x); orders per server "
            f"CPU-second {entry['cpu_efficiency_ratio_median']:.2f}x"
        )


def print_open(loops: list[dict[str, Any]]) -> None:
    if loops:
        print()
        print(
            "Venue, open loop (venue loadtest, REST, 8 connections; latency from the intended "
            "send time, of the answered requests; timeouts (10 s) counted apart):"
        )
        print(
            f"{'rate/s':>7} {'answered/s':>11} {'timeouts':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'p99.9 ms':>9} {'CPU us/req':>11} {'others':>7}"
        )
        for rate in sorted({r["rate"] for r in loops}):
            for r in [x for x in loops if x["rate"] == rate]:
                lat = r["latency_ms"]
                print(
                    f"{rate:>7} {r['answered_per_s']:>11,.0f} {r['timeouts']:>9,} "
                    f"{lat.get('p50', float('nan')):>8.2f} {lat.get('p99', float('nan')):>8.2f} "
                    f"{lat.get('p99.9', float('nan')):>9.2f} "
                    f"{r['server_cpu_us_per_request']:>11,.0f} {r['other_cores']:>7.2f}"
                )
            mine = [x for x in loops if x["rate"] == rate]
            p99 = median([x["latency_ms"].get("p99", float("nan")) for x in mine])
            cpu = median([x["server_cpu_us_per_request"] for x in mine])
            print(f"{rate:>7} median p99 {p99:.2f} ms, median CPU {cpu:,.0f} us/request")


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds per connection count")
    parser.add_argument("--duration", type=float, default=15, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per run")
    parser.add_argument("--connections", default="8,32", help="comma-separated")
    parser.add_argument(
        "--max-rate",
        type=int,
        default=10_000,
        help="requests generated per second of a run (must exceed the server)",
    )
    parser.add_argument(
        "--open-loop-rates",
        default="1000,2000",
        help="venue loadtest rates, comma-separated ('' to skip)",
    )
    parser.add_argument("--open-loop-runs", type=int, default=3)
    parser.add_argument("--open-loop-duration", type=float, default=15)
    parser.add_argument(
        "--loadtest-args", default="", help="more `venue loadtest` options, e.g. '--cancel-ratio 0'"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--venv",
        type=Path,
        default=RESULTS / "peer-venv",
        help="the bench's own virtualenv (peer + matplotlib)",
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    if not VENUE_BIN.exists():
        sys.exit(f"run with the venue's virtualenv (.venv/bin/python); no {VENUE_BIN}")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or RESULTS / f"rest-side-by-side-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    peer_python = ensure_bench_venv(args.venv.resolve())
    connections = [int(c) for c in args.connections.split(",") if c]
    rates = [int(r) for r in args.open_loop_rates.split(",") if r]
    plan = Plan(args.rounds, args.duration, args.warmup, connections, args.max_rate, args.seed,
                work)  # fmt: skip

    probe = "import importlib.metadata as m, sys; print(sys.version.split()[0]);" + "".join(
        f"print(m.version({n!r}));" for n in ("matching-engine", *SHARED_STACK)
    )
    peer_versions = subprocess.run(
        [str(peer_python), "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    compiled = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.so"))
    meta = {
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python", "bench/rest_side_by_side.py", *sys.argv[1:]]),
        "git": git_info(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_at_start": os.getloadavg()},
        "wrk": wrk_version(),
        "venue": {"python": platform.python_version(), "compiled_modules": compiled,
                  "stack": {n: metadata.version(n) for n in SHARED_STACK},
                  "settings": "VENUE_FSYNC=batch MAX_ORDERS_PER_SECOND=1000000 "
                              "RATE_LIMIT_PER_MINUTE=0 VENUE_RECV_WINDOW_MS=60000, SQLite "
                              "read model, uvloop + httptools, access log off"},
        "peer": {"package": f"matching-engine=={PEER_VERSION}", "python": peer_versions[0],
                 "versions": dict(zip(("matching-engine", *SHARED_STACK), peer_versions[1:],
                                      strict=False)),
                 "settings": "ME_FSYNC=1 (fsync per group commit), default markets, uvicorn "
                             "--workers 1 --loop uvloop --http httptools --no-access-log"},
        "flow": "alternating buy (account 1) / sell (account 2) of 0.001 BTC-USDT around "
                "27000.00: 90% resting 1..50 ticks from the mid, 10% 5 ticks through it",
        "plan": {"rounds": plan.rounds, "duration_s": plan.duration, "warmup_s": plan.warmup,
                 "connections": connections, "max_rate": plan.max_rate, "seed": plan.seed,
                 "open_loop_rates": rates, "open_loop_runs": args.open_loop_runs,
                 "open_loop_duration_s": args.open_loop_duration,
                 "loadtest_args": args.loadtest_args},
    }  # fmt: skip
    venue = Venue("venue", free_port(), work / "venue")
    peer = Peer("peer", free_port(), work / "peer")
    peer.python = str(peer_python)
    venue.log_path = out / "logs" / "venue.log"
    peer.log_path = out / "logs" / "peer.log"

    per_run = 10 + plan.warmup + plan.duration
    total_runs = len(connections) * plan.rounds * 2
    say(
        f"REST side by side: {total_runs} runs of ~{per_run:.0f} s, then "
        f"{len(rates) * args.open_loop_runs} open-loop runs; results in {out}"
    )
    runs: list[dict[str, Any]] = []
    loops: list[dict[str, Any]] = []
    results_file = out / "results.json"

    def save() -> dict[str, Any]:
        doc = meta | {"runs": runs, "open_loop": loops}
        if runs:
            doc["summary"] = summarize(runs, sorted({r["connections"] for r in runs}))
        results_file.write_text(json.dumps(doc, indent=2))
        return doc

    try:
        done = 0
        for conns in connections:
            for round_no in range(1, plan.rounds + 1):
                for server in (venue, peer):  # A B A B ...
                    done += 1
                    label = (f"[{done}/{total_runs}] {conns} conns, round {round_no}, "
                             f"{server.name}")  # fmt: skip
                    run = measure(server, conns, plan, label)
                    run["round"] = round_no
                    runs.append(run)
                    say(
                        f"{label}: {run['orders_per_s']:,.0f} orders/s, p50 "
                        f"{run['latency_ms']['p50']:.2f} ms, p99 {run['latency_ms']['p99']:.2f} "
                        f"ms, server CPU {run['server_cpu_us_per_order']:,.0f} us/order, other "
                        f"tenants {run['other_cores']:.2f} cores"
                        + (
                            ""
                            if run["valid"]
                            else f"  INVALID: non-2xx {run['non_2xx']}, "
                            f"reused {run['requests_reused']}"
                        )
                    )
                    save()
        for rate in rates:
            for i in range(1, args.open_loop_runs + 1):
                loop = open_loop(venue, rate, args.open_loop_duration, 1.0,
                                 shlex.split(args.loadtest_args))  # fmt: skip
                loop["run"] = i
                loops.append(loop)
                lat = loop["latency_ms"]
                say(
                    f"open loop {rate}/s run {i}: answered {loop['answered_per_s']:,.0f}/s, kept "
                    f"up {loop['kept_up']}, p50 {lat.get('p50', float('nan')):.2f} ms, p99 "
                    f"{lat.get('p99', float('nan')):.2f} ms, server CPU "
                    f"{loop['server_cpu_us_per_request']:,.0f} us/request, timeouts "
                    f"{loop['timeouts']}, other tenants {loop['other_cores']:.2f} cores"
                )
                save()
    finally:
        venue.stop()
        peer.stop()
    doc = save()
    shutil.rmtree(work, ignore_errors=True)
    print_tables(doc.get("summary", {}), runs, loops)
    chart = out / "chart.png"
    if not runs:
        print(f"\nresults: {results_file}")
        return 0
    drawn = subprocess.run(
        [str(peer_python), str(CHART), str(results_file), str(chart)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if drawn.returncode != 0:
        say(f"chart not drawn: {drawn.stderr.strip()[-500:]}")
    print(f"\nresults: {results_file}" + (f"\nchart:   {chart}" if chart.exists() else ""))
    return 0 if all(r["valid"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
