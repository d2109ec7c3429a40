-- wrk script: POST bodies read from a file (one JSON body per line), cycled per request,
-- starting at body number OFFSET, with extra headers from the script arguments ("name: value" each). Prints one JSON line
-- with the summary and latency percentiles (microseconds) when done.
--   wrk -t1 -c8 -d5s -s wrk_post.lua http://127.0.0.1:PORT/v1/chat/completions -- BODIES OFFSET "authorization: Bearer K"
local requests = {}
local idx = 0

function init(args)
  local path = wrk.path
  local headers = { ["Content-Type"] = "application/json" }
  for i = 3, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  for line in io.lines(args[1]) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", path, headers, line)
    end
  end
  idx = (tonumber(args[2]) or 0) % #requests
end

function request()
  idx = (idx % #requests) + 1
  return requests[idx]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,' ..
    '"lat_mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
