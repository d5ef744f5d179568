-- wrk script for `npm run bench -- resolve`: each request resolves a random handle among
-- <prefix>0 … <prefix>(n-1), e.g. `wrk -s bench/resolve.lua http://127.0.0.1:8000 -- 1000000 /api/handles/88.118/BENCH-`.
-- done() prints one JSON line the bench parses (durations in ms).
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  n = tonumber(args[1]) or 1000000
  path = args[2] or "/api/handles/88.118/BENCH-"
  math.randomseed(1000 + (seed or 0))
end

function request()
  return wrk.format("GET", path .. math.random(0, n - 1))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n{"completed":%d,"seconds":%.4f,"errors":%d,"non2xx":%d,"p50":%.3f,"p99":%.3f}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
