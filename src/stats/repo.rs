//! The SQL of the funder's view. Every query takes `$1` the programme, `$2` and `$3` the
//! period's bounds as stored instants (`[start, end)`), and uses all three: PostgreSQL cannot
//! type a parameter a query leaves out. A key of `''` means one row for the whole programme (no
//! GROUP BY: PostgreSQL refuses to group by a constant).

use crate::db::Conn;
use crate::error::Result;
use sqlx::Row;

/// What the live redemptions of one group say of the help given.
#[derive(Debug, Default)]
pub(super) struct HelpRow {
    pub key: String,
    pub cheques: i64,
    pub cents: i64,
    pub sessions: i64,
    pub minutes: i64,
    pub people: i64,
}

fn group_by(key: &str) -> String {
    if key == "''" {
        String::new()
    } else {
        format!(" GROUP BY {key}")
    }
}

/// A session's cheques share the first one's id as `group_id` and each carries the session's
/// minutes: the session and its minutes are counted on its first row only.
const FIRST_OF_SESSION: &str = "(r.group_id IS NULL OR r.group_id = r.id)";

/// Live redemptions of the period grouped by `key` (an expression over `r`, the redemption,
/// `v` its cheque and `pl` its place).
pub(super) async fn help(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
    key: &str,
) -> Result<Vec<HelpRow>> {
    let place_join = if key.contains("pl.") {
        " LEFT JOIN places pl ON pl.id = r.place_id"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {key} AS k, COUNT(*) AS cheques, \
                CAST(COALESCE(SUM(r.value_cents), 0) AS BIGINT) AS cents, \
                CAST(COALESCE(SUM(CASE WHEN {FIRST_OF_SESSION} THEN 1 ELSE 0 END), 0) AS BIGINT) \
                    AS sessions, \
                CAST(COALESCE(SUM(CASE WHEN {FIRST_OF_SESSION} THEN COALESCE(r.minutes, 0) \
                    ELSE 0 END), 0) AS BIGINT) AS minutes, \
                COUNT(DISTINCT v.pass_id) AS people \
         FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id{place_join} \
         WHERE r.program_id = $1 AND r.undone_at IS NULL \
           AND r.redeemed_at >= $2 AND r.redeemed_at < $3{}",
        group_by(key)
    );
    let rows = sqlx::query(&sql)
        .bind(program_id)
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(HelpRow {
                key: r.try_get::<Option<String>, _>("k")?.unwrap_or_default(),
                cheques: r.try_get("cheques")?,
                cents: r.try_get("cents")?,
                sessions: r.try_get("sessions")?,
                minutes: r.try_get("minutes")?,
                people: r.try_get("people")?,
            })
        })
        .collect()
}

/// What happens to a carnet, each event dated by the instant the `key` closure is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CarnetEvent {
    /// Made by its distributor (handed out or kept in stock).
    Issued,
    /// Handed to a beneficiary (activated); stock carnets have no such instant.
    HandedOut,
    /// Its first cheque used.
    Started,
    /// Its last cheque used.
    Finished,
}

/// Carnets of the programme whose `event` fell in the period, grouped by `key(instant column)`
/// (an expression over `p`, the carnet).
pub(super) async fn carnets(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
    event: CarnetEvent,
    key: &(dyn Fn(&str) -> String + Sync),
) -> Result<Vec<(String, i64)>> {
    // Per carnet, its live redemptions up to the period's end: it was started in the period if
    // the first falls in it, finished if all its cheques are used and the last falls in it.
    const USED: &str = "WITH c AS (\
         SELECT v.pass_id, COUNT(*) AS used, MIN(r.redeemed_at) AS first_at, \
                MAX(r.redeemed_at) AS last_at \
         FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
         WHERE r.program_id = $1 AND r.undone_at IS NULL AND r.redeemed_at < $3 \
         GROUP BY v.pass_id) ";
    let sql = match event {
        CarnetEvent::Issued | CarnetEvent::HandedOut => {
            let at = if event == CarnetEvent::Issued {
                "p.created_at"
            } else {
                "p.activated_at"
            };
            let k = key(at);
            format!(
                "SELECT {k} AS k, COUNT(*) AS n FROM passes p \
                 WHERE p.program_id = $1 AND {at} >= $2 AND {at} < $3{}",
                group_by(&k)
            )
        }
        CarnetEvent::Started => {
            let k = key("c.first_at");
            format!(
                "{USED}SELECT {k} AS k, COUNT(*) AS n FROM c JOIN passes p ON p.id = c.pass_id \
                 WHERE c.first_at >= $2{}",
                group_by(&k)
            )
        }
        CarnetEvent::Finished => {
            let k = key("c.last_at");
            format!(
                "{USED}SELECT {k} AS k, COUNT(*) AS n FROM c JOIN passes p ON p.id = c.pass_id \
                 WHERE c.used >= p.cheques AND c.last_at >= $2{}",
                group_by(&k)
            )
        }
    };
    let rows = sqlx::query(&sql)
        .bind(program_id)
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<Option<String>, _>("k")?.unwrap_or_default(),
                r.try_get("n")?,
            ))
        })
        .collect()
}

/// The programme's ledger transactions of the period: `(month, kind, amount)`.
pub(super) async fn ledger_by_month(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT SUBSTR(created_at, 1, 7) AS month, kind, \
                CAST(SUM(amount_cents) AS BIGINT) AS cents \
         FROM ledger_transactions \
         WHERE program_id = $1 AND created_at >= $2 AND created_at < $3 \
         GROUP BY SUBSTR(created_at, 1, 7), kind",
    )
    .bind(program_id)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("month")?, r.try_get("kind")?, r.try_get("cents")?)))
        .collect()
}

/// The names of these places, by id.
pub(super) async fn place_names(conn: &mut Conn, ids: &[&str]) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, nom FROM places WHERE id IN ({})",
        marks.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("nom")?)))
        .collect()
}
