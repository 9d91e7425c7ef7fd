//! What a person can see of their access: their open sessions (opened, last used, until when)
//! and their organisation's API tokens (last use), each revocable.

use super::{repo, token_hash, Role, Signed, User};
use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::orgs::TokenRow;
use jiff::{SignedDuration, Timestamp};

/// Last use is written at most this often: a page load is not a write.
const TOUCH_MINUTES: i64 = 5;

pub struct SessionLine {
    /// The first 16 hexadecimal digits of the session's hash: names it without revealing it.
    pub id: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: String,
    /// The session this list is read with.
    pub current: bool,
}

/// A session last used before this moment has ended for being idle `idle_minutes` (0: no
/// such limit, the empty text is before every moment).
pub(super) fn used_since(now: Timestamp, idle_minutes: i64) -> String {
    match idle_minutes {
        0 => String::new(),
        minutes => format_ts(
            now.checked_sub(SignedDuration::from_mins(minutes))
                .unwrap_or(now),
        ),
    }
}

/// One's open sessions: those past their lifetime or idle too long are not; each ends at
/// the earlier of its lifetime and its idle limit, if unused until then.
pub async fn list(
    conn: &mut Conn,
    user_id: &str,
    token: &str,
    now: Timestamp,
    idle_minutes: i64,
) -> Result<Vec<SessionLine>> {
    let current = token_hash(token);
    let since = used_since(now, idle_minutes);
    Ok(repo::sessions_of(conn, user_id, &format_ts(now))
        .await?
        .into_iter()
        .filter_map(|(hash, created_at, last_used_at, expires_at)| {
            let used = last_used_at.clone().unwrap_or_else(|| created_at.clone());
            if used < since {
                return None;
            }
            let idle_end = crate::clock::parse_ts(&used)
                .filter(|_| idle_minutes > 0)
                .and_then(|t| t.checked_add(SignedDuration::from_mins(idle_minutes)).ok())
                .map(format_ts);
            Some(SessionLine {
                id: hash[..16].to_string(),
                current: hash == current,
                created_at,
                last_used_at,
                expires_at: match idle_end {
                    Some(end) if end < expires_at => end,
                    _ => expires_at,
                },
            })
        })
        .collect())
}

/// Whether this session's last use is worth writing down now.
pub fn stale(signed: &Signed, now: Timestamp) -> bool {
    let before = now
        .checked_sub(SignedDuration::from_mins(TOUCH_MINUTES))
        .unwrap_or(now);
    signed
        .last_used_at
        .as_deref()
        .is_none_or(|at| at < format_ts(before).as_str())
}

pub async fn touch(tx: &mut Tx<'_>, token: &str, now: Timestamp) -> Result<()> {
    repo::touch_session(tx, &token_hash(token), &format_ts(now)).await
}

/// Ends one of one's own sessions (another browser, a lost phone), audited.
pub async fn end(tx: &mut Tx<'_>, user: &User, id: &str, now: Timestamp) -> Result<()> {
    if id.len() != 16 || !repo::delete_session_of(tx, &user.id, id).await? {
        return Err(Error::not_found("Cette session n'existe plus."));
    }
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&user.org_id),
        "session.ended",
        Some(&user.id),
        "fermée par son titulaire depuis la liste de ses sessions",
    )
    .await
}

/// The organisation's API tokens, for its people to see.
pub async fn tokens(conn: &mut Conn, signed: &Signed) -> Result<Vec<TokenRow>> {
    crate::orgs::tokens(conn, &signed.org, &signed.org.id).await
}

/// An administrator revokes one of the organisation's tokens (audited by `orgs`).
pub async fn revoke_token(
    tx: &mut Tx<'_>,
    signed: &Signed,
    id: &str,
    now: Timestamp,
) -> Result<()> {
    if signed.user.role != Role::Admin {
        return Err(Error::forbidden(
            "admin_only",
            "Seul un administrateur de l'organisation peut révoquer un jeton.",
        ));
    }
    crate::orgs::revoke_token(tx, &signed.org, &signed.org.id, id, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_sessions_end_after_the_setting_and_never_with_zero() {
        let now: Timestamp = "2026-12-06T12:00:00Z".parse().expect("a moment");
        assert_eq!(
            used_since(now, 120),
            format_ts("2026-12-06T10:00:00Z".parse().expect("a moment"))
        );
        assert_eq!(used_since(now, 0), "");
        assert!(format_ts(now).as_str() > used_since(now, 0).as_str());
    }
}
