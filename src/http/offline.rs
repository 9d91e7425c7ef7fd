//! Offline redemption, the contract of a site's console: register a device, read its
//! allowance, send what it recorded offline (sync), read conflicts; the operator sets
//! allowances and reads every site's conflicts.

use super::extract::{Auth, ClientIp, Empty, Write};
use super::{respond, AppState};
use crate::error::Result;
use crate::offline::{self, Conflict, Device, RecordOutcome, SyncRequest};
use crate::orgs::OrgKind;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/offline/devices", post(register).get(devices))
        .route("/offline/devices/{id}", get(device).delete(revoke_delete))
        .route("/offline/devices/{id}/revoke", post(revoke))
        .route("/offline/sync", post(sync))
        .route("/offline/conflicts", get(conflicts))
        .route("/offline/allowances", put(set_allowance))
}

/// A console to register.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// Its name for the site's people, 1 to 80 characters ("Tablette accueil").
    pub label: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/offline/devices",
    tag = "offline",
    summary = "Enregistrer une console hors ligne (lieu) : son identifiant et son allocation",
    request_body = NewDevice,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Enregistrée", body = Device), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn register(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write {
        body,
        replay,
        origin,
    }: Write<NewDevice>,
) -> Result<Response> {
    let settings = offline::Settings::of(&state.config);
    let now = state.clock.now();
    let key = replay.key(&org.id);
    let device = state
        .write(origin, key, move |tx| {
            Box::pin(async move { offline::register(tx, &org, &body.label, settings, now).await })
        })
        .await?;
    Ok(respond(StatusCode::CREATED, device))
}

#[utoipa::path(
    get,
    path = "/api/v1/offline/devices",
    tag = "offline",
    summary = "Les consoles hors ligne : celles du lieu, ou de tous les lieux pour l'opérateur",
    responses((status = 200, description = "Consoles", body = Vec<Device>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn devices(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Vec<Device>>> {
    let settings = offline::Settings::of(&state.config);
    let mut conn = state.db.read().await?;
    Ok(Json(match org.kind {
        OrgKind::Operator => offline::all_devices(&mut conn, &org, settings).await?,
        _ => offline::devices(&mut conn, &org, settings).await?,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/offline/devices/{id}",
    tag = "offline",
    summary = "Une console du lieu et son allocation (la console la relit à chaque connexion)",
    params(("id" = String, Path, description = "Console")),
    responses((status = 200, description = "Console", body = Device), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn device(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<Device>> {
    let settings = offline::Settings::of(&state.config);
    let mut conn = state.db.read().await?;
    Ok(Json(offline::device(&mut conn, &org, &id, settings).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/offline/devices/{id}/revoke",
    tag = "offline",
    summary = "Retirer une console (le lieu, ses consoles ; l'opérateur, toutes) : ses synchronisations sont ensuite refusées",
    description = "Journalisé. Une synchronisation qui nomme une console retirée est refusée entière (403 `device_revoked`) et rien n'en est gardé ; ce qu'elle avait synchronisé avant reste. Retirer de nouveau ne change rien. `DELETE /api/v1/offline/devices/{id}` fait de même.",
    params(("id" = String, Path, description = "Console"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Retirée (avec `revoked_at`)", body = Device), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn revoke(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Json<Device>> {
    let key = replay.key(&org.id);
    revoke_device(state, org, id, origin, key).await
}

#[utoipa::path(
    delete,
    path = "/api/v1/offline/devices/{id}",
    tag = "offline",
    summary = "Retirer une console, comme `POST /api/v1/offline/devices/{id}/revoke`",
    params(("id" = String, Path, description = "Console"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Retirée (avec `revoked_at`)", body = Device), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn revoke_delete(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Json<Device>> {
    let key = replay.key(&org.id);
    revoke_device(state, org, id, origin, key).await
}

async fn revoke_device(
    state: AppState,
    org: crate::orgs::Organization,
    id: String,
    origin: crate::db::Origin,
    key: Option<crate::idempotency::Key>,
) -> Result<Json<Device>> {
    let settings = offline::Settings::of(&state.config);
    let now = state.clock.now();
    let device = state
        .write(origin, key, move |tx| {
            Box::pin(async move { offline::revoke(tx, &org, &id, settings, now).await })
        })
        .await?;
    Ok(Json(device))
}

/// The answer to a sync: one outcome per record, in their order.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SyncAnswer {
    pub records: Vec<RecordOutcome>,
}

#[utoipa::path(
    post,
    path = "/api/v1/offline/sync",
    tag = "offline",
    summary = "Envoyer les séances enregistrées hors ligne (lieu) : chacune acceptée, en conflit ou refusée, une fois",
    description = "Chaque séance porte l'identifiant de la console et un numéro de séance propre à la console : la même séance envoyée de nouveau reçoit la même réponse (`replayed`) et ne change rien. Elle est encaissée avec l'heure réelle de la séance (au plus 7 jours avant l'envoi, jamais dans le futur) ; un chèque déjà utilisé est un conflit, avec le lieu et le moment de son utilisation, et n'est jamais payé deux fois. Un envoi qui nomme une console retirée est refusé entier (403 `device_revoked`), et rien n'en est gardé.",
    request_body = SyncRequest,
    responses((status = 200, description = "Une réponse par séance", body = SyncAnswer), (status = "4XX", description = "Refus de l'envoi entier (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn sync(
    State(state): State<AppState>,
    Auth(org): Auth,
    ClientIp(ip): ClientIp,
    Write { body, origin, .. }: Write<SyncRequest>,
) -> Result<Json<SyncAnswer>> {
    let cx = offline::Context {
        db: &state.db,
        keyring: &state.keyring,
        invalid_codes: state.redeemer.invalid_codes(),
        settings: offline::Settings::of(&state.config),
        client_ip: ip,
        origin,
    };
    let records = offline::sync(&cx, &org, body, state.clock.now()).await?;
    Ok(Json(SyncAnswer { records }))
}

#[utoipa::path(
    get,
    path = "/api/v1/offline/conflicts",
    tag = "offline",
    summary = "Les chèques enregistrés hors ligne qui avaient déjà servi : ceux du lieu, ou de tous les lieux pour l'opérateur",
    responses((status = 200, description = "Conflits", body = Vec<Conflict>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn conflicts(
    State(state): State<AppState>,
    Auth(org): Auth,
) -> Result<Json<Vec<Conflict>>> {
    let mut conn = state.db.read().await?;
    Ok(Json(match org.kind {
        OrgKind::Operator => offline::all_conflicts(&mut conn, &org).await?,
        _ => offline::conflicts(&mut conn, &org).await?,
    }))
}

/// An allowance to set (operator): a device's, or without `device_id` the default of the
/// site's devices; without the numbers, the default comes back.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowanceChange {
    pub site_id: String,
    #[serde(default)]
    pub device_id: Option<String>,
    /// 1 to 1,000.
    #[serde(default)]
    pub max_cheques: Option<i64>,
    /// 1 to the bound on a session's age (7 days unless configured).
    #[serde(default)]
    pub max_days: Option<i64>,
}

#[utoipa::path(
    put,
    path = "/api/v1/offline/allowances",
    tag = "offline",
    summary = "Fixer l'allocation hors ligne d'un lieu ou d'une console (opérateur)",
    request_body = AllowanceChange,
    responses((status = 204, description = "Fixée"), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn set_allowance(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write { body, origin, .. }: Write<AllowanceChange>,
) -> Result<StatusCode> {
    let settings = offline::Settings::of(&state.config);
    let allowance = settings.allowance(body.max_cheques, body.max_days)?;
    let now = state.clock.now();
    state
        .write(origin, None, move |tx| {
            Box::pin(async move {
                offline::set_allowance(
                    tx,
                    &org,
                    &body.site_id,
                    body.device_id.as_deref(),
                    allowance,
                    now,
                )
                .await
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
