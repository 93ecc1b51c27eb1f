-- 0011: alarms (issue 13). An alarm is about one person, raised by a device
-- (an SOS report), by the person, or by an operator; it belongs to the
-- person's organisation (org_id: who may see it, through the sharing
-- agreements like any record) and is owned by one operations centre
-- (owner_org: who must act on it; a partner's centre after a hand-over).
-- open -> acknowledged -> resolved, each step with who and when; never
-- deleted. Every step is also a line of alarm_log (with comments), and an
-- audit entry in the trails of the organisations concerned.

CREATE TABLE alarms (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organisations(id),
    owner_org        TEXT NOT NULL REFERENCES organisations(id),
    person_id        TEXT NOT NULL REFERENCES people(id),
    device_id        TEXT REFERENCES devices(id),
    cause            TEXT NOT NULL,
    device_alarm     TEXT,
    priority         INTEGER NOT NULL,
    state            TEXT NOT NULL,
    exercise         INTEGER NOT NULL DEFAULT 0,
    lat              REAL,
    lon              REAL,
    position_time    TEXT,
    note             TEXT,
    opened_at        TEXT NOT NULL,
    opened_by        TEXT NOT NULL,
    acknowledged_at  TEXT,
    acknowledged_by  TEXT,
    resolved_at      TEXT,
    resolved_by      TEXT,
    outcome          TEXT,
    resolution       TEXT,
    escalation       TEXT NOT NULL DEFAULT 'duty_officers',
    escalate_at      TEXT,
    escalate_at_ms   INTEGER,
    handed_over_from TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX alarms_org ON alarms(org_id, id);
CREATE INDEX alarms_owner ON alarms(owner_org, id);
CREATE INDEX alarms_due ON alarms(escalate_at_ms) WHERE escalate_at_ms IS NOT NULL;
CREATE INDEX alarms_open ON alarms(person_id, cause) WHERE state <> 'resolved';

CREATE TABLE alarm_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id  TEXT NOT NULL REFERENCES alarms(id),
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    actor_org TEXT,
    action    TEXT NOT NULL,
    note      TEXT
) STRICT;
CREATE INDEX alarm_log_alarm ON alarm_log(alarm_id, seq);

-- The person an event concerns, for the sharing conditions that hold per
-- person (positions "during an open SOS"); never sent to clients.
ALTER TABLE events ADD COLUMN subject TEXT;

-- A person's duress PIN (argon2id, like a password): given instead of the
-- password at login, it logs in as usual and silently opens a duress alarm.
ALTER TABLE users ADD COLUMN duress_hash TEXT;

-- An organisation's own assessment of an incident it sees (a partner's,
-- most often): its severity, confidence and notes beside the owner's
-- record, which it never changes. Seen by the assessing organisation only.
CREATE TABLE incident_assessments (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    severity    TEXT NOT NULL,
    confidence  TEXT,
    notes       TEXT,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (incident_id, org_id)
) STRICT;
