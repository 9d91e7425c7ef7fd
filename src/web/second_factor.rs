//! The second factor's pages: the code asked after the password, setting up an authenticator
//! app (its secret as text and as a QR code, confirmed by a first code, then the recovery codes
//! shown once), and where a person sees that it is in place.

use super::auth::Suite;
use super::session::{home_of, with_suite, Form};
use super::{page, with_status, Layout, Visitor, WebError, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::users::totp::{self, Verified};
use crate::users::{Signed, Stage};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connexion/code", get(code_form).post(send_code))
        .route(
            "/compte/double-authentification",
            get(enrol_form).post(confirm),
        )
}

#[derive(Template)]
#[template(path = "auth/code.html")]
struct CodePage {
    l: Layout,
    error: Option<String>,
    /// The page asked for before login.
    suite: String,
}

/// The session waiting for a code, or where its holder should be instead.
fn awaiting(visitor: &Visitor, stage: Stage, suite: &Suite) -> Result<Arc<Signed>, WebError> {
    match (&visitor.signed, &visitor.pending) {
        (Some(s), _) => Err(WebError::Redirect(suite.or(home_of(s.org.kind)).into())),
        (None, Some(p)) if p.stage == stage => Ok(p.clone()),
        (None, Some(p)) => Err(WebError::Redirect(with_suite(
            super::session::step_page(p.stage),
            &suite.suite,
        ))),
        (None, None) => Err(WebError::Redirect(with_suite("/connexion", &suite.suite))),
    }
}

async fn code_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(suite): Query<Suite>,
) -> WebResult {
    awaiting(&visitor, Stage::Code, &suite)?;
    page(CodePage {
        l: Layout::new(&state, &visitor, "Code de connexion"),
        error: None,
        suite: suite.kept(),
    })
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(flatten)]
    suite: Suite,
}

/// Limited as passwords are (per address and per account): six digits are guessable.
async fn send_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form { visitor, data, .. }: Form<CodeForm>,
) -> WebResult {
    let pending = awaiting(&visitor, Stage::Code, &data.suite)?;
    let now = state.clock.now();
    let keys = [
        format!("ip:{ip}"),
        format!("account:{}", pending.user.email),
    ];
    state.logins.check(state.db.reads(), &keys, now).await?;
    let token = visitor.session_token.clone().unwrap_or_default();
    let (user, code) = (pending.user.clone(), data.code.clone());
    let outcome = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { totp::verify(tx, &user, &token, &code, now).await })
        })
        .await?;
    match outcome {
        Verified::Accepted => {
            Ok(Redirect::to(data.suite.or(home_of(pending.org.kind))).into_response())
        }
        Verified::Refused(e) => {
            state.logins.record(&keys, now).await?;
            with_status(
                e.status(),
                page(CodePage {
                    l: Layout::new(&state, &visitor, "Code de connexion"),
                    error: Some(e.public_message()),
                    suite: data.suite.kept(),
                }),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "auth/second_factor.html")]
struct EnrolPage {
    l: Layout,
    /// Set up already: what is left to know.
    status: Option<totp::Status>,
    required: bool,
    secret: String,
    qr_svg: String,
    error: Option<String>,
    /// Just confirmed: the recovery codes, shown this once.
    recovery_codes: Vec<String>,
    /// Where to go once the codes are noted: the page asked for before login, or home.
    home: String,
    /// The page asked for before login, kept by the form.
    suite: String,
}

/// Signed in, or made to set up a second factor before anything else.
fn enrolling(visitor: &Visitor) -> Result<Arc<Signed>, WebError> {
    match (&visitor.signed, &visitor.pending) {
        (Some(s), _) => Ok(s.clone()),
        (None, Some(p)) if p.stage == Stage::Enrol => Ok(p.clone()),
        (None, Some(p)) => Err(WebError::Redirect(
            super::session::step_page(p.stage).into(),
        )),
        (None, None) => Err(WebError::Redirect("/connexion".into())),
    }
}

/// Secrets are on this page: no copy may stay in a cache.
fn no_store(response: WebResult) -> WebResult {
    response.map(|mut r| {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    })
}

async fn render_enrol(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    suite: &Suite,
) -> WebResult {
    let who = enrolling(visitor)?;
    let title = "Double authentification";
    let required = totp::required(who.org.kind);
    let home = suite.or(home_of(who.org.kind)).to_string();
    let status = {
        let mut conn = state.db.read().await?;
        totp::status(&mut conn, &who.user.id).await?
    };
    if status.enrolled {
        return page(EnrolPage {
            l: Layout::new(state, visitor, title),
            status: Some(status),
            required,
            secret: String::new(),
            qr_svg: String::new(),
            error,
            recovery_codes: Vec::new(),
            home,
            suite: suite.kept(),
        });
    }
    let now = state.clock.now();
    let user = who.user.clone();
    let enrolment = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { totp::enrolment(tx, &user, now).await })
        })
        .await?;
    let label = "QR code à scanner avec votre application d'authentification";
    no_store(page(EnrolPage {
        l: Layout::new(state, visitor, title),
        status: None,
        required,
        qr_svg: crate::vouchers::codes::qr_svg(&enrolment.uri, label).unwrap_or_default(),
        secret: spaced(&enrolment.secret),
        error,
        recovery_codes: Vec::new(),
        home,
        suite: suite.kept(),
    }))
}

/// The secret in groups of four, easier to copy by hand.
fn spaced(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn enrol_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(suite): Query<Suite>,
) -> WebResult {
    render_enrol(&state, &visitor, None, &suite).await
}

async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form { visitor, data, .. }: Form<CodeForm>,
) -> WebResult {
    let who = enrolling(&visitor)?;
    let now = state.clock.now();
    let keys = [format!("ip:{ip}"), format!("account:{}", who.user.email)];
    state.logins.check(state.db.reads(), &keys, now).await?;
    let token = visitor.session_token.clone().unwrap_or_default();
    let (user, code) = (who.user.clone(), data.code.clone());
    let letterhead = state.letterhead();
    let confirmed = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { totp::confirm(tx, &letterhead, &user, &token, &code, now).await })
        })
        .await;
    match confirmed {
        Ok(recovery_codes) => no_store(page(EnrolPage {
            l: Layout::new(&state, &visitor, "Double authentification en place"),
            status: None,
            required: totp::required(who.org.kind),
            secret: String::new(),
            qr_svg: String::new(),
            error: None,
            recovery_codes,
            home: data.suite.or(home_of(who.org.kind)).to_string(),
            suite: String::new(),
        })),
        Err(e @ (Error::Unprocessable { .. } | Error::Conflict { .. })) => {
            state.logins.record(&keys, now).await?;
            with_status(
                e.status(),
                render_enrol(&state, &visitor, Some(e.public_message()), &data.suite).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}
