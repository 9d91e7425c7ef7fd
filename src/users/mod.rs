//! People who log in: accounts (admin or agent of one organisation), passwords hashed with
//! Argon2id, database-held sessions, one-time invitation links, and lockout after repeated
//! failed logins.

mod invitations;
pub mod links;
mod lockout;
pub mod proconnect;
mod repo;
pub mod sessions;
pub mod totp;

pub(crate) use invitations::open_account;
pub use invitations::{accept_invitation, invitation_is_valid, invite, request_reset, NewUser};

pub use repo::User;

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::mail::{Letterhead, Outgoing};
use crate::orgs::{OrgKind, Organization};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_HOURS: i64 = 12;
const INVITATION_DAYS: i64 = 7;
pub const RESET_HOURS: i64 = 1;
const LOCK_AFTER_FAILURES: i64 = 10;
const LOCK_MINUTES: i64 = 15;
const MIN_PASSWORD_CHARS: usize = 12;

pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

pub fn token_hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("password hashing: {e}")))
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn check_password_policy(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > 1024 {
        return Err(Error::invalid(
            "weak_password",
            "Le mot de passe doit compter au moins 12 caractères. Une phrase de plusieurs mots est plus facile à retenir.",
        ));
    }
    Ok(())
}

crate::text_enum! {
    /// How far a session's login went (`sessions.stage`): only a `Signed` session opens a space.
    pub enum Stage {
        Signed = "signed",
        /// Password checked; the second factor's code is awaited.
        Code = "code",
        /// Password checked; an operator or funder must set up a second factor first.
        Enrol = "enrol",
    }
}

/// How long a session waits for its second factor's code, or for its set-up (installing an
/// app takes a while).
const CODE_MINUTES: i64 = 10;
const ENROL_MINUTES: i64 = 30;

crate::text_enum! {
    /// What someone may do in their organisation's space (the CHECK of `users.role`).
    pub enum Role {
        /// Manages the organisation's people, bank details and renewal.
        Admin = "admin",
        Agent = "agent",
    }
}

impl Role {
    /// A role as a form or the API sends it.
    pub fn parse(text: &str) -> Result<Role> {
        Role::from_text(text).ok_or_else(|| {
            Error::invalid(
                "invalid_role",
                "Le rôle doit être administrateur (admin) ou agent.",
            )
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrateur",
            Role::Agent => "Agent",
        }
    }
}

/// Creates an account; without a password it can only be used through an invitation link.
/// A person's name as given, trimmed: not empty, 100 characters at most.
fn checked_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "invalid_name",
            "Indiquez le nom de la personne (100 caractères au plus).",
        ));
    }
    Ok(name)
}

pub async fn create(
    tx: &mut Tx<'_>,
    org_id: &str,
    email: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
    now: Timestamp,
) -> Result<User> {
    let email = crate::mail::Email::parse(email)?.into_string();
    let name = checked_name(name)?;
    let password_hash = match password {
        Some(p) => {
            check_password_policy(p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    if repo::find_by_email(tx, &email).await?.is_some() {
        return Err(Error::conflict(
            "email_taken",
            "Un compte existe déjà avec cette adresse e-mail.",
        ));
    }
    let user = User {
        id: crate::db::new_id(),
        org_id: org_id.to_string(),
        email,
        name: name.to_string(),
        role,
        password_hash,
        failed_logins: 0,
        locked_until: None,
        disabled_at: None,
    };
    repo::insert(tx, &user, &format_ts(now)).await?;
    Ok(user)
}

/// What a login attempt gives: a session, or why not. A refusal is an answer, not an error:
/// its journal entries and the failure count are kept (the unit of work commits).
pub enum LogIn {
    Opened {
        session: Session,
        org: Organization,
        stage: Stage,
    },
    Refused(Error),
}

/// Checks an e-mail and password, and opens a session: signed in, or waiting for the second
/// factor (or for its set-up, which operators and funders cannot skip). After 10 failures in a row the account
/// is locked for 15 minutes and its owner is told by e-mail; the answer never says whether the
/// address exists. Every outcome is audited.
pub async fn log_in(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    email: &str,
    password: &str,
    now: Timestamp,
) -> Result<LogIn> {
    let user = match check_password(tx, letterhead, email, password, now).await? {
        Ok(user) => user,
        Err(refusal) => return Ok(LogIn::Refused(refusal)),
    };
    let org = crate::orgs::find(tx, &user.org_id)
        .await?
        .ok_or_else(|| Error::not_found("Votre organisation n'existe plus."))?;
    let stage = stage_for(tx, &user.id, org.kind).await?;
    let session = start_session(tx, &user.id, stage, now).await?;
    Ok(LogIn::Opened {
        session,
        org,
        stage,
    })
}

async fn check_password(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    email: &str,
    password: &str,
    now: Timestamp,
) -> Result<std::result::Result<User, Error>> {
    let wrong = || {
        Error::invalid(
            "wrong_credentials",
            "Adresse e-mail ou mot de passe incorrect.",
        )
    };
    let Ok(email) = crate::mail::Email::parse(email).map(crate::mail::Email::into_string) else {
        return Ok(Err(wrong()));
    };
    let now_text = format_ts(now);
    let Some(user) = repo::find_by_email(tx, &email).await? else {
        // Spend the same time as for a real account.
        let _ = password_matches(password, &DUMMY_HASH);
        // The domain only: a mistyped address may be someone else's, and the journal keeps
        // what it holds for good.
        let domain = email.rsplit_once('@').map_or("", |(_, domain)| domain);
        let detail = format!("adresse sans compte (domaine {domain})");
        crate::audit::record(tx, &now_text, None, "login.failed", None, &detail).await?;
        return Ok(Err(wrong()));
    };
    tx.set_user(&user.id);
    if let Some(until) = user
        .locked_until
        .as_deref()
        .filter(|u| *u > now_text.as_str())
    {
        let wait = crate::clock::parse_ts(until)
            .map(|u| (u.as_second() - now.as_second()).max(1) as u64)
            .unwrap_or(60);
        let detail = format!("compte verrouillé jusqu'à {until}");
        crate::audit::record(
            tx,
            &now_text,
            Some(&user.org_id),
            "login.refused_locked",
            Some(&user.id),
            &detail,
        )
        .await?;
        return Ok(Err(Error::RateLimited {
            retry_after_secs: wait,
        }));
    }
    let ok = user.disabled_at.is_none()
        && user
            .password_hash
            .as_deref()
            .is_some_and(|h| password_matches(password, h));
    if !ok {
        let failures = user.failed_logins + 1;
        let locked_until = (failures >= LOCK_AFTER_FAILURES).then(|| {
            format_ts(
                now.checked_add(SignedDuration::from_mins(LOCK_MINUTES))
                    .unwrap_or(now),
            )
        });
        repo::record_failure(tx, &user.id, failures, locked_until.as_deref()).await?;
        let detail = format!("échec n° {failures}");
        let org = Some(user.org_id.as_str());
        crate::audit::record(tx, &now_text, org, "login.failed", Some(&user.id), &detail).await?;
        if let Some(until) = &locked_until {
            let detail = format!("après {failures} échecs, jusqu'à {until}");
            crate::audit::record(tx, &now_text, org, "login.locked", Some(&user.id), &detail)
                .await?;
            crate::mail::enqueue(tx, &lockout::notice(letterhead, &user, until)?, now).await?;
        }
        return Ok(Err(wrong()));
    }
    repo::record_success(tx, &user.id).await?;
    let org = Some(user.org_id.as_str());
    crate::audit::record(tx, &now_text, org, "login.succeeded", Some(&user.id), "").await?;
    Ok(Ok(user))
}

/// A real hash, so that checking an unknown address costs as much as a known one.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("no account has this password").unwrap_or_default());

pub struct Session {
    pub token: String,
    pub csrf_token: String,
}

/// Where a login that proved who someone is leaves them: asked for their second factor if they
/// have one, made to set one up if their organisation moves money, else signed in.
async fn stage_for(tx: &mut Tx<'_>, user_id: &str, kind: OrgKind) -> Result<Stage> {
    Ok(if totp::enrolled(tx, user_id).await? {
        Stage::Code
    } else if totp::required(kind) {
        Stage::Enrol
    } else {
        Stage::Signed
    })
}

/// When a session at this stage ends: a login half done does not wait long.
fn session_expiry(stage: Stage, now: Timestamp) -> String {
    let lasts = match stage {
        Stage::Signed => SignedDuration::from_hours(SESSION_HOURS),
        Stage::Code => SignedDuration::from_mins(CODE_MINUTES),
        Stage::Enrol => SignedDuration::from_mins(ENROL_MINUTES),
    };
    format_ts(now.checked_add(lasts).unwrap_or(now))
}

async fn start_session(
    tx: &mut Tx<'_>,
    user_id: &str,
    stage: Stage,
    now: Timestamp,
) -> Result<Session> {
    let session = Session {
        token: random_token(),
        csrf_token: random_token(),
    };
    repo::insert_session(
        tx,
        &token_hash(&session.token),
        user_id,
        &session.csrf_token,
        stage,
        &format_ts(now),
        &session_expiry(stage, now),
    )
    .await?;
    Ok(session)
}

/// Who holds this session cookie, if it is current, and how far their login went.
pub struct Signed {
    pub user: User,
    pub org: Organization,
    pub csrf_token: String,
    pub stage: Stage,
    /// When the session was last used (see [`sessions::touch`]).
    pub last_used_at: Option<String>,
}

/// The session of this cookie, unless it ended: past its lifetime, or unused for
/// `idle_minutes` (0: no such limit; its last use is written every few minutes, see
/// [`sessions::touch`]).
pub async fn session(
    conn: &mut Conn,
    token: &str,
    now: Timestamp,
    idle_minutes: i64,
) -> Result<Option<Signed>> {
    if token.len() > 100 {
        return Ok(None);
    }
    let used_since = sessions::used_since(now, idle_minutes);
    let Some((user, csrf_token, stage, last_used_at)) =
        repo::session_user(conn, &token_hash(token), &format_ts(now), &used_since).await?
    else {
        return Ok(None);
    };
    let Some(org) = crate::orgs::find(conn, &user.org_id).await? else {
        return Ok(None);
    };
    Ok(Some(Signed {
        user,
        org,
        csrf_token,
        stage,
        last_used_at,
    }))
}

/// Ends a session; returns the ProConnect ID token it was opened with, if any, to end the
/// provider's session too.
pub async fn end_session(tx: &mut Tx<'_>, token: &str) -> Result<Option<String>> {
    repo::delete_session(tx, &token_hash(token)).await
}

pub async fn list_for_org(conn: &mut Conn, org_id: &str) -> Result<Vec<User>> {
    repo::list_for_org(conn, org_id).await
}

/// Queues a message for each active person of an organisation (only its administrators if
/// `admins_only`). An address the mailer cannot use does not stop the others (nor the daily
/// run that sends it): the refusal is logged. Returns how many were queued.
pub async fn mail_people(
    tx: &mut Tx<'_>,
    org_id: &str,
    admins_only: bool,
    subject: &str,
    body: &impl Template,
    now: Timestamp,
) -> Result<usize> {
    let mut queued = 0;
    for person in repo::list_for_org(tx, org_id).await? {
        if person.disabled_at.is_some() || (admins_only && person.role != Role::Admin) {
            continue;
        }
        let mail = Outgoing::text(&person.email, subject, body)?;
        match crate::mail::enqueue(tx, &mail, now).await {
            Ok(_) => queued += 1,
            Err(e @ Error::Unprocessable { .. }) => {
                tracing::warn!(org_id, error = %e, "e-mail not queued")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}
