//! Who did what, when and from where: one row per state change (issuance, redemption, undo,
//! cancellation, qualification, bank details, settlement steps, key rotation, logins). Rows are
//! inserted unsealed inside the business transaction, then appended to a SHA-256 chain by the
//! sealer ([`chain`]), so that `passnum audit verify` detects any edited or deleted entry.
//!
//! Who (the person) and from where (the client address) come with the unit of work
//! ([`Tx::origin`]): no call site can forget them. The address is reduced to its network once
//! past its retention period ([`truncate_addresses`]); the chain stays verifiable.

pub mod chain;

pub use chain::{
    check_anchors, convert_v1, seal, spawn_sealer, truncate_addresses, verify, Anchor, Conversion,
    VerifyReport,
};

use crate::db::{Batch, Conn, Origin, Param, Tx};
use crate::error::Result;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: String,
    pub at: String,
    pub actor_org_id: Option<String>,
    pub action: String,
    pub subject_id: Option<String>,
    pub detail: String,
    pub actor_user_id: Option<String>,
    pub client_addr: Option<String>,
    pub chain_seq: Option<i64>,
}

const COLUMNS: &str =
    "id, at, actor_org_id, action, subject_id, detail, actor_user_id, client_addr, chain_seq";

/// An entry to append: what happened, to what, by which organisation, when.
pub struct NewEntry<'a> {
    pub at: &'a str,
    pub actor_org_id: Option<&'a str>,
    pub action: &'a str,
    pub subject_id: Option<&'a str>,
    pub detail: String,
}

/// Appends an entry, unsealed, with the caller's other writes; the person and address of the
/// unit of work are added. The sealer is woken to chain it soon after commit.
pub async fn record(
    tx: &mut Tx<'_>,
    at: &str,
    actor_org_id: Option<&str>,
    action: &str,
    subject_id: Option<&str>,
    detail: &str,
) -> Result<()> {
    let entry = NewEntry {
        at,
        actor_org_id,
        action,
        subject_id,
        detail: detail.to_string(),
    };
    record_many(tx, std::slice::from_ref(&entry));
    Ok(())
}

/// Appends several entries of one change with multi-row INSERTs (a batch of a thousand
/// carnets writes its thousand entries in a few statements), sent before the commit.
pub fn record_many(tx: &mut Tx<'_>, entries: &[NewEntry<'_>]) {
    let origin = tx.origin().clone();
    let entries: Vec<(&NewEntry<'_>, &Origin)> = entries.iter().map(|e| (e, &origin)).collect();
    defer_from(tx.deferred(), &entries);
}

/// [`defer`] for entries of several requests written together, each with its own origin.
pub fn defer_from(batch: &mut Batch, entries: &[(&NewEntry<'_>, &Origin)]) {
    if entries.is_empty() {
        return;
    }
    let rows = entries
        .iter()
        .map(|(e, origin)| {
            vec![
                Param::from(crate::db::new_id()),
                e.at.into(),
                e.actor_org_id.into(),
                e.action.into(),
                e.subject_id.into(),
                (&e.detail).into(),
                origin.user_id.as_deref().into(),
                origin.client_addr.as_deref().into(),
            ]
        })
        .collect();
    batch.push_rows(
        "INSERT INTO audit_log (id, at, actor_org_id, action, subject_id, detail, \
         actor_user_id, client_addr)",
        "",
        rows,
    );
    chain::wake();
}

/// The trail of one subject, oldest first.
pub async fn for_subject(conn: &mut Conn, subject_id: &str) -> Result<Vec<Entry>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_log WHERE subject_id = $1 ORDER BY at, id"
    ))
    .bind(subject_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// One page of the trail, newest first: only actions starting with `action_prefix` (ignoring
/// case) and only `subject_id` when given. Also returns how many entries match, for the page count.
pub async fn search(
    conn: &mut Conn,
    action_prefix: Option<&str>,
    subject_id: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Entry>, i64)> {
    let mut filters = Vec::new();
    let mut binds = Vec::new();
    if let Some(prefix) = action_prefix.filter(|p| !p.is_empty()) {
        // '_' is common in action names and a LIKE wildcard: escape it (and '%', '!').
        let escaped = prefix
            .replace('!', "!!")
            .replace('%', "!%")
            .replace('_', "!_");
        // LOWER on both sides: SQLite's LIKE ignores ASCII case and PostgreSQL's does not.
        binds.push(format!("{}%", escaped.to_lowercase()));
        filters.push(format!("LOWER(action) LIKE ${} ESCAPE '!'", binds.len()));
    }
    if let Some(subject) = subject_id.filter(|s| !s.is_empty()) {
        binds.push(subject.to_string());
        filters.push(format!("subject_id = ${}", binds.len()));
    }
    let condition = if filters.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", filters.join(" AND "))
    };
    let count_sql = format!("SELECT COUNT(*) FROM audit_log{condition}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b);
    }
    let total = count.fetch_one(&mut *conn).await?;
    let list_sql = format!(
        "SELECT {COLUMNS} FROM audit_log{condition} \
         ORDER BY at DESC, id DESC LIMIT ${} OFFSET ${}",
        binds.len() + 1,
        binds.len() + 2
    );
    let mut list = sqlx::query_as::<_, Entry>(&list_sql);
    for b in &binds {
        list = list.bind(b);
    }
    let entries = list.bind(limit).bind(offset).fetch_all(&mut *conn).await?;
    Ok((entries, total))
}

/// The newest entry of one action on one subject (e.g. why a site was last suspended).
pub async fn latest(conn: &mut Conn, subject_id: &str, action: &str) -> Result<Option<Entry>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM audit_log \
         WHERE subject_id = $1 AND action = $2 ORDER BY at DESC, id DESC LIMIT 1"
    ))
    .bind(subject_id)
    .bind(action)
    .fetch_optional(&mut *conn)
    .await?)
}
