-- Settlement lines cover periods of redemption time instead of marking every redemption they
-- pay: a batch over a million redemptions wrote a million rows (and their index entries) only
-- to say which batch holds them.
--
-- A line made from now on pays the redemptions of its site and programme, not undone, whose
-- `redeemed_at` falls in [period_start, period_end), and that no batch made before this
-- migration claimed. Periods are per site: the lines a batch makes for one site share one
-- period, from the end of that site's latest period ('' when it has none) to the batch's
-- cutoff, so a site's periods follow one another without gap or overlap. A line without
-- redemptions to pay (only a rejected transfer carried over) has no period.
ALTER TABLE settlement_lines ADD COLUMN period_start TEXT;
ALTER TABLE settlement_lines ADD COLUMN period_end TEXT;

-- Two batches prepared at the same moment read the same end of the site's latest period, so
-- their lines for one site and programme start at the same point: the second cannot be
-- inserted (NULLs, lines without a period, are never equal here).
CREATE UNIQUE INDEX settlement_lines_period ON settlement_lines (site_id, program_id, period_start);

-- Lines made before this migration keep the redemptions they claimed, as they claimed them:
-- `redemptions.settlement_id` names their batch and is never written again. No period can
-- stand for those claims in general: a redemption committed after a batch's cutoff had passed
-- it (possible with a short undo window) was claimed by a later batch, so one line's claims
-- need not be a span of time. Their lines keep period_start and period_end NULL, and a site's
-- first period starts at '', the redemptions claimed before being left out by their
-- settlement_id. The column is not dropped: SQLite rewrites every row to drop a column, and
-- the old claims still need it.
--
-- Only those old claims are indexed now, so a new redemption (settlement_id NULL) adds nothing
-- to this index.
DROP INDEX redemptions_settlement;
CREATE INDEX redemptions_settled_before_periods ON redemptions (settlement_id, site_id)
    WHERE settlement_id IS NOT NULL;

-- A batch's statements read its lines site by site: in that order, SQLite can group the
-- cheques of each line as it reads them instead of sorting all of them first.
DROP INDEX settlement_lines_batch;
CREATE INDEX settlement_lines_batch ON settlement_lines (settlement_id, site_id, id);
