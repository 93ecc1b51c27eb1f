-- 0003: position history. One row per device and fix time: the primary key
-- is the deduplication (a client that resends an unacknowledged report gets
-- it stored once). Kept after a device is deleted, until retention purges it.
CREATE TABLE positions (
    device_id    TEXT NOT NULL,
    time_ms      INTEGER NOT NULL,
    org_id       TEXT NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    speed_mps    REAL,
    course_deg   REAL,
    altitude_m   REAL,
    accuracy_m   REAL,
    battery_pct  INTEGER,
    charging     INTEGER,
    attrs        TEXT NOT NULL,
    received_ms  INTEGER NOT NULL,
    PRIMARY KEY (device_id, time_ms)
) STRICT, WITHOUT ROWID;
