//! The eligibility questionnaire an applicant answers: the operator adds and rewords questions.

use super::Done;
use crate::app::AppState;
use crate::sites::applications::{self, Question};
use crate::web::form_errors::FormErrors;
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
    /// Under `new-question`, or `q-<id>` for a question reworded.
    errors: FormErrors,
    new_text: String,
    /// The question reworded and refused, with the text typed.
    edited: Option<(String, String)>,
}

impl QuestionsPage {
    /// The text a question's field holds: as typed when refused, or else its own.
    fn text_of<'a>(&'a self, q: &'a Question) -> &'a str {
        match &self.edited {
            Some((id, text)) if *id == q.id => text,
            _ => &q.text,
        }
    }
}

async fn render_questions(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<String>,
    errors: FormErrors,
    (new_text, edited): (String, Option<(String, String)>),
) -> WebResult {
    let mut conn = state.db.read().await?;
    page(QuestionsPage {
        l: Layout::new(state, visitor, errors.page_title("Questions d'éligibilité")),
        section: "candidatures",
        questions: applications::questions(&mut conn, false).await?,
        notice,
        errors,
        new_text,
        edited,
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
    let blank = (String::new(), None);
    render_questions(&state, &visitor, notice, FormErrors::none(), blank).await
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
            let (field, typed) = match id {
                None => ("new-question".to_string(), (data.text, None)),
                Some(id) => (
                    format!("q-{id}"),
                    (String::new(), Some((id.into(), data.text))),
                ),
            };
            let errors = FormErrors::one(field, e.public_message());
            with_status(
                e.status(),
                render_questions(state, visitor, None, errors, typed).await,
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
