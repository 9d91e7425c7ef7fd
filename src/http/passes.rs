//! Distributor: issuing, activating, cancelling and reading passes.

use super::extract::{Auth, Empty, Write};
use super::{run_write, AppState};
use crate::error::Result;
use crate::vouchers::{self, Activation, NewPass, PassView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/passes", post(issue).get(list))
        .route("/passes/{id}", get(show))
        .route("/passes/{id}/activate", post(activate))
        .route("/passes/{id}/cancel", post(cancel))
}

async fn issue(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write { body, replay }: Write<NewPass>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::CREATED, |conn| {
        Box::pin(async move { vouchers::issue(conn, &keyring, &org, body, now, today).await })
    })
    .await
}

async fn list(State(state): State<AppState>, Auth(org): Auth) -> Result<Json<Vec<PassView>>> {
    let mut conn = state.db.read.acquire().await?;
    let today = state.clock.today();
    Ok(Json(
        vouchers::list(&mut conn, &state.keyring, &org, today).await?,
    ))
}

async fn show(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<PassView>> {
    let mut conn = state.db.read.acquire().await?;
    let today = state.clock.today();
    Ok(Json(
        vouchers::get(&mut conn, &state.keyring, &org, &id, today).await?,
    ))
}

async fn activate(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { body, replay }: Write<Activation>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, |conn| {
        Box::pin(
            async move { vouchers::activate(conn, &keyring, &org, &id, body, now, today).await },
        )
    })
    .await
}

async fn cancel(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, .. }: Write<Empty>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, |conn| {
        Box::pin(async move { vouchers::cancel(conn, &keyring, &org, &id, now, today).await })
    })
    .await
}
