-- 0002: sharing agreements between organisations, their grants, and the
-- pseudonyms under which one organisation's people appear to a partner.

-- An agreement between two organisations. Side a is the organisation that
-- proposed it (and accepted it by proposing); side b must accept. Each side
-- controls only its own state: active, suspended or revoked (final).
CREATE TABLE agreements (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organisations(id),  -- side a
    partner_id     TEXT NOT NULL REFERENCES organisations(id),  -- side b
    a_accepted_at  TEXT,
    a_accepted_by  TEXT,
    b_accepted_at  TEXT,
    b_accepted_by  TEXT,
    a_state        TEXT NOT NULL DEFAULT 'active',
    b_state        TEXT NOT NULL DEFAULT 'active',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK (org_id <> partner_id)
) STRICT;
CREATE INDEX agreements_partner ON agreements(partner_id);
CREATE INDEX agreements_org ON agreements(org_id);

-- One grant: grantor lets grantee see a category of its data at a level,
-- under a condition, within [valid_from, valid_to).
CREATE TABLE grants (
    id            TEXT PRIMARY KEY,
    agreement_id  TEXT NOT NULL REFERENCES agreements(id),
    org_id        TEXT NOT NULL REFERENCES organisations(id),  -- grantor
    grantee_id    TEXT NOT NULL REFERENCES organisations(id),
    category      TEXT NOT NULL,
    level         TEXT NOT NULL,
    condition     TEXT NOT NULL,
    valid_from    TEXT,
    valid_to      TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (agreement_id, org_id, category)
) STRICT;
CREATE INDEX grants_grantee ON grants(grantee_id);

-- A stable code per (person, partner), e.g. NB-0417: random, so it reveals
-- nothing, and different for each partner.
CREATE TABLE pseudonyms (
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    partner_id  TEXT NOT NULL REFERENCES organisations(id),
    code        TEXT NOT NULL,
    PRIMARY KEY (person_id, partner_id),
    UNIQUE (partner_id, code)
) STRICT;
