//! Giving someone a way in: an invitation to an organisation's space, and the one-time link
//! of "Mot de passe oublié"; either sets a password once.

use super::{
    check_password_policy, checked_name, create, hash_password, links, random_token, repo,
    token_hash, Role, User, INVITATION_DAYS, RESET_HOURS,
};
use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::mail::{Letterhead, Outgoing};
use crate::orgs::{OrgKind, Organization};
use askama::Template;
use jiff::{SignedDuration, Timestamp};

/// A new account without a password, and the one-time link (its token, valid 7 days) to
/// choose it: for the caller to send.
pub(crate) async fn open_account(
    tx: &mut Tx<'_>,
    org_id: &str,
    email: &str,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<(User, String)> {
    let user = match reopen(tx, org_id, email, name, role).await? {
        Some(user) => user,
        None => create(tx, org_id, email, name, role, None, now).await?,
    };
    let token = random_token();
    let expires = now
        .checked_add(SignedDuration::from_hours(24 * INVITATION_DAYS))
        .unwrap_or(now);
    let (hash, expires) = (token_hash(&token), format_ts(expires));
    let purpose = links::Purpose::Invitation.as_str();
    repo::insert_invitation(tx, &hash, &user.id, &expires, purpose).await?;
    Ok((user, token))
}

/// A person of this organisation whose account was deactivated (unused for a long time, or by
/// hand) and not yet erased is invited again on the same account: its history stays theirs, and
/// the address is not refused as taken. An account of another organisation keeps the address.
async fn reopen(
    tx: &mut Tx<'_>,
    org_id: &str,
    email: &str,
    name: &str,
    role: Role,
) -> Result<Option<User>> {
    let email = crate::mail::Email::parse(email)?.into_string();
    let Some(user) = repo::find_by_email(tx, &email).await? else {
        return Ok(None);
    };
    if user.org_id != org_id || user.disabled_at.is_none() {
        return Ok(None);
    }
    repo::reopen(tx, &user.id, checked_name(name)?, role).await?;
    repo::find(tx, &user.id).await
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InvitationMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    email: &'a str,
    org: &'a str,
    inviter: &'a str,
    token: &'a str,
}

/// Someone invited to an organisation's space.
#[derive(Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: String,
}

/// The operator gives someone an account in an organisation: they get an e-mail with a
/// one-time link to choose their password (audited). `inviter` names who invites, in the mail.
pub async fn invite(
    tx: &mut Tx<'_>,
    operator: &Organization,
    org_id: &str,
    new: NewUser,
    inviter: &str,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<User> {
    operator.require(OrgKind::Operator)?;
    let org = crate::orgs::find(tx, org_id)
        .await?
        .ok_or_else(|| Error::not_found("Cette organisation n'existe pas."))?;
    let role = Role::parse(&new.role)?;
    let (user, token) = open_account(tx, &org.id, &new.email, &new.name, role, now).await?;
    let body = InvitationMail {
        l: letterhead,
        name: &user.name,
        email: &user.email,
        org: &org.name,
        inviter,
        token: &token,
    };
    let subject = "Votre accès à l'espace professionnel du Pass numérique";
    crate::mail::enqueue(tx, &Outgoing::text(&user.email, subject, &body)?, now).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&operator.id),
        "user.invited",
        Some(&org.id),
        &format!(
            "{} <{}> ({}), invité par {inviter}",
            user.name,
            user.email,
            user.role.as_str()
        ),
    )
    .await?;
    Ok(user)
}

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    email: &'a str,
    token: &'a str,
}

/// "Mot de passe oublié" : a one-time link (an invitation row, valid one hour) to choose a new
/// password, e-mailed for an account that exists and is not disabled (audited). Nothing
/// happens otherwise, and the caller answers the same either way.
pub async fn request_reset(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    email: &str,
    now: Timestamp,
) -> Result<()> {
    // A malformed address is said so (that tells nothing about who has an account).
    let email = crate::mail::Email::parse(email)?.into_string();
    let Some(user) = repo::find_by_email(tx, &email).await? else {
        return Ok(());
    };
    if user.disabled_at.is_some() {
        return Ok(());
    }
    // One link at a time: a newer one voids the others.
    repo::void_invitations(tx, &user.id, &format_ts(now)).await?;
    let token = random_token();
    let expires = now
        .checked_add(SignedDuration::from_hours(RESET_HOURS))
        .unwrap_or(now);
    let (hash, expires) = (token_hash(&token), format_ts(expires));
    let purpose = links::Purpose::Reset.as_str();
    repo::insert_invitation(tx, &hash, &user.id, &expires, purpose).await?;
    let body = ResetMail {
        l: letterhead,
        name: &user.name,
        email: &user.email,
        token: &token,
    };
    let subject = "Choisir un nouveau mot de passe pour le Pass numérique";
    crate::mail::enqueue(tx, &Outgoing::text(&user.email, subject, &body)?, now).await?;
    tx.set_user(&user.id);
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&user.org_id),
        "password.reset_requested",
        Some(&user.id),
        "lien envoyé par e-mail",
    )
    .await
}

/// Uses an invitation (or reset) link once to set a password. A new password chosen from a
/// reset link is told to the person by e-mail (if it was not them, whom to call).
pub async fn accept_invitation(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    token: &str,
    password: &str,
    now: Timestamp,
) -> Result<User> {
    check_password_policy(password)?;
    let now_text = format_ts(now);
    let Some((user_id, purpose)) = repo::use_invitation(tx, &token_hash(token), &now_text).await?
    else {
        let reset = links::find(tx, token, now)
            .await?
            .is_some_and(|l| l.purpose == links::Purpose::Reset);
        return Err(match reset {
            true => Error::gone(
                "reset_link_expired",
                "Ce lien pour changer de mot de passe a déjà servi ou a expiré. Demandez un nouveau lien depuis « Mot de passe oublié ».",
            ),
            false => Error::gone(
                "invitation_expired",
                "Ce lien d'invitation a déjà servi ou a expiré. Demandez une nouvelle invitation à votre administrateur.",
            ),
        });
    };
    repo::set_password(tx, &user_id, &hash_password(password)?).await?;
    // A new password voids every other link and ends every session opened with the old one.
    repo::void_invitations(tx, &user_id, &now_text).await?;
    repo::delete_sessions_of(tx, &user_id).await?;
    let user = repo::find(tx, &user_id)
        .await?
        .ok_or_else(|| Error::not_found("Ce compte n'existe plus."))?;
    if links::Purpose::from_text(&purpose) == Some(links::Purpose::Reset) {
        links::tell(tx, letterhead, &user, links::Change::PasswordChanged, now).await?;
    }
    tx.set_user(&user.id);
    crate::audit::record(
        tx,
        &now_text,
        Some(&user.org_id),
        "password.set",
        Some(&user.id),
        "mot de passe choisi ; liens et sessions antérieurs annulés",
    )
    .await?;
    Ok(user)
}

pub async fn invitation_is_valid(conn: &mut Conn, token: &str, now: Timestamp) -> Result<bool> {
    repo::invitation_is_valid(conn, &token_hash(token), &format_ts(now)).await
}
