-- Personal data kept only as long as needed (issue 28): client addresses in the audit journal
-- are truncated after a while, so the chain hashes, from now on, the network kept for good and a
-- salted commitment to the full address (format 2, see src/audit/chain/mod.rs). Rows sealed
-- before hash the full address (format 1) until the retention job converts them.
ALTER TABLE audit_log ADD COLUMN chain_format BIGINT;
ALTER TABLE audit_log ADD COLUMN client_addr_digest TEXT;
ALTER TABLE audit_log ADD COLUMN client_addr_salt TEXT;
UPDATE audit_log SET chain_format = 1 WHERE chain_seq IS NOT NULL;
-- The rows whose address is still full, by age: what the daily job truncates.
CREATE INDEX audit_log_full_addr ON audit_log (at) WHERE client_addr_salt IS NOT NULL;

-- A person's account erased after a long inactivity stays as a row without anything personal,
-- so that the journal and the ledger still name an existing id.
ALTER TABLE users ADD COLUMN erased_at TEXT;
