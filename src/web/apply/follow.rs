//! The private follow-up page: where the application stands, the operator's message, and,
//! when changes are asked, the whole form on one page to correct and send again.

use super::form::{errors_of, read, with_one_more_place, Fields, ALL};
use super::{mail_keys, ANYONE};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::long_date_text;
use crate::http::extract::ClientIp;
use crate::sites::applications::{self, Application, Draft, Status};
use crate::web::form_errors::FormErrors;
use crate::web::session::Form;
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

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
pub(super) struct FollowQuery {
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
    correction: Option<(Draft, FormErrors)>,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let app = applications::by_token(&mut conn, token).await?;
    let (f, title) = if app.status == Status::ChangesRequested {
        let questions = applications::questions(&mut conn, true).await?;
        let (draft, errors) = correction.unwrap_or_else(|| (app.to_draft(), FormErrors::none()));
        let title = errors.page_title("Suivre ma candidature");
        (Some(Fields::new(draft, &questions, errors, ALL)), title)
    } else {
        (None, "Suivre ma candidature".to_string())
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

pub(super) async fn follow(
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

pub(super) async fn resubmit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ClientIp(ip): ClientIp,
    form: Form<Vec<(String, String)>>,
) -> WebResult {
    let key = form.key(ANYONE);
    let add_place = form
        .fields()
        .iter()
        .any(|(k, v)| k == "action" && v == "ajouter_lieu");
    let Form { visitor, data, .. } = form;
    let (draft, _) = read(&data);
    if add_place {
        let draft = with_one_more_place(draft);
        let correction = Some((draft, FormErrors::none()));
        return render_follow(&state, &visitor, &token, None, correction).await;
    }
    let keys = mail_keys(ip, &draft);
    let now = state.clock.now();
    state.mail_forms.check(state.db.reads(), &keys, now).await?;
    let (config, sent) = (state.config.clone(), draft.clone());
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
        Err(e @ (Error::Fields(_) | Error::Unprocessable { .. } | Error::Conflict { .. }))
            if !matches!(e, Error::Conflict { .. })
                || matches!(e.code(), "siret_registered" | "application_pending") =>
        {
            let correction = Some((draft, errors_of(&e)));
            with_status(
                e.status(),
                render_follow(&state, &visitor, &token, None, correction).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}
