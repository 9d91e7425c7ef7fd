-- When each session was last used (written at most every five minutes), shown to its owner.
ALTER TABLE sessions ADD COLUMN last_used_at TEXT;
