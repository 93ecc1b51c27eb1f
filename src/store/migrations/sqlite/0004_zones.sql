-- 0004: risk zones (levels 1-6, validity periods) and geofence events.

CREATE TABLE zones (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 6),
    reason      TEXT,
    geometry    TEXT NOT NULL,
    radius_m    REAL,
    valid_from  TEXT,
    valid_to    TEXT,
    retired     INTEGER NOT NULL DEFAULT 0,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX zones_org ON zones(org_id, id);

-- One row per transition, written in the same transaction as the position
-- that caused it.
CREATE TABLE geofence_events (
    seq         INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    fence_type  TEXT NOT NULL,   -- site or zone
    fence_id    TEXT NOT NULL,
    fence_org   TEXT NOT NULL,
    event       TEXT NOT NULL,   -- enter or exit
    time_ms     INTEGER NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL
) STRICT;
CREATE INDEX geofence_events_device ON geofence_events(device_id, time_ms);
