#!/usr/bin/env bash
# The server under load, reproducibly: a fresh `venue serve --demo` in a temporary data dir,
# one `venue loadtest` run against it (any loadtest options after the first two arguments),
# the one-line summary, then the server is stopped. Run from the repository root:
#
#   bench/serve_loadtest.sh RATE DURATION_S [--ws --connections 8] [--subscribers N]
#
# The server and the load generator share this machine's cores: quote medians of several
# runs, and read the report's "kept up" line (the client says when it fell behind).
set -euo pipefail
rate=$1; duration=$2; shift 2
bin="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
work=$(mktemp -d)
port=${PORT_UNDER_TEST:-8765}
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && exec "$bin/venue" serve --demo --port "$port" >"$work/serve.log" 2>&1) &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.2; done
"$bin/venue" loadtest --url "http://127.0.0.1:$port" --key-file "$work/var/admin-key.json" \
    --rate "$rate" --duration "$duration" --json "$@" 2>/dev/null >"$work/report.json"
"$bin/python" - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l = r["latency"]
print(f"rate {r['requested_rate']:.0f}/s: sent {r['achieved_send_rate']:.0f}/s, answered "
      f"{r['throughput']:.0f}/s, kept up {r['kept_up']}; latency ms p50 {l['p50_ms']:.1f} "
      f"p90 {l['p90_ms']:.1f} p99 {l['p99_ms']:.1f} p99.9 {l['p99.9_ms']:.1f} "
      f"max {l['max_ms']:.1f}; outcomes {r['outcomes']}")
subs = r.get("subscribers")
if subs:
    d = subs["delivery_latency"]
    print(f"subscribers {subs['count']}: ok {subs['ok']}, gaps {subs['gaps']}, delivery ms "
          f"p50 {d['p50_ms']:.1f} p99 {d['p99_ms']:.1f} max {d['max_ms']:.1f}")
PY
