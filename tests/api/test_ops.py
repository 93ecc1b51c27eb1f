"""Operations: health, readiness, metrics, security headers, request ids, the
OpenAPI description, configuration, the console, the demo and CLI errors."""
import json
import os
import re
import signal
import subprocess
import tempfile
import time

from harness import BIN, ROOT, SECRETS, Server, check, free_port, run


def test_openapi_lists_every_route_and_is_current():
    routes = json.loads(run("routes").stdout)
    committed = json.load(open(os.path.join(ROOT, "docs", "openapi.json")))
    generated = json.loads(run("openapi").stdout)
    check(committed == generated, "docs/openapi.json is stale: run `safeguard openapi > docs/openapi.json`")
    check(committed["openapi"].startswith("3.1"), committed["openapi"])
    for r in routes:
        if not r["openapi"]:
            continue
        ops = committed["paths"].get(r["path"], {})
        check(r["method"].lower() in ops, f"{r['method']} {r['path']} is missing from the OpenAPI description")
    srv = Server().start()
    try:
        served = srv.request("GET", "/api/v1/openapi.json")
        check(served.status == 200 and served.json == committed, "the server serves the committed description")
    finally:
        srv.stop()


def test_security_headers_request_ids_and_errors():
    srv = Server().start()
    try:
        tok = srv.admin()
        r = srv.request("GET", "/api/v1/people", token=tok, headers={"X-Request-Id": "trace-123456"})
        h = r.headers
        check(h["x-request-id"] == "trace-123456", h)
        check(h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer", h)
        check("default-src 'self'" in h["content-security-policy"] and h["x-frame-options"] == "DENY", h)
        check(h["cache-control"] == "no-store", h)
        r = srv.request("GET", "/api/v1/people")
        check(len(r.headers["x-request-id"]) == 16 and r.json["request_id"] == r.headers["x-request-id"], r)
        ids = {srv.request("GET", "/api/v1/people").headers["x-request-id"] for _ in range(20)}
        check(len(ids) == 20 and r.headers["x-request-id"] not in ids, f"every request its own id: {ids}")
        check(srv.request("GET", "/api/v1/nothing", token=tok).status == 404, "unknown path")
        r = srv.request("PUT", "/api/v1/people", token=tok, raw=b"{}")
        check(r.status == 405, r)
        check(srv.request("GET", "/../../etc/passwd").status == 404, "no traversal")
        check(f"req={r.headers['x-request-id']}" in srv.log(), "request ids are in the log")
    finally:
        srv.stop()


def test_a_port_in_use_is_refused_not_shared():
    """A second server (another data directory) on a port in use must fail
    at its start, not share the port: with SO_REUSEPORT the kernel spread the
    devices' reports over both stores."""
    srv = Server().start()
    other = Server()
    try:
        for listen, extra in ((f"127.0.0.1:{srv.port}", []),
                              (f"127.0.0.1:{free_port()}", ["--set", f"ingest.osmand_listen=127.0.0.1:{srv.port}"])):
            p = subprocess.run([BIN, "serve", "--data-dir", other.dir, "--listen", listen, *extra],
                               capture_output=True, text=True, timeout=30)
            check(p.returncode != 0, f"a second server started on port {srv.port} in use: {p.stderr}")
            check(f"127.0.0.1:{srv.port}" in p.stderr and "in use" in p.stderr, p.stderr)
        check(srv.request("GET", "/healthz").status == 200, "the first server kept its port")
    finally:
        srv.stop()


def test_health_ready_and_metrics():
    srv = Server().start()
    try:
        check(srv.request("GET", "/healthz").raw == b"ok\n", "healthz")
        check(srv.request("GET", "/readyz").status == 200, "readyz")
        srv.admin()
        m = srv.request("GET", "/metrics")
        check(m.headers["content-type"].startswith("text/plain; version=0.0.4"), m.headers)
        text = m.raw.decode()
        for name in ("safeguard_http_requests_total{code=\"2xx\"}", "safeguard_http_request_duration_seconds_bucket",
                     "safeguard_store_commits_total", "safeguard_store_healthy 1"):
            check(name in text, f"{name} missing from metrics")
        check(re.search(r'safeguard_http_requests_total\{code="2xx"\} [1-9]', text), text)
    finally:
        srv.stop()


def test_print_config_layers_and_hides_secrets():
    env = dict(os.environ, SAFEGUARD_SERVER_LISTEN="127.0.0.1:9999",
               SAFEGUARD_STORE_POSTGRES_URL="postgres://sg:topsecret@db/sg")
    p = run("serve", "--print-config", "--set", "log.level=debug", env=env)
    check("listen = 127.0.0.1:9999" in p.stdout and "level = debug" in p.stdout, p.stdout)
    check("topsecret" not in p.stdout and "postgres_url = (hidden)" in p.stdout, p.stdout)
    p = run("serve", "--set", "server.max_body_bytes=huge", check_rc=False)
    check(p.returncode == 2 and "max_body_bytes" in p.stderr, p.stderr)
    # The store's backend is chosen by name (src/store/backend.h); an unknown
    # one is refused naming those this build has, before anything is created.
    d = os.path.join(tempfile.mkdtemp(prefix="sg-backend-"), "data")
    p = run("serve", "--data-dir", d, "--set", "store.backend=oracle", check_rc=False)
    check(p.returncode != 0 and "store.backend 'oracle' is not available" in p.stderr and "sqlite" in p.stderr,
          p.stderr)
    check(not os.path.exists(d), "nothing created for an unknown backend")
    for cmd in ("init", "serve", "user", "import", "export", "audit", "demo"):
        p = run(cmd, "--help")
        check("usage: safeguard" in p.stdout, f"{cmd} --help: {p.stdout}")
    check(run("version").stdout.startswith("safeguard "), "version")


def test_console_is_served():
    srv = Server().start()
    try:
        r = srv.request("GET", "/")
        check(r.status == 200 and b"<title>Safeguard</title>" in r.raw, r)
        check(r.headers["content-type"].startswith("text/html"), r.headers)
        check(srv.request("GET", "/app.js").headers["content-type"].startswith("text/javascript"), "js")
    finally:
        srv.stop()


def test_import_errors_name_file_line_field_and_import_nothing():
    srv = Server()
    path = os.path.join(srv.dir, "people.csv")
    with open(path, "w") as f:
        f.write("name,kind,status,email\n")
        f.write("Wei Jun,staff,in_country,wei@example.com\n")
        f.write('"Li, Min",staff,in_country,li@example.com\n')
        f.write("Zhang Hao,staff,abroad,zhang@example.com\n")
    p = run("import", "--data-dir", srv.dir, "--type", "people", path, check_rc=False)
    check(p.returncode == 1 and f"{path}:4: status:" in p.stderr and "nothing was imported" in p.stderr, p.stderr)
    check(srv.sql("SELECT count(*) FROM people")[0][0] == 0, "all or nothing")
    with open(path, "w") as f:
        f.write("name,kind,status,home_site_id\nWei Jun,staff,in_country,\nLi Min,staff,in_country,sit_01M8KWF48VMR504K8G6CKAVBQH\n")
    p = run("import", "--data-dir", srv.dir, "--type", "people", path, check_rc=False)
    check(p.returncode == 1 and f"{path}:3: home_site_id:" in p.stderr, p.stderr)
    check(srv.sql("SELECT count(*) FROM people")[0][0] == 0, "the first row was rolled back too")
    gj = os.path.join(srv.dir, "sites.geojson")
    with open(gj, "w") as f:
        json.dump({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [67, 24]},
             "properties": {"name": "A", "kind": "camp", "radius_m": 100}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [67, 240]},
             "properties": {"name": "B", "kind": "camp", "radius_m": 100}}]}, f)
    p = run("import", "--data-dir", srv.dir, "--type", "sites", gj, check_rc=False)
    check(p.returncode == 1 and f"{gj}: feature 2: geometry/coordinates/1:" in p.stderr, p.stderr)
    p = run("import", "--data-dir", srv.dir, "--type", "people", os.path.join(srv.dir, "nope.csv"), check_rc=False)
    check(p.returncode == 1 and "No such file" in p.stderr, p.stderr)


def test_user_command_recovers_access():
    srv = Server()
    pw = "recovered passphrase"
    SECRETS.add(pw)
    p = run("user", "passwd", "--data-dir", srv.dir, "--username", "admin", "--password-file", "-", stdin=pw + "\n")
    check("done" in p.stdout, p.stdout)
    run("user", "add", "--data-dir", srv.dir, "--username", "second.admin", "--role", "admin",
        "--password-file", "-", stdin=pw + "\n")
    p = run("user", "list", "--data-dir", srv.dir)
    check("second.admin" in p.stdout and "admin" in p.stdout, p.stdout)
    srv.start()
    try:
        srv.login("admin", pw)
        srv.login("second.admin", pw)
    finally:
        srv.stop()
    check(run("audit", "verify", "--data-dir", srv.dir).returncode == 0, "CLI changes are audited")


def test_demo_serves_two_organisations_with_printed_logins():
    import tempfile
    d = tempfile.mkdtemp(prefix="sg-demo-")
    errlog = tempfile.NamedTemporaryFile("w+", prefix="sg-demo-stderr-")
    port = free_port()
    proc = subprocess.Popen([BIN, "demo", "--data-dir", d, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=errlog, text=True)
    try:
        lines = []
        while True:
            line = proc.stdout.readline()
            check(line, "the demo printed its logins")
            lines.append(line)
            if "open: http://" in line:
                break
        logins = {}
        for line in lines:
            parts = line.split()
            if len(parts) >= 4 and "." in parts[0] and parts[1] in (
                    "admin", "security_manager", "duty_officer", "viewer", "liaison", "person"):
                logins[parts[0]] = parts[-1]
                SECRETS.add(parts[-1])
        check({"company.admin", "host.liaison", "engineer.wei"} <= logins.keys(), logins)
        srv = Server.__new__(Server)
        srv.port = port
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if srv.request("GET", "/healthz").status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        tok = srv.login("company.admin", logins["company.admin"])
        people = srv.request("GET", "/api/v1/people?limit=500", token=tok).json["items"]
        sites = srv.request("GET", "/api/v1/sites?limit=500", token=tok).json["items"]
        check(sum(1 for p in people if p["access"] == "own") == 32 and len(sites) == 5, (len(people), len(sites)))
        check(any("Karachi" in s["name"] for s in sites) and any("Dasu" in s["name"] for s in sites), sites)
        htok = srv.login("host.liaison", logins["host.liaison"])
        hp = srv.request("GET", "/api/v1/people?limit=500", token=htok).json["items"]
        own = [p for p in hp if p["access"] == "own"]
        check(len(own) == 8 and all(p["kind"] == "escort" for p in own), own)
        shared = [p for p in hp if p["access"] == "summary"]
        check(len(shared) == 32 and all("name" not in p and p["id"] == p["pseudonym"] for p in shared),
              "the liaison cell sees the company's people as summary")
        hs = srv.request("GET", "/api/v1/sites?limit=500", token=htok).json["items"]
        check(len(hs) == 5 and all(s["access"] == "full" for s in hs), "and its sites in full")
        ag = srv.request("GET", "/api/v1/agreements", token=htok).json["items"]
        check(len(ag) == 1 and ag[0]["accepted_by_both"], ag)
        pos = [g for g in ag[0]["grants"] if g["category"] == "positions"]
        check(pos and pos[0]["condition"] == "during_open_sos", ag[0]["grants"])
        # one engineer's SOS is open, shared with the liaison cell in full
        al = srv.request("GET", "/api/v1/alarms?state=open", token=htok).json["items"]
        real = [x for x in al if not x["exercise"]]
        check(len(real) == 1 and real[0]["cause"] == "sos" and real[0]["access"] == "full", al)
        # and an exercise roll-call in progress: seven of twelve answered, one needs help (an exercise alarm)
        check([(x["cause"], x["exercise"]) for x in al if x["exercise"]] == [("need_help", True)], al)
        rc = srv.request("GET", "/api/v1/rollcalls?state=open", token=tok).json["items"]
        check(len(rc) == 1 and rc[0]["status"] == "Exercise", rc)
        rc = srv.request("GET", f"/api/v1/rollcalls/{rc[0]['id']}", token=tok).json
        check(rc["counts"] == {"asked": 12, "safe": 6, "need_help": 1, "no_answer": 5}, rc["counts"])
        deadline = time.time() + 20
        moving = []
        while time.time() < deadline and len(moving) < 5:
            moving = srv.request("GET", "/api/v1/positions/latest?bbox=60,23,78,37", token=tok).json["items"]
            time.sleep(0.5)
        check(len(moving) >= 5, f"the simulator moves the demo's devices: {len(moving)} positions")
        cp = srv.request("GET", "/api/v1/people?limit=500", token=tok).json["items"]
        check(sum(1 for p in cp if p["access"] == "full") == 8, "the company sees the escorts in full")
        orgs = srv.request("GET", "/api/v1/organisations", token=tok).json["items"]
        check(len(orgs) == 2, orgs)
        check(len(people) == 40, "the company sees its 32 people and the 8 escorts shared with it")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    errlog.seek(0)
    check(proc.returncode == 0, f"{proc.returncode}: {errlog.read()[-4000:]}")
    check(os.path.exists(os.path.join(d, "SAFEGUARD-DEMO-DATA")), "the demo directory is marked")
    check(run("audit", "verify", "--data-dir", d).returncode == 0, "the demo data is audited")


def test_http_and_cli_hold_no_sql_and_only_store_names_the_engine():
    """Issue 11, done-when 2: the store boundary. src/http/ and src/cli/ hold
    no SQL text and call no database function (they call the modules, whose
    repositories hold the SQL); no file outside src/store/ names SQLite."""
    sql = re.compile(r'"[^"\n]*\b(SELECT\s|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|'
                     r'BEGIN|COMMIT|ROLLBACK|PRAGMA)')
    dbcall = re.compile(r'\bdb_(prepare|exec|step|run|reset|bind_\w+|col_\w+|changes|close|errmsg|checkpoint|sqlite_\w+)\s*\(')
    found = []
    for top in ("src/http", "src/cli"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                for n, line in enumerate(open(path, encoding="utf-8"), 1):
                    if sql.search(line) or dbcall.search(line):
                        found.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
    for dirpath, _, files in os.walk(os.path.join(ROOT, "src")):
        if os.path.relpath(dirpath, ROOT).startswith("src/store"):
            continue
        for f in files:
            if f.endswith((".c", ".h")):
                path = os.path.join(dirpath, f)
                for n, line in enumerate(open(path, encoding="utf-8"), 1):
                    if re.search(r"sqlite3|<sqlite|db_sqlite_", line):
                        found.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
    check(not found, "the store boundary is crossed:\n" + "\n".join(found))


def test_console_map_tiles_and_csp():
    """Issue 12: with no tile server the console's policy allows images from
    its own origin only and the session says so; a configured tile server's
    origin (and only that) is added; a URL that could bend the policy is
    refused at start."""
    srv = Server().start()
    try:
        tok = srv.admin()
        r = srv.request("GET", "/api/v1/session", token=tok)
        check(r.status == 200 and r.json["console"]["tile_url"] is None, r)
        check(r.json["console"]["stale_after_s"] == 900, r.json)
        csp = srv.request("GET", "/").headers["content-security-policy"]
        check("img-src 'self' data:;" in csp and "connect-src 'self'" in csp, csp)
    finally:
        srv.stop()
    url = "https://tiles.example.org:8443/osm/{z}/{x}/{y}.png"
    srv = Server(extra_args=("--set", f"console.tile_url={url}", "--set", "console.tile_attribution=© Example")).start()
    try:
        r = srv.request("GET", "/api/v1/session", token=srv.admin())
        check(r.json["console"]["tile_url"] == url and r.json["console"]["tile_attribution"] == "© Example", r.json)
        csp = srv.request("GET", "/healthz").headers["content-security-policy"]
        check("img-src 'self' data: https://tiles.example.org:8443;" in csp, csp)
        check("connect-src 'self';" in csp and "script-src 'self';" in csp, csp)
    finally:
        srv.stop()
    for bad in ("https://t.example.org/{z}/{x}/{y}.png; script-src *", "ftp://t.example.org/{z}/{x}/{y}",
                "https://t.example.org/tiles.png", "https:///{z}/{x}/{y}", "https://a'b/{z}/{x}/{y}"):
        d = tempfile.mkdtemp(prefix="sg-tiles-")
        p = run("serve", "--data-dir", d, "--listen", f"127.0.0.1:{free_port()}", "--set", f"console.tile_url={bad}",
                check_rc=False)
        check(p.returncode != 0 and "console.tile_url" in p.stderr, f"{bad}: {p.returncode} {p.stderr}")
