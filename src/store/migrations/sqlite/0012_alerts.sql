-- 0012: alerts (issue 14), each a CAP 1.2 message of its organisation to
-- its own people: an area (a Point with radius_m, or a Polygon, with its
-- bounding box), named people and sites, or an incident's area; the
-- recipients chosen when it was sent, each once with the reasons, in the
-- same transaction. Never deleted: an Update or Cancel is a new alert that
-- references it.
CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organisations(id),
    status        TEXT NOT NULL,
    msg_type      TEXT NOT NULL,
    references_id TEXT REFERENCES alerts(id),
    scope         TEXT NOT NULL,
    event         TEXT NOT NULL,
    urgency       TEXT NOT NULL,
    severity      TEXT NOT NULL,
    certainty     TEXT NOT NULL,
    headline      TEXT NOT NULL,
    description   TEXT,
    instruction   TEXT,
    area_desc     TEXT,
    geometry      TEXT,
    radius_m      REAL,
    incident_id   TEXT REFERENCES incidents(id),
    person_ids    TEXT,
    site_ids      TEXT,
    relayed_from  TEXT,
    recipients    INTEGER NOT NULL DEFAULT 0,
    min_lon       REAL,
    min_lat       REAL,
    max_lon       REAL,
    max_lat       REAL,
    sent_at       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX alerts_org ON alerts(org_id, id);

CREATE TABLE alert_recipients (
    alert_id  TEXT NOT NULL REFERENCES alerts(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    reasons   TEXT NOT NULL,
    PRIMARY KEY (alert_id, person_id)
) STRICT;
