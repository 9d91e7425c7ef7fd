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
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub keyring: Arc<Keyring>,
    pub config: Arc<Config>,
    /// Failed public pass look-ups, per address and per code prefix.
    pub public_lookups: Arc<RateLimiter>,
    /// Failed logins per address and per account.
    pub logins: Arc<RateLimiter>,
    /// E-mails sent by anonymous forms, per address and per recipient.
    pub mail_forms: Arc<RateLimiter>,
    /// The one way to redeem cheques (grouped writes, replay, invalid-code counting).
    pub redeemer: Redeemer,
    /// The ProConnect login, when configured.
    pub proconnect: Option<Arc<crate::users::proconnect::Provider>>,
}

impl AppState {
    pub fn new(db: Db, clock: SharedClock, keyring: Keyring, config: Config) -> Self {
        let keyring = Arc::new(keyring);
        let limiter =
            |name, limit| Arc::new(RateLimiter::new(name, limit, config.rate_window_secs, &db));
        let invalid_codes = crate::redemption::limits::InvalidCodeLimits::new(
            config.invalid_code_limit,
            config.rate_window_secs,
            &db,
        );
        let proconnect = crate::users::proconnect::Provider::from_config(&config)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "ProConnect settings unusable: ProConnect is off");
                None
            })
            .map(Arc::new);
        Self {
            proconnect,
            public_lookups: limiter("public_lookup", config.public_lookup_limit),
            logins: limiter("login", config.login_attempt_limit),
            mail_forms: limiter("mail_form", config.mail_form_limit),
            redeemer: Redeemer::spawn(
                db.clone(),
                clock.clone(),
                keyring.clone(),
                invalid_codes,
                config.token_idle_days,
                Lanes::for_backend(db.backend(), config.db_connections),
            ),
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

    /// What issues the files of carnets distributors upload, beside the requests.
    pub fn file_runner(&self) -> crate::vouchers::files::Runner {
        crate::vouchers::files::Runner {
            db: self.db.clone(),
            keyring: self.keyring.clone(),
            letterhead: self.letterhead(),
            clock: self.clock.clone(),
        }
    }

    /// Before an anonymous look-up of a carnet code (a balance, the places that accept a
    /// carnet, a carnet's data): counts it as a failure until it is known not to be one
    /// ([`AppState::public_lookup_done`]), per address and per code prefix, and answers 429
    /// past the limit. Only failures stay counted: a counter helping many people with real
    /// carnets is never refused, while guessing codes, from one address or from many around
    /// one prefix, hits 429 long before a hit; guesses sent at once cannot pass the limit
    /// together.
    pub async fn public_lookup(&self, ip: std::net::IpAddr, code: &str) -> Result<()> {
        self.public_lookups
            .count(&lookup_keys(ip, code), self.clock.now())
            .await
    }

    /// Gives back the count of a look-up of `code` that did not fail (a carnet found, or the
    /// platform's own failure); a code that does not exist or fails its check stays counted.
    /// Gives the look-up's result back.
    pub async fn public_lookup_done<T>(
        &self,
        ip: std::net::IpAddr,
        code: &str,
        found: Result<T>,
    ) -> Result<T> {
        let failed = matches!(
            &found,
            Err(crate::error::Error::Unprocessable { .. } | crate::error::Error::NotFound(_))
        );
        if !failed {
            self.public_lookups
                .give_back(&lookup_keys(ip, code), self.clock.now())
                .await?;
        }
        found
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

/// What failed public look-ups are counted under: the client's address, and the code's first
/// four symbols (a guesser spread over many addresses tries codes around one it knows).
fn lookup_keys(ip: std::net::IpAddr, code: &str) -> [String; 2] {
    let canonical = crate::vouchers::codes::parse_code(code).unwrap_or_else(|_| {
        code.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect()
    });
    let prefix: String = canonical.chars().take(4).collect();
    [format!("ip:{ip}"), format!("prefix:{prefix}")]
}

/// The JSON API under `/api/v1`, the pages, health, metrics and the API's documentation,
/// with what every request goes through (client address, metrics, security headers).
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .nest("/api/v1", crate::http::api_router())
        .merge(crate::http::service_router())
        .merge(crate::web::router(state.clone()))
        // Once for every route, so that none is forgotten: an unknown address or a wrong
        // method answers the API's JSON error under `/api/`, a page for people elsewhere.
        // Added last: `method_not_allowed_fallback` only reaches the routes already there.
        .fallback(crate::web::not_found)
        .method_not_allowed_fallback(crate::web::method_not_allowed)
        .with_state(state.clone());
    crate::http::layers(router, &state).layer(axum::middleware::from_fn_with_state(
        state,
        crate::web::bare_errors,
    ))
}

/// How long a client may take to send a request's headers, and how long a kept-alive
/// connection may stay idle before its next request: past it, the connection is closed (slow
/// or silent clients would otherwise hold a file descriptor each, for ever).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until Ctrl-C or SIGTERM, letting requests in flight finish. At most
/// [`Config::max_connections`] connections are served at once: the next ones are answered 503
/// at once and closed.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    let cap = connection_cap(state.config.max_connections);
    let permits = Arc::new(tokio::sync::Semaphore::new(cap));
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or the peer left before accept: wait a little.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse_connection(stream));
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: axum::extract::Request<_>| {
            // Who connected, for the client address (see `http::client_addr`).
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Requests in flight finish; idle connections close.
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("connections still open 30 s after the shutdown signal");
        }
    }
    Ok(())
}

/// Connections served at once: the configured cap, or half the open-file limit.
fn connection_cap(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    (open_file_limit() / 2).clamp(64, 4096)
}

/// The process's soft limit on open files (Linux), or 1,024 (the usual default) if unknown.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok())
        })
        .unwrap_or(1024)
}

/// Over the cap: the request's head is read (2 s at most: a client answered before it asked
/// takes the answer for a broken connection), then a short 503 in the API's error format, and
/// the connection is closed.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"Le service reçoit \
                trop de connexions en ce moment. Réessayez dans quelques secondes.\"}}";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        let mut head = Vec::with_capacity(1024);
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await? {
                0 => return Ok(()),
                n => head.extend_from_slice(&buf[..n]),
            }
        }
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    if let Ok(Err(e)) = refused {
        tracing::debug!(error = %e, "a refused connection could not be told");
    }
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
