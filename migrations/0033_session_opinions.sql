-- "Je donne mon avis", on the State's scale: one answer per session of help (a redemption
-- group, or a lone redemption: COALESCE(redemptions.group_id, redemptions.id)), overall
-- satisfaction from 0 to 10 and the few questions of the State's questionnaire, from lists.
-- The older 1-5 ratings stay in `feedback` as they are: the old scale, never mixed into the
-- 0-10 averages.
-- The primary key on session_id is what makes a second answer for a session impossible.
CREATE TABLE opinions (
    session_id TEXT PRIMARY KEY,
    pass_id TEXT NOT NULL REFERENCES passes (id),
    program_id TEXT NOT NULL REFERENCES programs (id),
    site_id TEXT NOT NULL REFERENCES organizations (id),
    place_id TEXT REFERENCES places (id),
    overall BIGINT NOT NULL CHECK (overall >= 0 AND overall <= 10),
    reached TEXT CHECK (reached IN ('oui', 'en_partie', 'non')),
    clear TEXT CHECK (clear IN ('oui', 'en_partie', 'non')),
    alone TEXT CHECK (alone IN ('oui', 'avec_aide', 'non')),
    comment TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX opinions_site ON opinions (site_id, created_at);
CREATE INDEX opinions_program ON opinions (program_id, created_at);
CREATE INDEX opinions_pass ON opinions (pass_id);

-- The unguessable key of a session's feedback page (/avis/seance/{token}), handed over on the
-- site's receipt; the carnet's code is never in that link.
CREATE TABLE opinion_links (
    token TEXT PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
