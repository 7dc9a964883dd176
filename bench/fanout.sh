#!/usr/bin/env bash
# Book fan-out: N WebSocket subscribers on book.BTC-USDT (one loadtest process) while a
# second loadtest process drives WebSocket orders at RATE/s (each order one book update).
# Prints the driver's outcome and the subscribers' check (every delta, gaps, drops, delivery
# latency). Run from the repository root:  bench/fanout.sh SUBSCRIBERS RATE
set -euo pipefail
subscribers=$1; rate=$2
bin="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
work=$(mktemp -d)
port=${PORT_UNDER_TEST:-8766}
url="http://127.0.0.1:$port"
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && exec "$bin/venue" serve --demo --port "$port" >"$work/serve.log" 2>&1) &
server=$!
for _ in $(seq 100); do curl -sf "$url/ready" >/dev/null && break; sleep 0.2; done
key="$work/var/admin-key.json"
"$bin/venue" loadtest --url "$url" --key-file "$key" --rate 2 --duration 25 --warmup 2 \
    --subscribers "$subscribers" --json >"$work/subs.json" 2>"$work/subs.err" &
subs=$!
sleep 14  # the subscribers connect and take their snapshots first
"$bin/venue" loadtest --url "$url" --key-file "$key" --rate "$rate" --duration 10 --ws \
    --connections 8 --json >"$work/drive.json" 2>/dev/null
wait "$subs" || true
"$bin/python" - "$work/drive.json" "$work/subs.json" <<'PY'
import json, sys
drive = json.load(open(sys.argv[1]))
subs = json.load(open(sys.argv[2]))["subscribers"]
print(f"driver: {drive['throughput']:.0f} answers/s of {drive['requested_rate']:.0f}/s, "
      f"p99 {drive['latency']['p99_ms']:.1f} ms, outcomes {drive['outcomes']}")
per = subs["per_subscriber"]
deltas = sorted({p["deltas_after_start"] for p in per})
d = subs["delivery_latency"]
print(f"{subs['count']} subscribers: ok {subs['ok']}, gaps {subs['gaps']}, deltas each {deltas}, "
      f"disconnected {sum(1 for p in per if p['disconnected'])}, delivery ms p50 "
      f"{d['p50_ms']:.1f} p99 {d['p99_ms']:.1f} max {d['max_ms']:.1f}")
PY
