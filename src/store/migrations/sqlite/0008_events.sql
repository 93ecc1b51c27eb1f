-- 0008: the outbox (src/events/events.h). One row per event others must hear
-- of, written in the transaction of the change; seq never reused
-- (AUTOINCREMENT), so it serves as the SSE id across restarts and retention.
CREATE TABLE events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms    INTEGER NOT NULL,
    org_id   TEXT NOT NULL,
    category TEXT NOT NULL,
    type     TEXT NOT NULL,
    body     TEXT NOT NULL
) STRICT;
-- Where each durable subscriber stands.
CREATE TABLE event_cursors (
    subscriber TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
