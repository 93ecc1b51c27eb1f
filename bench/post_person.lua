-- wrk: POST a new person per request (registry write through the full path:
-- auth, validation, group commit, audit entry, fsync).
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"name":"Bench Person %d","kind":"staff","status":"in_country","job":"Surveyor",' ..
    '"nationality":"CN","phone":"+92 300 1234567","email":"bench%d@example.com"}', n, n)
  return wrk.format("POST", "/api/v1/people", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("SG_TOKEN"),
  }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.errors.status))
end
