//! Extractors: who is calling (a bearer token), and the body of a write with its idempotency
//! key. Every rejection is a domain error, so it answers in the API's error format.

use super::AppState;
use crate::db::Origin;
use crate::error::Error;
use crate::idempotency::Key;
use crate::orgs::Organization;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};

/// The organisation whose token came with the request.
pub struct Auth(pub Organization);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        let now = state.clock.now();
        let policy = crate::orgs::TokenPolicy::new(now, state.config.token_idle_days);
        let mut conn = state.db.read().await?;
        let caller = crate::orgs::authenticate(&mut conn, &token, policy).await?;
        drop(conn);
        if let Some(hash) = caller.touch {
            // Noted beside the request, at most once an hour per token: a lost note only
            // leaves an older "last used" date.
            let db = state.db.clone();
            tokio::spawn(async move {
                let noted = db
                    .transact(Origin::platform(), move |tx| {
                        Box::pin(async move {
                            crate::orgs::note_token_use(tx, &[hash], now);
                            Ok(())
                        })
                    })
                    .await;
                if let Err(e) = noted {
                    tracing::debug!(error = %e, "a token's last use was not noted");
                }
            });
        }
        Ok(Auth(caller.org))
    }
}

/// The token of `Authorization: Bearer …`, not yet checked: for a handler that checks it
/// itself, on the read connection it then goes on using (see `redemptions::redeem`).
pub struct BearerToken(pub String);

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Error> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|token| BearerToken(token.trim().to_string()))
            .ok_or(Error::Unauthenticated)
    }
}

/// The address a request came from (see [`super::client_addr`]), for per-address limits.
pub struct ClientIp(pub IpAddr);

/// The client address of a request, as [`super::client_addr::layer`] resolved it.
pub fn client_ip(extensions: &axum::http::Extensions) -> IpAddr {
    match extensions.get::<super::client_addr::ClientAddr>() {
        Some(client) => client.0,
        None => extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1])),
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Error> {
        Ok(ClientIp(client_ip(&parts.extensions)))
    }
}

/// An API call's origin for the journal: its client address (an organisation's token names
/// no person).
fn origin_of(extensions: &axum::http::Extensions) -> Origin {
    Origin {
        client_addr: Some(client_ip(extensions).to_string()),
        user_id: None,
    }
}

/// The JSON body of a POST, PUT or DELETE, with what identifies the request for replay and
/// where it comes from. An empty body reads as `{}`.
pub struct Write<T> {
    pub body: T,
    pub replay: Replay,
    pub origin: Origin,
}

/// What makes a retried write recognisable: its key, and a hash of method, path and body.
pub struct Replay {
    pub idempotency_key: Option<String>,
    pub request_hash: String,
}

impl Replay {
    /// The key under which `owner`'s answer is saved, if the call sent one.
    pub fn key(&self, owner: &str) -> Option<Key> {
        self.idempotency_key.as_ref().map(|key| Key {
            owner: owner.to_string(),
            key: key.clone(),
            request_hash: self.request_hash.clone(),
        })
    }
}

pub const MAX_BODY_BYTES: usize = 64 * 1024;

impl<T: DeserializeOwned> FromRequest<AppState> for Write<T> {
    type Rejection = Error;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Error> {
        let idempotency_key = match req.headers().get("idempotency-key") {
            None => None,
            Some(v) => {
                let key = v.to_str().unwrap_or_default().trim();
                if key.is_empty() || key.len() > 255 {
                    return Err(Error::bad_request(
                        "invalid_idempotency_key",
                        "L'en-tête Idempotency-Key doit contenir de 1 à 255 caractères visibles.",
                    ));
                }
                Some(key.to_string())
            }
        };
        // A missing type is read as JSON (curl-friendly); another type is refused, so a
        // cross-site HTML form (urlencoded, multipart, text/plain) never reaches a handler.
        let declared = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default().to_ascii_lowercase());
        if let Some(declared) = declared {
            let essence = declared.split(';').next().unwrap_or_default().trim();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(Error::UnsupportedMediaType);
            }
        }
        // A declared length over the limit is refused before reading a byte of the body.
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_len.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return Err(Error::TooLarge {
                limit_kib: MAX_BODY_BYTES / 1024,
            });
        }
        let origin = origin_of(req.extensions());
        let method: Method = req.method().clone();
        let path = req.uri().path().to_string();
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| Error::TooLarge {
                limit_kib: MAX_BODY_BYTES / 1024,
            })?;
        let mut hasher = Sha256::new();
        hasher.update(method.as_str().as_bytes());
        hasher.update(b" ");
        hasher.update(path.as_bytes());
        hasher.update(b"\n");
        hasher.update(&bytes);
        let request_hash = data_encoding::HEXLOWER.encode(&hasher.finalize());
        let json: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        // Control characters can only come in through escapes (serde_json refuses them raw):
        // a body without a backslash needs no second look.
        if json.contains(&b'\\') {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(json) {
                super::input::check_json(&value)?;
            }
        }
        let body = serde_json::from_slice(json).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => Error::invalid(
                    "invalid_field",
                    format!("Un champ est absent, inconnu ou de mauvais type ({e})."),
                ),
                _ => Error::bad_request(
                    "invalid_json",
                    format!("Le corps de la requête n'est pas un JSON valide ({e})."),
                ),
            }
        })?;
        Ok(Write {
            body,
            replay: Replay {
                idempotency_key,
                request_hash,
            },
            origin,
        })
    }
}

/// A body-less write (`{}` or nothing).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A file sent as the raw body of a PUT (its name, if any, in `Content-Disposition`), of at
/// most `MAX` bytes. What it is gets checked by the domain from its bytes, not from its
/// declared type.
pub struct Upload<const MAX: usize> {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub origin: Origin,
}

impl<const MAX: usize> FromRequest<AppState> for Upload<MAX> {
    type Rejection = Error;

    async fn from_request(req: Request, _: &AppState) -> Result<Self, Error> {
        let too_large = || Error::TooLarge {
            limit_kib: MAX / 1024,
        };
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_len.is_some_and(|len| len > MAX as u64) {
            return Err(too_large());
        }
        let filename = req
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(';')
                    .find_map(|p| p.trim().strip_prefix("filename="))
            })
            .map(|name| name.trim_matches('"').to_string())
            .unwrap_or_default();
        let origin = origin_of(req.extensions());
        let bytes = axum::body::to_bytes(req.into_body(), MAX)
            .await
            .map_err(|_| too_large())?;
        Ok(Upload {
            filename,
            bytes: bytes.to_vec(),
            origin,
        })
    }
}
