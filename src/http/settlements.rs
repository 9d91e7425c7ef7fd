//! Operator: settlement batches and their payment file. Sites and funders read their part.

use super::extract::{Auth, Empty, Write};
use super::{respond, AppState};
use crate::error::{Error, Result};
use crate::settlement::{self, BatchView, NewBatch, Rejection};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::SignedDuration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settlements", post(create))
        .route("/settlements/{id}", get(show))
        .route("/settlements/{id}/approve", post(approve))
        .route("/settlements/{id}/export", post(export))
        .route("/settlements/{id}/paid", post(paid))
        .route("/settlements/{id}/sepa.xml", get(sepa))
        .route("/settlements/{id}/lines/{line_id}/reject", post(reject))
        .route("/settlements/{id}/lines/{line_id}/release", post(release))
        .route("/settlements/{id}/statements/{file}", get(statement))
        .route(
            "/settlements/{id}/statements/programs/{file}",
            get(program_statement),
        )
}

#[utoipa::path(
    post,
    path = "/api/v1/settlements",
    tag = "settlement",
    summary = "Préparer un règlement (opérateur)",
    request_body = crate::settlement::NewBatch,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Brouillon", body = BatchView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write {
        body,
        replay,
        origin,
    }: Write<NewBatch>,
) -> Result<Response> {
    let now = state.clock.now();
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { settlement::create(tx, &org, body, now, window).await })
        })
        .await
        .map(|answer| respond(StatusCode::CREATED, answer))
}

#[utoipa::path(
    get,
    path = "/api/v1/settlements/{id}",
    tag = "settlement",
    summary = "Lire un règlement",
    params(("id" = String, Path, description = "Règlement")),
    responses((status = 200, description = "Le règlement", body = BatchView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<BatchView>> {
    let mut conn = state.db.read().await?;
    Ok(Json(settlement::get(&mut conn, &org, &id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/settlements/{id}/approve",
    tag = "settlement",
    summary = "Approuver un règlement",
    params(("id" = String, Path, description = "Règlement"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Approuvé", body = BatchView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn approve(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { settlement::approve(tx, &org, &id, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/settlements/{id}/paid",
    tag = "settlement",
    summary = "Marquer un règlement payé",
    params(("id" = String, Path, description = "Règlement"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Payé", body = BatchView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn paid(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { settlement::mark_paid(tx, &org, &id, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/settlements/{id}/lines/{line_id}/release",
    tag = "settlement",
    summary = "Renvoie au même compte, au prochain règlement, un virement rejeté mis en attente",
    params(("id" = String, Path, description = "Règlement"), ("line_id" = String, Path, description = "Ligne rejetée"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Renvoyée au prochain règlement", body = BatchView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn release(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, line_id)): Path<(String, String)>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { settlement::release_line(tx, &org, &id, &line_id, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/settlements/{id}/lines/{line_id}/reject",
    tag = "settlement",
    summary = "Rejet bancaire d'une ligne : son montant attend de nouvelles coordonnées bancaires ou un renvoi par l'opérateur",
    request_body = crate::settlement::Rejection,
    params(("id" = String, Path, description = "Règlement"), ("line_id" = String, Path, description = "Ligne"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Rejetée", body = BatchView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn reject(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, line_id)): Path<(String, String)>,
    Write {
        body,
        replay,
        origin,
    }: Write<Rejection>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(
                async move { settlement::reject_line(tx, &org, &id, &line_id, body, now).await },
            )
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/settlements/{id}/export",
    tag = "settlement",
    summary = "Remettre les virements à la banque (le fichier SEPA devient lisible)",
    params(("id" = String, Path, description = "Règlement"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Exporté", body = BatchView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn export(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Json<BatchView>> {
    let now = state.clock.now();
    let key = replay.key(&org.id);
    let config = state.config.clone();
    let view = state
        .write(origin, key, move |tx| {
            Box::pin(async move { settlement::export(tx, &org, &id, &config, now).await })
        })
        .await?;
    Ok(Json(view))
}

/// Reading the file changes nothing: the batch must have been exported first.
#[utoipa::path(
    get,
    path = "/api/v1/settlements/{id}/sepa.xml",
    tag = "settlement",
    summary = "Fichier de virement SEPA pain.001.001.09 d'un lot exporté",
    params(("id" = String, Path, description = "Règlement")),
    responses((status = 200, description = "Le fichier", content_type = "application/xml", body = String), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn sepa(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let mut conn = state.db.read().await?;
    let xml = settlement::sepa_file(&mut conn, &org, &id, &state.config).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"passnum-{id}.xml\""),
            ),
        ],
        xml,
    )
        .into_response())
}

/// `{site_id}.csv|pdf` for a site's statement, `programs/{program_id}.csv|pdf` for a funder's.
#[utoipa::path(
    get,
    path = "/api/v1/settlements/{id}/statements/{file}",
    tag = "settlement",
    summary = "Relevé d'un lieu ({lieu}.csv ou {lieu}.pdf)",
    params(("id" = String, Path, description = "Règlement"), ("file" = String, Path, description = "<id du lieu>.csv ou .pdf")),
    responses((status = 200, description = "Le fichier", content((String = "text/csv"), (Vec<u8> = "application/pdf"))), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn statement(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    statement_file(&state, &org, &id, &file, false).await
}

#[utoipa::path(
    get,
    path = "/api/v1/settlements/{id}/statements/programs/{file}",
    tag = "settlement",
    summary = "Relevé d'un programme ({programme}.csv ou .pdf)",
    params(("id" = String, Path, description = "Règlement"), ("file" = String, Path, description = "<id du programme>.csv ou .pdf")),
    responses((status = 200, description = "Le fichier", content((String = "text/csv"), (Vec<u8> = "application/pdf"))), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn program_statement(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    statement_file(&state, &org, &id, &file, true).await
}

async fn statement_file(
    state: &AppState,
    org: &crate::orgs::Organization,
    id: &str,
    file: &str,
    program: bool,
) -> Result<Response> {
    let (subject, format) = file
        .rsplit_once('.')
        .filter(|(_, ext)| matches!(*ext, "csv" | "pdf"))
        .ok_or_else(|| {
            Error::not_found(
                "Les relevés existent au format .csv ou .pdf (exemple : …/<lieu>.pdf).",
            )
        })?;
    let mut conn = state.db.read().await?;
    let statement = if program {
        settlement::program_statement(&mut conn, org, id, subject).await?
    } else {
        settlement::site_statement(&mut conn, org, id, subject).await?
    };
    let (content_type, body) = match format {
        "csv" => ("text/csv; charset=utf-8", statement.csv()?.into_bytes()),
        _ => ("application/pdf", statement.pdf()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"releve-{id}-{subject}.{format}\""),
            ),
        ],
        body,
    )
        .into_response())
}
