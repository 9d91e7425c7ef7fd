-- Carnets issued from a file a distributor uploads: the job (how far it went) and its lines,
-- each line linked to the carnet issued for it. A chunk of lines is issued and marked in the
-- same transaction, so a restart resumes where the last commit left, never twice.
CREATE TABLE carnet_files (
    id TEXT PRIMARY KEY,
    distributor_id TEXT NOT NULL REFERENCES organizations (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    filename TEXT NOT NULL,
    created_by TEXT,
    lines_total BIGINT NOT NULL CHECK (lines_total > 0),
    lines_done BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX carnet_files_distributor ON carnet_files (distributor_id, created_at);
CREATE INDEX carnet_files_status ON carnet_files (status);

CREATE TABLE carnet_file_lines (
    file_id TEXT NOT NULL REFERENCES carnet_files (id),
    position BIGINT NOT NULL,
    -- The line's number in the file as uploaded (a header and blank lines count).
    source_line BIGINT NOT NULL,
    cheques BIGINT NOT NULL,
    beneficiary_ref TEXT,
    email TEXT,
    pass_id TEXT UNIQUE REFERENCES passes (id),
    PRIMARY KEY (file_id, position)
);
