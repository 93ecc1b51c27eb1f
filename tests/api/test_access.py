"""Organisation isolation and roles, route by route, generated from the
router table itself (issue 2, done-when 3). POLICY below is the expected
access of each role to its own organisation's objects; a route that the
server has and POLICY lacks fails the suite, so a new route cannot ship
without an access test. Across organisations every object route answers 404
and lists never show the other organisation's records."""
import json

from harness import (Server, check, device_body, person_body, run, site_body, unique, user_body,
                     vehicle_body)

ROLES = ["admin", "security_manager", "duty_officer", "liaison", "viewer", "person"]
STAFF = {"admin", "security_manager", "duty_officer", "liaison", "viewer"}
MANAGERS = {"admin", "security_manager"}
ALL = STAFF | {"person"}

# "METHOD path" -> roles allowed on their own organisation's objects.
# "public" routes need no login; "session" routes are tested in test_auth.
POLICY = {
    "GET /healthz": "public",
    "GET /readyz": "public",
    "GET /metrics": "public",
    "GET /api/v1/openapi.json": "public",
    "POST /api/v1/session": "public",
    "GET /api/v1/session": "session",
    "DELETE /api/v1/session": "session",
    "POST /api/v1/session/password": "session",
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
}

BODIES = {
    "people": person_body, "sites": site_body, "vehicles": vehicle_body, "devices": device_body,
    "users": lambda: user_body("viewer"), "api_keys": lambda: {"name": unique("key "), "role": "viewer"},
    "organisations": lambda: {"name": unique("Org "), "kind": "other",
                              "admin": user_body("admin") | {"role": None}},
}
PATCHES = {
    "people": {"job": "Welder"}, "sites": {"notes": "patched"}, "vehicles": {"colour": "red"},
    "devices": {"notes": "patched"}, "users": {"display_name": "Patched"},
    "api_keys": {"name": "patched"}, "organisations": {"name": None},
}


def org_body():
    b = BODIES["organisations"]()
    del b["admin"]["role"]
    return b


class Org:
    """An organisation with one user per role."""

    def __init__(self, srv, admin_token, org_id):
        self.srv, self.id, self.admin = srv, org_id, admin_token
        self.person = srv.create(admin_token, "people", person_body())
        self.tokens = {"admin": admin_token}
        for role in ROLES[1:]:
            extra = {"person_id": self.person["id"]} if role == "person" else {}
            u = user_body(role, **extra)
            srv.create(admin_token, "users", u)
            self.tokens[role] = srv.login(u["username"], u["password"])

    def fresh(self, collection):
        """A new object of collection in this organisation (the id routes' target)."""
        if collection == "organisations":
            return {"id": self.id}
        return self.srv.create(self.admin, collection, BODIES[collection]())


def body_for(collection, method):
    if method == "POST":
        return org_body() if collection == "organisations" else BODIES[collection]()
    if collection == "organisations":
        return {"name": unique("Renamed org ")}
    return PATCHES[collection]


def test_every_route_has_a_policy_row():
    routes = json.loads(run("routes").stdout)
    keys = {f"{r['method']} {r['path']}" for r in routes}
    missing = keys - POLICY.keys()
    check(not missing, f"routes without a row in the access policy table: {sorted(missing)}")
    stale = POLICY.keys() - keys
    check(not stale, f"policy rows for routes that do not exist: {sorted(stale)}")
    for r in routes:
        check(r["public"] == (POLICY[f"{r['method']} {r['path']}"] == "public"),
              f"{r['method']} {r['path']}: public flag differs from the table")


def test_access_matrix_own_and_other_organisation():
    routes = json.loads(run("routes").stdout)
    srv = Server().start()
    try:
        a_admin = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=a_admin).json
        a = Org(srv, a_admin, me["org_id"])
        ob = org_body()
        b_org = srv.create(a_admin, "organisations", ob)
        b = Org(srv, srv.login(ob["admin"]["username"], ob["admin"]["password"]), b_org["id"])
        cells = 0
        for r in routes:
            key = f"{r['method']} {r['path']}"
            allowed = POLICY[key]
            if allowed in ("public", "session"):
                continue
            parts = r["path"].split("/")
            collection = parts[3]
            has_id = "{id}" in r["path"]
            for role in ROLES:
                # Own organisation.
                target = a.fresh(collection) if has_id else None
                path = r["path"].replace("{id}", target["id"]) if has_id else r["path"]
                body = body_for(collection, r["method"]) if r["method"] in ("POST", "PATCH") else None
                if r["path"].endswith("/key"):
                    body = None
                resp = srv.request(r["method"], path, body, token=a.tokens[role],
                                   raw=b"" if r["method"] == "POST" and body is None else None)
                if role in allowed:
                    check(resp.status in (200, 201, 204), f"{role} of own org: {key} should be allowed: {resp}")
                elif role == "person" and key == "GET /api/v1/people/{id}":
                    check(resp.status == 404, f"person reading someone else: {key}: {resp}")
                else:
                    check(resp.status == 403, f"{role} of own org: {key} should be forbidden: {resp}")
                cells += 1
                if key == "GET /api/v1/people" and role == "person":
                    check([i["id"] for i in resp.json["items"]] == [a.person["id"]],
                          f"a person lists only themselves: {resp.json}")

                # Other organisation: B's users against A's objects.
                if has_id:
                    target = a.fresh(collection)
                    path = r["path"].replace("{id}", target["id"])
                    before = srv.request("GET", f"/api/v1/{collection}/{target['id']}", token=a_admin)
                    resp = srv.request(r["method"], path, body, token=b.tokens[role],
                                       raw=b"" if r["method"] == "POST" and body is None else None)
                    check(resp.status == 404, f"{role} of another org: {key} must answer 404: {resp}")
                    after = srv.request("GET", f"/api/v1/{collection}/{target['id']}", token=a_admin)
                    check(before.json == after.json, f"{key} by another org changed the object")
                elif r["method"] == "GET":
                    resp = srv.request("GET", r["path"] + "?limit=500", token=b.tokens[role])
                    if resp.status == 200:
                        ids = {i.get("id") or i.get("object_id") for i in resp.json["items"]}
                        check(a.id not in ids and a.person["id"] not in ids and not
                              any(i.get("org_id") == a.id for i in resp.json["items"]),
                              f"{role} of another org sees org A's records in {key}")
                    else:
                        check(resp.status == 403, f"{key} for {role}: {resp}")
                cells += 1
        check(cells > 300, f"only {cells} cells were checked")
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
