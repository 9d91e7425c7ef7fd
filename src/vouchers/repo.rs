//! SQL for passes and vouchers.

use super::status::{ChequeStatus, PassStatus};
use crate::db::{Batch, Conn, Param};
use crate::error::Result;
use crate::money::Cents;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PassRow {
    pub id: String,
    pub program_id: String,
    pub distributor_id: String,
    pub pass_code: String,
    #[sqlx(try_from = "String")]
    pub status: PassStatus,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    pub cheques: i64,
    pub expires_on: String,
    pub created_at: String,
    /// The level of help and anonymous facts noted at issuance (src/outcomes identifiers).
    pub help_level: Option<String>,
    pub age_bracket: Option<String>,
    pub situation: Option<String>,
    pub priority_area: Option<String>,
    pub rural: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VoucherRow {
    pub id: String,
    pub pass_id: String,
    pub position: i64,
    pub code: String,
    pub key_id: String,
    pub value_cents: Cents,
    pub expires_on: String,
    pub redeemable_until: String,
    #[sqlx(try_from = "String")]
    pub status: ChequeStatus,
}

const PASS_COLUMNS: &str = "id, program_id, distributor_id, pass_code, status, beneficiary_ref, \
                            email, cheques, expires_on, created_at, help_level, age_bracket, \
                            situation, priority_area, rural";
const VOUCHER_COLUMNS: &str =
    "id, pass_id, position, code, key_id, value_cents, expires_on, redeemable_until, status";

pub async fn insert_passes(conn: &mut Conn, passes: &[PassRow]) -> Result<()> {
    let rows = passes
        .iter()
        .map(|p| {
            let activated_at = (p.status == PassStatus::Active).then(|| p.created_at.clone());
            vec![
                Param::from(&p.id),
                (&p.program_id).into(),
                (&p.distributor_id).into(),
                (&p.pass_code).into(),
                p.status.as_str().into(),
                (&p.beneficiary_ref).into(),
                (&p.email).into(),
                p.cheques.into(),
                (&p.expires_on).into(),
                (&p.created_at).into(),
                activated_at.into(),
                (&p.help_level).into(),
                (&p.age_bracket).into(),
                (&p.situation).into(),
                (&p.priority_area).into(),
                (&p.rural).into(),
            ]
        })
        .collect();
    let mut batch = Batch::new(conn);
    batch.push_rows(
        "INSERT INTO passes (id, program_id, distributor_id, pass_code, status, \
         beneficiary_ref, email, cheques, expires_on, created_at, activated_at, help_level, \
         age_bracket, situation, priority_area, rural)",
        "",
        rows,
    );
    let mut figures = crate::stats::figures::Changes::default();
    for p in passes {
        figures.issued(&p.program_id, &p.distributor_id, &p.created_at, 1);
        if p.status == PassStatus::Active {
            figures.handed_out(&p.program_id, &p.distributor_id, &p.created_at, 1);
        }
    }
    figures.write(&mut batch, crate::db::Slot::Any);
    batch.execute(conn).await
}

/// Cheques of carnets of one programme and distributor, a few thousand rows per statement.
pub async fn insert_vouchers(
    conn: &mut Conn,
    program_id: &str,
    distributor_id: &str,
    vouchers: &[VoucherRow],
) -> Result<()> {
    let rows = vouchers
        .iter()
        .map(|v| {
            vec![
                Param::from(&v.id),
                (&v.pass_id).into(),
                program_id.into(),
                distributor_id.into(),
                v.position.into(),
                (&v.code).into(),
                (&v.key_id).into(),
                v.value_cents.into(),
                (&v.expires_on).into(),
                (&v.redeemable_until).into(),
                v.status.as_str().into(),
            ]
        })
        .collect();
    let mut batch = Batch::new(conn);
    batch.push_rows(
        "INSERT INTO vouchers (id, pass_id, program_id, distributor_id, position, code, \
         key_id, value_cents, expires_on, redeemable_until, status)",
        "",
        rows,
    );
    batch.execute(conn).await
}

pub async fn find_pass(conn: &mut Conn, id: &str) -> Result<Option<PassRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {PASS_COLUMNS} FROM passes WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn find_pass_by_code(conn: &mut Conn, code: &str) -> Result<Option<PassRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PASS_COLUMNS} FROM passes WHERE pass_code = $1"
    ))
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn passes_of(conn: &mut Conn, distributor_id: &str, limit: i64) -> Result<Vec<PassRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PASS_COLUMNS} FROM passes WHERE distributor_id = $1 \
         ORDER BY created_at DESC, id LIMIT $2"
    ))
    .bind(distributor_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// The distributor's carnets whose beneficiary reference contains `needle` (lower case,
/// matched case-insensitively), or whose code — or one of whose cheques' code — is `code`
/// (canonical form), newest first.
pub async fn search_passes(
    conn: &mut Conn,
    distributor_id: &str,
    needle: &str,
    code: Option<&str>,
    limit: i64,
) -> Result<Vec<PassRow>> {
    // '%' and '_' are LIKE wildcards: escaped (with '!') to be matched as typed.
    let escaped = needle
        .replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_");
    Ok(sqlx::query_as(&format!(
        "SELECT {PASS_COLUMNS} FROM passes WHERE distributor_id = $1 AND (\
           LOWER(beneficiary_ref) LIKE $2 ESCAPE '!' \
           OR pass_code = $3 \
           OR id IN (SELECT pass_id FROM vouchers WHERE code = $3 AND distributor_id = $1)) \
         ORDER BY created_at DESC, id LIMIT $4"
    ))
    .bind(distributor_id)
    .bind(format!("%{escaped}%"))
    .bind(code)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn vouchers_of(conn: &mut Conn, pass_id: &str) -> Result<Vec<VoucherRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE pass_id = $1 ORDER BY position"
    ))
    .bind(pass_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn activate_pass(
    conn: &mut Conn,
    id: &str,
    (beneficiary_ref, email): (Option<&str>, Option<&str>),
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE passes SET status = 'active', activated_at = $1, \
         beneficiary_ref = COALESCE($2, beneficiary_ref), email = COALESCE($3, email) \
         WHERE id = $4 AND status = 'inactive'",
    )
    .bind(now)
    .bind(beneficiary_ref)
    .bind(email)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn activate_vouchers(conn: &mut Conn, pass_id: &str) -> Result<()> {
    sqlx::query("UPDATE vouchers SET status = 'valid' WHERE pass_id = $1 AND status = 'inactive'")
        .bind(pass_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn cancel_pass(conn: &mut Conn, id: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE passes SET status = 'cancelled', cancelled_at = $1 \
         WHERE id = $2 AND status <> 'cancelled'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Cancels the unused cheques of a pass and returns the value they held.
pub async fn cancel_vouchers(conn: &mut Conn, pass_id: &str, now: &str) -> Result<i64> {
    let values: Vec<i64> = sqlx::query_scalar(
        "UPDATE vouchers SET status = 'cancelled', status_changed_at = $1 \
         WHERE pass_id = $2 AND status IN ('inactive', 'valid') RETURNING value_cents",
    )
    .bind(now)
    .bind(pass_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(values.iter().sum())
}

/// Per signing key: cheques still redeemable or activatable, and the last day one of them can
/// be redeemed.
pub async fn live_cheques_by_key(conn: &mut Conn) -> Result<Vec<(String, i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT key_id, COUNT(*), MAX(redeemable_until) FROM vouchers \
         WHERE status IN ('valid', 'inactive') GROUP BY key_id ORDER BY key_id",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// `(email, pass code, cheques)` of each handed-over carnet of a programme that has an e-mail
/// and cheques still usable on `today`.
pub async fn carnets_to_tell(
    conn: &mut Conn,
    program_id: &str,
    today: &str,
) -> Result<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT p.email, p.pass_code, COUNT(*) AS cheques FROM passes p \
         JOIN vouchers v ON v.pass_id = p.id \
         WHERE p.program_id = $1 AND p.status = 'active' AND p.email IS NOT NULL \
         AND v.status = 'valid' AND v.redeemable_until >= $2 \
         GROUP BY p.id, p.email, p.pass_code ORDER BY p.id",
    )
    .bind(program_id)
    .bind(today)
    .fetch_all(&mut *conn)
    .await?)
}

/// The live redemptions of a carnet's cheques, oldest first: `(redeemed_at, place_id, site_id)`.
pub async fn used_cheques(
    conn: &mut Conn,
    pass_id: &str,
) -> Result<Vec<(String, Option<String>, String)>> {
    Ok(sqlx::query_as(
        "SELECT r.redeemed_at, r.place_id, r.site_id FROM redemptions r \
         JOIN vouchers v ON v.id = r.voucher_id \
         WHERE v.pass_id = $1 AND r.undone_at IS NULL ORDER BY r.redeemed_at, r.id",
    )
    .bind(pass_id)
    .fetch_all(&mut *conn)
    .await?)
}
