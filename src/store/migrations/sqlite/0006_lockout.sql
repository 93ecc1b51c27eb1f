-- 0006: failed-login lockout per account, in the store: other traffic cannot
-- evict it, a restart keeps it, and several servers will share it. Not part of
-- the audited users row (a failed login is no change to the account).
CREATE TABLE login_lockout (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    failures        INTEGER NOT NULL,
    first_ms        INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL
) WITHOUT ROWID;
