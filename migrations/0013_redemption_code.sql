-- The cheque's code on its redemption (a cheque's code never changes): a settlement's
-- statements and a site's history list the codes of the cheques without a look-up in
-- `vouchers` for each (a million random reads for a batch's statements on PostgreSQL).
ALTER TABLE redemptions ADD COLUMN code TEXT;
UPDATE redemptions SET code = (SELECT v.code FROM vouchers v WHERE v.id = redemptions.voucher_id);
