-- wrk script: POST /v1/messages with a JSON array, which the webapp itself
-- refuses (400, 1025) after the same TLS, HTTP, token and JSON work as a real
-- send, without the coreapp. Expects WA_TOKEN.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WA_TOKEN")
wrk.body = '[{"to":"16315551002","type":"text","text":{"body":"bench message"}}]'

function done(summary, latency, requests)
   io.write(string.format("BENCH requests=%d non2xx=%d errors=%d p50_us=%d p99_us=%d p999_us=%d duration_us=%d\n",
      summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
      summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.duration))
end
