-- Outcomes recorded where they happen (issue 27, point 1): at issuance the level of help the
-- person needs and optional anonymous facts, each from a fixed list (src/outcomes); at
-- redemption the level of help given; a workshop taking cheques of several carnets with its
-- attendance count. Older carnets and redemptions have none of it (NULL).
ALTER TABLE passes ADD COLUMN help_level TEXT
    CHECK (help_level IN ('emergency', 'inclusion', 'upskilling'));
ALTER TABLE passes ADD COLUMN age_bracket TEXT
    CHECK (age_bracket IN ('under_26', '26_44', '45_64', '65_plus'));
ALTER TABLE passes ADD COLUMN situation TEXT
    CHECK (situation IN ('job_seeker', 'employed', 'retired', 'student', 'other'));
ALTER TABLE passes ADD COLUMN priority_area TEXT
    CHECK (priority_area IN ('yes', 'no', 'unknown'));
ALTER TABLE passes ADD COLUMN rural TEXT
    CHECK (rural IN ('yes', 'no', 'unknown'));
ALTER TABLE redemptions ADD COLUMN help_level TEXT
    CHECK (help_level IN ('emergency', 'inclusion', 'upskilling'));

-- A collective session: its cheques (one or more per carnet) are redemptions sharing its id as
-- group_id, each its own ledger transaction; this row says how many people attended.
CREATE TABLE workshops (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES organizations (id),
    place_id TEXT REFERENCES places (id),
    kind TEXT NOT NULL DEFAULT 'workshop',
    attendees BIGINT NOT NULL CHECK (attendees > 0),
    carnets BIGINT NOT NULL CHECK (carnets > 0 AND carnets <= attendees),
    cheques BIGINT NOT NULL CHECK (cheques >= carnets),
    minutes BIGINT,
    themes TEXT NOT NULL DEFAULT '',
    location TEXT,
    help_level TEXT CHECK (help_level IN ('emergency', 'inclusion', 'upskilling')),
    held_at TEXT NOT NULL
);
CREATE INDEX workshops_site ON workshops (site_id, held_at);

-- The same, on the lines of a file of carnets (checked when the file is read).
ALTER TABLE carnet_file_lines ADD COLUMN help_level TEXT;
ALTER TABLE carnet_file_lines ADD COLUMN age_bracket TEXT;
ALTER TABLE carnet_file_lines ADD COLUMN situation TEXT;
ALTER TABLE carnet_file_lines ADD COLUMN priority_area TEXT;
ALTER TABLE carnet_file_lines ADD COLUMN rural TEXT;
