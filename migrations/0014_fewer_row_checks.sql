-- Foreign keys that every redemption made PostgreSQL check row by row (one lookup and one
-- FOR KEY SHARE lock per key and row, in its RI triggers: a quarter of the database's CPU
-- per redemption in a profile of the redemption bench) are dropped where the value is
-- copied, in the same statement, from a row that carries its own check:
--
-- * a redemption's site, programme and distributor: the site is the organisation of the
--   token that asked (`api_tokens` references it), the programme and distributor are the
--   cheque's own (`vouchers` and `passes` reference them); its cheque, place and service keep
--   their keys;
-- * a ledger entry's transaction and account: entries are only ever written by
--   `ledger::write`, in the statement that writes their transaction and creates their
--   accounts; `passnum ledger verify` reports any entry without them.
--
-- SQLite cannot drop a constraint: both tables are rebuilt, as in 0011.

CREATE TABLE redemptions_next (
    id TEXT PRIMARY KEY,
    voucher_id TEXT NOT NULL REFERENCES vouchers (id),
    site_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    distributor_id TEXT NOT NULL,
    value_cents BIGINT NOT NULL CHECK (value_cents > 0),
    service TEXT,
    minutes BIGINT,
    redeemed_at TEXT NOT NULL,
    undone_at TEXT,
    settlement_id TEXT,
    place_id TEXT REFERENCES places (id),
    service_id TEXT REFERENCES place_services (id),
    themes TEXT NOT NULL DEFAULT '',
    location TEXT,
    group_id TEXT,
    code TEXT
);
INSERT INTO redemptions_next (id, voucher_id, site_id, program_id, distributor_id, value_cents,
    service, minutes, redeemed_at, undone_at, settlement_id, place_id, service_id, themes,
    location, group_id, code)
SELECT id, voucher_id, site_id, program_id, distributor_id, value_cents, service, minutes,
    redeemed_at, undone_at, settlement_id, place_id, service_id, themes, location, group_id,
    code
FROM redemptions;
DROP TABLE redemptions;
ALTER TABLE redemptions_next RENAME TO redemptions;
-- The last line of defence against double redemption: one live redemption per cheque.
CREATE UNIQUE INDEX redemptions_one_live_per_voucher ON redemptions (voucher_id)
    WHERE undone_at IS NULL;
CREATE INDEX redemptions_site ON redemptions (site_id, redeemed_at);
CREATE INDEX redemptions_group ON redemptions (group_id);
CREATE INDEX redemptions_settled_before_periods ON redemptions (settlement_id, site_id)
    WHERE settlement_id IS NOT NULL;

CREATE TABLE ledger_entries_next (
    transaction_id TEXT NOT NULL,
    line BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    -- Debits positive, credits negative: a transaction's lines sum to zero.
    amount_cents BIGINT NOT NULL CHECK (amount_cents <> 0),
    PRIMARY KEY (transaction_id, line)
);
INSERT INTO ledger_entries_next (transaction_id, line, account_id, amount_cents)
SELECT transaction_id, line, account_id, amount_cents FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_next RENAME TO ledger_entries;
CREATE INDEX ledger_entries_account ON ledger_entries (account_id);
