//! SQL for settlements and settlement_lines, and which redemptions a line pays.
//!
//! A line pays the redemptions of its site and programme, not undone, whose `redeemed_at` falls
//! in its period `[period_start, period_end)`; the lines made before migration 0012 pay instead
//! the redemptions whose `settlement_id` names their batch, which no period covers. A batch
//! writes nothing on the redemptions it pays.

use super::status::{BatchStatus, LineStatus, Step};
use crate::db::{Batch, Conn, Param};
use crate::error::{Error, Result};
use crate::money::Cents;
use futures_util::stream::{BoxStream, StreamExt};
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BatchRow {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub status: BatchStatus,
    #[serde(rename = "until")]
    pub until_date: String,
    pub total_cents: Cents,
    pub created_at: String,
    pub approved_at: Option<String>,
    pub exported_at: Option<String>,
    pub paid_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LineRow {
    pub id: String,
    #[serde(skip)]
    pub settlement_id: String,
    pub site_id: String,
    pub program_id: String,
    pub redemptions: i64,
    pub settled_cents: Cents,
    pub carried_cents: Cents,
    pub fee_cents: Cents,
    pub amount_cents: Cents,
    #[serde(skip)]
    pub bank_account_id: String,
    pub end_to_end_id: String,
    #[sqlx(try_from = "String")]
    pub status: LineStatus,
    pub rejection_reason: Option<String>,
    /// The redemption time this line covers, `[start, end)`, on the site's timeline: `start`
    /// is '' for a site's first period. None for a line made before periods (its redemptions
    /// name its batch) or with nothing newly settled (only a rejected transfer carried over).
    #[serde(skip)]
    pub period_start: Option<String>,
    #[serde(skip)]
    pub period_end: Option<String>,
    /// The bank's ISO 20022 reason code, for a rejected line.
    pub rejection_code: Option<String>,
    /// When the operator let a held rejected amount go to the same account again.
    pub released_at: Option<String>,
    /// The line of a later batch that paid this rejected amount.
    #[serde(skip)]
    pub carried_into: Option<String>,
}

/// The join condition "line `l` pays redemption `r`" for a line that has a period (the lines
/// made before periods are matched on `r.settlement_id` instead). A macro, so that queries can
/// be `concat!`-ed into static strings. `program_id || ''` keeps the planner on the site's
/// index (`redemptions_site`): left free, SQLite read the whole programme's redemptions of the
/// period for each line, a thousand sites' for one (BENCHMARKS.md, run W).
macro_rules! period_pays {
    () => {
        "r.site_id = l.site_id AND r.program_id || '' = l.program_id \
         AND r.redeemed_at >= l.period_start AND r.redeemed_at < l.period_end \
         AND r.undone_at IS NULL AND r.settlement_id IS NULL"
    };
}
pub(crate) const PERIOD_PAYS: &str = period_pays!();

/// One cheque of a statement as one line of text: `code`, `redeemed_at`, `minutes`,
/// `value_cents` and `service`, separated by tabs (service last: it is an identifier of
/// `typology::SERVICES`, or empty).
macro_rules! packed_cheque {
    () => {
        "r.code || '\t' || r.redeemed_at || '\t' || COALESCE(CAST(r.minutes AS TEXT), '') \
         || '\t' || CAST(r.value_cents AS TEXT) || '\t' || COALESCE(r.service, '')"
    };
}

/// The cheques each line of a batch pays, packed by the database, for all sites or those
/// matched by `$site`.
macro_rules! cheques_by_line {
    ($site:literal) => {
        concat!(
            "SELECT l.site_id, l.id, string_agg(",
            packed_cheque!(),
            ", '\n') AS cheques \
             FROM settlement_lines l JOIN redemptions r ON ",
            period_pays!(),
            " WHERE l.settlement_id = $1 ",
            $site,
            " GROUP BY l.site_id, l.id \
             UNION ALL \
             SELECT l.site_id, l.id, string_agg(",
            packed_cheque!(),
            ", '\n') \
             FROM settlement_lines l JOIN redemptions r ON r.settlement_id = l.settlement_id \
                  AND r.site_id = l.site_id AND r.program_id = l.program_id \
             WHERE l.settlement_id = $1 AND r.settlement_id IS NOT NULL ",
            $site,
            " GROUP BY l.site_id, l.id"
        )
    };
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

/// What a batch with this cutoff would newly settle for one site and programme.
pub struct Payable {
    pub site_id: String,
    pub program_id: String,
    /// End of the site's latest period ('' if it has none): where the new period starts.
    pub since: String,
    pub redemptions: i64,
    pub cents: Cents,
}

/// The sums of [`payable`]. They read the site's index alone (`redemptions_site` carries
/// the programme, amount and states; migration 0038).
const PAYABLE: &str = "SELECT f.site_id, f.since, r.program_id, COUNT(*) AS n, \
            CAST(SUM(r.value_cents) AS BIGINT) AS total \
     FROM (SELECT b.site_id, COALESCE(MAX(l.period_end), '') AS since \
           FROM (SELECT DISTINCT site_id FROM site_bank_accounts WHERE status = 'approved') b \
           LEFT JOIN settlement_lines l ON l.site_id = b.site_id \
           GROUP BY b.site_id) f \
     JOIN redemptions r ON r.site_id = f.site_id \
          AND r.redeemed_at >= f.since AND r.redeemed_at < $1 \
     WHERE r.undone_at IS NULL AND r.settlement_id IS NULL \
     GROUP BY f.site_id, f.since, r.program_id";

/// One aggregate over what no line pays yet, for the sites that can be paid: per site, the
/// redemptions from the end of its latest period up to `cutoff`. The start of each period is
/// read by the same statement as the sums, so they agree.
pub async fn payable(conn: &mut Conn, cutoff: &str) -> Result<Vec<Payable>> {
    let rows = sqlx::query(PAYABLE)
        .bind(cutoff)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Payable {
                site_id: r.try_get("site_id")?,
                since: r.try_get("since")?,
                program_id: r.try_get("program_id")?,
                redemptions: r.try_get("n")?,
                cents: r.try_get("total")?,
            })
        })
        .collect()
}

const LINE_COLUMNS: &str = "id, settlement_id, site_id, program_id, redemptions, settled_cents, \
     carried_cents, fee_cents, amount_cents, bank_account_id, end_to_end_id, status, \
     rejection_reason, period_start, period_end, rejection_code, released_at, carried_into";

pub async fn exists_until(conn: &mut Conn, until: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlements WHERE until_date = $1")
        .bind(until)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// The sites of [`owed_without_bank_details`]: from the organisations without approved
/// details, one look into each one's redemptions (`redemptions_site`). Read from the
/// redemptions, it read every unsettled one: the whole table for the first batch over a
/// large programme.
const OWED_WITHOUT_BANK_DETAILS: &str =
    "SELECT o.id AS site_id, CAST((SELECT COUNT(*) FROM site_bank_accounts p \
            WHERE p.site_id = o.id AND p.status = 'pending') AS BIGINT) AS pending \
     FROM organizations o \
     WHERE NOT EXISTS (SELECT 1 FROM site_bank_accounts b \
                       WHERE b.site_id = o.id AND b.status = 'approved') \
       AND EXISTS (SELECT 1 FROM redemptions r \
                   WHERE r.site_id = o.id AND r.redeemed_at < $1 \
                     AND r.undone_at IS NULL AND r.settlement_id IS NULL) \
     ORDER BY o.id";

/// Sites with redemptions to pay before `cutoff` but no approved bank details, so no batch
/// can pay them; each with whether details wait for the operator's check. Such a site was
/// never paid by period (approved details stay approved until replaced by newer ones), so
/// any live redemption before `cutoff` is owed.
pub async fn owed_without_bank_details(
    conn: &mut Conn,
    cutoff: &str,
) -> Result<Vec<(String, bool)>> {
    let rows = sqlx::query(OWED_WITHOUT_BANK_DETAILS)
        .bind(cutoff)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("site_id")?, r.try_get::<i64, _>("pending")? > 0)))
        .collect()
}

pub async fn rejected_not_carried(conn: &mut Conn) -> Result<Vec<LineRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {LINE_COLUMNS} FROM settlement_lines \
         WHERE status = 'rejected' AND carried_into IS NULL ORDER BY id"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

/// Lets a held rejected amount go to the next batch, to the same account.
pub async fn release(conn: &mut Conn, line_id: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE settlement_lines SET released_at = $1 \
         WHERE id = $2 AND status = 'rejected' AND carried_into IS NULL AND released_at IS NULL",
    )
    .bind(now)
    .bind(line_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
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

/// Inserts a batch's lines with multi-row INSERTs, in the order given.
pub async fn insert_lines(conn: &mut Conn, lines: &[LineRow]) -> Result<()> {
    let rows = lines
        .iter()
        .map(|l| {
            vec![
                Param::from(&l.id),
                (&l.settlement_id).into(),
                (&l.site_id).into(),
                (&l.program_id).into(),
                l.redemptions.into(),
                l.settled_cents.into(),
                l.carried_cents.into(),
                l.fee_cents.into(),
                l.amount_cents.into(),
                (&l.bank_account_id).into(),
                (&l.end_to_end_id).into(),
                l.status.as_str().into(),
                (&l.rejection_reason).into(),
                (&l.period_start).into(),
                (&l.period_end).into(),
                (&l.rejection_code).into(),
                (&l.released_at).into(),
                (&l.carried_into).into(),
            ]
        })
        .collect();
    let mut batch = Batch::new(conn);
    batch.push_rows(
        &format!("INSERT INTO settlement_lines ({LINE_COLUMNS})"),
        "",
        rows,
    );
    batch.execute(conn).await.map_err(|e| {
        // The unique (site, programme, period start): another batch, prepared at the same
        // moment, has just paid this period.
        if e.is_unique_violation() {
            Error::conflict(
                "concurrent_settlement",
                "Un autre lot de règlement a été préparé au même moment pour les mêmes \
                 encaissements : celui-ci n'a pas été créé, et rien n'est réglé deux fois. \
                 Consultez la liste des lots avant d'en préparer un autre.",
            )
        } else {
            e
        }
    })
}

pub async fn set_total(conn: &mut Conn, id: &str, total: Cents) -> Result<()> {
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
    step: &Step,
    now: &str,
    by: &str,
) -> Result<bool> {
    let done = sqlx::query(&format!(
        "UPDATE settlements SET status = $1, {} = $2, {} = $3 WHERE id = $4 AND status = $5",
        step.at_column, step.by_column
    ))
    .bind(step.to.as_str())
    .bind(now)
    .bind(by)
    .bind(id)
    .bind(step.from.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn reject_line(
    conn: &mut Conn,
    id: &str,
    now: &str,
    reason: &str,
    code: Option<&str>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE settlement_lines SET status = 'rejected', rejected_at = $1, rejection_reason = $2, \
         rejection_code = $3 WHERE id = $4 AND status <> 'rejected'",
    )
    .bind(now)
    .bind(reason)
    .bind(code)
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

/// The cheques a batch's lines pay, for every site or one, as `(site id, line id, text)`: one
/// line of text per cheque (see `packed_cheque!`). Packed by the database, the cheques of a
/// line are one row to fetch instead of a thousand, which through sqlx costs more than the
/// query itself; streamed, so a caller can work on a site's cheques while the next are read.
/// On SQLite the lines come site by site (index `settlement_lines_batch`), but not on
/// PostgreSQL; those made before periods come after the others.
pub fn cheques_by_line<'c>(
    conn: &'c mut Conn,
    batch_id: &'c str,
    site_id: Option<&'c str>,
) -> BoxStream<'c, Result<(String, String, String)>> {
    let query = match site_id {
        Some(site_id) => sqlx::query(cheques_by_line!("AND l.site_id = $2"))
            .bind(batch_id)
            .bind(site_id),
        None => sqlx::query(cheques_by_line!("")).bind(batch_id),
    };
    query
        .fetch(conn)
        .map(|row| {
            let row = row?;
            Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
        })
        .boxed()
}

/// Lines whose recorded count or amount differs from the redemptions they pay: `(line,
/// recorded count, recorded cents, paid count, paid cents)`. There are none unless a
/// redemption was committed, or undone, inside a period after its batch had summed it up:
/// what the in-flight margin of `settlement::create` rules out.
pub async fn lines_disagreeing_with_redemptions(
    conn: &mut Conn,
) -> Result<Vec<(String, i64, i64, i64, i64)>> {
    let rows = sqlx::query(&format!(
        "SELECT l.id, l.redemptions, l.settled_cents, \
                CAST(COALESCE(p.n, 0) AS BIGINT) AS n, \
                CAST(COALESCE(p.cents, 0) AS BIGINT) AS cents \
         FROM settlement_lines l LEFT JOIN ( \
             SELECT id, SUM(n) AS n, SUM(cents) AS cents FROM ( \
                 SELECT l.id, COUNT(*) AS n, SUM(r.value_cents) AS cents \
                 FROM settlement_lines l JOIN redemptions r ON {PERIOD_PAYS} GROUP BY l.id \
                 UNION ALL \
                 SELECT l.id, COUNT(*), SUM(r.value_cents) \
                 FROM settlement_lines l JOIN redemptions r \
                      ON r.settlement_id = l.settlement_id AND r.site_id = l.site_id \
                      AND r.program_id = l.program_id \
                 WHERE r.settlement_id IS NOT NULL GROUP BY l.id) u \
             GROUP BY id) p ON p.id = l.id \
         WHERE l.redemptions <> COALESCE(p.n, 0) OR l.settled_cents <> COALESCE(p.cents, 0) \
         ORDER BY l.id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            ))
        })
        .collect()
}

/// The names of the sites a batch pays, by id.
/// The name of each site of a batch, and the zone where it reads its days.
pub async fn site_names(
    conn: &mut Conn,
    batch_id: &str,
) -> Result<std::collections::HashMap<String, (String, jiff::tz::TimeZone)>> {
    let rows = sqlx::query(
        "SELECT id, name, department, postcode, time_zone FROM organizations WHERE id IN \
         (SELECT site_id FROM settlement_lines WHERE settlement_id = $1)",
    )
    .bind(batch_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let department: Option<String> = r.try_get("department")?;
            let postcode: Option<String> = r.try_get("postcode")?;
            let stored: Option<String> = r.try_get("time_zone")?;
            let zone = crate::zones::zone_for(
                stored.as_deref(),
                department.as_deref().or(postcode.as_deref()),
            );
            Ok((r.try_get("id")?, (r.try_get("name")?, zone)))
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

/// One line, by id.
pub async fn line(conn: &mut Conn, id: &str) -> Result<Option<LineRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {LINE_COLUMNS} FROM settlement_lines WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A cheque a line pays, as its site reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaidCheque {
    pub code: String,
    pub redeemed_at: String,
    pub value_cents: Cents,
    /// The place's name, when the redemption named one.
    pub place: Option<String>,
}

/// The cheques one line pays, in the order they were redeemed.
pub async fn cheques_of_line(conn: &mut Conn, line_id: &str) -> Result<Vec<PaidCheque>> {
    Ok(sqlx::query_as(concat!(
        "SELECT r.code, r.redeemed_at, r.value_cents, p.nom AS place \
         FROM settlement_lines l JOIN redemptions r ON ",
        period_pays!(),
        " LEFT JOIN places p ON p.id = r.place_id WHERE l.id = $1 \
         UNION ALL \
         SELECT r.code, r.redeemed_at, r.value_cents, p.nom AS place \
         FROM settlement_lines l JOIN redemptions r ON r.settlement_id = l.settlement_id \
              AND r.site_id = l.site_id AND r.program_id = l.program_id \
         LEFT JOIN places p ON p.id = r.place_id \
         WHERE l.id = $1 AND r.settlement_id IS NOT NULL \
         ORDER BY 2, 1"
    ))
    .bind(line_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// `(status, batches, total cents)` of the statuses that have batches.
pub async fn totals_by_status(conn: &mut Conn) -> Result<Vec<(String, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT status, COUNT(*), CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) FROM settlements \
         GROUP BY status",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// The line a transfer's end-to-end id names (each is unique: see `create`).
pub async fn line_by_end_to_end(conn: &mut Conn, end_to_end_id: &str) -> Result<Option<LineRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {LINE_COLUMNS} FROM settlement_lines WHERE end_to_end_id = $1"
    ))
    .bind(end_to_end_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Batches whose transfers went to the bank, oldest first.
pub async fn batches_at_the_bank(conn: &mut Conn) -> Result<Vec<BatchRow>> {
    Ok(sqlx::query_as(
        "SELECT id, status, until_date, total_cents, created_at, approved_at, exported_at, paid_at \
         FROM settlements WHERE status IN ('exported', 'paid') ORDER BY created_at, id",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Per programme, what returned transfers hold for sites (not carried, not released).
pub async fn held_by_programme(conn: &mut Conn) -> Result<Vec<(String, Cents)>> {
    let rows = sqlx::query(
        "SELECT program_id, CAST(SUM(amount_cents) AS BIGINT) AS held FROM settlement_lines \
         WHERE status = 'rejected' AND carried_into IS NULL AND released_at IS NULL \
         GROUP BY program_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("program_id")?, Cents::new(r.try_get("held")?))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{OWED_WITHOUT_BANK_DETAILS, PAYABLE};

    /// What a batch pays is summed from the site's index alone, not the table's rows.
    #[tokio::test]
    async fn sqlite_sums_what_is_payable_from_the_sites_index() {
        let details = crate::db::sqlite_plan(PAYABLE, &["9999"]).await;
        assert!(
            details
                .iter()
                .any(|d| d.contains("COVERING INDEX redemptions_site (site_id=?")),
            "{details:?}"
        );
    }

    /// Sites owed without bank details are found without reading every redemption.
    #[tokio::test]
    async fn sqlite_finds_sites_owed_without_reading_every_redemption() {
        let details = crate::db::sqlite_plan(OWED_WITHOUT_BANK_DETAILS, &["9999"]).await;
        assert!(
            details
                .iter()
                .any(|d| d.contains("redemptions_site (site_id=?")),
            "{details:?}"
        );
        assert!(
            !details.iter().any(|d| d.starts_with("SCAN r")),
            "{details:?}"
        );
    }

    /// A line's cheques are read from its site's redemptions, not its programme's.
    #[tokio::test]
    async fn sqlite_reads_a_lines_cheques_from_its_site() {
        let details =
            crate::db::sqlite_plan(cheques_by_line!("AND l.site_id = $2"), &["batch", "site"])
                .await;
        assert!(
            details
                .iter()
                .any(|d| d.contains("redemptions_site (site_id=? AND redeemed_at>?")),
            "{details:?}"
        );
    }
}
