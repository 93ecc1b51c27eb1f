"""The event stream (issue 4, done-when 5): positions and geofence events for
own data and for partners under each sharing level, a revoked grant, resuming
after Last-Event-ID, and a stalled reader that never slows ingest."""
import http.client
import json
import socket
import threading
import time
import urllib.parse

from harness import Server, check, device_body, person_body

from test_access import Org


class Stream:
    """A Server-Sent Events reader collecting events in a background thread."""

    def __init__(self, srv, token, last_id=None, path="/api/v1/stream"):
        self.events, self.status = [], None
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        headers = {"Authorization": "Bearer " + token}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.closed = False
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        ev = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if not line:
                    if "data" in ev:
                        self.events.append(ev)
                    ev = {}
                elif line.startswith(":"):
                    continue
                else:
                    k, _, v = line.partition(": ")
                    ev[k] = json.loads(v) if k == "data" else v
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed under it (AttributeError: http.client's fp gone mid-read)
        self.closed = True

    def kinds(self):
        return [(e["event"], e["data"].get("device_id"), e["data"].get("event")) for e in self.events]

    def close(self):
        try:  # wake the reader thread first, or close() waits for its readline
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.conn.close()


def wait(cond, secs=5):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_stream_delivers_by_access_and_resumes():
    srv = Server().start()
    streams = []
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        partners = {name: Org.new(srv, root) for name in ("full", "summary", "none", "revoked")}
        ags = {}
        for name, level in (("full", "full"), ("summary", "summary"), ("revoked", "full")):
            ag = srv.create(a.admin, "agreements", {"partner_id": partners[name].id,
                                                    "grants": [{"category": "positions", "level": level}]})
            srv.request("POST", f"/api/v1/agreements/{ag['id']}/accept", token=partners[name].admin)
            ags[name] = ag
        srv.create(a.admin, "agreements", {"partner_id": partners["none"].id, "grants": []})
        zone = srv.create(a.admin, "zones", {"name": "Bridge", "level": 5, "radius_m": 500,
                                             "geometry": {"type": "Point", "coordinates": [67.0, 25.0]}})
        dev = srv.create(a.admin, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        check(Stream(srv, a.tokens["person"]).status == 403, "a person account has no stream")
        s_own = Stream(srv, a.tokens["duty_officer"])
        s = {name: Stream(srv, org.tokens["liaison"]) for name, org in partners.items()}
        streams += [s_own, *s.values()]
        check(all(x.status == 200 for x in streams), [x.status for x in streams])
        t0 = int(time.time()) - 600
        for i, lat in enumerate((24.0, 25.0, 25.001)):
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat={lat}&lon=67.0&timestamp={t0 + i}")
            check(r.status == 200, r)
        want = [("position", dev["id"], None), ("position", dev["id"], None), ("geofence", dev["id"], "enter"),
                ("position", dev["id"], None)]
        check(wait(lambda: len(s_own.events) >= 4), s_own.kinds())
        check(s_own.kinds() == want, s_own.kinds())
        ids = [int(e["id"]) for e in s_own.events]
        check(ids == sorted(ids) and len(set(ids)) == 4, ids)
        ge = s_own.events[2]["data"]
        check(ge["fence_id"] == zone["id"] and ge["fence_type"] == "zone" and ge["org_id"] == a.id, ge)
        check(wait(lambda: len(s["full"].events) >= 4) and s["full"].kinds() == want, s["full"].kinds())
        check(wait(lambda: len(s["revoked"].events) >= 4), s["revoked"].kinds())
        time.sleep(0.3)
        check(s["summary"].events == [] and s["none"].events == [],
              "summary positions are not streamed live; no grant sees nothing")

        # Revoke: the open stream stops receiving at once.
        r = srv.request("POST", f"/api/v1/agreements/{ags['revoked']['id']}/revoke", token=a.admin)
        check(r.status == 200, r)
        time.sleep(0.4)
        r = srv.request("GET", f"/ingest/osmand?id={key}&lat=26.0&lon=67.0&timestamp={t0 + 10}")
        check(wait(lambda: len(s_own.events) >= 6), s_own.kinds())  # position + exit
        check(wait(lambda: len(s["full"].events) >= 6), s["full"].kinds())
        time.sleep(0.3)
        check(len(s["revoked"].events) == 4, f"revoked grant still streaming: {s['revoked'].kinds()}")

        # Resume after Last-Event-ID: the events after it, in order.
        again = Stream(srv, a.tokens["duty_officer"], last_id=ids[1])
        streams.append(again)
        check(wait(lambda: len(again.events) >= 4), again.kinds())
        check([int(e["id"]) for e in again.events][:4] == [ids[2], ids[3], int(s_own.events[4]["id"]),
                                                           int(s_own.events[5]["id"])], again.kinds())
        # Logging out ends the session's stream.
        r = srv.request("DELETE", "/api/v1/session", token=a.tokens["duty_officer"])
        check(r.status == 204, r)
        check(wait(lambda: s_own.closed, 5), "the stream of a logged-out session ends")
    finally:
        for x in streams:
            x.close()
        srv.stop()


def test_a_sleeping_reader_is_woken_by_the_event_not_the_tick():
    """Issue 11: an open stream with nothing to send sleeps (its connection
    suspended) until an event it may see wakes it. With the periodic tick set
    to ten minutes, events must still arrive at once: were readers woken only
    by the tick, they would wait for it. A partner with no grant is not woken
    by them and sees nothing."""
    srv = Server(extra_args=["--set", "stream.tick_ms=600000"]).start()
    streams = []
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        stranger = Org.new(srv, root)
        dev = srv.create(a.admin, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        mine, theirs = Stream(srv, a.tokens["duty_officer"]), Stream(srv, stranger.tokens["liaison"])
        streams += [mine, theirs]
        time.sleep(0.5)  # both asleep now
        t0 = int(time.time()) - 60
        for i in range(3):
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat={24 + i / 100}&lon=67.0&timestamp={t0 + i}")
            check(r.status == 200, r)
            check(wait(lambda: len(mine.events) == i + 1, 5), f"event {i + 1} not delivered: {mine.kinds()}")
        check(theirs.events == [] and not theirs.closed, theirs.kinds())
    finally:
        for x in streams:
            x.close()
        srv.stop()


def test_stalled_reader_is_dropped_and_never_slows_ingest():
    srv = Server(extra_args=("--set", "stream.buffer_events=100", "--set", "ingest.device_burst=100000",
                             "--set", "ingest.device_rate_per_s=100000")).start()
    try:
        tok = srv.admin()
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", srv.port))
        stalled.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
        time.sleep(0.3)  # and never read
        t0 = int(time.time()) - 86400
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        for i in range(3000):
            c.request("GET", f"/ingest/osmand?id={key}&lat={24 + (i % 100) / 1000}&lon=67.0&timestamp={t0 + i}")
            resp = c.getresponse()
            resp.read()
            check(resp.status == 200, f"report {i}: {resp.status}")
        check(srv.sql("SELECT count(*) FROM positions")[0][0] == 3000, "every report stored while a reader stalls")
        # Reading again: what was buffered arrives, then the server closes the overrun stream.
        stalled.settimeout(10)
        total, end = 0, time.time() + 20
        while time.time() < end:
            try:
                chunk = stalled.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            total += len(chunk)
        else:
            chunk = b"x"
        check(chunk == b"", f"the stalled reader was dropped (read {total} bytes)")
        check(total < 3000 * 150, f"it did not receive every event: {total} bytes")
        stalled.close()
    finally:
        srv.stop()


def test_last_event_id_resumes_across_a_restart_with_no_gap():
    """Issue 11, done-when 3: the SSE id is the outbox's seq. Events written
    before a SIGKILL are read back from the outbox after the restart: a
    client resuming with Last-Event-ID gets every later event exactly once,
    in order, the old ones then the new ones, with the ids they had; each
    position and geofence event in the outbox matches a stored row."""
    import signal
    srv = Server().start()
    streams = []
    try:
        tok = srv.admin()
        srv.create(tok, "zones", {"name": "Bridge", "level": 5, "radius_m": 500,
                                  "geometry": {"type": "Point", "coordinates": [67.0, 25.0]}})
        dev = srv.create(tok, "devices", device_body())
        key = urllib.parse.quote(dev["key"])
        t0 = int(time.time()) - 600
        before = Stream(srv, tok)
        streams.append(before)
        for i, lat in enumerate((24.0, 25.0, 24.0, 25.0, 24.0)):
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat={lat}&lon=67.0&timestamp={t0 + i}")
            check(r.status == 200, r)
        check(wait(lambda: len(before.events) >= 9), before.kinds())  # 5 positions, 2 enters, 2 exits
        first = [(int(e["id"]), e["event"], e["data"]) for e in before.events]
        before.close()
        srv.stop(signal.SIGKILL)
        srv.start()
        tok = srv.admin()
        for i, lat in enumerate((25.0, 24.0)):
            r = srv.request("GET", f"/ingest/osmand?id={key}&lat={lat}&lon=67.0&timestamp={t0 + 10 + i}")
            check(r.status == 200, r)
        resumed = Stream(srv, tok, last_id=first[2][0])
        streams.append(resumed)
        check(wait(lambda: len(resumed.events) >= 6 + 4), resumed.kinds())
        time.sleep(0.3)
        got = [(int(e["id"]), e["event"], e["data"]) for e in resumed.events]
        check(got[:6] == first[3:], f"the events before the restart, as they were: {got[:6]} vs {first[3:]}")
        ids = [g[0] for g in got]
        check(ids == list(range(first[3][0], first[3][0] + len(ids))), f"no gap, no repeat: {ids}")
        check([g[1] for g in got[6:]] == ["position", "geofence", "position", "geofence"], got[6:])
        # The outbox and the history agree: one position event per stored report.
        n_pos = srv.sql("SELECT count(*) FROM events WHERE type = 'position'")[0][0]
        n_geo = srv.sql("SELECT count(*) FROM events WHERE type = 'geofence'")[0][0]
        check(n_pos == srv.sql("SELECT count(*) FROM positions")[0][0] == 7, n_pos)
        check(n_geo == srv.sql("SELECT count(*) FROM geofence_events")[0][0] == 6, n_geo)
        # Resuming from the start of the outbox reveals nothing across
        # organisations: a stranger and a summary partner read A's events
        # from the store under the same policy as live ones.
        from test_access import agree
        me = srv.request("GET", "/api/v1/session", token=tok).json
        a = Org(srv, tok, me["org_id"])
        stranger, summary = Org.new(srv, tok), Org.new(srv, tok)
        agree(srv, a, summary, [{"category": "positions", "level": "summary"}])
        peeks = [Stream(srv, o.tokens["duty_officer"], last_id=0) for o in (stranger, summary)]
        streams.extend(peeks)
        time.sleep(0.8)
        for p in peeks:
            check(p.status == 200 and not any(e["data"].get("device_id") == dev["id"] for e in p.events),
                  f"A's events leak through the outbox: {p.events}")
        # An id from before anything the outbox holds: told there is a gap.
        srv.sql("DELETE FROM events WHERE seq <= ?", (first[4][0],))
        gap = Stream(srv, tok, last_id=first[1][0])
        streams.append(gap)
        check(wait(lambda: len(gap.events) >= 1), gap.kinds())
        check(gap.events[0]["event"] == "gap" and gap.events[0]["data"]["missed_from"] == first[2][0], gap.events[0])
        check(int(gap.events[1]["id"]) == first[5][0], gap.events[1])
    finally:
        for x in streams:
            x.close()
        srv.stop()


def test_a_reader_asks_for_the_categories_it_shows():
    """?categories= narrows a stream to what its client shows: the console's
    map takes positions, incidents and alarms, and a large alert's message to
    each person (category messages) stays away from it; live and when
    resuming from the outbox. A category that is none is refused."""
    srv = Server().start()
    streams = []
    try:
        root = srv.admin()
        me = srv.request("GET", "/api/v1/session", token=root).json
        a = Org(srv, root, me["org_id"])
        op = a.tokens["duty_officer"]
        for bad in ("nonsense", "positions,,alarms", "x" * 30, ",".join(["positions"] * 17)):
            r = srv.request("GET", "/api/v1/stream?categories=" + urllib.parse.quote(bad), token=op)
            check(r.status == 400 and r.json.get("field") == "?categories", (bad, r))
        people = [srv.create(a.admin, "people", person_body())["id"] for _ in range(3)]
        dev = srv.create(a.admin, "devices", device_body())
        every = Stream(srv, op)
        mapped = Stream(srv, op, path="/api/v1/stream?categories=positions,incidents,alarms,alarms_duress")
        streams += [every, mapped]
        check(every.status == 200 and mapped.status == 200, (every.status, mapped.status))
        r = srv.request("POST", "/api/v1/alerts", {
            "event": "Car bomb", "urgency": "Immediate", "severity": "Extreme", "certainty": "Observed",
            "headline": "Stay inside", "people": people}, token=op)
        check(r.status == 201, r)
        r = srv.request("GET", f"/ingest/osmand?id={urllib.parse.quote(dev['key'])}&lat=24.9&lon=67.1"
                               f"&timestamp={int(time.time())}")
        check(r.status == 200, r)
        kinds = lambda s: sorted(e["event"] for e in s.events)
        check(wait(lambda: kinds(every).count("alert_message") == 3 and "position" in kinds(every)), kinds(every))
        check(wait(lambda: "position" in kinds(mapped)), kinds(mapped))
        time.sleep(0.3)
        check(kinds(mapped) == ["position"], f"the map's stream carries only what it shows: {kinds(mapped)}")
        # resuming from the outbox keeps the choice
        again = Stream(srv, op, last_id=0, path="/api/v1/stream?categories=messages")
        streams.append(again)
        check(wait(lambda: len(again.events) >= 3), kinds(again))
        time.sleep(0.3)
        check(kinds(again) == ["alert_message"] * 3 and
              sorted(e["data"]["person_id"] for e in again.events) == sorted(people), again.events)
    finally:
        for x in streams:
            x.close()
        srv.stop()
