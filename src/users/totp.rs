//! The second factor: a TOTP secret (RFC 6238: six digits, 30-second steps, one step of drift
//! either way) confirmed by a first code, ten one-time recovery codes, and the step of a login
//! that asks for either. Required for operators and funders (they move money), open to all.

use super::links::Change;
use super::{repo, session_expiry, token_hash, Stage, User};
use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::mail::Letterhead;
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

pub const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Pass numérique";

/// Whether this kind of organisation cannot go without a second factor.
pub fn required(kind: OrgKind) -> bool {
    matches!(kind, OrgKind::Operator | OrgKind::Funder)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("totp: {e}"))
}

fn totp(secret: &str) -> Result<TOTP> {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .map_err(internal)?;
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECS, bytes).map_err(internal)
}

fn step_of(at: Timestamp) -> u64 {
    at.as_second().max(0) as u64 / STEP_SECS
}

/// The code an authenticator app shows at `at` for this secret (what the tests type).
pub fn code_at(secret: &str, at: Timestamp) -> Result<String> {
    Ok(totp(secret)?.generate(step_of(at) * STEP_SECS))
}

/// The time step whose code this is, if valid at `now` (the step before and after included,
/// for a phone's clock a little off).
fn matching_step(secret: &str, code: &str, now: Timestamp) -> Result<Option<u64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret)?;
    let now = step_of(now);
    Ok([now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|step| {
            bool::from(
                t.generate(step * STEP_SECS)
                    .as_bytes()
                    .ct_eq(code.as_bytes()),
            )
        }))
}

fn wrong_code() -> Error {
    Error::invalid(
        "wrong_code",
        "Ce code ne convient pas. Saisissez le code à 6 chiffres affiché maintenant par votre application (chaque code ne sert qu'une fois), ou un code de secours.",
    )
}

/// A recovery code as typed: letters and digits only, upper case.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Each code holds 80 random bits: a fast hash is enough (argon2 is for guessable passwords),
/// salted with the person so that one code matches one account only.
fn recovery_hash(user_id: &str, code: &str) -> String {
    token_hash(&format!("recovery:{user_id}:{}", normalise(code)))
}

fn new_recovery_code() -> String {
    let mut raw = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut raw);
    let text = data_encoding::BASE32_NOPAD.encode(&raw);
    let groups: Vec<&str> = (0..4).map(|i| &text[i * 4..i * 4 + 4]).collect();
    groups.join("-")
}

pub async fn enrolled(conn: &mut Conn, user_id: &str) -> Result<bool> {
    Ok(repo::totp(conn, user_id)
        .await?
        .is_some_and(|t| t.confirmed))
}

/// Where a person stands: a confirmed second factor, and how many recovery codes are left.
pub struct Status {
    pub enrolled: bool,
    pub recovery_codes_left: i64,
}

pub async fn status(conn: &mut Conn, user_id: &str) -> Result<Status> {
    Ok(Status {
        enrolled: enrolled(conn, user_id).await?,
        recovery_codes_left: repo::recovery_codes_left(conn, user_id).await?,
    })
}

/// The people of an organisation who have a second factor.
pub async fn enrolled_in_org(conn: &mut Conn, org_id: &str) -> Result<Vec<String>> {
    repo::enrolled_in_org(conn, org_id).await
}

/// What to put in an authenticator app: the secret as text, and as an `otpauth://` address
/// (for the QR code).
pub struct Enrolment {
    pub secret: String,
    pub uri: String,
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The secret being set up (the same one until confirmed, so a reloaded page still matches
/// the phone); refused once a second factor is in place.
pub async fn enrolment(tx: &mut Tx<'_>, user: &User, now: Timestamp) -> Result<Enrolment> {
    let secret = match repo::totp(tx, &user.id).await? {
        Some(t) if t.confirmed => {
            return Err(Error::conflict(
                "already_enrolled",
                "La double authentification est déjà en place pour ce compte.",
            ))
        }
        Some(t) => t.secret,
        None => {
            let mut raw = [0u8; 20];
            rand::thread_rng().fill_bytes(&mut raw);
            let secret = data_encoding::BASE32_NOPAD.encode(&raw);
            repo::insert_totp(tx, &user.id, &secret, &format_ts(now)).await?;
            secret
        }
    };
    let uri = format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        issuer = percent(ISSUER),
        account = percent(&user.email),
    );
    Ok(Enrolment { secret, uri })
}

/// Confirms the secret being set up with a first code; returns the recovery codes, to be
/// shown once (only their hashes are kept). The session that did it is fully signed in.
pub async fn confirm(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    user: &User,
    session_token: &str,
    code: &str,
    now: Timestamp,
) -> Result<Vec<String>> {
    let pending = repo::totp(tx, &user.id)
        .await?
        .filter(|t| !t.confirmed)
        .ok_or_else(|| {
            Error::conflict(
                "no_enrolment",
                "Aucune double authentification n'est en cours de mise en place. Rechargez la page.",
            )
        })?;
    let step = matching_step(&pending.secret, code, now)?.ok_or_else(wrong_code)?;
    let now_text = format_ts(now);
    if !repo::confirm_totp(tx, &user.id, step as i64, &now_text).await? {
        return Err(Error::conflict(
            "already_enrolled",
            "La double authentification est déjà en place pour ce compte.",
        ));
    }
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    for code in &codes {
        repo::insert_recovery_code(tx, &user.id, &recovery_hash(&user.id, code), &now_text).await?;
    }
    let hash = token_hash(session_token);
    let expires = session_expiry(Stage::Signed, now);
    repo::advance_session(tx, &hash, Stage::Enrol, Stage::Signed, &expires).await?;
    super::links::tell(tx, letterhead, user, Change::SecondFactorSetUp, now).await?;
    tx.set_user(&user.id);
    crate::audit::record(
        tx,
        &now_text,
        Some(&user.org_id),
        "second_factor.enrolled",
        Some(&user.id),
        &format!("{RECOVERY_CODES} codes de secours remis"),
    )
    .await?;
    Ok(codes)
}

/// What a code sent at login gives. A refusal is an answer: its journal entry is kept.
pub enum Verified {
    Accepted,
    Refused(Error),
}

/// The login's second step: a TOTP code (each time step accepted once) or a recovery code
/// (each used once). Success signs the session in; every outcome is audited.
pub async fn verify(
    tx: &mut Tx<'_>,
    user: &User,
    session_token: &str,
    code: &str,
    now: Timestamp,
) -> Result<Verified> {
    let now_text = format_ts(now);
    tx.set_user(&user.id);
    let org = Some(user.org_id.as_str());
    let recovery = normalise(code).len() == 16;
    let accepted = if recovery {
        repo::use_recovery_code(tx, &user.id, &recovery_hash(&user.id, code), &now_text).await?
    } else {
        let secret = repo::totp(tx, &user.id).await?.filter(|t| t.confirmed);
        match secret {
            Some(t) => match matching_step(&t.secret, code, now)? {
                Some(step) => repo::use_totp_step(tx, &user.id, step as i64).await?,
                None => false,
            },
            None => false,
        }
    };
    if !accepted {
        crate::audit::record(
            tx,
            &now_text,
            org,
            "login.second_factor_failed",
            Some(&user.id),
            "",
        )
        .await?;
        return Ok(Verified::Refused(wrong_code()));
    }
    let hash = token_hash(session_token);
    let expires = session_expiry(Stage::Signed, now);
    if !repo::advance_session(tx, &hash, Stage::Code, Stage::Signed, &expires).await? {
        return Err(Error::gone(
            "session_ended",
            "Cette connexion a expiré. Reconnectez-vous.",
        ));
    }
    let detail = if recovery {
        let left = repo::recovery_codes_left(tx, &user.id).await?;
        format!("code de secours utilisé ; {left} restant(s)")
    } else {
        "code de l'application".to_string()
    };
    crate::audit::record(
        tx,
        &now_text,
        org,
        "login.second_factor",
        Some(&user.id),
        &detail,
    )
    .await?;
    Ok(Verified::Accepted)
}

/// The operator removes someone's second factor (a lost phone without recovery codes): their
/// sessions end, and at their next login they set up a new one (audited, and told to them by
/// e-mail).
pub async fn reset(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    operator: &Organization,
    org_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<User> {
    operator.require(OrgKind::Operator)?;
    let user = repo::find(tx, user_id)
        .await?
        .filter(|u| u.org_id == org_id)
        .ok_or_else(|| Error::not_found("Ce compte n'existe pas."))?;
    repo::delete_totp(tx, &user.id).await?;
    repo::delete_sessions_of(tx, &user.id).await?;
    super::links::tell(tx, letterhead, &user, Change::SecondFactorRemoved, now).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&operator.id),
        "second_factor.reset",
        Some(&user.org_id),
        &format!(
            "{} <{}> : double authentification retirée, sessions fermées",
            user.name, user.email
        ),
    )
    .await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vector_and_drift() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); 6 digits: 287082.
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        let at = Timestamp::from_second(59).unwrap();
        assert_eq!(code_at(&secret, at).unwrap(), "287082");
        let later = Timestamp::from_second(59 + 30).unwrap();
        assert_eq!(matching_step(&secret, "287 082", later).unwrap(), Some(1));
        let too_late = Timestamp::from_second(59 + 90).unwrap();
        assert_eq!(matching_step(&secret, "287082", too_late).unwrap(), None);
    }

    #[test]
    fn recovery_codes_are_typed_loosely() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        assert_eq!(
            recovery_hash("u", &code),
            recovery_hash("u", &code.to_lowercase().replace('-', " "))
        );
        assert_ne!(recovery_hash("u", &code), recovery_hash("v", &code));
    }
}
