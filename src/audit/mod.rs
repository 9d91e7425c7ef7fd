//! Who did what, when: one row per state change that a person decided (qualification, bank
//! details, settlement steps). Rows are only ever inserted.

use crate::db::Conn;
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
}

pub async fn record(
    conn: &mut Conn,
    at: &str,
    actor_org_id: Option<&str>,
    action: &str,
    subject_id: Option<&str>,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_org_id, action, subject_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crate::db::new_id())
    .bind(at)
    .bind(actor_org_id)
    .bind(action)
    .bind(subject_id)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The trail of one subject, oldest first.
pub async fn for_subject(conn: &mut Conn, subject_id: &str) -> Result<Vec<Entry>> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor_org_id, action, subject_id, detail FROM audit_log \
         WHERE subject_id = $1 ORDER BY at, id",
    )
    .bind(subject_id)
    .fetch_all(&mut *conn)
    .await?)
}
