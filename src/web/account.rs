//! A person's own access: their open sessions and their organisation's API tokens, with their
//! last use, each revocable.

use super::session::Form;
use super::{page, see_other, Layout, Visitor, WebError, WebResult};
use crate::app::AppState;
use crate::users::sessions::{self, SessionLine};
use crate::users::{Role, Signed};
use askama::Template;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compte/sessions", get(list))
        .route("/compte/sessions/{id}/fin", post(end))
        .route("/compte/jetons/{id}/revoquer", post(revoke))
}

fn signed(visitor: &Visitor) -> Result<Arc<Signed>, WebError> {
    visitor
        .signed
        .clone()
        .ok_or_else(|| WebError::Redirect(visitor.sign_in_page()))
}

use crate::fr::moment_text_in;

/// An API token as its organisation's pages list it.
pub struct TokenLine {
    pub id: String,
    pub created: String,
    pub last_used: String,
    /// Empty while it works.
    pub revoked: String,
}

impl TokenLine {
    /// Times in `zone`, the reader's organisation's.
    pub fn of(t: crate::orgs::TokenRow, zone: &jiff::tz::TimeZone) -> TokenLine {
        let when = |at: &str| moment_text_in(at, zone);
        TokenLine {
            created: when(&t.created_at),
            last_used: t
                .last_used_at
                .as_deref()
                .map(when)
                .unwrap_or_else(|| "jamais".into()),
            revoked: t.revoked_at.as_deref().map(when).unwrap_or_default(),
            id: t.id,
        }
    }
}

#[derive(Template)]
#[template(path = "auth/sessions.html")]
struct Access {
    l: Layout,
    sessions: Vec<SessionLine>,
    tokens: Vec<TokenLine>,
    is_admin: bool,
}

async fn list(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let who = signed(&visitor)?;
    let token = visitor.session_token.clone().unwrap_or_default();
    let mut conn = state.db.read().await?;
    let idle = state.config.session_idle_minutes;
    let mut lines =
        sessions::list(&mut conn, &who.user.id, &token, state.clock.now(), idle).await?;
    // The person's times where their organisation is.
    let zone = who.org.zone();
    let when = |at: &str| moment_text_in(at, &zone);
    for line in &mut lines {
        line.created_at = when(&line.created_at);
        line.expires_at = when(&line.expires_at);
        line.last_used_at = line.last_used_at.as_deref().map(when);
    }
    let tokens = sessions::tokens(&mut conn, &who)
        .await?
        .into_iter()
        .map(|t| TokenLine::of(t, &zone))
        .collect();
    page(Access {
        l: Layout::new(&state, &visitor, "Mes sessions et les jetons d'accès"),
        sessions: lines,
        tokens,
        is_admin: who.user.role == Role::Admin,
    })
}

#[derive(Deserialize)]
struct Nothing {}

async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let who = signed(&form.visitor)?;
    let (user, now) = (who.user.clone(), state.clock.now());
    state
        .write(form.visitor.origin(), form.own_key(), move |tx| {
            Box::pin(async move { sessions::end(tx, &user, &id, now).await })
        })
        .await?;
    see_other("/compte/sessions")
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let who = signed(&form.visitor)?;
    let now = state.clock.now();
    state
        .write(form.visitor.origin(), form.own_key(), move |tx| {
            Box::pin(async move { sessions::revoke_token(tx, &who, &id, now).await })
        })
        .await?;
    see_other("/compte/sessions")
}
