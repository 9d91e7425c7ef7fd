-- A distributor's `outstanding` account is touched by every redemption, cancellation and expiry
-- of its cheques: one balance row updated by all of them made redemptions of one distributor
-- run one at a time on PostgreSQL (row lock held until COMMIT). Its flows are now kept in 16
-- slot rows per kind, a posting picking one at random, and its balance is the sum of its flows
-- (still a handful of maintained rows, never a scan). Other accounts keep slot 0 and their
-- `balance_cents`.
CREATE TABLE ledger_flows_slotted (
    account_id TEXT NOT NULL REFERENCES ledger_accounts (id),
    kind TEXT NOT NULL,
    slot BIGINT NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs (id),
    code TEXT NOT NULL,
    org_id TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, slot)
);
INSERT INTO ledger_flows_slotted (account_id, kind, slot, program_id, code, org_id, amount_cents)
SELECT account_id, kind, 0, program_id, code, org_id, amount_cents FROM ledger_flows;
DROP TABLE ledger_flows;
ALTER TABLE ledger_flows_slotted RENAME TO ledger_flows;
CREATE INDEX ledger_flows_program ON ledger_flows (program_id);
CREATE INDEX ledger_flows_org ON ledger_flows (org_id);

-- Its balance is now the sum of its flows, which `ledger verify` has always checked equal.
UPDATE ledger_accounts SET balance_cents = 0 WHERE code = 'outstanding';
