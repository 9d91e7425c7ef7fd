-- People helped over one Paris month, by group, counted once the month is final
-- (src/stats/months.rs): a redemption is dated when it is recorded and can be undone only
-- within the undo window, so a month that ended longer ago than that never changes. A month
-- of a programme is read from here once `figure_closed_months` holds it; people do not add up
-- across days, so a month counted from its redemptions reads all of them (a second over a
-- national programme's month).
CREATE TABLE figure_closed_months (
    program_id TEXT NOT NULL REFERENCES programs (id),
    month TEXT NOT NULL,
    counted_at TEXT NOT NULL,
    PRIMARY KEY (program_id, month)
);
CREATE TABLE figure_month_people (
    program_id TEXT NOT NULL,
    month TEXT NOT NULL,
    dimension TEXT NOT NULL,
    key TEXT NOT NULL,
    people BIGINT NOT NULL,
    PRIMARY KEY (program_id, month, dimension, key)
);
