//! The HTTP edge: routes, shared state, and the one way writes are run (transaction plus
//! idempotent replay). Handlers are thin: they call the domain modules.

mod catalogue;
pub mod client_addr;
pub mod error;
pub mod extract;
mod hardening;
mod health;
pub mod openapi;
mod organizations;
mod passes;
mod places;
mod programs;
mod public;
mod redemptions;
mod settlements;

use crate::clock::{format_ts, SharedClock};
use crate::config::Config;
use crate::db::{Batch, Conn, Db};
use crate::error::Result;
use crate::ratelimit::RateLimiter;
use crate::redemption::writer::Lanes;
use crate::vouchers::codes::Keyring;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use extract::Replay;
use serde::Serialize;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub keyring: Arc<Keyring>,
    pub config: Arc<Config>,
    /// Invalid codes per site and per address.
    pub invalid_codes: Arc<RateLimiter>,
    /// Public pass look-ups per address.
    pub public_lookups: Arc<RateLimiter>,
    /// Failed logins per address and per account.
    pub logins: Arc<RateLimiter>,
    /// Records the redemptions asked for at the same time together.
    pub redemptions: crate::redemption::writer::Writer,
}

impl AppState {
    pub fn new(db: Db, clock: SharedClock, keyring: Keyring, config: Config) -> Self {
        let keyring = Arc::new(keyring);
        let invalid_codes = Arc::new(RateLimiter::new(
            "invalid_code",
            config.invalid_code_limit,
            config.rate_window_secs,
            &db,
        ));
        Self {
            public_lookups: Arc::new(RateLimiter::new(
                "public_lookup",
                config.public_lookup_limit,
                config.rate_window_secs,
                &db,
            )),
            logins: Arc::new(RateLimiter::new(
                "login",
                config.login_attempt_limit,
                config.rate_window_secs,
                &db,
            )),
            redemptions: crate::redemption::writer::Writer::spawn(
                db.clone(),
                clock.clone(),
                keyring.clone(),
                invalid_codes.clone(),
                redemption_writers(&db, &config),
            ),
            invalid_codes,
            db,
            clock,
            keyring,
            config: Arc::new(config),
        }
    }
}

/// On SQLite the single writer connection commits every group anyway: two writers on one
/// queue let one group be prepared while the other commits, and the free one takes everything
/// waiting (BENCHMARKS.md, run N: two lanes made smaller groups and a lower rate). On
/// PostgreSQL a quarter of the pool, each writer in its own lane (see `redemption::writer`):
/// fewer, larger groups cost less per redemption (run H: with 2 writers PostgreSQL spent
/// 359 µs of CPU per redemption at 64 clients, with 4 writers 533 µs; run I, with the
/// statements kept prepared: 457–498 µs against 672).
fn redemption_writers(db: &Db, config: &Config) -> Lanes {
    match db.backend {
        crate::db::Backend::Sqlite => Lanes {
            lanes: 1,
            writers_per_lane: 2,
        },
        crate::db::Backend::Postgres => Lanes {
            lanes: (config.db_connections as usize / 4).max(1),
            writers_per_lane: 1,
        },
    }
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(organizations::router())
        .merge(programs::router())
        .merge(passes::router())
        .merge(redemptions::router())
        .merge(public::router())
        .merge(settlements::router())
        .method_not_allowed_fallback(|| async { crate::error::Error::MethodNotAllowed })
        .merge(places::router())
        .merge(catalogue::router())
        .fallback(|| async {
            crate::error::Error::not_found("Cette adresse n'existe pas dans l'API.")
        });
    let router = Router::new()
        .nest("/api/v1", api)
        .merge(health::router())
        .route("/metrics", axum::routing::get(crate::metrics::scrape))
        .merge(openapi::router())
        .merge(crate::web::router(state.clone()))
        .with_state(state.clone())
        .layer(axum::middleware::from_fn(crate::audit::origin::layer))
        .layer(axum::middleware::from_fn(crate::metrics::layer))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_addr::layer,
        ));
    hardening::apply(router, &state)
}

pub use crate::db::BoxFuture;

/// Runs a write in one database transaction ([`crate::db::Db::transact`]). With an
/// `Idempotency-Key`, the answer is saved in that same transaction, and a retry gets it back
/// (see [`crate::idempotency`]): a write that fails looks for an answer saved under its key.
pub async fn run_write<T, F>(
    state: &AppState,
    org_id: &str,
    request: &Replay,
    status: StatusCode,
    work: F,
) -> Result<Response>
where
    T: Serialize + Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    run_write_batched(state, org_id, request, status, move |conn, _| work(conn)).await
}

/// [`run_write`] for work that leaves writes in a [`Batch`]: they go to the database with the
/// saved answer, in one round trip.
pub async fn run_write_batched<T, F>(
    state: &AppState,
    org_id: &str,
    request: &Replay,
    status: StatusCode,
    work: F,
) -> Result<Response>
where
    T: Serialize + Send + 'static,
    F: for<'c> FnOnce(&'c mut Conn, &'c mut Batch) -> BoxFuture<'c, Result<T>> + Send + 'static,
{
    let saved_under = request.idempotency_key.clone().map(|key| {
        (
            org_id.to_string(),
            key,
            request.request_hash.clone(),
            format_ts(state.clock.now()),
        )
    });
    let written = state
        .db
        .transact(move |conn| {
            Box::pin(async move {
                let mut batch = Batch::new(conn);
                let value = work(conn, &mut batch).await?;
                let body = serde_json::to_string(&value).map_err(anyhow::Error::from)?;
                if let Some((org_id, key, hash, now)) = &saved_under {
                    crate::idempotency::defer(
                        &mut batch,
                        org_id,
                        key,
                        hash,
                        status.as_u16(),
                        body.clone(),
                        now,
                    );
                }
                batch.execute(conn).await?;
                Ok(body)
            })
        })
        .await;
    match written {
        Ok(body) => Ok(json_response(status, body)),
        Err(refusal) => saved_answer_or(state, org_id, request, refusal).await,
    }
}

/// A write refused with an idempotency key may be the retry of one already answered (a
/// concurrent duplicate, or a retry after a lost answer): that first answer, if saved, else the
/// refusal.
pub(super) async fn saved_answer_or(
    state: &AppState,
    org_id: &str,
    request: &Replay,
    refusal: crate::error::Error,
) -> Result<Response> {
    let Some(key) = &request.idempotency_key else {
        return Err(refusal);
    };
    let mut conn = state.db.read.acquire().await?;
    match crate::idempotency::find(&mut conn, org_id, key, &request.request_hash).await? {
        Some(saved) => {
            let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
            Ok(json_response(status, saved.body))
        }
        None => Err(refusal),
    }
}

pub(super) fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Serves until Ctrl-C or SIGTERM, letting requests in flight finish.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
