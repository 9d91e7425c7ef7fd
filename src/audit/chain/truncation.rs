//! What the retention of client addresses needs from the chain: truncating sealed addresses,
//! and converting the rows sealed in format 1 first (see the chain's module doc).

use super::format::{commit_addr, fold, hash_v1, kept_addr};
use super::{
    lock_head, seal, Row, CHAIN_SUBJECT, CONVERTED, FORMAT_FULL_ADDR, FORMAT_KEPT_ADDR, GENESIS,
    ROW_COLUMNS, SEAL_BATCH, VERIFY_PAGE,
};
use crate::db::{Batch, Conn, Db, Origin, Param, Tx};
use crate::error::{Error, Result};

/// Truncates the client address of every sealed entry written before `before` to what is kept
/// of it ([`kept_addr`]) and forgets its salt; returns how many. Format-1 rows only once
/// converted and their conversion sealed: until then their hash needs the full address.
pub async fn truncate_addresses(tx: &mut Tx<'_>, before: &str) -> Result<u64> {
    let mut truncated = 0u64;
    loop {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, client_addr FROM audit_log \
             WHERE client_addr_salt IS NOT NULL AND at < $1 AND chain_seq IS NOT NULL \
             AND (chain_format = $2 OR EXISTS (SELECT 1 FROM audit_log c \
                  WHERE c.subject_id = $3 AND c.action = $4 AND c.chain_seq IS NOT NULL)) \
             ORDER BY at, id LIMIT $5",
        )
        .bind(before)
        .bind(FORMAT_KEPT_ADDR)
        .bind(CHAIN_SUBJECT)
        .bind(CONVERTED)
        .bind(SEAL_BATCH)
        .fetch_all(&mut **tx)
        .await?;
        if rows.is_empty() {
            return Ok(truncated);
        }
        truncated += rows.len() as u64;
        let rows = rows
            .iter()
            .map(|(id, addr)| vec![Param::from(id), kept_addr(addr).into()])
            .collect();
        let mut batch = Batch::new(tx);
        batch.push_rows(
            "UPDATE audit_log SET client_addr = v.column2, client_addr_salt = NULL FROM (",
            ") AS v WHERE audit_log.id = v.column1",
            rows,
        );
        batch.execute(tx).await?;
    }
}

/// `(last converted seq, digest)` from the sealed conversion entry, if any.
pub(super) async fn conversion(conn: &mut Conn) -> Result<Option<(i64, String)>> {
    let detail: Option<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE subject_id = $1 AND action = $2 \
         AND chain_seq IS NOT NULL ORDER BY chain_seq LIMIT 1",
    )
    .bind(CHAIN_SUBJECT)
    .bind(CONVERTED)
    .fetch_optional(&mut *conn)
    .await?;
    // An unreadable detail compares unequal below (and its own hash shows the edit).
    Ok(detail.map(|d| {
        let last = d
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(-1);
        let digest = d.split_whitespace().last().unwrap_or_default().to_string();
        (last, digest)
    }))
}

/// What [`convert_v1`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversion {
    /// No format-1 row, or converted already.
    Nothing,
    /// This many format-1 rows converted; their digest is in a new (sealed) entry.
    Converted(i64),
}

/// Makes the format-1 rows (sealed before migration 0025) truncatable: checks each of them
/// against its own hash while its address is still full, gives each a salt and commitment, and
/// records the digest of their stored hashes and format-2 fields in a chained entry. Refuses
/// (with the problem, converting nothing) if one of them no longer matches its hash.
pub async fn convert_v1(db: &Db, now: &str) -> Result<Conversion> {
    let now = now.to_string();
    let done = db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move { convert_in(tx, &now).await })
        })
        .await?;
    if done != Conversion::Nothing {
        seal(db).await?;
    }
    Ok(done)
}

async fn convert_in(tx: &mut Tx<'_>, now: &str) -> Result<Conversion> {
    // First: another server converting at the same time waits here, then finds the entry.
    lock_head(tx).await?;
    // Format-1 rows are the start of the chain (everything sealed before 0025): one look at
    // the first entry, and one at the conversion entry, both by index.
    let first: Option<Option<i64>> =
        sqlx::query_scalar("SELECT chain_format FROM audit_log WHERE chain_seq = 1")
            .fetch_optional(&mut **tx)
            .await?;
    let converted: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM audit_log WHERE subject_id = $1 AND action = $2 LIMIT 1")
            .bind(CHAIN_SUBJECT)
            .bind(CONVERTED)
            .fetch_optional(&mut **tx)
            .await?;
    if first.flatten() != Some(FORMAT_FULL_ADDR) || converted.is_some() {
        return Ok(Conversion::Nothing);
    }
    let (mut prev, mut acc, mut expected) = (GENESIS.to_string(), GENESIS.to_string(), 1i64);
    loop {
        let mut rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {ROW_COLUMNS} FROM audit_log WHERE chain_format = $1 AND chain_seq >= $2 \
             ORDER BY chain_seq LIMIT $3"
        ))
        .bind(FORMAT_FULL_ADDR)
        .bind(expected)
        .bind(VERIFY_PAGE)
        .fetch_all(&mut **tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut updates = Vec::with_capacity(rows.len());
        for row in &mut rows {
            let seq = row.chain_seq.unwrap_or_default();
            let stored = row.hash.clone().unwrap_or_default();
            if seq != expected || hash_v1(&prev, seq, row) != stored {
                return Err(Error::conflict(
                    "audit_chain_broken",
                    format!(
                        "entrée n° {seq} ({}) : le journal d'avant le format 2 ne se vérifie plus \
                         (passnum audit verify) ; ses adresses restent complètes.",
                        row.id
                    ),
                ));
            }
            commit_addr(row);
            acc = fold(&acc, seq, row);
            if row.client_addr.is_some() {
                updates.push(vec![
                    Param::from(&row.id),
                    (&row.client_addr_digest).into(),
                    (&row.client_addr_salt).into(),
                ]);
            }
            prev = stored;
            expected = seq + 1;
        }
        if !updates.is_empty() {
            let mut batch = Batch::new(tx);
            batch.push_rows(
                "UPDATE audit_log SET client_addr_digest = v.column2, client_addr_salt = v.column3 \
                 FROM (",
                ") AS v WHERE audit_log.id = v.column1",
                updates,
            );
            batch.execute(tx).await?;
        }
    }
    let last = expected - 1;
    let detail = format!(
        "{last} entrée(s), n° 1 à {last}, scellées avant le format 2 de la chaîne (adresse complète) \
         : empreinte de leur conversion {acc}"
    );
    crate::audit::record(tx, now, None, CONVERTED, Some(CHAIN_SUBJECT), &detail).await?;
    Ok(Conversion::Converted(last))
}
