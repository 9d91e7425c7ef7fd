//! The SQL of the funder's view: the figures kept as they happen (`super::figures`), read by
//! period, and the people of a period that does not start with the programme, counted from
//! its redemptions (PostgreSQL cannot type a parameter a query leaves out: each query uses
//! every one it takes).

use super::figures::{Axis, Figures, COLUMNS};
use crate::db::{Batch, Conn, Param};
use crate::error::Result;
use sqlx::Row;

/// The live redemptions of the period.
const LIVE: &str = "r.program_id = $1 AND r.undone_at IS NULL \
                    AND r.redeemed_at >= $2 AND r.redeemed_at < $3";

/// The kept figures of one cell over the period (see `super::figures`), its month added up.
#[derive(Debug)]
pub(super) struct Cell {
    pub axis: Axis,
    pub keys: [String; 3],
    /// `YYYY-MM`, in Paris.
    pub month: String,
    pub figures: Figures,
}

/// The part of the kept figures a period reads: its whole months (`[start, end)` of
/// `YYYY-MM`) and the days of the months it partly covers (two `[start, end)` of
/// `YYYY-MM-DD`, empty when `start == end`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Spans {
    pub months: (String, String),
    pub days: [(String, String); 2],
}

/// The programme's kept figures over `spans`, by axis, keys and month, zero cells left out.
pub(super) async fn cells(conn: &mut Conn, program_id: &str, spans: &Spans) -> Result<Vec<Cell>> {
    let sums: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}"))
        .collect();
    let sql = format!(
        "SELECT axis, k1, k2, k3, SUBSTR(at, 1, 7) AS month, {} FROM figure_cells \
         WHERE program_id = $1 AND ((span = 'm' AND at >= $2 AND at < $3) \
               OR (span = 'd' AND ((at >= $4 AND at < $5) OR (at >= $6 AND at < $7)))) \
         GROUP BY axis, k1, k2, k3, SUBSTR(at, 1, 7)",
        sums.join(", ")
    );
    let [head, tail] = &spans.days;
    let rows = sqlx::query(&sql)
        .bind(program_id)
        .bind(&spans.months.0)
        .bind(&spans.months.1)
        .bind(&head.0)
        .bind(&head.1)
        .bind(&tail.0)
        .bind(&tail.1)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let Some(axis) = Axis::from_stored(&r.try_get::<String, _>("axis")?) else {
            continue;
        };
        let mut values = [0i64; 10];
        for (v, c) in values.iter_mut().zip(COLUMNS) {
            *v = r.try_get(c)?;
        }
        let figures = Figures::from_values(values);
        if figures == Figures::default() {
            continue;
        }
        out.push(Cell {
            axis,
            keys: [r.try_get("k1")?, r.try_get("k2")?, r.try_get("k3")?],
            month: r.try_get("month")?,
            figures,
        });
    }
    Ok(out)
}

/// People helped over the programme's whole life, kept as `(dimension, key, people)`.
pub(super) async fn kept_people(
    conn: &mut Conn,
    program_id: &str,
) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT dimension, key, CAST(SUM(people) AS BIGINT) AS n FROM figure_people \
         WHERE program_id = $1 GROUP BY dimension, key HAVING SUM(people) <> 0",
    )
    .bind(program_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("dimension")?, r.try_get("key")?, r.try_get("n")?)))
        .collect()
}

/// The first and last instants a cheque of the programme was used, if any.
pub(super) async fn used_between(
    conn: &mut Conn,
    program_id: &str,
) -> Result<Option<(String, String)>> {
    // One aggregate a subquery: SQLite reads only the index's first or last entry for a lone
    // MIN or MAX, but every redemption of the programme for both at once (0.6 s at 4.75
    // million; BENCHMARKS.md, run W).
    let row = sqlx::query(
        "SELECT (SELECT MIN(redeemed_at) FROM redemptions WHERE program_id = $1) AS first, \
                (SELECT MAX(redeemed_at) FROM redemptions WHERE program_id = $2) AS last",
    )
    .bind(program_id)
    .bind(program_id)
    .fetch_one(&mut *conn)
    .await?;
    let first: Option<String> = row.try_get("first")?;
    let last: Option<String> = row.try_get("last")?;
    Ok(first.zip(last))
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

/// People helped over a closed month (`YYYY-MM`, see `super::months`) as
/// `(dimension, key, people)`, if that month of the programme is closed.
pub(super) async fn closed_month_people(
    conn: &mut Conn,
    program_id: &str,
    month: &str,
) -> Result<Option<Vec<(String, String, i64)>>> {
    let closed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM figure_closed_months WHERE program_id = $1 AND month = $2",
    )
    .bind(program_id)
    .bind(month)
    .fetch_one(&mut *conn)
    .await?;
    if closed == 0 {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT dimension, key, people FROM figure_month_people \
         WHERE program_id = $1 AND month = $2",
    )
    .bind(program_id)
    .bind(month)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("dimension")?,
                r.try_get("key")?,
                r.try_get("people")?,
            ))
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// The months of the programme already closed.
pub(super) async fn closed_months(conn: &mut Conn, program_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT month FROM figure_closed_months WHERE program_id = $1 ORDER BY month",
    )
    .bind(program_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Closes a month of the programme with its people by group; false (and nothing written)
/// when another run closed it first.
pub(super) async fn close_month(
    conn: &mut Conn,
    program_id: &str,
    month: &str,
    people: &[(&str, String, i64)],
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO figure_closed_months (program_id, month, counted_at) VALUES ($1, $2, $3) \
         ON CONFLICT (program_id, month) DO NOTHING",
    )
    .bind(program_id)
    .bind(month)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let rows = people
        .iter()
        .filter(|(_, _, n)| *n != 0)
        .map(|(dimension, key, n)| {
            vec![
                Param::from(program_id),
                month.into(),
                (*dimension).into(),
                key.as_str().into(),
                (*n).into(),
            ]
        })
        .collect();
    let mut batch = Batch::new(conn);
    batch.push_rows(
        "INSERT INTO figure_month_people (program_id, month, dimension, key, people)",
        "",
        rows,
    );
    batch.execute(conn).await?;
    Ok(true)
}
