-- API tokens: when each was last used (noted at most once an hour), so that the operator sees
-- it and a token unused for too long expires; and who revoked one.
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_by TEXT;
CREATE INDEX api_tokens_org ON api_tokens (org_id);
