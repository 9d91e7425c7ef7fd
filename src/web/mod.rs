//! The web application: server-rendered pages in plain French that work without JavaScript.
//! Templates are compiled and type-checked at build time (askama). Every form carries a CSRF
//! token; sessions are database-held cookies.

mod account;
mod apply;
mod auth;
mod coverage;
mod distributor;
mod funder;
mod operator;
mod operator_applications;
mod proconnect;
mod public;
mod second_factor;
mod session;
mod site;

pub use session::{Visitor, CSRF_COOKIE, SESSION_COOKIE};

use crate::app::AppState;
use crate::error::Error;
use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// What every page shows: the helpline, who is signed in, the CSRF token for its forms.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub title: String,
    pub helpline_phone: String,
    pub helpline_email: String,
    pub csrf: String,
    /// "Nom — Organisation", when signed in.
    pub signed_in_as: Option<String>,
    /// Link to the signed-in person's home.
    pub home: Option<&'static str>,
    /// A one-time token for the forms of this page (`<input name="once">`): a second
    /// submission of a form with the same token gets the first answer instead of doing the
    /// work again.
    pub once: String,
}

impl Layout {
    pub fn new(state: &AppState, visitor: &Visitor, title: impl Into<String>) -> Self {
        Layout {
            title: title.into(),
            helpline_phone: state.config.helpline_phone.clone(),
            helpline_email: state.config.helpline_email.clone(),
            csrf: visitor.csrf().to_string(),
            signed_in_as: visitor
                .signed
                .as_ref()
                .map(|s| format!("{} — {}", s.user.name, s.org.name)),
            home: visitor
                .signed
                .as_ref()
                .map(|s| session::home_of(s.org.kind)),
            once: crate::users::random_token(),
        }
    }

    /// `tel:` link target: digits and a leading +.
    pub fn helpline_tel(&self) -> String {
        self.helpline_phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect()
    }
}

/// A page handler's failure: a domain error shown as a page, or a redirection.
pub enum WebError {
    Error(Error),
    Redirect(String),
}

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError::Error(e)
    }
}

impl From<sqlx::Error> for WebError {
    fn from(e: sqlx::Error) -> Self {
        WebError::Error(e.into())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Error(Error::Internal(e.into()))
    }
}

pub type WebResult<T = Response> = Result<T, WebError>;

/// Carried from `WebError::into_response` to `error_pages`, which has the state to render it.
#[derive(Clone)]
struct ErrorPage(String);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Redirect(to) => Redirect::to(&to).into_response(),
            WebError::Error(e) => {
                let status = e.status();
                let message = e.public_message();
                // The API's JSON answer logs internals once; reuse it, then swap the body.
                let mut response = e.into_response();
                *response.status_mut() = status;
                response.extensions_mut().insert(ErrorPage(message));
                response
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    l: Layout,
    status: u16,
    message: String,
}

/// A page address holding a control character (`/lieux?q=a%00b`) is refused with a page that
/// says so (see `http::input`).
async fn refuse_control_characters(request: Request, next: Next) -> Response {
    match crate::http::input::check_uri(request.uri()) {
        Ok(()) => next.run(request).await,
        Err(e) => WebError::Error(e).into_response(),
    }
}

/// Renders error answers of page handlers as full pages.
async fn error_pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let visitor = request.extensions().get::<Visitor>().cloned();
    let response = next.run(request).await;
    let Some(ErrorPage(message)) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let status = response.status();
    let visitor = visitor.unwrap_or_default();
    let page = ErrorTemplate {
        l: Layout::new(&state, &visitor, "Une erreur s'est produite"),
        status: status.as_u16(),
        message,
    };
    let mut out = match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(_) => message_fallback(status),
    };
    *out.status_mut() = status;
    for (name, value) in response.headers() {
        if name == header::RETRY_AFTER {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

fn message_fallback(status: StatusCode) -> Response {
    (status, "Une erreur s'est produite.").into_response()
}

/// Renders a template as a page.
pub fn page(template: impl Template) -> WebResult {
    Ok(Html(template.render()?).into_response())
}

/// After a form's work is done: "see the result there" (303), so that reloading the result
/// page, bookmarking it or going back never sends the form again.
pub fn see_other(path: &str) -> WebResult {
    Ok(Redirect::to(path).into_response())
}

/// A page answered with the status of the refusal it shows (422, 409…).
pub fn with_status(status: StatusCode, page: WebResult) -> WebResult {
    page.map(|mut response| {
        *response.status_mut() = status;
        response
    })
}

const STYLE: &str = include_str!("../../static/style.css");
const SCAN_JS: &str = include_str!("../../static/scan.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(public::router())
        .merge(auth::router())
        .merge(second_factor::router())
        .merge(proconnect::router())
        .merge(account::router())
        .merge(distributor::router())
        .merge(funder::router())
        .merge(operator::router())
        .merge(operator_applications::router())
        .merge(apply::router())
        .merge(site::router())
        .route(
            "/static/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/static/scan.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCAN_JS) }),
        )
        .layer(axum::middleware::from_fn(refuse_control_characters))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error_pages,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            session::load_visitor,
        ))
}
