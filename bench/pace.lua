-- wrk script: pace each connection (delay() before every request) and print exact percentiles (µs).
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
local path = os.getenv("WRK_PATH") or "/"

request = function()
  return wrk.format("GET", path, { ["Accept"] = "application/fhir+json" })
end

if delay_ms > 0 then
  delay = function()
    return delay_ms
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d p50=%d p90=%d p99=%d max=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
