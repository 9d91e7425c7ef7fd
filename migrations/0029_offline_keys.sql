-- The public halves of the Ed25519 keys that sign the cheques' offline payloads (PN2) and the
-- revocation list, as published at /api/v1/public/keys: when each key was first seen signing
-- and when it stopped verifying. The private halves are never stored here: they are derived
-- from the signing keys, which live in the keys file or the environment, never the database.
CREATE TABLE offline_keys (
    key_id TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL CHECK (algorithm IN ('Ed25519')),
    public_key TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    retired_at TEXT
);
