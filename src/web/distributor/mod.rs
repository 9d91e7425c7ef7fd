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
use crate::outcomes::{AgeBracket, HelpLevel, NeedsCheck, Situation, Suggestion, YesNo, QUESTIONS};
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
    /// The needs check's questions with their answers, and its suggestion once answered.
    needs: Vec<Question>,
    suggestion: Option<Suggestion>,
    levels: Vec<(&'static str, &'static str)>,
    ages: Vec<(&'static str, &'static str)>,
    situations: Vec<(&'static str, &'static str)>,
    yes_no: Vec<(&'static str, &'static str)>,
    /// The distributor's, where its people read the days shown.
    zone: jiff::tz::TimeZone,
}

impl Home {
    /// The day of a stored instant where the distributor is.
    fn day(&self, at: &str) -> String {
        crate::fr::long_date_in(at, &self.zone)
    }
}

/// A question of the needs check: `(name, question, answered yes)`.
pub struct Question {
    pub name: &'static str,
    pub text: &'static str,
    pub yes: bool,
}

fn questions(check: &NeedsCheck) -> Vec<Question> {
    QUESTIONS
        .iter()
        .map(|(name, text)| Question {
            name,
            text,
            yes: check.answered_yes(name),
        })
        .collect()
}

#[derive(Deserialize)]
struct HomeQuery {
    reissue: Option<String>,
    /// A search: part of a beneficiary reference, or a carnet's or cheque's code.
    q: Option<String>,
    /// Set by the needs check's form; its answers are the other fields.
    besoins: Option<String>,
    urgent_right: Option<String>,
    no_device: Option<String>,
    never_alone: Option<String>,
    reading: Option<String>,
    several_needs: Option<String>,
}

impl HomeQuery {
    fn needs(&self) -> NeedsCheck {
        NeedsCheck::from_answers([
            ("urgent_right", self.urgent_right.as_deref().unwrap_or("")),
            ("no_device", self.no_device.as_deref().unwrap_or("")),
            ("never_alone", self.never_alone.as_deref().unwrap_or("")),
            ("reading", self.reading.as_deref().unwrap_or("")),
            ("several_needs", self.several_needs.as_deref().unwrap_or("")),
        ])
    }
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
    // The needs check suggests; the form is only filled in with it, the agent decides.
    let check = q.needs();
    let suggestion = q.besoins.is_some().then(|| check.suggest());
    let entered = IssueForm {
        beneficiary_ref: q.reissue,
        cheques: suggestion.as_ref().map(|s| s.cheques.to_string()),
        help_level: suggestion.as_ref().map(|s| s.level.as_str().to_string()),
        ..IssueForm::default()
    };
    let mut home = home_page(&state, &visitor, &signed.org, FormErrors::none(), entered).await?;
    home.query = query;
    home.found = found;
    home.needs = questions(&check);
    home.suggestion = suggestion;
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
        needs: questions(&NeedsCheck::default()),
        suggestion: None,
        levels: HelpLevel::choices(),
        ages: AgeBracket::choices(),
        situations: Situation::choices(),
        yes_no: YesNo::choices(),
        zone: org.zone(),
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
    help_level: Option<String>,
    age_bracket: Option<String>,
    situation: Option<String>,
    priority_area: Option<String>,
    rural: Option<String>,
}

impl IssueForm {
    /// What a list field holds, for the template ("" when not chosen).
    fn chosen(value: &Option<String>) -> &str {
        value.as_deref().unwrap_or_default()
    }
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
        help_level: data.help_level.clone(),
        age_bracket: data.age_bracket.clone(),
        situation: data.situation.clone(),
        priority_area: data.priority_area.clone(),
        rural: data.rural.clone(),
    };
    let now = state.clock.now();
    let (keyring, org) = (state.keyring.clone(), signed.org.clone());
    let issued = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { vouchers::issue(tx, &keyring, &org, new, now).await })
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
        "invalid_help_level" => "help_level",
        "invalid_age_bracket" => "age_bracket",
        "invalid_situation" => "situation",
        "invalid_priority_area" => "priority_area",
        "invalid_rural" => "rural",
        _ => "program_id",
    }
    .to_string()
}
