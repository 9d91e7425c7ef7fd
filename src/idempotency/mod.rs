//! Retries of a POST or DELETE carrying the same `Idempotency-Key` get the first answer. The
//! answer is saved by the transaction of the work itself, so a crash leaves both or neither.
//!
//! The key is written once, with its answer, as the transaction's last statement; nothing is
//! read first. A retry (or a concurrent duplicate) then fails in one of two ways, and both end
//! in a look-up of the saved answer once the first transaction is committed: its work is
//! refused (the cheque is already redeemed, by the first request), or the key's row already
//! exists (on PostgreSQL the second INSERT waits for the first transaction, then conflicts).
//! Either way the retry's transaction is rolled back, so nothing is done twice.

use crate::db::{Batch, Conn, P};
use crate::error::{Error, Result};
use sqlx::Row;

/// A saved answer to replay.
pub struct Saved {
    pub status: u16,
    pub body: String,
}

/// Saves the answer to this request under its key, with the rest of the work's writes (see
/// [`Batch`]). The batch fails with a unique violation if the key was already used.
pub fn defer(
    batch: &mut Batch,
    org_id: &str,
    key: &str,
    request_hash: &str,
    status: u16,
    body: String,
    now: &str,
) {
    batch.push(
        format!(
            "INSERT INTO idempotency_keys (org_id, idempotency_key, request_hash, status_code, \
             response_body, created_at) VALUES ({P}, {P}, {P}, {P}, {P}, {P})"
        ),
        vec![
            org_id.into(),
            key.into(),
            request_hash.into(),
            i64::from(status).into(),
            body.into(),
            now.into(),
        ],
    );
}

/// The answer saved under this key, if the same request was answered already; a refusal if the
/// key served another request.
pub async fn find(
    conn: &mut Conn,
    org_id: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<Saved>> {
    let Some(row) = sqlx::query(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys \
         WHERE org_id = $1 AND idempotency_key = $2",
    )
    .bind(org_id)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let saved_hash: String = row.try_get("request_hash")?;
    if saved_hash != request_hash {
        return Err(Error::invalid(
            "idempotency_key_reused",
            "Cette clé d'idempotence a déjà servi pour une autre requête : utilisez une nouvelle clé.",
        ));
    }
    let status: i64 = row.try_get("status_code")?;
    Ok(Some(Saved {
        status: u16::try_from(status).unwrap_or(200),
        body: row.try_get("response_body")?,
    }))
}
