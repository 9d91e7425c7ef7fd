//! Retries of a write carrying the same key get the first answer: an API call's
//! `Idempotency-Key`, or the one-time token of a web form (a double click, a reload). The answer
//! is saved by the transaction of the work itself, so a crash leaves both or neither.
//!
//! The key is written once, with its answer, among the transaction's last statements; nothing
//! is read first. A retry (or a concurrent duplicate) then fails in one of two ways, and both
//! end in a look-up of the saved answer once the first transaction is committed: its work is
//! refused (the cheque is already redeemed, by the first request), or the key's row already
//! exists (on PostgreSQL the second INSERT waits for the first transaction, then conflicts).
//! Either way the retry's transaction is rolled back, so nothing is done twice.

use crate::db::{BoxFuture, Db, Origin, Tx, P};
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

/// What makes a retried write recognisable: whose it is, its key, and a hash of the request
/// (method, path and body), so that a key reused for another request is refused.
#[derive(Clone, Debug)]
pub struct Key {
    /// The organisation the key belongs to (keys of two organisations never meet).
    pub owner: String,
    pub key: String,
    pub request_hash: String,
}

/// Runs `work` in one transaction ([`Db::transact`]); with a key, its answer is saved in that
/// same transaction, and a retry gets that answer back instead of doing the work again.
pub async fn transact_once<T, F>(
    db: &Db,
    origin: Origin,
    key: Option<Key>,
    now: &str,
    work: F,
) -> Result<T>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    F: for<'t, 'c> FnOnce(&'t mut Tx<'c>) -> BoxFuture<'t, Result<T>> + Send + 'static,
{
    let saved_under = key.clone();
    let now = now.to_string();
    let written = db
        .transact(origin, move |tx| {
            Box::pin(async move {
                let value = work(tx).await?;
                if let Some(key) = &saved_under {
                    save(tx, key, &value, &now)?;
                }
                Ok(value)
            })
        })
        .await;
    match written {
        Ok(value) => Ok(value),
        Err(refusal) => saved_answer_or(db, key.as_ref(), refusal).await,
    }
}

/// Saves the answer to a request under its key, with the rest of the work's deferred writes.
/// The transaction fails with a unique violation if the key was already used.
pub fn save<T: Serialize>(tx: &mut Tx<'_>, key: &Key, answer: &T, now: &str) -> Result<()> {
    let body = serde_json::to_string(answer).map_err(anyhow::Error::from)?;
    tx.deferred().push(
        format!(
            "INSERT INTO idempotency_keys (org_id, idempotency_key, request_hash, status_code, \
             response_body, created_at) VALUES ({P}, {P}, {P}, {P}, {P}, {P})"
        ),
        vec![
            key.owner.as_str().into(),
            key.key.as_str().into(),
            key.request_hash.as_str().into(),
            // The answer's HTTP status is the route's own; kept for the rows' history.
            200i64.into(),
            body.into(),
            now.into(),
        ],
    );
    Ok(())
}

/// A write refused with a key may be the retry of one already answered (a concurrent
/// duplicate, or a retry after a lost answer): that first answer, if saved, else the refusal.
pub async fn saved_answer_or<T: DeserializeOwned>(
    db: &Db,
    key: Option<&Key>,
    refusal: Error,
) -> Result<T> {
    let Some(key) = key else {
        return Err(refusal);
    };
    match find(db, key).await? {
        Some(body) => Ok(serde_json::from_str(&body).map_err(anyhow::Error::from)?),
        None => Err(refusal),
    }
}

/// The answer saved under this key, if the same request was answered already; a refusal if the
/// key served another request.
async fn find(db: &Db, key: &Key) -> Result<Option<String>> {
    let Some(row) = sqlx::query(
        "SELECT request_hash, response_body FROM idempotency_keys \
         WHERE org_id = $1 AND idempotency_key = $2",
    )
    .bind(&key.owner)
    .bind(&key.key)
    .fetch_optional(db.reads())
    .await?
    else {
        return Ok(None);
    };
    let saved_hash: String = row.try_get("request_hash")?;
    if saved_hash != key.request_hash {
        return Err(Error::invalid(
            "idempotency_key_reused",
            "Cette clé d'idempotence a déjà servi pour une autre requête : utilisez une nouvelle clé.",
        ));
    }
    Ok(Some(row.try_get("response_body")?))
}
