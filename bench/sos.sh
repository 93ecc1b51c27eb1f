#!/usr/bin/env bash
# SOS to alarm event (issue 13, done-when 7), under the ingest load of
# bench/positions.sh (wrk, 64 keep-alive connections of OsmAnd reports from
# 1,000 devices to the dedicated listener), side by side in one run with
# PostgreSQL doing the same work its own way:
#   safeguard  Traccar Client SOS reports (one a new alarm each) from a second
#              organisation's phones; its duty officer's /api/v1/stream is
#              open; the time from sending the report to the `alarm` event
#              arriving on the stream (and the report's own 200).
#   postgres   INSERT of the alarm row + NOTIFY in one transaction
#              (synchronous_commit on) while pgbench inserts positions with 64
#              clients; the time from sending it to the notification
#              arriving at a LISTENing connection.
# One SOS every 50 ms; prints p50/p95/p99/max. Stops by itself.
# Usage: bench/sos.sh [seconds per run] [SOS count]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/ingest_server.sh
DUR=${1:-20}
N=${2:-300}
scripts/deps.sh --bench
scripts/build.sh
WORK=$(mktemp -d /tmp/sg-bench-XXXXXX)
chmod 755 "$WORK"
PGBIN=/usr/lib/postgresql/15/bin
PORT=$((20000 + RANDOM % 20000)); OPORT=$((PORT + 1)); PGPORT=$((PORT + 2))
cleanup() {
  [[ -n "${WRK_PID:-}" ]] && kill "$WRK_PID" 2>/dev/null || true
  [[ -n "${SG_PID:-}" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  [[ -f "$WORK/pg/postmaster.pid" ]] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== safeguard: 1,000 load devices, $N SOS phones of another organisation"
ingest_server "$WORK/data" "$PORT" "$OPORT" "$WORK/server.log"
enrol_devices 1000 "$WORK/keys"
SG_KEYS_FILE="$WORK/keys" SG_INGEST_PATH="/" SG_TIME_BASE=1700000000 wrk -t2 -c64 -d"$((DUR + 30))s" \
  -s bench/ingest.lua "http://127.0.0.1:$OPORT" > "$WORK/wrk.txt" &
WRK_PID=$!
sleep 2
python3 - "$PORT" "$OPORT" "$TOKEN" "$N" <<'PY'
import http.client, json, socket, statistics, sys, threading, time, urllib.parse
port, oport, root, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def call(method, path, body=None, token=root):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json", "Authorization": "Bearer " + token})
    r = c.getresponse(); d = r.read(); c.close()
    return json.loads(d) if d else None
pw = "sos bench passphrase 2026"
call("POST", "/api/v1/organisations", {"name": "SOS bench org", "kind": "employer",
                                         "admin": {"username": "sos.admin", "password": pw}})
tok = call("POST", "/api/v1/session", {"username": "sos.admin", "password": pw}, token="")["token"]
keys = []
for i in range(n):
    p = call("POST", "/api/v1/people", {"name": f"SOS {i}", "kind": "staff", "status": "in_country"}, tok)
    d = call("POST", "/api/v1/devices", {"name": f"sos {i}", "kind": "phone", "protocol": "osmand", "person_id": p["id"]}, tok)
    keys.append((d["id"], urllib.parse.quote(d["key"])))
sent, arrived = {}, {}
s = socket.create_connection(("127.0.0.1", port))
s.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
def reader():
    buf, ev = b"", None
    f = s.makefile("rb")
    for line in f:
        line = line.strip()
        if line.startswith(b"event: "):
            ev = line[7:]
        elif line.startswith(b"data: ") and ev == b"alarm":
            dev = json.loads(line[6:]).get("device_id")
            arrived.setdefault(dev, time.perf_counter())
threading.Thread(target=reader, daemon=True).start()
time.sleep(0.5)
acks = []
c = http.client.HTTPConnection("127.0.0.1", oport, timeout=60)
t0 = int(time.time())
for i, (dev, key) in enumerate(keys):
    sent[dev] = time.perf_counter()
    c.request("POST", f"/?id={key}&timestamp={t0}&lat=24.9065&lon=67.1608&speed=0.0&bearing=0.0&altitude=12.0"
                      f"&accuracy=9.6&batt=64.0&charge=false&alarm=sos", b"")
    r = c.getresponse(); r.read()
    acks.append((time.perf_counter() - sent[dev]) * 1000)
    assert r.status == 200, r.status
    time.sleep(0.05)
deadline = time.time() + 10
while len(arrived) < len(keys) and time.time() < deadline:
    time.sleep(0.05)
lat = sorted((arrived[d] - sent[d]) * 1000 for d in sent if d in arrived)
q = lambda a, p: a[min(len(a) - 1, int(p * len(a)))]
acks.sort()
print(f"SG sos_to_event n={len(lat)}/{len(keys)} p50={q(lat,.5):.2f} p95={q(lat,.95):.2f} p99={q(lat,.99):.2f} max={lat[-1]:.2f} ms;"
      f" report_200 p50={q(acks,.5):.2f} p99={q(acks,.99):.2f} ms")
PY
wait "$WRK_PID" || true
WRK_PID=
echo "safeguard ingest during the run: $(grep '^RESULT' "$WORK/wrk.txt" | sed 's/^RESULT //')"
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=

echo "== postgres 15: INSERT + NOTIFY under pgbench position inserts (64 clients)"
mkdir "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
  -o "-p $PGPORT -k $WORK/pg -c listen_addresses='' -c synchronous_commit=on -c fsync=on -c max_connections=200" start >/dev/null
PSQL=(runuser -u postgres -- psql -h "$WORK/pg" -p "$PGPORT" -U postgres -q -d postgres)
"${PSQL[@]}" -c "CREATE TABLE positions (device_id text, time_ms bigint, org_id text, lat float8, lon float8,
  speed_mps float8, course_deg float8, altitude_m float8, accuracy_m float8, battery_pct int, charging int,
  attrs text, received_ms bigint, PRIMARY KEY (device_id, time_ms));
  CREATE TABLE alarms (id serial PRIMARY KEY, device_id text, cause text, lat float8, lon float8, opened timestamptz);"
cp bench/pg_positions.sql "$WORK/" && chmod 644 "$WORK"/*.sql
runuser -u postgres -- pgbench -h "$WORK/pg" -p "$PGPORT" -U postgres -n -M prepared -c 64 -j 2 -T "$((DUR + 30))" \
  -f "$WORK/pg_positions.sql" postgres > "$WORK/pgbench.txt" 2>&1 &
WRK_PID=$!
sleep 2
runuser -u postgres -- python3 - "$WORK/pg" "$PGPORT" "$N" <<'PY'
import select, sys, time
import psycopg2, psycopg2.extensions
host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lc = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
lc.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
lc.cursor().execute("LISTEN alarms")
wc = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
cur = wc.cursor()
lat = []
for i in range(n):
    t = time.perf_counter()
    cur.execute("INSERT INTO alarms (device_id, cause, lat, lon, opened) VALUES (%s, 'sos', 24.9065, 67.1608, now())"
                " RETURNING id", (f"dev{i}",))
    aid = cur.fetchone()[0]
    cur.execute("SELECT pg_notify('alarms', %s)", (str(aid),))
    wc.commit()
    got = False
    while not got:
        if select.select([lc], [], [], 5) == ([], [], []):
            break
        lc.poll()
        while lc.notifies:
            if lc.notifies.pop(0).payload == str(aid):
                got = True
    if got:
        lat.append((time.perf_counter() - t) * 1000)
    time.sleep(0.05)
lat.sort()
q = lambda a, p: a[min(len(a) - 1, int(p * len(a)))]
print(f"PG insert_notify n={len(lat)}/{n} p50={q(lat,.5):.2f} p95={q(lat,.95):.2f} p99={q(lat,.99):.2f} max={lat[-1]:.2f} ms")
PY
wait "$WRK_PID" || true
WRK_PID=
echo "postgres inserts during the run: $(awk '/^tps = / {printf "%.0f/s", $3}' "$WORK/pgbench.txt")"
