-- A settlement batch sums what each site is owed since its last period from its redemptions
-- (src/settlement/repo.rs, `payable`): with the programme, amount and states in the site's
-- index, it reads that index alone instead of one table row per redemption, scattered over
-- the whole table (a million redemptions on SQLite: 1.45 s -> 0.77 s).
DROP INDEX redemptions_site;
CREATE INDEX redemptions_site ON redemptions
    (site_id, redeemed_at, program_id, value_cents, undone_at, settlement_id);
