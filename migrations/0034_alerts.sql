-- Patterns a funder would want to question (a carnet used up at one place in one day,
-- sessions outside a place's opening hours, a distributor's carnets mostly used at one site, a
-- site far above its usual rate), found by the periodic job with their evidence. One alert per
-- pattern and subject: finding it again changes nothing.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN
        ('carnet_in_one_day', 'outside_hours', 'distributor_concentration', 'rate_spike')),
    -- What the alert is about, unique per kind: a carnet, a place and a day, a distributor and
    -- a site, a site and a week.
    subject TEXT NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs (id),
    site_id TEXT REFERENCES organizations (id),
    distributor_id TEXT REFERENCES organizations (id),
    -- One sentence, and the facts behind it, one per line, in French.
    summary TEXT NOT NULL,
    evidence TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    reviewed_at TEXT,
    reviewed_by_org TEXT REFERENCES organizations (id),
    review_note TEXT
);
CREATE UNIQUE INDEX alerts_one_per_subject ON alerts (kind, subject);
CREATE INDEX alerts_program ON alerts (program_id, detected_at);

-- Up to when redemptions were looked at by the per-session patterns, so that each run reads
-- only what is new.
CREATE TABLE alert_scans (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    scanned_until TEXT NOT NULL
);
