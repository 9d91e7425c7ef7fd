-- What a one-time link is for: an invitation to choose a first password, or a reset of a
-- forgotten one. A link that has served or expired then says what to do next (ask the
-- administrator for a new invitation, or ask a new reset link). Older links were invitations
-- or resets alike: they read as invitations.
ALTER TABLE invitations ADD COLUMN purpose TEXT NOT NULL DEFAULT 'invitation'
    CHECK (purpose IN ('invitation', 'reset'));
