"""Test harness: runs the real safeguard binary on 127.0.0.1 with a temporary
data directory and talks to it over HTTP. Standard library only.

Every secret the tests create (passwords, tokens, device and API keys) is
remembered in SECRETS so the last test can grep all server logs for them."""
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SAFEGUARD_BIN", os.path.join(ROOT, "build", "safeguard"))
SECRETS = set()
LOGS = []
ADMIN_PASSWORD = "first keeper passphrase 1"


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*args, stdin=None, check_rc=True, env=None):
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=300,
                       env=env)
    if check_rc and p.returncode != 0:
        raise Failure(f"safeguard {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        ctype = headers.get("content-type", "")
        self.json = None
        if body and ("json" in ctype):
            self.json = json.loads(body)

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


def history_view(con):
    """A temporary view `positions` over every history partition, so tests
    read the history as one table (the legacy table is main.positions)."""
    try:
        tables = [t for (t,) in con.execute(
            "SELECT tbl FROM history_parts WHERE dropped_ms = 0 AND legacy = 0 ORDER BY t0")]
    except sqlite3.OperationalError:
        return  # a store before schema 9
    parts = " UNION ALL ".join(["SELECT * FROM main.positions"] + [f"SELECT * FROM main.{t}" for t in tables])
    con.execute(f"CREATE TEMP VIEW positions AS {parts}")


class Server:
    """A safeguard data directory and, while started, its server process."""

    def __init__(self, init=True, extra_args=(), data_dir=None):
        self.dir = data_dir or tempfile.mkdtemp(prefix="sg-api-")
        self.clock_file = os.path.join(self.dir, "clock-offset-ms")
        self.port = None
        self.proc = None
        self.extra = list(extra_args)
        self.cwd = None  # the server's working directory (None: the test runner's)
        self.log_path = os.path.join(self.dir, "server.log")
        LOGS.append(self.log_path)
        SECRETS.add(ADMIN_PASSWORD)
        if init:
            run("init", "--data-dir", self.dir, "--admin-user", "admin",
                "--admin-password-file", "-", stdin=ADMIN_PASSWORD + "\n")

    @property
    def db_path(self):
        return os.path.join(self.dir, "safeguard.db")

    def start(self):
        self.port = free_port()
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data-dir", self.dir, "--listen", f"127.0.0.1:{self.port}",
             "--set", "session.cookie_secure=false", "--set", "security.login_lockout_s=2",
             *self.extra],
            stdout=log, stderr=log, cwd=self.cwd,
            env=dict(os.environ, SAFEGUARD_TEST_CLOCK_OFFSET_FILE=self.clock_file))
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if self.request("GET", "/healthz").status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise Failure(f"server exited {self.proc.returncode}: {open(self.log_path).read()[-2000:]}")
            time.sleep(0.05)
        raise Failure("server did not come up")

    def advance_clock(self, ms):
        """Moves the running server's clock forward by ms (cumulative)."""
        try:
            cur = int(open(self.clock_file).read() or 0)
        except FileNotFoundError:
            cur = 0
        with open(self.clock_file, "w") as f:
            f.write(str(cur + ms))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def request(self, method, path, body=None, token=None, headers=None, raw=None,
                content_type="application/json"):
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type:
            h.setdefault("Content-Type", content_type)
        if token:
            h["Authorization"] = "Bearer " + token
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            payload = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload)
        finally:
            c.close()

    def login(self, username, password):
        SECRETS.add(password)
        r = self.request("POST", "/api/v1/session", {"username": username, "password": password})
        check(r.status == 201, f"login {username}: {r}")
        SECRETS.add(r.json["token"])
        SECRETS.add(r.json["csrf_token"])
        return r.json["token"]

    def admin(self):
        return self.login("admin", ADMIN_PASSWORD)

    def create(self, token, collection, body, expect=201):
        r = self.request("POST", f"/api/v1/{collection}", body, token=token)
        check(r.status == expect, f"POST {collection} {body}: expected {expect}, got {r}")
        if r.json and "key" in r.json:
            SECRETS.add(r.json["key"])
        return r.json

    def sql(self, query, args=()):
        """Runs one statement on the store. `positions` reads every history
        partition (a temporary view over them); to change a stored report,
        name its partition's table (part_of)."""
        con = sqlite3.connect(self.db_path, timeout=30)
        try:
            history_view(con)
            cur = con.execute(query, args)
            rows = cur.fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def part_of(self, time_ms):
        """The table holding the reports at time_ms (src/pipeline/parts.h)."""
        rows = self.sql("SELECT tbl FROM history_parts WHERE dropped_ms = 0 AND t0 <= ? AND ? < t1",
                        (time_ms, time_ms))
        check(len(rows) == 1, f"no partition holds time {time_ms}")
        return rows[0][0]

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


_counter = [0]


def unique(prefix):
    _counter[0] += 1
    return f"{prefix}{_counter[0]}"


def person_body(**kw):
    b = {"name": unique("Person "), "kind": "staff", "status": "in_country", "job": "Surveyor",
         "phone": "+92 300 1234567", "email": unique("p") + "@example.com"}
    b.update(kw)
    return b


def site_body(**kw):
    b = {"name": unique("Site "), "kind": "camp",
         "geometry": {"type": "Point", "coordinates": [67.16, 24.9]}, "radius_m": 500}
    b.update(kw)
    return b


def vehicle_body(**kw):
    b = {"registration": unique("KHI-"), "make_model": "Toyota Hilux", "armoured": False, "seats": 4}
    b.update(kw)
    return b


def device_body(**kw):
    b = {"name": unique("Phone "), "kind": "phone", "protocol": "osmand"}
    b.update(kw)
    return b


def user_body(role, **kw):
    pw = unique("passphrase number ")
    SECRETS.add(pw)
    b = {"username": unique("user."), "password": pw, "role": role}
    b.update(kw)
    return b
