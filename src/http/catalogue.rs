//! A place's catalogue of services: listed by its site (or the operator), added and withdrawn
//! by its site only.

use super::extract::{Auth, Empty, Write};
use super::{respond, AppState};
use crate::catalogue::{self, NewService, Service};
use crate::error::Result;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/places/{id}/services", get(list).post(create))
        .route(
            "/places/{id}/services/{service_id}",
            put(update).delete(withdraw),
        )
}

#[utoipa::path(
    get,
    path = "/api/v1/places/{id}/services",
    tag = "site",
    summary = "Le catalogue d'un lieu, services retirés compris (le lieu ou l'opérateur)",
    params(("id" = String, Path, description = "Lieu")),
    responses((status = 200, description = "Services", body = Vec<Service>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Service>>> {
    let mut conn = state.db.read().await?;
    Ok(Json(catalogue::list(&mut conn, &org, &id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/places/{id}/services",
    tag = "site",
    summary = "Ajouter un service au catalogue de son lieu",
    request_body = NewService,
    params(("id" = String, Path, description = "Lieu"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Ajouté", body = Service), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<NewService>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { catalogue::create(tx, &org, &id, body, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::CREATED, answer))
}

#[utoipa::path(
    put,
    path = "/api/v1/places/{id}/services/{service_id}",
    tag = "site",
    summary = "Modifier un service du catalogue de son lieu",
    request_body = NewService,
    params(("id" = String, Path, description = "Lieu"), ("service_id" = String, Path, description = "Service"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Modifié", body = Service), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn update(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, service_id)): Path<(String, String)>,
    Write {
        body,
        replay,
        origin,
    }: Write<NewService>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { catalogue::update(tx, &org, &id, &service_id, body, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

#[utoipa::path(
    delete,
    path = "/api/v1/places/{id}/services/{service_id}",
    tag = "site",
    summary = "Retirer un service du catalogue (il reste dans l'historique)",
    params(("id" = String, Path, description = "Lieu"), ("service_id" = String, Path, description = "Service"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Retiré", body = Service), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn withdraw(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, service_id)): Path<(String, String)>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { catalogue::withdraw(tx, &org, &id, &service_id, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}
