-- 0010: incidents, the operations centre's threat picture (issue 13). An
-- area of effect (a Point with radius_m, or a Polygon) with its bounding box,
-- a CAP severity, a confidence, an open/closed status; never deleted, closed.
-- An exercise incident is marked as such for good (exercise cannot change).

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    type        TEXT NOT NULL,
    time        TEXT NOT NULL,
    geometry    TEXT NOT NULL,
    radius_m    REAL,
    severity    TEXT NOT NULL,
    casualties  INTEGER,
    source      TEXT,
    confidence  TEXT NOT NULL,
    notes       TEXT,
    status      TEXT NOT NULL DEFAULT 'open',
    exercise    INTEGER NOT NULL DEFAULT 0,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX incidents_org ON incidents(org_id, id);
CREATE INDEX incidents_time ON incidents(org_id, time);
