//! SQL for devices, their allowances, the records they sent and the conflicts found.

use super::Allowance;
use crate::db::Conn;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// A site's console, with the allowance that applies to it (its own, else its site's, else the
/// platform's).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    pub id: String,
    pub site_id: String,
    /// The site's name (for the operator's list).
    pub site_name: String,
    pub label: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The last time it synced.
    pub last_sync_at: Option<String>,
    /// What it may record offline before it must sync.
    pub allowance: Allowance,
    /// Whether the operator set this device's allowance itself.
    pub own_allowance: bool,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    site_id: String,
    site_name: String,
    label: String,
    created_at: String,
    revoked_at: Option<String>,
    last_sync_at: Option<String>,
    max_cheques: Option<i64>,
    max_days: Option<i64>,
    site_max_cheques: Option<i64>,
    site_max_days: Option<i64>,
}

impl DeviceRow {
    fn device(self, default: Allowance) -> Device {
        let own = self.max_cheques.zip(self.max_days);
        let site = self.site_max_cheques.zip(self.site_max_days);
        let (max_cheques, max_days) = own
            .or(site)
            .unwrap_or((default.max_cheques, default.max_days));
        Device {
            id: self.id,
            site_id: self.site_id,
            site_name: self.site_name,
            label: self.label,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            last_sync_at: self.last_sync_at,
            allowance: Allowance {
                max_cheques,
                max_days,
            },
            own_allowance: own.is_some(),
        }
    }
}

const DEVICE: &str = "SELECT d.id, d.site_id, o.name AS site_name, d.label, d.created_at, \
     d.revoked_at, d.last_sync_at, d.max_cheques, d.max_days, \
     a.max_cheques AS site_max_cheques, a.max_days AS site_max_days \
     FROM offline_devices d JOIN organizations o ON o.id = d.site_id \
     LEFT JOIN offline_site_allowances a ON a.site_id = d.site_id";

pub async fn insert_device(
    conn: &mut Conn,
    id: &str,
    site_id: &str,
    label: &str,
    now: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO offline_devices (id, site_id, label, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(site_id)
    .bind(label)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn count_live(conn: &mut Conn, site_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM offline_devices WHERE site_id = $1 AND revoked_at IS NULL",
    )
    .bind(site_id)
    .fetch_one(&mut *conn)
    .await?)
}

pub async fn device(conn: &mut Conn, id: &str, default: Allowance) -> Result<Option<Device>> {
    let row: Option<DeviceRow> = sqlx::query_as(&format!("{DEVICE} WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.device(default)))
}

pub async fn devices_of(conn: &mut Conn, site_id: &str, default: Allowance) -> Result<Vec<Device>> {
    let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
        "{DEVICE} WHERE d.site_id = $1 ORDER BY d.created_at DESC, d.id"
    ))
    .bind(site_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.device(default)).collect())
}

pub async fn all_devices(conn: &mut Conn, default: Allowance) -> Result<Vec<Device>> {
    let rows: Vec<DeviceRow> = sqlx::query_as(&format!(
        "{DEVICE} ORDER BY o.name, d.created_at DESC, d.id LIMIT 1000"
    ))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.device(default)).collect())
}

pub async fn set_device_allowance(
    conn: &mut Conn,
    site_id: &str,
    device_id: &str,
    allowance: Option<Allowance>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE offline_devices SET max_cheques = $1, max_days = $2 WHERE id = $3 AND site_id = $4",
    )
    .bind(allowance.map(|a| a.max_cheques))
    .bind(allowance.map(|a| a.max_days))
    .bind(device_id)
    .bind(site_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_site_allowance(
    conn: &mut Conn,
    site_id: &str,
    allowance: Option<Allowance>,
    now: &str,
) -> Result<bool> {
    match allowance {
        Some(a) => {
            sqlx::query(
                "INSERT INTO offline_site_allowances (site_id, max_cheques, max_days, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (site_id) DO UPDATE SET \
                 max_cheques = excluded.max_cheques, max_days = excluded.max_days, \
                 updated_at = excluded.updated_at",
            )
            .bind(site_id)
            .bind(a.max_cheques)
            .bind(a.max_days)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM offline_site_allowances WHERE site_id = $1")
                .bind(site_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(true)
}

/// Marks a device revoked, once (the first time is kept): whether it was live.
pub async fn revoke_device(conn: &mut Conn, id: &str, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE offline_devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn touch_device(conn: &mut Conn, id: &str, now: &str) -> Result<()> {
    sqlx::query("UPDATE offline_devices SET last_sync_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A record as it was answered the first time.
#[derive(sqlx::FromRow)]
pub struct StoredRecord {
    pub request_hash: String,
    pub session_at: String,
    pub outcome: String,
    pub redemption_id: Option<String>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
}

pub async fn stored_record(
    conn: &mut Conn,
    device_id: &str,
    seq: i64,
) -> Result<Option<StoredRecord>> {
    Ok(sqlx::query_as(
        "SELECT request_hash, session_at, outcome, redemption_id, reason_code, reason \
         FROM offline_records WHERE device_id = $1 AND seq = $2",
    )
    .bind(device_id)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A record's outcome, once: a second insert of the same (device, sequence) breaks the primary
/// key, and its transaction is rolled back.
pub struct NewRecord<'a> {
    pub device_id: &'a str,
    pub seq: i64,
    pub site_id: &'a str,
    pub request_hash: &'a str,
    pub session_at: &'a str,
    pub session_offset: &'a str,
    pub received_at: &'a str,
    pub outcome: &'a str,
    pub redemption_id: Option<&'a str>,
    pub reason_code: Option<&'a str>,
    pub reason: Option<&'a str>,
}

pub async fn insert_record(conn: &mut Conn, r: &NewRecord<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO offline_records (device_id, seq, site_id, request_hash, session_at, \
         session_offset, received_at, outcome, redemption_id, reason_code, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(r.device_id)
    .bind(r.seq)
    .bind(r.site_id)
    .bind(r.request_hash)
    .bind(r.session_at)
    .bind(r.session_offset)
    .bind(r.received_at)
    .bind(r.outcome)
    .bind(r.redemption_id)
    .bind(r.reason_code)
    .bind(r.reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Where and when a cheque was used: its live redemption.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Use {
    pub code: String,
    pub redemption_id: String,
    pub site_name: String,
    pub place_name: Option<String>,
    /// The session's time if it was recorded offline, else the redemption's.
    pub used_at: String,
}

pub async fn uses_of(conn: &mut Conn, codes: &[String]) -> Result<Vec<Use>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=codes.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT v.code, r.id AS redemption_id, o.name AS site_name, p.nom AS place_name, \
         COALESCE(r.session_at, r.redeemed_at) AS used_at \
         FROM vouchers v JOIN redemptions r ON r.voucher_id = v.id AND r.undone_at IS NULL \
         JOIN organizations o ON o.id = r.site_id LEFT JOIN places p ON p.id = r.place_id \
         WHERE v.code IN ({list}) ORDER BY v.code"
    );
    let mut query = sqlx::query_as(&sql);
    for code in codes {
        query = query.bind(code);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

pub async fn insert_conflict(
    conn: &mut Conn,
    device_id: &str,
    seq: i64,
    site_id: &str,
    session_at: &str,
    used: &Use,
    now: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO offline_conflicts (id, device_id, seq, site_id, code, session_at, \
         used_redemption_id, used_site_name, used_place_name, used_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(crate::db::new_id())
    .bind(device_id)
    .bind(seq)
    .bind(site_id)
    .bind(&used.code)
    .bind(session_at)
    .bind(&used.redemption_id)
    .bind(&used.site_name)
    .bind(&used.place_name)
    .bind(&used.used_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A cheque recorded offline that had already been used elsewhere (or online).
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Conflict {
    pub device_id: String,
    /// The device's name.
    pub device_label: String,
    pub seq: i64,
    pub site_id: String,
    pub site_name: String,
    /// The cheque's short code.
    pub code: String,
    /// When the session recorded offline took place.
    pub session_at: String,
    /// Where the cheque had been used: the site, and its place if named.
    pub used_site_name: Option<String>,
    pub used_place_name: Option<String>,
    /// When it had been used.
    pub used_at: Option<String>,
    /// When the conflict was found (the sync).
    pub created_at: String,
}

pub async fn conflicts(
    conn: &mut Conn,
    site_id: Option<&str>,
    limit: i64,
) -> Result<Vec<Conflict>> {
    let filter = if site_id.is_some() {
        "WHERE c.site_id = $2"
    } else {
        ""
    };
    let sql = format!(
        "SELECT c.device_id, d.label AS device_label, c.seq, c.site_id, o.name AS site_name, \
         c.code, c.session_at, c.used_site_name, c.used_place_name, c.used_at, c.created_at \
         FROM offline_conflicts c JOIN offline_devices d ON d.id = c.device_id \
         JOIN organizations o ON o.id = c.site_id {filter} \
         ORDER BY c.created_at DESC, c.id LIMIT $1"
    );
    let mut query = sqlx::query_as(&sql).bind(limit);
    if let Some(site_id) = site_id {
        query = query.bind(site_id);
    }
    let mut rows: Vec<Conflict> = query.fetch_all(&mut *conn).await?;
    for row in &mut rows {
        row.code = crate::vouchers::codes::display_code(&row.code);
    }
    Ok(rows)
}

/// The conflicts stored for one record (to answer its replay the same).
pub async fn conflicts_of(conn: &mut Conn, device_id: &str, seq: i64) -> Result<Vec<Use>> {
    Ok(sqlx::query_as(
        "SELECT code, COALESCE(used_redemption_id, '') AS redemption_id, \
         COALESCE(used_site_name, '') AS site_name, used_place_name AS place_name, \
         COALESCE(used_at, '') AS used_at \
         FROM offline_conflicts WHERE device_id = $1 AND seq = $2 ORDER BY code",
    )
    .bind(device_id)
    .bind(seq)
    .fetch_all(&mut *conn)
    .await?)
}
