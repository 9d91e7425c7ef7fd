//! Prometheus metrics at `GET /metrics` (text format), for the operator's monitoring only:
//! without `PASSNUM_METRICS_TOKEN` the address does not exist (404), with it the scraper must
//! send `Authorization: Bearer <token>`.
//!
//! Counters live in this process (one registry per process, as a server is one process);
//! settlement figures are read from the database at each scrape, so they are exact, survive
//! restarts and agree between several servers.
//!
//! `prometheus` (default features off: no protobuf) rather than `metrics` +
//! `metrics-exporter-prometheus`: six small dependencies already in the tree instead of a
//! dozen new ones, and a registry can be built per scrape for the database-read figures.

use crate::error::Error;
use crate::http::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::LazyLock;
use std::time::Instant;
use subtle::ConstantTimeEq;

struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_seconds: HistogramVec,
    redemptions: IntCounter,
    refusals: IntCounterVec,
    redemption_groups: Histogram,
    redemption_groups_failed: IntCounter,
    write_groups: Histogram,
}

fn build() -> prometheus::Result<Metrics> {
    let registry = Registry::new_custom(Some("passnum".into()), None)?;
    let labels = &["method", "route", "status"];
    let http_requests = IntCounterVec::new(
        Opts::new("http_requests_total", "HTTP requests answered"),
        labels,
    )?;
    let http_seconds = HistogramVec::new(
        HistogramOpts::new("http_request_duration_seconds", "HTTP answer time").buckets(vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        labels,
    )?;
    let redemptions = IntCounter::new("redemptions_total", "Cheques redeemed (API and pages)")?;
    let refusals = IntCounterVec::new(
        Opts::new(
            "redemption_refusals_total",
            "Redemptions refused, by error code",
        ),
        &["code"],
    )?;
    // How loaded the redemption writers are: groups of one mean they wait for work.
    let redemption_groups = Histogram::with_opts(
        HistogramOpts::new(
            "redemption_group_size",
            "Redemption requests handled together in one transaction",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
    )?;
    let redemption_groups_failed = IntCounter::new(
        "redemption_groups_failed_total",
        "Redemption groups the database refused as a whole (their requests then handled alone)",
    )?;
    // SQLite's single writer commits queued write transactions together (`db::writer`).
    let write_groups = Histogram::with_opts(
        HistogramOpts::new(
            "write_group_size",
            "Write transactions committed together by SQLite's single writer",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
    )?;
    registry.register(Box::new(http_requests.clone()))?;
    registry.register(Box::new(http_seconds.clone()))?;
    registry.register(Box::new(redemptions.clone()))?;
    registry.register(Box::new(refusals.clone()))?;
    registry.register(Box::new(redemption_groups.clone()))?;
    registry.register(Box::new(redemption_groups_failed.clone()))?;
    registry.register(Box::new(write_groups.clone()))?;
    Ok(Metrics {
        registry,
        http_requests,
        http_seconds,
        redemptions,
        refusals,
        redemption_groups,
        redemption_groups_failed,
        write_groups,
    })
}

static METRICS: LazyLock<Metrics> =
    LazyLock::new(|| build().expect("metric names and labels are valid"));

/// A cheque was redeemed (counted after commit).
pub fn redeemed() {
    METRICS.redemptions.inc();
}

/// A redemption was refused with this error code (`already_redeemed`, `invalid_code`…).
pub fn refused(code: &str) {
    METRICS.refusals.with_label_values(&[code]).inc();
}

/// A group of redemption requests was handled in one transaction (`failed`: refused as a whole).
pub fn redemption_group(requests: usize, failed: bool) {
    METRICS.redemption_groups.observe(requests as f64);
    if failed {
        METRICS.redemption_groups_failed.inc();
    }
}

/// SQLite's writer committed this many write transactions together.
pub fn write_group(transactions: usize) {
    METRICS.write_groups.observe(transactions as f64);
}

/// Groups so far and what they held, for a benchmark to see how loaded the writers were:
/// `(redemption groups, requests in them, SQLite commits, transactions in them)`.
pub fn group_counts() -> (u64, f64, u64, f64) {
    let (r, w) = (&METRICS.redemption_groups, &METRICS.write_groups);
    (
        r.get_sample_count(),
        r.get_sample_sum(),
        w.get_sample_count(),
        w.get_sample_sum(),
    )
}

/// Middleware: counts and times every request by method, route template (never the raw path,
/// which holds ids and codes) and status.
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
    let labels = [method.as_str(), route.as_str(), status.as_str()];
    METRICS.http_requests.with_label_values(&labels).inc();
    METRICS
        .http_seconds
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
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
    let mut families = METRICS.registry.gather();
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
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*), CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) FROM settlements \
         GROUP BY status",
    )
    .fetch_all(&state.db.read)
    .await?;
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
    for status in ["draft", "approved", "exported", "paid"] {
        let (n, total) = rows
            .iter()
            .find(|r| r.0 == status)
            .map(|r| (r.1, r.2))
            .unwrap_or((0, 0));
        batches.with_label_values(&[status]).set(n);
        cents.with_label_values(&[status]).set(total);
    }
    Ok(registry)
}
