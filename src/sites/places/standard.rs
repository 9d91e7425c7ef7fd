//! The national data standard for places of digital mediation (v1.0.2, Frictionless Table
//! Schema in `../shared/data-schemas/`): its fields, the checks its constraints imply, and CSV
//! in and out. A cell left empty is a missing value, as Frictionless reads it.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The standard's columns, in its order (also the export's).
pub const FIELDS: [&str; 32] = [
    "id",
    "pivot",
    "nom",
    "commune",
    "code_postal",
    "code_insee",
    "adresse",
    "complement_adresse",
    "latitude",
    "longitude",
    "typologie",
    "telephone",
    "courriels",
    "site_web",
    "horaires",
    "presentation_resume",
    "presentation_detail",
    "source",
    "itinerance",
    "structure_parente",
    "date_maj",
    "services",
    "publics_specifiquement_adresses",
    "prise_en_charge_specifique",
    "frais_a_charge",
    "dispositif_programmes_nationaux",
    "formations_labels",
    "autres_formations_labels",
    "modalites_acces",
    "modalites_accompagnement",
    "fiche_acces_libre",
    "prise_rdv",
];

/// The values allowed in `services` (the "kind of help" a place offers).
pub const SERVICES: &[&str] = &[
    "Aide aux démarches administratives",
    "Maîtrise des outils numériques du quotidien",
    "Insertion professionnelle via le numérique",
    "Utilisation sécurisée du numérique",
    "Parentalité et éducation avec le numérique",
    "Loisirs et créations numériques",
    "Compréhension du monde numérique",
    "Accès internet et matériel informatique",
    "Acquisition de matériel informatique à prix solidaire",
];

/// The values allowed in `prise_en_charge_specifique` (accessibility and specific needs).
pub const SPECIFIC_SUPPORT: &[&str] = &[
    "Surdité",
    "Handicaps moteurs",
    "Handicaps mentaux",
    "Illettrisme",
    "Langues étrangères (anglais)",
    "Langues étrangères (autres)",
    "Déficience visuelle",
];

// The other enumerations, as the schema's patterns spell them (a quirk included: no space
// before "(La Poste)").
const ITINERANCE: &[&str] = &["Itinérant", "Fixe"];
const PUBLICS: &[&str] = &[
    "Jeunes",
    "Étudiants",
    "Familles et/ou enfants",
    "Seniors",
    "Femmes",
];
const FEES: &[&str] = &["Gratuit", "Gratuit sous condition", "Payant"];
const PROGRAMMES: &[&str] = &[
    "Aidants Connect",
    "Bibliothèques numérique de référence",
    "Certification PIX",
    "Conseillers numériques",
    "Emmaüs Connect",
    "France Services",
    "Grande école du numérique",
    "La Croix Rouge",
    "Point d'accès numérique CAF",
    "Promeneurs du net",
    "Relais numérique (Emmaüs Connect)",
];
const LABELS: &[&str] = &[
    "Formé à « Mon Espace Santé »",
    "Formé à « DUPLEX » (illettrisme)",
    "Arnia/MedNum BFC (Bourgogne-Franche-Comté)",
    "Collectif ressources et acteurs réemploi (Normandie)",
    "Étapes numériques(La Poste)",
    "Fabriques de Territoire",
    "Les Éclaireurs du numérique (Drôme)",
    "Mes Papiers (Métropole de Lyon)",
    "ORDI 3.0",
    "SUD LABS (PACA)",
];
const ACCESS: &[&str] = &[
    "Se présenter",
    "Téléphoner",
    "Contacter par mail",
    "Prendre un RDV en ligne",
    "Ce lieu n'accueille pas de public",
    "Envoyer un mail avec une fiche de prescription",
];
const SUPPORT_MODES: &[&str] = &[
    "En autonomie",
    "Accompagnement individuel",
    "Dans un atelier collectif",
    "À distance",
];

const REQUIRED: [&str; 7] = [
    "id",
    "pivot",
    "nom",
    "commune",
    "code_postal",
    "adresse",
    "date_maj",
];

/// One place in the standard: a value (or nothing) per field of [`FIELDS`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StandardPlace {
    values: Vec<Option<String>>,
}

impl StandardPlace {
    pub fn new() -> Self {
        StandardPlace {
            values: vec![None; FIELDS.len()],
        }
    }

    fn index(field: &str) -> usize {
        FIELDS
            .iter()
            .position(|f| *f == field)
            .unwrap_or_else(|| panic!("{field} is not a field of the standard"))
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.values[Self::index(field)].as_deref()
    }

    /// Sets a field; an empty or blank value is no value.
    pub fn set(&mut self, field: &str, value: Option<&str>) {
        self.values[Self::index(field)] = value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
    }

    pub fn id(&self) -> &str {
        self.get("id").unwrap_or_default()
    }

    /// Values in [`FIELDS`] order.
    pub fn values(&self) -> impl Iterator<Item = Option<&str>> {
        self.values.iter().map(|v| v.as_deref())
    }

    /// The list items of a `|`-separated field.
    pub fn list(&self, field: &str) -> Vec<&str> {
        self.get(field)
            .map(|v| v.split('|').map(str::trim).collect())
            .unwrap_or_default()
    }

    pub fn coordinates(&self) -> Option<(f64, f64)> {
        let lat = self.get("latitude")?.parse().ok()?;
        let lon = self.get("longitude")?.parse().ok()?;
        Some((lat, lon))
    }

    /// Whether the place has every value the standard requires, so that it can be exported.
    pub fn is_complete(&self) -> bool {
        REQUIRED.iter().all(|f| self.get(f).is_some())
            && self.get("pivot").is_some_and(is_pivot)
            && self
                .get("code_postal")
                .is_some_and(crate::fr::is_valid_postcode)
    }

    /// The standard's fields as a JSON object: numbers for coordinates, null when missing.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        FIELDS
            .iter()
            .zip(self.values())
            .map(|(field, value)| {
                let json = match (field, value) {
                    (_, None) => serde_json::Value::Null,
                    (&("latitude" | "longitude"), Some(v)) => v
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null),
                    (_, Some(v)) => serde_json::Value::String(v.to_string()),
                };
                (field.to_string(), json)
            })
            .collect()
    }
}

/// Why a row of an imported file was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub reason: String,
}

/// What reading a file gave: the valid places and the rejected rows.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub places: Vec<StandardPlace>,
    pub rejections: Vec<Rejection>,
    /// Data rows read (valid or not).
    pub rows: usize,
}

impl ParsedFile {
    /// Lines with at least one rejection.
    pub fn rejected_rows(&self) -> usize {
        let mut lines: Vec<u64> = self.rejections.iter().map(|r| r.line).collect();
        lines.dedup();
        lines.len()
    }
}

/// Reads a CSV file in the standard (comma-separated as published; a semicolon-separated
/// spreadsheet export is accepted too). Every row is checked; a row with any error is left out
/// and each of its errors reported.
pub fn parse_csv(bytes: &[u8]) -> ParsedFile {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if !first_line.contains(&b',') && first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let mut parsed = ParsedFile::default();
    let reject = |line: u64, field: &str, reason: String| Rejection {
        line,
        field: field.to_string(),
        reason,
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            parsed.rejections.push(reject(
                1,
                "",
                format!("le fichier n'est pas un CSV lisible ({e})"),
            ));
            return parsed;
        }
    };
    let columns: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|f| !columns.contains_key(f))
        .collect();
    if !missing.is_empty() {
        for field in missing {
            parsed.rejections.push(reject(
                1,
                field,
                "cette colonne obligatoire manque dans l'en-tête".into(),
            ));
        }
        return parsed;
    }
    // The standard's id is unique: a second row with the same id is refused.
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                parsed.rows += 1;
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                parsed.rejections.push(reject(
                    line,
                    "",
                    "ligne illisible (guillemets ou encodage UTF-8 incorrects)".into(),
                ));
                continue;
            }
        };
        parsed.rows += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let mut place = StandardPlace::new();
        for field in FIELDS {
            if let Some(&i) = columns.get(field) {
                place.set(field, record.get(i));
            }
        }
        let mut errors: Vec<Rejection> = check(&place)
            .into_iter()
            .map(|(field, reason)| reject(line, field, reason))
            .collect();
        if errors.is_empty() {
            if let Some(first) = seen.get(place.id()) {
                errors.push(reject(
                    line,
                    "id",
                    format!("cet identifiant est déjà celui de la ligne {first}"),
                ));
            }
        }
        if errors.is_empty() {
            seen.insert(place.id().to_string(), line);
            normalize(&mut place);
            parsed.places.push(place);
        } else {
            parsed.rejections.extend(errors);
        }
    }
    parsed
}

/// Coordinates written the shortest way that reads back the same number, so that an export
/// re-imported gives the same text.
fn normalize(place: &mut StandardPlace) {
    for field in ["latitude", "longitude"] {
        if let Some(n) = place.get(field).and_then(|v| v.parse::<f64>().ok()) {
            place.set(field, Some(&n.to_string()));
        }
    }
}

/// Every constraint of the schema that a place breaks: `(field, reason in French)`.
pub fn check(place: &StandardPlace) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    for field in REQUIRED {
        if place.get(field).is_none() {
            errors.push((field, "valeur obligatoire absente".to_string()));
        }
    }
    // What the open data republishes must be safe for whoever reads it: no control character
    // anywhere, one line wherever a line is expected.
    for (field, value) in FIELDS.iter().zip(place.values()) {
        let Some(v) = value else { continue };
        let multi_line = MULTI_LINE.contains(field);
        if v.chars()
            .any(|c| c.is_control() && !(multi_line && matches!(c, '\n' | '\r' | '\t')))
        {
            errors.push((
                field,
                if multi_line {
                    "un caractère de contrôle invisible (par exemple un caractère nul) est refusé"
                } else {
                    "une seule ligne est attendue, sans caractère de contrôle (tabulation, retour à la ligne…)"
                }
                .to_string(),
            ));
        }
    }
    let mut rule = |field: &'static str, ok: fn(&str) -> bool, reason: &str| {
        if let Some(v) = place.get(field) {
            if !ok(v) {
                errors.push((field, format!("« {} » : {reason}", shorten(v))));
            }
        }
    };
    rule(
        "id",
        is_local_id,
        "un identifiant de 1 à 100 lettres, chiffres, tirets, points ou soulignés est attendu",
    );
    for url_field in ["site_web", "fiche_acces_libre", "prise_rdv"] {
        rule(
            url_field,
            |v| v.split('|').all(is_web_address),
            "une adresse web commençant par https:// ou http:// est attendue (plusieurs séparées par |)",
        );
    }
    rule(
        "pivot",
        is_pivot,
        "un SIRET, RNA ou RIDET de 9 à 14 lettres ou chiffres est attendu",
    );
    rule(
        "code_postal",
        crate::fr::is_valid_postcode,
        "un code postal de 5 chiffres est attendu",
    );
    rule(
        "code_insee",
        is_insee_code,
        "un code INSEE de commune de 5 caractères est attendu (2A ou 2B pour la Corse)",
    );
    rule(
        "latitude",
        |v| is_number_between(v, 90.0),
        "une latitude entre -90 et 90 (nombre avec un point décimal) est attendue",
    );
    rule(
        "longitude",
        |v| is_number_between(v, 180.0),
        "une longitude entre -180 et 180 (nombre avec un point décimal) est attendue",
    );
    rule(
        "telephone",
        is_phone,
        "un numéro au format international sans espaces est attendu (par exemple +33180059880)",
    );
    rule(
        "horaires",
        |v| v.parse::<opening_hours::OpeningHours>().is_ok(),
        "ces horaires ne suivent pas le format OpenStreetMap (par exemple Mo-Fr 09:00-12:00)",
    );
    rule(
        "presentation_resume",
        |v| v.chars().count() <= 280,
        "280 caractères au plus",
    );
    rule(
        "date_maj",
        |v| v.len() == 10 && v.parse::<jiff::civil::Date>().is_ok(),
        "une date AAAA-MM-JJ est attendue",
    );
    for (field, allowed) in [
        ("itinerance", ITINERANCE),
        ("services", SERVICES),
        ("publics_specifiquement_adresses", PUBLICS),
        ("prise_en_charge_specifique", SPECIFIC_SUPPORT),
        ("frais_a_charge", FEES),
        ("dispositif_programmes_nationaux", PROGRAMMES),
        ("formations_labels", LABELS),
        ("modalites_acces", ACCESS),
        ("modalites_accompagnement", SUPPORT_MODES),
    ] {
        // The schema's pattern: values of the list, separated by `|`, none empty.
        if let Some(v) = place.get(field) {
            if let Some(bad) = v.split('|').find(|item| !allowed.contains(item)) {
                errors.push((
                    field,
                    format!(
                        "« {} » n'est pas une valeur de la liste du standard (valeurs séparées par |)",
                        shorten(bad)
                    ),
                ));
            }
        }
    }
    errors
}

fn shorten(v: &str) -> String {
    if v.chars().count() <= 60 {
        v.to_string()
    } else {
        format!("{}…", v.chars().take(60).collect::<String>())
    }
}

/// The fields whose text may run over several lines (the others are names, codes, lists).
const MULTI_LINE: [&str; 2] = ["presentation_detail", "autres_formations_labels"];

/// The standard leaves the local id free; passnum keeps it to what is safe in an address
/// (`/api/v1/places/{id}/…`) and in any file: no `/`, no quote, no space.
fn is_local_id(v: &str) -> bool {
    (1..=100).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An `http(s)` address: never `javascript:` or `data:`, which whoever shows the open data
/// could turn into a link that runs code.
fn is_web_address(v: &str) -> bool {
    let v = v.trim();
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace)) && v.len() <= 2000
}

fn is_pivot(v: &str) -> bool {
    (9..=14).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `^([013-9]\d|2[AB1-9])\d{3}$`
fn is_insee_code(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 5
        && match b[0] {
            b'2' => matches!(b[1], b'A' | b'B' | b'1'..=b'9'),
            b'0' | b'1' | b'3'..=b'9' => b[1].is_ascii_digit(),
            _ => false,
        }
        && b[2..].iter().all(u8::is_ascii_digit)
}

fn is_number_between(v: &str, bound: f64) -> bool {
    v.parse::<f64>()
        .is_ok_and(|n| n.is_finite() && (-bound..=bound).contains(&n))
}

/// `^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)(\d){6,9}$`
fn is_phone(v: &str) -> bool {
    [
        "+33", "+590", "+594", "+262", "+596", "+269", "+687", "+689", "+508", "+681",
    ]
    .iter()
    .any(|prefix| {
        v.strip_prefix(prefix).is_some_and(|rest| {
            (6..=9).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// Places as a CSV file in the standard, comma-separated, quoted where needed (see
/// [`crate::spreadsheet::csv_file`]).
pub fn write_csv(places: &[StandardPlace]) -> Result<Vec<u8>, csv::Error> {
    let rows = places
        .iter()
        .map(|place| place.values().map(Option::unwrap_or_default));
    crate::spreadsheet::csv_file(b',', &FIELDS, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(is_insee_code("51454") && is_insee_code("2A004") && !is_insee_code("20004"));
        assert!(is_phone("+33180059880") && is_phone("+590123456") && !is_phone("0180059880"));
        assert!(!is_phone("+3318005988012"));
        assert!(is_pivot("43493312300029") && is_pivot("W751234567") && !is_pivot("1234"));
    }

    #[test]
    fn the_standards_example_is_valid() {
        let example =
            include_bytes!("../../../tests/fixtures/lieux-mediation-numerique.exemple.csv");
        let parsed = parse_csv(example);
        assert_eq!(parsed.rejections, vec![]);
        assert_eq!(parsed.places.len(), 1);
        assert_eq!(parsed.places[0].get("nom"), Some("Anonymal"));
    }
}
