//! No token: what a beneficiary may check with the code printed on the carnet (rate-limited per
//! address, so pass codes cannot be enumerated), and what a site's device needs to check
//! cheques offline (the public keys, the programmes, the signed list of cancelled cheques).

use super::extract::ClientIp;
use super::AppState;
use crate::error::{Error, Result};
use crate::vouchers::offline::{self, PublicKeys, Revocations};
use crate::vouchers::{self, PublicBalance};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/public/passes/{pass_code}", get(balance))
        .route("/public/keys", get(keys))
        .route("/public/revocations", get(revocations))
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
    let found = vouchers::public_balance(&mut conn, &pass_code, state.clock.now()).await;
    drop(conn);
    Ok(Json(state.public_lookup_done(ip, &pass_code, found).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/public/keys",
    tag = "public",
    summary = "Clés publiques Ed25519 des chèques (QR `PN2`) et programmes, pour vérifier hors connexion",
    description = "Un QR `PN2.<clé>.<programme>.<centimes>.<AAAAMMJJ>.<code>.<signature>` est \
                   signé en Ed25519 (base32 Crockford, 103 symboles) sur les octets de tout ce \
                   qui précède le dernier point, par la clé `key_id`. `programmes` relie chaque \
                   référence de programme à son nom, sa valeur et ses règles.",
    responses((status = 200, description = "Clés et programmes", body = PublicKeys)),
    security(())
)]
pub(super) async fn keys(State(state): State<AppState>) -> Result<Json<PublicKeys>> {
    let mut conn = state.db.read().await?;
    Ok(Json(offline::public_keys(&mut conn, &state.keyring).await?))
}

#[derive(serde::Deserialize)]
pub(super) struct SinceQuery {
    since: Option<String>,
    depuis: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/public/revocations",
    tag = "public",
    summary = "Liste signée des carnets et chèques annulés depuis une date",
    description = "Seuls les chèques encore dans leur durée de validité y figurent. \
                   `signature` est une signature Ed25519 (base64url sans remplissage, clé \
                   `key_id` de `/api/v1/public/keys`) des octets UTF-8 de `signed_text` : \
                   `passnum revocations v1`, `issued_at <instant>`, `since <AAAA-MM-JJ ou ->`, \
                   puis une ligne `<carnet|cheque> <instant> <code> <code>…` par annulation, \
                   séparées par `\\n`. `list` en reprend le contenu en JSON.",
    params(
        ("since" = Option<String>, Query, description = "AAAA-MM-JJ : annulations depuis ce jour à 00:00 UTC (toutes sinon)"),
        ("depuis" = Option<String>, Query, description = "Synonyme de `since`"),
    ),
    responses((status = 200, description = "Liste signée", body = Revocations), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(())
)]
pub(super) async fn revocations(
    State(state): State<AppState>,
    query: std::result::Result<Query<SinceQuery>, QueryRejection>,
) -> Result<Json<Revocations>> {
    let Query(q) = query.map_err(|_| {
        Error::bad_request(
            "invalid_query",
            "Paramètres illisibles : since (ou depuis) est une date AAAA-MM-JJ.",
        )
    })?;
    let since = offline::parse_since(q.since.as_deref().or(q.depuis.as_deref()))?;
    let mut conn = state.db.read().await?;
    Ok(Json(
        offline::revocations(
            &mut conn,
            &state.keyring,
            since,
            state.clock.now(),
            state.clock.today(),
        )
        .await?,
    ))
}
