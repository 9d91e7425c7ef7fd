-- One schema for SQLite and PostgreSQL: only BIGINT and TEXT columns, UUIDs and timestamps as
-- text (fixed-width UTC, so text order is time order), dates as YYYY-MM-DD, booleans as 0/1.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('operator', 'funder', 'distributor', 'site')),
    name TEXT NOT NULL,
    siret TEXT,
    department TEXT,
    postcode TEXT,
    -- Sites only: redeeming needs status 'qualified' and a current valid_until.
    qualification_status TEXT NOT NULL DEFAULT 'none'
        CHECK (qualification_status IN ('none', 'qualified', 'suspended')),
    qualified_until TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE programs (
    id TEXT PRIMARY KEY,
    funder_id TEXT NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    budget_cents BIGINT NOT NULL CHECK (budget_cents > 0),
    cheque_value_cents BIGINT NOT NULL CHECK (cheque_value_cents > 0),
    validity_days BIGINT NOT NULL CHECK (validity_days > 0),
    -- Days after a cheque's printed expiry date during which it is still accepted.
    grace_days BIGINT NOT NULL DEFAULT 0 CHECK (grace_days >= 0),
    -- Operator fee kept at settlement: a rate in basis points (400 = 4 %) and/or a fixed amount
    -- per cheque.
    fee_rate_bp BIGINT NOT NULL DEFAULT 0 CHECK (fee_rate_bp >= 0 AND fee_rate_bp <= 2000),
    fee_per_cheque_cents BIGINT NOT NULL DEFAULT 0 CHECK (fee_per_cheque_cents >= 0),
    department TEXT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX programs_funder ON programs (funder_id);

CREATE TABLE fundings (
    id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES programs (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    reference TEXT NOT NULL,
    received_at TEXT NOT NULL,
    UNIQUE (program_id, reference)
);

CREATE TABLE allocations (
    id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES programs (id),
    distributor_id TEXT NOT NULL REFERENCES organizations (id),
    cheques BIGINT NOT NULL CHECK (cheques > 0),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    created_at TEXT NOT NULL
);
CREATE INDEX allocations_distributor ON allocations (distributor_id, program_id);

CREATE TABLE passes (
    id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES programs (id),
    distributor_id TEXT NOT NULL REFERENCES organizations (id),
    pass_code TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('inactive', 'active', 'cancelled')),
    beneficiary_ref TEXT,
    email TEXT,
    cheques BIGINT NOT NULL CHECK (cheques IN (5, 10)),
    expires_on TEXT NOT NULL,
    created_at TEXT NOT NULL,
    activated_at TEXT,
    cancelled_at TEXT
);
CREATE INDEX passes_distributor ON passes (distributor_id, created_at);

CREATE TABLE vouchers (
    id TEXT PRIMARY KEY,
    pass_id TEXT NOT NULL REFERENCES passes (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    distributor_id TEXT NOT NULL REFERENCES organizations (id),
    position BIGINT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    key_id TEXT NOT NULL,
    value_cents BIGINT NOT NULL CHECK (value_cents > 0),
    -- The date printed on the cheque, and the last day it is accepted (expiry plus grace).
    expires_on TEXT NOT NULL,
    redeemable_until TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('inactive', 'valid', 'redeemed', 'cancelled', 'expired')),
    status_changed_at TEXT
);
CREATE INDEX vouchers_pass ON vouchers (pass_id, position);
CREATE INDEX vouchers_expiry ON vouchers (status, redeemable_until);

CREATE TABLE redemptions (
    id TEXT PRIMARY KEY,
    voucher_id TEXT NOT NULL REFERENCES vouchers (id),
    site_id TEXT NOT NULL REFERENCES organizations (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    distributor_id TEXT NOT NULL REFERENCES organizations (id),
    value_cents BIGINT NOT NULL CHECK (value_cents > 0),
    service TEXT,
    minutes BIGINT,
    redeemed_at TEXT NOT NULL,
    undone_at TEXT,
    settlement_id TEXT
);
-- The last line of defence against double redemption: one live redemption per cheque.
CREATE UNIQUE INDEX redemptions_one_live_per_voucher ON redemptions (voucher_id)
    WHERE undone_at IS NULL;
CREATE INDEX redemptions_site ON redemptions (site_id, redeemed_at);

-- Double-entry ledger. Accounts are per programme; their id is derived from
-- (programme, code, organisation) so posting needs no look-up.
CREATE TABLE ledger_accounts (
    id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES programs (id),
    code TEXT NOT NULL,
    org_id TEXT NOT NULL,
    balance_cents BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ledger_accounts_program ON ledger_accounts (program_id, code);

CREATE TABLE ledger_transactions (
    id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES programs (id),
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    created_at TEXT NOT NULL
);
CREATE INDEX ledger_transactions_program ON ledger_transactions (program_id, kind);

CREATE TABLE ledger_entries (
    transaction_id TEXT NOT NULL REFERENCES ledger_transactions (id),
    line BIGINT NOT NULL,
    account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    -- Debits positive, credits negative: a transaction's lines sum to zero.
    amount_cents BIGINT NOT NULL CHECK (amount_cents <> 0),
    PRIMARY KEY (transaction_id, line)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id);

-- Cumulative flow per account and transaction kind (signed like the entries), maintained with
-- each posting so that reconciliation, overall or per distributor, site or département, reads a
-- handful of rows instead of scanning the ledger.
CREATE TABLE ledger_flows (
    account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    kind TEXT NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs (id),
    code TEXT NOT NULL,
    org_id TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind)
);
CREATE INDEX ledger_flows_program ON ledger_flows (program_id);

-- Replay store for POST/DELETE retries, written in the same transaction as the work it answers.
CREATE TABLE idempotency_keys (
    org_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    response_body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, idempotency_key)
);
