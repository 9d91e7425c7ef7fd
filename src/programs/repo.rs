//! SQL for programs, fundings and allocations.

use super::{ProgramStatus, Services, Territory};
use crate::db::Conn;
use crate::error::Result;
use crate::money::Cents;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Program {
    pub id: String,
    pub funder_id: String,
    pub name: String,
    pub budget_cents: Cents,
    pub cheque_value_cents: Cents,
    pub validity_days: i64,
    pub grace_days: i64,
    pub fee_rate_bp: i64,
    pub fee_per_cheque_cents: Cents,
    pub department: Option<String>,
    /// Where the cheques are accepted: départements and communes (INSEE codes); none for the
    /// whole country.
    #[sqlx(try_from = "String")]
    #[schema(value_type = Vec<String>)]
    pub territory: Territory,
    /// The kinds of help the cheques pay for (`individual_help`, `administrative_procedure`,
    /// `workshop`); none for every kind.
    #[sqlx(try_from = "String")]
    #[schema(value_type = Vec<String>)]
    pub services: Services,
    #[sqlx(try_from = "String")]
    pub status: ProgramStatus,
    /// When it was closed (unused cheques then expire, whatever their printed date).
    pub closed_at: Option<String>,
    /// The last day its cheques are accepted (`YYYY-MM-DD`): while open, the planned close
    /// (none when no close is planned); once closed, the day it ended.
    pub closes_on: Option<String>,
    /// The zone stored for it (a tz name), overriding its territory's; see [`Program::zone`].
    pub time_zone: Option<String>,
}

impl Program {
    /// The zone of its territory, where its cheques' last day ends at local midnight.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        zone_of(self.time_zone.as_deref(), &self.territory)
    }

    /// Today in its territory.
    pub fn today(&self, now: jiff::Timestamp) -> jiff::civil::Date {
        crate::zones::today_in(now, &self.zone())
    }
}

/// A programme's zone from what is stored of it: its own, or its territory's.
pub fn zone_of(stored: Option<&str>, territory: &Territory) -> jiff::tz::TimeZone {
    crate::zones::zone_for(stored, territory.codes().iter().map(String::as_str))
}

/// The columns of [`Program`].
const COLUMNS: &str = "id, funder_id, name, budget_cents, cheque_value_cents, validity_days, \
     grace_days, fee_rate_bp, fee_per_cheque_cents, department, territory, services, status, \
     closed_at, closes_on, time_zone";

pub async fn insert(conn: &mut Conn, p: &Program, now: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO programs (id, funder_id, name, budget_cents, cheque_value_cents, \
         validity_days, grace_days, fee_rate_bp, fee_per_cheque_cents, department, territory, \
         services, status, created_at, time_zone) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&p.id)
    .bind(&p.funder_id)
    .bind(&p.name)
    .bind(p.budget_cents)
    .bind(p.cheque_value_cents)
    .bind(p.validity_days)
    .bind(p.grace_days)
    .bind(p.fee_rate_bp)
    .bind(p.fee_per_cheque_cents)
    .bind(&p.department)
    .bind(p.territory.stored())
    .bind(p.services.stored())
    .bind(p.status.as_str())
    .bind(now)
    .bind(&p.time_zone)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_time_zone(conn: &mut Conn, id: &str, zone: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE programs SET time_zone = $1 WHERE id = $2")
        .bind(zone)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every programme with today's date in its zone: what the expiry job compares last days to.
pub async fn local_days(
    conn: &mut Conn,
    now: jiff::Timestamp,
) -> Result<Vec<(String, jiff::civil::Date)>> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, territory, time_zone FROM programs ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, territory, zone)| {
            let zone = zone_of(zone.as_deref(), &Territory::from_stored(&territory));
            (id, crate::zones::today_in(now, &zone))
        })
        .collect())
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Program>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM programs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// A payment order is recorded once: a second one with the same reference is a 409.
pub async fn insert_funding(
    conn: &mut Conn,
    id: &str,
    program_id: &str,
    amount: Cents,
    reference: &str,
    now: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO fundings (id, program_id, amount_cents, reference, received_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(program_id)
    .bind(amount)
    .bind(reference)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            crate::error::Error::conflict(
                "duplicate_reference",
                "Un versement avec cette référence est déjà enregistré pour ce programme.",
            )
        } else {
            e.into()
        }
    })?;
    Ok(())
}

pub async fn insert_allocation(
    conn: &mut Conn,
    id: &str,
    program_id: &str,
    distributor_id: &str,
    cheques: i64,
    amount: Cents,
    now: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO allocations (id, program_id, distributor_id, cheques, amount_cents, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(program_id)
    .bind(distributor_id)
    .bind(cheques)
    .bind(amount)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every programme, oldest first (the operator's views).
pub async fn list_all(conn: &mut Conn) -> Result<Vec<Program>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM programs ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn list_for_funder(conn: &mut Conn, funder_id: &str) -> Result<Vec<Program>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM programs WHERE funder_id = $1 ORDER BY created_at DESC, name, id"
    ))
    .bind(funder_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Plans (or, with `None`, cancels) the last day of a programme still open.
pub async fn set_closes_on(conn: &mut Conn, id: &str, closes_on: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE programs SET closes_on = $1 WHERE id = $2 AND status = 'open'")
        .bind(closes_on)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Open programmes whose last day is before `today`: the daily job closes them.
pub async fn due_to_close(conn: &mut Conn, today: &str) -> Result<Vec<Program>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM programs \
         WHERE status = 'open' AND closes_on IS NOT NULL AND closes_on < $1 ORDER BY closes_on, id"
    ))
    .bind(today)
    .fetch_all(&mut *conn)
    .await?)
}

/// Open programmes whose last day falls from `from` to `to`, both included.
pub async fn closing_between(conn: &mut Conn, from: &str, to: &str) -> Result<Vec<Program>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM programs WHERE status = 'open' AND closes_on IS NOT NULL \
         AND closes_on >= $1 AND closes_on <= $2 ORDER BY closes_on, id"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?)
}

/// Notes a close notice as sent; false if it already was.
pub async fn record_close_notice(
    conn: &mut Conn,
    program_id: &str,
    closes_on: &str,
    days_before: i64,
    at: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO programme_close_notices (program_id, closes_on, days_before, sent_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(program_id)
    .bind(closes_on)
    .bind(days_before)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The distributors that were given a quota of a programme.
pub async fn distributors_of(conn: &mut Conn, program_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT distributor_id FROM allocations WHERE program_id = $1 \
         ORDER BY distributor_id",
    )
    .bind(program_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// A funding as the treasury matches it against the bank's statement.
#[derive(Clone, Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FundingRow {
    pub id: String,
    pub program_id: String,
    pub amount_cents: Cents,
    pub reference: String,
    pub received_at: String,
    #[sqlx(try_from = "String")]
    pub status: super::FundingStatus,
    pub confirmed_at: Option<String>,
}

const FUNDING_COLUMNS: &str =
    "id, program_id, amount_cents, reference, received_at, status, confirmed_at";

/// Fundings declared and not yet seen on a statement, oldest first.
pub async fn declared_fundings(conn: &mut Conn) -> Result<Vec<FundingRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {FUNDING_COLUMNS} FROM fundings WHERE status = 'declared' \
         ORDER BY received_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn find_funding(conn: &mut Conn, id: &str) -> Result<Option<FundingRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {FUNDING_COLUMNS} FROM fundings WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn fundings_of(conn: &mut Conn, program_id: &str) -> Result<Vec<FundingRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {FUNDING_COLUMNS} FROM fundings WHERE program_id = $1 ORDER BY received_at, id"
    ))
    .bind(program_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Marks a declared funding confirmed; false if it was not declared any more.
pub async fn confirm_funding(conn: &mut Conn, id: &str, entry_id: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE fundings SET status = 'confirmed', confirmed_at = $1, bank_entry_id = $2 \
         WHERE id = $3 AND status = 'declared'",
    )
    .bind(now)
    .bind(entry_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn confirmed_funding_only(conn: &mut Conn, program_id: &str) -> Result<bool> {
    let flag: Option<i64> =
        sqlx::query_scalar("SELECT confirmed_funding_only FROM programs WHERE id = $1")
            .bind(program_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(flag.unwrap_or(0) != 0)
}

pub async fn set_confirmed_funding_only(conn: &mut Conn, program_id: &str) -> Result<()> {
    sqlx::query("UPDATE programs SET confirmed_funding_only = 1 WHERE id = $1")
        .bind(program_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
