-- Applications of mediation structures, the eligibility questionnaire the operator edits,
-- disqualifications and the renewal reminders sent before a qualification ends.

-- Yes/no questions asked on the application form; an application keeps the text as answered.
CREATE TABLE application_questions (
    id TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    text TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

INSERT INTO application_questions (id, position, text, active, created_at, updated_at) VALUES
('q-public', 1, 'Votre structure aide-t-elle des personnes en difficulté avec le numérique ?', 1,
 '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
('q-trained', 2, 'Les personnes qui accompagnent le public sont-elles formées à la médiation numérique ?', 1,
 '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
('q-open', 3, 'Vos lieux accueillent-ils le public au moins une demi-journée par semaine ?', 1,
 '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
('q-no-sale', 4, 'Vous engagez-vous à ne rien vendre pendant un accompagnement payé en chèques ?', 1,
 '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'),
('q-free', 5, 'Vos lieux sont-ils ouverts à tous, sans adhésion payante obligatoire ?', 1,
 '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN
        ('received', 'under_review', 'changes_requested', 'qualified', 'rejected')),
    org_name TEXT NOT NULL,
    siret TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    legal_name TEXT NOT NULL,
    legal_role TEXT NOT NULL,
    -- Kept until qualification creates the site's bank account from it.
    iban TEXT NOT NULL,
    holder TEXT NOT NULL,
    charter_accepted_at TEXT NOT NULL,
    -- SHA-256 of the private follow-up link's token; the token itself is only in the e-mail.
    follow_token_hash TEXT NOT NULL UNIQUE,
    -- The operator's last message: changes asked for, or why it was rejected.
    operator_message TEXT,
    site_org_id TEXT REFERENCES organizations (id),
    qualified_until TEXT,
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX applications_status ON applications (status, submitted_at);

CREATE TABLE application_places (
    application_id TEXT NOT NULL REFERENCES applications (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    postcode TEXT NOT NULL,
    commune TEXT NOT NULL,
    PRIMARY KEY (application_id, position)
);

CREATE TABLE application_answers (
    application_id TEXT NOT NULL REFERENCES applications (id),
    position BIGINT NOT NULL,
    question_id TEXT NOT NULL REFERENCES application_questions (id),
    question_text TEXT NOT NULL,
    answer TEXT NOT NULL CHECK (answer IN ('oui', 'non')),
    PRIMARY KEY (application_id, position)
);

-- A final decision: the site or place stays 'suspended' (the status CHECKs of organizations and
-- places cannot change on SQLite without rebuilding those tables) and can never be requalified.
CREATE TABLE disqualifications (
    subject_id TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL CHECK (subject_kind IN ('site', 'place')),
    reason TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL
);

-- Renewal reminders (60 and 15 days before the end), so each is sent once per period.
CREATE TABLE qualification_reminders (
    site_org_id TEXT NOT NULL REFERENCES organizations (id),
    qualified_until TEXT NOT NULL,
    days_before BIGINT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (site_org_id, qualified_until, days_before)
);
