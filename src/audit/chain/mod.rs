//! The hash chain over the audit log.
//!
//! Business transactions only insert unsealed rows, so redemptions never queue on a shared lock.
//! The sealer appends unsealed rows to the chain in one short transaction that first locks the
//! single head row (`audit_chain_head`): two servers on one database take turns and cannot fork
//! the chain (the unique index on `chain_seq` would refuse it anyway). Chain order is seal order:
//! a transaction that commits late is simply sealed later.
//!
//! `hash = SHA-256(previous hash ‖ chain_seq ‖ each field length-prefixed)`: editing any field,
//! deleting an entry (a gap in `chain_seq`) or the newest entries (the head says more) shows.
//! Someone able to rewrite the whole chain and the head could still forge it, so `passnum audit
//! verify` prints the head as an anchor (`SEQ:HASH`) to keep outside the database (a ticket, a
//! mail, a notary); `--anchor SEQ:HASH` later proves the chain still passes through it.
//!
//! Client addresses are truncated after a while (`crate::retention`), so since migration 0025
//! (format 2) the hash covers, instead of the address, what is kept of it for good (its /24 or
//! /48 network, [`kept_addr`]) and a commitment `SHA-256(salt ‖ full address)`. The random salt
//! sits beside the full address and both go at truncation (unsalted, the commitment of an address
//! whose /24 is kept would give it back in 256 tries). Verify checks a full address against its
//! commitment; a truncated one is still covered by the network and the commitment it hashes.
//! Rows sealed before (format 1) hash the full address, which no truncated form can match: the
//! retention first runs [`convert_v1`], which checks each of them, gives them a salt and a
//! commitment, and writes the digest of their stored hashes and format-2 fields into a new chained
//! entry (`audit.chain_converted`). Verify then checks those rows against that digest. Anchors
//! noted before still match (stored hashes stay); one noted after the conversion covers them too.

mod format;
mod truncation;

pub use format::kept_addr;
pub use truncation::{convert_v1, truncate_addresses, Conversion};

use crate::db::{Batch, Conn, Db, Origin, Param, Tx};
use crate::error::Result;
use format::{addr_problem, commit_addr, fold, hash_v1, hash_v2};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::Notify;

/// Rows sealed per transaction: keeps the head lock short even after a long pause.
const SEAL_BATCH: i64 = 500;
/// Rows read per page while verifying.
const VERIFY_PAGE: i64 = 1000;
/// The sealer's pace: soon after an audited write, and at least this often.
const TICK: Duration = Duration::from_secs(2);
/// Lets the writes of one burst commit before sealing them together.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// At most this many problems are listed: the first one is what matters.
const MAX_PROBLEMS: usize = 20;
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// `chain_format` of rows sealed before migration 0025: the hash covers the full address.
pub const FORMAT_FULL_ADDR: i64 = 1;
/// `chain_format` since: the hash covers the kept network and a commitment to the address.
pub const FORMAT_KEPT_ADDR: i64 = 2;
/// The entry that records the digest of the converted format-1 rows (see [`convert_v1`]).
pub const CONVERTED: &str = "audit.chain_converted";
/// Its subject: the chain itself (found by the subject's index).
pub const CHAIN_SUBJECT: &str = "audit_chain";

static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Tells the sealer there is something to seal (it may run before the commit: the tick catches
/// what it misses).
pub fn wake() {
    WAKE.notify_one();
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: String,
    at: String,
    actor_org_id: Option<String>,
    actor_user_id: Option<String>,
    client_addr: Option<String>,
    action: String,
    subject_id: Option<String>,
    detail: String,
    chain_seq: Option<i64>,
    hash: Option<String>,
    chain_format: Option<i64>,
    client_addr_digest: Option<String>,
    client_addr_salt: Option<String>,
}

const ROW_COLUMNS: &str = "id, at, actor_org_id, actor_user_id, client_addr, action, subject_id, \
                           detail, chain_seq, hash, chain_format, client_addr_digest, \
                           client_addr_salt";

async fn head(conn: &mut Conn) -> Result<(i64, String)> {
    Ok(
        sqlx::query_as("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// Locks the head until commit: a row lock on PostgreSQL, the write lock on SQLite (taken now
/// rather than upgraded later, which could fail as busy).
async fn lock_head(tx: &mut Tx<'_>) -> Result<()> {
    sqlx::query("UPDATE audit_chain_head SET last_seq = last_seq WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Entries chained so far (the head), and entries waiting for the sealer.
pub async fn status(conn: &mut Conn) -> Result<(i64, i64)> {
    let (sealed, _) = head(conn).await?;
    let unsealed = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE chain_seq IS NULL")
        .fetch_one(&mut *conn)
        .await?;
    Ok((sealed, unsealed))
}

/// Appends every unsealed entry to the chain; returns how many were sealed.
pub async fn seal(db: &Db) -> Result<u64> {
    let mut sealed = 0;
    loop {
        // Nothing to seal (the common case on a tick): no write transaction at all.
        let waiting: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM audit_log WHERE chain_seq IS NULL LIMIT 1")
                .fetch_optional(db.reads())
                .await?;
        if waiting.is_none() {
            return Ok(sealed);
        }
        let page = db
            .transact(Origin::platform(), |tx| Box::pin(seal_page(tx)))
            .await?;
        sealed += page;
        if (page as i64) < SEAL_BATCH {
            return Ok(sealed);
        }
    }
}

/// Seals up to [`SEAL_BATCH`] entries; returns how many.
async fn seal_page(tx: &mut Tx<'_>) -> Result<u64> {
    lock_head(tx).await?;
    let (mut seq, mut prev) = head(tx).await?;
    let mut rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {ROW_COLUMNS} FROM audit_log WHERE chain_seq IS NULL ORDER BY at, id LIMIT $1"
    ))
    .bind(SEAL_BATCH)
    .fetch_all(&mut **tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sealed_rows = Vec::with_capacity(rows.len());
    for row in &mut rows {
        seq += 1;
        commit_addr(row);
        let hash = hash_v2(&prev, seq, row);
        sealed_rows.push(vec![
            Param::from(&row.id),
            seq.into(),
            (&hash).into(),
            FORMAT_KEPT_ADDR.into(),
            (&row.client_addr_digest).into(),
            (&row.client_addr_salt).into(),
        ]);
        prev = hash;
    }
    // One UPDATE for the whole page of entries (VALUES columns are column1… on both
    // databases).
    let mut batch = Batch::new(tx);
    batch.push_rows(
        "UPDATE audit_log SET chain_seq = v.column2, hash = v.column3, chain_format = v.column4, \
         client_addr_digest = v.column5, client_addr_salt = v.column6 FROM (",
        ") AS v WHERE audit_log.id = v.column1",
        sealed_rows,
    );
    batch.execute(tx).await?;
    sqlx::query("UPDATE audit_chain_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev)
        .execute(&mut **tx)
        .await?;
    Ok(rows.len() as u64)
}

/// Seals in the background: woken by audited writes, and every [`TICK`] in any case.
pub fn spawn_sealer(db: Db) {
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(TICK, WAKE.notified()).await;
            tokio::time::sleep(DEBOUNCE).await;
            if let Err(e) = seal(&db).await {
                tracing::warn!(error = %e, "audit sealing failed; will retry");
            }
        }
    });
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Sealed entries read.
    pub entries: i64,
    pub head_seq: i64,
    pub head_hash: String,
    /// In plain French, first problem first; empty when the chain is intact.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walks the chain in order and recomputes every hash. Reports edited entries, gaps (deleted
/// entries) and a missing tail (the head names more entries than there are).
pub async fn verify(conn: &mut Conn) -> Result<VerifyReport> {
    let (head_seq, head_hash) = head(conn).await?;
    let converted = truncation::conversion(conn).await?;
    let mut problems = Vec::new();
    let mut prev = GENESIS.to_string();
    // The digest of converted format-1 rows, and the last one folded in.
    let (mut acc, mut folded) = (GENESIS.to_string(), 0i64);
    let mut expected = 1i64;
    let mut entries = 0i64;
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {ROW_COLUMNS} FROM audit_log WHERE chain_seq > $1 \
             ORDER BY chain_seq LIMIT $2"
        ))
        .bind(after)
        .bind(VERIFY_PAGE)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.chain_seq.unwrap_or(after);
        for row in &rows {
            let seq = row.chain_seq.unwrap_or_default();
            entries += 1;
            let stored = row.hash.as_deref().unwrap_or_default();
            let format = row.chain_format.unwrap_or(FORMAT_KEPT_ADDR);
            let edited = if format != FORMAT_FULL_ADDR {
                hash_v2(&prev, seq, row) != stored || addr_problem(row)
            } else if converted.is_some() {
                acc = fold(&acc, seq, row);
                folded = seq;
                // Still full, it can still be checked on its own, which names it.
                let full = row.client_addr.is_none() || row.client_addr_salt.is_some();
                (full && hash_v1(&prev, seq, row) != stored) || addr_problem(row)
            } else {
                hash_v1(&prev, seq, row) != stored
            };
            if seq != expected {
                // The entry after a gap cannot be checked against its missing predecessor.
                problems.push(format!(
                    "entrée(s) n° {expected} à {} supprimée(s) : la chaîne passe de la n° {} à la n° {seq} ({}).",
                    seq - 1,
                    expected - 1,
                    row.id
                ));
            } else if edited {
                problems.push(format!(
                    "entrée n° {seq} ({}, {} du {}) modifiée : son empreinte ne correspond plus.",
                    row.id, row.action, row.at
                ));
            }
            // Continue from the stored hash so that one edit is reported once, not for every
            // entry after it.
            prev = stored.to_string();
            expected = seq + 1;
        }
    }
    if let Some((last, digest)) = converted {
        if folded != last || acc != digest {
            problems.push(format!(
                "les entrées n° 1 à {last}, scellées avant le format 2 de la chaîne, ne correspondent \
                 plus à l'empreinte notée à leur conversion : l'une d'elles a été modifiée ou supprimée."
            ));
        }
    }
    let last_seq = expected - 1;
    if last_seq < head_seq {
        problems.push(format!(
            "entrée(s) n° {} à {head_seq} supprimée(s) : la tête de chaîne annonce {head_seq} entrées, le journal s'arrête à la n° {last_seq}.",
            last_seq + 1
        ));
    } else if last_seq > head_seq || prev != head_hash {
        problems.push(format!(
            "la tête de chaîne (n° {head_seq}) ne correspond pas à la dernière entrée (n° {last_seq})."
        ));
    }
    problems.truncate(MAX_PROBLEMS);
    Ok(VerifyReport {
        entries,
        head_seq,
        head_hash,
        problems,
    })
}

/// A chain position noted outside the database: entry `seq` had hash `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

impl std::str::FromStr for Anchor {
    type Err = String;

    /// `SEQ:HASH`, as `passnum audit verify` prints it.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (seq, hash) = text.trim().split_once(':').ok_or_else(|| {
            format!("« {text} » : un ancrage s'écrit NUMÉRO:EMPREINTE (ex. 42:3fa9…)")
        })?;
        let seq = seq
            .parse::<i64>()
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| format!("« {seq} » n'est pas un numéro d'entrée"))?;
        let hash = hash.to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "« {hash} » n'est pas une empreinte SHA-256 (64 chiffres hexadécimaux)"
            ));
        }
        Ok(Anchor { seq, hash })
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// What is wrong with each anchor the chain no longer passes through (a rewritten chain, even
/// one consistent with itself, has other hashes at the anchored positions).
pub async fn check_anchors(conn: &mut Conn, anchors: &[Anchor]) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for anchor in anchors {
        let stored: Option<Option<String>> =
            sqlx::query_scalar("SELECT hash FROM audit_log WHERE chain_seq = $1")
                .bind(anchor.seq)
                .fetch_optional(&mut *conn)
                .await?;
        match stored.flatten() {
            Some(hash) if hash == anchor.hash => {}
            Some(_) => problems.push(format!(
                "l'entrée n° {} n'a plus l'empreinte notée ({}) : le journal a été réécrit.",
                anchor.seq, anchor.hash
            )),
            None => problems.push(format!(
                "l'entrée n° {} notée comme ancrage n'existe plus dans le journal.",
                anchor.seq
            )),
        }
    }
    Ok(problems)
}
