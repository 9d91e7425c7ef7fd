//! The web application: server-rendered pages in plain French that work without JavaScript.
//! Templates are compiled and type-checked at build time (askama). Every form carries a CSRF
//! token; sessions are database-held cookies.

mod account;
mod alerts;
mod apply;
mod auth;
mod confirm;
mod coverage;
mod distributor;
mod distributor_erasure;
mod errors;
mod form_errors;
mod funder;
mod legal;
mod my_data;
mod observatory;
mod operator;
mod operator_applications;
mod proconnect;
mod public;
mod registry;
mod second_factor;
mod session;
mod site;
mod voice;

pub use errors::{bare_errors, method_not_allowed, not_found};
pub use session::{Visitor, CSRF_COOKIE, SESSION_COOKIE};

use crate::app::AppState;
use crate::error::Error;
use askama::Template;
use axum::extract::Request;
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
                response.extensions_mut().insert(errors::ErrorPage(message));
                response
            }
        }
    }
}

/// A page address holding a control character (`/lieux?q=a%00b`) is refused with a page that
/// says so (see `http::input`).
async fn refuse_control_characters(request: Request, next: Next) -> Response {
    match crate::http::input::check_uri(request.uri()) {
        Ok(()) => next.run(request).await,
        Err(e) => WebError::Error(e).into_response(),
    }
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

/// Every address of the pages that only receives a form (a POST route with no GET), and the
/// page that holds that form: opening such an address (a reload, a restored tab) answers 405
/// with a link back there. `tests/it/error_pages.rs` checks that every `<form method="post">`
/// of the templates whose address does not open is listed here.
pub const FORM_ONLY: &[(&str, &str)] = &[
    ("/deconnexion", "/"),
    ("/compte/demandes/{id}", "/compte/demandes"),
    ("/compte/jetons/{id}/revoquer", "/compte/sessions"),
    ("/compte/sessions/{id}/fin", "/compte/sessions"),
    ("/connexion/proconnect/rejoindre", "/connexion"),
    (
        "/operateur/organisations/{id}/personnes/{person}/double-authentification",
        "/operateur/organisations/{id}",
    ),
    ("/distributeur/carnets", "/distributeur"),
    (
        "/distributeur/carnets/{id}/annuler",
        "/distributeur/carnets/{id}",
    ),
    (
        "/distributeur/carnets/{id}/envoyer",
        "/distributeur/carnets/{id}",
    ),
    ("/mes-donnees/effacer-email", "/mes-donnees"),
    (
        "/distributeur/carnets/{id}/effacer-reference",
        "/distributeur/carnets/{id}",
    ),
    (
        "/distributeur/carnets/{id}/activer",
        "/distributeur/carnets/{id}",
    ),
    ("/financeur/programmes", "/financeur"),
    (
        "/financeur/programmes/{id}/versements",
        "/financeur/programmes/{id}",
    ),
    (
        "/financeur/programmes/{id}/quotas",
        "/financeur/programmes/{id}",
    ),
    (
        "/financeur/programmes/{id}/cloture",
        "/financeur/programmes/{id}",
    ),
    (
        "/financeur/programmes/{id}/cloture/annuler",
        "/financeur/programmes/{id}",
    ),
    ("/lieu/encaisser", "/lieu"),
    ("/lieu/encaissements/{id}/annuler", "/lieu"),
    ("/lieu/hors-ligne/appareils", "/lieu/hors-ligne"),
    ("/operateur/hors-ligne/allocation", "/operateur/hors-ligne"),
    (
        "/operateur/hors-ligne/appareils/{id}/retirer",
        "/operateur/hors-ligne",
    ),
    (
        "/lieu/hors-ligne/appareils/{id}/retirer",
        "/lieu/hors-ligne",
    ),
    ("/operateur/alertes/{id}/examinee", "/operateur/alertes"),
    ("/financeur/alertes/{id}/examinee", "/financeur/alertes"),
    (
        "/lieu/catalogue/{place}/{service}/retirer",
        "/lieu/catalogue",
    ),
    ("/operateur/organisations", "/operateur"),
    (
        "/operateur/organisations/{id}/invitations",
        "/operateur/organisations/{id}",
    ),
    (
        "/operateur/organisations/{id}/qualification",
        "/operateur/organisations/{id}",
    ),
    (
        "/operateur/organisations/{id}/jetons",
        "/operateur/organisations/{id}",
    ),
    (
        "/operateur/organisations/{id}/jetons/{token}/revoquer",
        "/operateur/organisations/{id}",
    ),
    (
        "/operateur/tresorerie/ecritures/{id}",
        "/operateur/tresorerie",
    ),
    ("/operateur/banque/{id}/decision", "/operateur/banque"),
    (
        "/operateur/reglements/{id}/approuver",
        "/operateur/reglements/{id}",
    ),
    (
        "/operateur/reglements/{id}/sepa",
        "/operateur/reglements/{id}",
    ),
    (
        "/operateur/reglements/{id}/payer",
        "/operateur/reglements/{id}",
    ),
    (
        "/operateur/reglements/{id}/rejets",
        "/operateur/reglements/{id}",
    ),
    (
        "/operateur/reglements/{id}/renvois",
        "/operateur/reglements/{id}",
    ),
    (
        "/operateur/candidatures/{id}/examen",
        "/operateur/candidatures/{id}",
    ),
    (
        "/operateur/candidatures/{id}/modifications",
        "/operateur/candidatures/{id}",
    ),
    (
        "/operateur/candidatures/{id}/refus",
        "/operateur/candidatures/{id}",
    ),
    (
        "/operateur/candidatures/{id}/qualification",
        "/operateur/candidatures/{id}",
    ),
    ("/operateur/questionnaire/{id}", "/operateur/questionnaire"),
];

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(public::router())
        .merge(auth::router())
        .merge(second_factor::router())
        .merge(proconnect::router())
        .merge(account::router())
        .merge(distributor::router())
        .merge(distributor_erasure::router())
        .merge(funder::router())
        .merge(alerts::router())
        .merge(operator::router())
        .merge(operator_applications::router())
        .merge(apply::router())
        .merge(site::router())
        .merge(legal::router())
        .merge(my_data::router())
        .merge(registry::router())
        .merge(voice::router())
        .merge(observatory::router())
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
            errors::error_pages,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            session::load_visitor,
        ))
}
