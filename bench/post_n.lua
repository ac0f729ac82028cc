-- wrk script: POST /v1/messages (text) until each thread has had WA_QUOTA answers,
-- then stops (a few more may be in flight then). Expects WA_TOKEN, WA_TO, WA_QUOTA.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("WA_TOKEN")
wrk.body = '{"to":"' .. os.getenv("WA_TO") .. '","type":"text","text":{"body":"bench webhook"}}'

function init(args)
   quota = tonumber(os.getenv("WA_QUOTA"))
   answered = 0
end

function response(status, headers, body)
   answered = answered + 1
   if answered >= quota then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   io.write(string.format("BENCH requests=%d non2xx=%d errors=%d p50_us=%d p99_us=%d p999_us=%d duration_us=%d\n",
      summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
      summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), summary.duration))
end
