//! SQL for ProConnect logins and membership requests.

use super::RequestStatus;
use crate::db::Conn;
use crate::error::Result;
use sqlx::Row;

pub async fn insert_login(
    conn: &mut Conn,
    state_hash: &str,
    nonce: &str,
    verifier: &str,
    expires: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(state_hash)
    .bind(nonce)
    .bind(verifier)
    .bind(expires)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Uses a login once: its nonce and PKCE verifier, if it exists and is current.
pub async fn take_login(
    conn: &mut Conn,
    state_hash: &str,
    now: &str,
) -> Result<Option<(String, String)>> {
    let row = sqlx::query(
        "DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING nonce, pkce_verifier, expires_at",
    )
    .bind(state_hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires: String = row.try_get("expires_at")?;
    if expires.as_str() <= now {
        return Ok(None);
    }
    Ok(Some((row.try_get("nonce")?, row.try_get("pkce_verifier")?)))
}

pub async fn user_by_subject(conn: &mut Conn, subject: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE oidc_subject = $1")
            .bind(subject)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn link_subject(conn: &mut Conn, user_id: &str, subject: &str) -> Result<()> {
    sqlx::query("UPDATE users SET oidc_subject = $1 WHERE id = $2")
        .bind(subject)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_session_id_token(conn: &mut Conn, hash: &str, id_token: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET id_token = $1 WHERE token_hash = $2")
        .bind(id_token)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Organisations (not the operator) with this SIRET.
pub async fn orgs_by_siret(conn: &mut Conn, siret: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM organizations WHERE siret = $1 AND kind <> 'operator' ORDER BY id",
    )
    .bind(siret)
    .fetch_all(&mut *conn)
    .await?)
}

/// Organisations (not the operator) whose active people have addresses at this domain.
pub async fn orgs_by_domain(conn: &mut Conn, domain: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT u.org_id FROM users u JOIN organizations o ON o.id = u.org_id \
         WHERE u.disabled_at IS NULL AND o.kind <> 'operator' \
         AND SUBSTR(u.email, LENGTH(u.email) - LENGTH($1) + 1) = $1 ORDER BY u.org_id",
    )
    .bind(format!("@{domain}"))
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub id: String,
    pub org_id: String,
    pub oidc_subject: String,
    pub email: String,
    pub name: String,
    pub matched_by: String,
    #[sqlx(try_from = "String")]
    pub status: RequestStatus,
    pub created_at: String,
}

const COLUMNS: &str = "id, org_id, oidc_subject, email, name, matched_by, status, created_at";

pub async fn insert_request(conn: &mut Conn, r: &Request) -> Result<()> {
    sqlx::query(
        "INSERT INTO membership_requests \
         (id, org_id, oidc_subject, email, name, matched_by, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&r.id)
    .bind(&r.org_id)
    .bind(&r.oidc_subject)
    .bind(&r.email)
    .bind(&r.name)
    .bind(&r.matched_by)
    .bind(r.status.as_str())
    .bind(&r.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn request(conn: &mut Conn, id: &str) -> Result<Option<Request>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM membership_requests WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn requests_of_org(
    conn: &mut Conn,
    org_id: &str,
    status: RequestStatus,
) -> Result<Vec<Request>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM membership_requests WHERE org_id = $1 AND status = $2 \
         ORDER BY created_at, id"
    ))
    .bind(org_id)
    .bind(status.as_str())
    .fetch_all(&mut *conn)
    .await?)
}

/// Moves a request from one status to the next, once.
pub async fn set_request_status(
    conn: &mut Conn,
    id: &str,
    from: RequestStatus,
    to: RequestStatus,
    decided: Option<(&str, &str)>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE membership_requests SET status = $1, decided_at = $2, decided_by = $3 \
         WHERE id = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(decided.map(|d| d.0))
    .bind(decided.map(|d| d.1))
    .bind(id)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
