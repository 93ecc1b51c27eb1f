"""Bad input answers 400/413/415 application/problem+json naming the field,
and writes nothing: the store and the audit trail are checked after each
(issue 2, done-when 4)."""
import http.client
import socket
import time

from harness import Server, check, person_body, site_body

GOOD_SITE = site_body()


def counts(srv):
    return {t: srv.sql(f"SELECT count(*) FROM {t}")[0][0] for t in ("people", "sites", "audit")}


CASES = [
    # (name, path, raw body, content type, status, field)
    ("malformed JSON", "/api/v1/people", b'{"name": "A",', "application/json", 400, None),
    ("not an object", "/api/v1/people", b'[1, 2]', "application/json", 400, ""),
    ("duplicate keys", "/api/v1/people", b'{"name":"A","name":"B","kind":"staff","status":"in_country"}',
     "application/json", 400, "/name"),
    ("unknown field", "/api/v1/people", b'{"name":"A","kind":"staff","status":"in_country","salary":1}',
     "application/json", 400, "/salary"),
    ("wrong type", "/api/v1/people", b'{"name":["A"],"kind":"staff","status":"in_country"}',
     "application/json", 400, "/name"),
    ("missing required", "/api/v1/people", b'{"kind":"staff","status":"in_country"}', "application/json", 400, "/name"),
    ("bad enum", "/api/v1/people", b'{"name":"A","kind":"staff","status":"abroad"}', "application/json", 400, "/status"),
    ("server-set field", "/api/v1/people", b'{"name":"A","kind":"staff","status":"in_country","org_id":"org_x"}',
     "application/json", 400, "/org_id"),
    ("latitude out of range", "/api/v1/sites",
     b'{"name":"S","kind":"camp","geometry":{"type":"Point","coordinates":[67.1,95.0]},"radius_m":10}',
     "application/json", 400, "/geometry/coordinates/1"),
    ("longitude out of range", "/api/v1/sites",
     b'{"name":"S","kind":"camp","geometry":{"type":"Point","coordinates":[-181,24]},"radius_m":10}',
     "application/json", 400, "/geometry/coordinates/0"),
    ("open ring", "/api/v1/sites",
     b'{"name":"S","kind":"camp","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}}',
     "application/json", 400, "/geometry/coordinates/0"),
    ("self-intersecting polygon", "/api/v1/sites",
     b'{"name":"S","kind":"camp","geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}}',
     "application/json", 400, "/geometry/coordinates"),
    ("geometry not GeoJSON", "/api/v1/sites",
     b'{"name":"S","kind":"camp","geometry":{"lat":1,"lon":2},"radius_m":10}', "application/json", 400,
     "/geometry/lat"),
    ("invalid UTF-8", "/api/v1/people", b'{"name":"A\xff\xfe","kind":"staff","status":"in_country"}',
     "application/json", 400, ""),
    ("overlong UTF-8", "/api/v1/people", b'{"name":"\xc0\xaf","kind":"staff","status":"in_country"}',
     "application/json", 400, ""),
    ("NUL escaped in a string", "/api/v1/people", b'{"name":"A\\u0000B","kind":"staff","status":"in_country"}',
     "application/json", 400, None),
    ("wrong content type", "/api/v1/people", b'name=A', "application/x-www-form-urlencoded", 415, None),
    ("no content type", "/api/v1/people", b'{"name":"A","kind":"staff","status":"in_country"}', None, 415, None),
    ("reference to nothing", "/api/v1/people",
     b'{"name":"A","kind":"staff","status":"in_country","home_site_id":"sit_01M8KWF48VMR504K8G6CKAVBQH"}',
     "application/json", 422, "/home_site_id"),
]


def test_bad_input_is_refused_naming_the_field_and_writes_nothing():
    srv = Server().start()
    try:
        tok = srv.admin()
        srv.create(tok, "sites", GOOD_SITE)
        person = srv.create(tok, "people", person_body())
        for name, path, raw, ctype, status, field in CASES:
            before = counts(srv)
            r = srv.request("POST", path, raw=raw, token=tok, content_type=ctype)
            check(r.status == status, f"{name}: expected {status}, got {r}")
            check(r.headers["content-type"] == "application/problem+json", f"{name}: {r.headers}")
            check(r.json["status"] == status and r.json["title"] and r.json["detail"], f"{name}: {r.json}")
            if field is not None:
                check(r.json.get("field") == field, f"{name}: field should be {field!r}: {r.json}")
            check(counts(srv) == before, f"{name}: something was written")
        # The same for an update: nothing changes.
        before = srv.request("GET", f"/api/v1/people/{person['id']}", token=tok).json
        audit = counts(srv)["audit"]
        for raw, field in ((b'{"email":"nope"}', "/email"), (b'{"name":null}', "/name"),
                           (b'{"id":"per_01M8KWF48VMR504K8G6CKAVBQH"}', "/id")):
            r = srv.request("PATCH", f"/api/v1/people/{person['id']}", raw=raw, token=tok)
            check(r.status == 400 and r.json["field"] == field, f"PATCH {raw}: {r}")
        check(srv.request("GET", f"/api/v1/people/{person['id']}", token=tok).json == before, "PATCH changed the record")
        check(counts(srv)["audit"] == audit, "a refused PATCH was audited")
        # Query parameters are strict too.
        for q, field in (("limit=0", "?limit"), ("limit=abc", "?limit"), ("colour=red", "?colour"),
                         ("status=abroad", "?status"), ("cursor=../../etc", "?cursor"),
                         ("limit=5&limit=6", "?limit")):
            r = srv.request("GET", f"/api/v1/people?{q}", token=tok)
            check(r.status == 400 and r.json["field"] == field, f"?{q}: {r}")
    finally:
        srv.stop()


def test_oversized_bodies_answer_413_and_write_nothing():
    srv = Server(extra_args=("--set", "server.max_body_bytes=4096")).start()
    try:
        tok = srv.admin()
        before = counts(srv)
        big = b'{"name":"' + b"A" * 10000 + b'","kind":"staff","status":"in_country"}'
        r = srv.request("POST", "/api/v1/people", raw=big, token=tok)
        check(r.status == 413 and r.headers["content-type"] == "application/problem+json", r)
        # Chunked, without Content-Length: refused while reading.
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        c.putrequest("POST", "/api/v1/people")
        c.putheader("Authorization", "Bearer " + tok)
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        for _ in range(5):
            chunk = b"A" * 2000
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        resp = c.getresponse()
        check(resp.status == 413, f"chunked oversize: {resp.status}")
        c.close()
        # A name longer than its limit is a 400 naming it.
        r = srv.request("POST", "/api/v1/people", person_body(name="N" * 161), token=tok)
        check(r.status == 400 and r.json["field"] == "/name", r)
        check(counts(srv) == before, "an oversized request wrote something")
    finally:
        srv.stop()


def test_header_size_and_connections_per_address_are_limited():
    srv = Server(extra_args=("--set", "server.per_ip_connections=4")).start()
    try:
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
        check(s.recv(100).startswith(b"HTTP/1.1 431"), "oversized headers answer 431")
        s.close()
        # Four connections, each accepted and alive (keep-alive) before the
        # fifth. The server frees a closed connection's slot when its thread
        # sees the close, a moment later: until then a try may fall short.
        deadline = time.time() + 10
        while True:
            held = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(4)]
            served = 0
            for h in held:
                h.settimeout(5)
                h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    served += h.recv(100).startswith(b"HTTP/1.1 200")
                except OSError:
                    pass
            if served == 4 or time.time() > deadline:
                break
            for h in held:
                h.close()
            time.sleep(0.2)
        check(served == 4, f"held connections served: {served} of 4")
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", srv.port))
        extra.settimeout(5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = extra.recv(100)
        except OSError:
            got = b""
        check(got == b"", f"a fifth connection from the same address is refused: {got!r}")
        for h in held:
            h.close()
        time.sleep(0.2)
        check(srv.request("GET", "/healthz").status == 200, "served again once the others closed")
    finally:
        srv.stop()
