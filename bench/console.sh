#!/usr/bin/env bash
# The console's map with 10,000 devices moving (issue 12): frame times in
# Debian's Chromium at 1366x768 while `safeguard simulate` drives 10,000
# devices at RATE reports/s (default 1,000: each device every 10 s) through
# the OsmAnd protocol. Side by side in the same run: Safeguard's console
# (canvas renderer, clustering, moves applied in batches) and the textbook
# Leaflet page (bench/console-peer.*: a DOM marker per device, moved on each
# event), on the same server, basemap and stream.
# Usage: bench/console.sh [seconds per page] [rate]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-20}
RATE=${2:-1000}
DEVICES=10000
scripts/deps.sh
scripts/build.sh
WORK=$(mktemp -d /tmp/sg-bench-XXXXXX)
PORT=$((20000 + RANDOM % 20000))
cleanup() {
  [[ -n "${SIM_PID:-}" ]] && kill "$SIM_PID" 2>/dev/null || true
  [[ -n "${SG_PID:-}" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The console as built, and the peer page beside it (server.web_root).
mkdir -p "$WORK/web"
cp build/index.html build/app.js build/app.css build/countries.json "$WORK/web/"
cp bench/console-peer.html "$WORK/web/peer.html"
(cd web && node -e "
const { build } = require('esbuild');
Promise.all([
  build({ entryPoints: ['../bench/console-peer.js'], bundle: true, minify: true, outfile: '$WORK/web/peer.js', nodePaths: ['node_modules'] }),
  build({ entryPoints: ['../bench/console-peer.css'], bundle: true, outfile: '$WORK/web/peer.css', nodePaths: ['node_modules'], loader: { '.png': 'dataurl', '.svg': 'dataurl' } }),
]).catch((e) => { console.error(e); process.exit(1); });")

pw="bench passphrase $RANDOM$RANDOM"
echo "$pw" | build/safeguard init --data-dir "$WORK/data" --admin-password-file - >/dev/null 2>&1
build/safeguard serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --set log.level=warn \
  --set session.cookie_secure=false --set "server.web_root=$WORK/web" --set ingest.device_rate_per_s=1000 2>"$WORK/server.log" &
SG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done

echo "== enrolling $DEVICES devices"
python3 - "$PORT" "$pw" "$DEVICES" "$WORK" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
port, pw, devices, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def call(method, path, body, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode(), headers=h)
    return json.load(urllib.request.urlopen(req))
root = call("POST", "/api/v1/session", {"username": "admin", "password": pw})["token"]
def enrol(i):
    return call("POST", "/api/v1/devices", {"name": f"Unit {i:05d}", "kind": "tracker", "protocol": "osmand"}, root)["key"]
with ThreadPoolExecutor(16) as ex:
    keys = list(ex.map(enrol, range(devices)))
open(f"{work}/devkeys", "w").write("\n".join(keys) + "\n")
PY
build/safeguard simulate --keys-file "$WORK/devkeys" --rate "$RATE" --url "http://127.0.0.1:$PORT" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
echo "== warming up: every device reports once"
sleep $((DEVICES / RATE + 5))
out=$(node bench/console.mjs "http://127.0.0.1:$PORT" admin "$pw" "$DUR")
echo "$out"
echo
echo "== summary: $DEVICES devices, $RATE reports/s, ${DUR}s per page, 1366x768, 2 cores shared with server and simulator"
printf '%-10s | %9s | %6s | %8s | %8s | %8s | %7s | %s\n' page "events/s" fps "p50 ms" "p95 ms" "p99 ms" "max ms" "long tasks (count, ms)"
echo "$out" | grep '^RESULT' | while read -r _ label rest; do
  declare -A v=()
  for kv in $rest; do v[${kv%%=*}]=${kv#*=}; done
  printf '%-10s | %9s | %6s | %8s | %8s | %8s | %7s | %s, %s\n' "$label" "${v[events_per_s]}" "${v[fps]}" "${v[p50_ms]}" "${v[p95_ms]}" "${v[p99_ms]}" "${v[max_ms]}" "${v[longtasks]}" "${v[longtask_ms]}"
done
