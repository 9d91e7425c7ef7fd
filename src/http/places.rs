//! Places: the public directory in JSON, the open-data export in the national standard, and
//! the operator's qualification of one place.

use super::extract::{Auth, ClientIp, Write};
use super::AppState;
use crate::error::{Error, Result};

use crate::sites::places::{self, standard, Search};
use crate::sites::qualification::{self, Decision, QualificationChange};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/public/sites", get(search))
        .route("/public/sites.csv", get(export_csv))
        .route("/public/sites.json", get(export_json))
        .route("/places/{id}/qualification", put(qualify))
        .route("/places/{id}/time-zone", put(set_time_zone))
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    postcode: Option<String>,
    commune: Option<String>,
    department: Option<String>,
    /// One of the standard's `services`.
    service: Option<String>,
    /// One of the standard's `prise_en_charge_specifique`.
    accessibility: Option<String>,
    open_now: Option<bool>,
    lat: Option<f64>,
    lon: Option<f64>,
    /// A carnet code: only the places that accept its cheques.
    carnet: Option<String>,
}

/// `GET /public/sites?postcode=…` (or `commune=`, `department=`): the directory's results.
#[utoipa::path(
    get,
    path = "/api/v1/public/sites",
    tag = "public",
    summary = "Lieux qualifiés près d'un code postal, d'une commune ou d'un département, les plus proches d'abord",
    params(
        ("postcode" = Option<String>, Query, description = "Code postal"),
        ("commune" = Option<String>, Query, description = "Commune"),
        ("department" = Option<String>, Query, description = "Département (33, 2A, 974…)"),
        ("service" = Option<String>, Query, description = "Un des services du standard national"),
        ("accessibility" = Option<String>, Query, description = "Une des prises en charge spécifiques du standard"),
        ("open_now" = Option<bool>, Query, description = "Seulement les lieux ouverts maintenant"),
        ("lat" = Option<f64>, Query, description = "Latitude du point de départ"),
        ("lon" = Option<f64>, Query, description = "Longitude du point de départ"),
        ("carnet" = Option<String>, Query, description = "Code d'un carnet : seulement les lieux qui acceptent ses chèques"),
    ),
    responses((status = 200, description = "`{sites: [...]}`", body = Object), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(())
)]
pub(super) async fn search(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    query: std::result::Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Value>> {
    // Axum's own rejection is plain text: answer in the API's error format instead.
    let Query(q) = query.map_err(|_| {
        Error::bad_request(
            "invalid_query",
            "Paramètres de recherche illisibles : open_now vaut true ou false, lat et lon sont \
             des nombres.",
        )
    })?;
    // None of them: the search refuses an empty area, saying what to type.
    let area = [q.postcode, q.commune, q.department]
        .into_iter()
        .flatten()
        .find(|a| !a.trim().is_empty())
        .unwrap_or_default();
    let mut conn = state.db.read().await?;
    let accepting = match q.carnet.filter(|c| !c.trim().is_empty()) {
        Some(carnet) => {
            state.public_lookup(ip, &carnet).await?;
            let found = crate::vouchers::territory_of_pass(&mut conn, &carnet).await;
            Some(state.public_lookup_done(ip, &carnet, found).await?)
        }
        None => None,
    };
    let search = Search {
        area,
        service: q.service.filter(|s| !s.is_empty()),
        support: q.accessibility.filter(|s| !s.is_empty()),
        open_now: q.open_now.unwrap_or(false),
        near: q.lat.zip(q.lon),
        accepting,
    };
    let found = places::search(&mut conn, &search, state.clock.now(), 100).await?;
    let ids: Vec<&str> = found.iter().map(|f| f.place.id()).collect();
    let offered = crate::catalogue::offered_by(&mut conn, &ids).await?;
    let sites: Vec<Value> = found
        .iter()
        .map(|f| {
            let mut site = f.to_json();
            // passnum's own catalogue, beside the standard's fields.
            site["passnum_services"] = json!(offered.get(f.place.id()).unwrap_or(&Vec::new()));
            site
        })
        .collect();
    Ok(Json(json!({ "sites": sites })))
}

/// Qualified places as a CSV file in the national standard.
#[utoipa::path(
    get,
    path = "/api/v1/public/sites.csv",
    tag = "public",
    summary = "Lieux qualifiés au standard national (CSV, données ouvertes)",
    responses((status = 200, description = "CSV", body = String, content_type = "text/csv"), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(())
)]
pub(super) async fn export_csv(State(state): State<AppState>) -> Result<Response> {
    let mut conn = state.db.read().await?;
    let places = places::exportable(&mut conn, state.clock.today()).await?;
    let body = standard::write_csv(&places).map_err(anyhow::Error::from)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"lieux-mediation-numerique.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The same places as a JSON array of objects keyed by the standard's field names.
#[utoipa::path(
    get,
    path = "/api/v1/public/sites.json",
    tag = "public",
    summary = "Lieux qualifiés au standard national (JSON, données ouvertes)",
    responses((status = 200, description = "Les lieux", body = Vec<Object>), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(())
)]
pub(super) async fn export_json(State(state): State<AppState>) -> Result<Json<Value>> {
    let mut conn = state.db.read().await?;
    let places = places::exportable(&mut conn, state.clock.today()).await?;
    Ok(Json(Value::Array(
        places.iter().map(|p| Value::Object(p.to_json())).collect(),
    )))
}

/// The operator qualifies or suspends one place.
#[utoipa::path(
    put,
    path = "/api/v1/places/{id}/qualification",
    tag = "operator",
    summary = "Qualifier ou suspendre un seul lieu (opérateur)",
    request_body = crate::sites::qualification::QualificationChange,
    params(("id" = String, Path, description = "Lieu"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses((status = 200, description = "`{id, qualification_status, qualified_until}`", body = Object), (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(super) async fn qualify(
    State(state): State<AppState>,
    Auth(operator): Auth,
    Path(id): Path<String>,
    Write {
        body,
        replay,
        origin,
    }: Write<QualificationChange>,
) -> Result<Json<Value>> {
    let (now, today) = (state.clock.now(), state.clock.today());
    let decision = Decision::parse(body, today)?;
    let key = replay.key(&operator.id);
    let answer = state
        .write(origin, key, move |tx| {
            Box::pin(async move {
                let place = qualification::decide_place(tx, &operator, &id, decision, now).await?;
                Ok(json!({
                    "id": place.id(),
                    "qualification_status": place.qualification_status,
                    "qualified_until": place.qualified_until,
                }))
            })
        })
        .await?;
    Ok(Json(answer))
}

#[utoipa::path(
    put,
    path = "/api/v1/places/{id}/time-zone",
    tag = "operator",
    summary = "Choisir le fuseau horaire d'un lieu (opérateur ou sa structure)",
    request_body = crate::zones::ZoneChange,
    params(("id" = String, Path, description = "Lieu"), ("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
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
            Box::pin(async move { places::set_time_zone(tx, &actor, &id, body, now).await })
        })
        .await?;
    Ok(Json(setting))
}
