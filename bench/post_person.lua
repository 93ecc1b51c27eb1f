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

dofile("bench/report.lua")
done = function(summary, latency, requests) report(summary, latency) end
