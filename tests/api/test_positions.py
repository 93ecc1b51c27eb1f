"""Live positions (issue 4): real clients' requests end to end, refusals that
store nothing, deduplication, latest positions and spatial questions, device
history in four formats, the dedicated OsmAnd listener."""
import base64
import json
import time
import urllib.parse
import xml.etree.ElementTree as ET

from harness import SECRETS, Server, check, device_body, free_port, person_body

from test_access import Org


def count(srv):
    return srv.sql("SELECT count(*) FROM positions")[0][0]


def history(srv, tok, dev, fmt="geojson", extra=""):
    r = srv.request("GET", f"/api/v1/devices/{dev}/history?format={fmt}{extra}", token=tok)
    check(r.status == 200, r)
    return r


def owntracks(srv, key, body, user="wei", device="phone"):
    auth = base64.b64encode(f"{user}:{key}".encode()).decode()
    return srv.request("POST", "/ingest/owntracks", raw=json.dumps(body).encode(),
                       headers={"Authorization": "Basic " + auth, "X-Limit-U": user, "X-Limit-D": device})


def test_real_client_requests_are_stored_field_by_field():
    srv = Server().start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        now = int(time.time())
        # Traccar Client (Android), query string, as it sends it.
        r = srv.request("POST", f"/ingest/osmand?id={key}&timestamp={now - 300}&lat=24.9065&lon=67.1608&speed=10.0"
                                f"&bearing=91.5&altitude=12.0&accuracy=9.6&batt=64.0&charge=true&alarm=sos", raw=b"",
                        content_type=None)
        check(r.status == 200, r)
        # OsmAnd: GET, ISO timestamp, hdop.
        iso = time.strftime("%Y-%m-%dT%H%%3A%M%%3A%SZ", time.gmtime(now - 240))
        r = srv.request("GET", f"/ingest/osmand?id={key}&lat=24.91&lon=67.17&timestamp={iso}&hdop=6.0&altitude=224.0&speed=0.0")
        check(r.status == 200, r)
        # Millisecond timestamp, deviceid=, heading, location=.
        r = srv.request("GET", f"/ingest/osmand?deviceid={key}&location=24.92,67.18&timestamp={(now - 180) * 1000}&heading=45")
        check(r.status == 200, r)
        # "yyyy-MM-dd HH:mm:ss" in a form body.
        ts = time.strftime("%Y-%m-%d+%H%%3A%M%%3A%S", time.gmtime(now - 120))
        r = srv.request("POST", "/ingest/osmand", raw=f"id={key}&lat=24.93&lon=67.19&timestamp={ts}&rpm=933".encode(),
                        content_type="application/x-www-form-urlencoded")
        check(r.status == 200, r)
        # Traccar Client's JSON form.
        body = {"device_id": dev["key"], "location": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 60)),
            "coords": {"latitude": 24.94, "longitude": 67.20, "accuracy": 5, "speed": 3.2, "heading": -1, "altitude": 18},
            "battery": {"level": 0.52, "is_charging": False}, "is_moving": True, "event": "motionchange",
            "extras": {"trip": "airport run"}}}
        r = srv.request("POST", "/ingest/osmand", body)
        check(r.status == 200, r)
        # OwnTracks HTTP mode.
        ot = srv.create(tok, "devices", device_body(protocol="owntracks"))
        r = owntracks(srv, ot["key"], {"_type": "location", "acc": 15, "alt": 440, "batt": 46, "conn": "w",
                                       "lat": 24.95, "lon": 67.21, "t": "u", "tid": "5t", "tst": now - 30, "vel": 36})
        check(r.status == 200 and r.json == [], r)
        r = owntracks(srv, ot["key"], {"_type": "transition", "event": "enter", "desc": "Camp", "lat": 24.96,
                                       "lon": 67.22, "tst": now - 20, "wtst": now - 1000, "rid": "x1", "acc": 10})
        check(r.status == 200, r)
        r = owntracks(srv, ot["key"], {"_type": "lwt", "tst": now})
        check(r.status == 200 and r.json == [], "an lwt is accepted without a fix")

        feats = history(srv, tok, dev["id"]).json["features"]
        check(len(feats) == 5, feats)
        p0, p1, p2, p3, p4 = (f["properties"] for f in feats)
        check(feats[0]["geometry"]["coordinates"] == [67.1608, 24.9065], feats[0])
        check(abs(p0["speed_mps"] - 10 * 0.514444) < 1e-9 and p0["course_deg"] == 91.5 and p0["accuracy_m"] == 9.6, p0)
        check(p0["battery_pct"] == 64 and p0["charging"] is True and p0["attributes"] == {"alarm": "sos"}, p0)
        check(p1["altitude_m"] == 224.0 and p1["speed_mps"] == 0 and p1["attributes"] == {"hdop": 6.0}, p1)
        check(p2["course_deg"] == 45 and feats[2]["geometry"]["coordinates"] == [67.18, 24.92], p2)
        check(p3["attributes"] == {"rpm": 933}, p3)
        check(p4["speed_mps"] == 3.2 and "course_deg" not in p4 and p4["battery_pct"] == 52 and p4["charging"] is False, p4)
        check(p4["attributes"]["trip"] == "airport run" and p4["attributes"]["motion"] is True, p4)
        times = [f["properties"]["time"] for f in feats]
        check(times == sorted(times), times)
        ofeats = history(srv, tok, ot["id"]).json["features"]
        check(len(ofeats) == 2, ofeats)
        o0, o1 = (f["properties"] for f in ofeats)
        check(o0["speed_mps"] == 10 and o0["accuracy_m"] == 15 and o0["battery_pct"] == 46, o0)
        check(o0["attributes"]["tid"] == "5t" and o0["attributes"]["user"] == "wei" and o0["attributes"]["device"] == "phone", o0)
        check(o1["attributes"]["_type"] == "transition" and o1["attributes"]["event"] == "enter" and o1["attributes"]["desc"] == "Camp", o1)
    finally:
        srv.stop()


def test_refused_reports_store_nothing():
    srv = Server(extra_args=("--set", "ingest.device_burst=30", "--set", "ingest.device_rate_per_s=1")).start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        now = int(time.time())
        cases = [
            (f"/ingest/osmand?timestamp={now}&lat=24&lon=67", 400, "?id"),
            (f"/ingest/osmand?id={key}&timestamp={now}", 400, "?lat"),
            (f"/ingest/osmand?id={key}&lat=24", 400, "?lon"),
            (f"/ingest/osmand?id={key}&lat=95&lon=67", 400, "?lat"),
            (f"/ingest/osmand?id={key}&lat=24&lon=200", 400, "?lon"),
            (f"/ingest/osmand?id={key}&lat=north&lon=67", 400, "?lat"),
            (f"/ingest/osmand?id={key}&lat=24&lon=67&timestamp=soon", 400, "?timestamp"),
            (f"/ingest/osmand?id={key}&lat=24&lon=67&timestamp={now + 3600}", 422, "timestamp"),
            (f"/ingest/osmand?id=not-a-key&lat=24&lon=67", 401, None),
        ]
        for path, status, field in cases:
            r = srv.request("GET", path)
            check(r.status == status and r.headers["content-type"] == "application/problem+json", f"{path}: {r}")
            if field:
                check(r.json.get("field") == field, f"{path}: {r.json}")
        for body, status in (({"device_id": dev["key"], "location": {"coords": {"latitude": "24", "longitude": 67}}}, 400),
                             ({"location": {"coords": {"latitude": 24, "longitude": 67}}}, 400),
                             ({"device_id": "nobody", "location": {"coords": {"latitude": 24, "longitude": 67}}}, 401)):
            r = srv.request("POST", "/ingest/osmand", body)
            check(r.status == status, f"{body}: {r}")
        r = srv.request("POST", "/ingest/osmand", raw=b"<xml/>", content_type="text/xml")
        check(r.status == 415, r)
        r = owntracks(srv, "wrong-key", {"_type": "location", "lat": 1, "lon": 2, "tst": now})
        check(r.status == 401, r)
        r = srv.request("POST", "/ingest/owntracks", raw=b'{"_type":"location","lat":1,"lon":2,"tst":1}')
        check(r.status == 401, f"OwnTracks without credentials: {r}")
        r = owntracks(srv, dev["key"], {"_type": "location", "lat": 1, "lon": 2})
        check(r.status == 400 and r.json["field"] == "/tst", r)
        check(count(srv) == 0, "a refused report was stored")
        # A device key opens no other route.
        check(srv.request("GET", "/api/v1/people", token=dev["key"]).status == 401, "device key as bearer")
        # Per-device rate limit.
        t_burst = time.time()
        statuses = [srv.request("GET", f"/ingest/osmand?id={key}&lat=24&lon=67&timestamp={now - 100 + i}").status
                    for i in range(40)]
        elapsed = time.time() - t_burst
        # exactly the burst, then one more a second (rate 1/s)
        check(statuses[:30] == [200] * 30 and statuses[30] == 429, statuses)
        check(statuses[30:].count(200) <= int(elapsed), (elapsed, statuses))
        other = srv.create(tok, "devices", device_body())
        check(srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(other['key'])}&lat=24&lon=67").status == 200,
              "the limit is per device")
    finally:
        srv.stop()


def test_duplicates_are_stored_once_and_older_reports_never_overwrite_latest():
    srv = Server().start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        now = int(time.time())
        for _ in range(3):
            check(srv.request("GET", f"/ingest/osmand?id={key}&lat=24.9&lon=67.1&timestamp={now - 10}").status == 200, "dup")
        check(count(srv) == 1, "the same report three times is stored once")
        srv.request("GET", f"/ingest/osmand?id={key}&lat=30.0&lon=70.0&timestamp={now - 100}")  # late, older
        latest = srv.request("GET", "/api/v1/positions/latest?near=24.9,67.1&k=1", token=tok).json["items"]
        check(latest[0]["device_id"] == dev["id"] and latest[0]["lat"] == 24.9, latest)
        check(count(srv) == 2, "the older report is kept in the history")
        srv.stop()
        srv.start()  # the live index is rebuilt from the history
        tok = srv.admin()
        latest = srv.request("GET", "/api/v1/positions/latest?near=24.9,67.1&k=1", token=tok).json["items"]
        check(latest[0]["lat"] == 24.9 and latest[0]["dist_m"] == 0, latest)
    finally:
        srv.stop()


def test_spatial_questions_and_partner_summary_positions():
    srv = Server(extra_args=("--set", "sharing.summary_delay_s=600", "--set", "sharing.summary_grid_m=1000")).start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        b, c = Org.new(srv, root), Org.new(srv, root)
        now = int(time.time())
        points = {"airport": (24.9065, 67.1608), "near_airport": (24.93, 67.16), "port_qasim": (24.78, 67.36),
                  "dasu": (35.29, 73.18)}
        devs = {}
        for name, (lat, lon) in points.items():
            d = srv.create(a.admin, "devices", device_body(name=name))
            devs[name] = d
            r = srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(d['key'])}&lat={lat}&lon={lon}&timestamp={now - 1200}")
            check(r.status == 200, r)
        near = srv.request("GET", "/api/v1/positions/latest?near=24.9065,67.1608&radius_m=5000", token=a.tokens["duty_officer"]).json
        check([i["device_id"] for i in near["items"]] == [devs["airport"]["id"], devs["near_airport"]["id"]], near)
        check(near["items"][0]["dist_m"] == 0 and 2600 < near["items"][1]["dist_m"] < 2700, near)
        k = srv.request("GET", "/api/v1/positions/latest?near=24.9065,67.1608&k=3", token=a.tokens["viewer"]).json["items"]
        check([i["device_id"] for i in k] == [devs[n]["id"] for n in ("airport", "near_airport", "port_qasim")], k)
        box = srv.request("GET", "/api/v1/positions/latest?bbox=67,24,68,25.5", token=a.tokens["liaison"]).json["items"]
        check({i["device_id"] for i in box} == {devs[n]["id"] for n in ("airport", "near_airport", "port_qasim")}, box)
        poly = {"type": "Polygon", "coordinates": [[[67.1, 24.85], [67.25, 24.85], [67.25, 24.95], [67.1, 24.95], [67.1, 24.85]]]}
        inside = srv.request("POST", "/api/v1/positions/query", {"geometry": poly}, token=a.admin).json["items"]
        check({i["device_id"] for i in inside} == {devs["airport"]["id"], devs["near_airport"]["id"]}, inside)
        for bad, field in (("near=24.9&radius_m=5", "?near"), ("near=24.9,67.1", "?radius_m"),
                           ("near=24.9,67.1&radius_m=-5", "?radius_m"), ("near=24.9,67.1&k=0", "?k"),
                           ("bbox=1,2,3", "?bbox"), ("near=24.9,67.1&radius_m=5&k=3", "?k")):
            r = srv.request("GET", f"/api/v1/positions/latest?{bad}", token=a.admin)
            check(r.status == 400 and r.json["field"] == field, f"{bad}: {r}")
        # Partners: B sees positions in full, C as summary (coarse, delayed); a person sees none.
        for org, level in ((b, "full"), (c, "summary")):
            ag = srv.create(a.admin, "agreements", {"partner_id": org.id, "grants": [{"category": "positions", "level": level}]})
            srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=org.admin)
        full = srv.request("GET", "/api/v1/positions/latest?near=24.9065,67.1608&radius_m=5000", token=b.tokens["liaison"]).json["items"]
        check([(i["device_id"], i["access"], i["lat"]) for i in full][:1] == [(devs["airport"]["id"], "full", 24.9065)], full)
        summ = srv.request("GET", "/api/v1/positions/latest?bbox=60,20,80,40", token=c.tokens["liaison"]).json["items"]
        check(len(summ) == 4 and all(i["access"] == "summary" for i in summ), summ)
        for i in summ:
            lat, lon = points[[n for n, d in devs.items() if d["id"] == i["device_id"]][0]]
            check((i["lat"], i["lon"]) != (lat, lon) and abs(i["lat"] - lat) < 0.01 and abs(i["lon"] - lon) < 0.01,
                  f"summary positions are on the 1 km grid: {i} vs {lat},{lon}")
        tiny = srv.request("GET", "/api/v1/positions/latest?near=24.9065,67.1608&radius_m=10", token=c.tokens["liaison"]).json["items"]
        check(tiny == [], "a narrow question finds nobody at the exact spot: the test runs on the coarse position")
        # A fresh report is not shown to the summary partner until it is old enough.
        srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(devs['dasu']['key'])}&lat=35.0&lon=73.0&timestamp={now - 5}")
        s2 = {i["device_id"]: i for i in srv.request("GET", "/api/v1/positions/latest?bbox=60,20,80,40", token=c.tokens["liaison"]).json["items"]}
        check(abs(s2[devs["dasu"]["id"]]["lat"] - 35.29) < 0.01, "the summary partner sees the delayed position")
        f2 = {i["device_id"]: i for i in srv.request("GET", "/api/v1/positions/latest?bbox=60,20,80,40", token=b.tokens["liaison"]).json["items"]}
        check(f2[devs["dasu"]["id"]]["lat"] == 35.0, "the full partner sees the fresh one")
        check(srv.request("GET", "/api/v1/positions/latest?bbox=60,20,80,40", token=b.tokens["person"]).status == 403, "person")
        reads = srv.sql("SELECT changes FROM audit WHERE action = 'read' AND object_type = 'position'")
        check(len(reads) >= 4 and any(devs["airport"]["id"] in x[0] for x in reads), "partner position reads are audited")
        # History is the owner's only.
        check(srv.request("GET", f"/api/v1/devices/{devs['dasu']['id']}/history", token=b.tokens["liaison"]).status == 404, "history")
    finally:
        srv.stop()


def test_history_formats_and_time_window():
    srv = Server().start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body(name="Wei's phone"))
        key = urllib.parse.quote(dev["key"])
        t0 = int(time.time()) - 3600
        for i in range(10):
            srv.request("GET", f"/ingest/osmand?id={key}&lat={24.9 + i / 100}&lon=67.1&altitude={10 + i}&timestamp={t0 + i * 60}")
        frm = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 120))
        to = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 300))
        window = f"&from={frm}&to={to}"
        gj = history(srv, tok, dev["id"], "geojson", window).json
        check(len(gj["features"]) == 3, gj)
        csv = history(srv, tok, dev["id"], "csv", window)
        lines = csv.raw.decode().strip().split("\r\n")
        check(csv.headers["content-type"].startswith("text/csv") and len(lines) == 4 and lines[0].startswith("device_id,time,lat"), lines)
        check(lines[1].split(",")[2] == "24.9200000", lines[1])
        gpx = history(srv, tok, dev["id"], "gpx")
        root = ET.fromstring(gpx.raw)
        ns = {"g": "http://www.topografix.com/GPX/1/1"}
        pts = root.findall(".//g:trkpt", ns)
        check(len(pts) == 10 and pts[0].get("lat") == "24.9000000" and pts[9].find("g:ele", ns).text == "19.00", gpx.raw[:300])
        check(root.find(".//g:trk/g:name", ns).text == "Wei's phone", "names are escaped XML")
        kml = history(srv, tok, dev["id"], "kml")
        root = ET.fromstring(kml.raw)
        k = {"k": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}
        check(len(root.findall(".//k:when", k)) == 10 and len(root.findall(".//gx:coord", k)) == 10, kml.raw[:300])
        r = srv.request("GET", f"/api/v1/devices/{dev['id']}/history?format=shp", token=tok)
        check(r.status == 400 and r.json["field"] == "?format", r)
        r = srv.request("GET", f"/api/v1/devices/{dev['id']}/history?from=yesterday", token=tok)
        check(r.status == 400 and r.json["field"] == "?from", r)
    finally:
        srv.stop()


def test_dedicated_osmand_listener_takes_traccar_client_defaults():
    port = free_port()
    srv = Server(extra_args=("--set", f"ingest.osmand_listen=127.0.0.1:{port}")).start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        main_port = srv.port
        srv.port = port
        r = srv.request("POST", f"/?id={urllib.parse.quote(dev['key'])}&lat=24.9&lon=67.1&timestamp={int(time.time())}",
                        raw=b"", content_type=None)
        check(r.status == 200, r)
        r = srv.request("GET", "/api/v1/people", token=tok)
        check(r.status != 200, f"the device listener serves no API: {r}")
        srv.port = main_port
        check(count(srv) == 1, "stored")
    finally:
        srv.stop()


def test_history_spans_partitions_in_time_order():
    """The history is kept in one table per hour of fix time
    (retention.partition_hours): reports in five hours, sent out of order and
    resent, come back once each and in time order across the partitions,
    within the limit and the window; the live index rebuilt at a restart
    holds the newest."""
    srv = Server().start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        now = int(time.time())
        base = now - now % 3600 - 5 * 3600  # the start of an hour, five hours ago
        offsets = [3 * 3600 + 10, 5, 3600 + 59 * 60, 2 * 3600, 3600 + 1, 4 * 3600 + 7]
        lat = {o: round(24 + i / 100, 2) for i, o in enumerate(offsets)}
        for o in offsets + [5, 2 * 3600]:  # the last two are resends
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat={lat[o]}&lon=67.1&timestamp={base + o}")
            check(r.status == 200, r)
        check(srv.sql("SELECT count(*) FROM history_parts WHERE legacy = 0") == [(5,)], "one partition per hour")
        check(count(srv) == 6, "a resent report is stored once, whatever its partition")
        in_order = [lat[o] for o in sorted(offsets)]
        feats = history(srv, tok, dev["id"]).json["features"]
        check([f["geometry"]["coordinates"][1] for f in feats] == in_order, feats)
        feats = history(srv, tok, dev["id"], extra="&limit=3").json["features"]
        check([f["geometry"]["coordinates"][1] for f in feats] == in_order[:3], feats)
        frm = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 3600))
        to = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 3 * 3600))
        feats = history(srv, tok, dev["id"], extra=f"&from={frm}&to={to}").json["features"]
        check([f["geometry"]["coordinates"][1] for f in feats] == in_order[1:4], feats)
        srv.stop()
        srv.start()
        tok = srv.admin()
        latest = srv.request("GET", "/api/v1/positions/latest?near=24,67.1&k=1", token=tok).json["items"]
        check(latest[0]["lat"] == lat[4 * 3600 + 7], latest)
    finally:
        srv.stop()


def test_retention_purges_old_history_except_pinned_reports():
    srv = Server(extra_args=("--set", "retention.history_days=30", "--set", "retention.interval_s=1"))
    srv.start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        now = int(time.time())
        for age_days in (40, 35, 31, 29, 1):
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat=24.9&lon=67.1&timestamp={now - age_days * 86400}")
            check(r.status == 200, r)
        pinned = (now - 40 * 86400) * 1000
        srv.sql(f"UPDATE {srv.part_of(pinned)} SET pinned = 1 WHERE time_ms = ?", (pinned,))
        deadline = time.time() + 10
        while time.time() < deadline and count(srv) != 3:
            time.sleep(0.2)
        ages = sorted(round((now * 1000 - t) / 86400000) for (t,) in srv.sql("SELECT time_ms FROM positions"))
        check(ages == [1, 29, 40], f"kept: {ages}")
        # Time moves on (the injected clock): the 29-day-old report goes next.
        srv.advance_clock(2 * 86400 * 1000)
        deadline = time.time() + 10
        while time.time() < deadline and count(srv) != 2:
            time.sleep(0.2)
        check(count(srv) == 2, f"{count(srv)} reports left")
    finally:
        srv.stop()


def _inside(rings, x, y):
    """Even-odd ray casting over all rings (shell and holes)."""
    c = False
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
            if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                c = not c
    return c


def _edge_distance(rings, x, y):
    best = 1e9
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
            dx, dy = x2 - x1, y2 - y1
            t = max(0, min(1, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
            best = min(best, ((x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2) ** 0.5)
    return best


def test_polygon_queries_agree_with_brute_force_on_random_data():
    import math
    import random
    rnd = random.Random(7)
    srv = Server(extra_args=("--set", "ingest.device_burst=100000", "--set", "ingest.device_rate_per_s=100000")).start()
    try:
        tok = srv.admin()
        devs = [srv.create(tok, "devices", device_body()) for _ in range(60)]
        pos = {}
        t = int(time.time()) - 3600
        for d in devs:
            lat, lon = 30 + rnd.random(), 70 + rnd.random()
            pos[d["id"]] = (lat, lon)
            r = srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(d['key'])}&lat={lat:.7f}&lon={lon:.7f}&timestamp={t}")
            check(r.status == 200, r)
        for q in range(60):
            cx, cy, size = 70 + rnd.random(), 30 + rnd.random(), 0.1 + rnd.random() * 0.5
            n = rnd.randint(5, 24)
            shell = [[round(cx + size * rnd.uniform(0.5, 1) * math.cos(2 * math.pi * i / n), 7),
                      round(cy + size * rnd.uniform(0.5, 1) * math.sin(2 * math.pi * i / n), 7)] for i in range(n)]
            shell.append(shell[0])
            rings = [shell]
            if q % 2:
                hole = [[round(cx + size * 0.2 * math.cos(2 * math.pi * i / 6), 7),
                         round(cy + size * 0.2 * math.sin(2 * math.pi * i / 6), 7)] for i in range(6)]
                rings.append(hole + [hole[0]])
            r = srv.request("POST", "/api/v1/positions/query", {"geometry": {"type": "Polygon", "coordinates": rings}}, token=tok)
            check(r.status == 200, r)
            got = {i["device_id"] for i in r.json["items"]}
            for dev, (lat, lon) in pos.items():
                if _edge_distance(rings, lon, lat) < 1e-6:
                    continue
                check((dev in got) == _inside(rings, lon, lat), f"query {q}: {dev} at {lat},{lon}")
            # the same shapes as bounding boxes
            xs, ys = [p[0] for p in shell], [p[1] for p in shell]
            box = srv.request("GET", f"/api/v1/positions/latest?bbox={min(xs)},{min(ys)},{max(xs)},{max(ys)}", token=tok)
            want = {d for d, (la, lo) in pos.items() if min(ys) <= la <= max(ys) and min(xs) <= lo <= max(xs)}
            check({i["device_id"] for i in box.json["items"]} == want, f"bbox {q}")
    finally:
        srv.stop()
