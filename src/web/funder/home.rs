//! The funder's home: its programmes with their headline figures, and the form to create one.

use super::{shown_on_page, FieldError};
use crate::app::AppState;
use crate::fr::{euros_text, parse_count, percent_text};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use crate::programs::{self, NewProgram};
use crate::web::form_errors::FormErrors;
use crate::web::session::{Form, SignedIn};
use crate::web::{page, see_other, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::State;
use serde::Deserialize;

pub struct ProgramLine {
    pub id: String,
    pub name: String,
    pub closed: bool,
    /// The planned last day, in words, while the programme runs.
    pub ends: Option<String>,
    pub budget: String,
    pub funded: String,
    pub available: String,
    pub issued: i64,
    pub redeemed: i64,
    pub rate: String,
}

#[derive(Deserialize)]
#[serde(default)]
pub struct ProgramForm {
    pub name: String,
    pub budget: String,
    pub cheque_value: String,
    pub validity_days: String,
    pub grace_days: String,
    pub department: String,
    /// Département and commune codes separated by spaces or commas.
    pub territory: String,
    /// One checkbox per kind of help paid for; none ticked: every kind.
    pub service_individual_help: Option<String>,
    pub service_administrative_procedure: Option<String>,
    pub service_workshop: Option<String>,
    /// Ticked: only money seen on the bank's statement backs allocations.
    pub confirmed_funding_only: Option<String>,
    /// A tz name; empty: the territory's zone.
    pub time_zone: String,
}

impl Default for ProgramForm {
    fn default() -> Self {
        ProgramForm {
            name: String::new(),
            budget: String::new(),
            cheque_value: "10".into(),
            validity_days: programs::DEFAULT_VALIDITY_DAYS.to_string(),
            grace_days: "0".into(),
            department: String::new(),
            territory: String::new(),
            service_individual_help: None,
            service_administrative_procedure: None,
            service_workshop: None,
            confirmed_funding_only: None,
            time_zone: String::new(),
        }
    }
}

impl ProgramForm {
    fn to_new(&self) -> Result<NewProgram, FieldError> {
        let budget_cents = Cents::parse_euros(&self.budget).map_err(|m| FieldError {
            field: "budget",
            message: format!("Budget : {m}"),
        })?;
        let cheque_value_cents = match self.cheque_value.trim() {
            "" => None,
            v => Some(Cents::parse_euros(v).map_err(|m| FieldError {
                field: "cheque_value",
                message: format!("Valeur d'un chèque : {m}"),
            })?),
        };
        let days = |text: &str, field: &'static str, what: &str| match text.trim() {
            "" => Ok(None),
            t => parse_count(t).map(Some).ok_or_else(|| FieldError {
                field,
                message: format!("{what} : indiquez un nombre de jours, par exemple 365."),
            }),
        };
        Ok(NewProgram {
            name: self.name.clone(),
            budget_cents,
            cheque_value_cents,
            validity_days: days(&self.validity_days, "validity_days", "Durée de validité")?,
            grace_days: days(&self.grace_days, "grace_days", "Délai de grâce")?,
            fee_rate_bp: None,
            fee_per_cheque_cents: None,
            department: Some(self.department.clone()),
            territory: match self.territory.trim() {
                "" => None,
                codes => Some(
                    codes
                        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect(),
                ),
            },
            services: Some(self.services().iter().map(|s| s.to_string()).collect()),
            confirmed_funding_only: self.confirmed_funding_only.is_some(),
            time_zone: Some(self.time_zone.clone()),
        })
    }

    /// The kinds of help ticked.
    pub fn services(&self) -> Vec<&'static str> {
        [
            ("individual_help", &self.service_individual_help),
            (
                "administrative_procedure",
                &self.service_administrative_procedure,
            ),
            ("workshop", &self.service_workshop),
        ]
        .into_iter()
        .filter(|(_, ticked)| ticked.is_some())
        .map(|(kind, _)| kind)
        .collect()
    }
}

/// The form field a programme refusal is about.
fn program_field(code: &str) -> &'static str {
    match code {
        "invalid_name" => "name",
        "invalid_budget" => "budget",
        "invalid_cheque_value" => "cheque_value",
        "invalid_validity" => "validity_days",
        "invalid_grace" => "grace_days",
        "invalid_department" => "department",
        "invalid_territory" => "territory",
        "invalid_services" => "s-individual",
        "invalid_time_zone" => "time_zone",
        _ => "name",
    }
}

#[derive(Template)]
#[template(path = "funder/home.html")]
struct Home {
    l: Layout,
    programs: Vec<ProgramLine>,
    form: ProgramForm,
    errors: FormErrors,
}

pub(super) async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    let none = FormErrors::none();
    render_home(&state, &visitor, &signed.org, ProgramForm::default(), none).await
}

async fn render_home(
    state: &AppState,
    visitor: &Visitor,
    funder: &Organization,
    form: ProgramForm,
    errors: FormErrors,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let mut lines = Vec::new();
    for program in programs::list_for_funder(&mut conn, funder).await? {
        let r = crate::ledger::reconciliation(&mut conn, &program.id, program.budget_cents).await?;
        let value = program.cheque_value_cents.max(Cents::new(1));
        lines.push(ProgramLine {
            budget: euros_text(program.budget_cents),
            funded: euros_text(r.funded_cents),
            available: euros_text(r.available_cents),
            issued: r.figures.issued_cents / value,
            redeemed: r.figures.redeemed_cents / value,
            rate: percent_text(r.figures.redeemed_cents, r.figures.issued_cents),
            closed: program.status == crate::programs::ProgramStatus::Closed,
            ends: program
                .planned_close(state.clock.today())
                .map(crate::fr::long_date),
            id: program.id,
            name: program.name,
        });
    }
    page(Home {
        l: Layout::new(state, visitor, errors.page_title("Mes programmes")),
        programs: lines,
        form,
        errors,
    })
}

pub(super) async fn create(State(state): State<AppState>, form: Form<ProgramForm>) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Funder)?;
    let key = form.key(&signed.org.id);
    let Form { visitor, data, .. } = form;
    let new = match data.to_new() {
        Ok(new) => new,
        Err(e) => {
            let errors = FormErrors::one(e.field, e.message);
            return render_home(&state, &visitor, &signed.org, data, errors).await;
        }
    };
    let (org, now) = (signed.org.clone(), state.clock.now());
    let created = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { programs::create(tx, &org, new, now).await })
        })
        .await;
    match created {
        Ok(program) => see_other(&format!(
            "/financeur/programmes/{}?fait=cree#contenu",
            program.id
        )),
        Err(e) if shown_on_page(&e) => {
            let errors = FormErrors::one(program_field(e.code()), e.public_message());
            render_home(&state, &visitor, &signed.org, data, errors).await
        }
        Err(e) => Err(e.into()),
    }
}
