//! The eligibility questionnaire an applicant answers: the operator adds and rewords questions.

use super::Done;
use crate::app::AppState;
use crate::sites::applications::{self, Question};
use crate::web::operator::{require_operator, shown};
use crate::web::session::Form;
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

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

pub(super) async fn questions(
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
pub(super) struct QuestionForm {
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

pub(super) async fn add_question(
    State(state): State<AppState>,
    form: Form<QuestionForm>,
) -> WebResult {
    save_question(&state, form, None).await
}

pub(super) async fn update_question(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<QuestionForm>,
) -> WebResult {
    save_question(&state, form, Some(&id)).await
}
