//! A mediation structure applies, with no account and no JavaScript: the application form
//! (places added with a submit button that redraws the form), the charter, and the private
//! follow-up page where it reads where its application stands and corrects it when asked.

use super::session::Form;
use super::{page, see_other, with_status, Layout, Visitor, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::long_date_text;
use crate::http::extract::ClientIp;
use crate::sites::applications::{
    self, Application, Draft, PlaceDraft, Question, Status, MAX_PLACES,
};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/candidature", get(new_form).post(submit))
        .route("/candidature/envoyee", get(sent))
        .route("/candidature/charte", get(charter))
        .route("/candidature/suivi/{token}", get(follow).post(resubmit))
}

/// A question with the answer given so far.
pub struct QuestionView {
    pub id: String,
    pub number: usize,
    pub text: String,
    pub answer: String,
}

/// The application form as drawn: what was typed, and the first problem found.
pub struct Fields {
    pub d: Draft,
    pub questions: Vec<QuestionView>,
    pub can_add_place: bool,
    pub error: Option<String>,
    /// The id of the field the error is about, for the link in the error summary.
    pub error_field: &'static str,
}

impl Fields {
    fn new(d: Draft, questions: &[Question], error: Option<&Error>) -> Fields {
        let questions = questions
            .iter()
            .filter(|q| q.active)
            .enumerate()
            .map(|(i, q)| QuestionView {
                id: q.id.clone(),
                number: i + 1,
                text: q.text.clone(),
                answer: d.answer(&q.id).to_string(),
            })
            .collect();
        Fields {
            can_add_place: d.places.len() < MAX_PLACES,
            questions,
            error: error.map(Error::public_message),
            error_field: error.map(field_of).unwrap_or_default(),
            d,
        }
    }
}

/// Which field an error is about.
fn field_of(e: &Error) -> &'static str {
    match e.code() {
        "invalid_org_name" => "org_name",
        "invalid_siret" => "siret",
        "missing_place" | "incomplete_place" | "invalid_postcode" | "too_many_places" => "lieux",
        "invalid_contact_name" => "contact_name",
        "invalid_email" => "contact_email",
        "invalid_phone" => "contact_phone",
        "invalid_legal_name" => "legal_name",
        "invalid_legal_role" => "legal_role",
        "invalid_iban" => "iban",
        "invalid_holder" => "holder",
        "missing_answer" => "questionnaire",
        "charter_not_accepted" => "charte",
        _ => "",
    }
}

/// Reads the form's fields: `lieu_{i}_nom`…, `q_{question id}`, and which button was pressed.
fn read(fields: &[(String, String)]) -> (Draft, bool) {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let blocks = get("lieux")
        .parse::<usize>()
        .unwrap_or(1)
        .clamp(1, MAX_PLACES);
    let places = (0..blocks)
        .map(|i| PlaceDraft {
            name: get(&format!("lieu_{i}_nom")),
            address: get(&format!("lieu_{i}_adresse")),
            postcode: get(&format!("lieu_{i}_code_postal")),
            commune: get(&format!("lieu_{i}_commune")),
        })
        .collect();
    let answers = fields
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("q_").map(|id| (id.to_string(), v.clone())))
        .collect();
    let draft = Draft {
        org_name: get("org_name"),
        siret: get("siret"),
        places,
        contact_name: get("contact_name"),
        contact_email: get("contact_email"),
        contact_phone: get("contact_phone"),
        legal_name: get("legal_name"),
        legal_role: get("legal_role"),
        iban: get("iban"),
        holder: get("holder"),
        answers,
        charter: get("charte") == "oui",
    };
    (draft, get("action") == "ajouter_lieu")
}

/// "Ajouter un lieu": one more empty block, nothing checked yet.
fn with_one_more_place(mut d: Draft) -> Draft {
    if d.places.len() < MAX_PLACES {
        d.places.push(PlaceDraft::default());
    }
    d
}

#[derive(Template)]
#[template(path = "apply/form.html")]
struct FormPage {
    l: Layout,
    f: Fields,
}

async fn render_form(
    state: &AppState,
    visitor: &Visitor,
    draft: Draft,
    error: Option<&Error>,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let questions = applications::questions(&mut conn, true).await?;
    let title = if error.is_some() {
        "Erreur — Candidater au Pass numérique"
    } else {
        "Candidater au Pass numérique"
    };
    page(FormPage {
        l: Layout::new(state, visitor, title),
        f: Fields::new(draft, &questions, error),
    })
}

/// Each submission sends an e-mail to the address typed: one address (one IP) may not use the
/// form to flood someone's mailbox. Shares the budget of the other public forms.
/// An application sends e-mails to the address it gives: a few per window, from one address
/// and to one recipient, so that the form cannot relay mail. Checked before, counted once sent.
fn mail_keys(ip: std::net::IpAddr, draft: &Draft) -> [String; 2] {
    let to = draft.contact_email.trim().to_lowercase();
    [format!("ip:{ip}"), format!("to:{to}")]
}

/// Whose one-time form tokens these are: applicants are not signed in, and the token alone,
/// random and single-use, tells one form from another.
const ANYONE: &str = "public";

async fn new_form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let draft = Draft {
        places: vec![PlaceDraft::default()],
        ..Default::default()
    };
    render_form(&state, &visitor, draft, None).await
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Form<Vec<(String, String)>>,
) -> WebResult {
    let key = form.key(ANYONE);
    let Form { visitor, data, .. } = form;
    let (draft, add_place) = read(&data);
    if add_place {
        return render_form(&state, &visitor, with_one_more_place(draft), None).await;
    }
    let keys = mail_keys(ip, &draft);
    let now = state.clock.now();
    state.mail_forms.check(state.db.reads(), &keys, now).await?;
    let (config, now, sent) = (state.config.clone(), state.clock.now(), draft.clone());
    // Sent twice (a double click), it is stored and acknowledged once. The follow-up link is
    // a secret: it goes by e-mail only, never into the stored answer.
    let submitted = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                applications::submit(tx, &config, &sent, now)
                    .await
                    .map(|_| ())
            })
        })
        .await;
    match submitted {
        Ok(_) => {
            state.mail_forms.record(&keys, now).await?;
            see_other("/candidature/envoyee")
        }
        Err(e @ Error::Unprocessable { .. }) => with_status(
            e.status(),
            render_form(&state, &visitor, draft, Some(&e)).await,
        ),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "apply/sent.html")]
struct SentPage {
    l: Layout,
}

async fn sent(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(SentPage {
        l: Layout::new(&state, &visitor, "Candidature envoyée"),
    })
}

#[derive(Template)]
#[template(path = "apply/charter.html")]
struct CharterPage {
    l: Layout,
}

async fn charter(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    page(CharterPage {
        l: Layout::new(&state, &visitor, "Charte des lieux du Pass numérique"),
    })
}

#[derive(Template)]
#[template(path = "apply/follow.html")]
struct FollowPage {
    l: Layout,
    token: String,
    app: Application,
    state_label: &'static str,
    /// What the state means for the applicant, in a sentence or two.
    explanation: String,
    message_title: &'static str,
    submitted: String,
    notice: Option<String>,
    /// The form, when the operator asked for changes.
    f: Option<Fields>,
}

#[derive(Deserialize)]
struct FollowQuery {
    envoyee: Option<String>,
}

fn explanation(app: &Application) -> String {
    match app.status {
        Status::Received => "Nous avons bien reçu votre candidature. L'opérateur du Pass numérique va l'examiner : vous recevrez un e-mail dès qu'il aura décidé ou s'il vous demande des modifications.".into(),
        Status::UnderReview => "L'opérateur du Pass numérique examine votre candidature. Vous n'avez rien à faire pour l'instant : vous recevrez un e-mail dès qu'il aura décidé.".into(),
        Status::ChangesRequested => "L'opérateur du Pass numérique vous demande de modifier votre candidature. Lisez son message, corrigez le formulaire plus bas puis renvoyez-le.".into(),
        Status::Qualified => format!(
            "Votre structure est qualifiée jusqu'au {}. La personne à contacter a reçu par e-mail un lien pour ouvrir son accès à l'espace professionnel.",
            long_date_text(app.qualified_until.as_deref().unwrap_or_default())
        ),
        Status::Rejected => "L'opérateur du Pass numérique ne peut pas accepter votre candidature. Son motif est écrit ci-dessous.".into(),
    }
}

async fn render_follow(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    notice: Option<String>,
    correction: Option<(Draft, Option<&Error>)>,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let app = applications::by_token(&mut conn, token).await?;
    let title = match &correction {
        Some((_, Some(_))) => "Erreur — Suivre ma candidature",
        _ => "Suivre ma candidature",
    };
    let f = if app.status == Status::ChangesRequested {
        let questions = applications::questions(&mut conn, true).await?;
        let (draft, error) = correction.unwrap_or_else(|| (app.to_draft(), None));
        Some(Fields::new(draft, &questions, error))
    } else {
        None
    };
    page(FollowPage {
        l: Layout::new(state, visitor, title),
        token: token.to_string(),
        state_label: app.status.label(),
        explanation: explanation(&app),
        message_title: if app.status == Status::Rejected {
            "Motif du refus"
        } else {
            "Message de l'opérateur"
        },
        submitted: long_date_text(&app.submitted_at),
        notice,
        f,
        app,
    })
}

async fn follow(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    Query(q): Query<FollowQuery>,
) -> WebResult {
    let notice = q
        .envoyee
        .map(|_| "Votre candidature corrigée est envoyée. Un e-mail vous le confirme.".to_string());
    render_follow(&state, &visitor, &token, notice, None).await
}

async fn resubmit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    form: Form<Vec<(String, String)>>,
) -> WebResult {
    let key = form.key(ANYONE);
    let Form { visitor, data, .. } = form;
    let (draft, add_place) = read(&data);
    if add_place {
        let draft = with_one_more_place(draft);
        return render_follow(&state, &visitor, &token, None, Some((draft, None))).await;
    }
    let keys = mail_keys(ip, &draft);
    let now = state.clock.now();
    state.mail_forms.check(state.db.reads(), &keys, now).await?;
    let (config, now, sent) = (state.config.clone(), state.clock.now(), draft.clone());
    let follow_token = token.clone();
    let resubmitted = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                applications::resubmit(tx, &config, &follow_token, &sent, now)
                    .await
                    .map(|_| ())
            })
        })
        .await;
    match resubmitted {
        Ok(_) => {
            state.mail_forms.record(&keys, now).await?;
            see_other(&format!("/candidature/suivi/{token}?envoyee=1"))
        }
        Err(e @ Error::Unprocessable { .. }) => with_status(
            e.status(),
            render_follow(&state, &visitor, &token, None, Some((draft, Some(&e)))).await,
        ),
        Err(e) => Err(e.into()),
    }
}
