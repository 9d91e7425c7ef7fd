//! SQL for settlements and settlement_lines, and the claim of redemptions by a batch.

use crate::db::Conn;
use crate::error::Result;
use serde::Serialize;
use sqlx::Row;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BatchRow {
    pub id: String,
    pub status: String,
    #[serde(rename = "until")]
    pub until_date: String,
    pub total_cents: i64,
    pub created_at: String,
    pub approved_at: Option<String>,
    pub exported_at: Option<String>,
    pub paid_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LineRow {
    pub id: String,
    #[serde(skip)]
    pub settlement_id: String,
    pub site_id: String,
    pub program_id: String,
    pub redemptions: i64,
    pub settled_cents: i64,
    pub carried_cents: i64,
    pub fee_cents: i64,
    pub amount_cents: i64,
    #[serde(skip)]
    pub bank_account_id: String,
    pub end_to_end_id: String,
    pub status: String,
    pub rejection_reason: Option<String>,
}

pub async fn insert_batch(
    conn: &mut Conn,
    id: &str,
    until: &str,
    now: &str,
    by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO settlements (id, until_date, status, total_cents, created_at, created_by) \
         VALUES ($1, $2, 'draft', 0, $3, $4)",
    )
    .bind(id)
    .bind(until)
    .bind(now)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The guard against settling twice: only redemptions no batch holds are taken.
pub async fn claim_redemptions(conn: &mut Conn, batch_id: &str, cutoff: &str) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE redemptions SET settlement_id = $1 \
         WHERE settlement_id IS NULL AND undone_at IS NULL AND redeemed_at < $2 \
         AND site_id IN (SELECT site_id FROM site_bank_accounts)",
    )
    .bind(batch_id)
    .bind(cutoff)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// `(site, programme, count, cents)` of what a batch claimed.
pub async fn claimed_groups(
    conn: &mut Conn,
    batch_id: &str,
) -> Result<Vec<(String, String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT site_id, program_id, COUNT(*) AS n, CAST(SUM(value_cents) AS BIGINT) AS total \
         FROM redemptions WHERE settlement_id = $1 GROUP BY site_id, program_id",
    )
    .bind(batch_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("site_id")?,
                r.try_get("program_id")?,
                r.try_get("n")?,
                r.try_get("total")?,
            ))
        })
        .collect()
}

const LINE_COLUMNS: &str = "id, settlement_id, site_id, program_id, redemptions, settled_cents, \
     carried_cents, fee_cents, amount_cents, bank_account_id, end_to_end_id, status, \
     rejection_reason";

pub async fn rejected_not_carried(conn: &mut Conn) -> Result<Vec<LineRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {LINE_COLUMNS} FROM settlement_lines \
         WHERE status = 'rejected' AND carried_into IS NULL ORDER BY id"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn carry_into(conn: &mut Conn, rejected_id: &str, line_id: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE settlement_lines SET carried_into = $1 \
         WHERE id = $2 AND status = 'rejected' AND carried_into IS NULL",
    )
    .bind(line_id)
    .bind(rejected_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_line(conn: &mut Conn, l: &LineRow) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO settlement_lines ({LINE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&l.id)
    .bind(&l.settlement_id)
    .bind(&l.site_id)
    .bind(&l.program_id)
    .bind(l.redemptions)
    .bind(l.settled_cents)
    .bind(l.carried_cents)
    .bind(l.fee_cents)
    .bind(l.amount_cents)
    .bind(&l.bank_account_id)
    .bind(&l.end_to_end_id)
    .bind(&l.status)
    .bind(&l.rejection_reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_total(conn: &mut Conn, id: &str, total: i64) -> Result<()> {
    sqlx::query("UPDATE settlements SET total_cents = $1 WHERE id = $2")
        .bind(total)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn find_batch(conn: &mut Conn, id: &str) -> Result<Option<BatchRow>> {
    Ok(sqlx::query_as(
        "SELECT id, status, until_date, total_cents, created_at, approved_at, exported_at, paid_at \
         FROM settlements WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn lines_of(conn: &mut Conn, batch_id: &str) -> Result<Vec<LineRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {LINE_COLUMNS} FROM settlement_lines WHERE settlement_id = $1 ORDER BY end_to_end_id"
    ))
    .bind(batch_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// One conditional update per step: a step out of order matches nothing.
pub async fn transition(
    conn: &mut Conn,
    id: &str,
    from: &str,
    to: &str,
    now: &str,
    by: &str,
) -> Result<bool> {
    let (at, who) = match to {
        "approved" => ("approved_at", "approved_by"),
        "exported" => ("exported_at", "exported_by"),
        "paid" => ("paid_at", "paid_by"),
        other => return Err(anyhow::anyhow!("no settlement step to {other}").into()),
    };
    let done = sqlx::query(&format!(
        "UPDATE settlements SET status = $1, {at} = $2, {who} = $3 WHERE id = $4 AND status = $5"
    ))
    .bind(to)
    .bind(now)
    .bind(by)
    .bind(id)
    .bind(from)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn reject_line(conn: &mut Conn, id: &str, now: &str, reason: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE settlement_lines SET status = 'rejected', rejected_at = $1, rejection_reason = $2 \
         WHERE id = $3 AND status <> 'rejected'",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn pay_pending_lines(conn: &mut Conn, batch_id: &str) -> Result<Vec<LineRow>> {
    Ok(sqlx::query_as(&format!(
        "UPDATE settlement_lines SET status = 'paid' \
         WHERE settlement_id = $1 AND status = 'pending' RETURNING {LINE_COLUMNS}"
    ))
    .bind(batch_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The redemptions a batch settled for one site, with what the statement shows.
pub async fn statement_rows(
    conn: &mut Conn,
    batch_id: &str,
    site_id: &str,
) -> Result<Vec<(String, String, Option<String>, Option<i64>, String, i64)>> {
    let rows = sqlx::query(
        "SELECT v.code, r.redeemed_at, r.service, r.minutes, p.name, r.value_cents \
         FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
         JOIN programs p ON p.id = r.program_id \
         WHERE r.settlement_id = $1 AND r.site_id = $2 ORDER BY r.redeemed_at, v.code",
    )
    .bind(batch_id)
    .bind(site_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("code")?,
                r.try_get("redeemed_at")?,
                r.try_get("service")?,
                r.try_get("minutes")?,
                r.try_get("name")?,
                r.try_get("value_cents")?,
            ))
        })
        .collect()
}

/// Every batch, newest first, for the operator's list.
pub async fn list_batches(conn: &mut Conn) -> Result<Vec<BatchRow>> {
    Ok(sqlx::query_as(
        "SELECT id, status, until_date, total_cents, created_at, approved_at, exported_at, paid_at \
         FROM settlements ORDER BY created_at DESC, id DESC",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// A site's lines across batches, newest batch first: `(batch, line)`.
pub async fn lines_of_site(conn: &mut Conn, site_id: &str) -> Result<Vec<(BatchRow, LineRow)>> {
    let batches = list_batches(conn).await?;
    let lines: Vec<LineRow> = sqlx::query_as(&format!(
        "SELECT {LINE_COLUMNS} FROM settlement_lines WHERE site_id = $1"
    ))
    .bind(site_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(batches
        .into_iter()
        .flat_map(|b| {
            lines
                .iter()
                .filter(|l| l.settlement_id == b.id)
                .map(|l| (b.clone(), l.clone()))
                .collect::<Vec<_>>()
        })
        .collect())
}
