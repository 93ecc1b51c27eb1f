"""Joint operation (issue 3): agreements, pseudonyms, revocation, audit of
cross-organisation reads, the merged liaison view."""
import json

from harness import Server, check, person_body, run, site_body, unique, user_body

from test_access import Org, org_body


def setup():
    srv = Server().start()
    root = srv.admin()
    me = srv.request("GET", "/api/v1/session", token=root).json
    a = Org(srv, root, me["org_id"])
    return srv, a


def test_pseudonyms_are_stable_per_partner_and_summaries_hide_everything_private():
    srv, a = setup()
    try:
        b, c = Org.new(srv, a.admin), Org.new(srv, a.admin)
        people = [srv.create(a.admin, "people", person_body(name=f"Hidden Name {i}", notes="lives in block C",
                                                            phone=f"+92 333 {5550000 + i}",
                                                            emergency_contact="Wife: +86 138 0000 0000"))
                  for i in range(12)]
        grants = [{"category": "people", "level": "summary"}, {"category": "sites", "level": "summary"}]
        codes = {}
        for partner in (b, c):
            ag = srv.create(a.admin, "agreements", {"partner_id": partner.id, "grants": grants})
            srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=partner.admin)
            late = srv.create(a.admin, "people", person_body(name=f"Hidden Late {len(people)}", phone=f"+92 333 {5560000 + len(people)}"))  # after the agreement
            people.append(late)
        secrets = {a.person["id"]}
        for p in people:
            secrets |= {p["name"], p["phone"], p["email"], p["id"]}
            if p.get("notes"):
                secrets |= {p["notes"], p["emergency_contact"]}
        for partner in (b, c):
            bodies = []
            for _ in range(2):  # twice: the codes are stable
                r = srv.request("GET", "/api/v1/people?limit=500", token=partner.tokens["liaison"])
                bodies.append(r.raw.decode())
                seen = {i["pseudonym"] for i in r.json["items"] if i["org_id"] == a.id}
                check(len(seen) == len(people) + 1, f"every person of A appears once: {len(seen)} of {len(people) + 1}")
                codes.setdefault(partner.id, seen)
                check(codes[partner.id] == seen, "pseudonyms are stable between requests")
                for i in r.json["items"]:
                    if i["org_id"] == a.id:
                        check(i["access"] == "summary" and i["job"] == "Surveyor", i)
                        one = srv.request("GET", f"/api/v1/people/{i['id']}", token=partner.tokens["duty_officer"])
                        check(one.status == 200 and one.json["pseudonym"] == i["id"], one)
                        bodies.append(one.raw.decode())
            fc = srv.request("GET", "/api/v1/people?format=geojson&limit=500", token=partner.tokens["viewer"])
            bodies.append(fc.raw.decode())
            for body in bodies:
                for s in secrets:
                    check(s not in body, f"a summary response contains {s!r}")
        check(not codes[b.id] & codes[c.id], "the same person has different codes for two partners")
        # Codes are random, not derived from anything the partner knows.
        check(all(len(x) == 7 and x[2] == "-" for x in codes[b.id]), codes[b.id])
    finally:
        srv.stop()


def test_revoke_suspend_resume_take_effect_on_the_next_request():
    srv, a = setup()
    try:
        b = Org.new(srv, a.admin)
        site = srv.create(a.admin, "sites", site_body())
        ag = srv.create(a.admin, "agreements", {"partner_id": b.id, "grants": [{"category": "sites", "level": "full"}]})
        check(ag["accepted_by_both"] is False and ag["grants"][0]["in_force"] is False, ag)
        path = f"/api/v1/sites/{site['id']}"
        check(srv.request("GET", path, token=b.tokens["viewer"]).status == 404,
              "accepted by one side only: nothing is shared")
        r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=b.tokens["liaison"])
        check(r.status == 403, f"only admins accept: {r}")
        r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=b.admin)
        check(r.status == 200 and r.json["accepted_by_both"] and r.json["grants"][0]["in_force"], r)
        check(srv.request("GET", path, token=b.tokens["viewer"]).status == 200, "in force once both accepted")
        r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/suspend", token=a.admin)
        check(r.status == 200 and r.json["sides"][0]["state"] == "suspended", r)
        check(srv.request("GET", path, token=b.tokens["viewer"]).status == 404, "suspended: hidden at once")
        r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/suspend", token=b.admin)
        check(r.status == 200 and r.json["sides"][1]["state"] == "suspended", "B suspends only its own side")
        r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/resume", token=a.admin)
        check(srv.request("GET", path, token=b.tokens["viewer"]).status == 200,
              "A resumed its grants; B's suspension of its own grants does not hide A's")
        srv.request("POST", f"/api/v1/agreements/{ag['id']}/resume", token=b.admin)
        # Grants can be changed by their grantor at any time, with effect at once.
        r = srv.request("PATCH", f"/api/v1/agreements/{ag['id']}", {"grants": [{"category": "sites", "level": "summary"}]},
                        token=a.admin)
        check(r.status == 200, r)
        check(srv.request("GET", path, token=b.tokens["viewer"]).json["access"] == "summary", "downgraded at once")
        r = srv.request("PATCH", f"/api/v1/agreements/{ag['id']}", {"grants": [{"category": "people", "level": "full"}]},
                        token=b.admin)
        check(r.status == 200 and len(r.json["grants"]) == 2, "B's grants sit beside A's in the same agreement")
        r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/revoke", token=a.admin)
        check(r.status == 200 and r.json["sides"][0]["state"] == "revoked", r)
        check(srv.request("GET", path, token=b.tokens["viewer"]).status == 404, "revoked: hidden on the next request")
        r = srv.request("POST", f"/api/v1/agreements/{ag['id']}/resume", token=a.admin)
        check(r.status == 409, f"revocation is final: {r}")
        check(a.person["id"] in {i["id"] for i in srv.request("GET", "/api/v1/people?limit=500", token=a.tokens["viewer"]).json["items"]}, "A's own view is untouched")
        bp = srv.request("GET", f"/api/v1/people/{b.person['id']}", token=a.tokens["viewer"])
        check(bp.status == 200 and bp.json["access"] == "full", f"B's grant to A still stands: {bp}")
        # Both sides see the agreement and its history: who did what, when.
        for org in (a, b):
            h = srv.request("GET", f"/api/v1/agreements/{ag['id']}", token=org.tokens["viewer"]).json["history"]
            actions = [(x["action"], x["org_id"]) for x in h]
            check(actions == [("propose", a.id), ("accept", b.id), ("suspend", a.id), ("suspend", b.id),
                              ("resume", a.id), ("resume", b.id), ("change_grants", a.id), ("change_grants", b.id), ("revoke", a.id)],
                  actions)
            check(all(x["at"] and x["actor"].startswith("usr_") for x in h), h)
    finally:
        srv.stop()


def test_expiry_counts_from_the_next_request():
    srv, a = setup()
    try:
        b = Org.new(srv, a.admin)
        site = srv.create(a.admin, "sites", site_body())
        import datetime
        soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ag = srv.create(a.admin, "agreements", {"partner_id": b.id, "grants": [
            {"category": "sites", "level": "full", "from": None, "to": soon}]})
        srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=b.admin)
        path = f"/api/v1/sites/{site['id']}"
        check(srv.request("GET", path, token=b.tokens["viewer"]).status == 200, "valid now")
        srv.advance_clock(21 * 60 * 1000)
        r = srv.request("GET", path, token=b.tokens["viewer"])
        check(r.status == 404, f"expired 20 minutes later: {r}")
    finally:
        srv.stop()


def test_bad_agreements_are_refused_and_write_nothing():
    srv, a = setup()
    try:
        b = Org.new(srv, a.admin)
        count = lambda: srv.sql("SELECT (SELECT count(*) FROM agreements) + (SELECT count(*) FROM grants)")[0][0]
        before = count()
        cases = [
            ({"partner_id": a.id, "grants": []}, 422, "/partner_id"),
            ({"partner_id": "org_01M8KWF48VMR504K8G6CKAVBQH", "grants": []}, 422, "/partner_id"),
            ({"grants": []}, 400, "/partner_id"),
            ({"partner_id": b.id, "grants": [{"category": "weather", "level": "full"}]}, 400, "/grants/0/category"),
            ({"partner_id": b.id, "grants": [{"category": "sites", "level": "most"}]}, 400, "/grants/0/level"),
            ({"partner_id": b.id, "grants": [{"category": "sites", "level": "full"}, {"category": "sites", "level": "none"}]},
             400, "/grants/1/category"),
            ({"partner_id": b.id, "grants": [{"category": "sites", "level": "full", "condition": "during_open_sos"}]},
             400, "/grants/0/condition"),
            ({"partner_id": b.id, "grants": [{"category": "people", "level": "full", "from": "yesterday"}]},
             400, "/grants/0/from"),
            ({"partner_id": b.id, "grants": [{"category": "people", "level": "full", "from": "2027-01-01T00:00:00Z",
                                              "to": "2026-01-01T00:00:00Z"}]}, 400, "/grants/0/to"),
            ({"partner_id": b.id, "grants": [{"category": "people", "level": "full", "why": "x"}]}, 400, "/grants/0/why"),
            ({"partner_id": b.id, "grants": {}}, 400, "/grants"),
            ({"partner_id": b.id, "grants": [], "note": "x"}, 400, "/note"),
        ]
        for body, status, field in cases:
            r = srv.request("POST", "/api/v1/agreements", body, token=a.admin)
            check(r.status == status and r.json.get("field") == field, f"{body}: {r}")
        check(count() == before, "a refused agreement wrote something")
        check(srv.request("POST", "/api/v1/agreements", {"partner_id": b.id, "grants": []},
                          token=a.tokens["security_manager"]).status == 403, "only admins propose")
        ok = srv.request("POST", "/api/v1/agreements", {"partner_id": b.id, "grants": []}, token=a.admin)
        check(ok.status == 201, ok)
        again = srv.request("POST", "/api/v1/agreements", {"partner_id": a.id, "grants": []}, token=b.admin)
        check(again.status == 409 and ok.json["id"] in again.json["detail"], f"one open agreement per pair: {again}")
    finally:
        srv.stop()


def test_cross_organisation_reads_of_people_are_audited_with_their_grant():
    srv, a = setup()
    try:
        b = Org.new(srv, a.admin)
        ag = srv.create(a.admin, "agreements", {"partner_id": b.id, "grants": [{"category": "people", "level": "full"}]})
        srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=b.admin)
        grant_id = srv.request("GET", f"/api/v1/agreements/{ag['id']}", token=a.admin).json["grants"][0]["id"]
        p = srv.create(a.admin, "people", person_body())
        reader = srv.request("GET", "/api/v1/session", token=b.tokens["liaison"]).json["id"]
        check(srv.request("GET", f"/api/v1/people/{p['id']}", token=b.tokens["liaison"]).status == 200, "read")
        lst = srv.request("GET", "/api/v1/people?limit=500", token=b.tokens["duty_officer"])
        check(lst.status == 200, lst)
        rows = srv.sql("SELECT actor, org_id, changes FROM audit WHERE action = 'read' AND object_type = 'person'")
        check(len(rows) == 2, rows)
        single = json.loads(rows[0][2])
        check(rows[0][0] == reader and rows[0][1] == a.id, rows[0])
        check(single["grant_id"] == grant_id and single["ids"] == [p["id"]] and single["reader_org"] == b.id, single)
        listed = json.loads(rows[1][2])
        check(set(listed["ids"]) == {p["id"], a.person["id"]}, listed)
        # A's admin sees who read its people; own reads are not cross-organisation reads.
        srv.request("GET", "/api/v1/people?limit=500", token=a.admin)
        check(len(srv.sql("SELECT 1 FROM audit WHERE action = 'read'")) == 2, "own reads are not audited as shared")
        audit = srv.request("GET", "/api/v1/audit?limit=1000", token=a.admin).json["items"]
        check(sum(1 for x in audit if x["action"] == "read") == 2, "visible in A's audit list")
    finally:
        srv.stop()
    check(run("audit", "verify", "--data-dir", srv.dir).returncode == 0, "the trail still verifies")


def test_liaison_sees_one_merged_labelled_picture():
    srv, a = setup()
    try:
        b = Org.new(srv, a.admin)
        for _ in range(3):
            srv.create(a.admin, "sites", site_body())
            srv.create(b.admin, "sites", site_body())
        ag = srv.create(a.admin, "agreements", {"partner_id": b.id, "grants": [{"category": "sites", "level": "full"}]})
        srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=b.admin)
        items, cursor = [], None
        while True:
            r = srv.request("GET", "/api/v1/sites?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                            token=b.tokens["liaison"])
            items += r.json["items"]
            cursor = r.json["next"]
            if not cursor:
                break
        check(len(items) == 6 and len({i["id"] for i in items}) == 6, f"pages over both organisations: {len(items)}")
        check([i["id"] for i in items] == sorted(i["id"] for i in items), "one order across organisations")
        levels = {(i["org_id"], i["access"]) for i in items}
        check(levels == {(a.id, "full"), (b.id, "own")}, levels)
        only_a = srv.request("GET", f"/api/v1/sites?org_id={a.id}", token=b.tokens["liaison"]).json["items"]
        check(len(only_a) == 3 and all(i["org_id"] == a.id for i in only_a), only_a)
        orgs = srv.request("GET", "/api/v1/organisations", token=b.tokens["liaison"]).json["items"]
        check({o["id"] for o in orgs} == {a.id, b.id}, "partners know each other's organisation record")
        r = srv.request("PATCH", f"/api/v1/sites/{only_a[0]['id']}", {"notes": "x"}, token=b.admin)
        check(r.status == 403, f"shared is never writable: {r}")
    finally:
        srv.stop()
