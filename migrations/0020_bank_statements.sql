-- The payer account's statements as the bank delivers them (camt.053): each booked entry is
-- matched to what it pays or brings (a funding received, a batch's transfers, a transfer the
-- bank returned) or left for a person to match by hand.
CREATE TABLE bank_statements (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    statement_ref TEXT NOT NULL,
    account_iban TEXT,
    opening_cents BIGINT,
    closing_cents BIGINT,
    closing_date TEXT,
    entries BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    UNIQUE (message_id, statement_ref)
);

CREATE TABLE bank_entries (
    id TEXT PRIMARY KEY,
    statement_id TEXT NOT NULL REFERENCES bank_statements (id),
    position BIGINT NOT NULL,
    -- The bank's own reference for the entry, or a digest of what identifies it: an entry
    -- repeated in a later statement is recorded once.
    entry_key TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL CHECK (direction IN ('credit', 'debit')),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    booking_date TEXT,
    reference TEXT NOT NULL,
    counterparty TEXT,
    return_reason TEXT,
    kind TEXT NOT NULL
        CHECK (kind IN ('funding', 'batch', 'bank_return', 'unmatched', 'set_aside')),
    matched_id TEXT,
    note TEXT,
    matched_at TEXT,
    matched_by TEXT
);
CREATE INDEX bank_entries_kind ON bank_entries (kind, booking_date);

-- A funding is declared by its funder and confirmed when the money is seen on the statement.
ALTER TABLE fundings ADD COLUMN status TEXT NOT NULL DEFAULT 'declared'
    CHECK (status IN ('declared', 'confirmed'));
ALTER TABLE fundings ADD COLUMN confirmed_at TEXT;
ALTER TABLE fundings ADD COLUMN bank_entry_id TEXT;

-- A programme may ask that only money seen on the statement backs its allocations.
ALTER TABLE programs ADD COLUMN confirmed_funding_only BIGINT NOT NULL DEFAULT 0;
