//! The SQL of disqualifications and renewal reminders.

use super::Disqualification;
use crate::db::Conn;
use crate::error::Result;
use crate::orgs::Organization;
use jiff::civil::Date;
use sqlx::Row;

pub async fn find(conn: &mut Conn, subject_id: &str) -> Result<Option<Disqualification>> {
    let row = sqlx::query(
        "SELECT subject_id, subject_kind, reason, decided_at FROM disqualifications \
         WHERE subject_id = $1",
    )
    .bind(subject_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Disqualification {
            subject_id: r.try_get("subject_id")?,
            subject_kind: r.try_get("subject_kind")?,
            reason: r.try_get("reason")?,
            decided_at: r.try_get("decided_at")?,
        })
    })
    .transpose()
}

/// Records a disqualification; a subject already disqualified keeps its first one.
pub async fn insert(
    conn: &mut Conn,
    subject_id: &str,
    kind: &str,
    reason: &str,
    actor_id: &str,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO disqualifications (subject_id, subject_kind, reason, decided_by, decided_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(subject_id)
    .bind(kind)
    .bind(reason)
    .bind(actor_id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Qualified sites whose qualification ends after `from` and by `to`.
pub async fn ending_between(conn: &mut Conn, from: Date, to: Date) -> Result<Vec<Organization>> {
    let rows = sqlx::query(
        "SELECT id FROM organizations WHERE kind = 'site' AND qualification_status = 'qualified' \
         AND qualified_until > $1 AND qualified_until <= $2 ORDER BY qualified_until, id",
    )
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id")?;
        if let Some(org) = crate::orgs::find(conn, &id).await? {
            out.push(org);
        }
    }
    Ok(out)
}

/// Notes a reminder as sent; false if it already was.
pub async fn record_reminder(
    conn: &mut Conn,
    site_id: &str,
    until: &str,
    days_before: i64,
    at: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO qualification_reminders (site_org_id, qualified_until, days_before, sent_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(site_id)
    .bind(until)
    .bind(days_before)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
