//! Operator: organisations, their tokens, and site qualification.

use super::extract::{Auth, BearerToken, Empty, Write};
use super::AppState;
use crate::error::Result;
use crate::orgs::{self, IssuedToken, NewOrganization, Organization, TokenRow};
use crate::sites::qualification::{self, Decision, QualificationChange};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedId {
    pub id: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", post(create))
        .route("/organizations/{id}/tokens", post(create_token).get(tokens))
        .route(
            "/organizations/{id}/tokens/{token_id}",
            delete(revoke_token),
        )
        .route("/tokens/current", delete(revoke_own_token))
        .route("/sites/{id}/qualification", put(qualify))
        .route("/organizations/{id}/time-zone", put(set_time_zone))
}

#[utoipa::path(
    post,
    path = "/api/v1/organizations",
    tag = "operator",
    summary = "Créer une organisation (opérateur)",
    request_body = crate::orgs::NewOrganization,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Créée", body = CreatedId), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Auth(operator): Auth,
    Write {
        body,
        replay,
        origin,
    }: Write<NewOrganization>,
) -> Result<(StatusCode, Json<CreatedId>)> {
    let now = state.clock.now();
    let key = replay.key(&operator.id);
    let id = state
        .write(origin, key, move |tx| {
            Box::pin(async move {
                let org = orgs::create(tx, &operator, body, now).await?;
                Ok(CreatedId { id: org.id })
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(id)))
}

#[utoipa::path(
    post,
    path = "/api/v1/organizations/{id}/tokens",
    tag = "operator",
    summary = "Créer un jeton d'API pour une organisation (opérateur)",
    params(("id" = String, Path, description = "Organisation"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Jeton (montré une seule fois)", body = IssuedToken), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn create_token(
    State(state): State<AppState>,
    Auth(operator): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<(StatusCode, Json<IssuedToken>)> {
    let now = state.clock.now();
    let key = replay.key(&operator.id);
    let token = state
        .write(origin, key, move |tx| {
            Box::pin(async move { orgs::issue_token(tx, &operator, &id, now).await })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(token)))
}

#[utoipa::path(
    get,
    path = "/api/v1/organizations/{id}/tokens",
    tag = "operator",
    summary = "Les jetons d'API d'une organisation (l'opérateur, ou l'organisation elle-même)",
    params(("id" = String, Path, description = "Organisation")),
    responses((status = 200, description = "Jetons (jamais leur valeur)", body = Vec<TokenRow>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn tokens(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<Vec<TokenRow>>> {
    let mut conn = state.db.read().await?;
    Ok(Json(orgs::tokens(&mut conn, &org, &id).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{id}/tokens/{token_id}",
    tag = "operator",
    summary = "Révoquer un jeton d'API (l'opérateur, ou l'organisation elle-même)",
    params(("id" = String, Path, description = "Organisation"), ("token_id" = String, Path, description = "Identifiant du jeton (liste des jetons)"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Révoqué : il ne sert plus", body = TokenRow), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, token_id)): Path<(String, String)>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Json<TokenRow>> {
    let now = state.clock.now();
    let key = replay.key(&org.id);
    let token = state
        .write(origin, key, move |tx| {
            Box::pin(async move { orgs::revoke_token(tx, &org, &id, &token_id, now).await })
        })
        .await?;
    Ok(Json(token))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/current",
    tag = "operator",
    summary = "Révoquer le jeton de cet appel (un jeton perdu ou remplacé)",
    responses((status = 200, description = "Révoqué : il ne sert plus", body = TokenRow), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn revoke_own_token(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
    Write { origin, .. }: Write<Empty>,
) -> Result<Json<TokenRow>> {
    let now = state.clock.now();
    let revoked = state
        .db
        .transact(origin, move |tx| {
            Box::pin(async move { orgs::revoke_own_token(tx, &token, now).await })
        })
        .await?;
    Ok(Json(revoked))
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/qualification",
    tag = "operator",
    summary = "Qualifier ou suspendre un lieu (opérateur)",
    request_body = crate::sites::qualification::QualificationChange,
    params(("id" = String, Path, description = "Lieu"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Le lieu", body = crate::orgs::Organization), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn qualify(
    State(state): State<AppState>,
    Auth(operator): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<QualificationChange>,
) -> Result<Json<Organization>> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let decision = Decision::parse(body, today)?;
    let letterhead = state.letterhead();
    let key = replay.key(&operator.id);
    let site = state
        .write(origin, key, move |tx| {
            Box::pin(async move {
                qualification::decide_site(tx, &operator, &id, decision, &letterhead, now).await
            })
        })
        .await?;
    Ok(Json(site))
}

#[utoipa::path(
    put,
    path = "/api/v1/organizations/{id}/time-zone",
    tag = "operator",
    summary = "Choisir le fuseau horaire d'une organisation (opérateur ou elle-même)",
    request_body = crate::zones::ZoneChange,
    params(("id" = String, Path, description = "Organisation"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Le fuseau enregistré et celui en vigueur", body = crate::zones::ZoneSetting), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn set_time_zone(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<crate::zones::ZoneChange>,
) -> Result<Json<crate::zones::ZoneSetting>> {
    let now = state.clock.now();
    let key = replay.key(&actor.id);
    let setting = state
        .write(origin, key, move |tx| {
            Box::pin(async move { orgs::set_time_zone(tx, &actor, &id, body, now).await })
        })
        .await?;
    Ok(Json(setting))
}
