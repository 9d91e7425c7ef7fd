//! The SQL of the beneficiaries' voice. A session is `COALESCE(group_id, id)` of its live
//! redemptions; sums are cast to BIGINT (PostgreSQL's SUM of a BIGINT is NUMERIC).

use super::{Scope, Summary, ALONE, YES_PARTLY_NO};
use crate::db::{Conn, Tx};
use crate::error::Result;
use sqlx::Row;

/// A session of help as an answer is tied to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub pass_id: String,
    pub program_id: String,
    pub site_id: String,
    pub place_id: Option<String>,
    /// When it was redeemed (timestamp).
    pub at: String,
    /// The place's name, or the site's.
    pub place_name: String,
}

/// A comment as the operator reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub at: String,
    pub overall: i64,
    pub text: String,
}

const SESSION: &str =
    "SELECT COALESCE(r.group_id, r.id) AS session_id, MIN(v.pass_id) AS pass_id, \
       MIN(r.program_id) AS program_id, MIN(r.site_id) AS site_id, MIN(r.place_id) AS place_id, \
       MIN(r.redeemed_at) AS at, MIN(COALESCE(pl.nom, o.name)) AS place_name \
     FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
     JOIN organizations o ON o.id = r.site_id \
     LEFT JOIN places pl ON pl.id = r.place_id \
     WHERE r.undone_at IS NULL AND ";

fn session_of(row: &sqlx::any::AnyRow) -> Result<Session> {
    Ok(Session {
        id: row.try_get("session_id")?,
        pass_id: row.try_get("pass_id")?,
        program_id: row.try_get("program_id")?,
        site_id: row.try_get("site_id")?,
        place_id: row.try_get("place_id")?,
        at: row.try_get("at")?,
        place_name: row.try_get("place_name")?,
    })
}

pub async fn session(conn: &mut Conn, session_id: &str) -> Result<Option<Session>> {
    let row = sqlx::query(&format!(
        "{SESSION} (r.group_id = $1 OR (r.group_id IS NULL AND r.id = $1)) \
         GROUP BY COALESCE(r.group_id, r.id)"
    ))
    .bind(session_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(session_of).transpose()
}

pub async fn next_unanswered(conn: &mut Conn, pass_id: &str) -> Result<Option<Session>> {
    let row = sqlx::query(&format!(
        "{SESSION} v.pass_id = $1 AND NOT EXISTS \
           (SELECT 1 FROM opinions op WHERE op.session_id = COALESCE(r.group_id, r.id)) \
         GROUP BY COALESCE(r.group_id, r.id) ORDER BY MIN(r.redeemed_at), 1 LIMIT 1"
    ))
    .bind(pass_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(session_of).transpose()
}

pub async fn sessions_of_pass(conn: &mut Conn, pass_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(DISTINCT COALESCE(r.group_id, r.id)) FROM redemptions r \
           JOIN vouchers v ON v.id = r.voucher_id \
          WHERE v.pass_id = $1 AND r.undone_at IS NULL",
    )
    .bind(pass_id)
    .fetch_one(&mut *conn)
    .await?)
}

pub async fn answered_of_pass(conn: &mut Conn, pass_id: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM opinions WHERE pass_id = $1")
            .bind(pass_id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

pub async fn session_of_token(conn: &mut Conn, token: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT session_id FROM opinion_links WHERE token = $1")
            .bind(token)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn session_of_redemption(
    conn: &mut Conn,
    site_id: &str,
    redemption_id: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(group_id, id) FROM redemptions \
         WHERE id = $1 AND site_id = $2 AND undone_at IS NULL",
    )
    .bind(redemption_id)
    .bind(site_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// The session's link token: the one already made, or `token`, saved.
pub async fn link(tx: &mut Tx<'_>, session_id: &str, token: &str, now: &str) -> Result<String> {
    sqlx::query(
        "INSERT INTO opinion_links (token, session_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(token)
    .bind(session_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT token FROM opinion_links WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// Saves an answer; `false` when the session already has one.
pub async fn insert(
    tx: &mut Tx<'_>,
    s: &super::Session,
    overall: i64,
    [reached, clear, alone]: [Option<&str>; 3],
    comment: Option<&str>,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO opinions (session_id, pass_id, program_id, site_id, place_id, overall, \
           reached, clear, alone, comment, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(&s.id)
    .bind(&s.pass_id)
    .bind(&s.program_id)
    .bind(&s.site_id)
    .bind(&s.place_id)
    .bind(overall)
    .bind(reached)
    .bind(clear)
    .bind(alone)
    .bind(comment)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `(condition on opinions "o", condition on feedback "f" joined to passes "p")` of a scope;
/// `$1` is the scope's organisation, `$2` the start.
fn scope_sql(scope: Scope<'_>) -> (&'static str, &'static str) {
    match scope {
        Scope::Site(_) => ("o.site_id = $1", "1 = 0"),
        Scope::Funder(_) => (
            "o.program_id IN (SELECT id FROM programs WHERE funder_id = $1)",
            "p.program_id IN (SELECT id FROM programs WHERE funder_id = $1)",
        ),
        Scope::All => ("$1 = $1", "$1 = $1"),
    }
}

pub async fn summary(conn: &mut Conn, scope: Scope<'_>, since: Option<&str>) -> Result<Summary> {
    let org = match scope {
        Scope::Site(id) | Scope::Funder(id) => id,
        Scope::All => "",
    };
    let since = since.unwrap_or("");
    let (opinions, feedback) = scope_sql(scope);
    let rows = sqlx::query(&format!(
        "SELECT o.overall, COALESCE(o.reached, '') AS reached, COALESCE(o.clear, '') AS clear, \
                COALESCE(o.alone, '') AS alone, COUNT(*) AS n \
         FROM opinions o WHERE {opinions} AND o.created_at >= $2 \
         GROUP BY o.overall, o.reached, o.clear, o.alone"
    ))
    .bind(org)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut s = Summary::default();
    let tally = |counts: &mut [i64; 3], list: &[(&str, &str)], value: &str, n: i64| {
        if let Some(i) = list.iter().position(|(v, _)| *v == value) {
            counts[i] += n;
        }
    };
    for row in &rows {
        let overall: i64 = row.try_get("overall")?;
        let n: i64 = row.try_get("n")?;
        s.answers += n;
        if let Some(slot) = usize::try_from(overall)
            .ok()
            .and_then(|i| s.marks.get_mut(i))
        {
            *slot += n;
        }
        tally(
            &mut s.reached,
            YES_PARTLY_NO,
            &row.try_get::<String, _>("reached")?,
            n,
        );
        tally(
            &mut s.clear,
            YES_PARTLY_NO,
            &row.try_get::<String, _>("clear")?,
            n,
        );
        tally(&mut s.alone, ALONE, &row.try_get::<String, _>("alone")?, n);
    }
    let (count, sum): (i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(f.rating), 0) AS BIGINT) \
         FROM feedback f JOIN passes p ON p.id = f.pass_id \
         WHERE {feedback} AND f.created_at >= $2"
    ))
    .bind(org)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    s.old_scale_answers = count;
    s.old_scale_average_tenths = (count > 0).then(|| (sum * 20 + count) / (count * 2));
    Ok(s)
}

pub async fn comments(conn: &mut Conn, limit: i64) -> Result<Vec<Comment>> {
    let rows = sqlx::query(
        "SELECT created_at, overall, comment FROM opinions WHERE comment IS NOT NULL \
         ORDER BY created_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Comment {
                at: row.try_get("created_at")?,
                overall: row.try_get("overall")?,
                text: row.try_get("comment")?,
            })
        })
        .collect()
}
