//! Retries of a POST or DELETE carrying the same `Idempotency-Key` get the first answer. The
//! key is claimed and the answer saved inside the transaction of the work itself, so a crash
//! leaves either both or neither.

use crate::db::Conn;
use crate::error::{Error, Result};
use sqlx::Row;

/// A saved answer to replay.
pub struct Saved {
    pub status: u16,
    pub body: String,
}

/// Claims the key for this request, or returns the answer already given to it. On PostgreSQL a
/// concurrent request with the same key waits here until the first one commits or rolls back.
pub async fn claim(
    conn: &mut Conn,
    org_id: &str,
    key: &str,
    request_hash: &str,
    now: &str,
) -> Result<Option<Saved>> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (org_id, idempotency_key, request_hash, status_code, \
         response_body, created_at) VALUES ($1, $2, $3, 0, '', $4) \
         ON CONFLICT (org_id, idempotency_key) DO NOTHING",
    )
    .bind(org_id)
    .bind(key)
    .bind(request_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys \
         WHERE org_id = $1 AND idempotency_key = $2",
    )
    .bind(org_id)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    let saved_hash: String = row.try_get("request_hash")?;
    if saved_hash != request_hash {
        return Err(Error::invalid(
            "idempotency_key_reused",
            "Cette clé d'idempotence a déjà servi pour une autre requête : utilisez une nouvelle clé.",
        ));
    }
    let status: i64 = row.try_get("status_code")?;
    Ok(Some(Saved {
        status: status as u16,
        body: row.try_get("response_body")?,
    }))
}

pub async fn save(conn: &mut Conn, org_id: &str, key: &str, status: u16, body: &str) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status_code = $1, response_body = $2 \
         WHERE org_id = $3 AND idempotency_key = $4",
    )
    .bind(status as i64)
    .bind(body)
    .bind(org_id)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
