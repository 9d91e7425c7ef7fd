-- Settlement: sites' bank details, batches paying sites for redeemed cheques, and the audit
-- trail of who did what.

-- Append-only: a change of bank details adds a row; a batch keeps the row it was made with.
CREATE TABLE site_bank_accounts (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES organizations (id),
    iban TEXT NOT NULL,
    bic TEXT,
    holder TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX site_bank_accounts_site ON site_bank_accounts (site_id, created_at);

CREATE TABLE settlements (
    id TEXT PRIMARY KEY,
    until_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'exported', 'paid')),
    total_cents BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    approved_at TEXT,
    approved_by TEXT,
    exported_at TEXT,
    exported_by TEXT,
    paid_at TEXT,
    paid_by TEXT
);

-- One line per site and programme: one credit transfer.
CREATE TABLE settlement_lines (
    id TEXT PRIMARY KEY,
    settlement_id TEXT NOT NULL REFERENCES settlements (id),
    site_id TEXT NOT NULL REFERENCES organizations (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    redemptions BIGINT NOT NULL,
    -- Newly settled redemptions, and amounts of earlier lines the bank rejected, paid again.
    settled_cents BIGINT NOT NULL CHECK (settled_cents >= 0),
    carried_cents BIGINT NOT NULL CHECK (carried_cents >= 0),
    -- Operator fee kept on the newly settled amount: amount = settled - fee + carried.
    fee_cents BIGINT NOT NULL CHECK (fee_cents >= 0),
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    bank_account_id TEXT NOT NULL REFERENCES site_bank_accounts (id),
    end_to_end_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'rejected')),
    rejected_at TEXT,
    rejection_reason TEXT,
    -- The later line that pays again what the bank rejected.
    carried_into TEXT
);
CREATE INDEX settlement_lines_batch ON settlement_lines (settlement_id);
CREATE INDEX settlement_lines_site ON settlement_lines (site_id);
CREATE INDEX redemptions_settlement ON redemptions (settlement_id, site_id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor_org_id TEXT,
    action TEXT NOT NULL,
    subject_id TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject_id);
