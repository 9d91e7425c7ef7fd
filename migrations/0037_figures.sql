-- The funder's view reads figures kept as they happen (src/stats/figures.rs) instead of
-- every redemption: a programme of a million cheques answers in a few thousand rows.
--
-- Additive figures by Paris day ('d', at = YYYY-MM-DD) and month ('m', at = YYYY-MM), so that
-- a period reads its whole months and the days at either end. `axis` says what k1..k3 are:
-- 'place' (distributor, place), 'help' (kind, level, themes), 'carnet' (distributor: the
-- carnets' events), 'money' (ledger kind). Concurrent writers spread a hot cell over `slot`s.
CREATE TABLE figure_cells (
    program_id TEXT NOT NULL,
    axis TEXT NOT NULL,
    span TEXT NOT NULL,
    at TEXT NOT NULL,
    k1 TEXT NOT NULL,
    k2 TEXT NOT NULL,
    k3 TEXT NOT NULL,
    slot BIGINT NOT NULL,
    cheques BIGINT NOT NULL DEFAULT 0,
    cents BIGINT NOT NULL DEFAULT 0,
    sessions BIGINT NOT NULL DEFAULT 0,
    minutes BIGINT NOT NULL DEFAULT 0,
    answers BIGINT NOT NULL DEFAULT 0,
    marks BIGINT NOT NULL DEFAULT 0,
    issued BIGINT NOT NULL DEFAULT 0,
    handed_out BIGINT NOT NULL DEFAULT 0,
    started BIGINT NOT NULL DEFAULT 0,
    finished BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (program_id, axis, span, at, k1, k2, k3, slot)
);

-- People helped over a programme's whole life: carnets with a live redemption, by group
-- ('distributor', 'place', 'department', 'month', 'kind', 'level').
CREATE TABLE figure_people (
    program_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    key TEXT NOT NULL,
    slot BIGINT NOT NULL,
    people BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (program_id, dimension, key, slot)
);

-- Per carnet and group, its live cheques used there: a carnet counts among a group's people
-- while it has one; the 'distributor' row also says when it was first and last used.
CREATE TABLE carnet_uses (
    pass_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    key TEXT NOT NULL,
    program_id TEXT NOT NULL,
    cheques BIGINT NOT NULL,
    live BIGINT NOT NULL,
    first_at TEXT,
    last_at TEXT,
    PRIMARY KEY (pass_id, dimension, key)
);

-- Existing data is counted once at the next start (days in Paris time need the application).
CREATE TABLE figures_rebuild (pending BIGINT NOT NULL);
INSERT INTO figures_rebuild (pending) VALUES (1);
