"""Alarms (issue 13): an SOS from Traccar Client opens an alarm in the
report's own transaction; nobody acknowledges, so it escalates (injected
clock) to the security manager, then to the partner's duty officers; it is
handed over, acknowledged and resolved by the partner; every step is in the
trails of both organisations and `audit verify` passes. Bad input stores
nothing; exercise alarms are marked and never counted."""
import json
import time
import urllib.parse

from harness import Server, check, device_body, person_body, run
from test_access import Org, agree
from test_stream import Stream, wait

ESCALATE_S = 60


def setup(**extra):
    args = ["--set", f"alarms.escalate_s={ESCALATE_S}", "--set", "alarms.escalate_s_by_cause=duress=30"]
    for k, v in extra.items():
        args += ["--set", f"{k}={v}"]
    srv = Server(extra_args=tuple(args)).start()
    root = srv.admin()
    me = srv.request("GET", "/api/v1/session", token=root).json
    return srv, Org(srv, root, me["org_id"]), root


def sos(srv, key, t, lat=24.9065, lon=67.1608, alarm="sos"):
    # Traccar Client (Android) as it sends the SOS button's report
    return srv.request("POST", f"/ingest/osmand?id={key}&timestamp={t}&lat={lat}&lon={lon}&speed=0.0"
                               f"&bearing=0.0&altitude=12.0&accuracy=9.6&batt=64.0&charge=false&alarm={alarm}",
                       raw=b"", content_type=None)


def trail(srv, token, alarm_id):
    r = srv.request("GET", f"/api/v1/audit?object_type=alarm&object_id={alarm_id}&limit=200", token=token)
    check(r.status == 200, r)
    return [e["action"] for e in sorted(r.json["items"], key=lambda e: e["seq"])]


def test_sos_escalates_is_handed_over_acknowledged_and_resolved_in_both_trails():
    srv, a, root = setup()
    streams = []
    try:
        b = Org.new(srv, root)  # the host nation's operations centre
        agree(srv, a, b, [{"category": "alarms", "level": "full"}, {"category": "people", "level": "full"}])
        engineer = srv.create(a.admin, "people", person_body(name="Li Wei"))
        dev = srv.create(a.admin, "devices", device_body(person_id=engineer["id"]))
        key = urllib.parse.quote(dev["key"])
        a_do, b_do = Stream(srv, a.tokens["duty_officer"]), Stream(srv, b.tokens["duty_officer"])
        streams += [a_do, b_do]
        time.sleep(0.3)
        t = int(time.time())
        r = sos(srv, key, t)
        check(r.status == 200, r)
        # committed with the report, before its 200: the alarm and its event are there now
        rows = srv.sql("SELECT id, state, cause, person_id, device_id, lat, lon FROM alarms")
        check(len(rows) == 1 and rows[0][1:5] == ("open", "sos", engineer["id"], dev["id"]), rows)
        check(abs(rows[0][5] - 24.9065) < 1e-9 and abs(rows[0][6] - 67.1608) < 1e-9, rows)
        aid = rows[0][0]
        ev = srv.sql("SELECT type, subject FROM events WHERE category = 'alarms'")
        check(ev == [("alarm", engineer["id"])], ev)
        check(wait(lambda: any(e["event"] == "alarm" and e["data"]["id"] == aid for e in a_do.events)),
              f"the alarm on the duty officer's stream: {a_do.events}")
        # the same button again while it is open opens nothing new
        check(sos(srv, key, t + 5).status == 200, "repeat")
        check(srv.sql("SELECT count(*) FROM alarms")[0][0] == 1, "one alarm for a repeated SOS")
        one = srv.request("GET", f"/api/v1/alarms/{aid}", token=a.tokens["duty_officer"]).json
        check(one["escalation"] == "duty_officers" and one["priority"] == 2 and one["exercise"] is False, one)
        check([s["action"] for s in one["log"]] == ["open"], one)
        check(one["links"]["history"].startswith(f"/api/v1/devices/{dev['id']}/history?from=")
              and one["links"]["near"].startswith("/api/v1/positions/latest?near=24.906500,67.160800"), one["links"])
        check(srv.request("GET", one["links"]["history"], token=a.tokens["duty_officer"]).status == 200, "the link works")

        # nobody acknowledges: the security manager is called, then the partner's duty officers
        srv.advance_clock((ESCALATE_S + 1) * 1000)
        check(wait(lambda: srv.request("GET", f"/api/v1/alarms/{aid}", token=a.admin).json["escalation"] == "security_manager"),
              "escalated to the security manager")
        check(wait(lambda: any(e["event"] == "alarm_escalated" and e["data"]["escalation"] == "security_manager"
                               for e in a_do.events)), "the escalation is an event")
        srv.advance_clock((ESCALATE_S + 1) * 1000)
        check(wait(lambda: srv.request("GET", f"/api/v1/alarms/{aid}", token=a.admin).json["escalation"]
                   == "partner_duty_officers"), "escalated to the partner")
        check(wait(lambda: any(e["event"] == "alarm_escalated" and e["data"]["escalation"] == "partner_duty_officers"
                               and e["data"].get("partners") == [b.id] for e in b_do.events)),
              f"the partner's duty officers hear of it: {b_do.events}")
        after = srv.request("GET", f"/api/v1/alarms/{aid}", token=a.admin).json
        check(after["escalate_at"] is None, f"no step after the partners: {after}")

        # the partner cannot act on what it does not own
        r = srv.request("POST", f"/api/v1/alarms/{aid}/acknowledge", {}, token=b.tokens["duty_officer"])
        check(r.status == 403, r)
        # A hands it over; B acknowledges and resolves it; A no longer may
        r = srv.request("POST", f"/api/v1/alarms/{aid}/handover", {"to_org": b.id, "note": "your patrol is 2 km away"},
                        token=a.tokens["duty_officer"])
        check(r.status == 200 and r.json["owner_org"] == b.id and r.json["handed_over_from"] == a.id
              and r.json["state"] == "open", r)
        r = srv.request("POST", f"/api/v1/alarms/{aid}/acknowledge", {}, token=b.tokens["duty_officer"])
        check(r.status == 200 and r.json["state"] == "acknowledged" and r.json["escalate_at"] is None, r)
        r = srv.request("POST", f"/api/v1/alarms/{aid}/acknowledge", {}, token=b.tokens["duty_officer"])
        check(r.status == 409, f"acknowledged twice: {r}")
        r = srv.request("POST", f"/api/v1/alarms/{aid}/comment", {"note": "patrol on scene"}, token=a.tokens["duty_officer"])
        check(r.status == 200, f"the person's centre still comments: {r}")
        r = srv.request("POST", f"/api/v1/alarms/{aid}/resolve", {"outcome": "assisted", "note": "x"},
                        token=a.tokens["duty_officer"])
        check(r.status == 403, f"only the owner resolves: {r}")
        r = srv.request("POST", f"/api/v1/alarms/{aid}/resolve", {"outcome": "assisted",
                                                                  "note": "escorted back to the camp"},
                        token=b.tokens["duty_officer"])
        check(r.status == 200 and r.json["state"] == "resolved" and r.json["outcome"] == "assisted", r)
        r = srv.request("POST", f"/api/v1/alarms/{aid}/comment", {"note": "late"}, token=b.tokens["duty_officer"])
        check(r.status == 409, f"a resolved alarm takes no more steps: {r}")
        log = [s["action"] for s in r.json.get("log", [])] or [
            s["action"] for s in srv.request("GET", f"/api/v1/alarms/{aid}", token=a.admin).json["log"]]
        check(log == ["open", "escalate", "escalate", "handover", "acknowledge", "comment", "resolve"], log)
        # every step in the trails of the organisations concerned
        check(trail(srv, a.admin, aid) == ["create", "escalate", "escalate", "handover", "acknowledge", "comment",
                                           "resolve"], trail(srv, a.admin, aid))
        check(trail(srv, b.admin, aid) == ["escalate", "handover", "acknowledge", "resolve"], trail(srv, b.admin, aid))
        check(wait(lambda: any(e["event"] == "alarm_changed" and e["data"]["state"] == "resolved" for e in b_do.events)),
              "the resolution on the stream")
        # the stream never carries the subject, and the partner sees the real person (alarms and people in full)
        check(all("subject" not in e["data"] for e in a_do.events + b_do.events), "no subject on the wire")
    finally:
        for s in streams:
            s.close()
        srv.stop()
    r = run("audit", "verify", "--data-dir", srv.dir, check_rc=False)
    check(r.returncode == 0, f"audit verify: {r.stdout} {r.stderr}")


def test_bad_alarm_input_stores_nothing_and_exercises_are_never_counted():
    srv, a, root = setup()
    try:
        stranger = Org.new(srv, root)
        summary = Org.new(srv, root)
        agree(srv, a, summary, [{"category": "alarms", "level": "summary"}, {"category": "people", "level": "summary"}])
        p = srv.create(a.admin, "people", person_body())
        good = srv.create(a.tokens["duty_officer"], "alarms", {"person_id": p["id"], "note": "shots heard"})
        count = lambda: srv.sql("SELECT (SELECT count(*) FROM alarms) + (SELECT count(*) FROM alarm_log)"
                                " + (SELECT count(*) FROM events WHERE category LIKE 'alarm%')"
                                " + (SELECT count(*) FROM audit WHERE object_type = 'alarm')")[0][0]
        before = count()
        do = a.tokens["duty_officer"]
        for body, field in [({"person_id": p["id"], "cause": "earthquake"}, "/cause"),
                            ({"person_id": p["id"], "cause": "duress"}, "/cause"),
                            ({"person_id": p["id"], "lat": 24.9}, "/lon"),
                            ({"person_id": p["id"], "lat": 124.9, "lon": 67.0}, "/lat"),
                            ({"person_id": p["id"], "exercise": "yes"}, "/exercise"),
                            ({"person_id": p["id"], "note": "x" * 2001}, "/note"),
                            ({"person_id": p["id"], "colour": "red"}, "/colour"),
                            ({}, "/person_id"),
                            ({"person_id": "per_01M8XXP53VPR9E2878R1055H31"}, "/person_id")]:
            r = srv.request("POST", "/api/v1/alarms", body, token=do)
            check(r.status in (400, 404) and r.json["field"] == field
                  and r.headers["content-type"].startswith("application/problem+json"), f"{body}: {r}")
        for path, body, want, field in [("resolve", {"note": "done"}, 400, "/outcome"),
                                        ("resolve", {"outcome": "assisted"}, 400, "/note"),
                                        ("resolve", {"outcome": "fine", "note": "x"}, 400, "/outcome"),
                                        ("comment", {}, 400, "/note"),
                                        ("handover", {}, 400, "/to_org"),
                                        ("handover", {"to_org": stranger.id}, 409, "/to_org"),
                                        ("acknowledge", {"state": "x"}, 400, "/state")]:
            r = srv.request("POST", f"/api/v1/alarms/{good['id']}/{path}", body, token=do)
            check(r.status == want and r.json.get("field") == field, f"{path} {body}: {r}")
        # a person raises alarms for themselves only; a stranger's person does not exist for A
        r = srv.request("POST", "/api/v1/alarms", {"person_id": p["id"]}, token=a.tokens["person"])
        check(r.status == 403, r)
        r = srv.request("POST", "/api/v1/alarms", {"person_id": stranger.person["id"]}, token=do)
        check(r.status == 404 and r.json["field"] == "/person_id", r)
        r = srv.request("POST", "/api/v1/alarms", {"person_id": p["id"]}, token=a.tokens["viewer"])
        check(r.status == 403, r)
        # a partner at summary sees it under a pseudonym and cannot act; a stranger sees nothing
        r = srv.request("GET", f"/api/v1/alarms/{good['id']}", token=summary.tokens["duty_officer"])
        check(r.status == 200 and r.json["access"] == "summary" and r.json["person_id"] != p["id"]
              and "note" not in r.json and "lat" not in r.json and "log" not in r.json, r)
        r = srv.request("POST", f"/api/v1/alarms/{good['id']}/comment", {"note": "x"}, token=summary.tokens["duty_officer"])
        check(r.status == 403, r)
        for path in ("", "/acknowledge", "/comment", "/resolve"):
            method = "GET" if not path else "POST"
            r = srv.request(method, f"/api/v1/alarms/{good['id']}{path}", None if not path else {"note": "x"},
                            token=stranger.tokens["duty_officer"])
            check(r.status == 404, f"stranger {path}: {r}")
        check(count() == before, "nothing stored by refused input")

        # exercise: marked in the answer and the event, never counted with real ones
        ex = srv.create(do, "alarms", {"person_id": p["id"], "exercise": True})
        check(ex["exercise"] is True, ex)
        ev = srv.sql("SELECT body FROM events WHERE type = 'alarm' ORDER BY seq DESC LIMIT 1")
        check(json.loads(ev[0][0])["exercise"] is True, ev)
        real = srv.request("GET", "/api/v1/alarms?exercise=false", token=do).json["items"]
        check([i["id"] for i in real] == [good["id"]], real)
        metrics = lambda: srv.request("GET", "/metrics").raw.decode()
        check(wait(lambda: "safeguard_alarms_open 1\n" in metrics()), [l for l in metrics().splitlines() if "alarm" in l])
        # a device alarm Traccar knows keeps its name; one it does not is "general" with the raw value kept
        dev = srv.create(a.admin, "devices", device_body(person_id=p["id"]))
        key = urllib.parse.quote(dev["key"])
        t = int(time.time())
        check(sos(srv, key, t, alarm="fallDown").status == 200, "fallDown")
        check(sos(srv, key, t + 1, alarm="bananas").status == 200, "unknown alarm: the report is stored")
        rows = srv.sql("SELECT cause, device_alarm, priority FROM alarms WHERE device_id = ? ORDER BY opened_at", (dev["id"],))
        check(rows == [("fallDown", "fallDown", 2), ("general", "bananas", 2)], rows)
    finally:
        srv.stop()


def test_duress_pin_logs_in_like_the_password_and_silently_opens_a_duress_alarm():
    import statistics
    from harness import user_body
    srv, a, root = setup()
    try:
        p = srv.create(a.admin, "people", person_body(name="Zhang Min"))
        u = user_body("person", person_id=p["id"])
        srv.create(a.admin, "users", u)
        tok = srv.login(u["username"], u["password"])
        pin = "4711 river"
        # registering: a person's account, its password, a PIN unlike it
        r = srv.request("POST", "/api/v1/session/duress_pin", {"password": u["password"], "pin": "12"}, token=tok)
        check(r.status == 400 and r.json["field"] == "/pin", r)
        r = srv.request("POST", "/api/v1/session/duress_pin", {"password": "wrong password here", "pin": pin}, token=tok)
        check(r.status == 403, r)
        r = srv.request("POST", "/api/v1/session/duress_pin", {"password": u["password"], "pin": pin},
                        token=a.tokens["duty_officer"])
        check(r.status == 409, f"a staff account has no duress PIN: {r}")
        r = srv.request("POST", "/api/v1/session/duress_pin", {"password": u["password"], "pin": pin}, token=tok)
        check(r.status == 200, r)
        check(pin not in srv.sql("SELECT coalesce(duress_hash, '') FROM users WHERE username = ?", (u["username"],))[0][0]
              and srv.sql("SELECT duress_hash FROM users WHERE username = ?", (u["username"],))[0][0].startswith("$argon2id$"),
              "the PIN is stored as an argon2id hash")
        view_before = srv.request("GET", "/api/v1/session", token=tok).json

        def login(pw):
            t0 = time.perf_counter()
            r = srv.request("POST", "/api/v1/session", {"username": u["username"], "password": pw})
            return r, time.perf_counter() - t0

        real, forced, times = [], [], {"pw": [], "pin": []}
        for _ in range(5):  # interleaved, so load falls on both alike
            r1, t1 = login(u["password"])
            r2, t2 = login(pin)
            real.append(r1), forced.append(r2)
            times["pw"].append(t1), times["pin"].append(t2)
        for r1, r2 in zip(real, forced):
            check(r1.status == r2.status == 201, (r1, r2))
            check(set(r1.json) == set(r2.json) and r1.json["user"] == r2.json["user"], (r1.json, r2.json))
            check(set(r1.headers) - {"date", "x-request-id"} == set(r2.headers) - {"date", "x-request-id"}, (r1.headers, r2.headers))
        ratio = statistics.median(times["pin"]) / statistics.median(times["pw"])
        check(0.6 < ratio < 1.6, f"a PIN login takes the time of a password login: {times}")
        # the forced session works like any
        forced_tok = forced[0].json["token"]
        check(srv.request("GET", "/api/v1/session", token=forced_tok).json == view_before, "the same view")
        check(srv.request("POST", "/api/v1/session", {"username": u["username"], "password": "not it at all"}).status == 401,
              "anything else is still refused")
        # one duress alarm per PIN login, highest priority; duty officers see it, nobody else
        dur = srv.request("GET", "/api/v1/alarms?cause=duress&limit=50", token=a.tokens["duty_officer"]).json["items"]
        check(len(dur) == 5 and all(d["priority"] == 1 and d["person_id"] == p["id"] for d in dur), dur)
        check(srv.request("GET", "/api/v1/alarms?cause=duress", token=a.tokens["viewer"]).json["items"] == [],
              "a viewer does not see duress alarms")
        check(srv.request("GET", f"/api/v1/alarms/{dur[0]['id']}", token=a.tokens["viewer"]).status == 404, "nor reads one")
        check(srv.request("GET", f"/api/v1/alarms/{dur[0]['id']}", token=forced_tok).status == 404,
              "the person's own account learns nothing")
        check(srv.request("GET", "/api/v1/alarms", token=forced_tok).status == 403, "as before the PIN")
        ev = srv.sql("SELECT DISTINCT category FROM events WHERE type = 'alarm'")
        check(ev == [("alarms_duress",)], f"duress events travel under their own rule: {ev}")
        # calling off one's own alarm: with the password it is resolved; with the PIN
        # the answer is the same, it stays open and one more duress alarm opens
        own = [srv.request("POST", "/api/v1/alarms", {"cause": "sos"}, token=forced_tok).json for _ in range(2)]
        check(all(o["state"] == "open" for o in own), own)
        r_pw = srv.request("POST", f"/api/v1/alarms/{own[0]['id']}/cancel", {"password": u["password"]}, token=forced_tok)
        r_pin = srv.request("POST", f"/api/v1/alarms/{own[1]['id']}/cancel", {"password": pin}, token=forced_tok)
        check(r_pw.status == r_pin.status == 200 and set(r_pw.json) == set(r_pin.json)
              and r_pw.json["state"] == r_pin.json["state"] == "resolved", (r_pw, r_pin))
        states = dict(srv.sql("SELECT id, state FROM alarms WHERE id IN (?, ?)", (own[0]["id"], own[1]["id"])))
        check(states == {own[0]["id"]: "resolved", own[1]["id"]: "open"}, states)
        check(srv.sql("SELECT count(*) FROM alarms WHERE cause = 'duress'")[0][0] == 6, "one more duress alarm")
        r = srv.request("POST", f"/api/v1/alarms/{own[1]['id']}/cancel", {"password": "not it at all"}, token=forced_tok)
        check(r.status == 403, r)
        r = srv.request("POST", f"/api/v1/alarms/{dur[0]['id']}/cancel", {"password": u["password"]}, token=forced_tok)
        check(r.status == 404, f"a duress alarm cannot be called off, nor seen: {r}")
    finally:
        srv.stop()


def test_owntracks_sos_and_move_mode_while_the_alarm_is_open():
    from test_positions import owntracks
    srv, a, root = setup()
    try:
        p = srv.create(a.admin, "people", person_body(name="Chen Bo"))
        dev = srv.create(a.admin, "devices", device_body(protocol="owntracks", person_id=p["id"]))
        t = int(time.time()) - 100

        def report(i, **extra):
            # OwnTracks iOS: a location published by hand, as the app sends it
            body = {"_type": "location", "acc": 12, "alt": 20, "batt": 71, "conn": "m", "lat": 24.90 + i / 1000,
                    "lon": 67.16, "t": "u", "tid": "CB", "tst": t + i, "vac": 4, "vel": 0, "m": 1}
            body.update(extra)
            r = owntracks(srv, dev["key"], body)
            check(r.status == 200, r)
            return r.json

        check(report(0) == [], "nothing to say without an alarm")
        report(1, poi="SOS")
        rows = srv.sql("SELECT cause, device_alarm, device_id FROM alarms")
        check(rows == [("sos", "SOS", dev["id"])], rows)
        aid = srv.sql("SELECT id FROM alarms")[0][0]
        # while it is open, each answer tells the app to report often (move mode)
        said = []
        for i in range(2, 40):
            said = report(i)
            if said:
                break
            time.sleep(0.05)
        check(said and said[0]["_type"] == "cmd" and said[0]["action"] == "setConfiguration"
              and said[0]["configuration"]["monitoring"] == 2, said)
        check(report(50)[0]["configuration"]["monitoring"] == 2, "again while open")
        r = srv.request("POST", f"/api/v1/alarms/{aid}/resolve", {"outcome": "false_alarm", "note": "test press"},
                        token=a.tokens["duty_officer"])
        check(r.status == 200, r)
        back = []
        for i in range(60, 100):
            back = report(i)
            if back and back[0]["configuration"]["monitoring"] == 1:
                break
            time.sleep(0.05)
        check(back and back[0]["configuration"]["monitoring"] == 1, f"back to significant changes: {back}")
        check(report(101) == [], "said once")
    finally:
        srv.stop()
