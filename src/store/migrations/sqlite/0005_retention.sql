-- 0005: history retention. A pinned report (attached to an incident or an
-- alarm, by the issues that bring them) survives the purge.
ALTER TABLE positions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX positions_time ON positions(time_ms);
