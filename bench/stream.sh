#!/usr/bin/env bash
# Stream fan-out with ingest running (issue 11, "costs that stay flat"):
# OsmAnd reports from 10,000 devices paced at RATE/s (default 5,000) to the
# dedicated listener, while 0, 1,000 and 10,000 clients hold
# /api/v1/stream open on the main port. The devices and the subscribers
# belong to ORGS organisations (default 20; each subscriber sees its own
# organisation's positions, as a duty officer does), so at 5,000 reports/s
# each subscriber receives 250 events/s. Printed side by side: the ingest
# rate and its latency from each report's due time, and the delivery latency
# of the events (fix time, stamped by the sender, to arrival).
# The peer is the same server with no subscriber, in the same run.
# Usage: bench/stream.sh [seconds per run] [rate] [orgs]
# Environment: SUBS ("0 1000 10000"), FLUSH_MS (stream.flush_ms, 25),
# SG_BIN (another build's safeguard, e.g. an older commit's, for a before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/ingest_server.sh
DUR=${1:-20}
RATE=${2:-5000}
ORGS=${3:-20}
DEVICES=10000
BIN=${SG_BIN:-build/safeguard}
SUBS=${SUBS:-0 1000 10000}
FLUSH=(); [[ -n "${FLUSH_MS:-}" ]] && FLUSH=(--set "stream.flush_ms=$FLUSH_MS")
scripts/deps.sh
scripts/build.sh
[[ -x build/stream_load ]] || { meson setup --reconfigure build >/dev/null && ninja -C build >/dev/null; }
WORK=$(mktemp -d /tmp/sg-bench-XXXXXX)
PORT=$((20000 + RANDOM % 20000)); OPORT=$((PORT + 1))
cleanup() {
  [[ -n "${SG_PID:-}" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

pw="bench passphrase $RANDOM$RANDOM"
echo "$pw" | $BIN init --data-dir "$WORK/data" --admin-password-file - >/dev/null 2>&1
$BIN serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --set log.level=warn \
  --set server.max_connections=12000 --set server.per_ip_connections=12000 \
  --set "ingest.osmand_listen=127.0.0.1:$OPORT" --set ingest.device_rate_per_s=100000 "${FLUSH[@]}" 2>"$WORK/server.log" &
SG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done

echo "== setting up $ORGS organisations, $DEVICES devices, one API key per organisation"
python3 - "$PORT" "$pw" "$ORGS" "$DEVICES" "$WORK" <<'PY'
import json, sys, urllib.parse, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, pw, orgs, devices, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def call(method, path, body, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None, headers=h)
    return json.load(urllib.request.urlopen(req))
root = call("POST", "/api/v1/session", {"username": "admin", "password": pw})["token"]
tokens = []
for i in range(orgs):
    user = f"admin{i}"
    call("POST", "/api/v1/organisations", {"name": f"Bench organisation {i}", "kind": "employer",
         "admin": {"username": user, "password": pw}}, root)
    tokens.append(call("POST", "/api/v1/session", {"username": user, "password": pw})["token"])
with open(f"{work}/subkeys", "w") as f:
    for t in tokens:
        f.write(call("POST", "/api/v1/api_keys", {"name": "bench stream", "role": "duty_officer"}, t)["key"] + "\n")
def enrol(i):
    d = call("POST", "/api/v1/devices", {"name": f"bench {i}", "kind": "phone", "protocol": "osmand"},
             tokens[i % orgs])
    return urllib.parse.quote(d["key"])
with ThreadPoolExecutor(16) as ex:
    keys = list(ex.map(enrol, range(devices)))
with open(f"{work}/devkeys", "w") as f:
    f.write("\n".join(keys) + "\n")
PY

declare -A R
for subs in $SUBS; do
  echo "== $RATE reports/s for ${DUR}s with $subs stream subscribers"
  t0=$(awk '{print $14 + $15}' /proc/$SG_PID/stat)
  out=$(build/stream_load 127.0.0.1 "$OPORT" "$PORT" "$WORK/devkeys" "$WORK/subkeys" "$RATE" 64 "$subs" "$DUR")
  t1=$(awk '{print $14 + $15}' /proc/$SG_PID/stat)
  out="$out
RESULT server cpu_s=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (b - a) / hz}')"
  echo "$out"
  R[$subs]=$out
  sleep 2
done
rows=$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^safeguard_positions_stored_total/ {print $2}' || true)
echo
echo "== summary ($RATE reports/s paced, 10,000 devices, $ORGS organisations, 2 cores shared with the load tool)"
printf '%-12s | %-46s | %-52s | %s\n' "subscribers" "ingest (rate, p50, p99 from due time)" "delivery (events/s, p50, p99, max, lost)" "CPU s: server, load tool"
for subs in $SUBS; do
  i=$(echo "${R[$subs]}" | grep '^RESULT ingest' | sed 's/RESULT ingest //')
  s=$(echo "${R[$subs]}" | grep '^RESULT stream' | sed 's/RESULT stream //')
  c=$(echo "${R[$subs]}" | grep -E '^RESULT (server|load_tool)' | sed 's/.*cpu_s=//' | paste -sd' ')
  printf '%-12s | %-46s | %-52s | %s\n' "$subs" "$(echo "$i" | awk '{print $4, $5, $6}')" "$(echo "$s" | awk '{print $4, $5, $6, $7, $8}')" "$c"
done
[[ -n "$rows" ]] && echo "positions stored: $rows"
grep -c "dropped: too slow" "$WORK/server.log" | sed 's/^/stream readers dropped as too slow: /' || true
