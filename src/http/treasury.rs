//! The payer account: its bank statements imported and matched, entries matched by hand, and
//! the coverage of what is owed.

use super::extract::{Auth, Upload, Write};
use super::{respond, AppState};
use crate::error::Result;
use crate::treasury::{self, Coverage, EntryRow, ImportReport, ManualMatch, StatementRow};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

const MAX_UPLOAD: usize = treasury::MAX_STATEMENT_BYTES;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/bank-statements", post(import).get(statements))
        .route("/bank-entries/unmatched", get(unmatched))
        .route("/bank-entries/{id}/match", post(match_entry))
        .route("/coverage", get(coverage))
}

#[utoipa::path(
    post,
    path = "/api/v1/bank-statements",
    tag = "operator",
    summary = "Importer un relevé du compte payeur (camt.053.001.08) : le corps est le fichier XML ; les versements, lots et retours reconnus sont rapprochés",
    request_body(content = String, content_type = "application/xml"),
    responses(
        (status = 201, description = "Importé", body = ImportReport),
        (status = 200, description = "Déjà importé : rien n'a changé", body = ImportReport),
        (status = "4XX", description = "Refus (voir le code d'erreur), dont un fichier non conforme au schéma", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn import(
    State(state): State<AppState>,
    Auth(org): Auth,
    upload: Upload<MAX_UPLOAD>,
) -> Result<Response> {
    let now = state.clock.now();
    let payer_iban = state.config.payer_iban.clone();
    let Upload { bytes, origin, .. } = upload;
    // Importing the same statement again is itself harmless: no replay key needed.
    let report = state
        .write(origin, None, move |tx| {
            Box::pin(
                async move { treasury::import_statement(tx, &org, &bytes, &payer_iban, now).await },
            )
        })
        .await?;
    let status = if report.already_imported {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(respond(status, report))
}

#[utoipa::path(
    get,
    path = "/api/v1/bank-statements",
    tag = "operator",
    summary = "Les relevés importés, le plus récent d'abord (opérateur)",
    responses((status = 200, description = "Relevés", body = [StatementRow]), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn statements(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Vec<StatementRow>>> {
    let mut conn = state.db.read().await?;
    Ok(Json(treasury::statements(&mut conn, &org).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/bank-entries/unmatched",
    tag = "operator",
    summary = "Les écritures des relevés qui n'ont pas pu être rapprochées, à traiter à la main (opérateur)",
    responses((status = 200, description = "Écritures", body = [EntryRow]), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn unmatched(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Vec<EntryRow>>> {
    let mut conn = state.db.read().await?;
    Ok(Json(treasury::unmatched_entries(&mut conn, &org).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/bank-entries/{id}/match",
    tag = "operator",
    summary = "Rapprocher à la main une écriture : d'un versement annoncé, d'un lot envoyé à la banque, ou la mettre de côté avec une note (opérateur)",
    request_body = crate::treasury::ManualMatch,
    params(("id" = String, Path, description = "Écriture"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Rapprochée", body = EntryRow), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn match_entry(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<ManualMatch>,
) -> Result<Response> {
    let now = state.clock.now();
    let key = replay.key(&org.id);
    state
        .write(origin, key, move |tx| {
            Box::pin(async move { treasury::match_by_hand(tx, &org, &id, body, now).await })
        })
        .await
        .map(|entry| respond(StatusCode::OK, entry))
}

#[utoipa::path(
    get,
    path = "/api/v1/coverage",
    tag = "funder",
    summary = "Couverture de ce qui est dû par le solde du compte payeur : par programme, reçu, annoncé, dû aux lieux, retenu, payé, en circulation, inutilisé (opérateur : tous ; financeur : les siens)",
    responses((status = 200, description = "Couverture", body = Coverage), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn coverage(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Coverage>> {
    let mut conn = state.db.read().await?;
    Ok(Json(treasury::coverage(&mut conn, &org).await?))
}
