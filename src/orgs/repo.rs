//! SQL for organizations and api_tokens.

use super::{OrgKind, Organization};
use crate::db::Conn;
use crate::error::Result;
use crate::qualification::Status as QualificationStatus;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "o.id, o.kind, o.name, o.siret, o.department, o.postcode, \
                       o.qualification_status, o.qualified_until";

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
    })
}

pub async fn insert(conn: &mut Conn, org: &Organization, now: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO organizations (id, kind, name, siret, department, postcode, \
         qualification_status, qualified_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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

/// The organisations of live tokens among `hashes`, each with its token's hash.
pub async fn find_by_token_hashes(
    conn: &mut Conn,
    hashes: &[String],
) -> Result<Vec<(String, Organization)>> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let list = (1..=hashes.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT t.token_hash, {COLUMNS} FROM api_tokens t JOIN organizations o ON o.id = t.org_id \
         WHERE t.token_hash IN ({list}) AND t.revoked_at IS NULL"
    );
    let mut query = sqlx::query(&sql);
    for hash in hashes {
        query = query.bind(hash);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| Ok((row.try_get("token_hash")?, from_row(row)?)))
        .collect()
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
