//! The JSON API edge: one `router()` per resource, the extractors (who calls, the body of a
//! write and its idempotency key, where from), the one error-to-HTTP mapping, and the layers
//! every request goes through. Handlers only parse, call one domain operation through
//! [`AppState::write`] or a read, and serialise.

mod applications;
mod bank;
pub(crate) use bank::document_response;
mod catalogue;
pub mod client_addr;
pub mod error;
pub mod extract;
mod hardening;
mod health;
pub mod input;
mod metrics;
mod offline;
pub mod openapi;
mod organizations;
mod passes;
mod places;
mod programs;
mod public;
mod redemptions;
mod settlements;
mod treasury;

use crate::app::AppState;
use axum::Router;

/// Every route of the JSON API (nested under `/api/v1`).
pub fn api_router() -> Router<AppState> {
    Router::new()
        .merge(organizations::router())
        .merge(bank::router())
        .merge(programs::router())
        .merge(passes::router())
        .merge(redemptions::router())
        .merge(offline::router())
        .merge(public::router())
        .merge(applications::router())
        .merge(settlements::router())
        .merge(treasury::router())
        .merge(places::router())
        .merge(catalogue::router())
        // Unknown addresses and wrong methods: `app::router`, once for every route.
        .layer(axum::middleware::from_fn(input::api_guard))
}

/// Health checks, metrics and the API's documentation.
pub fn service_router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .route("/metrics", axum::routing::get(metrics::scrape))
        .merge(openapi::router())
}

/// What every request goes through: its client address, its metrics, and the hardening
/// (security headers, request id, time limit).
pub fn layers(router: Router, state: &AppState) -> Router {
    let router = router
        .layer(axum::middleware::from_fn(metrics::layer))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_addr::layer,
        ));
    hardening::apply(router, state)
}

/// A write's answer as JSON, with the route's status.
pub(crate) fn respond<T: serde::Serialize>(
    status: axum::http::StatusCode,
    value: T,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (status, axum::Json(value)).into_response()
}
