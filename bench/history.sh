#!/usr/bin/env bash
# Ingest against a large history (issue 11, "costs that stay flat"): the same
# paced OsmAnd load (RATE reports/s from 10,000 devices, 64 keep-alive
# connections, build/stream_load with no subscriber) on an empty store and on
# one whose history already holds ROWS positions of the same devices (one per
# device every 30 s before now), side by side in one run. Also times the
# server's start on each (the live index is rebuilt from the history).
# The history is written straight into SQLite, one table per hour of fix
# time as the server lays it out, each in key order (device, time): packed
# B-trees, as real ones would not be. Before the partitions (schema 8) this
# script wrote one table, positions.
# Usage: bench/history.sh [seconds per run] [rows] [rate]   (defaults 60, 50000000, 5000)
# HISTORY_KEEP=dir keeps the full store (its data directory and device keys)
# in dir and reuses it on the next run (it takes minutes to write); the run
# then writes into a copy of it, so every run starts from the same store.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-60}
ROWS=${2:-50000000}
RATE=${3:-5000}
DEVICES=10000
scripts/deps.sh
scripts/build.sh
[[ -x build/stream_load ]] || { meson setup --reconfigure build >/dev/null && ninja -C build >/dev/null; }
BIN=${SG_BIN:-build/safeguard}
WORK=$(mktemp -d /tmp/sg-bench-XXXXXX)
PORT=$((20000 + RANDOM % 20000)); OPORT=$((PORT + 1))
SG_PID=
cleanup() {
  [[ -n "$SG_PID" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

serve() { # data-dir log; sets SG_PID and START_S (seconds until /healthz answers)
  local t0; t0=$(date +%s.%N)
  $BIN serve --data-dir "$1" --listen "127.0.0.1:$PORT" --set log.level=warn \
    --set "ingest.osmand_listen=127.0.0.1:$OPORT" --set ingest.device_rate_per_s=100000 >/dev/null 2>>"$2" &
  SG_PID=$!
  for _ in $(seq 6000); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
  START_S=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
}
stop() { kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=; }

declare -A R
load() { # data-dir store: start the server, pace the load, record the result
  sync # the setup's writes reach the disk before, not during, the measurement
  serve "$1" "$WORK/$2.log"
  local start=$START_S out
  echo "== $2: server answered ${start} s after its start; $RATE reports/s for ${DUR}s"
  out=$(build/stream_load 127.0.0.1 "$OPORT" "$PORT" "$WORK/$2.keys" "$WORK/$2.keys" "$RATE" 64 0 "$DUR")
  echo "$out" | grep 'RESULT ingest'
  R[$2]="$(echo "$out" | grep 'RESULT ingest' | sed 's/RESULT ingest //') start_s=$start"
  stop
}
KEEP=${HISTORY_KEEP:-}
for store in empty full; do
  d="$WORK/$store"
  if [[ $store == full && -n "$KEEP" && -f "$KEEP/data/safeguard.db" ]]; then
    echo "== full: copying the kept store from $KEEP"
    cp -r "$KEEP/data" "$d"; cp "$KEEP/keys" "$WORK/$store.keys"
    load "$d" "$store"
    continue
  fi
  pw="bench passphrase $RANDOM$RANDOM"
  echo "$pw" | $BIN init --data-dir "$d" --admin-password-file - >/dev/null 2>&1
  serve "$d" "$WORK/$store.log"
  echo "== $store: enrolling $DEVICES devices"
  python3 - "$PORT" "$pw" "$DEVICES" "$WORK/$store.keys" <<'PY'
import json, sys, urllib.parse, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, pw, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def call(path, body, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), headers=h)
    return json.load(urllib.request.urlopen(req))
tok = call("/api/v1/session", {"username": "admin", "password": pw})["token"]
with ThreadPoolExecutor(16) as ex:
    keys = list(ex.map(lambda i: urllib.parse.quote(call("/api/v1/devices",
        {"name": f"bench {i}", "kind": "phone", "protocol": "osmand"}, tok)["key"]), range(n)))
open(out, "w").write("\n".join(keys) + "\n")
PY
  stop
  if [[ $store == full ]]; then
    per=$((ROWS / DEVICES))
    t0=$(( ($(date +%s) - per * 30 - 3600) * 1000 ))
    echo "== full: writing $((per * DEVICES)) positions ($per per device, one each 30 s)"
    s=$(date +%s)
    # One partition per hour of fix time, as the server lays them out
    # (src/pipeline/parts.h; retention.partition_hours = 1): the catalog row,
    # the table, its rows in key order; then each device's latest partition.
    python3 - "$t0" "$per" <<'PY' | sqlite3 "$d/safeguard.db"
import subprocess, sys
t0, per = int(sys.argv[1]), int(sys.argv[2])
H = 3600000
print("PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000; BEGIN;")
first, last = t0 // H, (t0 + (per - 1) * 30000) // H
pid = 1
for h in range(first, last + 1):
    lo_k = max(0, -(-(h * H - t0) // 30000))
    hi_k = min(per - 1, -(-((h + 1) * H - t0) // 30000) - 1)
    if lo_k > hi_k:
        continue
    pid += 1
    print(subprocess.check_output(["bench/history_part.py", str(pid), str(h * H), str((h + 1) * H)], text=True))
    print(f"WITH RECURSIVE s(k) AS (SELECT {lo_k} UNION ALL SELECT k + 1 FROM s WHERE k < {hi_k})"
          f" INSERT INTO positions_p{pid} (device_id, time_ms, org_id, lat, lon, attrs, received_ms)"
          f" SELECT d.id, {t0} + s.k * 30000, d.org_id, 30 + (abs(random()) % 100000) / 10000.0,"
          f" 70 + (abs(random()) % 100000) / 10000.0, '{{}}', {t0} + s.k * 30000"
          " FROM (SELECT id, org_id FROM devices ORDER BY id) d CROSS JOIN s;")
print(f"INSERT INTO history_latest (device_id, part) SELECT id, {pid} FROM devices;")
print("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
PY
    echo "   $(( $(date +%s) - s )) s; database $(du -sh "$d/safeguard.db" | cut -f1)"
    if [[ -n "$KEEP" ]]; then
      mkdir -p "$KEEP"; rm -rf "$KEEP/data"; cp -r "$d" "$KEEP/data"; cp "$WORK/$store.keys" "$KEEP/keys"
    fi
  fi
  load "$d" "$store"
done
echo
echo "== summary: $RATE reports/s paced from $DEVICES devices, ${DUR} s, 2 cores shared with the load tool"
for store in empty full; do printf '%-6s %s\n' "$store" "${R[$store]}"; done
