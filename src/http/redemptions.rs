//! Site: redeeming, undoing and listing redemptions. Invalid codes are counted per site and per
//! address, and too many of them answer 429.

use super::extract::{Auth, BearerToken, ClientIp, Empty, Write};
use super::{json_response, run_write, run_write_batched, saved_answer_or, AppState};
use crate::error::{Error, Result};
use crate::redemption::writer::{Outcome, Request, SavedUnder};
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
    // One read connection for everything read before the write (giving one back to the pool
    // costs sqlx a ping: a round trip on PostgreSQL), taken once the body is in, so that a
    // slow client never holds one.
    let mut conn = state.db.read.acquire().await?;
    let org = crate::orgs::authenticate(&mut conn, &token).await?;
    let (now, today) = (state.clock.now(), state.clock.today());
    let limit_keys = [format!("site:{}", org.id), format!("ip:{ip}")];
    if let Some(retry_after_secs) = state
        .invalid_codes
        .blocked(&mut *conn, &limit_keys, now)
        .await?
    {
        return Err(Error::RateLimited { retry_after_secs });
    }
    let checked = redemption::check(&mut conn, &state.keyring, &org, body, today).await;
    // Given back before the write, and before recording a refusal (each takes its own).
    drop(conn);
    let result = match checked {
        Ok(session) => {
            let saved_under = replay.idempotency_key.clone().map(|key| SavedUnder {
                org_id: org.id.clone(),
                key,
                request_hash: replay.request_hash.clone(),
            });
            let request = Request {
                site: org.clone(),
                session: session.clone(),
                saved_under,
            };
            match state.redemptions.redeem(request).await {
                Outcome::Redeemed(body) => Ok(json_response(StatusCode::CREATED, body)),
                Outcome::Refused(refusal) => {
                    saved_answer_or(&state, &org.id, &replay, refusal).await
                }
                Outcome::Alone => {
                    let org_id = org.id.clone();
                    run_write_batched(
                        &state,
                        &org_id,
                        &replay,
                        StatusCode::CREATED,
                        move |conn, batch| {
                            Box::pin(async move {
                                redemption::record(conn, batch, &org, session, now, today).await
                            })
                        },
                    )
                    .await
                }
            }
        }
        Err(refusal) => Err(refusal),
    };
    if matches!(&result, Err(e) if e.code() == "invalid_code") {
        state.invalid_codes.record(&limit_keys, now).await?;
    }
    match &result {
        Ok(r) if r.status() == StatusCode::CREATED => crate::metrics::redeemed(),
        Ok(_) => {}
        Err(e) => crate::metrics::refused(e.code()),
    }
    result
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
