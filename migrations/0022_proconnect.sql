-- ProConnect (OpenID Connect): logins under way, people's identifiers at the provider, the ID
-- token a session was opened with (to end the provider's session too), and agents asking to
-- join an organisation.

-- One row per login sent to the provider, used once by its callback.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject);

ALTER TABLE sessions ADD COLUMN id_token TEXT;

-- An agent known to ProConnect offered to join an organisation (its SIRET or the domain of
-- its people's addresses matched): 'offered', then 'pending' once asked, then 'approved' or
-- 'refused' by an administrator of that organisation.
CREATE TABLE membership_requests (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    oidc_subject TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    matched_by TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT
);
CREATE INDEX membership_requests_org ON membership_requests (org_id, status);
