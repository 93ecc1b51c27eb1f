"""Access, route by route, generated from the router table itself (issue 2,
done-when 3; issue 3, done-when 1).

Every route is tried by every role from every relation to the object's
owner (organisation A):
  own        A's own users
  stranger   an organisation with no agreement with A
  no_grant   an agreement in force that grants nothing
  summary    people, sites and vehicles shared as summary
  full       people, sites and vehicles shared in full
  expired    shared in full, but the grants' validity period is over
  revoked    shared in full, then A revoked its grants
  condition  people shared in full only during a shared movement (none is under way)
and the answer must match the tables below. A route the server has and
POLICY lacks fails the suite, so a route cannot ship without its access test."""
import json

from harness import (Server, check, device_body, person_body, run, site_body, unique, user_body,
                     vehicle_body)

ROLES = ["admin", "security_manager", "duty_officer", "liaison", "viewer", "person"]
STAFF = {"admin", "security_manager", "duty_officer", "liaison", "viewer"}
MANAGERS = {"admin", "security_manager"}
OPERATORS = MANAGERS | {"duty_officer", "liaison"}
ALL = STAFF | {"person"}

# "METHOD path" -> roles allowed on their own organisation's objects.
# "public" routes need no login; "session" routes are tested in test_auth;
# "device" routes take a device key, never a session (tested in test_positions).
POLICY = {
    "GET /healthz": "public",
    "GET /readyz": "public",
    "GET /metrics": "public",
    "GET /api/v1/openapi.json": "public",
    "POST /api/v1/session": "public",
    "GET /api/v1/session": "session",
    "DELETE /api/v1/session": "session",
    "POST /api/v1/session/password": "session",
    "POST /api/v1/session/duress_pin": "session",  # tested in test_alarms
    "GET /api/v1/organisations": ALL,
    "POST /api/v1/organisations": {"admin"},  # admins of the installation's first organisation
    "GET /api/v1/organisations/{id}": ALL,
    "PATCH /api/v1/organisations/{id}": {"admin"},
    "GET /api/v1/users": {"admin"},
    "POST /api/v1/users": {"admin"},
    "GET /api/v1/users/{id}": {"admin"},
    "PATCH /api/v1/users/{id}": {"admin"},
    "DELETE /api/v1/users/{id}": {"admin"},
    "GET /api/v1/api_keys": {"admin"},
    "POST /api/v1/api_keys": {"admin"},
    "GET /api/v1/api_keys/{id}": {"admin"},
    "PATCH /api/v1/api_keys/{id}": {"admin"},
    "DELETE /api/v1/api_keys/{id}": {"admin"},
    "GET /api/v1/people": ALL,  # a person's list holds only their own record
    "POST /api/v1/people": MANAGERS,
    "GET /api/v1/people/{id}": STAFF,  # a person gets 404 for anyone but themselves
    "PATCH /api/v1/people/{id}": MANAGERS,
    "DELETE /api/v1/people/{id}": MANAGERS,
    "GET /api/v1/sites": ALL,
    "POST /api/v1/sites": MANAGERS,
    "GET /api/v1/sites/{id}": ALL,
    "PATCH /api/v1/sites/{id}": MANAGERS,
    "DELETE /api/v1/sites/{id}": MANAGERS,
    "GET /api/v1/vehicles": STAFF,
    "POST /api/v1/vehicles": MANAGERS,
    "GET /api/v1/vehicles/{id}": STAFF,
    "PATCH /api/v1/vehicles/{id}": MANAGERS,
    "DELETE /api/v1/vehicles/{id}": MANAGERS,
    "GET /api/v1/devices": STAFF,
    "POST /api/v1/devices": MANAGERS,
    "GET /api/v1/devices/{id}": STAFF,
    "PATCH /api/v1/devices/{id}": MANAGERS,
    "DELETE /api/v1/devices/{id}": MANAGERS,
    "POST /api/v1/devices/{id}/key": MANAGERS,
    "GET /api/v1/audit": {"admin"},
    "GET /ingest/osmand": "device",
    "POST /ingest/osmand": "device",
    "POST /ingest/owntracks": "device",
    "GET /api/v1/devices/{id}/history": STAFF,
    "GET /api/v1/positions/latest": STAFF,
    "POST /api/v1/positions/query": STAFF,
    "GET /api/v1/stream": "stream",  # endless: tested in test_stream
    "GET /api/v1/zones": ALL,
    "POST /api/v1/zones": MANAGERS,
    "GET /api/v1/zones/at": ALL,
    "GET /api/v1/zones/{id}": ALL,
    "PATCH /api/v1/zones/{id}": MANAGERS,
    "DELETE /api/v1/zones/{id}": MANAGERS,
    "GET /api/v1/incidents": STAFF,
    "POST /api/v1/incidents": OPERATORS,
    "GET /api/v1/incidents/{id}": STAFF,
    "PATCH /api/v1/incidents/{id}": OPERATORS,  # closed, never deleted: no DELETE route
    "GET /api/v1/incidents/{id}/exposure": STAFF,
    "GET /api/v1/incidents/{id}/assessment": STAFF,  # 404 until the caller's organisation assesses it
    "POST /api/v1/incidents/{id}/assessment": OPERATORS,  # also a partner's operators who see it
    "GET /api/v1/agreements": STAFF,
    "POST /api/v1/agreements": {"admin"},
    "GET /api/v1/agreements/{id}": STAFF,
    "PATCH /api/v1/agreements/{id}": {"admin"},
    "POST /api/v1/agreements/{id}/accept": {"admin"},
    "POST /api/v1/agreements/{id}/suspend": {"admin"},
    "POST /api/v1/agreements/{id}/resume": {"admin"},
    "POST /api/v1/agreements/{id}/revoke": {"admin"},
    "GET /feeds/alerts.atom": "feed",  # tested in test_alerts
    "GET /api/v1/alerts": STAFF,
    "POST /api/v1/alerts": OPERATORS,
    "GET /api/v1/alerts/{id}": STAFF,
    "GET /api/v1/alerts/{id}/cap": STAFF,
    "POST /api/v1/alerts/{id}/relay": OPERATORS,  # a partner's alert (one's own: 409)
    "GET /api/v1/alerts/{id}/deliveries": OPERATORS,  # the sender's; a partner who sees the alert: 403
    "GET /api/v1/rollcalls": STAFF,
    "POST /api/v1/rollcalls": OPERATORS,
    "GET /api/v1/rollcalls/{id}": STAFF,
    "POST /api/v1/rollcalls/{id}/answers": OPERATORS | {"person"},  # a person for themselves, operators with a reason
    "POST /api/v1/rollcalls/{id}/close": OPERATORS,
    "GET /api/v1/rollcalls/{id}/report": STAFF,
    "POST /api/v1/answer/question": "public",  # the one-time link's token: tested in test_rollcalls
    "POST /api/v1/answer": "public",
    "GET /api/v1/channels": {"admin"},
    "POST /api/v1/channels": {"admin"},
    "GET /api/v1/channels/{id}": {"admin"},
    "PATCH /api/v1/channels/{id}": {"admin"},
    "DELETE /api/v1/channels/{id}": {"admin"},
    "GET /api/v1/alarms": STAFF,
    "POST /api/v1/alarms": OPERATORS | {"person"},  # a person for themselves only
    "GET /api/v1/alarms/{id}": STAFF,
    "POST /api/v1/alarms/{id}/acknowledge": OPERATORS,
    "POST /api/v1/alarms/{id}/handover": OPERATORS,
    "POST /api/v1/alarms/{id}/resolve": OPERATORS,
    "POST /api/v1/alarms/{id}/comment": OPERATORS,  # also a partner's operators who see it in full
    "POST /api/v1/alarms/{id}/cancel": {"person"},  # the person themselves, with their password
}

RELATIONS = ["own", "stranger", "no_grant", "summary", "full", "expired", "revoked", "condition"]
SHARED = ("people", "sites", "vehicles", "positions", "zones", "incidents", "alarms", "alerts", "rollcalls")
CATEGORY = {"rollcalls": "roll-calls"}  # the collection's sharing category, where its name differs
FULL3 = [{"category": CATEGORY.get(c, c), "level": "full"} for c in SHARED]
# What A grants each partner (None: no agreement at all).
GRANTS = {
    "stranger": None,
    "no_grant": [],
    "summary": [{"category": CATEGORY.get(c, c), "level": "summary"} for c in SHARED],
    "full": FULL3,
    "expired": [dict(g, **{"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}) for g in FULL3],
    "revoked": FULL3,
    "condition": [{"category": "people", "level": "full", "condition": "during_shared_movement"}],
}
# The level at which each relation shows A's records of a category (the
# policy table for partners): anything else is hidden.
SHOWN = {
    "stranger": {}, "no_grant": {}, "expired": {}, "revoked": {}, "condition": {},
    "summary": {c: "summary" for c in SHARED},
    "full": {c: "full" for c in SHARED},
}
# Who may read a partner's shared records: the roles that read them at home.
READERS = {"people": STAFF, "sites": ALL, "vehicles": STAFF, "positions": STAFF, "zones": ALL, "incidents": STAFF,
           "rollcalls": STAFF,
           "alarms": STAFF, "alerts": STAFF}
WORLD = {"type": "Polygon", "coordinates": [[[-179, -89], [179, -89], [179, 89], [-179, 89], [-179, -89]]]}
LIST_QUERY = {"positions/latest": "?bbox=-180,-90,180,90", "zones/at": "?lat=24.9&lon=67.16"}


def list_query(sub, collection):
    return LIST_QUERY.get(sub, "?limit=500" if sub == collection else "")
PRIVATE = {"people": ["name", "phone", "email", "emergency_contact", "notes"], "sites": ["address", "notes"],
           "rollcalls": ["people"],
           "vehicles": ["notes"], "positions": [], "zones": ["reason"], "incidents": ["source", "notes"],
           "alarms": ["device_id", "device_alarm", "lat", "lon", "position_time", "note", "opened_by",
                      "acknowledged_by", "resolved_by", "resolution", "log", "links"],
           "alerts": ["recipient_list", "people", "sites"]}
# Who alarms are raised for in the matrix (A's person), and the partner a
# hand-over goes to (A shares its alarms with it in full).
ALARM = {}

def zone_body():
    return {"name": unique("Zone "), "level": 5, "reason": "ambush reported on this road",
            "geometry": {"type": "Point", "coordinates": [67.16, 24.9]}, "radius_m": 800}


def incident_body():
    return {"type": "vehicle_borne_device", "time": "2026-12-03T06:10:00Z", "severity": "extreme",
            "confidence": "confirmed", "casualties": 3, "source": "police radio", "notes": unique("VBIED at the exit "),
            "geometry": {"type": "Point", "coordinates": [67.15, 24.89]}, "radius_m": 500}


BODIES = {
    "zones": zone_body, "incidents": incident_body,
    "people": person_body, "sites": site_body, "vehicles": vehicle_body, "devices": device_body,
    "users": lambda: user_body("viewer"), "api_keys": lambda: {"name": unique("key "), "role": "viewer"},
    "alarms": lambda: {"person_id": ALARM["person"], "cause": "sos", "note": unique("shots heard near the gate ")},
    "rollcalls": lambda: {"title": unique("Are you safe "), "people": [ALARM["person"]]},
    "channels": lambda: {"name": unique("Hook "), "kind": "webhook", "url": "http://127.0.0.1:9/hook",
                         "secret": "0123456789abcdef-secret"},
    "alerts": lambda: {"event": "Car bomb", "urgency": "Immediate", "severity": "Extreme", "certainty": "Observed",
                       "headline": unique("Stay inside "), "geometry": {"type": "Point", "coordinates": [67.16, 24.9]},
                       "radius_m": 2000},
}
# The bodies of the routes that act on one object.
ACTIONS = {
    "/api/v1/incidents/{id}/assessment": lambda: {"severity": "severe", "confidence": "probable", "notes": "our patrol saw it"},
    "/api/v1/alarms/{id}/acknowledge": lambda: {},
    "/api/v1/alarms/{id}/handover": lambda: {"to_org": ALARM["partner"], "note": "their patrol is nearer"},
    "/api/v1/alarms/{id}/resolve": lambda: {"outcome": "false_alarm", "note": "pressed by mistake"},
    "/api/v1/alarms/{id}/comment": lambda: {"note": "called his phone, no answer"},
    "/api/v1/alarms/{id}/cancel": lambda: {"password": ALARM["password"]},
    "/api/v1/rollcalls/{id}/answers": lambda: {"state": "safe", "person_id": ALARM["person"], "reason": "seen by the escort lead"},
}
PATCHES = {
    "people": {"job": "Welder"}, "sites": {"notes": "patched"}, "vehicles": {"colour": "red"},
    "devices": {"notes": "patched"}, "users": {"display_name": "Patched"}, "zones": {"level": 6},
    "incidents": {"status": "closed"},
    "api_keys": {"name": "patched"}, "channels": {"name": "patched"}, "organisations": None, "agreements": {"grants": []},
}


def org_body():
    u = user_body("admin")
    del u["role"]
    return {"name": unique("Org "), "kind": "other", "admin": u}


class Org:
    """An organisation with one user per role."""

    def __init__(self, srv, admin_token, org_id):
        self.srv, self.id, self.admin = srv, org_id, admin_token
        self.person = srv.create(admin_token, "people", person_body())
        self.tokens = {"admin": admin_token}
        self.passwords = {}
        for role in ROLES[1:]:
            extra = {"person_id": self.person["id"]} if role == "person" else {}
            u = user_body(role, **extra)
            srv.create(admin_token, "users", u)
            self.tokens[role] = srv.login(u["username"], u["password"])
            self.passwords[role] = u["password"]

    @classmethod
    def new(cls, srv, root_token):
        ob = org_body()
        o = srv.create(root_token, "organisations", ob)
        return cls(srv, srv.login(ob["admin"]["username"], ob["admin"]["password"]), o["id"])


def agree(srv, a, b, grants):
    """An agreement in force from a to b with a's grants."""
    ag = srv.create(a.admin, "agreements", {"partner_id": b.id, "grants": grants})
    r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=b.admin)
    check(r.status == 200 and r.json["accepted_by_both"], r)
    return ag


def end(srv, a, b, ag_id):
    for org in (a, b):
        srv.request("POST", f"/api/v1/agreements/{ag_id}/revoke", token=org.admin)


DOC = None


def documented_as(route, resp, body):
    """The OpenAPI document says what the server does: the success status,
    and every member of the request body is a property of its schema."""
    global DOC
    if DOC is None:
        import os
        DOC = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "openapi.json")))
    op = DOC["paths"].get(route["path"], {}).get(route["method"].lower())
    if op is None:
        return  # not in the document (operational or device routes are checked elsewhere)
    codes = [c for c in op["responses"] if c.startswith("2")]
    check(codes == [str(resp.status)], f"{route['method']} {route['path']}: documented {codes}, answered {resp.status}")
    if body and "requestBody" in op:
        props = schema_props(op["requestBody"]["content"]["application/json"]["schema"])
        check(set(body) <= props, f"{route['method']} {route['path']}: {set(body) - props} not in the document")


def schema_props(s):
    if "$ref" in s:
        return schema_props(DOC["components"]["schemas"][s["$ref"].split("/")[-1]])
    out = set(s.get("properties", {}))
    for part in s.get("allOf", []):
        out |= schema_props(part)
    return out


def test_every_route_has_a_policy_row():
    routes = json.loads(run("routes").stdout)
    keys = {f"{r['method']} {r['path']}" for r in routes}
    missing = keys - POLICY.keys()
    check(not missing, f"routes without a row in the access policy table: {sorted(missing)}")
    stale = POLICY.keys() - keys
    check(not stale, f"policy rows for routes that do not exist: {sorted(stale)}")
    for r in routes:
        check(r["public"] == (POLICY[f"{r['method']} {r['path']}"] in ("public", "device")),
              f"{r['method']} {r['path']}: public flag differs from the table")


def expected_partner(relation, collection, role, method):
    """Status a partner's user gets for an object route on A's record."""
    if collection == "organisations":
        visible = relation != "stranger"
    else:
        visible = collection in SHOWN[relation] and role in READERS[collection]
    if method == "GET":
        return 200 if visible else 404
    return 403 if visible else 404


def test_access_matrix_every_route_role_and_relation():
    routes = json.loads(run("routes").stdout)
    srv = Server(extra_args=("--set", "alarms.escalate_s=86400", "--set", "alarms.escalate_s_by_cause=")).start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        ALARM["person"] = a.person["id"]
        ALARM["password"] = a.passwords["person"]
        spare = Org.new(srv, root)  # the far side of agreements that A's own users act on
        bystander = Org.new(srv, root)  # party to the standing agreement partners must not see
        partners = {rel: Org.new(srv, root) for rel in RELATIONS[1:]}
        ALARM["partner"] = partners["full"].id
        for rel, org in partners.items():
            if GRANTS[rel] is not None:
                ag = agree(srv, a, org, GRANTS[rel])
                if rel == "revoked":
                    r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/revoke", token=a.admin)
                    check(r.status == 200, r)
        # One standing object per collection, which partners try to read and change.
        fixtures = {c: srv.create(a.admin, c, BODIES[c]()) for c in BODIES}
        # A's device reports a position (20 minutes old: summary shows it, delayed).
        import time as _time
        t = int(_time.time()) - 1200
        rep = srv.request("GET", f"/ingest/osmand?id={fixtures['devices']['key']}&lat=24.9&lon=67.1&timestamp={t}")
        check(rep.status == 200, rep)
        fixtures["organisations"] = {"id": a.id}
        fixtures["agreements"] = {"id": agree(srv, a, bystander, [])["id"]}
        pseudonym = {}
        for rel, org in partners.items():
            rows = srv.sql("SELECT code FROM pseudonyms WHERE person_id = ? AND partner_id = ?",
                           (fixtures["people"]["id"], org.id))
            pseudonym[rel] = rows[0][0] if rows else None

        def fresh(collection):
            if collection == "organisations":
                return {"id": a.id}
            if collection == "agreements":
                return agree(srv, a, spare, [])
            return srv.create(a.admin, collection, BODIES[collection]())

        cells = 0
        for r in routes:
            key = f"{r['method']} {r['path']}"
            allowed = POLICY[key]
            if allowed in ("public", "session", "device", "stream", "feed"):
                continue
            collection = r["path"].split("/")[3]
            has_id = "{id}" in r["path"]
            body = None
            if r["method"] == "PATCH":
                body = PATCHES[collection] if PATCHES[collection] is not None else {"name": unique("Renamed ")}
            if r["path"] in ACTIONS:
                body = ACTIONS[r["path"]]()
            for role in ROLES:
                # --- own organisation ---
                if r["method"] == "POST" and not has_id:
                    body = (org_body() if collection == "organisations" else
                            {"partner_id": spare.id, "grants": []} if collection == "agreements" else
                            {"geometry": WORLD} if collection == "positions" else
                            BODIES[collection]())
                target = fresh(collection) if has_id and role in allowed else fixtures.get(collection)
                path = r["path"].replace("{id}", target["id"]) if has_id else r["path"]
                sub = "/".join(r["path"].split("/")[3:])
                if r["method"] == "GET" and not has_id:
                    path += list_query(sub, collection)
                rbody = {"state": "safe"} if key == "POST /api/v1/rollcalls/{id}/answers" and role == "person" else body
                resp = srv.request(r["method"], path, rbody, token=a.tokens[role],
                                   raw=b"" if r["method"] == "POST" and rbody is None else None)
                if role in allowed and key == "GET /api/v1/incidents/{id}/assessment" and resp.status == 404:
                    pass  # allowed, and nothing assessed yet on this fresh incident
                elif role in allowed and key == "POST /api/v1/alerts/{id}/relay":
                    check(resp.status == 409, f"own {role}: one's own alert is not relayed: {resp}")
                elif role in allowed:
                    check(resp.status in (200, 201, 204), f"own {role}: {key} should be allowed: {resp}")
                    documented_as(r, resp, body)
                elif role == "person" and r["path"] == "/api/v1/people/{id}":
                    # someone a person account cannot see does not exist for it, on every method
                    check(resp.status == 404, f"person reaching someone else: {key}: {resp}")
                else:
                    check(resp.status == 403, f"own {role}: {key} should be forbidden: {resp}")
                if key == "GET /api/v1/people" and role == "person":
                    check([i["id"] for i in resp.json["items"]] == [a.person["id"]],
                          f"a person lists only themselves: {resp.json}")
                if collection == "agreements" and has_id and role in allowed:
                    end(srv, a, spare, target["id"])
                elif collection == "agreements" and resp.status == 201:
                    end(srv, a, spare, resp.json["id"])
                if r["method"] == "POST" and not has_id:
                    body = None
                cells += 1

                # --- partners, one relation each ---
                for rel, org in partners.items():
                    cells += 1
                    tok = org.tokens[role]
                    if not has_id:
                        if r["method"] != "GET":
                            continue  # creating is always in one's own organisation
                        resp = srv.request("GET", r["path"] + list_query(sub, collection), token=tok)
                        if resp.status == 403:
                            check(role not in POLICY[key], f"{rel} {role}: {key}: {resp}")
                            continue
                        check(resp.status == 200, f"{rel} {role}: {key}: {resp}")
                        items = resp.json["items"]
                        if collection == "agreements":
                            check(fixtures["agreements"]["id"] not in {i["id"] for i in items},
                                  f"{rel} {role} lists an agreement it is no party to")
                            continue
                        theirs = [i for i in items if i.get("org_id") == a.id]

                        def expected_level(cat):
                            if cat == "organisations":
                                return "full" if rel != "stranger" else None
                            return SHOWN[rel].get(cat) if role in READERS.get(cat, set()) else None

                        for i in theirs:
                            cat = i["type"] + "s" if sub == "zones/at" else collection
                            shown = i.get("access")
                            check(expected_level(cat) is not None and shown == expected_level(cat),
                                  f"{rel} {role}: {key} shows A's {cat} at {shown}, expected {expected_level(cat)}: {i}")
                            if shown == "summary":
                                check(not any(f in i for f in PRIVATE.get(cat, [])), f"{key} summary leaks: {i}")
                                if cat == "people":
                                    check(i["id"] == i["pseudonym"] and len(i["id"]) == 7, i)
                                if cat == "alarms":
                                    check(len(i["person_id"]) == 7 and i["person_id"] != a.person["id"],
                                          f"a summary alarm names its person by pseudonym: {i}")
                        if expected_level(collection) is not None and collection not in ("audit",):
                            check(theirs, f"{rel} {role}: {key} should show A's records at {expected_level(collection)}")
                        if collection in ("users", "api_keys", "devices", "audit"):
                            check(not theirs and not any(i.get("object_id") == a.id for i in items),
                                  f"{rel} {role} sees A's records in {key}")
                        continue
                    if collection == "agreements":
                        target = fixtures["agreements"]  # an agreement they are no party to
                        expect = 404 if role in STAFF else 403
                    else:
                        target = fixtures[collection]
                        expect = expected_partner(rel, collection, role, r["method"])
                        if key == "GET /api/v1/alerts/{id}/deliveries" and expect == 200:
                            expect = 403  # whom an alert reached is its sender's alone
                        if key == "GET /api/v1/rollcalls/{id}/report" and expect == 200 and SHOWN[rel].get("rollcalls") == "summary":
                            expect = 403  # shared as counts only: nobody's answer
                    oid = target["id"]
                    if collection == "people" and SHOWN[rel].get("people") == "summary":
                        oid = pseudonym[rel]
                        check(oid and oid != target["id"], f"{rel}: no pseudonym")
                    before = srv.request("GET", f"/api/v1/{collection}/{target['id']}", token=a.admin).json
                    resp = srv.request(r["method"], r["path"].replace("{id}", oid), body, token=tok,
                                       raw=b"" if r["method"] == "POST" and body is None else None)
                    if key == "POST /api/v1/incidents/{id}/assessment" and expect == 403 and role in OPERATORS:
                        # a partner who sees the incident keeps its own assessment beside it (never changing it)
                        check(resp.status == 200 and resp.json["org_id"] == org.id, f"{rel} {role}: {resp}")
                        mine = srv.request("GET", r["path"].replace("{id}", oid), token=tok)
                        check(mine.status == 200 and mine.json["severity"] == "severe", mine)
                        continue
                    if key == "POST /api/v1/alerts/{id}/relay" and expect == 403 and role in OPERATORS:
                        # a partner who sees the alert relays it to its own people: a new alert of its own
                        check(resp.status == 201 and resp.json["org_id"] == org.id and resp.json["relayed_from"] == oid,
                              f"{rel} {role}: {resp}")
                        continue
                    if key == "GET /api/v1/incidents/{id}/assessment" and expect == 200:
                        # none of its own yet, or the one it made: never A's (A made none)
                        check(resp.status in (200, 404) and (resp.status == 404 or resp.json["org_id"] == org.id),
                              f"{rel} {role}: {resp}")
                        continue
                    if key == "POST /api/v1/alarms/{id}/comment" and expect == 403 and SHOWN[rel].get("alarms") == "full" \
                            and role in OPERATORS:
                        # a partner's operators who see the alarm in full may comment on it (and only that)
                        check(resp.status == 200 and resp.json["log"][-1]["action"] == "comment", f"{rel} {role}: {resp}")
                        continue
                    check(resp.status == expect, f"{rel} {role}: {key} expected {expect}: {resp}")
                    if resp.status == 200 and resp.json is not None and collection in PRIVATE and collection in SHOWN[rel]:
                        check(resp.json["access"] == SHOWN[rel][collection], resp.json)
                        if SHOWN[rel][collection] == "summary":
                            check(not any(f in resp.json for f in PRIVATE[collection]), f"summary leaks: {resp.json}")
                    after = srv.request("GET", f"/api/v1/{collection}/{target['id']}", token=a.admin).json
                    check(before == after, f"{rel} {role}: {key} changed A's record")
                    if collection == "people" and rel in ("summary",) and role in STAFF and r["method"] == "GET":
                        real = srv.request("GET", f"/api/v1/people/{target['id']}", token=tok)
                        check(real.status == 404, f"summary never confirms a real id: {real}")
        check(cells > 2000, f"only {cells} cells were checked")
    finally:
        srv.stop()


def test_api_key_acts_with_its_role_and_stops_when_revoked():
    srv = Server().start()
    try:
        tok = srv.admin()
        k = srv.create(tok, "api_keys", {"name": "integration", "role": "viewer"})
        check(k["key"].startswith("sgk_"), k)
        check(srv.request("GET", "/api/v1/people", token=k["key"]).status == 200, "a viewer key reads")
        check(srv.request("POST", "/api/v1/people", person_body(), token=k["key"]).status == 403, "a viewer key cannot write")
        check(srv.request("POST", "/api/v1/api_keys", {"name": "x", "role": "admin"}, token=tok).status == 400,
              "no admin keys")
        r = srv.request("PATCH", f"/api/v1/api_keys/{k['id']}", {"revoked": True}, token=tok)
        check(r.status == 200, r)
        check(srv.request("GET", "/api/v1/people", token=k["key"]).status == 401, "a revoked key opens nothing")
    finally:
        srv.stop()


def test_access_matrix_positions_every_query_form_and_the_stream():
    """Issue 11, done-when 4: every position query form, every history
    format and the stream, for every role of the own organisation and of a
    partner at each relation (and a positions grant whose condition is not
    met): what each sees comes from the one policy."""
    import time as _time
    import urllib.parse
    from test_stream import Stream, wait
    srv = Server(extra_args=("--set", "sharing.summary_delay_s=600")).start()
    streams = []
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        rels = {rel: Org.new(srv, root) for rel in RELATIONS[1:]}
        grants = dict(GRANTS, condition=[{"category": "positions", "level": "full", "condition": "during_open_sos"}])
        for rel, org in rels.items():
            if grants[rel] is not None:
                ag = agree(srv, a, org, grants[rel])
                if rel == "revoked":
                    check(srv.request("POST", f"/api/v1/agreements/{ag['id']}/revoke", token=a.admin).status == 200, rel)
        dev = srv.create(a.admin, "devices", device_body(person_id=a.person["id"]))
        key = urllib.parse.quote(dev["key"])
        t = int(_time.time()) - 1200  # old enough for the summary partner
        check(srv.request("GET", f"/ingest/osmand?id={key}&lat=24.9&lon=67.1&timestamp={t}").status == 200, "report")
        forms = [("GET", "/api/v1/positions/latest?bbox=-180,-90,180,90", None),
                 ("GET", "/api/v1/positions/latest?near=24.9,67.1&radius_m=50000", None),
                 ("GET", "/api/v1/positions/latest?near=24.9,67.1&k=5", None),
                 ("POST", "/api/v1/positions/query", {"geometry": WORLD})]
        orgs = [("own", a)] + list(rels.items())
        cells = 0
        for rel, org in orgs:
            level = "own" if rel == "own" else SHOWN.get(rel, {}).get("positions")
            for role in ROLES:
                tok = org.tokens[role]
                for method, path, body in forms:
                    r = srv.request(method, path, body, token=tok)
                    cells += 1
                    if role not in STAFF:
                        check(r.status == 403, f"{rel} {role}: {method} {path}: {r}")
                        continue
                    check(r.status == 200, f"{rel} {role}: {method} {path}: {r}")
                    mine = [i for i in r.json["items"] if i["device_id"] == dev["id"]]
                    if level is None:
                        check(mine == [], f"{rel} {role} sees A's position through {path}: {mine}")
                    else:
                        check(len(mine) == 1 and mine[0]["access"] == level, f"{rel} {role}: {path}: {mine}")
                        exact = (mine[0]["lat"], mine[0]["lon"]) == (24.9, 67.1)
                        check(exact == (level != "summary"), f"{rel} {role}: summary is coarse, full exact: {mine}")
                for fmt in ("", "?format=geojson", "?format=csv", "?format=gpx", "?format=kml"):
                    r = srv.request("GET", f"/api/v1/devices/{dev['id']}/history{fmt}", token=tok)
                    cells += 1
                    want = (200 if role in STAFF else 403) if rel == "own" else 404  # never shared: as if absent
                    check(r.status == want, f"{rel} {role}: history {fmt}: {r}")
        # The stream: a fresh report reaches the own organisation's staff and a
        # partner in full; nobody else (summary is delayed, never live).
        for rel, org in orgs:
            for role in ROLES:
                s = Stream(srv, org.tokens[role])
                streams.append(s)
                check(s.status == (200 if role in STAFF else 403), f"{rel} {role}: stream {s.status}")
        _time.sleep(0.3)
        check(srv.request("GET", f"/ingest/osmand?id={key}&lat=24.95&lon=67.1&timestamp={t + 600}").status == 200, "report")
        i = 0
        for rel, org in orgs:
            for role in ROLES:
                s = streams[i]
                i += 1
                if s.status != 200:
                    continue
                sees = rel in ("own", "full")
                if sees:
                    check(wait(lambda: any(e["data"].get("device_id") == dev["id"] for e in s.events)),
                          f"{rel} {role}: the stream should carry A's position")
                else:
                    _time.sleep(0.05)
                    check(not any(e["data"].get("device_id") == dev["id"] for e in s.events),
                          f"{rel} {role}: the stream leaks A's position: {s.events}")
                cells += 1
        check(cells > 400, f"only {cells} cells")

        # "during_open_sos", condition met: from the moment an alarm opens for
        # A's person to its resolution, the partner granted positions on that
        # condition sees them (every form, the stream), and each read is
        # audited in A's trail; then nothing again.
        cond = rels["condition"]
        alarm = srv.create(a.tokens["duty_officer"], "alarms", {"person_id": a.person["id"], "note": "SOS by phone"})
        reads0 = srv.sql("SELECT count(*) FROM audit WHERE action = 'read' AND object_type = 'position'"
                         " AND org_id = ?", (a.id,))[0][0]
        met = Stream(srv, cond.tokens["duty_officer"])
        streams.append(met)
        for role in ROLES:
            for method, path, body in forms:
                ok = wait(lambda: any(i["device_id"] == dev["id"] for i in
                                      srv.request(method, path, body, token=cond.tokens[role]).json.get("items", [])), 3) \
                    if role in STAFF else False
                r = srv.request(method, path, body, token=cond.tokens[role])
                cells += 1
                if role not in STAFF:
                    check(r.status == 403, f"condition met, {role}: {path}: {r}")
                    continue
                mine = [i for i in r.json["items"] if i["device_id"] == dev["id"]]
                check(ok and len(mine) == 1 and mine[0]["access"] == "full" and mine[0]["lat"] == 24.95,
                      f"condition met, {role}: {method} {path}: {mine}")
        reads1 = srv.sql("SELECT count(*) FROM audit WHERE action = 'read' AND object_type = 'position'"
                         " AND org_id = ?", (a.id,))[0][0]
        check(reads1 >= reads0 + len(forms) * len(STAFF), f"the partner's reads are audited: {reads0} -> {reads1}")
        _time.sleep(0.3)
        check(srv.request("GET", f"/ingest/osmand?id={key}&lat=24.96&lon=67.1&timestamp={t + 700}").status == 200, "report")
        check(wait(lambda: any(e["data"].get("device_id") == dev["id"] and e["event"] == "position" for e in met.events)),
              f"condition met: the stream carries the person's positions: {met.events}")
        r = srv.request("POST", f"/api/v1/alarms/{alarm['id']}/resolve", {"outcome": "false_alarm", "note": "pocket"},
                        token=a.tokens["duty_officer"])
        check(r.status == 200, r)
        for role in sorted(STAFF):
            for method, path, body in forms:
                gone = wait(lambda: not any(i["device_id"] == dev["id"] for i in
                                            srv.request(method, path, body, token=cond.tokens[role]).json["items"]), 3)
                cells += 1
                check(gone, f"condition no longer met, {role}: {method} {path} still shows the person")
        n = len(met.events)
        check(srv.request("GET", f"/ingest/osmand?id={key}&lat=24.97&lon=67.1&timestamp={t + 800}").status == 200, "report")
        _time.sleep(0.5)
        check(not any(e["data"].get("device_id") == dev["id"] and e["event"] == "position" for e in met.events[n:]),
              f"condition no longer met: the stream stops: {met.events[n:]}")
    finally:
        for s in streams:
            s.close()
        srv.stop()
