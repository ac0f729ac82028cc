-- wrk script: POST /v1/messages with a text body; prints the latency distribution.
-- Expects WA_TOKEN and WA_TO in the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WA_TOKEN")
wrk.body = '{"to":"' .. os.getenv("WA_TO") .. '","type":"text","text":{"body":"bench message"}}'

function done(summary, latency, requests)
   io.write(string.format("BENCH requests=%d non2xx=%d errors=%d p50_us=%d p99_us=%d p999_us=%d duration_us=%d"
      .. " mean_us=%d sd_us=%d p10_us=%d p90_us=%d\n",
      summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
      summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.duration,
      math.floor(latency.mean), math.floor(latency.stdev), latency:percentile(10), latency:percentile(90)))
end
