-- The funder's view of what the money did (stats::outcomes) reads a programme's redemptions,
-- carnets and ledger transactions by date: without these it scans every programme's rows.
-- Each index carries the columns its query sums, so the rows themselves are seldom read.
CREATE INDEX redemptions_program ON redemptions (program_id, redeemed_at, undone_at);
CREATE INDEX passes_program ON passes (program_id, created_at);
CREATE INDEX ledger_transactions_program_at ON ledger_transactions (program_id, created_at, kind, amount_cents);
