-- 0016: an alert's recipients kept as one set, and the fan-out to the
-- channels written in steps (issue 14's latency targets: an alert to
-- 100,000 people was durable only after 300,000 rows).
--
-- The set: the recipients by person id with their reasons, one JSON text
-- [[person_id, [reason, ...]], ...] written with the alert.
CREATE TABLE alert_recipient_sets (
    alert_id TEXT PRIMARY KEY REFERENCES alerts(id),
    count    INTEGER NOT NULL,
    people   TEXT NOT NULL
) STRICT;
INSERT INTO alert_recipient_sets (alert_id, count, people)
    SELECT alert_id, count(*), json_group_array(json_array(person_id, json(reasons)))
    FROM (SELECT alert_id, person_id, reasons FROM alert_recipients ORDER BY alert_id, person_id)
    GROUP BY alert_id;
DROP TABLE alert_recipients;

-- A fan-out: written in the transaction that stores the alert (or the
-- roll-call's wave), with the channels chosen then; the delivery rows of
-- its people (the alert's set, or the wave's silent) are then written in
-- steps, each step and its progress (done) in one transaction, so the first
-- deliveries leave while the rest are written and a restart goes on where
-- the last step ended.
CREATE TABLE fanouts (
    seq         INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    alert_id    TEXT NOT NULL,
    rollcall_id TEXT,
    wave        INTEGER NOT NULL DEFAULT 0,
    people      TEXT,
    channels    TEXT NOT NULL,
    total       INTEGER NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX fanouts_open ON fanouts(seq) WHERE done < total;
CREATE INDEX fanouts_alert ON fanouts(alert_id);
