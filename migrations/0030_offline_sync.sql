-- Redemption without a network (issue 26): a site's console records sessions on the device and
-- sends them when back online. Each device is registered by its site and has an allowance (how
-- many cheques, how many days it may hold before it must sync); each record it sends is kept
-- under (device, sequence) with the outcome it got, so that a record sent again answers the same
-- and changes nothing.

CREATE TABLE offline_devices (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES organizations (id),
    label TEXT NOT NULL,
    -- NULL: the site's default allowance, or else the platform's.
    max_cheques BIGINT CHECK (max_cheques > 0),
    max_days BIGINT CHECK (max_days > 0),
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_sync_at TEXT
);
CREATE INDEX offline_devices_site ON offline_devices (site_id, created_at);

-- A site's default allowance for its devices, set by the operator.
CREATE TABLE offline_site_allowances (
    site_id TEXT PRIMARY KEY REFERENCES organizations (id),
    max_cheques BIGINT NOT NULL CHECK (max_cheques > 0),
    max_days BIGINT NOT NULL CHECK (max_days > 0),
    updated_at TEXT NOT NULL
);

-- Every record a device sent, once: the primary key is what makes a replay harmless.
CREATE TABLE offline_records (
    device_id TEXT NOT NULL REFERENCES offline_devices (id),
    seq BIGINT NOT NULL,
    site_id TEXT NOT NULL,
    -- The record's content, hashed: the same sequence sent with other content is refused.
    request_hash TEXT NOT NULL,
    -- When the session took place (UTC) and the offset the device gave with it.
    session_at TEXT NOT NULL,
    session_offset TEXT NOT NULL,
    received_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'conflict', 'refused')),
    redemption_id TEXT,
    reason_code TEXT,
    reason TEXT,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX offline_records_site ON offline_records (site_id, received_at);

-- A cheque recorded offline that had already been redeemed: where and when it was used.
CREATE TABLE offline_conflicts (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    site_id TEXT NOT NULL,
    code TEXT NOT NULL,
    session_at TEXT NOT NULL,
    used_redemption_id TEXT,
    used_site_name TEXT,
    used_place_name TEXT,
    used_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX offline_conflicts_site ON offline_conflicts (site_id, created_at);

-- A redemption synced from a device: `redeemed_at` stays the moment it entered the books (the
-- sync), which settlement periods and the ledger follow, so that a late sync is paid by the next
-- batch; `session_at` is when the help was given, shown to people.
ALTER TABLE redemptions ADD COLUMN session_at TEXT;
ALTER TABLE redemptions ADD COLUMN device_id TEXT;
