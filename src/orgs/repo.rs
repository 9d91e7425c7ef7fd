//! SQL for organizations and api_tokens.

use super::{OrgKind, Organization};
use crate::db::{Batch, Conn, P};
use crate::error::Result;
use crate::sites::places::QualificationStatus;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "o.id, o.kind, o.name, o.siret, o.department, o.postcode, \
                       o.qualification_status, o.qualified_until, o.time_zone";

fn from_row(row: &AnyRow) -> Result<Organization> {
    let kind: String = row.try_get("kind")?;
    Ok(Organization {
        id: row.try_get("id")?,
        kind: OrgKind::parse(&kind)
            .ok_or_else(|| anyhow::anyhow!("unknown organisation kind {kind}"))?,
        name: row.try_get("name")?,
        siret: row.try_get("siret")?,
        department: row.try_get("department")?,
        postcode: row.try_get("postcode")?,
        qualification_status: QualificationStatus::try_from(
            row.try_get::<String, _>("qualification_status")?,
        )?,
        qualified_until: row.try_get("qualified_until")?,
        time_zone: row.try_get("time_zone")?,
    })
}

pub async fn insert(conn: &mut Conn, org: &Organization, now: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO organizations (id, kind, name, siret, department, postcode, \
         qualification_status, qualified_until, created_at, time_zone) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&org.id)
    .bind(org.kind.as_str())
    .bind(&org.name)
    .bind(&org.siret)
    .bind(&org.department)
    .bind(&org.postcode)
    .bind(org.qualification_status.as_str())
    .bind(&org.qualified_until)
    .bind(now)
    .bind(&org.time_zone)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_time_zone(conn: &mut Conn, id: &str, zone: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE organizations SET time_zone = $1 WHERE id = $2")
        .bind(zone)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Organization>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM organizations o WHERE o.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The site organisation with this SIRET, if one is registered.
pub async fn find_site_by_siret(conn: &mut Conn, siret: &str) -> Result<Option<Organization>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM organizations o WHERE o.kind = 'site' AND o.siret = $1 \
         ORDER BY o.created_at LIMIT 1"
    ))
    .bind(siret)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// A token that authenticated: its hash, its organisation, and when it was made and last used.
pub struct Holder {
    pub hash: String,
    pub org: Organization,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// The organisations of live tokens among `hashes`, each with its token.
pub async fn find_by_token_hashes(conn: &mut Conn, hashes: &[String]) -> Result<Vec<Holder>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=hashes.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT t.token_hash, t.created_at AS token_created_at, t.last_used_at, {COLUMNS} \
         FROM api_tokens t JOIN organizations o ON o.id = t.org_id \
         WHERE t.token_hash IN ({list}) AND t.revoked_at IS NULL"
    );
    let mut query = sqlx::query(&sql);
    for hash in hashes {
        query = query.bind(hash);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            Ok(Holder {
                hash: row.try_get("token_hash")?,
                created_at: row.try_get("token_created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                org: from_row(row)?,
            })
        })
        .collect()
}

/// Notes that these tokens were used now (sent with the caller's other writes).
pub fn touch_tokens(batch: &mut Batch, hashes: &[String], now: &str) {
    for hash in hashes {
        batch.push(
            format!("UPDATE api_tokens SET last_used_at = {P} WHERE token_hash = {P}"),
            vec![now.into(), hash.as_str().into()],
        );
    }
}

/// An organisation's tokens, newest first.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TokenRow {
    /// The first 16 hexadecimal digits of the token's SHA-256: names it without revealing it.
    pub id: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

pub async fn tokens_of(conn: &mut Conn, org_id: &str) -> Result<Vec<TokenRow>> {
    Ok(sqlx::query_as(
        "SELECT substr(token_hash, 1, 16) AS id, created_at, last_used_at, revoked_at \
         FROM api_tokens WHERE org_id = $1 ORDER BY created_at DESC, token_hash",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Revokes one of an organisation's live tokens (by id, or by hash); false if none matched.
pub async fn revoke_token(
    conn: &mut Conn,
    org_id: &str,
    id_or_hash: &str,
    now: &str,
    by: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1, revoked_by = $2 \
         WHERE org_id = $3 AND revoked_at IS NULL \
         AND (substr(token_hash, 1, 16) = $4 OR token_hash = $4)",
    )
    .bind(now)
    .bind(by)
    .bind(org_id)
    .bind(id_or_hash)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn insert_token(conn: &mut Conn, hash: &str, org_id: &str, now: &str) -> Result<()> {
    sqlx::query("INSERT INTO api_tokens (token_hash, org_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(org_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn update_qualification(
    conn: &mut Conn,
    id: &str,
    status: &str,
    valid_until: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE organizations SET qualification_status = $1, qualified_until = $2 WHERE id = $3",
    )
    .bind(status)
    .bind(valid_until)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn first_of_kind(conn: &mut Conn, kind: OrgKind) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM organizations WHERE kind = $1 ORDER BY created_at LIMIT 1",
    )
    .bind(kind.as_str())
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn departments(
    conn: &mut Conn,
) -> Result<std::collections::BTreeMap<String, Option<String>>> {
    let rows = sqlx::query("SELECT id, department FROM organizations")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("department")?)))
        .collect()
}

pub async fn list(conn: &mut Conn) -> Result<Vec<Organization>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM organizations o ORDER BY o.kind, o.name"
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}
