"""Audit trail (issue 2, done-when 7): `safeguard audit verify` passes on an
intact database and fails, naming the entry, after a row of the audit trail
or of a registry table is edited or deleted behind the server's back."""
import shutil
import tempfile

from harness import Server, check, person_body, run, site_body, vehicle_body


def verify(d):
    return run("audit", "verify", "--data-dir", d, check_rc=False)


def tampered(srv, sql):
    """A copy of the data directory with sql applied to it."""
    d = tempfile.mkdtemp(prefix="sg-tamper-")
    shutil.rmtree(d)
    shutil.copytree(srv.dir, d)
    import sqlite3
    con = sqlite3.connect(f"{d}/safeguard.db")
    con.executescript(sql)
    con.commit()
    con.close()
    return d


def test_audit_verify_names_edits_and_deletions():
    srv = Server().start()
    try:
        tok = srv.admin()
        person = srv.create(tok, "people", person_body())
        site = srv.create(tok, "sites", site_body())
        srv.create(tok, "vehicles", vehicle_body())
        srv.request("PATCH", f"/api/v1/people/{person['id']}", {"job": "Welder"}, token=tok)
        # Entries carry time, actor, organisation, action, object, changes, request id.
        rows = srv.sql("SELECT seq, actor, org_id, action, object_type, object_id, changes, request_id"
                       " FROM audit WHERE object_id = ? ORDER BY seq", (person["id"],))
        check([r[3] for r in rows] == ["create", "update"], rows)
        check(all(r[1].startswith("usr_") and r[2] and r[7] for r in rows), rows)
        check('"job":{"from":"Surveyor","to":"Welder"}' in rows[1][6], rows[1][6])
        check("login" in {r[0] for r in srv.sql("SELECT action FROM audit")}, "logins are audited")
        # Through the API, for admins.
        a = srv.request("GET", "/api/v1/audit?limit=2", token=tok)
        check(a.status == 200 and len(a.json["items"]) == 2 and a.json["next"], a)
    finally:
        srv.stop()
    p = verify(srv.dir)
    check(p.returncode == 0 and "intact" in p.stdout, p.stdout + p.stderr)

    seq_person = srv.sql("SELECT max(seq) FROM audit WHERE object_id = ?", (person["id"],))[0][0]
    cases = [
        ('UPDATE audit SET changes = \'{"forged":true}\' WHERE seq = 3', "audit entry #3 has been edited"),
        ("DELETE FROM audit WHERE seq = 2", "audit entry #2 is missing"),
        (f"UPDATE people SET name = 'Somebody Else' WHERE id = '{person['id']}'",
         f"person {person['id']} was changed behind the audit trail (differs from audit entry #{seq_person})"),
        (f"DELETE FROM sites WHERE id = '{site['id']}'", f"site/{site['id']} was deleted behind the audit trail"),
        ("INSERT INTO vehicles (id, org_id, registration, armoured, created_at, updated_at) "
         "SELECT 'veh_X', org_id, 'GHOST-1', 0, 'x', 'x' FROM vehicles LIMIT 1",
         "vehicle veh_X has no audit entry"),
        ("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)", "the trail ends at"),
        ("UPDATE users SET password_hash = 'x' WHERE username = 'admin'", "was changed behind the audit trail"),
    ]
    for sql, expect in cases:
        d = tampered(srv, sql)
        p = verify(d)
        check(p.returncode == 1, f"verify passed after: {sql}\n{p.stdout}")
        first = [line for line in p.stdout.splitlines() if line.startswith("FIRST BAD")]
        check(first, p.stdout)
        if expect:
            check(expect in p.stdout, f"after {sql!r} expected {expect!r} in:\n{p.stdout}")
        shutil.rmtree(d)


def test_audit_list_filters_and_binds_its_cursor_to_them():
    """Issue 12 (the console's audit screen): the trail filtered by action,
    actor, object type and id, and a time range, on the server; a cursor
    from one filter does not page another; bad filters are 400."""
    import time as _t
    srv = Server().start()
    try:
        tok = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=tok).json
        t0 = _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime(_t.time() - 1))
        people = [srv.create(tok, "people", person_body()) for _ in range(5)]
        site = srv.create(tok, "sites", site_body())
        srv.request("PATCH", f"/api/v1/people/{people[0]['id']}", {"job": "Welder"}, token=tok)

        def page(q):
            r = srv.request("GET", f"/api/v1/audit?{q}", token=tok)
            check(r.status == 200, f"{q}: {r}")
            return r.json

        items = page("object_type=person&action=create")["items"]
        check(sorted(i["object_id"] for i in items) == sorted(p["id"] for p in people), items)
        items = page(f"object_id={people[0]['id']}")["items"]
        check([i["action"] for i in items] == ["update", "create"], items)
        items = page(f"object_type=site&actor={me['id']}")["items"]
        check([i["object_id"] for i in items] == [site["id"]], items)
        check(page("action=no-such-action")["items"] == [], "no match is an empty page")
        future = _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime(_t.time() + 3600))
        check(page(f"from={future}")["items"] == [], "nothing from the future")
        recent = page(f"from={t0}&object_type=person")["items"]
        check(len(recent) == 6, f"the range holds the session's person entries: {len(recent)}")
        check(page(f"to={t0}&object_type=person")["items"] == [], "and nothing before it")
        # paging within a filter, and a cursor that does not cross filters
        first = page("object_type=person&limit=2")
        check(len(first["items"]) == 2 and first["next"], first)
        second = page(f"object_type=person&limit=2&cursor={first['next']}")
        check(second["items"][0]["seq"] < first["items"][-1]["seq"], "older entries next")
        r = srv.request("GET", f"/api/v1/audit?object_type=site&limit=2&cursor={first['next']}", token=tok)
        check(r.status == 400 and r.json["field"] == "?cursor", f"a cursor is bound to its filters: {r}")
        for bad, field in (("from=yesterday", "?from"), ("to=2026-13-01T00:00:00Z", "?to"), ("action=", "?action"),
                           ("actor=" + "x" * 101, "?actor"), ("verb=create", "?verb")):
            r = srv.request("GET", f"/api/v1/audit?{bad}", token=tok)
            check(r.status == 400 and r.json["field"] == field, f"{bad}: {r}")
    finally:
        srv.stop()
