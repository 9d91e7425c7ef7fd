-- Tamper-evident audit log. Business transactions insert rows unsealed (chain_seq and hash NULL),
-- so they never wait on a shared lock; the sealer then appends them to a SHA-256 chain in one
-- short transaction that locks the single head row. Also records who (person) and from where.
ALTER TABLE audit_log ADD COLUMN actor_user_id TEXT;
ALTER TABLE audit_log ADD COLUMN client_addr TEXT;
ALTER TABLE audit_log ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;

-- Unique among sealed rows (NULLs do not collide on either database): a fork is impossible.
CREATE UNIQUE INDEX audit_log_chain_seq ON audit_log (chain_seq);
CREATE INDEX audit_log_unsealed ON audit_log (at, id) WHERE chain_seq IS NULL;

CREATE TABLE audit_chain_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
-- The genesis hash: 64 zeros.
INSERT INTO audit_chain_head (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
