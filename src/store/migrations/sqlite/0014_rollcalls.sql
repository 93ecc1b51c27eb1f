-- 0014: roll-calls (issue 14): "are you safe?" to an alert's recipients, to
-- everyone at a site or to a list (through an alert of its own). Each person
-- answers once (safe or need_help) by a one-time link, the API, or an
-- operator with a reason. Non-responders are asked again in waves, then
-- escalated as an alarm each. The link's token is never stored: the row
-- keeps its SHA-256 until the answer or the close, then nothing. The counts
-- by state are read from rollcall_people (the roll-call's row changes only
-- by audited steps: a wave, the escalation, the close).
CREATE TABLE rollcalls (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organisations(id),
    alert_id        TEXT NOT NULL REFERENCES alerts(id),
    title           TEXT NOT NULL,
    status          TEXT NOT NULL,
    state           TEXT NOT NULL,
    waves           INTEGER NOT NULL,
    wave            INTEGER NOT NULL,
    wave_interval_s INTEGER NOT NULL,
    next_wave_ms    INTEGER,
    escalated       INTEGER NOT NULL DEFAULT 0,
    token_key       TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    closed_at       TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE INDEX rollcalls_org ON rollcalls(org_id, id);
CREATE INDEX rollcalls_due ON rollcalls(next_wave_ms) WHERE state = 'open' AND next_wave_ms IS NOT NULL;

CREATE TABLE rollcall_people (
    rollcall_id TEXT NOT NULL REFERENCES rollcalls(id),
    person_id   TEXT NOT NULL REFERENCES people(id),
    state       TEXT NOT NULL,
    via         TEXT,
    answered_by TEXT,
    answered_at TEXT,
    note        TEXT,
    reason      TEXT,
    lat         REAL,
    lon         REAL,
    alarm_id    TEXT,
    token_hash  TEXT UNIQUE,
    PRIMARY KEY (rollcall_id, person_id)
) STRICT;
