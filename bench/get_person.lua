-- wrk: GET one person by id (auth, policy, read from a WAL snapshot).
request = function()
  return wrk.format("GET", "/api/v1/people/" .. os.getenv("SG_PERSON"), {
    ["Authorization"] = "Bearer " .. os.getenv("SG_TOKEN"),
  })
end

dofile("bench/report.lua")
done = function(summary, latency, requests) report(summary, latency) end
