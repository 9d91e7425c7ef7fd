//! "Je donne mon avis" (see [`crate::voice`]): the form, reached from the carnet's printed link
//! (`/avis/{carnet code}`: its earliest session not yet answered) or from the site's receipt
//! (`/avis/seance/{token}`), and the answers counted for the site, the funder and the operator.

use super::form_errors::FormErrors;
use super::session::{Form, SignedIn};
use super::{page, with_status, Layout, Visitor, WebError, WebResult};
use crate::app::AppState;
use crate::clock::format_ts;
use crate::error::Error;
use crate::fr::long_date_text;
use crate::http::extract::ClientIp;
use crate::orgs::OrgKind;
use crate::voice::{self, Answer, Comment, Scope, Session, Summary};
use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/avis/{pass_code}", get(carnet_form).post(carnet_answer))
        .route("/avis/seance/{token}", get(link_form).post(link_answer))
        .route("/lieu/avis", get(site_summary))
        .route("/financeur/avis", get(funder_summary))
        .route("/operateur/avis", get(operator_summary))
}

#[derive(Template)]
#[template(path = "public/feedback.html")]
struct Feedback {
    l: Layout,
    /// Where the form posts.
    action: String,
    /// "la séance du 3 mars 2027 à la Médiathèque", when known.
    about: String,
    errors: FormErrors,
    /// A refusal that no field can correct (unknown carnet, opinion already given).
    refused: Option<String>,
    thanks: bool,
    /// What was sent, to show it again with the mistakes.
    a: Sent,
    marks: Vec<String>,
    /// `(field, id of its first choice, question, choices)` of the questions after the mark.
    questions: Vec<(&'static str, &'static str, &'static str, Choices)>,
}

type Choices = &'static [(&'static str, &'static str)];

const QUESTIONS: [(&str, &str, &str, Choices); 3] = [
    (
        "reached",
        "reached-oui",
        "Avez-vous pu faire ce que vous vouliez ?",
        voice::YES_PARTLY_NO,
    ),
    (
        "clear",
        "clear-oui",
        "Les explications étaient-elles claires ?",
        voice::YES_PARTLY_NO,
    ),
    (
        "alone",
        "alone-oui",
        "Pourriez-vous le refaire ?",
        voice::ALONE,
    ),
];

#[derive(Default, Deserialize)]
struct Sent {
    /// `rating` is the field's older name, still sent by forms opened before the change.
    #[serde(alias = "rating")]
    overall: Option<String>,
    reached: Option<String>,
    clear: Option<String>,
    alone: Option<String>,
    comment: Option<String>,
}

impl Sent {
    fn is(&self, field: &str, value: &str) -> bool {
        let sent = match field {
            "overall" => &self.overall,
            "reached" => &self.reached,
            "clear" => &self.clear,
            _ => &self.alone,
        };
        sent.as_deref() == Some(value)
    }

    fn comment_text(&self) -> &str {
        self.comment.as_deref().unwrap_or_default()
    }

    fn answer(&self) -> Answer {
        Answer {
            overall: self.overall.clone(),
            reached: self.reached.clone(),
            clear: self.clear.clone(),
            alone: self.alone.clone(),
            comment: self.comment.clone(),
        }
    }
}

impl Feedback {
    fn new(state: &AppState, visitor: &Visitor, action: String) -> Self {
        Feedback {
            l: Layout::new(state, visitor, "Je donne mon avis"),
            action,
            about: String::new(),
            errors: FormErrors::none(),
            refused: None,
            thanks: false,
            a: Sent::default(),
            marks: (0..=10).map(|m| m.to_string()).collect(),
            questions: QUESTIONS.to_vec(),
        }
    }

    fn about(mut self, session: &Session) -> Self {
        self.about = format!(
            "la séance du {} à « {} »",
            long_date_text(&session.at),
            session.place_name
        );
        self
    }

    /// Shows a refusal on the page: a field's mistake, or a message no field corrects.
    fn refuse(mut self, e: Error) -> WebResult {
        let status = e.status();
        match e {
            Error::Unprocessable { .. } => {
                let id = match voice::field_of(e.code()) {
                    "overall" => "r0".to_string(),
                    field => format!("{field}-oui"),
                };
                self.errors = FormErrors::one(id, e.public_message());
                self.l.title = self.errors.page_title(&self.l.title);
            }
            Error::NotFound(_) | Error::Conflict { .. } => {
                self.refused = Some(e.public_message());
            }
            e => return Err(WebError::Error(e)),
        }
        with_status(status, page(self))
    }
}

/// The carnet's earliest session waiting for an answer.
async fn carnet_session(state: &AppState, pass_code: &str) -> Result<Session, Error> {
    let mut conn = state.db.read().await?;
    let pass_id = crate::vouchers::pass_id_of_code(&mut conn, pass_code).await?;
    voice::next_session_of_carnet(&mut conn, &pass_id).await
}

async fn carnet_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(pass_code): Path<String>,
) -> WebResult {
    let pass_code = crate::vouchers::feedback_code(&pass_code)?;
    let view = Feedback::new(&state, &visitor, format!("/avis/{pass_code}"));
    match carnet_session(&state, &pass_code).await {
        Ok(session) => page(view.about(&session)),
        // The form stays: the refusal says when an answer will be possible.
        Err(e @ (Error::Conflict { .. } | Error::NotFound(_))) => page(Feedback {
            refused: Some(e.public_message()),
            ..view
        }),
        Err(e) => Err(e.into()),
    }
}

async fn carnet_answer(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(pass_code): Path<String>,
    form: Form<Sent>,
) -> WebResult {
    let pass_code = crate::vouchers::feedback_code(&pass_code)?;
    let Form { visitor, data, .. } = form;
    let view = Feedback {
        a: data,
        ..Feedback::new(&state, &visitor, format!("/avis/{pass_code}"))
    };
    // Counted as the balance page's look-ups are: a code typed at random costs the same.
    state
        .public_lookups
        .count(&[format!("ip:{ip}")], state.clock.now())
        .await?;
    match carnet_session(&state, &pass_code).await {
        Ok(session) => record(&state, &visitor, view, session).await,
        Err(e) => view.refuse(e),
    }
}

async fn link_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
) -> WebResult {
    let view = Feedback::new(&state, &visitor, link_action(&token));
    let mut conn = state.db.read().await?;
    match voice::session_of_link(&mut conn, &token).await {
        Ok(session) => page(view.about(&session)),
        Err(e) => view.refuse(e),
    }
}

/// The token goes back into the page only as URL-safe base64 (what the links are made of).
fn link_action(token: &str) -> String {
    let safe: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("/avis/seance/{safe}")
}

async fn link_answer(
    State(state): State<AppState>,
    Path(token): Path<String>,
    form: Form<Sent>,
) -> WebResult {
    let Form { visitor, data, .. } = form;
    let view = Feedback {
        a: data,
        ..Feedback::new(&state, &visitor, link_action(&token))
    };
    let session = {
        let mut conn = state.db.read().await?;
        voice::session_of_link(&mut conn, &token).await
    };
    match session {
        Ok(session) => record(&state, &visitor, view, session).await,
        Err(e) => view.refuse(e),
    }
}

async fn record(
    state: &AppState,
    visitor: &Visitor,
    view: Feedback,
    session: Session,
) -> WebResult {
    let answer = view.a.answer();
    let now = format_ts(state.clock.now());
    let view = view.about(&session);
    let recorded = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { voice::answer(tx, &session, &answer, &now).await })
        })
        .await;
    match recorded {
        Ok(()) => page(Feedback {
            thanks: true,
            ..view
        }),
        Err(e) => view.refuse(e),
    }
}

#[derive(Template)]
#[template(path = "voice/summary.html")]
struct SummaryPage {
    l: Layout,
    /// "de vos lieux", "de vos programmes", "de tous les lieux".
    whose: &'static str,
    s: Summary,
    marks: Vec<(i64, i64)>,
    questions: Vec<(&'static str, Vec<(&'static str, i64)>)>,
    /// The operator's only: masked comments, newest first.
    comments: Option<Vec<(String, i64, String)>>,
}

fn summary_page(
    l: Layout,
    whose: &'static str,
    s: Summary,
    comments: Option<Vec<Comment>>,
) -> WebResult {
    let with_labels = |counts: &[i64; 3], list: &'static [(&'static str, &'static str)]| {
        list.iter()
            .map(|(_, label)| *label)
            .zip(counts.iter().copied())
            .collect()
    };
    page(SummaryPage {
        l,
        whose,
        marks: (0..).zip(s.marks.iter().copied()).collect(),
        questions: QUESTIONS
            .iter()
            .zip([&s.reached, &s.clear, &s.alone])
            .map(|((_, _, question, choices), counts)| (*question, with_labels(counts, choices)))
            .collect(),
        s,
        comments: comments.map(|all| {
            all.into_iter()
                .map(|c| (long_date_text(&c.at), c.overall, c.text))
                .collect()
        }),
    })
}

async fn site_summary(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let s = voice::summary(&mut conn, Scope::Site(&signed.org.id), None).await?;
    let l = Layout::new(&state, &visitor, "L'avis des personnes aidées");
    summary_page(l, "dans vos lieux", s, None)
}

async fn funder_summary(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    let mut conn = state.db.read().await?;
    let s = voice::summary(&mut conn, Scope::Funder(&signed.org.id), None).await?;
    let l = Layout::new(&state, &visitor, "L'avis des personnes aidées");
    summary_page(l, "dans vos programmes", s, None)
}

async fn operator_summary(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    SignedIn::require(&visitor, OrgKind::Operator)?;
    let mut conn = state.db.read().await?;
    let s = voice::summary(&mut conn, Scope::All, None).await?;
    let comments = voice::comments_for_operator(&mut conn, 200).await?;
    let l = Layout::new(&state, &visitor, "L'avis des personnes aidées");
    summary_page(l, "partout", s, Some(comments))
}
