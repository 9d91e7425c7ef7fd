-- Transactional outbox for e-mail: a message is written in the transaction of the business
-- change it reports, so it exists if and only if that change committed; a background sender
-- delivers it over SMTP afterwards.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    -- JSON array of {"filename", "content_type", "base64"}: columns stay TEXT on both databases.
    attachments TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    -- While a sender holds a message, this is pushed forward by a lease so no one else takes it.
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
