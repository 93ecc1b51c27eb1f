"""Delivery of alerts (issue 14): one row per recipient and channel written
with the alert; real deliveries to servers on loopback started here — a
webhook receiver that checks the signature and answers 500 twice (the
retries arrive, with the same ids), an SMTP server (aiosmtpd), an SMS
gateway that sees the template's request and the configured credentials,
and an OwnTracks phone whose next report's answer carries the message;
recipients without a contact listed as undeliverable; a server killed
with SIGKILL while deliveries are pending delivers them after restart."""
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import SECRETS, Server, check, device_body, free_port, person_body
from test_access import Org, agree
from test_positions import owntracks

XSD = os.path.join(os.path.dirname(__file__), "..", "data", "CAP-v1.2.xsd")
KEY = "whsec-test-0123456789abcdef"
SMS_PASSWORD = "sms-gateway-password-4711"
SECRETS.add(SMS_PASSWORD)
SECRETS.add(KEY)


class Receiver:
    """An HTTP server on loopback recording each request; `plan(req)`
    decides the status."""

    def __init__(self, plan=lambda req: 200):
        self.requests, self.plan, self.lock = [], plan, threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body,
                       "at": time.time()}
                status = rec.plan(req)
                req["status"] = status
                with rec.lock:
                    rec.requests.append(req)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = do_GET = handle_any

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def verify(req, key=KEY):
    """The receiver's side of X-Safeguard-Signature: t=..,v1=HMAC(key, t.body)."""
    parts = dict(p.split("=", 1) for p in req["headers"]["X-Safeguard-Signature"].split(","))
    want = hmac.new(key.encode(), parts["t"].encode() + b"." + req["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def wait_for(cond, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    check(False, f"timed out waiting for {what}")


def alert(**over):
    b = {"event": "Car bomb", "urgency": "Immediate", "severity": "Extreme", "certainty": "Observed",
         "headline": "Car bomb at the airport exit: stay inside", "instruction": "Stay where you are <now> & wait"}
    b.update(over)
    return b


def test_every_channel_delivers_for_real_with_retries_and_undeliverable_listed():
    from aiosmtpd.controller import Controller

    mails = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            mails.append(envelope)
            return "250 OK"

    smtp_port = free_port()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    tries = {}

    def fail_twice(req):
        d = req["headers"].get("X-Safeguard-Delivery")
        tries[d] = tries.get(d, 0) + 1
        return 500 if tries[d] <= 2 else 200

    hook, cap_hook, gateway = Receiver(fail_twice), Receiver(), Receiver()
    srv = Server(extra_args=("--set", "delivery.retry_base_ms=150", "--set", "delivery.sms_user=sguser",
                             "--set", f"delivery.sms_password={SMS_PASSWORD}")).start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        b = Org.new(srv, root)
        agree(srv, a, b, [{"category": "alerts", "level": "full"}])
        # channels: bad ones refused and nothing stored
        n0 = srv.sql("SELECT count(*) FROM channels")[0][0]
        for bad, ptr in [({"name": "x", "kind": "webhook", "url": "ftp://h/x", "secret": KEY}, "/url"),
                         ({"name": "x", "kind": "webhook", "url": "http://127.0.0.1/x"}, "/secret"),
                         ({"name": "x", "kind": "webhook", "url": "http://127.0.0.1/x", "secret": "short"}, "/secret"),
                         ({"name": "x", "kind": "email", "url": "http://127.0.0.1/"}, "/url"),
                         ({"name": "x", "kind": "email", "url": "smtp://127.0.0.1"}, "/mail_from"),
                         ({"name": "x", "kind": "sms", "url": "http://127.0.0.1/ x"}, "/url"),
                         ({"name": "x", "kind": "sms", "url": "http://127.0.0.1/", "secret": KEY}, "/secret"),
                         ({"name": "x", "kind": "pigeon", "url": "http://127.0.0.1/"}, "/kind")]:
            r = srv.request("POST", "/api/v1/channels", bad, token=a.admin)
            check(r.status == 400 and r.json.get("field") == ptr, (bad, r))
        r = srv.request("POST", "/api/v1/channels", {"name": "x", "kind": "sms", "url": "http://127.0.0.1/"},
                        token=a.tokens["security_manager"])
        check(r.status == 403, r)
        check(srv.sql("SELECT count(*) FROM channels")[0][0] == n0, "refused channels store nothing")
        wh = srv.create(a.admin, "channels", {"name": "Ops webhook", "kind": "webhook",
                                              "url": f"http://127.0.0.1:{hook.port}/hook", "secret": KEY})
        check("secret" not in wh and wh["enabled"] is True, wh)
        r = srv.request("GET", f"/api/v1/channels/{wh['id']}", token=a.admin)
        check(r.status == 200 and "secret" not in r.json and KEY not in r.raw.decode(), r)
        srv.create(a.admin, "channels", {"name": "CAP feed", "kind": "webhook", "format": "cap",
                                         "url": f"http://127.0.0.1:{cap_hook.port}/cap", "secret": KEY})
        srv.create(a.admin, "channels", {"name": "Mail", "kind": "email", "url": f"smtp://127.0.0.1:{smtp_port}",
                                         "mail_from": "ops@example.org"})
        srv.create(a.admin, "channels", {"name": "SMS", "kind": "sms", "method": "POST",
                                         "url": f"http://127.0.0.1:{gateway.port}/send?to={{to}}",
                                         "body_template": "msg={text}&ref={delivery_id}"})
        srv.create(a.admin, "channels", {"name": "Off", "kind": "webhook", "enabled": False,
                                         "url": f"http://127.0.0.1:{hook.port}/off", "secret": KEY})
        full = srv.create(a.admin, "people", person_body(name="Ayesha Khan", email="ayesha@example.org",
                                                          phone="+92 300 1234567"))
        nobody = person_body(name="No Contact")
        del nobody["email"], nobody["phone"]
        bare = srv.create(a.admin, "people", nobody)
        dev = srv.create(a.admin, "devices", device_body(protocol="owntracks", person_id=full["id"]))
        r = srv.request("POST", "/api/v1/alerts", alert(people=[full["id"], bare["id"]]), token=a.tokens["duty_officer"])
        check(r.status == 201 and r.json["recipients"] == 2, r)
        al = r.json
        # stream, owntracks, 2 webhooks, email, sms for each of 2 people; the disabled webhook: none
        # (the fan-out writes them just after the alert's commit)
        def fanned():
            x = srv.sql("SELECT person_id, channel, state FROM deliveries WHERE alert_id = ?", (al["id"],))
            return x if len(x) >= 12 else None
        rows = wait_for(fanned, "the fan-out's rows")
        check(len(rows) == 12, rows)
        check(sorted((c, s) for p, c, s in rows if p == bare["id"] and s == "undeliverable")
              == [("email", "undeliverable"), ("owntracks", "undeliverable"), ("sms", "undeliverable")], rows)

        # the webhook: 500, 500, then 200; every try signed, the same ids
        wait_for(lambda: sum(1 for q in hook.requests if q["status"] == 200) == 2, "the webhook's third tries")
        for q in hook.requests:
            check(q["path"] == "/hook" and verify(q), f"signed: {q['headers']}")
            body = json.loads(q["body"])
            check(body["alert_id"] == al["id"] and q["headers"]["X-Safeguard-Alert"] == al["id"]
                  and body["delivery_id"] == q["headers"]["X-Safeguard-Delivery"]
                  and body["recipient_id"] == q["headers"]["X-Safeguard-Recipient"]
                  and body["exercise"] is False and body["alert"]["headline"] == al["headline"], body)
        per = {}
        for q in hook.requests:
            per.setdefault(q["headers"]["X-Safeguard-Delivery"], []).append(
                (q["status"], q["headers"]["X-Safeguard-Attempt"], q["at"]))
        check(len(per) == 2 and all([s for s, _, _ in v] == [500, 500, 200] and [t for _, t, _ in v] == ["1", "2", "3"]
                                    for v in per.values()), per)
        for v in per.values():  # exponential backoff: the second pause is about twice the first
            check(v[1][2] - v[0][2] >= 0.12 and v[2][2] - v[1][2] >= 0.25, v)
        tampered = dict(hook.requests[-1], body=hook.requests[-1]["body"] + b" ")
        check(not verify(tampered), "a changed body fails the signature")

        # the CAP webhook: a valid CAP 1.2 document
        wait_for(lambda: len(cap_hook.requests) == 2, "the CAP webhook")
        with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as f:
            f.write(cap_hook.requests[0]["body"])
        v = subprocess.run(["xmllint", "--noout", "--schema", XSD, f.name], capture_output=True, text=True)
        os.unlink(f.name)
        check(v.returncode == 0 and verify(cap_hook.requests[0])
              and cap_hook.requests[0]["headers"]["Content-Type"] == "application/cap+xml", v.stderr)

        # email: one message, to the person with an address
        wait_for(lambda: mails, "the email")
        time.sleep(0.3)
        check(len(mails) == 1 and mails[0].rcpt_tos == ["ayesha@example.org"]
              and mails[0].mail_from == "ops@example.org", [(m.mail_from, m.rcpt_tos) for m in mails])
        msg = message_from_bytes(mails[0].content)
        check(str(make_header(decode_header(msg["Subject"]))) == al["headline"]
              and msg["X-Safeguard-Alert"] == al["id"] and msg["X-Safeguard-Recipient"] == full["id"]
              and "Stay where you are <now> & wait" in msg.get_payload(decode=True).decode(), mails[0].content)

        # SMS: the template's request, the configured credentials
        wait_for(lambda: gateway.requests, "the SMS gateway")
        q = gateway.requests[0]
        qs = urllib.parse.parse_qs(urllib.parse.urlparse(q["path"]).query)
        form = urllib.parse.parse_qs(q["body"].decode())
        auth = base64.b64decode(q["headers"]["Authorization"].split()[1]).decode()
        check(len(gateway.requests) == 1 and q["method"] == "POST" and qs["to"] == ["+92 300 1234567"]
              and form["msg"][0].startswith(al["headline"]) and form["ref"][0].startswith("dlv_")
              and auth == f"sguser:{SMS_PASSWORD}", q)

        # OwnTracks: the next report's answer carries the message, once
        now = int(time.time())
        wait_for(lambda: srv.sql("SELECT 1 FROM deliveries WHERE channel = 'owntracks' AND state = 'pending'"),
                 "the OwnTracks row")
        time.sleep(0.6)  # the worker has put it in the phone's box
        r = owntracks(srv, dev["key"], {"_type": "location", "lat": 24.9, "lon": 67.1, "tst": now})
        check(r.status == 200, r)
        cmds = r.json
        check(isinstance(cmds, list) and len(cmds) == 1 and cmds[0]["_type"] == "cmd" and cmds[0]["action"] == "action"
              and "&lt;now&gt; &amp; wait" in cmds[0]["content"] and cmds[0]["alert_id"] == al["id"], cmds)
        r = owntracks(srv, dev["key"], {"_type": "location", "lat": 24.9, "lon": 67.1, "tst": now + 1})
        check(r.status == 200 and r.json == [], f"only once: {r.raw}")

        # the sender's view: every row, counts, the undeliverable listed
        def settled():
            r = srv.request("GET", f"/api/v1/alerts/{al['id']}/deliveries", token=a.tokens["duty_officer"])
            return r if r.json["counts"].get("owntracks", {}).get("sent") == 1 else None
        r = wait_for(settled, "the OwnTracks hand-over recorded")
        c = r.json["counts"]
        check(c["stream"] == {"sent": 2} and c["webhook"] == {"sent": 4} and c["email"] == {"sent": 1, "undeliverable": 1}
              and c["sms"] == {"sent": 1, "undeliverable": 1} and c["owntracks"] == {"sent": 1, "undeliverable": 1}, c)
        und = sorted((d["person_id"], d["channel"], d["last_error"]) for d in r.json["undeliverable"])
        check(und == sorted([(bare["id"], "email", "no email address"), (bare["id"], "sms", "no phone number"),
                             (bare["id"], "owntracks", "no OwnTracks device")]), und)
        hooked = [d for d in r.json["deliveries"] if d["channel"] == "webhook" and d["attempts"] == 3]
        check(len(hooked) == 2 and {d["id"] for d in hooked} == set(per), hooked)
        ev = srv.sql("SELECT subject, type FROM events WHERE category = 'messages' ORDER BY subject")
        check(sorted(ev) == sorted([(full["id"], "alert_message"), (bare["id"], "alert_message")]), ev)
        # who may read the delivery state: the sender's operators only
        for tok, want in [(a.tokens["security_manager"], 200), (a.tokens["viewer"], 403), (a.tokens["person"], 403),
                          (b.tokens["duty_officer"], 403), (b.admin, 403)]:
            r = srv.request("GET", f"/api/v1/alerts/{al['id']}/deliveries", token=tok)
            check(r.status == want, (want, r))
        r = srv.request("GET", "/api/v1/channels", token=b.admin)
        check(r.status == 200 and r.json["items"] == [], f"a partner never sees the channels: {r}")
        check(SMS_PASSWORD not in open(srv.log_path).read(), "credentials are never logged")

        # an exercise is marked in every channel's payload
        r = srv.request("POST", "/api/v1/alerts", alert(status="Exercise", headline="Drill: evacuate the camp",
                                                        people=[full["id"]]), token=a.tokens["duty_officer"])
        check(r.status == 201, r)
        ex = r.json["id"]
        wait_for(lambda: any(q["status"] == 200 and q["headers"]["X-Safeguard-Alert"] == ex for q in hook.requests),
                 "the exercise's webhook")
        body = json.loads(next(q for q in hook.requests if q["headers"]["X-Safeguard-Alert"] == ex)["body"])
        check(body["exercise"] is True and body["alert"]["status"] == "Exercise" and body["text"].startswith("EXERCISE"), body)
        wait_for(lambda: len(mails) == 2 and len(gateway.requests) == 2, "the exercise's email and SMS")
        msg = message_from_bytes(mails[1].content)
        check(str(make_header(decode_header(msg["Subject"]))).startswith("[EXERCISE] ") and msg["X-Safeguard-Exercise"] == "yes",
              mails[1].content)
        check(urllib.parse.parse_qs(gateway.requests[1]["body"].decode())["msg"][0].startswith("EXERCISE"), gateway.requests[1])
        wait_for(lambda: srv.sql("SELECT 1 FROM deliveries WHERE alert_id = ? AND channel = 'owntracks' AND state = 'pending'", (ex,)),
                 "the exercise's OwnTracks row")
        time.sleep(0.6)
        r = owntracks(srv, dev["key"], {"_type": "location", "lat": 24.9, "lon": 67.1, "tst": now + 2})
        check(len(r.json) == 1 and r.json[0]["content"].startswith("EXERCISE"), r.json)
        sm = [json.loads(x[0]) for x in srv.sql("SELECT body FROM events WHERE category = 'messages'")]
        check([m["exercise"] for m in sm if m["alert_id"] == ex] == [True] and
              all(m["exercise"] is False for m in sm if m["alert_id"] != ex), sm)
    finally:
        srv.stop()
        smtp.stop()
        for x in (hook, cap_hook, gateway):
            x.close()


def test_deliveries_pending_at_sigkill_go_out_after_restart():
    up = {"ok": False}
    hook = Receiver(lambda req: 200 if up["ok"] else 503)
    srv = Server(extra_args=("--set", "delivery.retry_base_ms=100", "--set", "delivery.max_backoff_s=1")).start()
    try:
        root = srv.admin()
        srv.create(root, "channels", {"name": "Ops", "kind": "webhook", "url": f"http://127.0.0.1:{hook.port}/h",
                                      "secret": KEY})
        people = [srv.create(root, "people", person_body())["id"] for _ in range(20)]
        r = srv.request("POST", "/api/v1/alerts", alert(people=people), token=root)
        check(r.status == 201, r)
        al = r.json["id"]
        wait_for(lambda: len({q["headers"]["X-Safeguard-Delivery"] for q in hook.requests}) == 20, "first tries")
        ids = srv.sql("SELECT 'dlv_' || seq, person_id FROM deliveries WHERE alert_id = ? AND channel = 'webhook'", (al,))
        check(len(ids) == 20, ids)
        srv.stop(sig=signal.SIGKILL)
        pending = srv.sql("SELECT count(*) FROM deliveries WHERE channel = 'webhook' AND state = 'pending'")[0][0]
        check(pending == 20, f"all still pending after the kill: {pending}")
        up["ok"] = True
        hook.requests.clear()
        srv.start()
        wait_for(lambda: srv.sql("SELECT count(*) FROM deliveries WHERE channel = 'webhook' AND state = 'sent'")[0][0] == 20,
                 "delivered after the restart")
        got = {}
        for q in hook.requests:
            if q["status"] == 200:
                body = json.loads(q["body"])
                got.setdefault(body["delivery_id"], set()).add((body["alert_id"], body["recipient_id"]))
        check(set(got) == {i for i, _ in ids}, "none lost, under the same delivery ids")
        check(all(v == {(al, p)} for (i, p) in ids for v in [got[i]]), "each with its alert and recipient")
    finally:
        srv.stop()
        hook.close()


def test_a_large_fanout_is_written_in_steps_and_goes_on_after_a_crash():
    # 700 people: steps of 256, 256, then the other 188; two channels each
    hook = Receiver(lambda req: 503)
    srv = Server(extra_args=("--set", "delivery.retry_base_ms=600000")).start()
    try:
        root = srv.admin()
        srv.create(root, "channels", {"name": "Ops", "kind": "webhook", "url": f"http://127.0.0.1:{hook.port}/h",
                                      "secret": KEY})
        people = sorted(srv.create(root, "people", person_body())["id"] for _ in range(700))
        r = srv.request("POST", "/api/v1/alerts", alert(people=people), token=root)
        check(r.status == 201 and r.json["recipients"] == 700, r)
        al = r.json["id"]
        rows_of = lambda: srv.sql("SELECT seq, person_id, channel FROM deliveries WHERE alert_id = ? ORDER BY seq", (al,))
        wait_for(lambda: len(rows_of()) == 1400, "every row written")
        check(srv.sql("SELECT total, done FROM fanouts WHERE alert_id = ?", (al,)) == [(700, 700)], "the fan-out done")
        srv.stop(sig=signal.SIGKILL)
        # what the store holds after a crash between the first and the second step
        first = rows_of()[:512]
        check(sorted({p for _, p, _ in first}) == people[:256] and {c for _, _, c in first} == {"stream", "webhook"},
              "the first step: the first 256 people by id, on both channels")
        srv.sql("DELETE FROM deliveries WHERE alert_id = ? AND seq > ?", (al, first[-1][0]))
        srv.sql("UPDATE fanouts SET done = 256 WHERE alert_id = ?", (al,))
        srv.start()
        wait_for(lambda: len(rows_of()) == 1400, "the rest written after the restart")
        rows = rows_of()
        check(rows[:512] == first, "the rows written before keep their ids")
        pairs = [(p, c) for _, p, c in rows]
        check(len(set(pairs)) == 1400 and {p for p, _ in pairs} == set(people), "each person once on each channel")
        d = srv.request("GET", f"/api/v1/alerts/{al}/deliveries", token=root)
        check(d.status == 200 and "queued" not in json.dumps(d.json["counts"]), d)
        check(sum(d.json["counts"]["webhook"].values()) == 700, d.json["counts"])
    finally:
        srv.stop()
        hook.close()
