//! What the money did (`/financeur/programmes/{id}/resultats`): a programme's outcomes over a
//! period, each breakdown as a chart followed by its table, and the same tables as CSV or as
//! one `.ods`. Seen by the programme's funder and by the operator; anyone else gets a 404.

use super::bars::{hbars, HBars, FILL, MONEY_FILL};
use super::outcome_tables::{money_lines, names, tables, Table};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::{euros_text, long_date};
use crate::orgs::OrgKind;
use crate::programs::{self, Program};
use crate::report::Report;
use crate::stats::{self, Dimension, Outcomes, Period};
use crate::users::Signed;
use crate::web::session::SignedIn;
use crate::web::{page, Layout, Visitor, WebError, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize, Default)]
pub(super) struct PeriodQuery {
    du: Option<String>,
    au: Option<String>,
}

/// The period as a query string for the download links (`?du=…&au=…`, or nothing).
fn query_string(p: &Period) -> String {
    let parts: Vec<String> = [("du", p.from), ("au", p.to)]
        .into_iter()
        .filter_map(|(k, d)| d.map(|d| format!("{k}={d}")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// One section of the page: a chart (when there is something to draw) and its table.
pub struct Section {
    pub anchor: &'static str,
    pub heading: String,
    pub note: &'static str,
    pub chart: Option<HBars>,
    pub table: Report,
    pub slug: &'static str,
}

#[derive(Template)]
#[template(path = "funder/outcomes.html")]
struct OutcomesPage {
    l: Layout,
    program: Program,
    /// Where "back" leads: the funder's programme page; the operator has none.
    back: Option<String>,
    period_text: String,
    du: String,
    au: String,
    query: String,
    cards: Vec<(&'static str, String)>,
    sections: Vec<Section>,
}

/// The programme's funder, or the operator; others are refused, strangers sent to log in.
fn viewer(visitor: &Visitor) -> Result<Arc<Signed>, WebError> {
    match &visitor.signed {
        Some(s) if s.org.kind == OrgKind::Operator => Ok(s.clone()),
        _ => SignedIn::require(visitor, OrgKind::Funder),
    }
}

struct Loaded {
    program: Program,
    period: Period,
    outcomes: Outcomes,
    tables: Vec<Table>,
}

async fn load(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    q: &PeriodQuery,
) -> Result<(Arc<Signed>, Loaded), WebError> {
    let signed = viewer(visitor)?;
    let period = Period::parse(q.du.as_deref(), q.au.as_deref())?;
    let mut conn = state.db.read().await?;
    let program = programs::get_for(&mut conn, &signed.org, id).await?;
    let outcomes = stats::outcomes(&mut conn, &program.id, period).await?;
    let facts = vec![
        ("Programme".to_string(), program.name.clone()),
        ("Période".to_string(), period_text(&period)),
        ("Arrêté au".to_string(), long_date(state.clock.today())),
    ];
    let tables = tables(&outcomes, &program, &facts);
    Ok((
        signed,
        Loaded {
            program,
            period,
            outcomes,
            tables,
        },
    ))
}

fn period_text(p: &Period) -> String {
    match (p.from, p.to) {
        (None, None) => "Depuis le début du programme".into(),
        (Some(f), None) => format!("Depuis le {}", long_date(f)),
        (None, Some(t)) => format!("Jusqu'au {} inclus", long_date(t)),
        (Some(f), Some(t)) => format!("Du {} au {} inclus", long_date(f), long_date(t)),
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> WebResult {
    let (signed, loaded) = load(&state, &visitor, &id, &q).await?;
    let Loaded {
        program,
        period,
        outcomes: o,
        tables,
    } = loaded;
    let w = &o.whole;
    let c = w.carnets.unwrap_or_default();
    let cards = vec![
        ("Personnes aidées", w.people.unwrap_or(0).to_string()),
        (
            "Heures d'accompagnement",
            format!("{} h", super::outcome_tables::hours(w.minutes)),
        ),
        ("Carnets remis", c.handed_out.to_string()),
        ("Carnets terminés", c.finished.to_string()),
        ("Utilisé dans les lieux", euros_text(o.money.used)),
        (
            "Satisfaction des personnes aidées",
            match w.opinions.and_then(|o| o.average_tenths()) {
                Some(t) => format!("{},{} sur 10", t / 10, t % 10),
                None => format!("moins de {} avis", crate::stats::observatory::THRESHOLD),
            },
        ),
    ];
    let mut sections = Vec::new();
    let mut by_slug: std::collections::BTreeMap<&str, Report> =
        tables.into_iter().map(|t| (t.slug, t.report)).collect();
    let mut take = |slug: &str| by_slug.remove(slug).unwrap_or_else(empty_report);
    sections.push(Section {
        anchor: "chiffres",
        heading: "Chiffres clés".into(),
        note: "Un carnet est une personne. Un carnet est remis quand le distributeur l'active \
               pour un bénéficiaire ; les carnets en stock ne le sont pas. La satisfaction est \
               la moyenne des avis « Je donne mon avis » (de 0 à 10) donnés pendant la \
               période ; comme à l'observatoire, elle n'est montrée qu'à partir de 11 avis, \
               pour que personne ne puisse être reconnu.",
        chart: None,
        table: take("chiffres"),
        slug: "chiffres",
    });
    let money: Vec<(String, i64, String)> = money_lines(&o.money)
        .into_iter()
        .map(|(k, v)| (k.to_string(), i64::from(v), euros_text(v)))
        .collect();
    sections.push(Section {
        anchor: "argent",
        heading: "Le parcours de l'argent".into(),
        note: "Lu dans le grand livre du programme : versé, attribué aux distributeurs, émis en \
               chèques, utilisé, payé aux lieux, revenu au programme.",
        chart: hbars(
            "graphique-argent",
            "Le parcours de l'argent, en euros".into(),
            "euros",
            MONEY_FILL,
            &money,
        ),
        table: take("argent"),
        slug: "argent",
    });
    sections.push(Section {
        anchor: "argent-mois",
        heading: "L'argent mois par mois".into(),
        note: "",
        chart: None,
        table: take("argent-mois"),
        slug: "argent-mois",
    });
    for (dimension, rows) in &o.breakdowns {
        let (slug, _, what) = names(*dimension);
        let by_sessions = matches!(dimension, Dimension::Kind | Dimension::Theme);
        let (unit, measure) = if by_sessions {
            ("séances", "Séances")
        } else {
            ("personnes aidées", "Personnes aidées")
        };
        let items: Vec<(String, i64, String)> = rows
            .iter()
            .map(|r| {
                let v = if by_sessions {
                    r.sessions
                } else {
                    r.people.unwrap_or(0)
                };
                (r.label.clone(), v, v.to_string())
            })
            .collect();
        sections.push(Section {
            anchor: slug,
            heading: format!("{measure} {what}"),
            note: match dimension {
                Dimension::Month => {
                    "Un carnet compte le mois où il est émis, remis, commencé, terminé ; une \
                     personne aidée deux mois compte dans chacun ; un avis, le mois où il est \
                     donné."
                }
                Dimension::Place | Dimension::Department => {
                    "Une personne aidée dans deux lieux compte dans chacun."
                }
                Dimension::Theme => "Une séance sur deux thèmes compte dans chacun.",
                Dimension::HelpLevel => {
                    "Le niveau est celui noté à la séance (celui du carnet sinon) ; une personne \
                     aidée à deux niveaux compte dans chacun."
                }
                _ => "",
            },
            chart: hbars(
                slug_id(slug),
                format!("{measure} {what}"),
                unit,
                FILL,
                &items,
            ),
            table: take(slug),
            slug,
        });
    }
    let query = query_string(&period);
    page(OutcomesPage {
        l: Layout::new(
            &state,
            &visitor,
            format!("Ce que l'argent a permis — {}", program.name),
        ),
        back: (signed.org.kind == OrgKind::Funder)
            .then(|| format!("/financeur/programmes/{}", program.id)),
        period_text: period_text(&period),
        du: period.from.map(|d| d.to_string()).unwrap_or_default(),
        au: period.to.map(|d| d.to_string()).unwrap_or_default(),
        query,
        cards,
        sections,
        program,
    })
}

/// The id of a chart's SVG, unique on the page.
fn slug_id(slug: &str) -> &'static str {
    match slug {
        "mois" => "graphique-mois",
        "distributeurs" => "graphique-distributeurs",
        "lieux" => "graphique-lieux",
        "departements" => "graphique-departements",
        "types" => "graphique-types",
        _ => "graphique-themes",
    }
}

fn empty_report() -> Report {
    Report {
        title: String::new(),
        facts: Vec::new(),
        headers: Vec::new(),
        widths: Vec::new(),
        right: Vec::new(),
        rows: Vec::new(),
    }
}

/// `resultats/{table}.csv` (one table) or `resultats/resultats.ods` (all of them).
pub(super) async fn export(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, file)): Path<(String, String)>,
    Query(q): Query<PeriodQuery>,
) -> WebResult {
    let (_, loaded) = load(&state, &visitor, &id, &q).await?;
    let program_id = loaded.program.id.clone();
    let (body, content_type, name) = if file == "resultats.ods" {
        let sheets: Vec<(&str, &Report)> =
            loaded.tables.iter().map(|t| (t.sheet, &t.report)).collect();
        (
            crate::platform::ods::ods_file(&sheets)?,
            "application/vnd.oasis.opendocument.spreadsheet",
            format!("resultats-{program_id}.ods"),
        )
    } else {
        let not_found = || Error::not_found("Ce tableau n'existe pas.");
        let slug = file.strip_suffix(".csv").ok_or_else(not_found)?;
        let table = loaded
            .tables
            .iter()
            .find(|t| t.slug == slug)
            .ok_or_else(not_found)?;
        (
            table.report.csv()?.into_bytes(),
            "text/csv; charset=utf-8",
            format!("resultats-{slug}-{program_id}.csv"),
        )
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
