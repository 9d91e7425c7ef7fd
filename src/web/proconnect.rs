//! The ProConnect login's pages: the way out to the provider, the way back (signed in, offered
//! to join an organisation, or told why not), and the requests an administrator decides.

use super::auth::Suite;
use super::session::{build_cookie, home_of, step_page, with_suite, Form};
use super::{page, see_other, Layout, Visitor, WebError, WebResult, SESSION_COOKIE};
use crate::app::AppState;
use crate::error::Error;
use crate::users::proconnect::{self, Arrival, Provider, Request};
use crate::users::Stage;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{AppendHeaders, IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connexion/proconnect", get(start))
        .route("/connexion/proconnect/retour", get(callback))
        .route("/connexion/proconnect/rejoindre", post(join))
        .route("/compte/demandes", get(requests))
        .route("/compte/demandes/{id}", post(decide))
}

fn provider(state: &AppState) -> Result<Arc<Provider>, WebError> {
    state.proconnect.clone().ok_or_else(|| {
        Error::not_found("La connexion avec ProConnect n'est pas ouverte ici.").into()
    })
}

/// Keeps the page asked for before login while the person is at the provider (ten minutes).
const SUITE_COOKIE: &str = "passnum_suite";

/// The page asked for before a ProConnect login, from its cookie.
fn suite_of(headers: &HeaderMap) -> Suite {
    let suite = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse(v.to_string()).filter_map(Result::ok))
        .find(|c| c.name() == SUITE_COOKIE)
        .and_then(|c| serde_urlencoded::from_str::<Suite>(c.value()).ok());
    suite.unwrap_or_default()
}

async fn start(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(suite): Query<Suite>,
) -> WebResult {
    let provider = provider(&state)?;
    let pending = provider.authorization().await?;
    let now = state.clock.now();
    let url = pending.url.clone();
    state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { proconnect::begin(tx, &pending, now).await })
        })
        .await?;
    // Encoded as a query (`suite=%2Flieu`): a cookie's value cannot hold every character.
    let value = serde_urlencoded::to_string([("suite", suite.kept())]).unwrap_or_default();
    let cookie = build_cookie(&state, SUITE_COOKIE, value, 600);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response())
}

#[derive(Template)]
#[template(path = "auth/proconnect.html")]
struct Outcome {
    l: Layout,
    /// Offered to join this organisation (the request to send).
    offer: Option<(Request, String)>,
    /// The request was sent.
    asked: bool,
}

#[derive(Deserialize)]
struct Back {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Query(back): Query<Back>,
) -> WebResult {
    let suite = suite_of(&headers);
    let provider = provider(&state)?;
    let now = state.clock.now();
    let login_state = back.state.clone().unwrap_or_default();
    let (nonce, verifier) = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { proconnect::take(tx, &login_state, now).await })
        })
        .await?;
    let identity = match (back.error, back.code) {
        (None, Some(code)) => provider.identity(&code, &nonce, &verifier, now).await,
        (error, _) => Err(proconnect::oidc_refusal(
            error.as_deref().unwrap_or("no code"),
        )),
    };
    let identity = match identity {
        Ok(identity) => identity,
        Err(e) => {
            let code = e.code().to_string();
            state
                .db
                .transact(visitor.origin(), move |tx| {
                    Box::pin(async move { proconnect::refused(tx, &code, now).await })
                })
                .await?;
            return Err(e.into());
        }
    };
    let arrival = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { proconnect::arrive(tx, &identity, now).await })
        })
        .await?;
    match arrival {
        Arrival::Opened {
            session,
            org,
            stage,
        } => {
            let cookie = build_cookie(
                &state,
                SESSION_COOKIE,
                session.token,
                crate::users::SESSION_HOURS * 3600,
            );
            let next = match stage {
                Stage::Signed => suite.or(home_of(org.kind)).to_string(),
                other => with_suite(step_page(other), &suite.suite),
            };
            let spent = build_cookie(&state, SUITE_COOKIE, String::new(), 0);
            let cookies =
                AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, spent)]);
            Ok((cookies, Redirect::to(&next)).into_response())
        }
        Arrival::Offer { request, org_name } => page(Outcome {
            l: Layout::new(&state, &visitor, "Rejoindre une organisation"),
            offer: Some((request, org_name)),
            asked: false,
        }),
        Arrival::Unknown => page(Outcome {
            l: Layout::new(&state, &visitor, "Aucun espace pour ce compte"),
            offer: None,
            asked: false,
        }),
    }
}

#[derive(Deserialize)]
struct JoinForm {
    request: String,
}

async fn join(State(state): State<AppState>, form: Form<JoinForm>) -> WebResult {
    let now = state.clock.now();
    let (letterhead, id) = (state.letterhead(), form.data.request.clone());
    state
        .write(form.visitor.origin(), form.key(&id), move |tx| {
            Box::pin(async move { proconnect::ask(tx, &letterhead, &id, now).await.map(|_| ()) })
        })
        .await?;
    page(Outcome {
        l: Layout::new(&state, &form.visitor, "Demande envoyée"),
        offer: None,
        asked: true,
    })
}

#[derive(Template)]
#[template(path = "auth/requests.html")]
struct Requests {
    l: Layout,
    requests: Vec<Request>,
    is_admin: bool,
}

fn signed(visitor: &Visitor) -> Result<Arc<crate::users::Signed>, WebError> {
    visitor
        .signed
        .clone()
        .ok_or_else(|| WebError::Redirect(visitor.sign_in_page()))
}

async fn requests(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let who = signed(&visitor)?;
    let mut conn = state.db.read().await?;
    let requests = proconnect::pending(&mut conn, &who.org.id).await?;
    page(Requests {
        l: Layout::new(&state, &visitor, "Demandes pour rejoindre votre espace"),
        requests,
        is_admin: who.user.role == crate::users::Role::Admin,
    })
}

#[derive(Deserialize)]
struct DecisionForm {
    decision: String,
}

async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DecisionForm>,
) -> WebResult {
    let who = signed(&form.visitor)?;
    let now = state.clock.now();
    let approve = form.data.decision == "accepter";
    let admin = who.user.clone();
    state
        .write(form.visitor.origin(), form.own_key(), move |tx| {
            Box::pin(async move { proconnect::decide(tx, &admin, &id, approve, now).await })
        })
        .await?;
    see_other("/compte/demandes")
}
