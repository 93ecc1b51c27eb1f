"""Incidents, the threat picture (issue 13): a collection like the others,
an event on the stream in the transaction that stores it, closed and never
deleted; every bad input is a problem naming its member and stores nothing
(no row, no event, no audit entry); exercise is fixed at creation."""
import json

from harness import Server, check


def incident(**over):
    body = {"type": "vehicle_borne_device", "time": "2026-12-03T06:10:00Z", "severity": "extreme",
            "confidence": "confirmed", "casualties": 3, "source": "police radio", "notes": "VBIED at the airport exit",
            "geometry": {"type": "Point", "coordinates": [67.15, 24.89]}, "radius_m": 2000}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def counts(srv):
    return (srv.sql("SELECT count(*) FROM incidents")[0][0],
            srv.sql("SELECT count(*) FROM events WHERE category = 'incidents'")[0][0],
            srv.sql("SELECT count(*) FROM audit WHERE object_type = 'incident'")[0][0])


def test_incidents_are_stored_streamed_closed_and_never_deleted():
    srv = Server().start()
    try:
        tok = srv.admin()
        inc = srv.create(tok, "incidents", incident())
        check(inc["status"] == "open" and inc["exercise"] is False and inc["id"].startswith("inc_"), inc)
        ev = srv.sql("SELECT type, body FROM events WHERE category = 'incidents' ORDER BY seq")
        check(len(ev) == 1 and ev[0][0] == "incident" and json.loads(ev[0][1])["id"] == inc["id"], ev)
        check(json.loads(ev[0][1])["severity"] == "extreme", ev)
        poly = srv.create(tok, "incidents", incident(type="protest", severity="moderate", confidence="probable", radius_m=None,
                                                     geometry={"type": "Polygon", "coordinates": [[[67.0, 24.85], [67.02, 24.85], [67.02, 24.87], [67.0, 24.87], [67.0, 24.85]]]}))
        drill = srv.create(tok, "incidents", incident(type="armed_attack", exercise=True))
        check(drill["exercise"] is True, drill)
        # filters, and the GeoJSON form
        r = srv.request("GET", "/api/v1/incidents?type=protest", token=tok)
        check([i["id"] for i in r.json["items"]] == [poly["id"]], r.json)
        r = srv.request("GET", "/api/v1/incidents?exercise=false", token=tok)
        check(sorted(i["id"] for i in r.json["items"]) == sorted([inc["id"], poly["id"]]), "exercise apart from real ones")
        r = srv.request("GET", "/api/v1/incidents?format=geojson", token=tok)
        check(r.json["type"] == "FeatureCollection" and len(r.json["features"]) == 3, r.json)
        # closing is an update, streamed with what changed
        r = srv.request("PATCH", f"/api/v1/incidents/{inc['id']}", {"status": "closed"}, token=tok)
        check(r.status == 200 and r.json["status"] == "closed", r)
        ev = srv.sql("SELECT type, body FROM events WHERE category = 'incidents' ORDER BY seq DESC LIMIT 1")
        body = json.loads(ev[0][1])
        check(ev[0][0] == "incident_changed" and body["id"] == inc["id"] and body["changes"]["status"]["to"] == "closed", ev)
        r = srv.request("GET", "/api/v1/incidents?status=open", token=tok)
        check(inc["id"] not in [i["id"] for i in r.json["items"]], r.json)
        r = srv.request("DELETE", f"/api/v1/incidents/{inc['id']}", token=tok)
        check(r.status == 405 and "DELETE" not in r.headers.get("allow", ""), f"never deleted: {r}")
        check(srv.request("GET", f"/api/v1/incidents/{inc['id']}", token=tok).status == 200, "still there")
    finally:
        srv.stop()


def test_bad_incidents_store_nothing():
    srv = Server().start()
    try:
        tok = srv.admin()
        good = srv.create(tok, "incidents", incident())
        before = counts(srv)
        bad = [
            (incident(type="bomb"), "/type"),
            (incident(severity="catastrophic"), "/severity"),
            (incident(confidence="sure"), "/confidence"),
            (incident(geometry={"type": "LineString", "coordinates": [[67.1, 24.8], [67.2, 24.9]]}), "/geometry"),
            (incident(radius_m=None), "/radius_m"),
            (incident(radius_m=0), "/radius_m"),
            (incident(geometry={"type": "Polygon", "coordinates": [[[67.0, 24.8], [67.1, 24.8], [67.0, 24.8]]]}, radius_m=None), "/geometry"),
            (incident(geometry={"type": "Point", "coordinates": [200, 24.8]}), "/geometry"),
            (incident(casualties=-1), "/casualties"),
            (incident(time="yesterday"), "/time"),
            (incident(time=None), "/time"),
            (incident(status="burning"), "/status"),
            (incident(owner="someone"), "/owner"),
        ]
        for body, field in bad:
            r = srv.request("POST", "/api/v1/incidents", body, token=tok)
            check(r.status == 400 and r.headers["content-type"].startswith("application/problem+json"), f"{body}: {r}")
            check(r.json["field"].startswith(field), f"{field}: {r.json}")
        for patch, field in (({"exercise": True}, "/exercise"), ({"severity": "huge"}, "/severity"),
                             ({"geometry": {"type": "LineString", "coordinates": [[67.1, 24.8], [67.2, 24.9]]}}, "/geometry")):
            r = srv.request("PATCH", f"/api/v1/incidents/{good['id']}", patch, token=tok)
            check(r.status == 400 and r.json["field"].startswith(field), f"{patch}: {r}")
        check(counts(srv) == before, f"nothing stored, streamed or audited: {before} -> {counts(srv)}")
        check(srv.request("GET", f"/api/v1/incidents/{good['id']}", token=tok).json["exercise"] is False, "unchanged")
    finally:
        srv.stop()


def haversine(lat1, lon1, lat2, lon2):
    import math
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def in_ring(lat, lon, ring):
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def test_exposure_lists_exactly_the_people_in_the_area():
    """Issue 13, done-when 3: an incident 2 km from Karachi airport lists
    exactly the people inside its area by fresh position or by home site
    (against brute force over random people, positions and sites); a
    partner sees them at its level (pseudonyms at summary), a stranger
    nothing; stale positions do not count."""
    import random
    import time
    import urllib.parse
    from harness import device_body, person_body, site_body, user_body
    rnd = random.Random(1303)
    srv = Server().start()
    try:
        tok = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=tok).json
        airport = (24.9065, 67.1608)
        centre = (airport[0] - 2000 / 111320, airport[1])  # 2 km south of the airport
        radius = 3000.0
        poly = [[67.12, 24.86], [67.19, 24.86], [67.19, 24.90], [67.12, 24.90], [67.12, 24.86]]

        def clear_of_edges(lat, lon):
            d = haversine(centre[0], centre[1], lat, lon)
            near_poly = any(abs(lat - y) < 0.0004 for _, y in poly) or any(abs(lon - x) < 0.0004 for x, _ in poly)
            return abs(d - radius) > 40 and not near_poly

        def spot():
            while True:
                lat = centre[0] + rnd.uniform(-0.06, 0.06)
                lon = centre[1] + rnd.uniform(-0.06, 0.06)
                if clear_of_edges(lat, lon):
                    return lat, lon

        sites = []
        for i in range(8):
            lat, lon = spot()
            if i % 3 == 2:  # an outline: its reference point is its box's middle
                d = 0.004
                ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
                s = srv.create(tok, "sites", {"name": unique_site(i), "kind": "camp",
                                              "geometry": {"type": "Polygon", "coordinates": [ring]}})
            else:
                s = srv.create(tok, "sites", site_body(geometry={"type": "Point", "coordinates": [lon, lat]}, radius_m=300))
            sites.append((s["id"], lat, lon))
        now = int(time.time())
        people = []
        for i in range(60):
            home = rnd.choice(sites + [None, None])
            p = srv.create(tok, "people", person_body(home_site_id=home[0]) if home else person_body())
            pos = None
            if rnd.random() < 0.85:
                dev = srv.create(tok, "devices", device_body(person_id=p["id"]))
                lat, lon = spot()
                age = rnd.choice([60, 600, 1800, 7200 * 3])  # the last is stale
                r = srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(dev['key'])}&lat={lat:.6f}&lon={lon:.6f}&timestamp={now - age}")
                check(r.status == 200, r)
                pos = (lat, lon, age)
            people.append((p["id"], home, pos))

        def expected(inside):
            out = set()
            for pid, home, pos in people:
                if pos and pos[2] <= 3600 and inside(pos[0], pos[1]):
                    out.add(pid)
                if home and inside(home[1], home[2]):
                    out.add(pid)
            return out

        circle = srv.create(tok, "incidents", incident(geometry={"type": "Point", "coordinates": [centre[1], centre[0]]}, radius_m=radius))
        square = srv.create(tok, "incidents", incident(type="armed_attack", radius_m=None, geometry={"type": "Polygon", "coordinates": [poly]}))
        for inc, inside in ((circle, lambda la, lo: haversine(centre[0], centre[1], la, lo) <= radius),
                            (square, lambda la, lo: in_ring(la, lo, poly))):
            r = srv.request("GET", f"/api/v1/incidents/{inc['id']}/exposure", token=tok)
            check(r.status == 200, r)
            got = {p["id"] for p in r.json["people"]}
            want = expected(inside)
            check(got == want, f"{inc['type']}: missing {want - got}, extra {got - want}")
            check(len(want) >= 5, f"a meaningful sample: {len(want)}")
            check(r.json["count"] == len(want), r.json["count"])
            want_sites = {sid for sid, la, lo in sites if inside(la, lo)}
            check({s["id"] for s in r.json["sites"]} == want_sites, f"sites: {r.json['sites']} vs {want_sites}")
            dists = [p["distance_m"] for p in r.json["people"]]
            check(dists == sorted(dists), "nearest first")
            for p in r.json["people"]:
                check(set(p["reasons"]) <= {"position", "home_site"} and p["reasons"], p)
                if "position" in p["reasons"]:
                    check("position" in p and p["position"]["device_id"].startswith("dev_"), p)
        # a fresher horizon leaves out what is older
        r = srv.request("GET", f"/api/v1/incidents/{circle['id']}/exposure?fresh_s=120", token=tok)
        check(r.status == 200 and all("position" not in p or p["position"]["time"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 125))
                                      for p in r.json["people"]), r.json)
        for bad in ("fresh_s=0", "fresh_s=abc", "radius=5"):
            r = srv.request("GET", f"/api/v1/incidents/{circle['id']}/exposure?{bad}", token=tok)
            check(r.status == 400, f"{bad}: {r}")

        # a partner with people as summary, positions, sites and incidents in full: pseudonyms
        ob = {"name": "Liaison", "kind": "host_security", "admin": user_body("admin")}
        del ob["admin"]["role"]
        srv.create(tok, "organisations", ob)
        ptok = srv.login(ob["admin"]["username"], ob["admin"]["password"])
        pid = srv.request("GET", "/api/v1/session", token=ptok).json["org_id"]
        ag = srv.create(tok, "agreements", {"partner_id": pid, "grants": [
            {"category": "people", "level": "summary"}, {"category": "positions", "level": "full"},
            {"category": "sites", "level": "full"}, {"category": "incidents", "level": "full"}]})
        check(srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=ptok).status == 200, "accepted")
        mine = srv.request("GET", f"/api/v1/incidents/{circle['id']}/exposure", token=tok).json
        r = srv.request("GET", f"/api/v1/incidents/{circle['id']}/exposure", token=ptok)
        check(r.status == 200 and r.json["count"] == mine["count"], f"the partner sees as many: {r}")
        for p in r.json["people"]:
            check(p["access"] == "summary" and p["id"] == p["pseudonym"] and not p["id"].startswith("per_"), p)
            check("name" not in p and "phone" not in p, f"no private member at summary: {p}")
        reads = srv.sql("SELECT count(*) FROM audit WHERE action = 'read' AND org_id = ?", (me["org_id"],))
        check(reads[0][0] >= 1, "the partner's reads are in the owner's trail")
        # a stranger: the incident does not exist for it
        ob2 = {"name": "Stranger", "kind": "other", "admin": user_body("admin")}
        del ob2["admin"]["role"]
        srv.create(tok, "organisations", ob2)
        stok = srv.login(ob2["admin"]["username"], ob2["admin"]["password"])
        r = srv.request("GET", f"/api/v1/incidents/{circle['id']}/exposure", token=stok)
        check(r.status == 404, f"a stranger: {r}")
    finally:
        srv.stop()


def unique_site(i):
    from harness import unique
    return unique(f"Outline site {i} ")


def test_incidents_filter_by_time_window_box_and_distance_against_brute_force():
    import math
    import random
    rnd = random.Random(13)
    srv = Server().start()
    try:
        tok = srv.admin()
        made = []
        for i in range(40):
            lat, lon = 24.8 + rnd.random() * 0.3, 66.9 + rnd.random() * 0.4
            when = f"2026-12-0{1 + i % 3}T{(i * 5) % 24:02d}:00:00Z"
            made.append(srv.create(tok, "incidents", incident(time=when, radius_m=rnd.choice([200, 1000, 3000]),
                                                              geometry={"type": "Point", "coordinates": [lon, lat]})))

        def ids(q):
            r = srv.request("GET", f"/api/v1/incidents?limit=500&{q}", token=tok)
            check(r.status == 200, r)
            return sorted(i["id"] for i in r.json["items"])

        got = ids("from=2026-12-02T00:00:00Z&until=2026-12-03T00:00:00Z")
        check(got == sorted(m["id"] for m in made if m["time"].startswith("2026-12-02")), got)
        check(ids("from=2026-12-02T05:00:00%2B05:00") == sorted(m["id"] for m in made if m["time"] >= "2026-12-02T00:00:00"),
              "any offset, compared in UTC")

        def dist(lat1, lon1, lat2, lon2):
            p1, p2 = math.radians(lat1), math.radians(lat2)
            a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
            return 2 * 6371008.8 * math.asin(math.sqrt(a))

        for _ in range(10):
            lat, lon, r = 24.8 + rnd.random() * 0.3, 66.9 + rnd.random() * 0.4, rnd.choice([500, 2000, 8000])
            want = sorted(m["id"] for m in made
                          if dist(lat, lon, m["geometry"]["coordinates"][1], m["geometry"]["coordinates"][0])
                          <= r + m["radius_m"] - 1)
            got = ids(f"near={lat},{lon}&radius_m={r}")
            # the geodesic and the sphere differ by far less than a metre here: allow a record on the edge
            edge = sorted(m["id"] for m in made
                          if abs(dist(lat, lon, m["geometry"]["coordinates"][1], m["geometry"]["coordinates"][0])
                                 - (r + m["radius_m"])) < 30)
            check(set(want) <= set(got) <= set(want) | set(edge), f"near {lat},{lon} r={r}: {set(got) ^ set(want)}")
        box = (66.95, 24.85, 67.1, 24.95)
        want = []
        for m in made:
            lo, la = m["geometry"]["coordinates"]
            dla, dlo = m["radius_m"] / 111320, m["radius_m"] / (111320 * math.cos(math.radians(la)))
            if lo + dlo >= box[0] and lo - dlo <= box[2] and la + dla >= box[1] and la - dla <= box[3]:
                want.append(m["id"])
        check(ids("bbox=%s,%s,%s,%s" % box) == sorted(want), "the boxes that meet the box")
        for q, field in [("from=yesterday", "?from"), ("bbox=1,2,3", "?bbox"), ("near=24.9,67.0", "?radius_m"),
                         ("near=24.9&radius_m=5", "?near"), ("near=24.9,67.0&radius_m=-1", "?radius_m"),
                         ("bbox=66,24,67,25&near=24.9,67&radius_m=9", "?near")]:
            r = srv.request("GET", f"/api/v1/incidents?{q}", token=tok)
            check(r.status == 400 and r.json["field"] == field, f"{q}: {r}")
    finally:
        srv.stop()


def test_a_partner_assesses_an_incident_beside_the_owners_record():
    from test_access import Org, agree
    srv = Server().start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        b, c = Org.new(srv, root), Org.new(srv, root)
        agree(srv, a, b, [{"category": "incidents", "level": "full"}])
        inc = srv.create(a.tokens["duty_officer"], "incidents", incident(severity="moderate", confidence="possible"))
        path = f"/api/v1/incidents/{inc['id']}/assessment"
        check(srv.request("GET", path, token=b.tokens["duty_officer"]).status == 404, "nothing assessed yet")
        r = srv.request("POST", path, {"severity": "extreme", "confidence": "confirmed", "notes": "our patrol: two vehicles"},
                        token=b.tokens["liaison"])
        check(r.status == 200 and r.json["severity"] == "extreme" and r.json["org_id"] == b.id, r)
        # side by side: B reads the owner's record unchanged and its own view
        rec = srv.request("GET", f"/api/v1/incidents/{inc['id']}", token=b.tokens["viewer"]).json
        check(rec["severity"] == "moderate" and rec["confidence"] == "possible", rec)
        check(srv.request("GET", path, token=b.tokens["viewer"]).json["notes"] == "our patrol: two vehicles", "B's own")
        # the owner never sees B's assessment; a stranger does not even see the incident
        r = srv.request("GET", path, token=a.tokens["duty_officer"])
        check(r.status == 404 and "two vehicles" not in r.raw.decode(), r)
        check(srv.request("POST", path, {"severity": "minor"}, token=c.tokens["duty_officer"]).status == 404, "stranger")
        check(srv.request("POST", path, {"severity": "minor"}, token=b.tokens["viewer"]).status == 403, "a viewer reads only")
        for body, field in [({"severity": "apocalyptic"}, "/severity"), ({}, "/severity"),
                            ({"severity": "minor", "confidence": "sure"}, "/confidence"),
                            ({"severity": "minor", "notes": "x" * 4001}, "/notes"), ({"severity": "minor", "owner": 1}, "/owner")]:
            r = srv.request("POST", path, body, token=b.tokens["duty_officer"])
            check(r.status == 400 and r.json["field"] == field, f"{body}: {r}")
        check(srv.request("GET", path, token=b.tokens["viewer"]).json["severity"] == "extreme", "refused input changed nothing")
        trail = srv.request("GET", "/api/v1/audit?action=assess", token=b.admin).json["items"]
        check(len(trail) == 1 and trail[0]["object_id"] == inc["id"], trail)
        check(srv.request("GET", "/api/v1/audit?action=assess", token=a.admin).json["items"] == [], "not in the owner's trail")
    finally:
        srv.stop()
