-- wrk script of bench/rest_side_by_side.py: send pre-generated requests, each one once.
--
-- Environment (set by the driver):
--   BENCH_REQUESTS  file of requests, one a line: "<body>\t<Header: value>\t<Header: value>..."
--                   (the venue's lines carry their X-VENUE-* signature headers; the peer's none)
--   BENCH_PATH      the route every request is POSTed to
--   BENCH_OUT       where done() writes its JSON summary
--
-- Run with one thread (-t1): the thread reads the file front to back, so no request is sent
-- twice. If the file runs out, the script starts it again and counts `reused` (the venue then
-- refuses the replays, 401): the driver treats such a run as invalid.

local file, path
local sent, reused = 0, 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  path = os.getenv("BENCH_PATH")
  file = assert(io.open(os.getenv("BENCH_REQUESTS"), "r"))
end

function request()
  local line = file:read("*l")
  if line == nil then
    reused = reused + 1
    file:seek("set", 0)
    line = file:read("*l")
  end
  sent = sent + 1
  local headers = { ["Content-Type"] = "application/json" }
  local body = nil
  for field in string.gmatch(line, "[^\t]+") do
    if body == nil then
      body = field
    else
      local name, value = string.match(field, "^([^:]+): (.*)$")
      headers[name] = value
    end
  end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local built, again = 0, 0
  for _, thread in ipairs(threads) do
    built = built + (thread:get("sent") or 0)
    again = again + (thread:get("reused") or 0)
  end
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "built": %d, "reused": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "max": %d, "p50": %d, "p90": %d, ' ..
    '"p99": %d, "p99.9": %d}}\n',
    summary.requests, summary.duration, summary.bytes, built, again,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  out:close()
end
