//! The application as a whole: the shared state every edge is given (database, clock, keys,
//! settings, rate limits, the redemption writers), the top router that puts the JSON API and the
//! pages together, and the server loop.

use crate::clock::{format_ts, SharedClock};
use crate::config::Config;
use crate::db::{BoxFuture, Db, Origin, Tx};
use crate::error::Result;
use crate::idempotency::Key;
use crate::ratelimit::RateLimiter;
use crate::redemption::writer::{Lanes, Redeemer};
use crate::vouchers::codes::Keyring;
use axum::Router;
use serde::de::DeserializeOwned;
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
    /// The one way to redeem cheques (grouped writes, replay, invalid-code counting).
    pub redeemer: Redeemer,
}

impl AppState {
    pub fn new(db: Db, clock: SharedClock, keyring: Keyring, config: Config) -> Self {
        let keyring = Arc::new(keyring);
        let limiter =
            |name, limit| Arc::new(RateLimiter::new(name, limit, config.rate_window_secs, &db));
        let invalid_codes = limiter("invalid_code", config.invalid_code_limit);
        Self {
            public_lookups: limiter("public_lookup", config.public_lookup_limit),
            logins: limiter("login", config.login_attempt_limit),
            redeemer: Redeemer::spawn(
                db.clone(),
                clock.clone(),
                keyring.clone(),
                invalid_codes.clone(),
                Lanes::for_backend(db.backend(), config.db_connections),
            ),
            invalid_codes,
            db,
            clock,
            keyring,
            config: Arc::new(config),
        }
    }

    /// The site's address and the helpline, for the e-mails an operation sends.
    pub fn letterhead(&self) -> crate::mail::Letterhead {
        crate::mail::Letterhead::of(&self.config)
    }

    /// Runs one domain operation in a unit of work on behalf of `origin`; with a key (an API
    /// call's `Idempotency-Key`, a form's one-time token), a retry gets the first answer.
    pub async fn write<T, F>(&self, origin: Origin, key: Option<Key>, work: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T>> + Send + 'static,
    {
        let now = format_ts(self.clock.now());
        crate::idempotency::transact_once(&self.db, origin, key, &now, work).await
    }
}

/// The JSON API under `/api/v1`, the pages, health, metrics and the API's documentation,
/// with what every request goes through (client address, metrics, security headers).
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .nest("/api/v1", crate::http::api_router())
        .merge(crate::http::service_router())
        .merge(crate::web::router(state.clone()))
        .with_state(state.clone());
    crate::http::layers(router, &state)
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
