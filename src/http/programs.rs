//! Funder: programmes, fundings, allocations, reconciliation.

use super::extract::Empty;
use super::extract::{Auth, Write};
use super::{respond, AppState};
use crate::error::Result;
use crate::ledger::{self, Breakdown, Reconciliation};
use crate::programs::{
    self, CloseRequest, Closing, NewAllocation, NewFunding, NewProgram, Program,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/programs", post(create))
        .route("/programs/{id}", get(show))
        .route("/programs/{id}/fundings", post(fund))
        .route("/programs/{id}/allocations", post(allocate))
        .route("/programs/{id}/reconciliation", get(reconciliation))
        .route("/programs/{id}/reconciliation/breakdown", get(breakdown))
        .route("/programs/{id}/close", post(close).delete(cancel_close))
        .route("/programs/{id}/credit-note/{file}", get(credit_note))
        .route("/programs/{id}/time-zone", put(set_time_zone))
}

#[utoipa::path(
    post,
    path = "/api/v1/programs",
    tag = "funder",
    summary = "Créer un programme (financeur)",
    request_body = crate::programs::NewProgram,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Créé", body = Program), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write {
        body,
        replay,
        origin,
    }: Write<NewProgram>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { programs::create(tx, &org, body, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::CREATED, answer))
}

#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}",
    tag = "funder",
    summary = "Lire un programme",
    params(("id" = String, Path, description = "Programme")),
    responses((status = 200, description = "Le programme", body = Program), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<Program>> {
    let mut conn = state.db.read().await?;
    Ok(Json(programs::get_for(&mut conn, &org, &id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/fundings",
    tag = "funder",
    summary = "Enregistrer un versement du financeur",
    request_body = crate::programs::NewFunding,
    params(("id" = String, Path, description = "Programme"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Enregistré", body = crate::programs::Funding), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn fund(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<NewFunding>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { programs::record_funding(tx, &org, &id, body, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::CREATED, answer))
}

#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/allocations",
    tag = "funder",
    summary = "Donner un quota de chèques à un distributeur",
    request_body = crate::programs::NewAllocation,
    params(("id" = String, Path, description = "Programme"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 201, description = "Attribué", body = crate::programs::Allocation), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn allocate(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<NewAllocation>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { programs::allocate(tx, &org, &id, body, now).await })
        })
        .await
        .map(|answer| respond(StatusCode::CREATED, answer))
}

#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}/reconciliation",
    tag = "funder",
    summary = "Les chiffres du programme, lus dans le grand livre",
    params(("id" = String, Path, description = "Programme")),
    responses((status = 200, description = "Rapprochement", body = Reconciliation), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn reconciliation(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<Reconciliation>> {
    let mut conn = state.db.read().await?;
    let program = programs::get_for(&mut conn, &org, &id).await?;
    Ok(Json(
        ledger::reconciliation(&mut conn, &program.id, program.budget_cents).await?,
    ))
}

/// The same figures per distributor, site and département.
#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}/reconciliation/breakdown",
    tag = "funder",
    summary = "Les chiffres par distributeur, lieu et département",
    params(("id" = String, Path, description = "Programme")),
    responses((status = 200, description = "Détail", body = Breakdown), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn breakdown(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<Breakdown>> {
    let mut conn = state.db.read().await?;
    let program = programs::get_for(&mut conn, &org, &id).await?;
    let departments = crate::orgs::departments(&mut conn).await?;
    Ok(Json(
        ledger::breakdown(&mut conn, &program.id, &departments).await?,
    ))
}

/// Plans the programme's last day (or moves it); a forced date of today or earlier closes it at
/// once.
#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/close",
    tag = "funder",
    summary = "Prévoir la fin d'un programme (financeur ou opérateur)",
    description = "Prévoit le dernier jour où les chèques du programme sont acceptés, au moins \
        30 jours plus tard (sans date : dans 30 jours). Une date déjà prévue peut être repoussée, \
        ou avancée dans la même règle. Seul l'opérateur peut imposer un préavis plus court \
        (`force: true`) ; une date imposée d'aujourd'hui ou passée clôt le programme tout de \
        suite. Les distributeurs n'émettent ni n'activent plus de carnet dans les 15 derniers \
        jours ; distributeurs, lieux et bénéficiaires sont prévenus par e-mail 30, 15 et 7 jours \
        avant ; le lendemain du dernier jour, le programme est clos : les chèques non utilisés \
        expirent, les quotas reviennent, le reste est rendu au financeur (avoir). Refus : \
        422 `notice_too_short` (la date la plus proche possible est dans le message), \
        403 `force_reserved` (un financeur qui force), 409 `already_closed`, `already_ended`.",
    request_body(content = crate::programs::CloseRequest, description = "Facultatif : `{}` ou pas de corps prévoit la fin dans 30 jours."),
    params(("id" = String, Path, description = "Programme"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "Fin prévue, ou programme clos tout de suite (`closure`)", body = Closing), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn close(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<CloseRequest>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { programs::schedule_close(tx, &org, &id, body, now, today).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

/// Cancels the planned end while its day is still to come.
#[utoipa::path(
    delete,
    path = "/api/v1/programs/{id}/close",
    tag = "funder",
    summary = "Annuler la fin prévue d'un programme (financeur ou opérateur)",
    description = "Tant que le dernier jour prévu n'est pas passé, le programme continue sans date \
        de fin. Refus : 409 `no_close_planned`, `already_closed`, `already_ended`.",
    params(("id" = String, Path, description = "Programme"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé reçoit la première réponse.")),
    responses((status = 200, description = "Le programme, sans date de fin", body = Program), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn cancel_close(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, origin, .. }: Write<Empty>,
) -> Result<Response> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let org_id = org.id.clone();
    state
        .write(origin, replay.key(&org_id), move |tx| {
            Box::pin(async move { programs::cancel_close(tx, &org, &id, now, today).await })
        })
        .await
        .map(|answer| respond(StatusCode::OK, answer))
}

/// `credit-note/avoir.csv` or `credit-note/avoir.pdf` of a closed programme.
#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}/credit-note/{file}",
    tag = "funder",
    summary = "L'avoir d'un programme clos (avoir.csv ou avoir.pdf)",
    params(("id" = String, Path, description = "Programme"), ("file" = String, Path, description = "avoir.csv ou avoir.pdf")),
    responses((status = 200, description = "Le fichier", content((String = "text/csv"), (Vec<u8> = "application/pdf"))), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn credit_note(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, file)): Path<(String, String)>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let mut conn = state.db.read().await?;
    let report = crate::expiry::credit_note(&mut conn, &org, &id).await?;
    let (content_type, body) = match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("csv") => ("text/csv; charset=utf-8", report.csv()?.into_bytes()),
        Some("pdf") => ("application/pdf", report.pdf()),
        _ => {
            return Err(crate::error::Error::not_found(
                "L'avoir existe au format .csv ou .pdf (exemple : …/credit-note/avoir.pdf).",
            ))
        }
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_string()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"avoir-{id}-{file}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(
    put,
    path = "/api/v1/programs/{id}/time-zone",
    tag = "funder",
    summary = "Choisir le fuseau horaire d'un programme, où finit le dernier jour de ses chèques (financeur)",
    request_body = crate::zones::ZoneChange,
    params(("id" = String, Path, description = "Programme"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
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
            Box::pin(async move { programs::set_time_zone(tx, &actor, &id, body, now).await })
        })
        .await?;
    Ok(Json(setting))
}
