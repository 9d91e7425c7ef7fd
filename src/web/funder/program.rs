//! A programme's page: its figures, chart and tables, and the forms to record a funding, give
//! a distributor a quota and plan (or cancel) the programme's end.

use super::chart::{chart, Chart, ISSUED_FILL, REDEEMED_FILL};
use super::tables::tables;
use super::{cheque_count, plural, shown_on_page};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::{euros_text, long_date, parse_count, percent_text};
use crate::money::Cents;
use crate::orgs::OrgKind;
use crate::programs::{self, CloseRequest, NewAllocation, NewFunding, Program};
use crate::report::Report;
use crate::users::Signed;
use crate::web::confirm::{self, Confirmation};
use crate::web::form_errors::FormErrors;
use crate::web::session::{Form, SignedIn};
use crate::web::{page, see_other, with_status, Layout, Visitor, WebError, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;

/// What was typed in the dashboard's forms, and what went wrong, to show them again.
#[derive(Default)]
struct Attempt {
    amount: String,
    reference: String,
    distributor_id: String,
    cheques: String,
    fund_errors: FormErrors,
    allocate_errors: FormErrors,
    closes_on: String,
    close_error: Option<String>,
}

pub struct Card {
    pub label: &'static str,
    pub value: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "funder/program.html")]
struct Dashboard {
    l: Layout,
    program: Program,
    closed: bool,
    notice: Option<&'static str>,
    cards: Vec<Card>,
    cheque_value: String,
    available_cheques: i64,
    unfunded: String,
    credited: String,
    chart: Option<Chart>,
    issued_fill: &'static str,
    redeemed_fill: &'static str,
    figures: Report,
    monthly: Report,
    distributors: Report,
    sites: Report,
    departments: Report,
    distributor_choices: Vec<(String, String)>,
    attempt: Attempt,
    /// The programme's end, when planned.
    planned: Option<Planned>,
    /// The nearest last day that may be chosen (`YYYY-MM-DD`, and in words).
    earliest: String,
    earliest_words: String,
    /// What the date field holds: what was typed, or the planned day.
    closes_on: String,
}

/// A planned end, in words.
struct Planned {
    last_day: String,
    issuance_until: String,
}

#[derive(Deserialize)]
pub(super) struct DashboardQuery {
    fait: Option<String>,
}

pub(super) async fn dashboard(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> WebResult {
    let notice = match q.fait.as_deref() {
        Some("cree") => Some(
            "Le programme est créé. Enregistrez un premier versement pour pouvoir attribuer des chèques aux distributeurs.",
        ),
        Some("versement") => Some("Le versement est enregistré."),
        Some("quota") => Some("Le quota est attribué au distributeur."),
        Some("cloture") => Some(
            "La fin du programme est prévue. Les distributeurs, les lieux et les bénéficiaires \
             seront prévenus par e-mail 30, 15 et 7 jours avant.",
        ),
        Some("cloture-annulee") => Some("La fin prévue est annulée : le programme continue."),
        _ => None,
    };
    render_dashboard(&state, &visitor, &id, notice, Attempt::default()).await
}

async fn render_dashboard(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    notice: Option<&'static str>,
    attempt: Attempt,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Funder)?;
    let t = tables(state, &signed.org, id).await?;
    let r = &t.r;
    let f = &r.figures;
    let value = t.program.cheque_value_cents.max(Cents::new(1));
    let cards = vec![
        Card {
            label: "Budget consommé",
            value: euros_text(f.redeemed_cents),
            detail: format!(
                "{} du budget de {}, en chèques utilisés dans les lieux",
                percent_text(f.redeemed_cents, r.budget_cents),
                euros_text(r.budget_cents)
            ),
        },
        Card {
            label: "Versé",
            value: euros_text(r.funded_cents),
            detail: format!("Reste à verser : {}", euros_text(r.unfunded_cents)),
        },
        Card {
            label: "Disponible, à attribuer",
            value: euros_text(r.available_cents),
            detail: format!("Soit {}", plural(r.available_cents / value, "chèque")),
        },
        Card {
            label: "Taux d'utilisation",
            value: percent_text(f.redeemed_cents, f.issued_cents),
            detail: format!(
                "{} sur {} émis",
                cheque_count(f.redeemed_cents / value, "utilisé"),
                f.issued_cents / value
            ),
        },
    ];
    let today = state.clock.today();
    let planned = t.program.planned_close(today).map(|last_day| Planned {
        last_day: long_date(last_day),
        issuance_until: long_date(programs::issuance_until(last_day)),
    });
    let earliest = programs::earliest_close(today);
    let closes_on = if attempt.closes_on.is_empty() {
        t.program
            .planned_close(today)
            .map(|d| d.to_string())
            .unwrap_or_default()
    } else {
        attempt.closes_on.clone()
    };
    let title = if attempt.fund_errors.is_empty() {
        attempt.allocate_errors.page_title(&t.program.name)
    } else {
        attempt.fund_errors.page_title(&t.program.name)
    };
    page(Dashboard {
        l: Layout::new(state, visitor, title),
        planned,
        earliest: earliest.to_string(),
        earliest_words: long_date(earliest),
        closes_on,
        closed: t.program.status == crate::programs::ProgramStatus::Closed,
        notice,
        cards,
        cheque_value: euros_text(t.program.cheque_value_cents),
        available_cheques: r.available_cents / value,
        unfunded: euros_text(r.unfunded_cents),
        credited: euros_text(r.credited_cents),
        chart: chart(&t.months),
        issued_fill: ISSUED_FILL,
        redeemed_fill: REDEEMED_FILL,
        figures: t.figures,
        monthly: t.monthly,
        distributors: t.distributors,
        sites: t.sites,
        departments: t.departments,
        distributor_choices: t.distributor_choices,
        program: t.program,
        attempt,
    })
}

/// The signed-in funder and, when its programme is closed, why it takes no more writes.
/// Someone else's programme answers 404.
async fn writable(state: &AppState, visitor: &Visitor, id: &str) -> Result<Arc<Signed>, WebError> {
    let signed = SignedIn::require(visitor, OrgKind::Funder)?;
    let mut conn = state.db.read().await?;
    // Someone else's programme is refused (404) before the form is read.
    programs::get_for(&mut conn, &signed.org, id).await?;
    Ok(signed)
}

fn done(id: &str, what: &str) -> WebResult {
    see_other(&format!("/financeur/programmes/{id}?fait={what}#contenu"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct FundForm {
    amount: String,
    reference: String,
}

pub(super) async fn fund(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<FundForm>,
) -> WebResult {
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let signed = writable(&state, &visitor, &id).await?;
    let retry = |field: &str, message: String| Attempt {
        amount: data.amount.clone(),
        reference: data.reference.clone(),
        fund_errors: FormErrors::one(field, message),
        ..Attempt::default()
    };
    let amount =
        Cents::parse_euros(&data.amount).map_err(|m| format!("Montant du versement : {m}"));
    let amount_cents = match amount {
        Ok(cents) => cents,
        Err(m) => {
            let page = render_dashboard(&state, &visitor, &id, None, retry("amount", m)).await;
            return with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let new = NewFunding {
        amount_cents,
        reference: data.reference.clone(),
    };
    let (org, now, program_id) = (signed.org.clone(), state.clock.now(), id.clone());
    let funded = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { programs::record_funding(tx, &org, &program_id, new, now).await })
        })
        .await;
    match funded {
        Ok(_) => done(&id, "versement"),
        Err(e) if shown_on_page(&e) => {
            let field = if e.code().contains("reference") {
                "reference"
            } else {
                "amount"
            };
            let attempt = retry(field, e.public_message());
            with_status(
                e.status(),
                render_dashboard(&state, &visitor, &id, None, attempt).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AllocateForm {
    distributor_id: String,
    cheques: String,
}

pub(super) async fn allocate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<AllocateForm>,
) -> WebResult {
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let signed = writable(&state, &visitor, &id).await?;
    let retry = |field: &str, message: String| Attempt {
        distributor_id: data.distributor_id.clone(),
        cheques: data.cheques.clone(),
        allocate_errors: FormErrors::one(field, message),
        ..Attempt::default()
    };
    let cheques = parse_count(&data.cheques)
        .ok_or_else(|| "Indiquez un nombre de chèques, par exemple 100.".to_string());
    let cheques = match cheques {
        Ok(n) => n,
        Err(m) => {
            let page = render_dashboard(&state, &visitor, &id, None, retry("cheques", m)).await;
            return with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    let new = NewAllocation {
        distributor_id: data.distributor_id.clone(),
        cheques,
    };
    let (org, now, program_id) = (signed.org.clone(), state.clock.now(), id.clone());
    let allocated = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { programs::allocate(tx, &org, &program_id, new, now).await })
        })
        .await;
    match allocated {
        Ok(_) => done(&id, "quota"),
        Err(e) if shown_on_page(&e) => {
            let field = if e.code().contains("distributor") {
                "distributor_id"
            } else {
                "cheques"
            };
            let attempt = retry(field, e.public_message());
            with_status(
                e.status(),
                render_dashboard(&state, &visitor, &id, None, attempt).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CloseForm {
    closes_on: String,
}

/// Plans the programme's end (or moves it) on the day chosen, at least 30 days ahead.
pub(super) async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<CloseForm>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Funder)?;
    if !form.confirmed() {
        if let Some(question) = close_question(&state, &signed.org, &id, &form.data).await? {
            return confirm::ask(&state, &form, question);
        }
    }
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let retry = |message: String| Attempt {
        closes_on: data.closes_on.clone(),
        close_error: Some(message),
        ..Attempt::default()
    };
    let request = CloseRequest {
        closes_on: Some(data.closes_on.clone()),
        force: false,
    };
    let (org, program_id) = (signed.org.clone(), id.clone());
    let (now, today) = (state.clock.now(), state.clock.today());
    let planned = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                programs::schedule_close(tx, &org, &program_id, request, now, today).await
            })
        })
        .await;
    match planned {
        Ok(_) => done(&id, "cloture"),
        Err(e) if shown_on_page(&e) && !matches!(e, Error::NotFound(_)) => {
            render_dashboard(&state, &visitor, &id, None, retry(e.public_message())).await
        }
        Err(e) => Err(e.into()),
    }
}

/// "Mettre fin au programme … le … ?", from the programme as it is now. None for a day that
/// cannot be read: the plan itself says why.
async fn close_question(
    state: &AppState,
    funder: &crate::orgs::Organization,
    id: &str,
    data: &CloseForm,
) -> Result<Option<Confirmation>, WebError> {
    let mut conn = state.db.read().await?;
    let program = programs::get_for(&mut conn, funder, id).await?;
    drop(conn);
    let today = state.clock.today();
    let last_day = match data.closes_on.trim() {
        "" => programs::earliest_close(today),
        typed => match typed.parse::<jiff::civil::Date>() {
            Ok(day) => day,
            Err(_) => return Ok(None),
        },
    };
    let question = Confirmation::new(
        format!(
            "Mettre fin au programme {} le {} ?",
            program.name,
            long_date(last_day)
        ),
        "Oui, mettre fin au programme",
    )
    .then(format!(
        "Le {} sera son dernier jour : les distributeurs peuvent remettre des carnets jusqu'au \
         {} inclus, les lieux acceptent les chèques jusqu'au {} inclus. Ils sont prévenus par \
         e-mail, ainsi que les bénéficiaires.",
        long_date(last_day),
        long_date(programs::issuance_until(last_day)),
        long_date(last_day)
    ))
    .then(
        "Le lendemain, le programme est clos pour de bon : les chèques non utilisés expirent, \
         les quotas non émis reviennent au programme, et tout ce qui n'a pas servi vous est \
         rendu sous forme d'avoir.",
    )
    .then("Vous pourrez annuler ou changer cette date tant que ce jour n'est pas passé.");
    Ok(Some(question))
}

#[derive(Deserialize)]
pub(super) struct Nothing {}

/// Cancels the planned end: the programme goes on.
pub(super) async fn cancel_close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let key = form.own_key();
    let Form { visitor, .. } = form;
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    let (org, program_id) = (signed.org.clone(), id.clone());
    let (now, today) = (state.clock.now(), state.clock.today());
    let cancelled = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { programs::cancel_close(tx, &org, &program_id, now, today).await })
        })
        .await;
    match cancelled {
        Ok(_) => done(&id, "cloture-annulee"),
        Err(e) if shown_on_page(&e) && !matches!(e, Error::NotFound(_)) => {
            let attempt = Attempt {
                close_error: Some(e.public_message()),
                ..Attempt::default()
            };
            render_dashboard(&state, &visitor, &id, None, attempt).await
        }
        Err(e) => Err(e.into()),
    }
}
