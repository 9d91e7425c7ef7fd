-- People who log in to the web application: each belongs to one organisation, as its admin or
-- an agent. Sessions live in the database so that several instances can serve them.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    -- Lower-cased.
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    -- NULL until the invitation is accepted.
    password_hash TEXT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    disabled_at TEXT
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- One-time links sent by e-mail to set a password.
CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    expires_at TEXT NOT NULL,
    used_at TEXT
);

-- "Je donne mon avis": anonymous satisfaction left from the link printed on a carnet.
CREATE TABLE feedback (
    id TEXT PRIMARY KEY,
    pass_id TEXT NOT NULL REFERENCES passes (id),
    rating BIGINT NOT NULL CHECK (rating >= 1 AND rating <= 5),
    comment TEXT,
    created_at TEXT NOT NULL
);
