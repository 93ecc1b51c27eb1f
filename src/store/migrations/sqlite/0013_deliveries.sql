-- 0013: delivery of alerts (issue 14). An organisation's channels (webhook,
-- email over SMTP, an SMS gateway), configured by its admins; the stream
-- and the OwnTracks app need no configuration. One delivery row per
-- recipient and channel, written in the transaction that stores the alert:
-- the channel workers read the due rows, send, and write the outcome. A row
-- is pending until sent (or failed after the last retry); a recipient
-- without a usable contact for a channel gets an undeliverable row.
CREATE TABLE channels (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organisations(id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    url           TEXT NOT NULL,
    format        TEXT,
    secret        TEXT,
    method        TEXT,
    body_template TEXT,
    content_type  TEXT,
    mail_from     TEXT,
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
CREATE INDEX channels_org ON channels(org_id, id);

-- Its id is "dlv_" and its seq: rows are appended in order (a large alert
-- writes hundreds of thousands; a random key cost a b-tree walk each).
CREATE TABLE deliveries (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    alert_id    TEXT NOT NULL,
    rollcall_id TEXT,
    wave        INTEGER NOT NULL DEFAULT 0,
    person_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    channel_id  TEXT,
    address     TEXT,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at_ms  INTEGER NOT NULL,
    last_error  TEXT,
    sent_at     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX deliveries_due ON deliveries(channel, next_at_ms) WHERE state = 'pending';
CREATE INDEX deliveries_alert ON deliveries(alert_id, person_id, channel);
