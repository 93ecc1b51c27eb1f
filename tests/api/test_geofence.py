"""Geofence events (issue 4, done-when 2): one enter and one exit per
transition, for circles, polygons and polygons with holes, with points on
edges, validity periods and zone edits; duplicates and late reports emit
nothing."""
import time
import urllib.parse

from harness import Server, check, device_body, site_body


def events(srv, dev):
    return [(e, f) for e, f in srv.sql("SELECT event, fence_id FROM geofence_events WHERE device_id = ? ORDER BY seq",
                                       (dev["id"],))]


def test_enter_and_exit_exactly_once_per_transition():
    srv = Server().start()
    try:
        tok = srv.admin()
        base = int(time.time()) - 7200
        circle = srv.create(tok, "zones", {"name": "Checkpoint", "level": 4, "geometry": {"type": "Point", "coordinates": [70.0, 30.0]},
                                           "radius_m": 1000})
        square = srv.create(tok, "zones", {"name": "Valley", "level": 6, "geometry": {"type": "Polygon", "coordinates": [
            [[71.0, 31.0], [71.4, 31.0], [71.4, 31.4], [71.0, 31.4], [71.0, 31.0]],
            [[71.1, 31.1], [71.1, 31.3], [71.3, 31.3], [71.3, 31.1], [71.1, 31.1]]]}})
        camp = srv.create(tok, "sites", site_body(name="Camp", geometry={"type": "Point", "coordinates": [72.0, 32.0]}, radius_m=300))
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        t = [base]

        def report(lat, lon, dt=10, expect=200):
            t[0] += dt
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat={lat}&lon={lon}&timestamp={t[0]}")
            check(r.status == expect, r)

        report(29.9, 70.0)                      # outside everything
        report(30.005, 70.0)                    # inside the circle (555 m from the centre)
        report(30.006, 70.0)                    # still inside: nothing
        r = srv.request("GET", f"/ingest/osmand?id={key}&lat=30.006&lon=70.0&timestamp={t[0]}")
        check(r.status == 200, "a duplicate is accepted")
        report(30.02, 70.0)                     # outside (2.2 km): exit
        report(31.2, 71.2)                      # in the hole: outside the zone
        report(31.0, 71.2)                      # on the shell's southern edge: inside
        report(31.05, 71.05)                    # in the body: nothing
        report(31.1, 71.2)                      # on the hole's edge: still inside
        report(31.2, 71.2)                      # into the hole: exit
        report(32.0, 72.0)                      # the camp (a site)
        r = srv.request("GET", f"/ingest/osmand?id={key}&lat=30.0&lon=70.0&timestamp={t[0] - 1000}")
        check(r.status == 200, "a late, older report inside the circle is stored but changes nothing")
        check(events(srv, dev) == [("enter", circle["id"]), ("exit", circle["id"]), ("enter", square["id"]),
                                   ("exit", square["id"]), ("enter", camp["id"])], events(srv, dev))
        # each event at the fix that made it: its place and its time (the hole counts)
        at = srv.sql("SELECT event, lat, lon, time_ms FROM geofence_events WHERE device_id = ? ORDER BY seq", (dev["id"],))
        check(at == [("enter", 30.005, 70.0, (base + 20) * 1000), ("exit", 30.02, 70.0, (base + 40) * 1000),
                     ("enter", 31.0, 71.2, (base + 60) * 1000), ("exit", 31.2, 71.2, (base + 90) * 1000),
                     ("enter", 32.0, 72.0, (base + 100) * 1000)], at)
        row = srv.sql("SELECT fence_type, fence_org, org_id, lat, lon FROM geofence_events WHERE fence_id = ?", (camp["id"],))[0]
        check(row[0] == "site" and row[1] == row[2] and row[3] == 32.0, row)

        # Zone edits take effect at once: shrink the circle around the device's next fix.
        report(30.005, 70.0)                    # exit camp, enter circle
        r = srv.request("PATCH", f"/api/v1/zones/{circle['id']}", {"radius_m": 100}, token=tok)
        check(r.status == 200, r)
        report(30.005, 70.0)                    # same place, but the zone no longer reaches it: exit
        r = srv.request("PATCH", f"/api/v1/zones/{circle['id']}", {"radius_m": 5000}, token=tok)
        report(30.005, 70.0)                    # enter again
        r = srv.request("PATCH", f"/api/v1/zones/{circle['id']}", {"retired": True}, token=tok)
        report(30.005, 70.0)                    # retired: exit
        check(events(srv, dev)[5:] == [("exit", camp["id"]), ("enter", circle["id"]), ("exit", circle["id"]),
                                       ("enter", circle["id"]), ("exit", circle["id"])], events(srv, dev)[5:])

        # Validity periods, judged at the time of the fix.
        fmt = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
        window = srv.create(tok, "zones", {"name": "Curfew", "level": 5, "geometry": {"type": "Point", "coordinates": [73.0, 33.0]},
                                           "radius_m": 2000, "valid_from": fmt(t[0] + 100), "valid_to": fmt(t[0] + 200)})
        before = len(events(srv, dev))
        report(33.0, 73.0, dt=50)               # in the area, before the zone is valid: nothing
        check(len(events(srv, dev)) == before, events(srv, dev)[before:])
        report(33.0, 73.0, dt=60)               # valid now: enter
        report(33.0, 73.0, dt=100)              # past valid_to: exit
        check(events(srv, dev)[before:] == [("enter", window["id"]), ("exit", window["id"])], events(srv, dev)[before:])

        # At a point: zones and sites containing it now.
        at = srv.request("GET", "/api/v1/zones/at?lat=32.0&lon=72.0", token=tok).json["items"]
        check([(i["type"], i["id"]) for i in at] == [("site", camp["id"])], at)
        # The tags survive a restart: no replayed or missing event.
        srv.stop()
        srv.start()
        n = len(events(srv, dev))
        report(33.0, 73.0, dt=10)
        check(len(events(srv, dev)) == n, "no event after a restart without a transition")
    finally:
        srv.stop()


def test_zone_validation():
    srv = Server().start()
    try:
        tok = srv.admin()
        for body, field in (({"name": "Z", "level": 7, "geometry": {"type": "Point", "coordinates": [1, 1]}, "radius_m": 5}, "/level"),
                            ({"name": "Z", "level": 3, "geometry": {"type": "Point", "coordinates": [1, 1]}}, "/radius_m"),
                            ({"name": "Z", "level": 3, "geometry": {"type": "Point", "coordinates": [1, 1]}, "radius_m": 5,
                              "valid_from": "2027-01-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"}, "/valid_to"),
                            ({"name": "Z", "level": 3, "geometry": {"type": "Point", "coordinates": [1, 1]}, "radius_m": 5,
                              "valid_from": "next week"}, "/valid_from")):
            r = srv.request("POST", "/api/v1/zones", body, token=tok)
            check(r.status == 400 and r.json["field"] == field, f"{body}: {r}")
    finally:
        srv.stop()
