-- A second factor for people who log in: a TOTP secret (RFC 6238) and one-time recovery codes.
-- Sessions opened before it are ended: each now records how far its login went.

CREATE TABLE user_totp (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    -- Base32, as authenticator apps read it: a TOTP check needs the secret itself.
    secret TEXT NOT NULL,
    -- NULL while enrolling: the secret is only used once a first code confirmed it.
    confirmed_at TEXT,
    -- The last time step accepted: a code is never accepted twice (RFC 6238 §5.2).
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

DELETE FROM sessions;
-- 'signed' (fully signed in), 'code' (password checked, second factor awaited) or 'enrol'
-- (password checked, a second factor to set up before anything else).
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'signed';
