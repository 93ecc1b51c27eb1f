-- wrk: radius or nearest queries over the live positions, centres uniformly
-- random over the devices' area (24-37 N, 61-77 E), bearer token in SG_TOKEN.
-- SG_RADIUS_M (every hit within it) or SG_K (the k nearest).
local token = os.getenv("SG_TOKEN")
local radius = os.getenv("SG_RADIUS_M")
local k = os.getenv("SG_K")
local n = 0

setup = function(thread)
  n = n + 1
  thread:set("seed", n)
end

init = function()
  math.randomseed(seed or 1)
end

request = function()
  local lat = 24 + math.random() * 13
  local lon = 61 + math.random() * 16
  local q
  if k then
    q = string.format("/api/v1/positions/latest?near=%.6f,%.6f&k=%s", lat, lon, k)
  else
    q = string.format("/api/v1/positions/latest?near=%.6f,%.6f&radius_m=%s&limit=10000", lat, lon, radius)
  end
  return wrk.format("GET", q, {["Authorization"] = "Bearer " .. token})
end

dofile("bench/report.lua")
done = function(summary, latency, requests) report(summary, latency) end
