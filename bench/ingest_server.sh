# Sourced by bench/positions.sh and bench/ingest_cpu.sh: a fresh store and
# server set up for the durable-ingest load, and its enrolled devices.
#
# ingest_server DATA_DIR PORT OSMAND_PORT LOG
#   initialises DATA_DIR, starts the server on PORT with the OsmAnd listener
#   on OSMAND_PORT and the per-device rate limit lifted, waits until it
#   answers; sets SG_PID and TOKEN (an admin session).
# enrol_devices N FILE
#   enrols N OsmAnd devices; their keys, URL-encoded, one per line in FILE.
ingest_server() {
  local pw="bench passphrase $RANDOM$RANDOM"
  echo "$pw" | build/safeguard init --data-dir "$1" --admin-password-file - >/dev/null 2>&1
  build/safeguard serve --data-dir "$1" --listen "127.0.0.1:$2" --set log.level=warn \
    --set server.per_ip_connections=1000 --set "ingest.osmand_listen=127.0.0.1:$3" \
    --set ingest.device_rate_per_s=100000 2>"$4" &
  SG_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && break; sleep 0.05; done
  TOKEN=$(curl -sf -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$pw\"}" \
    "http://127.0.0.1:$2/api/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  SG_PORT=$2
}

enrol_devices() {
  python3 - "$SG_PORT" "$TOKEN" "$1" "$2" <<'PY'
import json, sys, urllib.parse, urllib.request
port, token, n, out = sys.argv[1:]
with open(out, "w") as f:
    for i in range(int(n)):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/devices",
            data=json.dumps({"name": f"bench {i}", "kind": "phone", "protocol": "osmand"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        f.write(urllib.parse.quote(json.load(urllib.request.urlopen(req))["key"]) + "\n")
PY
}
