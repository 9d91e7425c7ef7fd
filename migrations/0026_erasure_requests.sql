-- When a carnet's e-mail (asked by its holder) or beneficiary reference (asked of its
-- distributor) was erased on request: the erasure happens once, and the holder is told when.
ALTER TABLE passes ADD COLUMN email_erased_at TEXT;
ALTER TABLE passes ADD COLUMN beneficiary_ref_erased_at TEXT;
