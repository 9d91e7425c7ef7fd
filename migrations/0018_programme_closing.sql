-- Closing a programme with notice. `closes_on` is the last day its cheques are accepted: while
-- the programme is open, the planned day (at least 30 days ahead unless the operator forces it;
-- the daily job closes the programme the day after); once closed, the day it ended. A programme
-- closed before this migration ended on the day it was closed.
ALTER TABLE programs ADD COLUMN closes_on TEXT;
UPDATE programs SET closes_on = substr(closed_at, 1, 10) WHERE closed_at IS NOT NULL;

-- The notices of a planned close (30, 15 and 7 days before) already sent to distributors, sites
-- and beneficiaries: one per programme, planned day and milestone, so a rerun sends nothing
-- more, and a new date gets notices of its own.
CREATE TABLE programme_close_notices (
    program_id TEXT NOT NULL REFERENCES programs (id),
    closes_on TEXT NOT NULL,
    days_before BIGINT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (program_id, closes_on, days_before)
);
