-- wrk script: GET with the API key; prints the tail latencies. Expects WA_API_KEY.
wrk.headers["Authorization"] = "Apikey " .. os.getenv("WA_API_KEY")

function done(summary, latency, requests)
   io.write(string.format("BENCH requests=%d non2xx=%d errors=%d p50_us=%d p99_us=%d p999_us=%d duration_us=%d\n",
      summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
      summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.duration))
end
