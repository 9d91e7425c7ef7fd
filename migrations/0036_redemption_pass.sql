-- The funder's view counts people (carnets) among a programme's redemptions: each redemption
-- names its carnet, written with it from the cheque taken (src/redemption/record.rs), so that
-- counting needs no join to every cheque. Older rows get theirs from their cheque.
ALTER TABLE redemptions ADD COLUMN pass_id TEXT REFERENCES passes (id);
UPDATE redemptions SET pass_id = (SELECT v.pass_id FROM vouchers v WHERE v.id = redemptions.voucher_id);
-- The programme's index carries the carnet, so that people are counted from it alone.
DROP INDEX redemptions_program;
CREATE INDEX redemptions_program ON redemptions (program_id, redeemed_at, undone_at, pass_id);
