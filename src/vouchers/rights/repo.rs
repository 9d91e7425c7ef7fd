//! SQL for what a carnet holds about a person, and its erasure on request.

use crate::db::Conn;
use crate::error::Result;

/// A carnet's dates beyond [`super::super::PassRow`]: handed over, cancelled, and when its
/// e-mail and reference were erased on request.
#[derive(Debug, Default, sqlx::FromRow)]
pub struct PassDates {
    pub activated_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub email_erased_at: Option<String>,
    pub beneficiary_ref_erased_at: Option<String>,
}

pub async fn dates(conn: &mut Conn, pass_id: &str) -> Result<PassDates> {
    Ok(sqlx::query_as(
        "SELECT activated_at, cancelled_at, email_erased_at, beneficiary_ref_erased_at \
         FROM passes WHERE id = $1",
    )
    .bind(pass_id)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or_default())
}

/// Each cheque of a carnet, in order, with its live redemption if any:
/// `(position, value_cents, status, redeemed_at, place_id, site_id)`.
pub type ChequeRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub async fn cheques(conn: &mut Conn, pass_id: &str) -> Result<Vec<ChequeRow>> {
    Ok(sqlx::query_as(
        "SELECT v.position, v.value_cents, v.status, r.redeemed_at, r.place_id, r.site_id \
         FROM vouchers v LEFT JOIN redemptions r ON r.voucher_id = v.id AND r.undone_at IS NULL \
         WHERE v.pass_id = $1 ORDER BY v.position",
    )
    .bind(pass_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The opinions given with a carnet, on the old 1-5 scale and on the 0-10 one, oldest first:
/// `(created_at, rating, out of, comment)`.
pub async fn feedback(
    conn: &mut Conn,
    pass_id: &str,
) -> Result<Vec<(String, i64, i64, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT created_at, rating, CAST(5 AS BIGINT) AS scale, comment FROM feedback \
           WHERE pass_id = $1 \
         UNION ALL SELECT created_at, overall, CAST(10 AS BIGINT), comment FROM opinions \
           WHERE pass_id = $1 \
         ORDER BY 1",
    )
    .bind(pass_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Erases a carnet's e-mail once: false when there was none left to erase.
pub async fn erase_email(conn: &mut Conn, pass_id: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE passes SET email = NULL, email_erased_at = $1 \
         WHERE id = $2 AND email IS NOT NULL",
    )
    .bind(now)
    .bind(pass_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a carnet's beneficiary reference by `marker`, once: false when it had none or
/// still holds the mark of an erasure (a reference given at a later activation is erasable).
pub async fn erase_reference(
    conn: &mut Conn,
    pass_id: &str,
    marker: &str,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE passes SET beneficiary_ref = $1, beneficiary_ref_erased_at = $2 \
         WHERE id = $3 AND beneficiary_ref IS NOT NULL \
         AND (beneficiary_ref_erased_at IS NULL OR beneficiary_ref NOT LIKE $4)",
    )
    .bind(marker)
    .bind(now)
    .bind(pass_id)
    .bind(format!("{}%", super::ERASED_MARK))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
