#!/usr/bin/env bash
# Registry write and read throughput over HTTP, Safeguard side by side with
# PostgreSQL doing the same durable work in the same run.
#   Safeguard: wrk against POST /api/v1/people (full path: auth, validation,
#   group commit with fsync, audit entry) and GET /api/v1/people/{id}.
#   PostgreSQL 15: pgbench, prepared statements, synchronous_commit = on,
#   inserting the same person row plus its audit row per transaction, and
#   reading one row by primary key.
# Both at 1 and 64 concurrent clients. Everything runs on 127.0.0.1 / a unix
# socket and stops by itself. Usage: bench/registry.sh [seconds per run]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
scripts/deps.sh --bench
scripts/build.sh
BIN=$PWD/build/safeguard
WORK=$(mktemp -d /tmp/sg-bench-XXXXXX)
chmod 755 "$WORK"
PGBIN=/usr/lib/postgresql/15/bin
PORT=$((20000 + RANDOM % 20000))
PGPORT=$((PORT + 1))
cleanup() {
  [[ -n "${SG_PID:-}" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  if [[ -f "$WORK/pg/postmaster.pid" ]]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- Safeguard -------------------------------------------------------------
PW="bench passphrase $RANDOM$RANDOM"
echo "$PW" | "$BIN" init --data-dir "$WORK/sg" --admin-password-file - >/dev/null
"$BIN" serve --data-dir "$WORK/sg" --listen "127.0.0.1:$PORT" --set log.level=warn \
  --set server.per_ip_connections=1000 2>"$WORK/sg.log" &
SG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
SG_TOKEN=$(curl -sf -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PW\"}" "http://127.0.0.1:$PORT/api/v1/session" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export SG_TOKEN
SG_PERSON=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $SG_TOKEN" \
  -d '{"name":"Read Me","kind":"staff","status":"in_country"}' "http://127.0.0.1:$PORT/api/v1/people" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export SG_PERSON

sg_run() { # script clients
  local threads=$(( $2 < 2 ? 1 : 2 ))
  wrk -t"$threads" -c"$2" -d"${DUR}s" -s "bench/$1" "http://127.0.0.1:$PORT" | grep '^RESULT' | sed 's/^RESULT //'
}
declare -A R
R[sg_w1]=$(sg_run post_person.lua 1)
R[sg_w64]=$(sg_run post_person.lua 64)
R[sg_r1]=$(sg_run get_person.lua 1)
R[sg_r64]=$(sg_run get_person.lua 64)
batch=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^safeguard_store_batch_max/ {print $2}')
commits=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^safeguard_store_commits_total/ {print $2}')
writes=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^safeguard_store_writes_total/ {print $2}')
kill "$SG_PID"; wait "$SG_PID" || true; SG_PID=

# --- PostgreSQL ------------------------------------------------------------
mkdir "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
  -o "-p $PGPORT -k $WORK/pg -c listen_addresses='' -c synchronous_commit=on -c fsync=on -c max_connections=200" start >/dev/null
PGH="-h $WORK/pg -p $PGPORT -U postgres"
runuser -u postgres -- psql $PGH -q -d postgres -f bench/pg_schema.sql >/dev/null
pg_run() { # script clients
  local jobs=$(( $2 < 2 ? 1 : 2 ))
  runuser -u postgres -- pgbench $PGH -n -M prepared -c "$2" -j "$jobs" -T "$DUR" -r -f "$WORK/$1" postgres 2>/dev/null |
    awk '/^tps = / {tps=$3} /latency average/ {lat=$4} END {printf "rps=%.0f avg_ms=%.2f\n", tps, lat}'
}
cp bench/pg_insert.sql bench/pg_select.sql "$WORK/" && chmod 644 "$WORK"/*.sql
R[pg_w1]=$(pg_run pg_insert.sql 1)
R[pg_w64]=$(pg_run pg_insert.sql 64)
R[pg_r1]=$(pg_run pg_select.sql 1)
R[pg_r64]=$(pg_run pg_select.sql 64)

echo
echo "registry benchmark, ${DUR}s per run, $(nproc) cores, $(date -u +%Y-%m-%d)"
printf '%-34s %-44s %s\n' "work" "Safeguard (HTTP, wrk)" "PostgreSQL 15 (pgbench, in-process SQL)"
printf '%-34s %-44s %s\n' "durable write, 1 client" "${R[sg_w1]}" "${R[pg_w1]}"
printf '%-34s %-44s %s\n' "durable write, 64 clients" "${R[sg_w64]}" "${R[pg_w64]}"
printf '%-34s %-44s %s\n' "read by id, 1 client" "${R[sg_r1]}" "${R[pg_r1]}"
printf '%-34s %-44s %s\n' "read by id, 64 clients" "${R[sg_r64]}" "${R[pg_r64]}"
echo "Safeguard group commit: $writes writes in $commits commits, largest batch $batch"
