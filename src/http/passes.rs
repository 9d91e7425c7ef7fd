//! Distributor: issuing, activating, cancelling and reading passes.

use super::extract::{Auth, Empty, Write};
use super::{respond, AppState};
use crate::error::Result;
use crate::vouchers::{self, Activation, NewBatch, NewPass, PassView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/passes", post(issue).get(list))
        .route("/passes/batch", post(issue_batch))
        .route("/passes/{id}", get(show))
        .route("/passes/{id}/activate", post(activate))
        .route("/passes/{id}/cancel", post(cancel))
        .route("/passes/{id}/erase-reference", post(erase_reference))
}

#[utoipa::path(
    post,
    path = "/api/v1/passes",
    tag = "distributor",
    summary = "Émettre un carnet (distributeur)",
    request_body = crate::vouchers::NewPass,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Émis", body = PassView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn issue(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write {
        body,
        replay,
        origin,
    }: Write<NewPass>,
) -> Result<Response> {
    let now = state.clock.now();
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { vouchers::issue(tx, &keyring, &org, body, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::CREATED, answer))
}

/// Up to `vouchers::MAX_BATCH` carnets in one transaction, e.g. a print run.
#[utoipa::path(
    post,
    path = "/api/v1/passes/batch",
    tag = "distributor",
    summary = "Émettre un lot de 1 à 1 000 carnets, tout ou rien (distributeur)",
    request_body = crate::vouchers::NewBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Émis", body = Vec<PassView>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn issue_batch(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write {
        body,
        replay,
        origin,
    }: Write<NewBatch>,
) -> Result<Response> {
    let now = state.clock.now();
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { vouchers::issue_batch(tx, &keyring, &org, body, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::CREATED, answer))
}

#[utoipa::path(
    get,
    path = "/api/v1/passes",
    tag = "distributor",
    summary = "Les carnets du distributeur",
    responses((status = 200, description = "Carnets", body = Vec<PassView>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Vec<PassView>>> {
    let mut conn = state.db.read().await?;
    let today = state.clock.today();
    Ok(Json(
        vouchers::list(&mut conn, &state.keyring, &org, today).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/passes/{id}",
    tag = "distributor",
    summary = "Un carnet et ses chèques",
    params(("id" = String, Path, description = "Carnet")),
    responses((status = 200, description = "Le carnet", body = PassView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<PassView>> {
    let mut conn = state.db.read().await?;
    let today = state.clock.today();
    Ok(Json(
        vouchers::get(&mut conn, &state.keyring, &org, &id, today).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/passes/{id}/activate",
    tag = "distributor",
    summary = "Activer un carnet remis",
    request_body = crate::vouchers::Activation,
    params(("id" = String, Path, description = "Carnet"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Activé", body = PassView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn activate(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<Activation>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(
                async move { vouchers::activate(tx, &keyring, &org, &id, body, now, today).await },
            )
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/passes/{id}/cancel",
    tag = "distributor",
    summary = "Annuler un carnet (les chèques non utilisés reviennent au quota)",
    params(("id" = String, Path, description = "Carnet"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Annulé", body = PassView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn cancel(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { vouchers::cancel(tx, &keyring, &org, &id, now, today).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/passes/{id}/erase-reference",
    tag = "distributor",
    summary = "Effacer la référence du bénéficiaire, à sa demande (le distributeur qui a remis le carnet)",
    description = "La référence est remplacée par « effacée le … » ; le carnet et ses chèques restent utilisables. Une seconde demande ne change rien. 409 `no_beneficiary_ref` pour un carnet sans référence.",
    params(("id" = String, Path, description = "Carnet"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Référence effacée", body = PassView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn erase_reference(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let keyring = state.keyring.clone();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move {
                vouchers::rights::erase_reference(tx, &keyring, &org, &id, now, today).await
            })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}
