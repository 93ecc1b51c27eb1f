-- 0007: position history and geofence events join the signed chain
-- (src/audit/evidence.h). Every commit that stores reports seals them: the
-- rows carry the commit's batch number, and history_chain holds one row per
-- such commit, each linked to the one before; the audit checkpoint signs the
-- last link. Rows stored before this version keep batch 0 (not covered).
ALTER TABLE positions ADD COLUMN batch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE geofence_events ADD COLUMN batch INTEGER NOT NULL DEFAULT 0;
CREATE TABLE history_chain (
    batch   INTEGER PRIMARY KEY,
    rows    INTEGER NOT NULL,
    digest  TEXT NOT NULL,
    at_ms   INTEGER NOT NULL,
    prev    TEXT NOT NULL,
    link    TEXT NOT NULL
) STRICT;
-- What retention removed from a sealed commit: the row's time and the hash of
-- the rest, so the commit's digest still checks; gone with the commit's chain
-- row once every row of it is purged.
CREATE TABLE history_pruned (
    batch   INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    rest    BLOB NOT NULL
) STRICT;
CREATE INDEX history_pruned_batch ON history_pruned(batch);
ALTER TABLE audit_checkpoint ADD COLUMN history_batch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_checkpoint ADD COLUMN history_link TEXT NOT NULL DEFAULT '';
