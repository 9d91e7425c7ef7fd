//! The alerts' table, and what the patterns read.

use super::Kind;
use crate::db::{Conn, Tx};
use crate::error::Result;
use sqlx::Row;

/// An alert as the pages show it.
#[derive(Clone, Debug)]
pub struct Alert {
    pub id: String,
    pub kind: Kind,
    pub program_id: String,
    pub program_name: String,
    pub site_name: Option<String>,
    pub distributor_name: Option<String>,
    pub summary: String,
    /// One fact per line.
    pub evidence: Vec<String>,
    pub detected_at: String,
    pub reviewed_at: Option<String>,
    pub reviewed_by: Option<String>,
    pub review_note: Option<String>,
}

/// An alert found by a pattern, before it is stored.
pub struct NewAlert {
    pub kind: Kind,
    pub subject: String,
    pub program_id: String,
    pub site_id: Option<String>,
    pub distributor_id: Option<String>,
    pub summary: String,
    pub evidence: Vec<String>,
}

const SELECT: &str = "SELECT a.id, a.kind, a.program_id, p.name AS program_name, \
     s.name AS site_name, d.name AS distributor_name, a.summary, a.evidence, a.detected_at, \
     a.reviewed_at, r.name AS reviewed_by, a.review_note \
     FROM alerts a JOIN programs p ON p.id = a.program_id \
     LEFT JOIN organizations s ON s.id = a.site_id \
     LEFT JOIN organizations d ON d.id = a.distributor_id \
     LEFT JOIN organizations r ON r.id = a.reviewed_by_org";

fn alert(row: &sqlx::any::AnyRow) -> Result<Option<Alert>> {
    let kind: String = row.try_get("kind")?;
    let Some(kind) = Kind::parse(&kind) else {
        return Ok(None);
    };
    let evidence: String = row.try_get("evidence")?;
    Ok(Some(Alert {
        id: row.try_get("id")?,
        kind,
        program_id: row.try_get("program_id")?,
        program_name: row.try_get("program_name")?,
        site_name: row.try_get("site_name")?,
        distributor_name: row.try_get("distributor_name")?,
        summary: row.try_get("summary")?,
        evidence: evidence.lines().map(str::to_string).collect(),
        detected_at: row.try_get("detected_at")?,
        reviewed_at: row.try_get("reviewed_at")?,
        reviewed_by: row.try_get("reviewed_by")?,
        review_note: row.try_get("review_note")?,
    }))
}

/// Alerts reviewed or not, of one funder's programmes or of all, newest first.
pub async fn list(
    conn: &mut Conn,
    funder_id: Option<&str>,
    reviewed: bool,
    limit: i64,
) -> Result<Vec<Alert>> {
    let sql = format!(
        "{SELECT} WHERE ($1 = '' OR p.funder_id = $1) AND a.reviewed_at IS {} NULL \
         ORDER BY {} DESC, a.id LIMIT $2",
        if reviewed { "NOT" } else { "" },
        if reviewed {
            "a.reviewed_at"
        } else {
            "a.detected_at"
        }
    );
    let rows = sqlx::query(&sql)
        .bind(funder_id.unwrap_or(""))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let mut alerts = Vec::with_capacity(rows.len());
    for row in &rows {
        alerts.extend(alert(row)?);
    }
    Ok(alerts)
}

pub async fn find(conn: &mut Conn, funder_id: Option<&str>, id: &str) -> Result<Option<Alert>> {
    let sql = format!("{SELECT} WHERE ($1 = '' OR p.funder_id = $1) AND a.id = $2");
    let row = sqlx::query(&sql)
        .bind(funder_id.unwrap_or(""))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(row) => alert(&row)?,
        None => None,
    })
}

/// Stores what was found; an alert already found for the same subject stays as it is. Returns
/// whether it is new.
pub async fn insert(tx: &mut Tx<'_>, alert: &NewAlert, at: &str) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO alerts (id, kind, subject, program_id, site_id, distributor_id, summary, \
         evidence, detected_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (kind, subject) DO NOTHING",
    )
    .bind(crate::db::new_id())
    .bind(alert.kind.as_str())
    .bind(&alert.subject)
    .bind(&alert.program_id)
    .bind(alert.site_id.as_deref())
    .bind(alert.distributor_id.as_deref())
    .bind(&alert.summary)
    .bind(alert.evidence.join("\n"))
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

pub async fn mark_reviewed(
    tx: &mut Tx<'_>,
    id: &str,
    org_id: &str,
    note: Option<&str>,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE alerts SET reviewed_at = $1, reviewed_by_org = $2, review_note = $3 \
         WHERE id = $4 AND reviewed_at IS NULL",
    )
    .bind(at)
    .bind(org_id)
    .bind(note)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Up to when the per-session patterns have looked (the epoch at first).
pub async fn scanned_until(tx: &mut Tx<'_>) -> Result<String> {
    let until: Option<String> =
        sqlx::query_scalar("SELECT scanned_until FROM alert_scans WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
    Ok(until.unwrap_or_default())
}

pub async fn set_scanned_until(tx: &mut Tx<'_>, until: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO alert_scans (id, scanned_until) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET scanned_until = excluded.scanned_until",
    )
    .bind(until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The place's zone, from its stored zone or its département (`time_zone` and `codes`).
fn zone(row: &sqlx::any::AnyRow) -> Result<jiff::tz::TimeZone> {
    let stored: Option<String> = row.try_get("time_zone")?;
    let codes: Option<String> = row.try_get("codes")?;
    Ok(crate::zones::zone_for(stored.as_deref(), codes.as_deref()))
}

/// A carnet all of whose cheques are used, at one site, with a session in `(since, until]`.
pub struct UsedUpCarnet {
    pub pass_id: String,
    pub pass_code: String,
    pub program_id: String,
    pub distributor_id: String,
    pub site_id: String,
    pub cheques: i64,
    pub first: String,
    pub last: String,
    pub sessions: i64,
    pub place_name: Option<String>,
    pub zone: jiff::tz::TimeZone,
}

pub async fn used_up_at_one_site(
    tx: &mut Tx<'_>,
    since: &str,
    until: &str,
) -> Result<Vec<UsedUpCarnet>> {
    let rows = sqlx::query(
        "SELECT p.id, p.pass_code, p.program_id, p.distributor_id, p.cheques, \
         MIN(r.site_id) AS site_id, MIN(r.redeemed_at) AS first, MAX(r.redeemed_at) AS last, \
         COUNT(DISTINCT COALESCE(r.group_id, r.id)) AS sessions, MIN(pl.nom) AS place_name, \
         MIN(pl.time_zone) AS time_zone, MIN(COALESCE(pl.department, pl.code_insee)) AS codes \
         FROM passes p JOIN vouchers v ON v.pass_id = p.id \
         JOIN redemptions r ON r.voucher_id = v.id AND r.undone_at IS NULL \
         LEFT JOIN places pl ON pl.id = r.place_id \
         WHERE p.id IN (SELECT v2.pass_id FROM redemptions r2 \
             JOIN vouchers v2 ON v2.id = r2.voucher_id \
             WHERE r2.redeemed_at > $1 AND r2.redeemed_at <= $2 AND r2.undone_at IS NULL) \
         GROUP BY p.id, p.pass_code, p.program_id, p.distributor_id, p.cheques \
         HAVING COUNT(*) = p.cheques AND MIN(r.site_id) = MAX(r.site_id)",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UsedUpCarnet {
                pass_id: r.try_get("id")?,
                pass_code: r.try_get("pass_code")?,
                program_id: r.try_get("program_id")?,
                distributor_id: r.try_get("distributor_id")?,
                site_id: r.try_get("site_id")?,
                cheques: r.try_get("cheques")?,
                first: r.try_get("first")?,
                last: r.try_get("last")?,
                sessions: r.try_get("sessions")?,
                place_name: r.try_get("place_name")?,
                zone: zone(r)?,
            })
        })
        .collect()
}

/// A session (one or more cheques) at a place with declared opening hours.
pub struct PlacedSession {
    pub place_id: String,
    pub place_name: String,
    pub horaires: String,
    pub site_id: String,
    pub program_id: String,
    pub at: String,
    pub cheques: i64,
    pub zone: jiff::tz::TimeZone,
}

pub async fn sessions_at_places_with_hours(
    tx: &mut Tx<'_>,
    since: &str,
    until: &str,
) -> Result<Vec<PlacedSession>> {
    let rows = sqlx::query(
        "SELECT r.place_id, pl.nom, pl.horaires, r.site_id, r.program_id, \
         MIN(r.redeemed_at) AS at, COUNT(*) AS cheques, pl.time_zone, \
         COALESCE(pl.department, pl.code_insee) AS codes \
         FROM redemptions r JOIN places pl ON pl.id = r.place_id \
         WHERE r.redeemed_at > $1 AND r.redeemed_at <= $2 AND r.undone_at IS NULL \
         AND pl.horaires IS NOT NULL \
         GROUP BY r.place_id, pl.nom, pl.horaires, r.site_id, r.program_id, pl.time_zone, \
         pl.department, pl.code_insee, COALESCE(r.group_id, r.id) ORDER BY MIN(r.redeemed_at)",
    )
    .bind(since)
    .bind(until)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PlacedSession {
                place_id: r.try_get("place_id")?,
                place_name: r.try_get("nom")?,
                horaires: r.try_get("horaires")?,
                site_id: r.try_get("site_id")?,
                program_id: r.try_get("program_id")?,
                at: r.try_get("at")?,
                cheques: r.try_get("cheques")?,
                zone: zone(r)?,
            })
        })
        .collect()
}

/// Started carnets per programme, distributor and site: `(program, distributor, site, carnets)`,
/// the site being `None` for the distributor's total.
pub async fn started_carnets(
    tx: &mut Tx<'_>,
) -> Result<Vec<(String, String, Option<String>, i64)>> {
    let rows = sqlx::query(
        "SELECT r.program_id, r.distributor_id, r.site_id, COUNT(DISTINCT v.pass_id) AS carnets \
         FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
         WHERE r.undone_at IS NULL GROUP BY r.program_id, r.distributor_id, r.site_id \
         UNION ALL \
         SELECT r.program_id, r.distributor_id, NULL, COUNT(DISTINCT v.pass_id) \
         FROM redemptions r JOIN vouchers v ON v.id = r.voucher_id \
         WHERE r.undone_at IS NULL GROUP BY r.program_id, r.distributor_id",
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect()
}

/// Cheques used per site and programme in `[recent_from, until)` and in `[usual_from,
/// recent_from)`, with the site's first redemption: `(site, program, recent, usual, first)`.
pub async fn site_rates(
    tx: &mut Tx<'_>,
    usual_from: &str,
    recent_from: &str,
    until: &str,
) -> Result<Vec<(String, String, i64, i64, String)>> {
    let rows = sqlx::query(
        "SELECT r.site_id, r.program_id, \
         CAST(SUM(CASE WHEN r.redeemed_at >= $2 THEN 1 ELSE 0 END) AS BIGINT) AS recent, \
         CAST(SUM(CASE WHEN r.redeemed_at < $2 THEN 1 ELSE 0 END) AS BIGINT) AS usual, \
         (SELECT MIN(f.redeemed_at) FROM redemptions f WHERE f.site_id = r.site_id) AS first \
         FROM redemptions r \
         WHERE r.redeemed_at >= $1 AND r.redeemed_at < $3 AND r.undone_at IS NULL \
         GROUP BY r.site_id, r.program_id",
    )
    .bind(usual_from)
    .bind(recent_from)
    .bind(until)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("site_id")?,
                r.try_get("program_id")?,
                r.try_get("recent")?,
                r.try_get("usual")?,
                r.try_get("first")?,
            ))
        })
        .collect()
}

/// Names of organisations, for the alerts' sentences.
pub async fn org_name(tx: &mut Tx<'_>, id: &str) -> Result<String> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(name.unwrap_or_else(|| id.to_string()))
}
