//! Site: redeeming, undoing and listing redemptions. Invalid codes are counted per site and per
//! address, and too many of them answer 429.

use super::extract::{Auth, BearerToken, ClientIp, Empty, Write};
use super::{respond, AppState};
use crate::error::Result;
use crate::redemption::writer::{Caller, Request};
use crate::redemption::{self, NewRedemption, RedemptionRow};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use jiff::SignedDuration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/redemptions", post(redeem).get(list))
        .route("/redemptions/{id}", delete(undo))
        .route("/workshops", post(record_workshop))
        .route("/workshops/{id}", get(workshop))
}

#[utoipa::path(
    post,
    path = "/api/v1/redemptions",
    tag = "site",
    summary = "Encaisser un chèque (lieu)",
    request_body = crate::redemption::NewRedemption,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Encaissé", body = RedemptionRow), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn redeem(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    BearerToken(token): BearerToken,
    Write {
        body,
        replay,
        origin,
    }: Write<NewRedemption>,
) -> Result<Response> {
    let request = Request {
        caller: Caller::Token(token),
        client_ip: ip,
        new: body,
        once: replay.idempotency_key.map(|key| (key, replay.request_hash)),
        origin,
    };
    let row = state.redeemer.redeem(request).await?;
    Ok(respond(StatusCode::CREATED, row))
}

#[utoipa::path(
    delete,
    path = "/api/v1/redemptions/{id}",
    tag = "site",
    summary = "Annuler son encaissement dans le délai",
    params(("id" = String, Path, description = "Encaissement"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Annulé", body = RedemptionRow), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn undo(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Json<RedemptionRow>> {
    let now = state.clock.now();
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let key = replay.key(&org.id);
    let row = state
        .write(origin, key, move |tx| {
            Box::pin(async move { redemption::undo(tx, &org, &id, now, window).await })
        })
        .await?;
    Ok(Json(row))
}

#[utoipa::path(
    get,
    path = "/api/v1/redemptions",
    tag = "site",
    summary = "Les encaissements du lieu",
    responses((status = 200, description = "Encaissements", body = Vec<RedemptionRow>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Vec<RedemptionRow>>> {
    let mut conn = state.db.read().await?;
    Ok(Json(redemption::list(&mut conn, &org).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/workshops",
    tag = "site",
    summary = "Enregistrer un atelier collectif : les chèques de plusieurs carnets et le nombre de personnes présentes (lieu)",
    request_body = crate::redemption::NewWorkshop,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Atelier enregistré, ses chèques encaissés", body = crate::redemption::WorkshopRow), (status = "4XX", description = "Refus (voir le code d'erreur) : aucun chèque n'est encaissé", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn record_workshop(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write {
        body,
        replay,
        origin,
    }: Write<crate::redemption::NewWorkshop>,
) -> Result<Response> {
    let now = state.clock.now();
    let key = replay.key(&org.id);
    let keyring = state.keyring.clone();
    let row = state
        .write(origin, key, move |tx| {
            Box::pin(
                async move { redemption::record_workshop(tx, &keyring, &org, body, now).await },
            )
        })
        .await?;
    Ok(respond(StatusCode::CREATED, row))
}

#[utoipa::path(
    get,
    path = "/api/v1/workshops/{id}",
    tag = "site",
    summary = "Un atelier collectif du lieu, avec ses chèques",
    params(("id" = String, Path, description = "Atelier")),
    responses((status = 200, description = "Atelier", body = crate::redemption::WorkshopRow), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn workshop(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<crate::redemption::WorkshopRow>> {
    let mut conn = state.db.read().await?;
    Ok(Json(redemption::get_workshop(&mut conn, &org, &id).await?))
}
