-- 0009: position history partitioned by fix time (src/pipeline/parts.h).
-- Each partition is a table of its own (positions_p<id>, created by the
-- writer when a report first falls in its range), so a write touches only
-- the small B-tree of its hour and retention drops a whole table instead of
-- deleting rows. Ranges never overlap; t1 is exclusive.
CREATE TABLE history_parts (
    id         INTEGER PRIMARY KEY,
    tbl        TEXT NOT NULL UNIQUE,
    t0         INTEGER NOT NULL,
    t1         INTEGER NOT NULL,
    legacy     INTEGER NOT NULL DEFAULT 0,
    dropped_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX history_parts_t0 ON history_parts(t0);
-- The history stored before this version stays where it is: the table
-- positions becomes the partition of every time up to its last report, and
-- keeps its row-by-row retention (evidence.h). A new store's covers nothing.
INSERT INTO history_parts (id, tbl, t0, t1, legacy)
SELECT 1, 'positions', -4611686018427387904,
       coalesce((SELECT max(time_ms) + 1 FROM positions), -4611686018427387904), 1;
-- Which partition a sealed commit's rows are in: -1 for the legacy table and
-- the geofence events (purged row by row, history_pruned keeps their
-- hashes), a partition's id for its reports (dropped whole).
ALTER TABLE history_chain ADD COLUMN part INTEGER NOT NULL DEFAULT -1;
CREATE INDEX history_chain_part ON history_chain(part, batch);
-- The partition holding each device's latest report, for the live index's
-- rebuild at start (one seek per device, whatever the history's size):
-- written when a device's first report of a newer partition is stored.
CREATE TABLE history_latest (
    device_id TEXT PRIMARY KEY,
    part      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO history_latest (device_id, part) SELECT DISTINCT device_id, 1 FROM positions;
