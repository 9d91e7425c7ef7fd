//! SQL for users, sessions and invitations.

use super::{Role, Stage};
use crate::db::Conn;
use crate::error::Result;
use sqlx::Row;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: Option<String>,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub disabled_at: Option<String>,
}

const COLUMNS: &str =
    "id, org_id, email, name, role, password_hash, failed_logins, locked_until, disabled_at";

pub async fn insert(conn: &mut Conn, u: &User, now: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, org_id, email, name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&u.id)
    .bind(&u.org_id)
    .bind(&u.email)
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(&u.password_hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<User>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn find_by_email(conn: &mut Conn, email: &str) -> Result<Option<User>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn list_for_org(conn: &mut Conn, org_id: &str) -> Result<Vec<User>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE org_id = $1 ORDER BY name, email"
    ))
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn record_failure(
    conn: &mut Conn,
    id: &str,
    failures: i64,
    locked_until: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET failed_logins = $1, \
         locked_until = COALESCE($2, locked_until) WHERE id = $3",
    )
    .bind(if locked_until.is_some() { 0 } else { failures })
    .bind(locked_until)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn record_success(conn: &mut Conn, id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A deactivated account opened again (see `invitations::reopen`): no password until the person
/// chooses one from the new link.
pub async fn reopen(conn: &mut Conn, id: &str, name: &str, role: super::Role) -> Result<()> {
    sqlx::query(
        "UPDATE users SET disabled_at = NULL, name = $1, role = $2, password_hash = NULL, \
         failed_logins = 0, locked_until = NULL WHERE id = $3 AND erased_at IS NULL",
    )
    .bind(name)
    .bind(role.as_str())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_password(conn: &mut Conn, id: &str, hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn insert_session(
    conn: &mut Conn,
    hash: &str,
    user_id: &str,
    csrf: &str,
    stage: Stage,
    now: &str,
    expires: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, stage) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash)
    .bind(user_id)
    .bind(csrf)
    .bind(now)
    .bind(expires)
    .bind(stage.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn session_user(
    conn: &mut Conn,
    hash: &str,
    now: &str,
    used_since: &str,
) -> Result<Option<(User, String, Stage, Option<String>)>> {
    let row = sqlx::query(&format!(
        "SELECT s.csrf_token, s.stage, s.last_used_at, {} FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL \
         AND COALESCE(s.last_used_at, s.created_at) >= $3",
        COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(hash)
    .bind(now)
    .bind(used_since)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let user = <User as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row(&row)?;
    let stage: String = row.try_get("stage")?;
    let stage = Stage::try_from(stage)?;
    let last_used: Option<String> = row.try_get("last_used_at")?;
    Ok(Some((user, row.try_get("csrf_token")?, stage, last_used)))
}

pub async fn delete_session(conn: &mut Conn, hash: &str) -> Result<Option<String>> {
    let id_token: Option<Option<String>> =
        sqlx::query_scalar("DELETE FROM sessions WHERE token_hash = $1 RETURNING id_token")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(id_token.flatten())
}

pub async fn insert_invitation(
    conn: &mut Conn,
    hash: &str,
    user_id: &str,
    expires: &str,
    purpose: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO invitations (token_hash, user_id, expires_at, purpose) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash)
    .bind(user_id)
    .bind(expires)
    .bind(purpose)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks an invitation used, once, if still valid; returns its user and its purpose.
pub async fn use_invitation(
    conn: &mut Conn,
    hash: &str,
    now: &str,
) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "UPDATE invitations SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id, purpose",
    )
    .bind(now)
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A link, used or not: `(purpose, e-mail of its account, used_at, expires_at)`.
pub async fn link(
    conn: &mut Conn,
    hash: &str,
) -> Result<Option<(String, String, Option<String>, String)>> {
    Ok(sqlx::query_as(
        "SELECT i.purpose, u.email, i.used_at, i.expires_at \
         FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Voids every link of this user still unused (a newer one is sent, or the password changed).
pub async fn void_invitations(conn: &mut Conn, user_id: &str, now: &str) -> Result<()> {
    sqlx::query("UPDATE invitations SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends every session of this user.
pub async fn delete_sessions_of(conn: &mut Conn, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn invitation_is_valid(conn: &mut Conn, hash: &str, now: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invitations WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Moves a session to another stage of its login, with a new expiry; false if it is gone or
/// was not at stage `from` (two tabs sending a code at once: one wins).
pub async fn advance_session(
    conn: &mut Conn,
    hash: &str,
    from: Stage,
    to: Stage,
    expires: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET stage = $1, expires_at = $2 WHERE token_hash = $3 AND stage = $4",
    )
    .bind(to.as_str())
    .bind(expires)
    .bind(hash)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A person's TOTP secret and whether a first code confirmed it.
pub struct TotpRow {
    pub secret: String,
    pub confirmed: bool,
}

pub async fn totp(conn: &mut Conn, user_id: &str) -> Result<Option<TotpRow>> {
    let row = sqlx::query("SELECT secret, confirmed_at FROM user_totp WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let confirmed: Option<String> = row.try_get("confirmed_at")?;
    Ok(Some(TotpRow {
        secret: row.try_get("secret")?,
        confirmed: confirmed.is_some(),
    }))
}

pub async fn insert_totp(conn: &mut Conn, user_id: &str, secret: &str, now: &str) -> Result<()> {
    sqlx::query("INSERT INTO user_totp (user_id, secret, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(secret)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn confirm_totp(conn: &mut Conn, user_id: &str, step: i64, now: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE user_totp SET confirmed_at = $1, last_step = $2 \
         WHERE user_id = $3 AND confirmed_at IS NULL",
    )
    .bind(now)
    .bind(step)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Accepts a time step once: a later one only (one conditional update, so two requests
/// carrying the same code cannot both pass).
pub async fn use_totp_step(conn: &mut Conn, user_id: &str, step: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE user_totp SET last_step = $1 \
         WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1",
    )
    .bind(step)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the second factor and its recovery codes.
pub async fn delete_totp(conn: &mut Conn, user_id: &str) -> Result<()> {
    for table in ["user_totp", "recovery_codes"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn insert_recovery_code(
    conn: &mut Conn,
    user_id: &str,
    hash: &str,
    now: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Uses a recovery code once.
pub async fn use_recovery_code(
    conn: &mut Conn,
    user_id: &str,
    hash: &str,
    now: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 \
         WHERE code_hash = $2 AND user_id = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn recovery_codes_left(conn: &mut Conn, user_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// The people of an organisation who have a confirmed second factor.
pub async fn enrolled_in_org(conn: &mut Conn, org_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT t.user_id FROM user_totp t JOIN users u ON u.id = t.user_id \
         WHERE u.org_id = $1 AND t.confirmed_at IS NOT NULL",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// A person's open sessions: (token hash, opened, last used, expires), newest first.
pub async fn sessions_of(
    conn: &mut Conn,
    user_id: &str,
    now: &str,
) -> Result<Vec<(String, String, Option<String>, String)>> {
    let rows = sqlx::query(
        "SELECT token_hash, created_at, last_used_at, expires_at FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 AND stage = 'signed' \
         ORDER BY created_at DESC, token_hash",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("token_hash")?,
                r.try_get("created_at")?,
                r.try_get("last_used_at")?,
                r.try_get("expires_at")?,
            ))
        })
        .collect()
}

/// Ends one of this person's sessions, named by the start of its hash.
pub async fn delete_session_of(conn: &mut Conn, user_id: &str, prefix: &str) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND SUBSTR(token_hash, 1, 16) = $2")
            .bind(user_id)
            .bind(prefix)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn touch_session(conn: &mut Conn, hash: &str, now: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
