//! Prometheus counters of this process, served at `GET /metrics` by `http::metrics` for the
//! operator's monitoring only.
//!
//! Counters live in this process (one registry per process, as a server is one process);
//! settlement figures are read from the database at each scrape, so they are exact, survive
//! restarts and agree between several servers.
//!
//! `prometheus` (default features off: no protobuf) rather than `metrics` +
//! `metrics-exporter-prometheus`: six small dependencies already in the tree instead of a
//! dozen new ones, and a registry can be built per scrape for the database-read figures.

use prometheus::proto::MetricFamily;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};
use std::sync::LazyLock;

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

/// One HTTP request answered: by method, route template (never the raw path, which holds ids
/// and codes) and status.
pub fn http_request(method: &str, route: &str, status: &str, seconds: f64) {
    let labels = [method, route, status];
    METRICS.http_requests.with_label_values(&labels).inc();
    METRICS
        .http_seconds
        .with_label_values(&labels)
        .observe(seconds);
}

/// Everything counted so far, for a scrape.
pub fn gather() -> Vec<MetricFamily> {
    METRICS.registry.gather()
}
