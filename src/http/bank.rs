//! A site's bank details: asked for by the site (pending, with its RIB), checked by the
//! operator, who approves or refuses them.

use super::extract::{Auth, Upload, Write};
use super::{respond, AppState};
use crate::error::Result;
use crate::sites::bank::{
    self, BankDetailsView, BankRequest, BankStatus, Decision, Document, NewBankAccount,
    MAX_DOCUMENT_BYTES,
};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a request for new bank details became.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct BankDetails {
    /// The new details' id (the request's, when the site asked).
    pub id: String,
    pub site_id: String,
    /// Masked: only the country and the last four characters show.
    pub iban: String,
    pub bic: Option<String>,
    pub holder: String,
    /// `pending` when the site asked (the operator checks them against the RIB first),
    /// `approved` when the operator entered them.
    pub status: BankStatus,
    /// `after_review` (pending) or `next_batch` (approved).
    pub effective: String,
}

/// A raw PDF, JPEG or PNG, with some room for a client that sends a few more bytes.
const MAX_UPLOAD: usize = MAX_DOCUMENT_BYTES + 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sites/{id}/bank", put(set_bank).get(details))
        .route("/sites/{id}/bank/document", put(upload_document))
        .route("/bank-requests", get(pending))
        .route("/bank-requests/{id}/document", get(document))
        .route("/bank-requests/{id}/decision", post(decide))
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/bank",
    tag = "site",
    summary = "Nouvelles coordonnées bancaires d'un lieu : en attente de vérification si le lieu les demande (joindre ensuite le RIB), en vigueur si l'opérateur les saisit",
    request_body = crate::sites::bank::NewBankAccount,
    params(("id" = String, Path, description = "Lieu"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses(
        (status = 202, description = "Demande enregistrée : le compte actuel reste utilisé jusqu'à la vérification", body = BankDetails),
        (status = 200, description = "Saisies par l'opérateur : utilisées au prochain règlement", body = BankDetails),
        (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn set_bank(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<NewBankAccount>,
) -> Result<Response> {
    let (now, letterhead) = (state.clock.now(), state.letterhead());
    let key = replay.key(&org.id);
    let details = state
        .write(origin, key, move |tx| {
            Box::pin(async move {
                let account =
                    bank::set_bank_account(tx, &org, &id, body, None, &letterhead, now).await?;
                let pending = account.status == BankStatus::Pending;
                Ok(BankDetails {
                    id: account.id,
                    iban: bank::mask_iban(&account.iban),
                    site_id: account.site_id,
                    bic: account.bic,
                    holder: account.holder,
                    status: account.status,
                    effective: if pending {
                        "after_review"
                    } else {
                        "next_batch"
                    }
                    .into(),
                })
            })
        })
        .await?;
    let status = match details.status {
        BankStatus::Pending => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok(respond(status, details))
}

#[utoipa::path(
    get,
    path = "/api/v1/sites/{id}/bank",
    tag = "site",
    summary = "Les coordonnées bancaires d'un lieu : en vigueur, en attente, dernier refus (le lieu ou l'opérateur)",
    params(("id" = String, Path, description = "Lieu")),
    responses((status = 200, description = "Coordonnées", body = BankDetailsView), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn details(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<BankDetailsView>> {
    let mut conn = state.db.read().await?;
    Ok(Json(bank::details_of(&mut conn, &org, &id).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/sites/{id}/bank/document",
    tag = "site",
    summary = "Le RIB de la demande en attente : le corps est le fichier PDF, JPEG ou PNG (5 Mo au plus), son nom dans Content-Disposition",
    request_body(content = String, content_type = "application/octet-stream", description = "Le fichier du RIB : PDF, JPEG ou PNG, reconnu à son contenu."),
    params(("id" = String, Path, description = "Lieu")),
    responses((status = 200, description = "Joint à la demande", body = BankRequest), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn upload_document(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    upload: Upload<MAX_UPLOAD>,
) -> Result<Json<BankRequest>> {
    let now = state.clock.now();
    let Upload {
        filename,
        bytes,
        origin,
    } = upload;
    let document = Document { filename, bytes };
    // Sent twice, the document replaces itself: no replay key needed.
    let request = state
        .write(origin, None, move |tx| {
            Box::pin(async move { bank::attach_document(tx, &org, &id, document, now).await })
        })
        .await?;
    Ok(Json(request))
}

#[utoipa::path(
    get,
    path = "/api/v1/bank-requests",
    tag = "operator",
    summary = "Les demandes de coordonnées bancaires à vérifier, IBAN complet (opérateur)",
    responses((status = 200, description = "Demandes, les plus anciennes d'abord", body = [BankRequest]), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn pending(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Vec<BankRequest>>> {
    let mut conn = state.db.read().await?;
    Ok(Json(bank::pending_requests(&mut conn, &org).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/bank-requests/{id}/document",
    tag = "operator",
    summary = "Le RIB envoyé avec une demande (l'opérateur, ou le lieu qui l'a envoyé)",
    params(("id" = String, Path, description = "Demande")),
    responses((status = 200, description = "Le document", content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn document(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let mut conn = state.db.read().await?;
    let document = bank::document_of(&mut conn, &org, &id).await?;
    Ok(document_response(document))
}

/// A stored document, shown in the browser but never run there: it comes from outside.
pub(crate) fn document_response(document: bank::StoredDocument) -> Response {
    (
        [
            (header::CONTENT_TYPE, document.content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}\"", document.filename),
            ),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        document.bytes,
    )
        .into_response()
}

#[utoipa::path(
    post,
    path = "/api/v1/bank-requests/{id}/decision",
    tag = "operator",
    summary = "Accepter (après comparaison avec le RIB) ou refuser, avec un motif, une demande de coordonnées bancaires (opérateur)",
    request_body = crate::sites::bank::Decision,
    params(("id" = String, Path, description = "Demande"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Décidée, le lieu est prévenu", body = BankRequest), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn decide(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<Decision>,
) -> Result<Response> {
    let (now, letterhead) = (state.clock.now(), state.letterhead());
    let key = replay.key(&org.id);
    state
        .write(origin, key, move |tx| {
            Box::pin(async move { bank::decide(tx, &org, &id, body, &letterhead, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}
