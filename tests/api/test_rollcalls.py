"""Roll-calls (issue 14): "are you safe?" through the channels with a
one-time link per person (read here from a real webhook's messages), to
100 % accounted by link, API and operator; need_help and a duress PIN open
alarms; the silent get the next wave and become alarms after the last;
wrong, reused, dead and other people's tokens are refused; the report as
JSON and CSV; exercises marked and counted apart; no token in any log."""
import csv
import io
import json
import re
import secrets
import time

from harness import SECRETS, Server, check, person_body
from test_access import Org, agree
from test_delivery import KEY, Receiver, wait_for

LINK = re.compile(r"(http://[^\s]+)/answer\.html#([A-Za-z0-9_-]+)")


def tokens_of(hook, rollcall_id, wave=None):
    """{person_id: token} from the webhook's messages of a roll-call."""
    out = {}
    for q in list(hook.requests):
        b = json.loads(q["body"])
        if b.get("rollcall_id") != rollcall_id or (wave and b["wave"] != wave):
            continue
        m = LINK.search(b["text"])
        check(m, f"a roll-call message carries its link: {b['text']}")
        out[b["recipient_id"]] = m.group(2)
        SECRETS.add(m.group(2))
    return out


def answer(srv, token, state="safe", **kw):
    return srv.request("POST", "/api/v1/answer", dict({"token": token, "state": state}, **kw))


def test_rollcall_to_all_accounted_with_waves_escalation_and_links():
    hook = Receiver()
    srv = Server(extra_args=("--set", "delivery.retry_base_ms=100", "--set", "alarms.escalate_s=86400",
                             "--set", "alarms.escalate_s_by_cause=")).start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        b = Org.new(srv, root)
        agree(srv, a, b, [{"category": "roll-calls", "level": "summary"}])
        srv.create(a.admin, "channels", {"name": "Push", "kind": "webhook", "url": f"http://127.0.0.1:{hook.port}/p",
                                         "secret": KEY})
        p = [a.person["id"]] + [srv.create(a.admin, "people", person_body())["id"] for _ in range(4)]
        me_person, by_link, helpme, by_operator, silent = p
        op = a.tokens["duty_officer"]
        # bad starts store nothing
        n0 = srv.sql("SELECT (SELECT count(*) FROM rollcalls) + (SELECT count(*) FROM alerts)")[0][0]
        for bad, status in [({"title": "x"}, 400), ({"title": "x", "people": ["per_nope"]}, 400),
                            ({"title": "x", "alert_id": "alr_nope"}, 400), ({"people": p}, 400),
                            ({"title": "x", "people": p, "waves": 0}, 400), ({"title": "x", "people": p, "wave_interval_s": 5}, 400),
                            ({"title": "x", "people": p, "exercise": "yes"}, 400), ({"title": "x", "people": p, "colour": 1}, 400)]:
            r = srv.request("POST", "/api/v1/rollcalls", bad, token=op)
            check(r.status == status, (bad, r))
        r = srv.request("POST", "/api/v1/rollcalls", {"title": "x", "people": p}, token=a.tokens["viewer"])
        check(r.status == 403, r)
        check(srv.sql("SELECT (SELECT count(*) FROM rollcalls) + (SELECT count(*) FROM alerts)")[0][0] == n0,
              "refused roll-calls store nothing")

        r = srv.request("POST", "/api/v1/rollcalls", {"title": "Car bomb at the airport exit", "people": p, "waves": 2,
                                                      "wave_interval_s": 60}, token=op)
        check(r.status == 201 and r.json["counts"] == {"asked": 5, "safe": 0, "need_help": 0, "no_answer": 5}
              and r.json["wave"] == 1 and r.json["exercise"] is False, r)
        rc = r.json
        rid = rc["id"]
        toks = wait_for(lambda: (lambda t: t if len(t) == 5 else None)(tokens_of(hook, rid)), "the links")
        check(len(set(toks.values())) == 5 and all(len(t) >= 40 for t in toks.values()), toks)
        check(srv.sql("SELECT count(*) FROM rollcall_people WHERE token_hash IN (%s)" % ",".join("?" * 5),
                      tuple(toks.values()))[0][0] == 0, "the store never holds a token itself")

        # the page: the question, then the answer; the token dies with it
        r = srv.request("POST", "/api/v1/answer/question", {"token": toks[by_link]})
        check(r.status == 200 and r.json["title"] == rc["title"] and r.json["exercise"] is False, r)
        r = srv.request("GET", "/answer.html")
        check(r.status == 200 and b"answer.js" in r.raw and "script-src 'self'" in r.headers["content-security-policy"], r)
        before = srv.sql("SELECT person_id, state FROM rollcall_people WHERE person_id <> ? ORDER BY person_id", (by_link,))
        r = answer(srv, toks[by_link], note="at the camp <b>gate</b>")
        check(r.status == 200 and r.json == {"thanks": True, "state": "safe"}, r)
        after = srv.sql("SELECT person_id, state FROM rollcall_people WHERE person_id <> ? ORDER BY person_id", (by_link,))
        check(before == after, "a token answers for its own person only")
        for bad in [toks[by_link], secrets.token_urlsafe(32), toks[by_link][:-2] + "xx"]:
            r = answer(srv, bad)
            check(r.status == 404 and "not valid" in r.json["detail"], f"wrong or reused token: {r}")
            check(srv.request("POST", "/api/v1/answer/question", {"token": bad}).status in (404, 429), bad)
        r = answer(srv, "short")
        check(r.status in (400, 429), r)
        r = answer(srv, toks[silent], state="fine")
        check(r.status in (400, 429), r)
        srv.advance_clock(10_000)  # the throttle forgets the failures above

        # need help by link, with a position: an alarm opens
        r = answer(srv, toks[helpme], state="need_help", lat=24.91, lon=67.12, note="leg injured")
        check(r.status == 200 and r.json["state"] == "need_help", r)
        al = srv.sql("SELECT id, cause, exercise, lat FROM alarms WHERE person_id = ?", (helpme,))
        check(len(al) == 1 and al[0][1] == "need_help" and al[0][2] == 0 and abs(al[0][3] - 24.91) < 1e-9, al)

        # the API: a person for themselves only
        pt = a.tokens["person"]
        for body, want in [({"state": "safe", "person_id": silent}, 403), ({"state": "safe", "reason": "x"}, 403),
                           ({"state": "maybe"}, 400), ({"state": "safe", "lat": 95, "lon": 1}, 400)]:
            r = srv.request("POST", f"/api/v1/rollcalls/{rid}/answers", body, token=pt)
            check(r.status == want, (body, r))
        r = srv.request("POST", f"/api/v1/rollcalls/{rid}/answers", {"state": "safe"}, token=pt)
        check(r.status == 200 and r.json["via"] == "api" and r.json["person_id"] == me_person, r)
        # an operator for someone, with a reason
        for body, want in [({"state": "safe", "person_id": by_operator}, 400),
                           ({"state": "safe", "reason": "seen"}, 400),
                           ({"state": "safe", "person_id": "per_nobody", "reason": "seen"}, 404)]:
            r = srv.request("POST", f"/api/v1/rollcalls/{rid}/answers", body, token=op)
            check(r.status == want, (body, r))
        r = srv.request("POST", f"/api/v1/rollcalls/{rid}/answers",
                        {"state": "safe", "person_id": by_operator, "reason": "seen by the escort lead"}, token=op)
        check(r.status == 200 and r.json["via"] == "operator" and r.json["reason"] == "seen by the escort lead", r)
        r = srv.request("POST", f"/api/v1/rollcalls/{rid}/answers",
                        {"state": "safe", "person_id": by_operator, "reason": "again"}, token=op)
        check(r.status == 409, f"answered already: {r}")
        for tok, want in [(b.tokens["duty_officer"], 403), (a.tokens["viewer"], 403)]:
            r = srv.request("POST", f"/api/v1/rollcalls/{rid}/answers",
                            {"state": "safe", "person_id": silent, "reason": "x"}, token=tok)
            check(r.status == want, r)
        r = srv.request("GET", f"/api/v1/rollcalls/{rid}", token=op)
        check(r.json["counts"] == {"asked": 5, "safe": 3, "need_help": 1, "no_answer": 1}, r.json["counts"])
        # a partner who sees roll-calls as a summary: the counts, nobody's answer
        r = srv.request("GET", f"/api/v1/rollcalls/{rid}", token=b.tokens["duty_officer"])
        check(r.status == 200 and r.json["access"] == "summary" and "people" not in r.json
              and r.json["counts"]["no_answer"] == 1, r)
        check(srv.request("GET", f"/api/v1/rollcalls/{rid}/report", token=b.tokens["duty_officer"]).status == 403, "")

        # progress on the stream's outbox: counts with every answer
        ev = [json.loads(x[0]) for x in srv.sql("SELECT body FROM events WHERE type = 'rollcall_progress' ORDER BY seq")]
        check([e["counts"]["no_answer"] for e in ev] == [4, 3, 2, 1] and all(e["exercise"] is False for e in ev), ev)

        # the next wave asks the silent only; after the last, an alarm each
        hook_before = len(hook.requests)
        srv.advance_clock(61_000)
        wait_for(lambda: srv.sql("SELECT wave FROM rollcalls WHERE id = ?", (rid,))[0][0] == 2, "wave 2")
        w2 = wait_for(lambda: tokens_of(hook, rid, wave=2), "the second wave's message")
        check(list(w2) == [silent] and w2[silent] == toks[silent], f"wave 2 to the silent only, same link: {w2}")
        check(len(hook.requests) == hook_before + 1, hook.requests[hook_before:])
        srv.advance_clock(61_000)
        wait_for(lambda: srv.sql("SELECT escalated FROM rollcalls WHERE id = ?", (rid,))[0][0] == 1, "the escalation")
        esc = srv.sql("SELECT cause, state, priority FROM alarms WHERE person_id = ?", (silent,))
        check(esc == [("no_answer", "open", 2)], esc)
        check(srv.sql("SELECT alarm_id IS NOT NULL FROM rollcall_people WHERE person_id = ?", (silent,)) == [(1,)], "")
        # the silent one answers late: 100 % accounted
        r = answer(srv, toks[silent])
        check(r.status == 200, r)
        r = srv.request("GET", f"/api/v1/rollcalls/{rid}/report", token=op)
        check(r.status == 200 and r.json["counts"] == {"asked": 5, "safe": 4, "need_help": 1, "no_answer": 0}, r)
        via = {x["person_id"]: x["via"] for x in r.json["people"]}
        check(via == {me_person: "api", by_link: "link", helpme: "link", by_operator: "operator", silent: "link"}, via)
        r = srv.request("GET", f"/api/v1/rollcalls/{rid}/report?format=csv", token=op)
        check(r.status == 200 and r.headers["content-type"].startswith("text/csv"), r)
        rows = list(csv.DictReader(io.StringIO(r.raw.decode())))
        check(len(rows) == 5 and {x["person_id"] for x in rows} == set(p)
              and next(x for x in rows if x["person_id"] == by_link)["note"] == "at the camp <b>gate</b>"
              and next(x for x in rows if x["person_id"] == helpme)["state"] == "need_help", rows)
        # close: no more waves; a second close 409
        r = srv.request("POST", f"/api/v1/rollcalls/{rid}/close", token=op)
        check(r.status == 200 and r.json["state"] == "closed", r)
        check(srv.request("POST", f"/api/v1/rollcalls/{rid}/close", token=op).status == 409, "")
        trail = srv.sql("SELECT action FROM audit WHERE object_type = 'rollcall' AND object_id = ? ORDER BY seq", (rid,))
        check([x[0] for x in trail] == ["create"] + ["answer"] * 4 + ["wave", "escalate", "answer", "close"], trail)
        v = __import__("harness").run("audit", "verify", "--data-dir", srv.dir, check_rc=False)
        check(v.returncode == 0, f"the trail verifies: {v.stdout} {v.stderr}")
    finally:
        srv.stop()
        hook.close()


def test_rollcall_links_die_with_close_duress_pin_and_exercise():
    hook = Receiver()
    srv = Server(extra_args=("--set", "delivery.retry_base_ms=100")).start()
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        srv.create(a.admin, "channels", {"name": "Push", "kind": "webhook", "url": f"http://127.0.0.1:{hook.port}/p",
                                         "secret": KEY})
        other = srv.create(a.admin, "people", person_body())["id"]
        op = a.tokens["duty_officer"]
        # a duress PIN for the person's account
        r = srv.request("POST", "/api/v1/session/duress_pin", {"password": a.passwords["person"], "pin": "837261"},
                        token=a.tokens["person"])
        check(r.status in (200, 204), r)
        r = srv.request("POST", "/api/v1/rollcalls", {"title": "Drill: road block", "people": [a.person["id"], other],
                                                      "exercise": True}, token=op)
        check(r.status == 201 and r.json["status"] == "Exercise" and r.json["exercise"] is True, r)
        rid = r.json["id"]
        toks = wait_for(lambda: (lambda t: t if len(t) == 2 else None)(tokens_of(hook, rid)), "the links")
        for q in hook.requests:
            body = json.loads(q["body"])
            check(body["exercise"] is True and body["text"].startswith("EXERCISE"), body)
        r = srv.request("POST", "/api/v1/answer/question", {"token": toks[other]})
        check(r.status == 200 and r.json["exercise"] is True, r)
        # the duress PIN: the same thanks, a duress alarm (an exercise one)
        plain = answer(srv, toks[other], pin="000000")
        forced = answer(srv, toks[a.person["id"]], pin="837261")
        check(plain.status == forced.status == 200 and plain.json == forced.json, (plain, forced))
        d = srv.sql("SELECT cause, exercise, priority FROM alarms WHERE person_id = ?", (a.person["id"],))
        check(d == [("duress", 1, 1)], d)
        check(srv.sql("SELECT count(*) FROM alarms WHERE person_id = ?", (other,))[0][0] == 0, "a wrong PIN opens nothing")
        # exercises apart: a real roll-call lists without them
        r = srv.request("GET", "/api/v1/rollcalls?status=Actual", token=op)
        check(r.status == 200 and rid not in {x["id"] for x in r.json["items"]}, r)
        # a closed roll-call's links are dead
        r = srv.request("POST", "/api/v1/rollcalls", {"title": "Second", "people": [other]}, token=op)
        rid2 = r.json["id"]
        t2 = wait_for(lambda: tokens_of(hook, rid2), "the second link")
        check(srv.request("POST", f"/api/v1/rollcalls/{rid2}/close", token=op).status == 200, "")
        r = answer(srv, t2[other])
        check(r.status == 404, f"a closed roll-call's link: {r}")
        check(srv.sql("SELECT count(*) FROM rollcall_people WHERE token_hash IS NOT NULL AND rollcall_id = ?", (rid2,))[0][0] == 0, "")
        log = open(srv.log_path).read()
        check(not any(t in log for t in list(toks.values()) + list(t2.values())), "no token in the log")
    finally:
        srv.stop()
        hook.close()
