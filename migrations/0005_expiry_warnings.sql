-- Warnings sent before cheques expire (30 and 7 days before), so each is sent once.
CREATE TABLE expiry_warnings (
    program_id TEXT NOT NULL REFERENCES programs (id),
    org_id TEXT NOT NULL REFERENCES organizations (id),
    expires_on TEXT NOT NULL,
    days_before BIGINT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (program_id, org_id, expires_on, days_before)
);
