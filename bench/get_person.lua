-- wrk: GET one person by id (auth, policy, read from a WAL snapshot).
request = function()
  return wrk.format("GET", "/api/v1/people/" .. os.getenv("SG_PERSON"), {
    ["Authorization"] = "Bearer " .. os.getenv("SG_TOKEN"),
  })
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.errors.status))
end
