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
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", post(create))
        .route("/organizations/{id}/tokens", post(create_token))
        .route("/sites/{id}/qualification", put(qualify))
        .route("/sites/{id}/bank", put(set_bank))
}

async fn create(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write { body, replay }: Write<NewOrganization>,
) -> Result<Response> {
    org.require(OrgKind::Operator)?;
    let now = state.clock.now();
    run_write(&state, &org.id, &replay, StatusCode::CREATED, |conn| {
        Box::pin(async move {
            let id = orgs::create(conn, body, now).await?;
            Ok(json!({ "id": id }))
        })
    })
    .await
}

async fn create_token(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, .. }: Write<Empty>,
) -> Result<Response> {
    org.require(OrgKind::Operator)?;
    let now = state.clock.now();
    run_write(&state, &org.id, &replay, StatusCode::CREATED, |conn| {
        Box::pin(async move {
            let target = orgs::find(conn, &id)
                .await?
                .ok_or_else(|| Error::not_found("Cette organisation n'existe pas."))?;
            let token = orgs::create_token(conn, &target.id, now).await?;
            Ok(json!({ "token": token, "organization_id": target.id }))
        })
    })
    .await
}

async fn qualify(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { body, replay }: Write<QualificationChange>,
) -> Result<Response> {
    org.require(OrgKind::Operator)?;
    let now = state.clock.now();
    let org_id = org.id.clone();
    run_write(&state, &org.id, &replay, StatusCode::OK, |conn| {
        Box::pin(async move { orgs::set_qualification(conn, &org_id, &id, body, now).await })
    })
    .await
}

/// A site's bank details, set by the site itself or the operator.
async fn set_bank(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { body, replay }: Write<NewBankAccount>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, |conn| {
        Box::pin(async move {
            let account = sites::set_bank_account(conn, &org, &id, body, now).await?;
            Ok(json!({
                "site_id": account.site_id,
                "iban": sites::mask_iban(&account.iban),
                "bic": account.bic,
                "holder": account.holder,
                "effective": "next_batch",
            }))
        })
    })
    .await
}
