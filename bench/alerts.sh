#!/usr/bin/env bash
# An alert over 100,000 people (issue 14, done-when 6), side by side in one
# run with PostgreSQL 15 + PostGIS doing the same work its own way:
#   recipients  safeguard: POST /api/v1/alerts?preview=true over a 25 km
#               circle holding the 100,000 people's fresh latest positions
#               (each found once, with its reason): the time its
#               Server-Timing header reports, and the whole answer (the
#               100,000 recipients as JSON, about 15 MB);
#               postgis: SELECT over a GiST index (ST_DWithin, geography).
#   durable     safeguard: POST /api/v1/alerts, answered once the alert, its
#               100,000 recipients and a delivery row per recipient and
#               channel (the stream and one webhook: 200,000; the OwnTracks
#               app is no channel of an organisation without an OwnTracks
#               phone) are committed: its Server-Timing, and the whole answer
#               (which lists the recipients); postgis: the same rows INSERTed
#               in one transaction (synchronous_commit on).
#   first       safeguard: from sending the alert to the first webhook request
#               arriving at a loopback receiver (bench/hook_sink.c).
#   webhooks    safeguard: the 100,000 signed webhook deliveries, first to
#               last arrival, per second; peer: wrk POSTing a body of the same
#               size to the same receiver over 1 connection (the webhook
#               worker's one) and over 8.
# Prints the median of R runs of each. Usage: bench/alerts.sh [people] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/ingest_server.sh
N=${1:-100000}
R=${2:-3}
scripts/deps.sh --bench
scripts/build.sh
[[ -x build/hook_sink ]] || { meson setup --reconfigure build >/dev/null && ninja -C build >/dev/null; }
WORK=$(mktemp -d /tmp/sg-bench-XXXXXX)
chmod 755 "$WORK"
PGBIN=/usr/lib/postgresql/15/bin
PORT=$((20000 + RANDOM % 20000)); OPORT=$((PORT + 1)); PGPORT=$((PORT + 2)); HPORT=$((PORT + 3))
cleanup() {
  [[ -n "${SINK_PID:-}" ]] && kill "$SINK_PID" 2>/dev/null || true
  [[ -n "${SG_PID:-}" ]] && kill "$SG_PID" 2>/dev/null && wait "$SG_PID" 2>/dev/null || true
  [[ -f "$WORK/pg/postmaster.pid" ]] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

build/hook_sink "$HPORT" > "$WORK/sink.txt" &
SINK_PID=$!
echo "== safeguard: $N people with a phone each, their positions within 20 km of Karachi airport"
ingest_server "$WORK/data" "$PORT" "$OPORT" "$WORK/server.log"
python3 - "$PORT" "$OPORT" "$TOKEN" "$N" "$HPORT" "$R" "$SINK_PID" "$WORK/sink.txt" <<'PY'
import http.client, json, math, os, random, signal, statistics, sys, threading, time, urllib.parse
port, oport, tok, n, hport, runs, sink, sinkf = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                                                 int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8])
def conn(p=port):
    return http.client.HTTPConnection("127.0.0.1", p, timeout=300)
timing = {}
def call(c, method, path, body=None):
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json", "Authorization": "Bearer " + tok})
    r = c.getresponse(); d = r.read()
    for part in (r.getheader("Server-Timing") or "").split(","):
        if "dur=" in part:
            timing["last" if part.strip().startswith("recipients") else "durable"] = float(part.split("dur=")[1])
    return r.status, (json.loads(d) if d else None)
c = conn()
call(c, "POST", "/api/v1/channels", {"name": "bench hook", "kind": "webhook", "url": f"http://127.0.0.1:{hport}/hook",
                                     "secret": "bench-webhook-signing-key"})
keys = [None] * n
def enrol(lo, hi):
    c = conn()
    for i in range(lo, hi):
        s, p = call(c, "POST", "/api/v1/people", {"name": f"Engineer {i}", "kind": "staff", "status": "in_country"})
        s, d = call(c, "POST", "/api/v1/devices", {"name": f"phone {i}", "kind": "phone", "protocol": "osmand", "person_id": p["id"]})
        keys[i] = urllib.parse.quote(d["key"])
def report(lo, hi):
    c = conn(oport)
    rnd = random.Random(lo)
    t = int(time.time())
    for i in range(lo, hi):
        r, a = 20000 * math.sqrt(rnd.random()), rnd.random() * 2 * math.pi
        lat = 24.9065 + r * math.cos(a) / 111320
        lon = 67.1608 + r * math.sin(a) / (111320 * math.cos(math.radians(24.9065)))
        c.request("GET", f"/?id={keys[i]}&lat={lat:.6f}&lon={lon:.6f}&timestamp={t}")
        resp = c.getresponse(); resp.read()
        assert resp.status == 200, resp.status
def parallel(fn, k=8):
    th = [threading.Thread(target=fn, args=(n * j // k, n * (j + 1) // k)) for j in range(k)]
    [x.start() for x in th]; [x.join() for x in th]
t0 = time.time(); parallel(enrol); t1 = time.time(); parallel(report); t2 = time.time()
print(f"setup: {n} people and devices in {t1 - t0:.0f} s, their reports in {t2 - t1:.0f} s", flush=True)
def sink_read():
    os.kill(sink, signal.SIGUSR1); time.sleep(0.1)
    line = open(sinkf).read().strip().splitlines()[-1]
    return {k: int(v) for k, v in (x.split("=") for x in line.split()[1:])}
area = {"event": "Car bomb", "urgency": "Immediate", "severity": "Extreme", "certainty": "Observed",
        "headline": "Car bomb at the airport exit: stay inside", "instruction": "Stay where you are.",
        "geometry": {"type": "Point", "coordinates": [67.1608, 24.9065]}, "radius_m": 25000}
pre, comp, dur, whole, first, rate = [], [], [], [], [], []
for k in range(runs):
    c = conn()  # the setup's connection has idled out
    t = time.perf_counter(); s, p = call(c, "POST", "/api/v1/alerts?preview=true", area); pre.append((time.perf_counter() - t) * 1000)
    assert s == 200 and p["count"] == n, (s, p and p.get("count"))
    comp.append(timing["last"])
    os.kill(sink, signal.SIGUSR2); time.sleep(0.2)
    sent_ms = time.time() * 1000
    t = time.perf_counter(); s, a = call(c, "POST", "/api/v1/alerts", area); whole.append((time.perf_counter() - t) * 1000)
    dur.append(timing["durable"])
    assert s == 201 and a["recipients"] == n, (s, a)
    deadline = time.time() + 600
    while (x := sink_read())["count"] < n and time.time() < deadline:
        time.sleep(0.5)
    first.append(x["first_ms"] - sent_ms)
    rate.append(x["count"] / max(0.001, (x["last_ms"] - x["first_ms"]) / 1000))
    print(f"  run {k + 1}: recipients computed {comp[-1]:.0f} ms (preview answered in {pre[-1]:.0f} ms), durable {dur[-1]:.0f} ms (answered in {whole[-1]:.0f} ms), first webhook {first[-1]:.0f} ms,"
          f" {x['count']} webhooks at {rate[-1]:.0f}/s", flush=True)
m = statistics.median
print(f"SG recipients_ms={m(comp):.1f} preview_answer_ms={m(pre):.1f} durable_ms={m(dur):.1f} send_answer_ms={m(whole):.1f} first_delivery_ms={m(first):.1f} webhooks_per_s={m(rate):.0f}")
PY
echo "safeguard's memory: $(ps -o rss= -p "$SG_PID" | awk '{printf "%.0f MB", $1/1024}')"
kill "$SG_PID"; wait "$SG_PID" 2>/dev/null || true; SG_PID=

echo "== wrk: the same receiver, a body of the same size (the webhook's JSON for one recipient)"
head -c 1100 /dev/zero | tr '\0' 'x' > "$WORK/body"
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$WORK/body"):read("*a")
wrk.headers["Content-Type"] = "application/json"
LUA
for c in 1 8; do
  wrk -t1 -c"$c" -d10s -s "$WORK/post.lua" "http://127.0.0.1:$HPORT/hook" | awk -v c="$c" '/Requests\/sec/ {printf "PEER wrk_%sconn_per_s=%.0f\n", c, $2}'
done

echo "== postgres 15 + PostGIS: the same people and positions, the same alert"
mkdir "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
  -o "-p $PGPORT -k $WORK/pg -c listen_addresses='' -c synchronous_commit=on -c fsync=on" start >/dev/null
runuser -u postgres -- python3 - "$WORK/pg" "$PGPORT" "$N" "$R" <<'PY'
import math, random, statistics, sys, time
import psycopg2
host, port, n, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = psycopg2.connect(host=host, port=port, user="postgres", dbname="postgres")
cur = c.cursor()
cur.execute("CREATE EXTENSION postgis")
cur.execute("""CREATE TABLE latest (person_id text PRIMARY KEY, org_id text, geog geography(Point, 4326), time_ms bigint);
CREATE TABLE alerts (id text PRIMARY KEY, org_id text, headline text, geog geography, radius_m float8, sent_at timestamptz);
CREATE TABLE alert_recipients (alert_id text, person_id text, reasons text, PRIMARY KEY (alert_id, person_id));
CREATE TABLE deliveries (id text PRIMARY KEY, alert_id text, person_id text, channel text, state text, next_at_ms bigint);
CREATE INDEX deliveries_due ON deliveries (channel, next_at_ms) WHERE state = 'pending';""")
rnd = random.Random(0)
rows = []
for i in range(n):
    r, a = 20000 * math.sqrt(rnd.random()), rnd.random() * 2 * math.pi
    lat = 24.9065 + r * math.cos(a) / 111320
    lon = 67.1608 + r * math.sin(a) / (111320 * math.cos(math.radians(24.9065)))
    rows.append(f"per{i}\torg1\tSRID=4326;POINT({lon:.6f} {lat:.6f})\t{int(time.time() * 1000)}")
import io
cur.copy_from(io.StringIO("\n".join(rows) + "\n"), "latest")
cur.execute("CREATE INDEX latest_geog ON latest USING gist (geog); ANALYZE latest")
c.commit()
q = ("SELECT person_id FROM latest WHERE org_id = 'org1' AND time_ms > %s"
     " AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(67.1608, 24.9065), 4326)::geography, 25000)")
pre, dur = [], []
for k in range(runs):
    t = time.perf_counter(); cur.execute(q, (int(time.time() * 1000) - 3600000,)); got = cur.fetchall(); pre.append((time.perf_counter() - t) * 1000)
    assert len(got) == n, len(got)
    c.commit()
    aid = f"alr{k}"
    t = time.perf_counter()
    cur.execute("INSERT INTO alerts VALUES (%s, 'org1', 'Car bomb', ST_SetSRID(ST_MakePoint(67.1608, 24.9065), 4326)::geography,"
                " 25000, now())", (aid,))
    cur.execute("INSERT INTO alert_recipients SELECT %s, person_id, '[\"position\"]' FROM latest WHERE org_id = 'org1'"
                " AND time_ms > %s AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(67.1608, 24.9065), 4326)::geography, 25000)",
                (aid, int(time.time() * 1000) - 3600000))
    cur.execute("INSERT INTO deliveries SELECT md5(random()::text || r.person_id || ch), %s, r.person_id, ch, 'pending', 0"
                " FROM alert_recipients r CROSS JOIN (VALUES ('stream'), ('webhook')) AS v(ch) WHERE r.alert_id = %s",
                (aid, aid))
    c.commit()
    dur.append((time.perf_counter() - t) * 1000)
    print(f"  run {k + 1}: recipients {pre[-1]:.0f} ms, durable {dur[-1]:.0f} ms", flush=True)
m = statistics.median
print(f"PG recipients_ms={m(pre):.1f} durable_ms={m(dur):.1f}")
PY
