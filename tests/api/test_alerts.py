"""Alerts (issue 14, first part): recipients chosen once each with their
reasons (fresh position, home site, named, at a named site), previewed
without sending; every alert a CAP 1.2 message valid against the OASIS
schema (tests/data/CAP-v1.2.xsd) for each status, type and area; a
partner's alert relayed to one's own people; bad input stores nothing."""
import os
import subprocess
import tempfile
import time
import urllib.parse

from harness import Server, check, device_body, person_body, site_body
from test_access import Org, agree

XSD = os.path.join(os.path.dirname(__file__), "..", "data", "CAP-v1.2.xsd")
CIRCLE = {"type": "Point", "coordinates": [67.16, 24.9]}
SQUARE = {"type": "Polygon", "coordinates": [[[67.10, 24.85], [67.20, 24.85], [67.20, 24.95], [67.10, 24.95], [67.10, 24.85]]]}


def alert(**over):
    b = {"event": "Car bomb", "urgency": "Immediate", "severity": "Extreme", "certainty": "Observed",
         "headline": "Car bomb at the airport exit: stay inside", "description": "VBIED at the exit checkpoint",
         "instruction": "Stay where you are & keep away from windows <now>", "area_desc": "Airport road",
         "geometry": CIRCLE, "radius_m": 3000}
    b.update(over)
    return {k: v for k, v in b.items() if v is not None}


def valid_cap(srv, token, alert_id):
    r = srv.request("GET", f"/api/v1/alerts/{alert_id}/cap", token=token)
    check(r.status == 200 and r.headers["content-type"].startswith("application/cap+xml"), r)
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
        f.write(r.raw)
    v = subprocess.run(["xmllint", "--noout", "--schema", XSD, f.name], capture_output=True, text=True)
    os.unlink(f.name)
    check(v.returncode == 0, f"CAP 1.2 schema: {v.stderr} in {r.raw.decode()}")
    return r.raw.decode()


def test_recipients_preview_send_and_cap_for_every_kind():
    srv = Server().start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        b = Org.new(srv, root)
        camp = srv.create(a.admin, "sites", site_body(geometry={"type": "Point", "coordinates": [67.161, 24.901]}, radius_m=200))
        far = srv.create(a.admin, "sites", site_body(geometry={"type": "Point", "coordinates": [70.0, 30.0]}, radius_m=200))
        home = srv.create(a.admin, "people", person_body(name="Home Camp", home_site_id=camp["id"]))
        moving = srv.create(a.admin, "people", person_body(name="On The Road", home_site_id=far["id"]))
        named = srv.create(a.admin, "people", person_body(name="Far Named"))
        stale = srv.create(a.admin, "people", person_body(name="Stale Fix"))
        theirs = srv.create(b.admin, "people", person_body(name="Partner Person"))
        now = int(time.time())
        for p, org, t in [(moving, a, now - 60), (stale, a, now - 7200), (theirs, b, now - 60), (home, a, now - 60)]:
            d = srv.create(org.admin, "devices", device_body(person_id=p["id"]))
            lat = 24.905 if p is not home else 31.0  # home's phone is far away: still reached by home site
            r = srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(d['key'])}&lat={lat}&lon=67.165&timestamp={t}")
            check(r.status == 200, r)
        counts = lambda: srv.sql("SELECT (SELECT count(*) FROM alerts) + (SELECT count(*) FROM alert_recipient_sets)"
                                 " + (SELECT count(*) FROM events WHERE category = 'alerts')")[0][0]
        before = counts()
        r = srv.request("POST", "/api/v1/alerts?preview=true", alert(people=[named["id"]], sites=[far["id"]]),
                        token=a.tokens["duty_officer"])
        check(r.status == 200 and r.json["preview"] is True, r)
        got = {x["person_id"]: sorted(x["reasons"]) for x in r.json["recipients"]}
        want = {moving["id"]: ["position", "site"], home["id"]: ["home_site"], named["id"]: ["named"]}
        check(got == want, f"each once, with the reasons: {got}")
        check(counts() == before, "a preview stores nothing")
        r = srv.request("POST", "/api/v1/alerts", alert(people=[named["id"]], sites=[far["id"]]), token=a.tokens["duty_officer"])
        check(r.status == 201 and r.json["recipients"] == 3 and r.json["people"] == [named["id"]], r)
        first = r.json
        check(sorted(x["person_id"] for x in first["recipient_list"]) == sorted(want), first["recipient_list"])
        ev = srv.sql("SELECT type FROM events WHERE category = 'alerts'")
        check(ev == [("alert",)], ev)
        cap = valid_cap(srv, a.admin, first["id"])
        check("<circle>24.900000,67.160000 3.000</circle>" in cap and "&amp; keep away" in cap
              and "&lt;now&gt;" in cap and "<status>Actual</status>" in cap, cap)
        # an update (polygon), an exercise, a private alert, a cancel: each valid CAP
        up = srv.create(a.tokens["duty_officer"], "alerts", alert(msg_type="Update", references_id=first["id"],
                                                                 geometry=SQUARE, radius_m=None, severity="Severe"))
        cap = valid_cap(srv, a.admin, up["id"])
        check("<msgType>Update</msgType>" in cap and f",{first['id']}," in cap and "<polygon>24.850000,67.100000" in cap, cap)
        ex = srv.create(a.tokens["duty_officer"], "alerts", alert(status="Exercise"))
        cap = valid_cap(srv, a.admin, ex["id"])
        check("<status>Exercise</status>" in cap and "EXERCISE" in cap, cap)
        check([i["id"] for i in srv.request("GET", "/api/v1/alerts?status=Actual&limit=50", token=a.admin).json["items"]
               if i["id"] == ex["id"]] == [], "an exercise is not among the real ones")
        pr = srv.create(a.tokens["duty_officer"], "alerts", alert(scope="Private", geometry=None, radius_m=None,
                                                                 people=[named["id"], stale["id"]]))
        check(pr["recipients"] == 2, pr)
        cap = valid_cap(srv, a.admin, pr["id"])
        check("<scope>Private</scope>" in cap and f"<addresses>{named['id']} {stale['id']}</addresses>" in cap, cap)
        cancel = srv.create(a.tokens["duty_officer"], "alerts", alert(msg_type="Cancel", references_id=first["id"],
                                                                     geometry=None, radius_m=None, people=[named["id"]]))
        valid_cap(srv, a.admin, cancel["id"])
    finally:
        srv.stop()


def test_a_partners_alert_is_relayed_to_ones_own_people_and_bad_input_stores_nothing():
    srv = Server().start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        host = Org.new(srv, root)
        stranger = Org.new(srv, root)
        agree(srv, host, a, [{"category": "alerts", "level": "full"}])
        camp = srv.create(a.admin, "sites", site_body(geometry={"type": "Point", "coordinates": [67.161, 24.901]}, radius_m=200))
        mine = srv.create(a.admin, "people", person_body(home_site_id=camp["id"]))
        warning = srv.create(host.tokens["duty_officer"], "alerts", alert(headline="Host: attack expected on the airport road"))
        check(warning["recipients"] == 0, "the host has nobody there")
        r = srv.request("GET", f"/api/v1/alerts/{warning['id']}", token=a.tokens["viewer"])
        check(r.status == 200 and r.json["access"] == "full" and "recipient_list" not in r.json, r)
        r = srv.request("POST", f"/api/v1/alerts/{warning['id']}/relay?preview=true", raw=b"", token=a.tokens["duty_officer"])
        check(r.status == 200 and [x["person_id"] for x in r.json["recipients"]] == [mine["id"]], r)
        r = srv.request("POST", f"/api/v1/alerts/{warning['id']}/relay", raw=b"", token=a.tokens["duty_officer"])
        check(r.status == 201 and r.json["org_id"] == a.id and r.json["relayed_from"] == warning["id"]
              and r.json["recipients"] == 1 and r.json["headline"] == warning["headline"], r)
        valid_cap(srv, a.admin, r.json["id"])
        check(srv.request("GET", f"/api/v1/alerts/{r.json['id']}", token=host.tokens["duty_officer"]).status == 404,
              "the relay is the company's own: the host does not see whom it reached")
        check(srv.request("POST", f"/api/v1/alerts/{warning['id']}/relay", raw=b"", token=a.tokens["viewer"]).status == 403, "viewer")
        check(srv.request("POST", f"/api/v1/alerts/{warning['id']}/relay", raw=b"", token=stranger.tokens["duty_officer"]).status == 404,
              "stranger")
        check(srv.request("POST", f"/api/v1/alerts/{r.json['id']}/relay", raw=b"", token=a.tokens["duty_officer"]).status == 409,
              "one's own")
        relay_id = r.json["id"]
        # the Atom feed: current real alerts the caller may see, each linking to its CAP document
        import xml.etree.ElementTree as ET
        drill = srv.create(a.tokens["duty_officer"], "alerts", alert(status="Exercise", headline="Drill: evacuate the camp"))
        gone = srv.create(a.tokens["duty_officer"], "alerts", alert(headline="Road closed near the dam"))
        srv.create(a.tokens["duty_officer"], "alerts", alert(msg_type="Cancel", references_id=gone["id"], geometry=None,
                                                             radius_m=None, people=[mine["id"]]))
        ns = {"a": "http://www.w3.org/2005/Atom"}
        f = srv.request("GET", "/feeds/alerts.atom", token=a.tokens["viewer"])
        check(f.status == 200 and f.headers["content-type"].startswith("application/atom+xml"), f)
        entries = ET.fromstring(f.raw).findall("a:entry", ns)
        ids = [e.find("a:id", ns).text.rsplit(":", 1)[1] for e in entries]
        check(sorted(ids) == sorted([warning["id"], relay_id]), f"own and shared, real and current only: {ids}")
        check(all(e.find("a:link", ns).get("href").endswith("/cap") for e in entries), "links to the CAP documents")
        check(drill["id"] not in f.raw.decode() and gone["id"] not in f.raw.decode(), "no exercise, nothing cancelled")
        check(srv.request("GET", "/feeds/alerts.atom").status == 401, "authenticated")
        check(srv.request("GET", "/feeds/alerts.atom", token=a.tokens["person"]).status == 403, "not for a person's account")
        s = ET.fromstring(srv.request("GET", "/feeds/alerts.atom", token=stranger.tokens["viewer"]).raw).findall("a:entry", ns)
        check(s == [], "a stranger's feed holds none of these")
        counts = lambda: srv.sql("SELECT (SELECT count(*) FROM alerts) + (SELECT count(*) FROM alert_recipient_sets)"
                                 " + (SELECT count(*) FROM events WHERE category = 'alerts')"
                                 " + (SELECT count(*) FROM audit WHERE object_type = 'alert')")[0][0]
        before = counts()
        for body, field in [(alert(urgency="Now"), "/urgency"), (alert(severity="extreme"), "/severity"),
                            (alert(headline=None), "/headline"), (alert(status="Test"), "/status"),
                            (alert(msg_type="Update"), "/references_id"), (alert(references_id=warning["id"]), "/references_id"),
                            (alert(geometry={"type": "LineString", "coordinates": [[67, 24], [68, 25]]}), "/geometry/type"),
                            (alert(radius_m=None), "/radius_m"), (alert(geometry=None, radius_m=None), "/geometry"),
                            (alert(people=[stranger.person["id"]]), "/people/0"), (alert(sites=["sit_x"]), "/sites/0"),
                            (alert(scope="Private"), "/people"), (alert(colour="red"), "/colour")]:
            for q in ("?preview=true", ""):
                r = srv.request("POST", f"/api/v1/alerts{q}", body, token=a.tokens["duty_officer"])
                check(r.status == 400 and r.json["field"] == field, f"{body} {q}: {r}")
        check(counts() == before, "refused alerts store nothing")
    finally:
        srv.stop()


def haversine(lat1, lon1, lat2, lon2):
    import math
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def inside_polygon(lat, lon, ring):
    """Ray casting on the plane of degrees (what GEOS decides for lon/lat)."""
    n, hit = len(ring), False
    for i in range(n - 1):
        (x1, y1), (x2, y2) = ring[i], ring[i + 1]
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def test_karachi_alert_reaches_exactly_the_people_inside_against_brute_force():
    """People spread around Karachi (fresh and stale fixes, home sites), an
    incident 2 km from the airport: an alert to its 3 km circle, and random
    circles and polygons, reach exactly whom a brute force finds inside by
    fresh position or home site, each once, and nobody else."""
    import random
    rnd = random.Random(1403)
    airport = (24.9065, 67.1608)
    srv = Server().start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        other = Org.new(srv, root)
        op = a.tokens["duty_officer"]
        spot = lambda: (airport[0] + rnd.uniform(-0.07, 0.07), airport[1] + rnd.uniform(-0.08, 0.08))
        sites = []
        for _ in range(12):
            lat, lon = spot()
            s = srv.create(a.admin, "sites", site_body(geometry={"type": "Point", "coordinates": [lon, lat]}, radius_m=150))
            sites.append((s["id"], lat, lon))
        people = {}  # id -> (fix or None, fresh, home site point or None)
        now = int(time.time())
        for i in range(90):
            home = rnd.choice(sites + [None, None])
            body = person_body(home_site_id=home[0]) if home else person_body()
            p = srv.create(a.admin, "people", body)
            fix, fresh = None, False
            if rnd.random() < 0.8:
                fix, fresh = spot(), rnd.random() < 0.85
                d = srv.create(a.admin, "devices", device_body(person_id=p["id"]))
                t = now - (60 if fresh else 7200)
                r = srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(d['key'])}&lat={fix[0]}&lon={fix[1]}&timestamp={t}")
                check(r.status == 200, r)
            people[p["id"]] = (fix, fresh, (home[1], home[2]) if home else None)
        # another organisation's people in the same streets are never reached
        for _ in range(5):
            p = srv.create(other.admin, "people", person_body())
            d = srv.create(other.admin, "devices", device_body(person_id=p["id"]))
            lat, lon = airport
            srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(d['key'])}&lat={lat}&lon={lon}&timestamp={now - 60}")

        def brute(inside):
            want = {}
            for pid, (fix, fresh, home) in people.items():
                reasons = []
                if fix and fresh and inside(*fix) is True:
                    reasons.append("position")
                if home and inside(*home) is True:
                    reasons.append("home_site")
                if any(inside(*x) is None for x in ([fix] if fix and fresh else []) + ([home] if home else [])):
                    return None  # a point on the edge: the two geodesics may differ by metres
                if reasons:
                    want[pid] = sorted(reasons)
            return want

        def got(r):
            check(r.status in (200, 201), r)
            rows = r.json["recipients"] if "recipients" in r.json and isinstance(r.json["recipients"], list) else r.json["recipient_list"]
            ids = [x["person_id"] for x in rows]
            check(len(ids) == len(set(ids)), f"each once: {ids}")
            return {x["person_id"]: sorted(x["reasons"]) for x in rows}

        # the incident, 2 km east of the airport, and its 3 km alert
        inc_lat, inc_lon = airport[0], airport[1] + 2000 / (111320 * 0.9073)
        check(abs(haversine(*airport, inc_lat, inc_lon) - 2000) < 20, "2 km from the airport")
        inc = srv.create(op, "incidents", {"type": "vehicle_borne_device", "time": "2026-12-03T06:10:00Z", "severity": "extreme",
                                           "confidence": "confirmed", "geometry": {"type": "Point", "coordinates": [inc_lon, inc_lat]},
                                           "radius_m": 3000})

        def circle(lat, lon, radius):
            def inside(plat, plon):
                d = haversine(lat, lon, plat, plon)
                return None if abs(d - radius) < 25 else d <= radius
            return inside

        want = brute(circle(inc_lat, inc_lon, 3000))
        check(want is not None and len(want) > 10, f"the scenario puts people inside: {want}")
        r = srv.request("POST", "/api/v1/alerts", {"event": "Car bomb", "urgency": "Immediate", "severity": "Extreme",
                                                   "certainty": "Observed", "headline": "VBIED near the airport: stay inside",
                                                   "incident_id": inc["id"]}, token=op)
        check(got(r) == want, f"the incident's 3 km: {got(r)} vs {want}")
        tried = 0
        while tried < 12:
            lat, lon = spot()
            if rnd.random() < 0.5:
                radius = rnd.uniform(500, 6000)
                inside = circle(lat, lon, radius)
                body = {"geometry": {"type": "Point", "coordinates": [lon, lat]}, "radius_m": radius}
            else:
                ring = [(lon + rnd.uniform(-0.05, 0.05), lat + rnd.uniform(-0.05, 0.05)) for _ in range(3)]
                ring = sorted(ring, key=lambda c: __import__("math").atan2(c[1] - lat, c[0] - lon))  # a simple polygon
                ring.append(ring[0])

                def inside(plat, plon, ring=ring):
                    return inside_polygon(plat, plon, ring)
                body = {"geometry": {"type": "Polygon", "coordinates": [[list(c) for c in ring]]}}
            want = brute(inside)
            if want is None:
                continue
            tried += 1
            r = srv.request("POST", "/api/v1/alerts?preview=true", dict(body, event="Test", urgency="Immediate",
                                                                        severity="Minor", certainty="Possible", headline="x"), token=op)
            check(got(r) == want, f"{body}: {got(r)} vs {want}")

        # people and devices are held in memory for the search: a change
        # is seen by the very next alert
        here = {"geometry": {"type": "Point", "coordinates": [inc_lon, inc_lat]}, "radius_m": 50}
        look = lambda: {x["person_id"]: x["name"] for x in srv.request(
            "POST", "/api/v1/alerts?preview=true", alert(**here), token=op).json["recipients"]}
        check(look() == {}, "nobody at the spot yet")
        p2 = srv.create(a.admin, "people", person_body(name="Enrolled Later"))
        d2 = srv.create(a.admin, "devices", device_body(person_id=p2["id"]))
        check(srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(d2['key'])}&lat={inc_lat}&lon={inc_lon}"
                                 f"&timestamp={int(time.time())}").status == 200, "the new phone reports")
        check(look() == {p2["id"]: "Enrolled Later"}, f"a person enrolled after the last alert: {look()}")
        p3 = srv.create(a.admin, "people", person_body(name="Took The Phone"))
        check(srv.request("PATCH", f"/api/v1/devices/{d2['id']}", {"person_id": p3["id"]}, token=a.admin).status == 200, "handed over")
        check(look() == {p3["id"]: "Took The Phone"}, f"the phone's new carrier: {look()}")
        check(srv.request("PATCH", f"/api/v1/people/{p3['id']}", {"name": "Renamed"}, token=a.admin).status == 200, "renamed")
        check(look() == {p3["id"]: "Renamed"}, f"the new name: {look()}")
        check(srv.request("DELETE", f"/api/v1/devices/{d2['id']}", token=a.admin).status in (200, 204), "removed")
        check(look() == {}, f"a removed device reaches nobody: {look()}")
    finally:
        srv.stop()
