-- A transfer the bank returned: its ISO 20022 reason code, and when the operator released its
-- amount to be sent again to the same account. Until then, or until the site's bank details
-- change, the amount is held: a closed account is never paid twice in a row.
ALTER TABLE settlement_lines ADD COLUMN rejection_code TEXT;
ALTER TABLE settlement_lines ADD COLUMN released_at TEXT;
