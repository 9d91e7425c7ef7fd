//! No token: what a beneficiary may check with the code printed on the carnet. Rate-limited per
//! address, so pass codes cannot be enumerated.

use super::extract::ClientIp;
use super::AppState;
use crate::error::Result;
use crate::vouchers::{self, PublicBalance};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new().route("/public/passes/{pass_code}", get(balance))
}

#[utoipa::path(
    get,
    path = "/api/v1/public/passes/{pass_code}",
    tag = "public",
    summary = "Ce qu'il reste sur un carnet (sans jeton, limité par adresse)",
    params(("pass_code" = String, Path, description = "Code imprimé sur la couverture du carnet")),
    responses((status = 200, description = "Solde", body = PublicBalance), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(())
)]
pub(super) async fn balance(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(pass_code): Path<String>,
) -> Result<Json<PublicBalance>> {
    state.public_lookup(ip, &pass_code).await?;
    let mut conn = state.db.read().await?;
    let found = vouchers::public_balance(&mut conn, &pass_code, state.clock.today()).await;
    drop(conn);
    Ok(Json(state.public_lookup_done(ip, &pass_code, found).await?))
}
