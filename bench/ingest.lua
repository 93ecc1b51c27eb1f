-- wrk: OsmAnd reports from many devices (keys in SG_KEYS_FILE, one per line),
-- each request a new fix time for its device, so every report is stored.
-- Like a real device, each one reports in time order: wrk's two threads take
-- alternate keys, and a thread sends a device's next fix only after 500 others.
local keys = {}
for line in io.lines(os.getenv("SG_KEYS_FILE")) do keys[#keys + 1] = line end
-- SG_INGEST_PATH: "/ingest/osmand" on the main port, "/" on the dedicated listener
local path = os.getenv("SG_INGEST_PATH") or "/ingest/osmand"
-- SG_TIME_BASE: first fix time (epoch s), distinct per run so every report is new
local base = tonumber(os.getenv("SG_TIME_BASE") or "1700000000")
local counter = 0
local next_thread = 0

-- setup runs in the main state; thread_id becomes a global of each thread's state
setup = function(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

request = function()
  counter = counter + 1
  local k = keys[((counter * 2 + (thread_id or 0)) % #keys) + 1]
  local t = base + counter
  local lat = 24 + (counter % 1000) / 100
  return wrk.format("GET", string.format("%s?id=%s&lat=%.5f&lon=67.1&timestamp=%d", path, k, lat, t))
end

dofile("bench/report.lua")
done = function(summary, latency, requests) report(summary, latency) end
