//! `GET /metrics` (Prometheus text format): without `PASSNUM_METRICS_TOKEN` the address does
//! not exist (404), with it the scraper must send `Authorization: Bearer <token>`. Counters live
//! in this process (`crate::metrics`); settlement figures are read from the database at each
//! scrape, so they are exact, survive restarts and agree between several servers.

use super::AppState;
use crate::error::Error;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Middleware: counts and times every request by method, route template and status.
pub async fn layer(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    crate::metrics::http_request(&method, &route, &status, started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(expected) = state
        .config
        .metrics_token
        .as_deref()
        .filter(|t| !t.is_empty())
    else {
        return Error::not_found("Cette adresse n'existe pas.").into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return Error::Unauthenticated.into_response();
    }
    let mut families = crate::metrics::gather();
    match settlements(&state).await {
        Ok(registry) => families.extend(registry.gather()),
        Err(e) => tracing::warn!(error = %e, "settlement figures not read for /metrics"),
    }
    let mut body = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&families, &mut body) {
        return Error::Internal(e.into()).into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        body,
    )
        .into_response()
}

/// Settlement figures as the database has them now, in a registry of this scrape only.
async fn settlements(state: &AppState) -> anyhow::Result<Registry> {
    let mut conn = state.db.read().await?;
    let totals = crate::settlement::totals_by_status(&mut conn).await?;
    let registry = Registry::new_custom(Some("passnum".into()), None)?;
    let batches = IntGaugeVec::new(
        Opts::new("settlement_batches", "Settlement batches by status"),
        &["status"],
    )?;
    let cents = IntGaugeVec::new(
        Opts::new(
            "settlement_cents",
            "Total of settlement batches by status, in cents (status paid: cents paid)",
        ),
        &["status"],
    )?;
    registry.register(Box::new(batches.clone()))?;
    registry.register(Box::new(cents.clone()))?;
    for (status, n, total) in totals {
        batches.with_label_values(&[status.as_str()]).set(n);
        cents.with_label_values(&[status.as_str()]).set(total);
    }
    Ok(registry)
}
