//! The SQL of the funder's view. Every query takes `$1` the programme, `$2` and `$3` the
//! period's bounds as stored instants (`[start, end)`), and uses all three: PostgreSQL cannot
//! type a parameter a query leaves out. Each query groups by several keys at once, so that one
//! pass over the rows serves several breakdowns (`outcomes::read` adds the groups up).

use crate::db::Conn;
use crate::error::Result;
use sqlx::Row;

/// What the live redemptions of one cell say of the help given: the cell is the three keys
/// the query was given.
#[derive(Debug, Default)]
pub(super) struct HelpCell {
    pub keys: [String; 3],
    pub cheques: i64,
    pub cents: i64,
    pub sessions: i64,
    pub minutes: i64,
}

/// A session's cheques share the first one's id as `group_id` and each carries the session's
/// minutes: the session and its minutes are counted on its first row only.
const FIRST_OF_SESSION: &str = "(r.group_id IS NULL OR r.group_id = r.id)";

/// The live redemptions of the period.
const LIVE: &str = "r.program_id = $1 AND r.undone_at IS NULL \
                    AND r.redeemed_at >= $2 AND r.redeemed_at < $3";

/// Live redemptions of the period summed by three keys at once (expressions over `r`), so
/// that one pass over them serves several breakdowns: the caller adds the cells up.
pub(super) async fn help_cells(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
    keys: [&str; 3],
) -> Result<Vec<HelpCell>> {
    let [a, b, c] = keys;
    let sql = format!(
        "SELECT {a} AS a, {b} AS b, {c} AS c, COUNT(*) AS cheques, \
                CAST(COALESCE(SUM(r.value_cents), 0) AS BIGINT) AS cents, \
                CAST(COALESCE(SUM(CASE WHEN {FIRST_OF_SESSION} THEN 1 ELSE 0 END), 0) AS BIGINT) \
                    AS sessions, \
                CAST(COALESCE(SUM(CASE WHEN {FIRST_OF_SESSION} THEN COALESCE(r.minutes, 0) \
                    ELSE 0 END), 0) AS BIGINT) AS minutes \
         FROM redemptions r WHERE {LIVE} GROUP BY {a}, {b}, {c}"
    );
    let rows = sqlx::query(&sql)
        .bind(program_id)
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    let key = |r: &sqlx::any::AnyRow, k: &str| -> Result<String> {
        Ok(r.try_get::<Option<String>, _>(k)?.unwrap_or_default())
    };
    rows.iter()
        .map(|r| {
            Ok(HelpCell {
                keys: [key(r, "a")?, key(r, "b")?, key(r, "c")?],
                cheques: r.try_get("cheques")?,
                cents: r.try_get("cents")?,
                sessions: r.try_get("sessions")?,
                minutes: r.try_get("minutes")?,
            })
        })
        .collect()
}

/// People helped (carnets with a live redemption) in the period, grouped by each of `keys`
/// (expressions over `r`, the redemption, and `pl` its place): one list per key. The carnet is
/// on the redemption itself (`redemptions.pass_id`), so no cheque is read; the redemptions are
/// read once for every key, first narrowed to one row per carnet and combination of keys.
pub(super) async fn people(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
    keys: &[&str],
) -> Result<Vec<Vec<(String, i64)>>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let place_join = if keys.iter().any(|k| k.contains("pl.")) {
        " LEFT JOIN places pl ON pl.id = r.place_id"
    } else {
        ""
    };
    let columns: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} AS k{i}"))
        .collect();
    let counts: Vec<String> = (0..keys.len())
        .map(|i| {
            format!(
                "SELECT CAST({i} AS BIGINT) AS i, k{i} AS k, COUNT(DISTINCT pass_id) AS n \
                 FROM u GROUP BY k{i}"
            )
        })
        .collect();
    let sql = format!(
        "WITH u AS (SELECT r.pass_id, {} FROM redemptions r{place_join} WHERE {LIVE} \
                    GROUP BY r.pass_id, {}) \
         {}",
        columns.join(", "),
        keys.join(", "),
        counts.join(" UNION ALL ")
    );
    let rows = sqlx::query(&sql)
        .bind(program_id)
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = vec![Vec::new(); keys.len()];
    for r in &rows {
        let i: i64 = r.try_get("i")?;
        if let Some(list) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
            list.push((
                r.try_get::<Option<String>, _>("k")?.unwrap_or_default(),
                r.try_get("n")?,
            ));
        }
    }
    Ok(out)
}

/// Answers to "Je donne mon avis" given in the period about the programme's sessions: count
/// and sum of the 0-10 marks, by the carnet's distributor, the place and the month of the
/// answer (as `crate::voice` and the observatory date them).
pub(super) async fn opinion_cells(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
) -> Result<Vec<([String; 3], i64, i64)>> {
    let rows = sqlx::query(
        "SELECT p.distributor_id AS a, COALESCE(o.place_id, '') AS b, \
                SUBSTR(o.created_at, 1, 7) AS c, COUNT(*) AS answers, \
                CAST(COALESCE(SUM(o.overall), 0) AS BIGINT) AS marks \
         FROM opinions o JOIN passes p ON p.id = o.pass_id \
         WHERE o.program_id = $1 AND o.created_at >= $2 AND o.created_at < $3 \
         GROUP BY p.distributor_id, COALESCE(o.place_id, ''), SUBSTR(o.created_at, 1, 7)",
    )
    .bind(program_id)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                [r.try_get("a")?, r.try_get("b")?, r.try_get("c")?],
                r.try_get("answers")?,
                r.try_get("marks")?,
            ))
        })
        .collect()
}

/// Carnets issued and handed out in the period, by distributor and by the month of each
/// event (`''` for a carnet never handed out).
#[derive(Debug, Default)]
pub(super) struct IssueCell {
    pub distributor: String,
    pub issued_month: String,
    pub handed_out_month: String,
    pub issued: i64,
    pub handed_out: i64,
}

pub(super) async fn issue_cells(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
) -> Result<Vec<IssueCell>> {
    let rows = sqlx::query(
        "SELECT p.distributor_id AS d, SUBSTR(p.created_at, 1, 7) AS im, \
                COALESCE(SUBSTR(p.activated_at, 1, 7), '') AS hm, \
                CAST(SUM(CASE WHEN p.created_at >= $2 AND p.created_at < $3 THEN 1 ELSE 0 END) \
                    AS BIGINT) AS issued, \
                CAST(SUM(CASE WHEN p.activated_at >= $2 AND p.activated_at < $3 THEN 1 ELSE 0 \
                    END) AS BIGINT) AS handed_out \
         FROM passes p WHERE p.program_id = $1 \
         GROUP BY p.distributor_id, SUBSTR(p.created_at, 1, 7), \
                  COALESCE(SUBSTR(p.activated_at, 1, 7), '')",
    )
    .bind(program_id)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IssueCell {
                distributor: r.try_get("d")?,
                issued_month: r.try_get("im")?,
                handed_out_month: r.try_get("hm")?,
                issued: r.try_get("issued")?,
                handed_out: r.try_get("handed_out")?,
            })
        })
        .collect()
}

/// Carnets started (first cheque used) and finished (last one used) in the period, by
/// distributor and by the month of each event.
#[derive(Debug, Default)]
pub(super) struct UseCell {
    pub distributor: String,
    pub first_month: String,
    pub last_month: String,
    pub started: i64,
    pub finished: i64,
}

pub(super) async fn use_cells(
    conn: &mut Conn,
    program_id: &str,
    (start, end): (&str, &str),
) -> Result<Vec<UseCell>> {
    // Per carnet, its live redemptions up to the period's end: it was started in the period if
    // the first falls in it, finished if all its cheques are used and the last falls in it.
    let rows = sqlx::query(
        "WITH c AS (\
             SELECT r.pass_id, COUNT(*) AS used, MIN(r.redeemed_at) AS first_at, \
                    MAX(r.redeemed_at) AS last_at \
             FROM redemptions r \
             WHERE r.program_id = $1 AND r.undone_at IS NULL AND r.redeemed_at < $3 \
             GROUP BY r.pass_id) \
         SELECT p.distributor_id AS d, SUBSTR(c.first_at, 1, 7) AS fm, \
                SUBSTR(c.last_at, 1, 7) AS lm, \
                CAST(SUM(CASE WHEN c.first_at >= $2 THEN 1 ELSE 0 END) AS BIGINT) AS started, \
                CAST(SUM(CASE WHEN c.used >= p.cheques AND c.last_at >= $2 THEN 1 ELSE 0 END) \
                    AS BIGINT) AS finished \
         FROM c JOIN passes p ON p.id = c.pass_id \
         GROUP BY p.distributor_id, SUBSTR(c.first_at, 1, 7), SUBSTR(c.last_at, 1, 7)",
    )
    .bind(program_id)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UseCell {
                distributor: r.try_get("d")?,
                first_month: r.try_get("fm")?,
                last_month: r.try_get("lm")?,
                started: r.try_get("started")?,
                finished: r.try_get("finished")?,
            })
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

/// The names and départements of these places, by id.
pub(super) async fn places(
    conn: &mut Conn,
    ids: &[&str],
) -> Result<Vec<(String, String, Option<String>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, nom, department FROM places WHERE id IN ({})",
        marks.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("nom")?,
                r.try_get("department")?,
            ))
        })
        .collect()
}
