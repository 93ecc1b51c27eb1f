"""Hardening (issue 10): each test here failed on 83f8338; the item number
of the issue is in the test's docstring."""
import base64
import json

from harness import Server, check, person_body, site_body

from test_access import Org, agree


def setup():
    srv = Server().start()
    root = srv.admin()
    me = srv.request("GET", "/api/v1/session", token=root).json
    return srv, root, Org(srv, root, me["org_id"])


def walk(srv, token, path, limit=1):
    """Every page of a list; returns (items, bodies, cursors)."""
    items, bodies, cursors, cursor = [], [], [], None
    for _ in range(200):
        sep = "&" if "?" in path else "?"
        r = srv.request("GET", f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""), token=token)
        check(r.status == 200, r)
        bodies.append(r.raw.decode())
        items += r.json["items"]
        cursor = r.json["next"]
        if not cursor:
            return items, bodies, cursors
        cursors.append(cursor)
    raise AssertionError("the cursor walk does not end")


def test_list_cursors_reveal_no_real_id():
    """Item 1: a partner paging with limit=1 learns no real id from `next`, a
    conditional grant's empty pages carry none, and a cursor only works for
    the caller and the filters it was made for."""
    srv, root, a = setup()
    try:
        b, c = Org.new(srv, root), Org.new(srv, root)
        people = [srv.create(a.admin, "people", person_body()) for _ in range(5)]
        real = {p["id"] for p in people} | {a.person["id"]}
        agree(srv, a, b, [{"category": "people", "level": "summary"}])
        agree(srv, a, c, [{"category": "people", "level": "full", "condition": "during_shared_movement"}])
        items, bodies, cursors = walk(srv, b.tokens["liaison"], "/api/v1/people")
        mine = [i for i in items if i["org_id"] == a.id]
        check(len(mine) == len(real), f"every person of A once under a pseudonym: {len(mine)} of {len(real)}")
        check(len({i["id"] for i in items}) == len(items), "no item twice")
        for body in bodies:
            for pid in real:
                check(pid not in body, f"a summary page names the real id {pid}")
        for cur in cursors:
            raw = base64.urlsafe_b64decode(cur + "=" * (-len(cur) % 4))
            for pid in real:
                check(pid.encode() not in raw, "a cursor carries a real id in clear")
        # the conditional partner's pages: none of A's people, no real id anywhere
        _, cbodies, _ = walk(srv, c.tokens["liaison"], "/api/v1/people")
        for body in cbodies:
            for pid in real:
                check(pid not in body, f"a conditional partner's page names {pid}")
        # a cursor is bound to its caller, its filters, and is tamper-evident
        cur = cursors[0]
        for token, path, why in [
                (c.tokens["liaison"], "/api/v1/people", "another organisation's user"),
                (b.tokens["duty_officer"], "/api/v1/people", "another user of the same organisation"),
                (b.tokens["liaison"], "/api/v1/people?status=in_country", "other filters"),
                (b.tokens["liaison"], "/api/v1/sites", "another collection")]:
            sep = "&" if "?" in path else "?"
            r = srv.request("GET", f"{path}{sep}limit=1&cursor={cur}", token=token)
            check(r.status == 400 and r.json["field"] == "?cursor", f"{why}: {r}")
        flipped = cur[:-2] + ("A" if cur[-2] != "A" else "B") + cur[-1]
        r = srv.request("GET", f"/api/v1/people?limit=1&cursor={flipped}", token=b.tokens["liaison"])
        check(r.status == 400, f"a changed cursor is refused: {r}")
        r = srv.request("GET", f"/api/v1/people?limit=1&cursor={sorted(real)[0]}", token=b.tokens["liaison"])
        check(r.status == 400, f"a real id is no cursor: {r}")
        # the owner's own paging still works, across a restart too
        own, _, owncur = walk(srv, a.admin, "/api/v1/people", limit=2)
        check({i["id"] for i in own} == real, "the owner pages through everyone")
        srv.stop()
        srv.start()
        r = srv.request("GET", f"/api/v1/people?limit=2&cursor={owncur[0]}", token=a.admin)
        check(r.status == 200 and len(r.json["items"]) == 2, f"a cursor survives a restart: {r}")
    finally:
        srv.stop()


def test_writes_answer_404_for_what_the_caller_cannot_see():
    """Item 7: PATCH and DELETE on a summary person's real id answer 404,
    exactly like a made-up id and like GET; the pseudonym is readable but
    not writable (403)."""
    srv, root, a = setup()
    try:
        b = Org.new(srv, root)
        agree(srv, a, b, [{"category": "people", "level": "summary"}, {"category": "sites", "level": "full"}])
        p = srv.create(a.admin, "people", person_body())
        site = srv.create(a.admin, "sites", site_body())
        made_up = "per_01M8KWF4B0G0PT2N4YH3703B9W"
        for target in (p["id"], made_up):
            for method, body in (("GET", None), ("PATCH", {"notes": "x"}), ("DELETE", None)):
                r = srv.request(method, f"/api/v1/people/{target}", body, token=b.admin)
                check(r.status == 404, f"{method} {target}: {r}")
                check(r.json["detail"] == srv.request("GET", f"/api/v1/people/{made_up}", token=b.admin).json["detail"],
                      "the same words for both")
        pseud = [i["id"] for i in srv.request("GET", "/api/v1/people?limit=500", token=b.admin).json["items"] if i["org_id"] == a.id]
        r = srv.request("PATCH", f"/api/v1/people/{pseud[0]}", {"notes": "x"}, token=b.admin)
        check(r.status == 403, f"a visible partner record is not writable: {r}")
        r = srv.request("DELETE", f"/api/v1/sites/{site['id']}", token=b.admin)
        check(r.status == 403, f"a full-shared site is visible, not deletable: {r}")
        check(srv.request("GET", f"/api/v1/people/{p['id']}", token=a.admin).status == 200, "nothing changed")
    finally:
        srv.stop()


def test_zones_keep_their_level():
    """Item 13: a zone's level (1-6) comes back as created in every answer;
    the access label is a member of its own."""
    srv, root, a = setup()
    try:
        body = {"name": "Ridge road", "level": 4, "radius_m": 500,
                "geometry": {"type": "Point", "coordinates": [72.9, 34.8]}}
        z = srv.create(a.admin, "zones", body)
        check(z["level"] == 4 and z["access"] == "own", z)
        one = srv.request("GET", f"/api/v1/zones/{z['id']}", token=a.admin).json
        check(one["level"] == 4 and one["access"] == "own", one)
        listed = srv.request("GET", "/api/v1/zones", token=a.admin).json["items"]
        check([(i["level"], i["access"]) for i in listed] == [(4, "own")], listed)
        fc = srv.request("GET", "/api/v1/zones?format=geojson", token=a.admin).json["features"]
        check(fc[0]["properties"]["level"] == 4, fc)
        patched = srv.request("PATCH", f"/api/v1/zones/{z['id']}", {"level": 6}, token=a.admin).json
        check(patched["level"] == 6 and patched["access"] == "own", patched)
        at = srv.request("GET", "/api/v1/zones/at?lat=34.8&lon=72.9", token=a.admin).json["items"]
        check([(i["level"], i["access"]) for i in at] == [(6, "own")], at)
    finally:
        srv.stop()


def test_streams_and_sessions_follow_the_account():
    """Items 2 and 3: a demoted user's open stream delivers nothing more and
    ends; an admin's password reset ends every session and stream of the
    user; one's own change keeps the session that made it and ends the
    others."""
    import urllib.parse
    from harness import device_body, user_body
    from test_stream import Stream, wait
    srv, root, a = setup()
    streams = []
    try:
        dev = srv.create(a.admin, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        t0 = [1_700_000_000]

        def report():
            t0[0] += 1
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat=25.0&lon=67.0&timestamp={t0[0]}")
            check(r.status == 200, r)

        users = {}
        for name in ("demoted", "viewer", "reset", "self"):
            u = user_body("duty_officer")
            created = srv.create(a.admin, "users", u)
            users[name] = (created["id"], u["password"], srv.login(u["username"], u["password"]), u["username"])
        s = {name: Stream(srv, users[name][2]) for name in users}
        streams += s.values()
        report()
        check(wait(lambda: all(len(x.events) == 1 for x in s.values())), {n: x.kinds() for n, x in s.items()})

        # demotion: from the next event on, nothing
        r = srv.request("PATCH", f"/api/v1/users/{users['demoted'][0]}", {"role": "person", "person_id": a.person["id"]},
                        token=a.admin)
        check(r.status == 200, r)
        report()
        check(wait(lambda: s["demoted"].closed), "a demoted user's stream ends")
        check(len(s["demoted"].events) == 1, f"a demoted user got {s['demoted'].kinds()}")
        # any new role ends it (the client reconnects with what it may now see)
        r = srv.request("PATCH", f"/api/v1/users/{users['viewer'][0]}", {"role": "viewer"}, token=a.admin)
        check(r.status == 200, r)
        check(wait(lambda: s["viewer"].closed), "a stream opened as duty officer ends when the role changes")
        check(wait(lambda: len(s["reset"].events) == 2 and len(s["self"].events) == 2), "the others go on")

        # an admin's reset: the user's token and stream end at once
        r = srv.request("PATCH", f"/api/v1/users/{users['reset'][0]}", {"password": "a new long passphrase 7"}, token=a.admin)
        check(r.status == 200, r)
        check(srv.request("GET", "/api/v1/session", token=users["reset"][2]).status == 401, "the old token is dead")
        report()
        check(wait(lambda: s["reset"].closed), "the reset user's stream ends")
        check(len(s["reset"].events) == 2, f"after the reset: {s['reset'].kinds()}")

        # one's own change: this session stays, the user's other one ends
        uid, pw, tok, uname = users["self"]
        other = srv.login(uname, pw)
        r = srv.request("POST", "/api/v1/session/password", {"current_password": pw, "new_password": "my own new passphrase 9"}, token=tok)
        check(r.status == 204, r)
        check(srv.request("GET", "/api/v1/session", token=tok).status == 200, "the session that changed it stays")
        check(srv.request("GET", "/api/v1/session", token=other).status == 401, "the other session ends")
        report()
        check(wait(lambda: len(s["self"].events) == 4), f"the kept session's stream goes on: {s['self'].kinds()}")
        # and an admin changing their own password through /users keeps their session
        me = srv.request("GET", "/api/v1/session", token=a.admin).json
        r = srv.request("PATCH", f"/api/v1/users/{me['id']}", {"password": "the chief's new passphrase 3"}, token=a.admin)
        check(r.status == 200 and srv.request("GET", "/api/v1/session", token=a.admin).status == 200, r)
    finally:
        for x in streams:
            x.close()
        srv.stop()


def test_console_is_served_from_anywhere():
    """Item 12: a server started outside the repository (as the systemd unit
    starts it) serves the console compiled into the binary."""
    import tempfile
    srv = Server()
    srv.cwd = tempfile.mkdtemp(prefix="sg-elsewhere-")
    srv.start()
    try:
        for path, kind in (("/", "text/html"), ("/app.js", "javascript"), ("/app.css", "text/css"), ("/countries.json", "application/json")):
            r = srv.request("GET", path)
            check(r.status == 200 and kind in r.headers["content-type"] and len(r.raw) > 100, f"{path}: {r}")
        check(b"<html" in srv.request("GET", "/").raw.lower(), "the console's page")
    finally:
        srv.stop()


def test_devices_speak_their_protocol_and_times_are_read_right():
    """Items 14 and 15: OwnTracks' acc -1 is unknown, an empty POST answers
    200 [], a key works only on its enrolled protocol's endpoint; a
    timestamp of 4102444800 (year 2100 in seconds) is refused as in the
    future, not as before 2000."""
    import time
    import urllib.parse
    from harness import device_body
    from test_positions import owntracks
    srv, root, a = setup()
    try:
        ot = srv.create(a.admin, "devices", device_body(protocol="owntracks"))
        osm = srv.create(a.admin, "devices", device_body(protocol="osmand"))
        now = int(time.time())
        r = owntracks(srv, ot["key"], {"_type": "location", "lat": 24.9, "lon": 67.1, "tst": now - 60, "acc": -1, "vel": -1})
        check(r.status == 200 and r.json == [], r)
        r = srv.request("POST", "/ingest/owntracks", raw=b"", content_type="application/json",
                        headers={"Authorization": "Basic " + __import__("base64").b64encode(f"wei:{ot['key']}".encode()).decode()})
        check(r.status == 200 and r.json == [], f"an empty POST: {r}")
        r = owntracks(srv, osm["key"], {"_type": "location", "lat": 24.9, "lon": 67.1, "tst": now - 50})
        check(r.status == 401, f"an OsmAnd device's key on the OwnTracks endpoint: {r}")
        k = urllib.parse.quote(ot["key"])
        r = srv.request("GET", f"/ingest/osmand?id={k}&lat=24.9&lon=67.1&timestamp={now - 40}")
        check(r.status == 401, f"an OwnTracks device's key on the OsmAnd endpoint: {r}")
        k = urllib.parse.quote(osm["key"])
        r = srv.request("GET", f"/ingest/osmand?id={k}&lat=24.9&lon=67.1&timestamp=4102444800")
        check(r.status == 422 and "future" in r.json["detail"], f"year 2100: {r}")
        r = srv.request("GET", f"/ingest/osmand?id={k}&lat=24.9&lon=67.1&timestamp={(now - 30) * 1000}")
        check(r.status == 200, f"milliseconds: {r}")
        rows = srv.sql("SELECT device_id, time_ms, accuracy_m, speed_mps FROM positions ORDER BY time_ms")
        check(rows == [(ot["id"], (now - 60) * 1000, None, None), (osm["id"], (now - 30) * 1000, None, None)], rows)
    finally:
        srv.stop()


def test_exports_are_safe_to_open():
    """Items 8 and 9: cells a spreadsheet would run as formulas are
    neutralised in every CSV (and come back as they were on import);
    noncharacters and control characters are refused at input, and the
    GPX/KML exports are well-formed XML."""
    import os
    import urllib.parse
    import xml.dom.minidom
    from harness import device_body, run
    srv, root, a = setup()
    try:
        names = ["=HYPERLINK(\"http://x.invalid\",\"y\")", "+1 555", "-2+3", "@SUM(A1)"]
        for n in names:
            srv.create(a.admin, "people", person_body(name=n))
        srv.create(a.admin, "people", person_body(name="Tab Note", notes="\tstarts with a tab"))
        for bad in ("A\ufffeB", "A\uffffB", "A\ufdd0B", "A\u0001B", "A\u0085B"):
            r = srv.request("POST", "/api/v1/devices", device_body(name=bad), token=a.admin)
            check(r.status == 400 and r.json["field"] == "/name", f"{bad!r}: {r}")
            r = srv.request("POST", "/api/v1/people", person_body(notes=bad), token=a.admin)
            check(r.status == 400 and r.json["field"] == "/notes", f"{bad!r}: {r}")
        out = os.path.join(srv.dir, "people.csv")
        run("export", "--data-dir", srv.dir, "--type", "people", "--format", "csv", "--output", out)
        text = open(out).read()
        for n in names:
            check(n not in text.replace("'" + n, ""), f"{n!r} appears unneutralised")
            quoted = '"\'' + n.replace('"', '""') + '"'
            check(quoted in text, f"{quoted!r} not in the export")
        check('"\'\tstarts with a tab"' in text, "a tab start is neutralised too")
        target = Server()
        p = run("import", "--data-dir", target.dir, "--type", "people", out)
        check("imported" in p.stdout, p)
        back = {r[0] for r in target.sql("SELECT name FROM people")}
        check(set(names) <= back, f"the import restores the names: {back}")
        # the XML exports, with a device whose name holds every XML-special character
        dev = srv.create(a.admin, "devices", device_body(name="<Ünïcødé & \"quotes\" ]]> 設備>"))
        k = urllib.parse.quote(dev["key"])
        srv.request("GET", f"/ingest/osmand?id={k}&lat=24.9&lon=67.1&timestamp=1764633600&note=%3D1%2B1")
        for fmt in ("gpx", "kml"):
            r = srv.request("GET", f"/api/v1/devices/{dev['id']}/history?format={fmt}", token=a.admin)
            check(r.status == 200, r)
            doc = xml.dom.minidom.parseString(r.raw)
            check(doc.getElementsByTagName("name")[0].firstChild.data == dev["name"], fmt)
        # a name stored before input was checked (an older version, a restore): still XML
        srv.sql("UPDATE devices SET name = 'A' || char(65534) || char(1) || 'B' WHERE id = ?", (dev["id"],))
        for fmt in ("gpx", "kml"):
            r = srv.request("GET", f"/api/v1/devices/{dev['id']}/history?format={fmt}", token=a.admin)
            doc = xml.dom.minidom.parseString(r.raw)
            check(doc.getElementsByTagName("name")[0].firstChild.data == "A\ufffd\ufffdB", fmt)
        r = srv.request("GET", f"/api/v1/devices/{dev['id']}/history?format=csv", token=a.admin)
        check(r.status == 200 and all(not c.startswith(("=", "+", "-", "@")) for line in r.raw.decode().splitlines()[1:]
                                      for c in line.split(",")[10:]), r)
    finally:
        srv.stop()


def test_account_lockout_is_kept_in_the_store():
    """Item 5: an account's lockout is no entry of an evictable in-memory
    table: it holds across a restart (and so across a flood of other names),
    answers 429 even to the right password, and a success clears it."""
    from harness import ADMIN_PASSWORD
    srv = Server(extra_args=["--set", "security.login_lockout_s=3000"]).start()
    try:
        for _ in range(5):
            r = srv.request("POST", "/api/v1/session", {"username": "admin", "password": "wrong password 123"})
            check(r.status in (401, 429), r)
        r = srv.request("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD})
        check(r.status == 429 and int(r.headers["retry-after"]) > 2900, f"locked: {r}")
        srv.stop()
        srv.start()  # the in-memory table is gone
        r = srv.request("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD})
        check(r.status == 429, f"still locked after a restart: {r}")
        srv.advance_clock(3001 * 1000)
        r = srv.request("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD})
        check(r.status == 201, f"free once the lockout ran out: {r}")
        check(srv.sql("SELECT count(*) FROM login_lockout")[0][0] == 0, "a success clears the count")
        # one address guessing five different names is throttled as an address
        for i in range(5):
            srv.request("POST", "/api/v1/session", {"username": f"nobody.{i}", "password": "wrong password 123"})
        r = srv.request("POST", "/api/v1/session", {"username": "nobody.5", "password": "wrong password 123"})
        check(r.status == 429, f"the address is throttled: {r}")
        # an account disabled behind the server's back (an operator's SQL, a
        # second server) opens nothing from the next request on
        srv.advance_clock(3001 * 1000)
        tok = srv.login("admin", ADMIN_PASSWORD)
        srv.sql("UPDATE users SET disabled = 1 WHERE username = 'admin'")
        check(srv.request("GET", "/api/v1/session", token=tok).status == 401, "a disabled account's session is dead")
    finally:
        srv.stop()


def test_weak_passwords_are_refused_with_the_reason():
    """Item 10: guessable passwords are refused (400, /password, why), on
    create, on an admin's reset and on one's own change; nothing is written."""
    from harness import user_body
    srv, root, a = setup()
    try:
        before = srv.sql("SELECT count(*) FROM users")[0][0]
        for pw, why in (("aaaaaaaaaaaa", "different characters"), ("password1234", "dictionary word"),
                        ("user.weak.one1", "user name")):
            body = user_body("viewer", username="user.weak.one", password=pw)
            r = srv.request("POST", "/api/v1/users", body, token=a.admin)
            check(r.status == 400 and r.json["field"] == "/password" and why in r.json["detail"], f"{pw}: {r}")
        check(srv.sql("SELECT count(*) FROM users")[0][0] == before, "nothing written")
        u = user_body("viewer")
        created = srv.create(a.admin, "users", u)
        r = srv.request("PATCH", f"/api/v1/users/{created['id']}", {"password": u["username"] + " rules ok!!"}, token=a.admin)
        check(r.status == 400 and "user name" in r.json["detail"], r)
        tok = srv.login(u["username"], u["password"])
        r = srv.request("POST", "/api/v1/session/password", {"current_password": u["password"], "new_password": "Summer2024!!"}, token=tok)
        check(r.status == 400 and r.json["field"] == "/new_password" and "dictionary" in r.json["detail"], r)
        check(srv.request("GET", "/api/v1/session", token=tok).status == 200, "the session stands")
    finally:
        srv.stop()


def test_a_device_cannot_fill_the_disk():
    """Item 6: a report's extra attributes are bounded (count and bytes);
    the fix is kept, the reply says how many were dropped, /metrics counts
    them."""
    import time
    from harness import device_body
    from test_positions import owntracks
    srv, root, a = setup()
    try:
        osm = srv.create(a.admin, "devices", device_body(protocol="osmand"))
        ot = srv.create(a.admin, "devices", device_body(protocol="owntracks"))
        now = int(time.time())
        big = "x" * 500_000
        body = {"device_id": osm["key"], "location": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 100)),
            "coords": {"latitude": 24.9, "longitude": 67.1},
            "extras": {"note": big, **{f"k{i:03d}": i for i in range(200)}}}}
        r = srv.request("POST", "/ingest/osmand", body)
        check(r.status == 200 and int(r.headers["safeguard-attributes-dropped"]) > 100, r)
        r = owntracks(srv, ot["key"], {"_type": "location", "lat": 24.9, "lon": 67.1, "tst": now - 90, "blob": big})
        check(r.status == 200 and r.json == [] and r.headers["safeguard-attributes-dropped"] == "1", r)
        rows = srv.sql("SELECT device_id, length(attrs) FROM positions ORDER BY time_ms")
        check([d for d, _ in rows] == [osm["id"], ot["id"]], f"both fixes kept: {rows}")
        check(all(n <= 4096 for _, n in rows), rows)
        m = srv.request("GET", "/metrics", token=a.admin).raw.decode()
        line = [x for x in m.splitlines() if x.startswith("safeguard_ingest_attributes_dropped_total ")]
        check(line and int(line[0].split()[1]) > 100, line)
        r = srv.request("GET", f"/ingest/osmand?id={osm['key']}&lat=24.9&lon=67.1&timestamp={now - 80}&a=1&b=2")
        check(r.status == 200 and "safeguard-attributes-dropped" not in r.headers, r)
    finally:
        srv.stop()


def test_http_answers_name_methods_and_schemes():
    """Item 17: a 405 carries Allow, a 401 WWW-Authenticate (RFC 9110)."""
    srv, root, a = setup()
    try:
        r = srv.request("PUT", "/api/v1/people")
        check(r.status == 405 and r.headers.get("allow") == "GET, HEAD, POST", r.headers)
        r = srv.request("PUT", "/api/v1/people/per_01M8KWF4B0G0PT2N4YH3703B9W")
        check(r.status == 405 and r.headers.get("allow") == "GET, HEAD, PATCH, DELETE", r.headers)
        r = srv.request("PUT", "/ingest/osmand")
        check(r.status == 405 and r.headers.get("allow") == "GET, HEAD, POST", r.headers)
        check(srv.request("HEAD", "/healthz").status == 200, "HEAD answers where GET does")
        r = srv.request("GET", "/api/v1/people")
        check(r.status == 401 and r.headers.get("www-authenticate", "").startswith("Bearer"), r.headers)
        r = srv.request("POST", "/ingest/owntracks", {"_type": "location"})
        check(r.status == 401 and r.headers.get("www-authenticate", "").startswith("Basic"), r.headers)
    finally:
        srv.stop()


def test_openapi_says_what_the_server_does():
    """Item 18: device reports answer 200 (as documented), an organisation
    is created with its `admin`, history is described as positions in four
    formats; `version`, `routes`, `openapi` answer --help; `user --help`
    names every role. (The access matrix checks each route's documented
    status and body members against the running server.)"""
    import os
    from harness import run
    doc = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "openapi.json")))
    for path, method in (("/ingest/osmand", "post"), ("/ingest/osmand", "get"), ("/ingest/owntracks", "post")):
        codes = [c for c in doc["paths"][path][method]["responses"] if c.startswith("2")]
        check(codes == ["200"], f"{method} {path}: {codes}")
    org = doc["paths"]["/api/v1/organisations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    check("admin" in json.dumps(org) and "admin" in org["allOf"][1]["required"], org)
    hist = doc["paths"]["/api/v1/devices/{id}/history"]["get"]["responses"]["200"]["content"]
    check(set(hist) == {"application/geo+json", "text/csv", "application/gpx+xml",
                        "application/vnd.google-earth.kml+xml"}, hist)
    check("Device" not in json.dumps(hist), "history is not described as a device")
    for cmd in ("version", "routes", "openapi"):
        p = run(cmd, "--help")
        check(p.stdout.startswith(f"usage: safeguard {cmd}"), (cmd, p.stdout))
        check(run(cmd, "--bogus", check_rc=False).returncode == 2, cmd)
    p = run("user", "--help")
    for role in ("admin", "security_manager", "duty_officer", "liaison", "viewer", "person"):
        check(role in p.stdout, f"user --help names {role}")


def test_stream_subscribers_leave_nothing_behind():
    """Item 19: an open stream holds no reader connection (each held the
    request's until it ended: descriptors on safeguard.db grew with the
    subscribers), and what is open afterwards is a few idle ones. Issue 11:
    nor a thread (each had one: 1,000 subscribers took the server down); the
    streams are served from the event loops."""
    import os
    import time
    from test_stream import Stream
    srv, root, a = setup()
    try:
        def db_fds():
            n = 0
            for fd in os.listdir(f"/proc/{srv.proc.pid}/fd"):
                try:
                    if os.readlink(f"/proc/{srv.proc.pid}/fd/{fd}").endswith("safeguard.db"):
                        n += 1
                except OSError:
                    pass
            return n
        def threads():
            with open(f"/proc/{srv.proc.pid}/status") as f:
                return int(next(x for x in f if x.startswith("Threads:")).split()[1])
        before = threads()
        streams = [Stream(srv, a.tokens["duty_officer"]) for _ in range(60)]  # under 64 per address
        try:
            check(all(s.status == 200 for s in streams), [s.status for s in streams if s.status != 200][:3])
            check(threads() <= before + 2, f"{threads() - before} more threads with 60 streams open")
            time.sleep(1)  # each has refreshed its grants meanwhile
            check(db_fds() <= 12, f"{db_fds()} descriptors on safeguard.db with 60 streams open")
        finally:
            for s in streams:
                s.close()
        m = srv.request("GET", "/metrics").raw.decode()
        opened = [int(x.split()[1]) for x in m.splitlines() if x.startswith("safeguard_store_readers_open ")]
        check(opened and opened[0] <= 8, opened)
    finally:
        srv.stop()


def test_a_full_disk_heals_once_space_is_freed():
    """Item 16: on a small tmpfs, writes answer 503 (store full, nothing
    changed) while the disk is full and succeed again, without a restart,
    once space is freed; every acknowledged write is there and the audit
    trail verifies. (Needs root to mount the tmpfs; CI runs as root.)"""
    import os
    import subprocess
    import tempfile
    from harness import run
    if os.geteuid() != 0:
        print("skipped: needs root for a tmpfs")
        return
    mnt = tempfile.mkdtemp(prefix="sg-full-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt], check=True)
    srv = None
    try:
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (2 << 20))  # room to give back later
        srv = Server(data_dir=os.path.join(mnt, "data")).start()
        tok = srv.admin()
        acked, full = [], None
        for i in range(3000):
            r = srv.request("POST", "/api/v1/sites", site_body(notes="n" * 1900), token=tok)
            if r.status == 201:
                acked.append(r.json["id"])
                continue
            full = r
            break
        check(full is not None and full.status == 503 and full.json["type"].endswith("store-full"), f"after {len(acked)}: {full}")
        check(srv.request("GET", "/readyz").status == 503, "not ready while full")
        os.remove(filler)
        r = srv.request("POST", "/api/v1/sites", site_body(), token=tok)
        check(r.status == 201, f"writes come back once space is freed: {r}")
        acked.append(r.json["id"])
        check(srv.request("GET", "/readyz").status == 200, "ready again")
        srv.stop()
        srv.start()
        tok = srv.admin()
        have = {row[0] for row in srv.sql("SELECT id FROM sites")}
        check(set(acked) <= have, f"{len(set(acked) - have)} acknowledged sites lost")
        srv.stop()
        check(run("audit", "verify", "--data-dir", srv.dir).returncode == 0, "the trail verifies")
    finally:
        if srv:
            srv.stop()
        subprocess.run(["umount", mnt], check=False)


def test_audit_verify_counts_every_byte():
    """Item 11 (and item 22's entry-hash mutation): every byte of a covered
    row counts (a NULL set to invalid UTF-8, a NUL appended), every column of
    an entry is covered, and the checkpoint's time is signed."""
    from harness import run
    from test_audit import tampered, verify
    srv, root, a = setup()
    try:
        p = srv.create(a.admin, "people", person_body())
        srv.request("PATCH", f"/api/v1/people/{p['id']}", {"job": "Welder"}, token=a.admin)
    finally:
        srv.stop()
    check(verify(srv.dir).returncode == 0, "intact to begin with")
    seq = srv.sql("SELECT max(seq) FROM audit WHERE object_id = ?", (p["id"],))[0][0]
    cases = [(f"UPDATE people SET job = 'Welded' WHERE id = '{p['id']}'", "changed behind the audit trail"),
             (f"UPDATE people SET notes = CAST(X'C328' AS TEXT) WHERE id = '{p['id']}'", "changed behind the audit trail"),
             (f"UPDATE people SET name = name || char(0) WHERE id = '{p['id']}'", "changed behind the audit trail"),
             (f"UPDATE people SET job = CAST(X'FF' AS TEXT) WHERE id = '{p['id']}'", "changed behind the audit trail"),
             ("UPDATE audit_checkpoint SET at = '2020-01-01T00:00:00.000Z'", "signature is not valid")]
    for col in ("at", "actor", "org_id", "action", "object_type", "object_id", "changes", "row_hash", "request_id"):
        cases.append((f"UPDATE audit SET {col} = {col} || 'x' WHERE seq = {seq}", f"audit entry #{seq} has been edited"))
        cases.append((f"UPDATE audit SET {col} = {col} || char(0) WHERE seq = {seq}", f"audit entry #{seq} has been edited"))
    for sql, words in cases:
        d = tampered(srv, sql)
        r = verify(d)
        check(r.returncode != 0 and words in r.stdout, f"{sql}: {r.stdout}{r.stderr}")


def test_history_is_evidence_in_the_chain():
    """Item 11: position history and geofence events are sealed commit by
    commit into the signed chain: moving, deleting or adding a stored
    position or event, or a whole commit, fails `audit verify`; retention's
    purge does not, and a row passed off as purged must be older than a
    cutoff the trail records."""
    import time
    import urllib.parse
    from test_audit import tampered, verify
    from harness import device_body
    srv = Server().start()
    try:
        tok = srv.admin()
        srv.create(tok, "sites", site_body(geometry={"type": "Point", "coordinates": [67.16, 24.9]}, radius_m=500))
        key = urllib.parse.quote(srv.create(tok, "devices", device_body())["key"])
        now = int(time.time())
        # Old reports, then recent ones in and out of the site.
        for age_s, lon in ((40 * 86400, 67.30), (35 * 86400, 67.16), (600, 67.30), (500, 67.16), (400, 67.30), (300, 67.16)):
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat=24.9&lon={lon}&timestamp={now - age_s}")
            check(r.status == 200, r)
        # A pinned report outlives the purge, its geofence event does not:
        # its commit is then part purged.
        pinned = (now - 35 * 86400) * 1000
        srv.sql(f"UPDATE {srv.part_of(pinned)} SET pinned = 1 WHERE time_ms = ?", (pinned,))
        oldest = srv.part_of((now - 40 * 86400) * 1000)
    finally:
        srv.stop()
    srv = Server(init=False, data_dir=srv.dir,
                 extra_args=("--set", "retention.history_days=30", "--set", "retention.interval_s=1")).start()
    try:
        deadline = time.time() + 10
        while time.time() < deadline and srv.sql("SELECT count(*) FROM history_pruned")[0][0] != 1:
            time.sleep(0.2)
        check(srv.sql("SELECT count(*) FROM positions")[0][0] == 5, "the old unpinned report was purged")
        check(srv.sql("SELECT count(*) FROM history_pruned")[0][0] == 1, "the pinned report's event was purged")
        check(srv.sql("SELECT count(*) FROM geofence_events")[0][0] >= 3, "recent enter/exit events kept")
        # The old report's partition went whole; the pinned one's stays.
        check(srv.sql("SELECT dropped_ms > 0 FROM history_parts WHERE tbl = ?", (oldest,)) == [(1,)],
              "the expired partition was dropped")
        check(srv.sql("SELECT count(*) FROM sqlite_schema WHERE name = ?", (oldest,)) == [(0,)], "its table is gone")
        check(srv.sql("SELECT dropped_ms FROM history_parts WHERE tbl = ?", (srv.part_of(pinned),)) == [(0,)],
              "a partition holding a pinned report is kept")
    finally:
        srv.stop()
    r = verify(srv.dir)
    check(r.returncode == 0 and "history intact" in r.stdout, r.stdout + r.stderr)
    recent = srv.sql("SELECT time_ms FROM positions ORDER BY time_ms DESC LIMIT 1")[0][0]
    ev = srv.sql("SELECT max(seq) FROM geofence_events")[0][0]
    first, last = srv.sql("SELECT min(batch), max(batch) FROM history_chain")[0]
    tbl = srv.part_of(recent)
    cases = [
        (f"UPDATE {tbl} SET lat = lat + 0.001 WHERE time_ms = {recent}", "no longer matches its seal"),
        (f"UPDATE {tbl} SET attrs = attrs || ' ' WHERE time_ms = {recent}", "no longer matches its seal"),
        (f"UPDATE {tbl} SET time_ms = time_ms + 1 WHERE time_ms = {recent}", "no longer matches its seal"),
        (f"DELETE FROM {tbl} WHERE time_ms = {recent}", "were deleted behind the server's back"),
        (f"UPDATE {tbl} SET batch = 0 WHERE time_ms = {recent}", "were deleted behind the server's back"),
        (f"INSERT INTO {tbl} SELECT device_id, time_ms + 7, org_id, lat, lon, speed_mps, course_deg, altitude_m,"
         f" accuracy_m, battery_pct, charging, attrs, received_ms, pinned, batch FROM {tbl} WHERE time_ms = {recent}",
         "were added behind the server's back"),
        # a partition: its table dropped, dropped and marked so without retention, or unlisted
        (f"DROP TABLE {tbl}", "its table is gone"),
        (f"DROP TABLE {tbl}; UPDATE history_parts SET dropped_ms = 1 WHERE tbl = '{tbl}'", "no retention entry"),
        (f"DELETE FROM history_parts WHERE tbl = '{tbl}'", "which the catalog does not list"),
        (f"DELETE FROM geofence_events WHERE seq = {ev}", "were deleted behind the server's back"),
        (f"UPDATE geofence_events SET event = CASE event WHEN 'enter' THEN 'exit' ELSE 'enter' END WHERE seq = {ev}",
         "no longer matches its seal"),
        (f"DELETE FROM {tbl} WHERE batch = {last}; DELETE FROM geofence_events WHERE batch = {last};"
         f" DELETE FROM history_chain WHERE batch = {last}", "the signed checkpoint names history commit"),
        (f"DELETE FROM history_chain WHERE batch = {first}", "starts at commit"),
        (f"UPDATE history_chain SET at_ms = at_ms + 1 WHERE batch = {last}", "seal has been edited"),
        ("UPDATE history_pruned SET time_ms = 4000000000000", "newer than any retention cutoff"),
        ("UPDATE audit_checkpoint SET history_batch = history_batch - 1", "signature is not valid"),
    ]
    for sql, words in cases:
        d = tampered(srv, sql)
        r = verify(d)
        check(r.returncode != 0 and words in r.stdout, f"{sql}: {r.stdout}{r.stderr}")
    # Pinning a report (incidents will) is no tampering.
    r = verify(tampered(srv, f"UPDATE {tbl} SET pinned = 1 WHERE time_ms = {recent}"))
    check(r.returncode == 0, r.stdout + r.stderr)


def test_slow_clients_are_cut_off():
    """Item 4: connections that trickle their headers (one line a second)
    from several addresses, up to the per-address limit, are cut off at the
    header deadline, on the main port and on the device listener; meanwhile
    and afterwards /healthz and device reports are served."""
    import socket
    import threading
    import time
    from harness import device_body, free_port
    oport = free_port()
    srv = Server(extra_args=["--set", "server.header_timeout_s=2", "--set", "server.per_ip_connections=20",
                             "--set", "server.max_connections=400",
                             "--set", f"ingest.osmand_listen=127.0.0.1:{oport}"]).start()
    socks, stop = [], threading.Event()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        for port in (srv.port, oport):
            for host in range(2, 10):  # 8 addresses x 20 = 160 connections per listener
                for _ in range(20):
                    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(f"127.0.0.{host}", 0))
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    socks.append(s)

        def trickle():
            while not stop.is_set():
                for s in socks:
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
                stop.wait(1)
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        t0 = time.time()
        check(srv.request("GET", "/healthz").status == 200, "served while the attack holds its connections")
        r = srv.request("GET", f"/ingest/osmand?id={dev['key']}&lat=24.9&lon=67.1&timestamp={int(t0) - 5}")
        check(r.status == 200, r)
        time.sleep(4.5)
        closed = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                closed += s.recv(1) == b""
            except (socket.timeout, OSError):
                closed += 0 if isinstance(__import__("sys").exc_info()[1], socket.timeout) else 1
        check(closed == len(socks), f"{closed} of {len(socks)} slow connections cut off after the deadline")
        m = srv.request("GET", "/metrics").raw.decode()
        dropped = [int(x.split()[1]) for x in m.splitlines() if x.startswith("safeguard_http_slow_clients_dropped_total ")]
        check(dropped and dropped[0] >= len(socks), dropped)
        c = http_get(oport, f"/?id={dev['key']}&lat=24.9&lon=67.1&timestamp={int(t0) - 4}")
        check(c == 200, f"the device listener serves afterwards: {c}")
    finally:
        stop.set()
        for s in socks:
            s.close()
        srv.stop()


def http_get(port, path):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        return c.getresponse().status
    finally:
        c.close()


def test_malformed_headers_are_refused():
    """Item 17, in part: an HTTP/1.1 request without Host is refused (400).
    Bare LF line ends, folded header lines and a NUL in a header are refused
    only with libmicrohttpd 0.9.77 or later (the server asks for its client
    discipline when built against it); Debian 12 ships 0.9.75, which reads
    bare LF as a line end, joins folded lines and cuts a value at a NUL before
    the server sees it. The proxy in front refuses them (README)."""
    import socket
    srv, root, a = setup()
    try:
        for name, raw in (("no Host", b"GET /healthz HTTP/1.1\r\n\r\n"),):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(raw)
            line = s.recv(200).split(b"\r\n")[0]
            s.close()
            check(line.startswith(b"HTTP/1.1 400"), f"{name}: {line}")
    finally:
        srv.stop()


def test_what_the_mutation_check_found_unguarded():
    """Item 22: a partner cannot use another partner's pseudonym; a
    duplicate report reaches the stream once; a reference to another
    organisation's site, person or vehicle is refused on create and on
    change."""
    import time
    import urllib.parse
    from harness import device_body, vehicle_body
    from test_stream import Stream, wait
    srv, root, a = setup()
    streams = []
    try:
        b, c = Org.new(srv, root), Org.new(srv, root)
        p = srv.create(a.admin, "people", person_body())
        for partner in (b, c):
            agree(srv, a, partner, [{"category": "people", "level": "summary"}])
        codes = {}
        for partner in (b, c):
            items = srv.request("GET", "/api/v1/people?limit=500", token=partner.admin).json["items"]
            codes[partner.id] = {i["id"] for i in items if i["org_id"] == a.id}
        one_of_b = sorted(codes[b.id])[0]
        check(srv.request("GET", f"/api/v1/people/{one_of_b}", token=b.admin).status == 200, "B reads its own code")
        r = srv.request("GET", f"/api/v1/people/{one_of_b}", token=c.admin)
        check(r.status == 404, f"C cannot resolve B's pseudonym: {r}")

        # a duplicate report: stored once, streamed once
        dev = srv.create(a.admin, "devices", device_body())
        s = Stream(srv, a.tokens["duty_officer"])
        streams.append(s)
        k = urllib.parse.quote(dev["key"])
        t = int(time.time()) - 30
        for _ in range(3):
            check(srv.request("GET", f"/ingest/osmand?id={k}&lat=24.9&lon=67.1&timestamp={t}").status == 200, "ack")
        srv.request("GET", f"/ingest/osmand?id={k}&lat=24.95&lon=67.1&timestamp={t + 1}")
        check(wait(lambda: len(s.events) >= 2), s.kinds())
        time.sleep(0.5)
        check([e["data"]["lat"] for e in s.events if e["event"] == "position"] == [24.9, 24.95],
              f"each report once: {s.kinds()}")

        # references across organisations
        b_site = srv.create(b.admin, "sites", site_body())
        b_person = srv.create(b.admin, "people", person_body())
        b_vehicle = srv.create(b.admin, "vehicles", vehicle_body())
        for coll, body in (("people", person_body(home_site_id=b_site["id"])),
                           ("devices", device_body(person_id=b_person["id"])),
                           ("devices", device_body(vehicle_id=b_vehicle["id"]))):
            r = srv.request("POST", f"/api/v1/{coll}", body, token=a.admin)
            check(r.status == 422 and "no such" in r.json["detail"], f"{coll} referring to B's records: {r}")
        mine = srv.create(a.admin, "devices", device_body())
        for patch in ({"person_id": b_person["id"]}, {"vehicle_id": b_vehicle["id"]}):
            r = srv.request("PATCH", f"/api/v1/devices/{mine['id']}", patch, token=a.admin)
            check(r.status == 422, f"PATCH {patch}: {r}")
        r = srv.request("PATCH", f"/api/v1/people/{p['id']}", {"home_site_id": b_site["id"]}, token=a.admin)
        check(r.status == 422, f"PATCH home_site_id: {r}")
    finally:
        for x in streams:
            x.close()
        srv.stop()
