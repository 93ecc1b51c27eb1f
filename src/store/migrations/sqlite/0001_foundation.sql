-- 0001: organisations, accounts, registry, audit trail.
-- Times are RFC 3339 UTC text (sortable); session times are epoch ms.
-- Every registry row carries org_id: organisation isolation starts here.

-- An organisation owns itself (org_id = id), so the one ownership rule
-- covers it like every other record.
CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    is_root     INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    geometry    TEXT NOT NULL,
    radius_m    REAL,
    address     TEXT,
    notes       TEXT,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX sites_org ON sites(org_id, id);

CREATE TABLE people (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organisations(id),
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    job               TEXT,
    nationality       TEXT,
    phone             TEXT,
    email             TEXT,
    emergency_contact TEXT,
    home_site_id      TEXT REFERENCES sites(id),
    status            TEXT NOT NULL,
    notes             TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;
CREATE INDEX people_org ON people(org_id, id);
CREATE INDEX people_home_site ON people(home_site_id);

CREATE TABLE vehicles (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organisations(id),
    registration  TEXT NOT NULL,
    make_model    TEXT,
    colour        TEXT,
    armoured      INTEGER NOT NULL DEFAULT 0,
    seats         INTEGER,
    notes         TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (org_id, registration)
) STRICT;

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    person_id   TEXT REFERENCES people(id),
    vehicle_id  TEXT REFERENCES vehicles(id),
    key_hash    TEXT UNIQUE,
    notes       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX devices_org ON devices(org_id, id);
CREATE INDEX devices_person ON devices(person_id);
CREATE INDEX devices_vehicle ON devices(vehicle_id);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organisations(id),
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT,
    role           TEXT NOT NULL,
    person_id      TEXT REFERENCES people(id),
    password_hash  TEXT NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX users_org ON users(org_id, id);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations(id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    revoked     INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX api_keys_org ON api_keys(org_id, id);

-- Sessions are credentials, not records: they are not part of the audited
-- state (logins and logouts are audited as events).
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);

-- Append-only, hash-chained. hash = SHA-256 over the entry and prev_hash;
-- row_hash is the hash of the object's row after the change (NULL for events
-- and deletions), so `audit verify` can tell a row edited behind the trail.
CREATE TABLE audit (
    seq          INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    org_id       TEXT,
    action       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT,
    changes      TEXT NOT NULL,
    row_hash     TEXT,
    request_id   TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
) STRICT;
CREATE INDEX audit_object ON audit(object_type, object_id);

-- The signed head of the chain, rewritten by every commit that appends.
CREATE TABLE audit_checkpoint (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seq        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    signature  TEXT NOT NULL,
    public_key TEXT NOT NULL,
    at         TEXT NOT NULL
) STRICT;
