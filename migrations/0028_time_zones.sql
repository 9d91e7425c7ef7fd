-- Local time overseas: places, programmes and organisations live in the time zone of their
-- département or collectivité (972 America/Martinique, 988 Pacific/Noumea…), derived when
-- needed (see src/platform/zones.rs). This column overrides it when set: a name of the tz
-- database, checked when written.
ALTER TABLE places ADD COLUMN time_zone TEXT;
ALTER TABLE programs ADD COLUMN time_zone TEXT;
ALTER TABLE organizations ADD COLUMN time_zone TEXT;
