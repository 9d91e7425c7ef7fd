-- One row per carnet instead of one per carnet and group (src/stats/figures/carnets.rs): a
-- redemption appended six rows' worth of upserts for the funder's people, which cost it a
-- third of its rate at saturation (BENCHMARKS.md, run Y). `uses` holds one short mark per
-- live cheque used (place, département, kind, level, Paris day); the groups are counted from
-- them in memory.
DROP TABLE carnet_uses;
CREATE TABLE carnet_uses (
    pass_id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL,
    distributor_id TEXT NOT NULL,
    cheques BIGINT NOT NULL,
    uses TEXT NOT NULL
);

-- Counted again from the redemptions at the next start, as when the figures first appeared.
DELETE FROM figures_rebuild;
INSERT INTO figures_rebuild (pending) VALUES (1);
