//! The public observatory: `/observatoire`, open to all, no login and no JavaScript, and the
//! same figures as open data (`/observatoire/donnees/*.csv`, described by a frictionless Table
//! Schema in `datapackage.json`). The figures come from [`crate::stats::observatory`].

use super::{page, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::clock::{format_ts, paris};
use crate::error::{Error, Result};
use crate::stats::observatory::{self, cell_text, tenths_text, Area, Observatory};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/observatoire", get(show))
        .route("/observatoire/donnees/{file}", get(data))
}

/// The last twelve months: from the same day a year ago (midnight, Paris) until now.
struct Period {
    since: jiff::civil::Date,
    today: jiff::civil::Date,
}

impl Period {
    fn of(state: &AppState) -> Result<Period> {
        let today = state.clock.today();
        let since = today
            .checked_sub(jiff::Span::new().years(1))
            .map_err(|e| Error::Internal(e.into()))?;
        Ok(Period { since, today })
    }

    async fn figures(&self, state: &AppState) -> Result<Observatory> {
        let start = self
            .since
            .to_zoned(paris())
            .map_err(|e| Error::Internal(e.into()))?
            .timestamp();
        let mut conn = state.db.read().await?;
        observatory::observatory(&mut conn, &format_ts(start), &self.today.to_string()).await
    }
}

/// An area as a table row: its name, then its figures in words.
struct Row {
    name: String,
    people: String,
    sessions: String,
    hours: String,
    answers: String,
    satisfaction: String,
    /// Whether enough answers were given for the satisfaction to be published.
    rated: bool,
    places: i64,
}

fn row(a: &Area) -> Row {
    let name = match crate::fr::department_name(&a.code) {
        Some(name) => format!("{name} ({})", a.code),
        None => a.code.clone(),
    };
    Row {
        name,
        people: cell_text(a.people),
        sessions: cell_text(a.sessions),
        hours: cell_text(a.hours),
        answers: cell_text(a.answers),
        satisfaction: match a.satisfaction_tenths {
            Some(_) => tenths_text(a.satisfaction_tenths, ','),
            None => format!("moins de {} avis", observatory::THRESHOLD),
        },
        rated: a.satisfaction_tenths.is_some(),
        places: a.places,
    }
}

#[derive(Template)]
#[template(path = "public/observatory.html")]
struct ObservatoryPage {
    l: Layout,
    from: String,
    to: String,
    national: Row,
    departments: Vec<Row>,
    /// `(kind, people, sessions)`.
    kinds: Vec<(&'static str, String, String)>,
    /// `(level, people, sessions)`.
    levels: Vec<(&'static str, String, String)>,
    threshold: i64,
}

async fn show(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let period = Period::of(&state)?;
    let o = period.figures(&state).await?;
    page(ObservatoryPage {
        l: Layout::new(&state, &visitor, "Observatoire du Pass numérique"),
        from: crate::fr::long_date(period.since),
        to: crate::fr::long_date(period.today),
        national: row(&o.national),
        departments: o.departments.iter().map(row).collect(),
        kinds: o
            .kinds
            .iter()
            .map(|k| (k.label, cell_text(k.people), cell_text(k.sessions)))
            .collect(),
        levels: o
            .levels
            .iter()
            .map(|k| (k.label, cell_text(k.people), cell_text(k.sessions)))
            .collect(),
        threshold: observatory::THRESHOLD,
    })
}

const AREAS_HEADERS: [&str; 9] = [
    "territoire",
    "debut",
    "fin",
    "personnes_aidees",
    "seances",
    "heures",
    "avis",
    "satisfaction_moyenne",
    "lieux_qualifies",
];

const KINDS_HEADERS: [&str; 6] = [
    "territoire",
    "debut",
    "fin",
    "type_aide",
    "personnes_aidees",
    "seances",
];

const LEVELS_HEADERS: [&str; 6] = [
    "territoire",
    "debut",
    "fin",
    "niveau_aide",
    "personnes_aidees",
    "seances",
];

async fn data(State(state): State<AppState>, Path(file): Path<String>) -> WebResult {
    let period = Period::of(&state)?;
    let (from, to) = (period.since.to_string(), period.today.to_string());
    let (content_type, body) = match file.as_str() {
        "datapackage.json" => (
            "application/json",
            serde_json::to_vec_pretty(&datapackage()).map_err(|e| Error::Internal(e.into()))?,
        ),
        "departements.csv" => {
            let o = period.figures(&state).await?;
            let rows = std::iter::once(&o.national).chain(&o.departments).map(|a| {
                [
                    a.code.clone(),
                    from.clone(),
                    to.clone(),
                    cell_text(a.people),
                    cell_text(a.sessions),
                    cell_text(a.hours),
                    cell_text(a.answers),
                    tenths_text(a.satisfaction_tenths, '.'),
                    a.places.to_string(),
                ]
            });
            ("text/csv; charset=utf-8", csv(&AREAS_HEADERS, rows)?)
        }
        "aides.csv" => {
            let o = period.figures(&state).await?;
            let rows = o.kinds.iter().map(|k| {
                [
                    "France".to_string(),
                    from.clone(),
                    to.clone(),
                    k.label.to_string(),
                    cell_text(k.people),
                    cell_text(k.sessions),
                ]
            });
            ("text/csv; charset=utf-8", csv(&KINDS_HEADERS, rows)?)
        }
        "niveaux.csv" => {
            let o = period.figures(&state).await?;
            let rows = o.levels.iter().map(|k| {
                [
                    "France".to_string(),
                    from.clone(),
                    to.clone(),
                    k.label.to_string(),
                    cell_text(k.people),
                    cell_text(k.sessions),
                ]
            });
            ("text/csv; charset=utf-8", csv(&LEVELS_HEADERS, rows)?)
        }
        _ => return Err(Error::not_found("Ce fichier de l'observatoire n'existe pas.").into()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response())
}

fn csv<R: IntoIterator<Item = [String; N]>, const N: usize>(
    headers: &[&str],
    rows: R,
) -> Result<Vec<u8>> {
    crate::spreadsheet::csv_file(b',', headers, rows).map_err(|e| Error::Internal(e.into()))
}

/// The open data's description: a frictionless data package whose resources have a Table
/// Schema each. A suppressed figure (about fewer than 11 people) reads "moins de 11", declared
/// as a missing value.
pub fn datapackage() -> serde_json::Value {
    use serde_json::json;
    let missing = json!(["moins de 11"]);
    let period = |fields: &mut Vec<serde_json::Value>| {
        fields.push(json!({"name": "debut", "type": "date",
            "description": "Premier jour de la période (les douze derniers mois)"}));
        fields.push(json!({"name": "fin", "type": "date",
            "description": "Dernier jour de la période"}));
    };
    let count = |name: &str, description: &str| {
        json!({"name": name, "type": "integer", "description": description,
               "constraints": {"minimum": 0}})
    };
    let mut areas = vec![
        json!({"name": "territoire", "type": "string", "description":
        "« France » pour le total national, sinon le code du département",
        "constraints": {"required": true, "pattern": "France|[0-9]{2}|2[AB]|97[0-9]|98[678]"}}),
    ];
    period(&mut areas);
    areas.extend([
        count(
            "personnes_aidees",
            "Carnets dont au moins un chèque a été utilisé dans la période",
        ),
        count("seances", "Séances d'aide payées avec des chèques"),
        count("heures", "Heures d'aide (durées déclarées par les lieux)"),
        count("avis", "Avis « Je donne mon avis » (échelle de 0 à 10)"),
        json!({"name": "satisfaction_moyenne", "type": "number",
               "description": "Note moyenne des avis, de 0 à 10",
               "constraints": {"minimum": 0, "maximum": 10}}),
        count("lieux_qualifies", "Lieux qualifiés à la date de fin"),
    ]);
    let mut kinds = vec![json!({"name": "territoire", "type": "string",
        "constraints": {"required": true}})];
    period(&mut kinds);
    kinds.extend([
        json!({"name": "type_aide", "type": "string", "constraints": {"required": true}}),
        count("personnes_aidees", "Carnets aidés par ce type d'aide"),
        count("seances", "Séances de ce type d'aide"),
    ]);
    let mut levels = vec![json!({"name": "territoire", "type": "string",
        "constraints": {"required": true}})];
    period(&mut levels);
    levels.extend([
        json!({"name": "niveau_aide", "type": "string", "constraints": {"required": true},
               "description": "Urgence numérique, inclusion ou montée en compétences"}),
        count("personnes_aidees", "Carnets aidés à ce niveau"),
        count("seances", "Séances à ce niveau"),
    ]);
    json!({
        "name": "observatoire-pass-numerique",
        "title": "Observatoire du Pass numérique",
        "description": "Personnes aidées, heures, types d'aide, satisfaction et lieux qualifiés \
            des douze derniers mois, en France et par département. Tout chiffre portant sur \
            moins de 11 personnes est remplacé par « moins de 11 ».",
        "licenses": [{"name": "etalab-2.0", "title": "Licence Ouverte 2.0",
                      "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"}],
        "resources": [
            {"name": "departements", "path": "departements.csv", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8",
             "schema": {"fields": areas, "missingValues": missing, "primaryKey": ["territoire"]}},
            {"name": "aides", "path": "aides.csv", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8",
             "schema": {"fields": kinds, "missingValues": missing}},
            {"name": "niveaux", "path": "niveaux.csv", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8",
             "schema": {"fields": levels, "missingValues": missing}},
        ]
    })
}
