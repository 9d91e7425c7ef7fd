//! The distributor agent: issue a carnet in one form, find a carnet by reference or code, see
//! the quota and the passes; one carnet's page ([`carnet`]).

mod carnet;
mod file;

use super::form_errors::FormErrors;
use super::session::{Form, SignedIn};
use super::{page, see_other, with_status, Layout, Visitor, WebError, WebResult};
use crate::app::AppState;
use crate::fr::long_date;
use crate::money::Cents;
use crate::orgs::OrgKind;
use crate::programs::Program;
use crate::vouchers::{self, NewPass, PassStatus, PassView};
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/distributeur", get(home))
        .route("/distributeur/carnets", post(issue))
        .merge(carnet::router())
        .merge(file::router())
}

pub struct QuotaLine {
    pub program: Program,
    pub allocated: i64,
    pub remaining: i64,
    pub used: i64,
    /// When the programme's end is planned, what that means for issuing, in words.
    pub closing: Option<String>,
}

/// "Émission possible jusqu'au 16 mars 2026, fin du programme le 1er avril 2026".
fn closing_words(program: &Program, today: jiff::civil::Date) -> Option<String> {
    let last_day = program.planned_close(today)?;
    let until = program.issuance_until(today)?;
    Some(if program.require_issuable(today).is_ok() {
        format!(
            "Émission possible jusqu'au {}, fin du programme le {}",
            long_date(until),
            long_date(last_day)
        )
    } else {
        format!(
            "Émission terminée : le programme prend fin le {}",
            long_date(last_day)
        )
    })
}

async fn quotas(state: &AppState, distributor_id: &str) -> Result<Vec<QuotaLine>, WebError> {
    let today = state.clock.today();
    let mut conn = state.db.read().await?;
    let mut out = Vec::new();
    for (program_id, f) in crate::ledger::figures_of_org(&mut conn, distributor_id, true).await? {
        let Some(program) = crate::programs::find(&mut conn, &program_id).await? else {
            continue;
        };
        let value = program.cheque_value_cents.max(Cents::new(1));
        out.push(QuotaLine {
            allocated: f.allocated_cents / value,
            remaining: f.unissued_quota_cents / value,
            used: (f.allocated_cents - f.unissued_quota_cents) / value,
            closing: closing_words(&program, today),
            program,
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "distributor/home.html")]
struct Home {
    l: Layout,
    quotas: Vec<QuotaLine>,
    passes: Vec<PassView>,
    errors: FormErrors,
    /// What the issuance form holds: blank, or what was typed when it was refused.
    entered: IssueForm,
    /// What was searched (trimmed), and the carnets found when a search was made.
    query: String,
    found: Option<Vec<PassView>>,
}

#[derive(Deserialize)]
struct HomeQuery {
    reissue: Option<String>,
    /// A search: part of a beneficiary reference, or a carnet's or cheque's code.
    q: Option<String>,
}

async fn home(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<HomeQuery>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Distributor)?;
    let query = q.q.as_deref().unwrap_or_default().trim().to_string();
    let found = if query.is_empty() {
        None
    } else {
        let mut conn = state.db.read().await?;
        let today = state.clock.today();
        Some(vouchers::search(&mut conn, &state.keyring, &signed.org, &query, today).await?)
    };
    let entered = IssueForm {
        beneficiary_ref: q.reissue,
        ..IssueForm::default()
    };
    let mut home = home_page(&state, &visitor, &signed.org, FormErrors::none(), entered).await?;
    home.query = query;
    home.found = found;
    page(home)
}

async fn home_page(
    state: &AppState,
    visitor: &Visitor,
    org: &crate::orgs::Organization,
    errors: FormErrors,
    entered: IssueForm,
) -> Result<Home, WebError> {
    let quotas = quotas(state, &org.id).await?;
    let mut conn = state.db.read().await?;
    let passes = vouchers::list(&mut conn, &state.keyring, org, state.clock.today()).await?;
    Ok(Home {
        l: Layout::new(
            state,
            visitor,
            errors.page_title("Émettre et suivre les carnets"),
        ),
        quotas,
        passes,
        errors,
        entered,
        query: String::new(),
        found: None,
    })
}

#[derive(Deserialize, Default, Clone)]
struct IssueForm {
    #[serde(default)]
    program_id: String,
    cheques: Option<String>,
    beneficiary_ref: Option<String>,
    email: Option<String>,
    stock: Option<String>,
}

async fn issue(State(state): State<AppState>, form: Form<IssueForm>) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Distributor)?;
    let data = form.data.clone();
    let cheques = match data.cheques.as_deref() {
        Some("5") => 5,
        Some("10") => 10,
        _ => 0,
    };
    let new = NewPass {
        program_id: data.program_id.clone(),
        cheques,
        beneficiary_ref: data.beneficiary_ref.clone(),
        email: data.email.clone(),
        active: Some(data.stock.is_none()),
    };
    let (now, today) = (state.clock.now(), state.clock.today());
    let (keyring, org) = (state.keyring.clone(), signed.org.clone());
    let issued = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { vouchers::issue(tx, &keyring, &org, new, now, today).await })
        })
        .await;
    match issued {
        Ok(pass) => see_other(&format!("/distributeur/carnets/{}", pass.id)),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 429 => {
            let errors = FormErrors::from_error(&e, issue_field);
            let home = home_page(&state, &form.visitor, &signed.org, errors, data).await?;
            with_status(e.status(), page(home))
        }
        Err(e) => Err(e.into()),
    }
}

/// The field of the issuance form a refusal is about; what concerns the programme (closed,
/// closing, quota used up) goes to its choice.
fn issue_field(code: &str) -> String {
    match code {
        "invalid_beneficiary_ref" | "personal_data_in_reference" => "beneficiary_ref",
        "invalid_email" => "email",
        "invalid_cheques" => "c5",
        _ => "program_id",
    }
    .to_string()
}
