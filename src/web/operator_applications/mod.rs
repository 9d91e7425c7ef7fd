//! The operator's side of applications: the list, one application with its decisions (start
//! the review, ask for changes, reject, qualify for a period), the eligibility questionnaire,
//! and the final disqualification of a site or one of its places.

mod disqualification;
mod questionnaire;

use super::confirm::{self, Confirmation};
use super::operator::{require_operator, shown};
use super::session::Form;
use super::{page, see_other, with_status, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::long_date_text;
use crate::sites::applications::{self, Application, Status};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;

use jiff::ToSpan;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operateur/candidatures", get(list))
        .route("/operateur/candidatures/{id}", get(detail))
        .route("/operateur/candidatures/{id}/examen", post(start_review))
        .route(
            "/operateur/candidatures/{id}/modifications",
            post(request_changes),
        )
        .route("/operateur/candidatures/{id}/refus", post(reject))
        .route("/operateur/candidatures/{id}/qualification", post(qualify))
        .route(
            "/operateur/questionnaire",
            get(questionnaire::questions).post(questionnaire::add_question),
        )
        .route(
            "/operateur/questionnaire/{id}",
            post(questionnaire::update_question),
        )
        .route(
            "/operateur/organisations/{id}/disqualification",
            get(disqualification::disqualify_form).post(disqualification::disqualify),
        )
}

// ---------------------------------------------------------------- list

pub struct Row {
    pub id: String,
    pub org_name: String,
    pub siret: String,
    pub places: usize,
    pub state: &'static str,
    pub submitted: String,
}

pub struct Group {
    pub title: &'static str,
    pub empty: &'static str,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "operator/applications/list.html")]
struct ListPage {
    l: Layout,
    section: &'static str,
    groups: Vec<Group>,
}

async fn list(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    let mut conn = state.db.read().await?;
    let all = applications::list(&mut conn).await?;
    let row = |a: &Application| Row {
        id: a.id.clone(),
        org_name: a.org_name.clone(),
        siret: a.siret.clone(),
        places: a.places.len(),
        state: a.status.label(),
        submitted: long_date_text(&a.updated_at),
    };
    // Oldest first among those waiting: first come, first served.
    let mut waiting: Vec<Row> = all.iter().filter(|a| a.status.is_open()).map(row).collect();
    waiting.reverse();
    page(ListPage {
        l: Layout::new(&state, &visitor, "Candidatures"),
        section: "candidatures",
        groups: vec![
            Group {
                title: "En attente de décision",
                empty: "Aucune candidature n'attend de décision.",
                rows: waiting,
            },
            Group {
                title: "Décidées ou renvoyées à la structure",
                empty: "Aucune autre candidature.",
                rows: all
                    .iter()
                    .filter(|a| !a.status.is_open())
                    .map(row)
                    .collect(),
            },
        ],
    })
}

// ---------------------------------------------------------------- one application

#[derive(Template)]
#[template(path = "operator/applications/detail.html")]
struct DetailPage {
    l: Layout,
    section: &'static str,
    app: Application,
    state_label: &'static str,
    is_open: bool,
    is_received: bool,
    iban: String,
    submitted: String,
    default_until: String,
    min_until: String,
    notice: Option<String>,
    error: Option<String>,
    message: String,
}

#[derive(Deserialize)]
pub(super) struct Done {
    fait: Option<String>,
}

async fn detail(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> WebResult {
    require_operator(&visitor)?;
    let notice = done.fait.as_deref().and_then(|f| {
        Some(match f {
            "examen" => "Vous examinez cette candidature : la structure le voit sur sa page de suivi.",
            "modifications" => "La demande de modifications est envoyée à la structure, par e-mail et sur sa page de suivi.",
            "refus" => "La candidature est refusée ; la structure reçoit le motif par e-mail.",
            "qualification" => "La structure est qualifiée : son organisation, ses lieux et son compte bancaire sont créés, et la personne à contacter est invitée comme administratrice.",
            _ => return None,
        })
    });
    render_detail(
        &state,
        &visitor,
        &id,
        notice.map(str::to_string),
        None,
        String::new(),
    )
    .await
}

async fn render_detail(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
    message: String,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let app = applications::find(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("Cette candidature n'existe pas."))?;
    let today = state.clock.today();
    page(DetailPage {
        l: Layout::new(state, visitor, format!("Candidature de {}", app.org_name)),
        section: "candidatures",
        state_label: app.status.label(),
        is_open: app.status.is_open(),
        is_received: app.status == Status::Received,
        iban: crate::sites::bank::mask_iban(&app.iban),
        submitted: long_date_text(&app.submitted_at),
        default_until: today.checked_add(1.year()).unwrap_or(today).to_string(),
        min_until: today.tomorrow().unwrap_or(today).to_string(),
        notice,
        error,
        message,
        app,
    })
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    message: String,
    #[serde(default)]
    valid_until: String,
}

/// What the operator decides on an application.
enum Decision {
    Review,
    Changes(String),
    Reject(String),
    Qualify(String),
}

/// Runs one decision in a unit of work, then shows the application again.
async fn decide(
    state: &AppState,
    form: &Form<impl Sized>,
    id: &str,
    decision: Decision,
) -> WebResult {
    let visitor = &form.visitor;
    let operator = require_operator(visitor)?;
    let (now, today) = (state.clock.now(), state.clock.today());
    let (config, org, app_id) = (state.config.clone(), operator.org.clone(), id.to_string());
    let done = match &decision {
        Decision::Review => "examen",
        Decision::Changes(_) => "modifications",
        Decision::Reject(_) => "refus",
        Decision::Qualify(_) => "qualification",
    };
    let decided = {
        let decision = match &decision {
            Decision::Review => Decision::Review,
            Decision::Changes(m) => Decision::Changes(m.clone()),
            Decision::Reject(r) => Decision::Reject(r.clone()),
            Decision::Qualify(u) => Decision::Qualify(u.clone()),
        };
        state
            .write(visitor.origin(), form.key(&org.id), move |tx| {
                Box::pin(async move {
                    let (actor, id) = (org.id.as_str(), app_id.as_str());
                    match decision {
                        Decision::Review => applications::start_review(tx, actor, id, now).await,
                        Decision::Changes(message) => {
                            applications::request_changes(tx, &config, actor, id, &message, now)
                                .await
                        }
                        Decision::Reject(reason) => {
                            applications::reject(tx, &config, actor, id, &reason, now).await
                        }
                        Decision::Qualify(until) => {
                            applications::qualify(tx, &config, &org, id, &until, today, now)
                                .await
                                .map(|_| ())
                        }
                    }
                })
            })
            .await
    };
    match decided {
        Ok(()) => see_other(&format!("/operateur/candidatures/{id}?fait={done}")),
        Err(e) if shown(&e) => {
            // The message being written stays in its box.
            let message = match decision {
                Decision::Changes(m) => m,
                _ => String::new(),
            };
            with_status(
                e.status(),
                render_detail(state, visitor, id, None, Some(e.public_message()), message).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn start_review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DecisionForm>,
) -> WebResult {
    decide(&state, &form, &id, Decision::Review).await
}

async fn request_changes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DecisionForm>,
) -> WebResult {
    decide(
        &state,
        &form,
        &id,
        Decision::Changes(form.data.message.clone()),
    )
    .await
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DecisionForm>,
) -> WebResult {
    require_operator(&form.visitor)?;
    if !form.confirmed() && !form.data.message.trim().is_empty() {
        let mut conn = state.db.read().await?;
        let app = applications::find(&mut conn, &id).await?;
        drop(conn);
        if let Some(app) = app.filter(|a| a.status.is_open()) {
            let question = Confirmation::new(
                format!("Refuser la candidature de {} ?", app.org_name),
                "Oui, refuser la candidature",
            )
            .then(
                "La structure reçoit le motif que vous avez écrit, par e-mail et sur sa page de \
                 suivi.",
            )
            .then(
                "Le refus est définitif : cette candidature ne pourra plus être qualifiée ni \
                 corrigée.",
            );
            return confirm::ask(&state, &form, question);
        }
    }
    decide(
        &state,
        &form,
        &id,
        Decision::Reject(form.data.message.clone()),
    )
    .await
}

async fn qualify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DecisionForm>,
) -> WebResult {
    decide(
        &state,
        &form,
        &id,
        Decision::Qualify(form.data.valid_until.clone()),
    )
    .await
}
