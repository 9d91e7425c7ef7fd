//! People who log in: accounts (admin or agent of one organisation), passwords hashed with
//! Argon2id, database-held sessions, one-time invitation links, and lockout after repeated
//! failed logins.

mod repo;

pub use repo::User;

use crate::clock::format_ts;
use crate::config::Config;
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::orgs::{hex, Organization};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
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
    hex(&Sha256::digest(token.as_bytes()))
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

pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !plausible {
        return Err(Error::invalid(
            "invalid_email",
            "L'adresse e-mail n'est pas valide (exemple : prenom.nom@exemple.fr).",
        ));
    }
    Ok(email)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Agent,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    pub fn parse(text: &str) -> Result<Role> {
        match text {
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            _ => Err(Error::invalid(
                "invalid_role",
                "Le rôle doit être administrateur (admin) ou agent.",
            )),
        }
    }
}

/// Creates an account; without a password it can only be used through an invitation link.
pub async fn create(
    conn: &mut Conn,
    org_id: &str,
    email: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
    now: Timestamp,
) -> Result<User> {
    let email = normalize_email(email)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "invalid_name",
            "Indiquez le nom de la personne (100 caractères au plus).",
        ));
    }
    let password_hash = match password {
        Some(p) => {
            check_password_policy(p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    if repo::find_by_email(conn, &email).await?.is_some() {
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
        role: role.as_str().to_string(),
        password_hash,
        failed_logins: 0,
        locked_until: None,
        disabled_at: None,
    };
    repo::insert(conn, &user, &format_ts(now)).await?;
    Ok(user)
}

/// Checks an e-mail and password. After 10 failures in a row the account is locked for 15
/// minutes and its owner is told by e-mail; the answer never says whether the address exists.
/// Every outcome is audited: the caller commits on refusals too.
pub async fn login(
    conn: &mut Conn,
    config: &Config,
    email: &str,
    password: &str,
    now: Timestamp,
) -> Result<User> {
    let wrong = || {
        Error::invalid(
            "wrong_credentials",
            "Adresse e-mail ou mot de passe incorrect.",
        )
    };
    let Ok(email) = normalize_email(email) else {
        return Err(wrong());
    };
    let now_text = format_ts(now);
    let Some(user) = repo::find_by_email(conn, &email).await? else {
        // Spend the same time as for a real account.
        let _ = password_matches(password, &DUMMY_HASH);
        let detail = format!("adresse sans compte : {email}");
        crate::audit::record(conn, &now_text, None, "login.failed", None, &detail).await?;
        return Err(wrong());
    };
    crate::audit::origin::set_user(&user.id);
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
            conn,
            &now_text,
            Some(&user.org_id),
            "login.refused_locked",
            Some(&user.id),
            &detail,
        )
        .await?;
        return Err(Error::RateLimited {
            retry_after_secs: wait,
        });
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
        repo::record_failure(conn, &user.id, failures, locked_until.as_deref()).await?;
        let detail = format!("échec n° {failures}");
        let org = Some(user.org_id.as_str());
        crate::audit::record(
            conn,
            &now_text,
            org,
            "login.failed",
            Some(&user.id),
            &detail,
        )
        .await?;
        if let Some(until) = &locked_until {
            let detail = format!("après {failures} échecs, jusqu'à {until}");
            crate::audit::record(
                conn,
                &now_text,
                org,
                "login.locked",
                Some(&user.id),
                &detail,
            )
            .await?;
            crate::mail::enqueue(conn, &lockout_notice(config, &user, until), now).await?;
        }
        return Err(wrong());
    }
    repo::record_success(conn, &user.id).await?;
    let org = Some(user.org_id.as_str());
    crate::audit::record(conn, &now_text, org, "login.succeeded", Some(&user.id), "").await?;
    Ok(user)
}

/// The e-mail telling someone their account is locked: if it was not them, someone is trying
/// their password.
fn lockout_notice(config: &Config, user: &User, until: &str) -> crate::mail::Outgoing {
    let until = crate::clock::parse_ts(until)
        .map(|t| {
            let local = t.to_zoned(crate::clock::paris());
            format!(
                "{} h {:02} le {} (heure de Paris)",
                local.hour(),
                local.minute(),
                crate::fr::long_date(local.date())
            )
        })
        .unwrap_or_else(|| until.to_string());
    let url = config.public_url.trim_end_matches('/');
    crate::mail::Outgoing {
        to: user.email.clone(),
        subject: "Votre compte Pass numérique est verrouillé pour un moment".into(),
        text_body: format!(
            "Bonjour {name},\n\n\
             Quelqu'un s'est trompé {n} fois de suite de mot de passe en se connectant avec \
             votre adresse e-mail ({email}). Par sécurité, votre compte est verrouillé \
             jusqu'à {until}. Vous pourrez ensuite vous connecter de nouveau sur {url}/connexion.\n\n\
             Si ce n'était pas vous, quelqu'un essaie peut-être d'entrer dans votre compte : \
             changez votre mot de passe dès que possible ({url}/mot-de-passe-oublie).\n\n\
             Besoin d'aide ? Appelez le {phone} ou écrivez à {help}.\n",
            name = user.name,
            n = LOCK_AFTER_FAILURES,
            email = user.email,
            phone = config.helpline_phone,
            help = config.helpline_email,
        ),
        html_body: None,
        attachments: Vec::new(),
    }
}

/// A real hash, so that checking an unknown address costs as much as a known one.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("no account has this password").unwrap_or_default());

pub struct Session {
    pub token: String,
    pub csrf_token: String,
}

pub async fn start_session(conn: &mut Conn, user_id: &str, now: Timestamp) -> Result<Session> {
    let session = Session {
        token: random_token(),
        csrf_token: random_token(),
    };
    let expires = now
        .checked_add(SignedDuration::from_hours(SESSION_HOURS))
        .unwrap_or(now);
    repo::insert_session(
        conn,
        &token_hash(&session.token),
        user_id,
        &session.csrf_token,
        &format_ts(now),
        &format_ts(expires),
    )
    .await?;
    Ok(session)
}

/// Who holds this session cookie, if it is current.
pub struct Signed {
    pub user: User,
    pub org: Organization,
    pub csrf_token: String,
}

pub async fn session(conn: &mut Conn, token: &str, now: Timestamp) -> Result<Option<Signed>> {
    if token.len() > 100 {
        return Ok(None);
    }
    let Some((user, csrf_token)) =
        repo::session_user(conn, &token_hash(token), &format_ts(now)).await?
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
    }))
}

pub async fn end_session(conn: &mut Conn, token: &str) -> Result<()> {
    repo::delete_session(conn, &token_hash(token)).await
}

/// A new account for someone, with a one-time link to choose their password.
pub async fn invite(
    conn: &mut Conn,
    org_id: &str,
    email: &str,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<(User, String)> {
    let user = create(conn, org_id, email, name, role, None, now).await?;
    let token = random_token();
    let expires = now
        .checked_add(SignedDuration::from_hours(24 * INVITATION_DAYS))
        .unwrap_or(now);
    repo::insert_invitation(conn, &token_hash(&token), &user.id, &format_ts(expires)).await?;
    Ok((user, token))
}

/// "Mot de passe oublié" : a one-time link (an invitation row, valid one hour) to choose a new
/// password, for an account that exists and is not disabled. `None` otherwise, and the caller
/// answers the same either way.
pub async fn request_reset(
    conn: &mut Conn,
    email: &str,
    now: Timestamp,
) -> Result<Option<(User, String)>> {
    let Ok(email) = normalize_email(email) else {
        return Ok(None);
    };
    let Some(user) = repo::find_by_email(conn, &email).await? else {
        return Ok(None);
    };
    if user.disabled_at.is_some() {
        return Ok(None);
    }
    let token = random_token();
    let expires = now
        .checked_add(SignedDuration::from_hours(RESET_HOURS))
        .unwrap_or(now);
    repo::insert_invitation(conn, &token_hash(&token), &user.id, &format_ts(expires)).await?;
    Ok(Some((user, token)))
}

/// Uses an invitation link once to set a password.
pub async fn accept_invitation(
    conn: &mut Conn,
    token: &str,
    password: &str,
    now: Timestamp,
) -> Result<User> {
    check_password_policy(password)?;
    let now_text = format_ts(now);
    let user_id = repo::use_invitation(conn, &token_hash(token), &now_text)
        .await?
        .ok_or_else(|| {
            Error::gone(
                "invitation_expired",
                "Ce lien d'invitation a déjà servi ou a expiré. Demandez une nouvelle invitation à votre administrateur.",
            )
        })?;
    repo::set_password(conn, &user_id, &hash_password(password)?).await?;
    repo::find(conn, &user_id)
        .await?
        .ok_or_else(|| Error::not_found("Ce compte n'existe plus."))
}

pub async fn invitation_is_valid(conn: &mut Conn, token: &str, now: Timestamp) -> Result<bool> {
    repo::invitation_is_valid(conn, &token_hash(token), &format_ts(now)).await
}

pub async fn list_for_org(conn: &mut Conn, org_id: &str) -> Result<Vec<User>> {
    repo::list_for_org(conn, org_id).await
}
