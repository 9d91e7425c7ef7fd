//! The operator's side of applications: the list, one application with its decisions (start
//! the review, ask for changes, reject, qualify for a period), the eligibility questionnaire,
//! and the final disqualification of a site or one of its places.

use super::confirm::{self, Confirmation};
use super::operator::{require_operator, shown};
use super::session::Form;
use super::{page, see_other, with_status, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::long_date_text;
use crate::orgs::OrgKind;
use crate::sites::applications::{self, Application, Question, Status};
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
            get(questions).post(add_question),
        )
        .route("/operateur/questionnaire/{id}", post(update_question))
        .route(
            "/operateur/organisations/{id}/disqualification",
            get(disqualify_form).post(disqualify),
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
struct Done {
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

// ---------------------------------------------------------------- questionnaire

#[derive(Template)]
#[template(path = "operator/applications/questions.html")]
struct QuestionsPage {
    l: Layout,
    section: &'static str,
    questions: Vec<Question>,
    notice: Option<String>,
    error: Option<String>,
    new_text: String,
}

async fn render_questions(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<String>,
    error: Option<String>,
    new_text: String,
) -> WebResult {
    let mut conn = state.db.read().await?;
    page(QuestionsPage {
        l: Layout::new(state, visitor, "Questions d'éligibilité"),
        section: "candidatures",
        questions: applications::questions(&mut conn, false).await?,
        notice,
        error,
        new_text,
    })
}

async fn questions(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> WebResult {
    require_operator(&visitor)?;
    let notice = done
        .fait
        .is_some()
        .then(|| "Le questionnaire est enregistré. Les candidatures déjà envoyées gardent les questions auxquelles elles ont répondu.".to_string());
    render_questions(&state, &visitor, notice, None, String::new()).await
}

#[derive(Deserialize)]
struct QuestionForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    active: Option<String>,
}

async fn save_question(state: &AppState, form: Form<QuestionForm>, id: Option<&str>) -> WebResult {
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let visitor = &visitor;
    let operator = require_operator(visitor)?;
    let now = state.clock.now();
    let (actor, question, text) = (
        operator.org.id.clone(),
        id.map(str::to_string),
        data.text.clone(),
    );
    let active = data.active.as_deref() == Some("oui");
    let result = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                match question {
                    Some(id) => {
                        applications::update_question(tx, &actor, &id, &text, active, now).await
                    }
                    None => applications::add_question(tx, &actor, &text, now).await,
                }
            })
        })
        .await;
    match result {
        Ok(()) => see_other("/operateur/questionnaire?fait=1"),
        Err(e) if shown(&e) => {
            let new_text = if id.is_none() {
                data.text
            } else {
                String::new()
            };
            with_status(
                e.status(),
                render_questions(state, visitor, None, Some(e.public_message()), new_text).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn add_question(State(state): State<AppState>, form: Form<QuestionForm>) -> WebResult {
    save_question(&state, form, None).await
}

async fn update_question(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<QuestionForm>,
) -> WebResult {
    save_question(&state, form, Some(&id)).await
}

// ---------------------------------------------------------------- disqualification

pub struct Target {
    pub id: String,
    pub label: String,
    /// What it is, in a sentence: "le lieu « Annexe » (1 rue …, Bordeaux)".
    pub words: String,
    pub disqualified: Option<String>,
}

#[derive(Template)]
#[template(path = "operator/applications/disqualify.html")]
struct DisqualifyPage {
    l: Layout,
    section: &'static str,
    site_id: String,
    site_name: String,
    targets: Vec<Target>,
    notice: Option<String>,
    error: Option<String>,
    reason: String,
}

/// The site and what can be disqualified of it: the whole structure, or one of its places.
async fn targets_of(
    conn: &mut crate::db::Conn,
    site_id: &str,
) -> crate::error::Result<(crate::orgs::Organization, Vec<Target>)> {
    let site = crate::orgs::find(conn, site_id)
        .await?
        .filter(|o| o.kind == OrgKind::Site)
        .ok_or_else(|| Error::not_found("Ce lieu de médiation n'existe pas."))?;
    let why =
        async |conn: &mut crate::db::Conn, id: &str| -> crate::error::Result<Option<String>> {
            Ok(crate::sites::qualification::disqualification(conn, id)
                .await?
                .map(|d| d.reason))
        };
    let mut targets = vec![Target {
        id: site.id.clone(),
        label: format!("Toute la structure {} et tous ses lieux", site.name),
        words: site.name.clone(),
        disqualified: why(conn, &site.id).await?,
    }];
    for place in crate::sites::places::for_site(conn, &site.id).await? {
        let address = [place.data.get("adresse"), place.data.get("commune")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        let words = format!(
            "le lieu « {} »{}",
            place.data.get("nom").unwrap_or_default(),
            if address.is_empty() {
                String::new()
            } else {
                format!(" ({address})")
            }
        );
        targets.push(Target {
            id: place.id().to_string(),
            label: format!("Seulement {words}"),
            words,
            disqualified: why(conn, place.id()).await?,
        });
    }
    Ok((site, targets))
}

async fn render_disqualify(
    state: &AppState,
    visitor: &Visitor,
    site_id: &str,
    notice: Option<String>,
    error: Option<String>,
    reason: String,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let (site, targets) = targets_of(&mut conn, site_id).await?;
    drop(conn);
    page(DisqualifyPage {
        l: Layout::new(state, visitor, format!("Disqualifier {}", site.name)),
        section: "",
        site_id: site.id.clone(),
        site_name: site.name,
        targets,
        notice,
        error,
        reason,
    })
}

async fn disqualify_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> WebResult {
    require_operator(&visitor)?;
    let notice = done.fait.is_some().then(|| {
        "La disqualification est enregistrée. La structure est prévenue par e-mail, avec le motif.".to_string()
    });
    render_disqualify(&state, &visitor, &id, notice, None, String::new()).await
}

#[derive(Deserialize)]
struct DisqualifyForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    reason: String,
}

async fn disqualify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DisqualifyForm>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    if !form.confirmed() && !form.data.reason.trim().is_empty() {
        let mut conn = state.db.read().await?;
        let (site, targets) = targets_of(&mut conn, &id).await?;
        drop(conn);
        let target = targets
            .into_iter()
            .enumerate()
            .find(|(_, t)| t.id == form.data.target && t.disqualified.is_none());
        if let Some((position, target)) = target {
            let question = if position == 0 {
                Confirmation::new(
                    format!(
                        "Disqualifier définitivement {} et tous ses lieux ?",
                        site.name
                    ),
                    "Oui, disqualifier la structure",
                )
                .then(
                    "La structure et tous ses lieux ne pourront plus encaisser de chèques, ni \
                     être qualifiés de nouveau.",
                )
            } else {
                Confirmation::new(
                    format!("Disqualifier définitivement {} ?", target.words),
                    "Oui, disqualifier le lieu",
                )
                .then(format!(
                    "Ce lieu de {} ne pourra plus encaisser de chèques, ni être qualifié de \
                     nouveau. Les autres lieux de la structure ne changent pas.",
                    site.name
                ))
            }
            .then(
                "La structure reçoit le motif que vous avez écrit, par e-mail et sur ses pages. \
                 La disqualification est définitive.",
            )
            .back_to(format!("/operateur/organisations/{id}/disqualification"));
            return confirm::ask(&state, &form, question);
        }
    }
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let now = state.clock.now();
    let (org, letterhead, site_id) = (operator.org.clone(), state.letterhead(), id.clone());
    let (target, reason) = (data.target.clone(), data.reason.clone());
    let result = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                crate::sites::qualification::disqualify(
                    tx,
                    &org,
                    &site_id,
                    &target,
                    &reason,
                    &letterhead,
                    now,
                )
                .await
            })
        })
        .await;
    match result {
        Ok(()) => see_other(&format!(
            "/operateur/organisations/{id}/disqualification?fait=1"
        )),
        Err(e) if shown(&e) => with_status(
            e.status(),
            render_disqualify(
                &state,
                &visitor,
                &id,
                None,
                Some(e.public_message()),
                data.reason,
            )
            .await,
        ),
        Err(e) => Err(e.into()),
    }
}
