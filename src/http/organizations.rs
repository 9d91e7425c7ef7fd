//! Operator: organisations, their tokens, and site qualification.

use super::extract::{Auth, Empty, Write};
use super::{run_write, AppState};
use crate::error::{Error, Result};
use crate::orgs::{self, NewOrganization, OrgKind, QualificationChange};
use crate::sites::{self, NewBankAccount};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{post, put};
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct CreatedId {
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewToken {
    /// Shown once: only its hash is kept.
    pub token: String,
    pub organization_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct BankDetails {
    pub site_id: String,
    /// Masked: only the country and the last four characters show.
    pub iban: String,
    pub bic: Option<String>,
    pub holder: String,
    /// Always `next_batch`: the details are used from the next settlement.
    pub effective: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", post(create))
        .route("/organizations/{id}/tokens", post(create_token))
        .route("/sites/{id}/qualification", put(qualify))
        .route("/sites/{id}/bank", put(set_bank))
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
    Auth(org): Auth,
    Write { body, replay }: Write<NewOrganization>,
) -> Result<Response> {
    org.require(OrgKind::Operator)?;
    let now = state.clock.now();
    run_write(&state, &org.id, &replay, StatusCode::CREATED, move |conn| {
        Box::pin(async move {
            let id = orgs::create(conn, body, now).await?;
            Ok(CreatedId { id })
        })
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/organizations/{id}/tokens",
    tag = "operator",
    summary = "Créer un jeton d'API pour une organisation (opérateur)",
    params(("id" = String, Path, description = "Organisation"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Jeton (montré une seule fois)", body = NewToken), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn create_token(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, .. }: Write<Empty>,
) -> Result<Response> {
    org.require(OrgKind::Operator)?;
    let now = state.clock.now();
    run_write(&state, &org.id, &replay, StatusCode::CREATED, move |conn| {
        Box::pin(async move {
            let target = orgs::find(conn, &id)
                .await?
                .ok_or_else(|| Error::not_found("Cette organisation n'existe pas."))?;
            let token = orgs::create_token(conn, &target.id, now).await?;
            Ok(NewToken {
                token,
                organization_id: target.id,
            })
        })
    })
    .await
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/qualification",
    tag = "operator",
    summary = "Qualifier ou suspendre un lieu (opérateur)",
    request_body = crate::orgs::QualificationChange,
    params(("id" = String, Path, description = "Lieu"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Le lieu", body = crate::orgs::Organization), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn qualify(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { body, replay }: Write<QualificationChange>,
) -> Result<Response> {
    org.require(OrgKind::Operator)?;
    let now = state.clock.now();
    let org_id = org.id.clone();
    run_write(&state, &org.id, &replay, StatusCode::OK, move |conn| {
        Box::pin(async move { orgs::set_qualification(conn, &org_id, &id, body, now).await })
    })
    .await
}

/// A site's bank details, set by the site itself or the operator.
#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/bank",
    tag = "site",
    summary = "Coordonnées bancaires d'un lieu (le lieu ou l'opérateur)",
    request_body = crate::sites::NewBankAccount,
    params(("id" = String, Path, description = "Lieu"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Enregistrées, utilisées au prochain règlement", body = BankDetails), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn set_bank(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { body, replay }: Write<NewBankAccount>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, move |conn| {
        Box::pin(async move {
            let account = sites::set_bank_account(conn, &org, &id, body, now).await?;
            Ok(BankDetails {
                iban: sites::mask_iban(&account.iban),
                site_id: account.site_id,
                bic: account.bic,
                holder: account.holder,
                effective: "next_batch".into(),
            })
        })
    })
    .await
}
