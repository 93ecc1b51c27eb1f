"""A new user's path (issue 2, done-when 2): init, login, create people, sites,
vehicles and devices, list with filters and pages, export CSV and GeoJSON,
import them into a fresh database and get the same records."""
import json
import os

from harness import (Server, check, device_body, person_body, run, site_body, unique,
                     vehicle_body)

TYPES = ["sites", "people", "vehicles", "devices"]


def strip(rec):
    return {k: v for k, v in rec.items() if k not in ("org_id", "created_at", "updated_at")}


def all_items(srv, token, collection, **params):
    items, cursor = [], None
    while True:
        q = "&".join(f"{k}={v}" for k, v in {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}.items())
        r = srv.request("GET", f"/api/v1/{collection}?{q}", token=token)
        check(r.status == 200, f"list {collection}: {r}")
        items += r.json["items"]
        cursor = r.json["next"]
        if not cursor:
            return items


def test_new_user_path_export_import_round_trip():
    srv = Server().start()
    try:
        tok = srv.admin()
        sites = [srv.create(tok, "sites", site_body(kind="camp" if i % 2 else "airport")) for i in range(6)]
        poly = srv.create(tok, "sites", site_body(geometry={"type": "Polygon", "coordinates": [
            [[67.0, 24.8], [67.1, 24.8], [67.1, 24.9], [67.0, 24.9], [67.0, 24.8]],
            [[67.02, 24.82], [67.02, 24.84], [67.04, 24.84], [67.04, 24.82], [67.02, 24.82]]]},
            radius_m=None))
        check(poly["geometry"]["type"] == "Polygon" and len(poly["geometry"]["coordinates"]) == 2, poly)
        people = [srv.create(tok, "people", person_body(status="on_leave" if i % 3 == 0 else "in_country",
                                                        home_site_id=sites[i % 6]["id"],
                                                        notes="line one\nline two, \"quoted\""))
                  for i in range(20)]
        vehicles = [srv.create(tok, "vehicles", vehicle_body(armoured=i % 2 == 0)) for i in range(5)]
        devices = [srv.create(tok, "devices", device_body(person_id=people[i]["id"])) for i in range(8)]
        devices += [srv.create(tok, "devices", device_body(kind="vehicle_unit", vehicle_id=v["id"])) for v in vehicles]
        check(all(len(d["key"]) >= 32 for d in devices), "device keys are shown once at creation")
        both = srv.request("POST", "/api/v1/devices", device_body(person_id=people[0]["id"], vehicle_id=vehicles[0]["id"]), token=tok)
        check(both.status == 400 and both.json["field"] == "/vehicle_id", f"a person or a vehicle, not both: {both}")
        check("key_hash" not in devices[0], "the key hash is never shown")
        import hashlib
        import urllib.parse
        old = urllib.parse.quote(devices[0]["key"])
        check(srv.request("GET", f"/ingest/osmand?id={old}&lat=24&lon=67").status == 200, "the key works (and is cached)")
        stored = lambda d: srv.sql("SELECT key_hash FROM devices WHERE id = ?", (d["id"],))[0][0]
        check(stored(devices[0]) == hashlib.sha256(devices[0]["key"].encode()).hexdigest(), "only the hash is stored")
        rot = srv.request("POST", f"/api/v1/devices/{devices[0]['id']}/key", token=tok)
        check(rot.status == 200 and rot.json["key"] != devices[0]["key"], rot)
        check(stored(devices[0]) == hashlib.sha256(rot.json["key"].encode()).hexdigest(), "the new key replaces the old")
        check(srv.request("GET", f"/ingest/osmand?id={old}&lat=24&lon=67").status == 401, "the old key stops at once")
        check(srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(rot.json['key'])}&lat=24&lon=67").status == 200,
              "the new key works")
        from harness import SECRETS
        SECRETS.add(rot.json["key"])

        # Lists: pages of 7, filters.
        got = all_items(srv, tok, "people")
        check([p["id"] for p in got] == sorted(p["id"] for p in people), "pages cover every person once, in id order")
        on_leave = all_items(srv, tok, "people", status="on_leave")
        check(len(on_leave) == 7 and all(p["status"] == "on_leave" for p in on_leave), on_leave)
        at_site = all_items(srv, tok, "people", home_site_id=sites[0]["id"])
        check({p["id"] for p in at_site} == {p["id"] for p in people[0::6]}, at_site)
        armoured = all_items(srv, tok, "vehicles", armoured="true")
        check(len(armoured) == 3, armoured)
        fc = srv.request("GET", "/api/v1/sites?format=geojson&limit=500", token=tok)
        check(fc.status == 200 and fc.headers["content-type"] == "application/geo+json", fc)
        check(fc.json["type"] == "FeatureCollection" and len(fc.json["features"]) == 7, fc.json)
        check(fc.json["features"][0]["geometry"]["type"] == "Point", fc.json)

        # Read, update, delete.
        p = srv.request("GET", f"/api/v1/people/{people[1]['id']}", token=tok)
        check(p.status == 200 and p.json == people[1], p)
        u = srv.request("PATCH", f"/api/v1/people/{people[1]['id']}", {"job": "Geologist", "phone": None}, token=tok)
        check(u.status == 200 and u.json["job"] == "Geologist" and u.json["phone"] is None, u)
        people[1] = u.json
        busy = srv.request("DELETE", f"/api/v1/people/{people[0]['id']}", token=tok)
        check(busy.status == 409, f"a person with a device cannot be deleted: {busy}")
        extra = srv.create(tok, "people", person_body())
        check(srv.request("DELETE", f"/api/v1/people/{extra['id']}", token=tok).status == 204, "delete")
        check(srv.request("GET", f"/api/v1/people/{extra['id']}", token=tok).status == 404, "gone")

        # Export while the server runs, import into a fresh database.
        for fmt in ("csv", "geojson"):
            target = Server()
            for t in TYPES:
                out = os.path.join(srv.dir, f"{t}.{fmt}")
                run("export", "--data-dir", srv.dir, "--type", t, "--format", fmt, "--output", out)
                p = run("import", "--data-dir", target.dir, "--type", t, out)
                check("imported" in p.stdout, p.stdout)
            target.start()
            ttok = target.admin()
            for t, want in (("sites", sites + [poly]), ("people", people), ("vehicles", vehicles),
                            ("devices", devices)):
                have = all_items(target, ttok, t)
                exp = sorted((strip({k: v for k, v in w.items() if k != "key"}) for w in want),
                             key=lambda x: x["id"])
                check([strip(h) for h in have] == exp,
                      f"{fmt} round trip of {t} differs:\n{json.dumps([strip(h) for h in have])[:800]}\n"
                      f"{json.dumps(exp)[:800]}")
            target.stop()
            check(run("audit", "verify", "--data-dir", target.dir).returncode == 0, "imported data is audited")
    finally:
        srv.stop()
