-- Catalogue of each place, and what a redemption records of the session (national typology of
-- mediation sessions, ../shared/DOMAIN.md). Lists of identifiers are stored '|'-joined.

CREATE TABLE place_services (
    id TEXT PRIMARY KEY,
    place_id TEXT NOT NULL REFERENCES places (id),
    kind TEXT NOT NULL CHECK (kind IN ('individual_help', 'administrative_procedure', 'workshop')),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    themes TEXT NOT NULL DEFAULT '',
    minutes BIGINT NOT NULL CHECK (minutes > 0),
    price_cheques BIGINT NOT NULL CHECK (price_cheques BETWEEN 1 AND 10),
    -- A withdrawn service stays, so past redemptions keep naming it.
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX place_services_place ON place_services (place_id, active);

-- Where the session took place; NULL on redemptions made before places were named.
ALTER TABLE redemptions ADD COLUMN place_id TEXT REFERENCES places (id);
ALTER TABLE redemptions ADD COLUMN service_id TEXT REFERENCES place_services (id);
ALTER TABLE redemptions ADD COLUMN themes TEXT NOT NULL DEFAULT '';
-- 'at_site', 'at_home' or 'remote'.
ALTER TABLE redemptions ADD COLUMN location TEXT;
-- The cheques redeemed together for one session share the first one's redemption id; they are
-- undone together.
ALTER TABLE redemptions ADD COLUMN group_id TEXT;
CREATE INDEX redemptions_group ON redemptions (group_id);
