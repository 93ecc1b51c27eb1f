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
