//! One-time links to choose a password (table `invitations`): what each is for, what one is
//! when it comes back, and the e-mail that tells someone a change was made to their account
//! (a new password, a second factor set up or removed), so that a change they did not make
//! does not go unnoticed.

use super::{repo, User};
use crate::db::Conn;
use crate::error::Result;
use crate::mail::{Letterhead, Outgoing};
use askama::Template;
use jiff::Timestamp;

crate::text_enum! {
    /// What a one-time link is for (`invitations.purpose`).
    pub enum Purpose {
        /// Sent to someone given an account, to choose a first password.
        Invitation = "invitation",
        /// Asked from "Mot de passe oublié", to choose a new one.
        Reset = "reset",
    }
}

/// A one-time link as it comes back, used or not.
pub struct Link {
    pub purpose: Purpose,
    /// The address of the account it opens.
    pub email: String,
    /// Still unused and not expired.
    pub usable: bool,
}

/// The link this token names, if it was ever sent.
pub async fn find(conn: &mut Conn, token: &str, now: Timestamp) -> Result<Option<Link>> {
    let found = repo::link(conn, &super::token_hash(token)).await?;
    let now = crate::clock::format_ts(now);
    Ok(found.map(|(purpose, email, used_at, expires_at)| Link {
        purpose: Purpose::from_text(&purpose).unwrap_or(Purpose::Invitation),
        email,
        usable: used_at.is_none() && expires_at > now,
    }))
}

/// A change made to someone's account, told to them by e-mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    PasswordChanged,
    SecondFactorSetUp,
    /// By the operator, for a person who lost their phone.
    SecondFactorRemoved,
}

#[derive(Template)]
#[template(path = "mail/account_changed.txt")]
struct ChangeMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    what: String,
    next: &'a str,
    when: String,
}

/// The e-mail telling `user` of a change to their account: if it was not them, whom to call.
pub fn notice(
    letterhead: &Letterhead,
    user: &User,
    change: Change,
    at: Timestamp,
) -> Result<Outgoing> {
    let local = at.to_zoned(crate::clock::paris());
    let when = format!(
        "le {} à {} h {:02} (heure de Paris)",
        crate::fr::long_date(local.date()),
        local.hour(),
        local.minute()
    );
    let email = &user.email;
    let (subject, what, next) = match change {
        Change::PasswordChanged => (
            "Votre mot de passe du Pass numérique est changé",
            format!("Le mot de passe de votre compte ({email}) a été changé"),
            "Vos sessions ouvertes avec l'ancien mot de passe sont fermées.",
        ),
        Change::SecondFactorSetUp => (
            "La double authentification est en place sur votre compte Pass numérique",
            format!("La double authentification a été mise en place sur votre compte ({email})"),
            "À chaque connexion, après votre mot de passe, saisissez le code affiché par votre \
             application d'authentification.",
        ),
        Change::SecondFactorRemoved => (
            "La double authentification de votre compte Pass numérique est retirée",
            format!(
                "L'opérateur du Pass numérique a retiré la double authentification de votre \
                 compte ({email})"
            ),
            "Vos sessions sont fermées. À votre prochaine connexion, vous mettrez en place une \
             nouvelle double authentification.",
        ),
    };
    let body = ChangeMail {
        l: letterhead,
        name: &user.name,
        what,
        next,
        when,
    };
    Outgoing::text(&user.email, subject, &body)
}

/// Queues that e-mail. An address the mailer cannot use does not undo the change: the
/// refusal is logged.
pub async fn tell(
    tx: &mut crate::db::Tx<'_>,
    letterhead: &Letterhead,
    user: &User,
    change: Change,
    now: Timestamp,
) -> Result<()> {
    let mail = notice(letterhead, user, change, now)?;
    match crate::mail::enqueue(tx, &mail, now).await {
        Ok(_) => Ok(()),
        Err(e @ crate::error::Error::Unprocessable { .. }) => {
            tracing::warn!(user_id = %user.id, error = %e, "account change e-mail not queued");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
