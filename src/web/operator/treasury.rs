//! The payer account: import the bank's statement, match by hand what it could not match,
//! and see whether the balance covers what is owed.

use super::{require_operator, shown};
use crate::app::AppState;
use crate::error::Error;
use crate::money::Cents;
use crate::treasury::{self, ImportReport, ManualMatch};
use crate::web::confirm::{self, Confirmation};
use crate::web::session::{FileForm, Form};
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

const FORM_KIB: usize = treasury::MAX_STATEMENT_BYTES / 1024 + 64;

pub struct EntryLine {
    pub id: String,
    pub date: String,
    pub what: &'static str,
    pub amount: String,
    pub reference: String,
    pub counterparty: String,
    pub note: String,
    pub credit: bool,
    /// `(id, label)` of what it could be matched with: fundings of the same amount for a
    /// credit, batches at the bank for a debit.
    pub choices: Vec<(String, String)>,
}

pub struct StatementLine {
    pub date: String,
    pub reference: String,
    pub closing: String,
    pub entries: i64,
}

#[derive(Template)]
#[template(path = "operator/treasury.html")]
struct TreasuryPage {
    l: Layout,
    section: &'static str,
    report: Option<ImportReport>,
    error: Option<String>,
    entry_error: Option<(String, String)>,
    matched: bool,
    entries: Vec<EntryLine>,
    statements: Vec<StatementLine>,
    coverage: crate::web::coverage::CoverageView,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct Shown {
    releve: Option<String>,
    fait: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(shown): Query<Shown>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let report = match &shown.releve {
        Some(id) => {
            let mut conn = state.db.read().await?;
            treasury::statement_report(&mut conn, &operator.org, id)
                .await
                .ok()
        }
        None => None,
    };
    let matched = shown.fait.as_deref() == Some("rapproche");
    render(&state, &visitor, report, None, None, matched).await
}

/// The entries the import could not match, each with what it could be matched with.
async fn entry_lines(
    conn: &mut crate::db::Conn,
    operator: &crate::orgs::Organization,
) -> crate::error::Result<Vec<EntryLine>> {
    let fundings = crate::programs::declared_fundings(conn).await?;
    let batches = crate::settlement::references::batches_at_the_bank(conn).await?;
    let mut entries = Vec::new();
    for e in treasury::unmatched_entries(conn, operator).await? {
        let credit = e.direction == "credit";
        let choices = if credit {
            fundings
                .iter()
                .filter(|f| f.amount_cents == e.amount_cents)
                .map(|f| {
                    (
                        f.id.clone(),
                        format!("Versement « {} » de {}", f.reference, f.amount_cents.text()),
                    )
                })
                .collect()
        } else {
            batches
                .iter()
                .map(|b| {
                    (
                        b.id.clone(),
                        format!(
                            "Lot du {} ({})",
                            crate::fr::long_date_text(&b.until_date),
                            b.total_cents.text()
                        ),
                    )
                })
                .collect()
        };
        entries.push(EntryLine {
            id: e.id,
            date: e
                .booking_date
                .as_deref()
                .map(crate::fr::long_date_text)
                .unwrap_or_default(),
            what: if credit { "Crédit" } else { "Débit" },
            amount: e.amount_cents.text(),
            reference: e.reference,
            counterparty: e.counterparty.unwrap_or_default(),
            note: e.note.unwrap_or_default(),
            credit,
            choices,
        });
    }
    Ok(entries)
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    report: Option<ImportReport>,
    error: Option<String>,
    entry_error: Option<(String, String)>,
    matched: bool,
) -> WebResult {
    let operator = require_operator(visitor)?;
    let mut conn = state.db.read().await?;
    let entries = entry_lines(&mut conn, &operator.org).await?;
    let statements = treasury::statements(&mut conn, &operator.org)
        .await?
        .into_iter()
        .take(12)
        .map(|s| StatementLine {
            date: s
                .closing_date
                .as_deref()
                .map(crate::fr::long_date_text)
                .unwrap_or_default(),
            reference: s.statement_ref,
            closing: s.closing_cents.map(Cents::text).unwrap_or_default(),
            entries: s.entries,
        })
        .collect();
    let coverage = treasury::coverage(&mut conn, &operator.org).await?;
    page(TreasuryPage {
        l: Layout::new(state, visitor, "Trésorerie"),
        section: "tresorerie",
        report,
        error,
        entry_error,
        matched,
        entries,
        statements,
        coverage: crate::web::coverage::CoverageView::of(&coverage),
    })
}

pub(super) async fn import(State(state): State<AppState>, form: FileForm<FORM_KIB>) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    let key = form.own_key();
    let bytes = form.file.clone().map(|(_, _, b)| b).unwrap_or_default();
    let visitor = form.visitor;
    let (org, now) = (operator.org.clone(), state.clock.now());
    let payer_iban = state.config.payer_iban.clone();
    let imported = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(
                async move { treasury::import_statement(tx, &org, &bytes, &payer_iban, now).await },
            )
        })
        .await;
    match imported {
        Ok(report) => see_other(&format!(
            "/operateur/tresorerie?releve={}",
            report.statement.id
        )),
        Err(e @ Error::Unprocessable { .. }) => with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            render(
                &state,
                &visitor,
                None,
                Some(e.public_message()),
                None,
                false,
            )
            .await,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(super) struct MatchForm {
    choice: String,
    note: String,
}

pub(super) async fn match_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<MatchForm>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    if !form.confirmed() {
        if let Some(question) = match_question(&state, &form, &id).await? {
            return confirm::ask(&state, &form, question);
        }
    }
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    // `choice` is "funding:<id>", "batch:<id>" or "aside" (with the note).
    let how = match data.choice.split_once(':') {
        Some(("funding", f)) => ManualMatch {
            funding_id: Some(f.to_string()),
            ..ManualMatch::default()
        },
        Some(("batch", b)) => ManualMatch {
            batch_id: Some(b.to_string()),
            ..ManualMatch::default()
        },
        _ if data.choice == "aside" => ManualMatch {
            set_aside: Some(data.note),
            ..ManualMatch::default()
        },
        _ => ManualMatch::default(),
    };
    let (org, now, entry_id) = (operator.org.clone(), state.clock.now(), id.clone());
    let matched = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { treasury::match_by_hand(tx, &org, &entry_id, how, now).await })
        })
        .await;
    match matched {
        Ok(_) => see_other("/operateur/tresorerie?fait=rapproche"),
        Err(e) if shown(&e) => with_status(
            e.status(),
            render(
                &state,
                &visitor,
                None,
                None,
                Some((id, e.public_message())),
                false,
            )
            .await,
        ),
        Err(e) => Err(e.into()),
    }
}

/// What matching an entry by hand asks to confirm, from the entry and its choices as they are
/// now. None when the choice is not one of them (or a note is missing): the match says why.
async fn match_question(
    state: &AppState,
    form: &Form<MatchForm>,
    id: &str,
) -> Result<Option<Confirmation>, crate::web::WebError> {
    let operator = require_operator(&form.visitor)?;
    let mut conn = state.db.read().await?;
    let entries = entry_lines(&mut conn, &operator.org).await?;
    drop(conn);
    let Some(e) = entries.into_iter().find(|e| e.id == id) else {
        return Ok(None);
    };
    let entry = format!("{} de {} du {}", e.what.to_lowercase(), e.amount, e.date);
    let chosen = form
        .data
        .choice
        .split_once(':')
        .and_then(|(_, chosen)| e.choices.iter().find(|(id, _)| id == chosen))
        .map(|(_, label)| label.clone());
    Ok(match chosen {
        Some(label) => Some(
            Confirmation::new(
                format!("Rapprocher le {entry} ?"),
                "Oui, rapprocher cette écriture",
            )
            .then(format!("Elle sera rapprochée de : {label}."))
            .then(if e.credit {
                "Le versement sera compté comme reçu sur le compte du Pass numérique."
            } else {
                "Ce débit sera compté comme le paiement de ce lot : quand ses débits le \
                 couvrent, le lot est payé et chaque lieu reçoit son relevé."
            })
            .then("Ce rapprochement ne pourra pas être défait."),
        ),
        None if form.data.choice == "aside" && !form.data.note.trim().is_empty() => Some(
            Confirmation::new(
                format!("Mettre de côté le {entry} ?"),
                "Oui, la mettre de côté",
            )
            .then(
                "Elle ne sera rapprochée d'aucun versement ni d'aucun lot, avec la note que vous \
                 avez écrite. Ce choix ne pourra pas être défait.",
            ),
        ),
        None => None,
    })
}
