//! The erasing statements, one per kind of data: what each keeps and drops reads here.

use crate::db::Tx;
use crate::error::Result;

/// Removes the e-mail of every carnet ended before `before` (cancelled, or no cheque left
/// that can still be used and none changed since), and the e-mails to that address still in the
/// outbox unless another carnet or an account still has it. Returns `(carnets, e-mails)`.
pub async fn erase_carnet_emails(tx: &mut Tx<'_>, before: &str) -> Result<(u64, u64)> {
    let ended = "email IS NOT NULL AND (\
           (status = 'cancelled' AND cancelled_at < $1) \
           OR NOT EXISTS (SELECT 1 FROM vouchers v WHERE v.pass_id = passes.id \
             AND (v.status IN ('valid', 'inactive') OR v.status_changed_at IS NULL \
                  OR v.status_changed_at >= $1)))";
    // RETURNING gives the new value (NULL): the addresses are read first.
    let erased: Vec<String> =
        sqlx::query_scalar(&format!("SELECT email FROM passes WHERE {ended}"))
            .bind(before)
            .fetch_all(&mut **tx)
            .await?;
    let carnets = sqlx::query(&format!("UPDATE passes SET email = NULL WHERE {ended}"))
        .bind(before)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    // Addresses are stored lower-cased (`mail::Email`).
    let mut addresses: Vec<String> = erased.iter().map(|e| e.to_lowercase()).collect();
    addresses.sort();
    addresses.dedup();
    let mut mails = 0;
    for chunk in addresses.chunks(500) {
        let list = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "DELETE FROM outbox WHERE LOWER(to_address) IN ({list}) \
             AND LOWER(to_address) NOT IN (SELECT email FROM passes WHERE email IN ({list})) \
             AND LOWER(to_address) NOT IN (SELECT email FROM users WHERE email IN ({list}))"
        );
        let mut delete = sqlx::query(&sql);
        for address in chunk {
            delete = delete.bind(address);
        }
        mails += delete.execute(&mut **tx).await?.rows_affected();
    }
    Ok((carnets, mails))
}

/// Deletes the e-mails sent, or given up after repeated failures, before `before`: address,
/// subject, body and attachments.
pub async fn erase_sent_mails(tx: &mut Tx<'_>, before: &str) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM outbox WHERE (status = 'sent' AND sent_at < $1) \
         OR (status = 'failed' AND next_attempt_at < $1)",
    )
    .bind(before)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Deletes the ProConnect requests to join an organisation decided before `before`, or made
/// before it and never decided: the agent's name and e-mail go with them (an approved agent's
/// account keeps its own).
pub async fn erase_membership_requests(tx: &mut Tx<'_>, before: &str) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM membership_requests WHERE COALESCE(decided_at, created_at) < $1")
            .bind(before)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// Forgets the shared attempt counters (keyed by address, site or account) whose window
/// started before `before_second`. Deleting is stricter than truncating the address in the key,
/// and loses nothing: a window that old counts nothing any more.
pub async fn forget_counters(tx: &mut Tx<'_>, before_second: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(before_second)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// Erases the comments of feedback given before `before`, on the old 1-5 scale and on the
/// 0-10 one (`opinions`); the ratings and answers stay.
pub async fn erase_comments(tx: &mut Tx<'_>, before: &str) -> Result<u64> {
    let mut erased = 0;
    for table in ["feedback", "opinions"] {
        erased += sqlx::query(&format!(
            "UPDATE {table} SET comment = NULL WHERE comment IS NOT NULL AND created_at < $1"
        ))
        .bind(before)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(erased)
}

/// Deactivates the accounts without a login (password or ProConnect, as journaled), a session
/// used or an invitation sent since `before`, created before it; ends the sessions of every deactivated
/// account. Returns how many were deactivated.
pub async fn deactivate_idle_accounts(tx: &mut Tx<'_>, before: &str, now: &str) -> Result<u64> {
    let deactivated = sqlx::query(
        "UPDATE users SET disabled_at = $2 WHERE disabled_at IS NULL AND created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.subject_id = users.id \
             AND a.action IN ('login.succeeded', 'login.proconnect') AND a.at >= $1) \
         AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id \
             AND COALESCE(s.last_used_at, s.created_at) >= $1) \
         AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = users.id \
             AND i.expires_at >= $1)",
    )
    .bind(before)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if deactivated > 0 {
        sqlx::query(
            "DELETE FROM sessions WHERE user_id IN \
             (SELECT id FROM users WHERE disabled_at IS NOT NULL)",
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(deactivated)
}

/// Erases the accounts deactivated before `before`: name, e-mail, password, second factor,
/// links and ProConnect identifier. The row stays (the journal, batches and decisions name its
/// id), marked `erased_at`, with an address that can reach no one (`.invalid` is reserved).
pub async fn erase_deactivated_accounts(tx: &mut Tx<'_>, before: &str, now: &str) -> Result<u64> {
    let due = "SELECT id FROM users \
               WHERE disabled_at IS NOT NULL AND disabled_at < $1 AND erased_at IS NULL";
    for table in ["sessions", "invitations", "user_totp", "recovery_codes"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id IN ({due})"))
            .bind(before)
            .execute(&mut **tx)
            .await?;
    }
    Ok(sqlx::query(&format!(
        "UPDATE users SET email = id || '@compte-efface.invalid', name = 'Compte effacé', \
         password_hash = NULL, oidc_subject = NULL, failed_logins = 0, locked_until = NULL, \
         erased_at = $2 WHERE id IN ({due})"
    ))
    .bind(before)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
