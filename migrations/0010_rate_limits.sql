-- Rate-limit counters shared by every passnum instance on one PostgreSQL (scale-out): one row
-- per limiter and key, reset when its fixed window changes. SQLite runs a single instance and
-- counts in memory, so it leaves this table empty.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
