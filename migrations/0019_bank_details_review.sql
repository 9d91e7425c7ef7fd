-- Bank details a site asks for are pending until the operator has checked them against the
-- bank-details document (RIB) the site uploaded: the account approved last keeps being paid
-- meanwhile. Details recorded before this review existed were entered by the operator or at
-- qualification, so they count as approved.
ALTER TABLE site_bank_accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'approved'
    CHECK (status IN ('pending', 'approved', 'rejected', 'replaced'));
ALTER TABLE site_bank_accounts ADD COLUMN decided_at TEXT;
ALTER TABLE site_bank_accounts ADD COLUMN decided_by TEXT;
ALTER TABLE site_bank_accounts ADD COLUMN decision_reason TEXT;
CREATE INDEX site_bank_accounts_status ON site_bank_accounts (status, site_id);

-- The document shown to the operator, kept with its fingerprint: what was approved can be
-- proved to be what was seen.
CREATE TABLE bank_documents (
    account_id TEXT PRIMARY KEY REFERENCES site_bank_accounts (id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
);
