-- Places of digital mediation: an organisation of kind 'site' has one or more places, each
-- qualified separately. Columns named in French are the national data standard's fields
-- (../shared/data-schemas, v1.0.2), stored as the file gives them ('|'-separated lists, OSM
-- opening hours, coordinates as decimal text); an empty value is NULL.
-- `id` is the standard's own identifier (unique): an import upserts by it.

CREATE TABLE places (
    id TEXT PRIMARY KEY,
    -- The applicant organisation; NULL for an imported place nobody has claimed yet.
    site_org_id TEXT REFERENCES organizations (id),
    pivot TEXT,
    nom TEXT NOT NULL,
    commune TEXT,
    code_postal TEXT,
    code_insee TEXT,
    adresse TEXT,
    complement_adresse TEXT,
    latitude TEXT,
    longitude TEXT,
    typologie TEXT,
    telephone TEXT,
    courriels TEXT,
    site_web TEXT,
    horaires TEXT,
    presentation_resume TEXT,
    presentation_detail TEXT,
    source TEXT,
    itinerance TEXT,
    structure_parente TEXT,
    date_maj TEXT,
    services TEXT,
    publics_specifiquement_adresses TEXT,
    prise_en_charge_specifique TEXT,
    frais_a_charge TEXT,
    dispositif_programmes_nationaux TEXT,
    formations_labels TEXT,
    autres_formations_labels TEXT,
    modalites_acces TEXT,
    modalites_accompagnement TEXT,
    fiche_acces_libre TEXT,
    prise_rdv TEXT,
    -- Derived from the postcode, and the commune folded (lower case, no accents), for searches.
    department TEXT,
    commune_key TEXT,
    -- A place redeems and is listed only while 'qualified' with a current qualified_until.
    qualification_status TEXT NOT NULL DEFAULT 'none'
        CHECK (qualification_status IN ('none', 'qualified', 'suspended')),
    qualified_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX places_site ON places (site_org_id);
CREATE INDEX places_postcode ON places (code_postal);
CREATE INDEX places_department ON places (department);
CREATE INDEX places_commune ON places (commune_key);

-- Every existing site becomes its first place, keeping its qualification.
INSERT INTO places (id, site_org_id, pivot, nom, code_postal, department, date_maj,
                    qualification_status, qualified_until, created_at, updated_at)
SELECT id, id, siret, name, postcode, department, substr(created_at, 1, 10),
       qualification_status, qualified_until, created_at, created_at
FROM organizations WHERE kind = 'site';
