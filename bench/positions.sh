#!/usr/bin/env bash
# Live positions, side by side in one run:
#   1. in-process radius / nearest queries over 1,000,000 devices spread over
#      Pakistan vs Redis GEOSEARCH on the same points (loopback, one
#      connection); memory per device of the live index;
#   2. zones containing a point: 10,000 polygons of 36 vertices, in process
#      (with the enter/exit comparison) vs PostGIS ST_Intersects with a GiST
#      index (pgbench, 1 client);
#   3. durable ingest over HTTP: OsmAnd reports from 1,000 devices, wrk with
#      64 keep-alive connections to the dedicated OsmAnd listener (event loop)
#      and to /ingest/osmand on the main port (thread per connection), vs
#      PostgreSQL inserting the same rows with synchronous_commit on
#      (pgbench -M prepared, 64 clients);
#   4. radius and nearest queries over HTTP on the same 1,000,000 devices
#      (wrk, 64 connections, random centres) vs Redis GEOSEARCH with the same
#      centres' distribution, radius, result and concurrency (64 connections).
# Everything on 127.0.0.1 / unix sockets; stops by itself.
# Usage: bench/positions.sh [seconds per HTTP/pgbench run]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/ingest_server.sh
DUR=${1:-10}
scripts/deps.sh --bench
scripts/build.sh
[[ -x build/live_bench && -x build/redis_geo_load ]] || { meson setup --reconfigure build >/dev/null && ninja -C build >/dev/null; }
WORK=$(mktemp -d /tmp/sg-bench-XXXXXX)
chmod 755 "$WORK"
PGBIN=/usr/lib/postgresql/15/bin
PORT=$((20000 + RANDOM % 20000)); RPORT=$((PORT + 1)); PGPORT=$((PORT + 2))
cleanup() {
  [[ -n "${SG_PID:-}" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  [[ -f "$WORK/pg/postmaster.pid" ]] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== 1-2. live index and zones, in process vs Redis GEOSEARCH"
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
sleep 0.5
build/live_bench "$RPORT" 1000000 10000 "$WORK/zones.tsv" "$WORK/devices.tsv" | tee "$WORK/live.txt"

echo "== PostgreSQL 15 + PostGIS"
mkdir "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
  -o "-p $PGPORT -k $WORK/pg -c listen_addresses='' -c synchronous_commit=on -c fsync=on -c max_connections=200" start >/dev/null
PSQL=(runuser -u postgres -- psql -h "$WORK/pg" -p "$PGPORT" -U postgres -q -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION postgis; CREATE TABLE zones (id int PRIMARY KEY, geom geometry(Polygon, 4326));"
chmod 644 "$WORK/zones.tsv"
"${PSQL[@]}" -c "\\copy zones FROM '$WORK/zones.tsv'" -c "CREATE INDEX ON zones USING gist (geom); ANALYZE zones;"
"${PSQL[@]}" -c "CREATE TABLE positions (device_id text, time_ms bigint, org_id text, lat float8, lon float8,
  speed_mps float8, course_deg float8, altitude_m float8, accuracy_m float8, battery_pct int, charging int,
  attrs text, received_ms bigint, PRIMARY KEY (device_id, time_ms));"
cp bench/pg_zones.sql bench/pg_positions.sql "$WORK/" && chmod 644 "$WORK"/*.sql
pg() { # script clients
  runuser -u postgres -- pgbench -h "$WORK/pg" -p "$PGPORT" -U postgres -n -M prepared -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" \
    -T "$DUR" -f "$WORK/$1" postgres 2>/dev/null | awk '/^tps = / {tps=$3} /latency average/ {lat=$4} END {printf "rps=%.0f avg_ms=%.2f\n", tps, lat}'
}
ZONES_PG=$(pg pg_zones.sql 1)
echo "postgis zones containing a point, 1 client: $ZONES_PG"

echo "== 3. durable ingest over HTTP vs PostgreSQL inserts"
OPORT=$((PORT + 3))
ingest_server "$WORK/sg" "$PORT" "$OPORT" "$WORK/sg.log"
enrol_devices 1000 "$WORK/keys"
ingest() { # port path time-base
  SG_KEYS_FILE="$WORK/keys" SG_INGEST_PATH="$2" SG_TIME_BASE="$3" wrk -t2 -c64 -d"${DUR}s" -s bench/ingest.lua \
    "http://127.0.0.1:$1" | grep '^RESULT' | sed 's/^RESULT //'
}
INGEST_SG=$(ingest "$OPORT" / 1700000000)
INGEST_MAIN=$(ingest "$PORT" /ingest/osmand 1710000000)
STORED=$(python3 - "$WORK/sg/safeguard.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(sum(c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
          for (t,) in c.execute("SELECT tbl FROM history_parts WHERE dropped_ms = 0")))
PY
)
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=
INGEST_PG=$(pg pg_positions.sql 64)

echo "== 4. radius queries over HTTP vs Redis GEOSEARCH, 64 connections each"
PW="bench passphrase $RANDOM$RANDOM"
echo "$PW" | build/safeguard init --data-dir "$WORK/sg2" --admin-password-file - >/dev/null
ORG=$(sqlite3 "$WORK/sg2/safeguard.db" "SELECT id FROM organisations LIMIT 1")
# The same 1,000,000 positions as Redis holds, as history: the server builds
# its live index from them at start, as after any restart.
# (one partition, the hour an hour ago, as the server lays it out)
T=$(( ($(date +%s) - 3600) * 1000 ))
{ bench/history_part.py 2 $(( T / 3600000 * 3600000 )) $(( T / 3600000 * 3600000 + 3600000 ))
  cat <<SQL
CREATE TEMP TABLE d (id TEXT, lat REAL, lon REAL);
.mode tabs
.import $WORK/devices.tsv d
INSERT INTO positions_p2 (device_id, time_ms, org_id, lat, lon, attrs, received_ms)
  SELECT id, $T, '$ORG', lat, lon, '{}', 0 FROM d;
INSERT INTO history_latest (device_id, part) SELECT id, 2 FROM d;
SQL
} | sqlite3 "$WORK/sg2/safeguard.db"
build/safeguard serve --data-dir "$WORK/sg2" --listen "127.0.0.1:$PORT" --set log.level=warn \
  --set server.per_ip_connections=1000 2>"$WORK/sg2.log" &
SG_PID=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sf -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$PW\"}" \
  "http://127.0.0.1:$PORT/api/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
declare -A Q
for spec in 5000:0 50000:0 0:10; do
  r=${spec%:*} k=${spec#*:}
  if [[ $k == 0 ]]; then
    Q[sg_$spec]=$(SG_TOKEN="$TOKEN" SG_RADIUS_M=$r wrk -t2 -c64 -d"${DUR}s" -s bench/radius.lua "http://127.0.0.1:$PORT" | grep '^RESULT' | sed 's/^RESULT //')
  else
    Q[sg_$spec]=$(SG_TOKEN="$TOKEN" SG_K=$k wrk -t2 -c64 -d"${DUR}s" -s bench/radius.lua "http://127.0.0.1:$PORT" | grep '^RESULT' | sed 's/^RESULT //')
  fi
  Q[redis_$spec]=$(build/redis_geo_load "$RPORT" 64 "$DUR" "$r" "$k" | sed 's/^RESULT //')
done

echo
echo "positions benchmark, $(nproc) cores, $(date -u +%Y-%m-%d), ${DUR}s per HTTP/pgbench run"
grep -E "live index|radius|nearest|ratio|zones" "$WORK/live.txt"
echo "postgis          zones containing a point, 1 client (pgbench):               $ZONES_PG"
echo "safeguard ingest over HTTP, 64 connections (wrk), OsmAnd listener:  $INGEST_SG"
echo "safeguard ingest over HTTP, 64 connections (wrk), main port:        $INGEST_MAIN   ($STORED reports on disk in all)"
echo "postgresql insert of the same rows, 64 clients:     $INGEST_PG"
for spec in 5000:0 50000:0 0:10; do
  name=$([[ ${spec#*:} == 0 ]] && echo "radius ${spec%:*} m, every hit" || echo "nearest ${spec#*:}")
  echo "safeguard HTTP $name, 64 connections: ${Q[sg_$spec]}"
  echo "redis GEOSEARCH $name, 64 connections: ${Q[redis_$spec]}"
done
