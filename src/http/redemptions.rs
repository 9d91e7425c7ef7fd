//! Site: redeeming, undoing and listing redemptions. Invalid codes are counted per site and per
//! address, and too many of them answer 429.

use super::extract::{Auth, BearerToken, ClientIp, Empty, Write};
use super::{json_response, run_write, run_write_batched, saved_answer_or, AppState};
use crate::error::{Error, Result};
use crate::redemption::writer::{Outcome, Request};
use crate::redemption::{self, NewRedemption, RedemptionRow};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, post};
use axum::{Json, Router};
use jiff::SignedDuration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/redemptions", post(redeem).get(list))
        .route("/redemptions/{id}", delete(undo))
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
    Write { body, replay }: Write<NewRedemption>,
) -> Result<Response> {
    let request = Request {
        token: token.clone(),
        client_ip: ip,
        new: body.clone(),
        saved_under: replay
            .idempotency_key
            .clone()
            .map(|key| (key, replay.request_hash.clone())),
    };
    let answer = state.redemptions.redeem(request).await;
    let (site_id, result) = match (answer.site_id, answer.outcome) {
        (Some(site_id), Outcome::Redeemed(body)) => {
            (Some(site_id), Ok(json_response(StatusCode::CREATED, body)))
        }
        (Some(site_id), Outcome::Refused(refusal)) => {
            let result = saved_answer_or(&state, &site_id, &replay, refusal).await;
            (Some(site_id), result)
        }
        (None, Outcome::Refused(refusal)) => (None, Err(refusal)),
        (_, _) => redeem_alone(&state, ip, &token, body, &replay).await,
    };
    if let (Some(site_id), Err(e)) = (&site_id, &result) {
        if e.code() == "invalid_code" {
            let keys = redemption::invalid_code_keys(site_id, ip);
            state.invalid_codes.record(&keys, state.clock.now()).await?;
        }
    }
    match &result {
        Ok(r) if r.status() == StatusCode::CREATED => crate::metrics::redeemed(),
        Ok(_) => {}
        Err(e) => crate::metrics::refused(e.code()),
    }
    result
}

/// A redemption handled by itself, for a request whose group could not be written: the same
/// checks, on a read connection, then its own write transaction. Gives the site, once known.
async fn redeem_alone(
    state: &AppState,
    ip: std::net::IpAddr,
    token: &str,
    body: NewRedemption,
    replay: &super::extract::Replay,
) -> (Option<String>, Result<Response>) {
    let mut conn = match state.db.read.acquire().await {
        Ok(conn) => conn,
        Err(e) => return (None, Err(e.into())),
    };
    let org = match crate::orgs::authenticate(&mut conn, token).await {
        Ok(org) => org,
        Err(e) => return (None, Err(e)),
    };
    let site_id = Some(org.id.clone());
    let (now, today) = (state.clock.now(), state.clock.today());
    let limit_keys = redemption::invalid_code_keys(&org.id, ip);
    match state
        .invalid_codes
        .blocked(&mut *conn, &limit_keys, now)
        .await
    {
        Ok(None) => {}
        Ok(Some(retry_after_secs)) => {
            return (site_id, Err(Error::RateLimited { retry_after_secs }))
        }
        Err(e) => return (site_id, Err(e)),
    }
    let checked = redemption::check(&mut conn, &state.keyring, &org, body, today).await;
    // Given back before the write, which takes its own.
    drop(conn);
    let session = match checked {
        Ok(session) => session,
        Err(refusal) => return (site_id, Err(refusal)),
    };
    let org_id = org.id.clone();
    let result = run_write_batched(
        state,
        &org_id,
        replay,
        StatusCode::CREATED,
        move |conn, batch| {
            Box::pin(
                async move { redemption::record(conn, batch, &org, session, now, today).await },
            )
        },
    )
    .await;
    (site_id, result)
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
    Write { replay, .. }: Write<Empty>,
) -> Result<Response> {
    let now = state.clock.now();
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, move |conn| {
        Box::pin(async move { redemption::undo(conn, &org, &id, now, window).await })
    })
    .await
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
    let mut conn = state.db.read.acquire().await?;
    Ok(Json(redemption::list(&mut conn, &org).await?))
}
