"""Accounts and sessions (issue 2, done-when 5): argon2id PHC hashes, failed
logins throttled, logout and disabling take effect at once, cookie sessions
need the CSRF token, no default credentials."""
import os
import time

from harness import ADMIN_PASSWORD, SECRETS, Server, check, person_body, run, user_body


def test_passwords_are_stored_as_argon2id_phc_strings():
    srv = Server().start()
    try:
        tok = srv.admin()
        u = user_body("duty_officer")
        srv.create(tok, "users", u)
        for (h,) in srv.sql("SELECT password_hash FROM users"):
            check(h.startswith("$argon2id$v=19$m="), f"not an argon2id PHC string: {h[:20]}")
            check(u["password"] not in h and ADMIN_PASSWORD not in h, "plain password stored")
        got = srv.request("GET", "/api/v1/users?limit=500", token=tok).json["items"]
        check(all("password" not in x and "password_hash" not in x for x in got), "hashes are never served")
        # Changing a password: the old one stops working.
        me = [x for x in got if x["username"] == u["username"]][0]
        new_pw = "a brand new passphrase"
        SECRETS.add(new_pw)
        check(srv.request("PATCH", f"/api/v1/users/{me['id']}", {"password": new_pw}, token=tok).status == 200, "passwd")
        check(srv.request("POST", "/api/v1/session", {"username": u["username"], "password": u["password"]}).status == 401, "old password")
        srv.login(u["username"], new_pw)
    finally:
        srv.stop()


def test_failed_logins_are_throttled_then_allowed_again():
    srv = Server().start()
    try:
        bad = {"username": "admin", "password": "wrong password guess"}
        for i in range(5):
            r = srv.request("POST", "/api/v1/session", bad)
            check(r.status == 401 and r.json["title"] == "Invalid credentials", f"attempt {i}: {r}")
        r = srv.request("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD})
        check(r.status == 429, f"the sixth attempt is throttled even with the right password: {r}")
        check(int(r.headers["retry-after"]) >= 1, r.headers)
        # An unknown user answers exactly like a wrong password.
        r = srv.request("POST", "/api/v1/session", {"username": "nobody", "password": "x" * 12})
        check(r.status in (401, 429), r)
        time.sleep(2.2)  # login_lockout_s=2 in the harness
        check(srv.request("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD}).status == 201,
              "allowed again after the lockout")
        m = srv.request("GET", "/metrics").raw.decode()
        check("safeguard_login_failures_total 6" in m or "safeguard_login_failures_total 5" in m, m)
    finally:
        srv.stop()


def test_logout_and_disabling_take_effect_at_once():
    srv = Server().start()
    try:
        tok = srv.admin()
        t2 = srv.admin()
        check(srv.request("DELETE", "/api/v1/session", token=t2).status == 204, "logout")
        check(srv.request("GET", "/api/v1/people", token=t2).status == 401, "a logged-out token opens nothing")
        check(srv.request("GET", "/api/v1/people", token=tok).status == 200, "other sessions live on")
        u = user_body("viewer")
        created = srv.create(tok, "users", u)
        ut = srv.login(u["username"], u["password"])
        check(srv.request("GET", "/api/v1/people", token=ut).status == 200, "viewer reads")
        check(srv.request("PATCH", f"/api/v1/users/{created['id']}", {"disabled": True}, token=tok).status == 200, "disable")
        check(srv.request("GET", "/api/v1/people", token=ut).status == 401, "a disabled user's session ends at once")
        check(srv.request("POST", "/api/v1/session", {"username": u["username"], "password": u["password"]}).status == 401,
              "a disabled user cannot log in")
        me = srv.request("GET", "/api/v1/session", token=tok).json
        r = srv.request("DELETE", f"/api/v1/users/{me['id']}", token=tok)
        check(r.status == 409, f"an admin cannot delete themselves: {r}")
        check(srv.request("GET", "/api/v1/people", token="sgs_forged").status == 401, "forged token")
        check(srv.request("GET", "/api/v1/people").status == 401, "no token")
        check(srv.request("GET", "/api/v1/people", headers={"Authorization": "Basic YWRtaW46eA=="}).status == 401, "basic")
    finally:
        srv.stop()


def test_cookie_sessions_need_the_csrf_token():
    srv = Server().start()
    try:
        r = srv.request("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD})
        SECRETS.add(r.json["token"])
        cookie = r.headers["set-cookie"]
        check("HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie, cookie)
        value = cookie.split(";")[0]
        csrf = r.json["csrf_token"]
        check(srv.request("GET", "/api/v1/people", headers={"Cookie": value}).status == 200, "cookie reads")
        r = srv.request("POST", "/api/v1/people", person_body(), headers={"Cookie": value})
        check(r.status == 403 and r.json["title"] == "CSRF check failed", r)
        r = srv.request("POST", "/api/v1/people", person_body(), headers={"Cookie": value, "X-CSRF-Token": "wrong"})
        check(r.status == 403, r)
        r = srv.request("POST", "/api/v1/people", person_body(), headers={"Cookie": value, "X-CSRF-Token": csrf})
        check(r.status == 201, r)
        r = srv.request("DELETE", "/api/v1/session", headers={"Cookie": value, "X-CSRF-Token": csrf})
        check(r.status == 204 and "Max-Age=0" in r.headers["set-cookie"], r.headers)
        check(srv.request("GET", "/api/v1/people", headers={"Cookie": value}).status == 401, "cookie ended")
    finally:
        srv.stop()


def test_secure_cookie_by_default_and_no_default_credentials():
    srv = Server()
    srv.extra = ["--set", "session.cookie_secure=true"]
    srv.start()
    try:
        r = srv.request("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD})
        SECRETS.add(r.json["token"])
        check("Secure" in r.headers["set-cookie"], r.headers["set-cookie"])
        for pw in ("admin", "password", "changeme", "safeguard", ""):
            check(srv.request("POST", "/api/v1/session", {"username": "admin", "password": pw}).status in (400, 401, 429), pw)
    finally:
        srv.stop()
    # Without an init there is no account at all, and serve refuses to start.
    empty = Server(init=False)
    p = run("serve", "--data-dir", empty.dir, "--listen", "127.0.0.1:1", check_rc=False)
    check(p.returncode != 0 and "run 'safeguard init' first" in p.stderr, p.stderr)
    # init without a password file prints a generated one, once.
    p = run("init", "--data-dir", empty.dir)
    line = [x for x in p.stdout.splitlines() if "admin password" in x][0]
    pw = line.rsplit(" ", 1)[1]
    SECRETS.add(pw)
    check(len(pw) >= 24, "a strong generated password")
    p = run("init", "--data-dir", empty.dir, check_rc=False)
    check(p.returncode != 0 and "already initialised" in p.stderr, p.stderr)
    check(os.stat(os.path.join(empty.dir, "audit-signing.key")).st_mode & 0o077 == 0, "the signing key is private")


def test_sessions_expire_when_idle_and_at_the_absolute_limit():
    srv = Server(extra_args=("--set", "session.idle_timeout_s=1800", "--set", "session.absolute_timeout_s=7200")).start()
    try:
        tok = srv.admin()
        srv.advance_clock(29 * 60 * 1000)
        check(srv.request("GET", "/api/v1/session", token=tok).status == 200, "29 minutes idle: still valid")
        srv.advance_clock(29 * 60 * 1000)
        check(srv.request("GET", "/api/v1/session", token=tok).status == 200,
              "used 29 minutes ago: the last use renewed the idle timer")
        srv.advance_clock(31 * 60 * 1000)
        check(srv.request("GET", "/api/v1/session", token=tok).status == 401, "31 minutes idle: expired")
        tok = srv.admin()
        for _ in range(5):  # used every 25 minutes, but 2 hours after login it ends
            srv.advance_clock(25 * 60 * 1000)
            r = srv.request("GET", "/api/v1/session", token=tok)
        check(r.status == 401, f"absolute expiry after 2 hours: {r}")
    finally:
        srv.stop()


def test_users_change_their_own_password_and_other_sessions_end():
    srv = Server().start()
    try:
        tok = srv.admin()
        u = user_body("duty_officer")
        srv.create(tok, "users", u)
        t1 = srv.login(u["username"], u["password"])
        t2 = srv.login(u["username"], u["password"])
        new_pw = "my own new passphrase"
        SECRETS.add(new_pw)
        r = srv.request("POST", "/api/v1/session/password", {"current_password": "wrong one", "new_password": new_pw}, token=t1)
        check(r.status == 403 and r.json["field"] == "/current_password", r)
        r = srv.request("POST", "/api/v1/session/password", {"current_password": u["password"], "new_password": "short"}, token=t1)
        check(r.status == 400 and r.json["field"] == "/new_password", r)
        r = srv.request("POST", "/api/v1/session/password", {"current_password": u["password"], "new_password": new_pw}, token=t1)
        check(r.status == 204, r)
        check(srv.request("GET", "/api/v1/session", token=t1).status == 200, "the asking session stays")
        check(srv.request("GET", "/api/v1/session", token=t2).status == 401, "other sessions end")
        srv.login(u["username"], new_pw)
        check(srv.request("POST", "/api/v1/session", {"username": u["username"], "password": u["password"]}).status == 401, "old password")
    finally:
        srv.stop()
