-- wrk script: GET one path with a session cookie (to drive a gunicorn worker past 10,000 requests).
-- Usage: wrk -t2 -c4 -d30s -s bench/wrk/get.lua http://127.0.0.1:PORT -- <path> <sessionid>
local path = "/"
local cookie = ""

function init(args)
   path = args[1] or "/"
   cookie = "sessionid=" .. (args[2] or "")
end

function request()
   return wrk.format("GET", path, {["Cookie"] = cookie})
end

function done(summary, latency, requests)
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "non2xx": %d, "errors": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
