//! What a device needs to check cheques without a connection, published without a token: the
//! Ed25519 public keys of the PN2 payloads (see [`super::codes`]), the programmes their
//! references stand for, and a signed list of the cheques cancelled since a date.
//!
//! The list is signed over a simple line format, so a device (WebCrypto's Ed25519) verifies
//! exactly the bytes it received and never rebuilds JSON: `signed_text` is, joined by `\n`
//! (no final newline):
//!
//! ```text
//! passnum revocations v1
//! issued_at 2026-03-02T11:00:00.000000Z
//! since 2026-03-01            (or `since -` when no date was asked)
//! carnet 2026-03-02T10:15:00.000000Z ABCDEFGHJK12 BCDEFGHJKM23 ...
//! ```
//!
//! one line per cancelled carnet (`carnet`) or cheque cancelled alone (`cheque`): when, then the
//! short codes (canonical, no dashes) of its cheques that can no longer be redeemed.
//! `signature` is Ed25519 over the UTF-8 bytes of `signed_text`, in base64url without padding,
//! by key `key_id`; `list` says the same in JSON, for reading once the signature is checked.

use super::codes::{programme_ref, Keyring};
use crate::clock::format_ts;
use crate::db::{Conn, Db, Origin};
use crate::error::{Error, Result};
use crate::money::Cents;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;

const ALGORITHM: &str = "Ed25519";
const LIST_HEADER: &str = "passnum revocations v1";

/// Records the public halves of the keys this server signs with, so that the keys document
/// can say since when each is used; a key no longer configured is marked retired. Run at
/// start: `passnum keys rotate` and `retire` take effect when the servers restart.
pub async fn register_keys(db: &Db, keyring: &Keyring, now: Timestamp) -> Result<()> {
    let keys: Vec<(String, String)> = keyring
        .keys()
        .iter()
        .map(|k| (k.id.clone(), URL_SAFE_NO_PAD.encode(k.public_key())))
        .collect();
    let now = format_ts(now);
    db.transact(Origin::platform(), move |tx| {
        Box::pin(async move {
            let known: Vec<(String, String, Option<String>)> =
                sqlx::query_as("SELECT key_id, public_key, retired_at FROM offline_keys")
                    .fetch_all(&mut **tx)
                    .await?;
            for (id, public) in &keys {
                match known.iter().find(|(k, _, _)| k == id) {
                    None => {
                        sqlx::query(
                            "INSERT INTO offline_keys (key_id, algorithm, public_key, valid_from) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(id)
                        .bind(ALGORITHM)
                        .bind(public)
                        .bind(&now)
                        .execute(&mut **tx)
                        .await?;
                    }
                    // The same id with another secret is another key: it starts now.
                    Some((_, p, _)) if p != public => {
                        sqlx::query(
                            "UPDATE offline_keys SET public_key = $1, valid_from = $2, \
                             retired_at = NULL WHERE key_id = $3",
                        )
                        .bind(public)
                        .bind(&now)
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    }
                    Some((_, _, Some(_))) => {
                        sqlx::query("UPDATE offline_keys SET retired_at = NULL WHERE key_id = $1")
                            .bind(id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Some(_) => {}
                }
            }
            for (id, _, retired) in &known {
                if retired.is_none() && keys.iter().all(|(k, _)| k != id) {
                    sqlx::query("UPDATE offline_keys SET retired_at = $1 WHERE key_id = $2")
                        .bind(&now)
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            Ok(())
        })
    })
    .await
}

/// The keys document: every key that verifies, and those retired.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicKeys {
    pub keys: Vec<PublicKey>,
    /// The programmes the references of PN2 payloads stand for.
    pub programmes: Vec<PublicProgramme>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    /// As in PN2 payloads (`PN2.<key_id>.…`) and the revocation list.
    pub key_id: String,
    /// `Ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, base64url without padding (WebCrypto `importKey("raw", …)`).
    pub public_key: String,
    /// When this platform started using it.
    pub valid_from: String,
    /// When it stopped verifying: payloads under it are no longer accepted.
    pub retired_at: Option<String>,
    /// Whether it signs new cheques and the revocation list.
    pub current: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicProgramme {
    /// As in PN2 payloads: 8 base32 symbols.
    pub reference: String,
    pub name: String,
    pub cheque_value_cents: Cents,
    /// Départements and communes (INSEE codes) where its cheques are accepted; none for the
    /// whole country.
    #[schema(value_type = Vec<String>)]
    pub territory: crate::programs::Territory,
    /// The kinds of help its cheques pay for; none for every kind.
    #[schema(value_type = Vec<String>)]
    pub services: crate::programs::Services,
    /// `open` or `closed` (a closed programme's cheques are no longer accepted).
    pub status: crate::programs::ProgramStatus,
    /// The last day its cheques are accepted, when its end is planned or past.
    pub closes_on: Option<String>,
}

pub async fn public_keys(conn: &mut Conn, keyring: &Keyring) -> Result<PublicKeys> {
    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT key_id, algorithm, public_key, valid_from, retired_at FROM offline_keys \
         ORDER BY valid_from, key_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let current = &keyring.current().id;
    let keys = rows
        .into_iter()
        .map(
            |(key_id, algorithm, public_key, valid_from, retired_at)| PublicKey {
                current: &key_id == current && retired_at.is_none(),
                key_id,
                algorithm,
                public_key,
                valid_from,
                retired_at,
            },
        )
        .collect();
    let programmes = crate::programs::list_all(conn)
        .await?
        .into_iter()
        .map(|p| PublicProgramme {
            reference: programme_ref(&p.id),
            name: p.name,
            cheque_value_cents: p.cheque_value_cents,
            territory: p.territory,
            services: p.services,
            status: p.status,
            closes_on: p.closes_on,
        })
        .collect();
    Ok(PublicKeys { keys, programmes })
}

/// The signed list of cancelled cheques (see the module's documentation for what is signed).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revocations {
    /// The date asked (`YYYY-MM-DD`): cancellations from 00:00 UTC that day; none for all.
    pub since: Option<String>,
    pub issued_at: String,
    pub list: Vec<Revoked>,
    /// The exact text signed: a device verifies these UTF-8 bytes.
    pub signed_text: String,
    /// `Ed25519`.
    pub algorithm: String,
    /// The key of the keys document that signed.
    pub key_id: String,
    /// Ed25519 over `signed_text`, base64url without padding.
    pub signature: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// `carnet` (the whole carnet was cancelled) or `cheque`.
    pub kind: String,
    pub cancelled_at: String,
    /// Short codes of its cheques that can no longer be redeemed (canonical, no dashes).
    pub cheques: Vec<String>,
}

/// Reads `?since=` / `?depuis=`: a day, `YYYY-MM-DD`.
pub fn parse_since(text: Option<&str>) -> Result<Option<Date>> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| {
            Error::bad_request(
                "invalid_date",
                "La date « depuis » doit s'écrire AAAA-MM-JJ, par exemple 2026-03-01.",
            )
        }),
    }
}

/// Cheques cancelled since `since` (all if none) and still within their last day (past it, a
/// device refuses them anyway), signed with the current key.
pub async fn revocations(
    conn: &mut Conn,
    keyring: &Keyring,
    since: Option<Date>,
    now: Timestamp,
    today: Date,
) -> Result<Revocations> {
    let from = match since {
        Some(day) => format_ts(
            day.to_zoned(jiff::tz::TimeZone::UTC)
                .map_err(|e| Error::Internal(e.into()))?
                .timestamp(),
        ),
        None => String::new(),
    };
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT v.pass_id, p.status, v.status_changed_at, v.code FROM vouchers v \
         JOIN passes p ON p.id = v.pass_id \
         WHERE v.status = 'cancelled' AND v.redeemable_until >= $1 \
         AND v.status_changed_at >= $2 \
         ORDER BY v.status_changed_at, v.pass_id, v.code",
    )
    .bind(today.to_string())
    .bind(&from)
    .fetch_all(&mut *conn)
    .await?;
    let mut list: Vec<(String, Revoked)> = Vec::new();
    for (pass_id, pass_status, at, code) in rows {
        match list.last_mut() {
            Some((p, r)) if *p == pass_id && r.cancelled_at == at => r.cheques.push(code),
            _ => list.push((
                pass_id,
                Revoked {
                    kind: if crate::vouchers::PassStatus::from_text(&pass_status)
                        == Some(crate::vouchers::PassStatus::Cancelled)
                    {
                        "carnet"
                    } else {
                        "cheque"
                    }
                    .into(),
                    cancelled_at: at,
                    cheques: vec![code],
                },
            )),
        }
    }
    let list: Vec<Revoked> = list.into_iter().map(|(_, r)| r).collect();
    let issued_at = format_ts(now);
    let since = since.map(|d| d.to_string());
    let signed_text = signed_text(&issued_at, since.as_deref(), &list);
    let key = keyring.current();
    Ok(Revocations {
        signature: URL_SAFE_NO_PAD.encode(key.sign(signed_text.as_bytes())),
        key_id: key.id.clone(),
        algorithm: ALGORITHM.into(),
        since,
        issued_at,
        list,
        signed_text,
    })
}

fn signed_text(issued_at: &str, since: Option<&str>, list: &[Revoked]) -> String {
    let mut lines = vec![
        LIST_HEADER.to_string(),
        format!("issued_at {issued_at}"),
        format!("since {}", since.unwrap_or("-")),
    ];
    for r in list {
        lines.push(format!(
            "{} {} {}",
            r.kind,
            r.cancelled_at,
            r.cheques.join(" ")
        ));
    }
    lines.join("\n")
}
