//! The e-mail sent when repeated failed logins lock an account.

use super::User;
use crate::error::Result;
use crate::mail::{Letterhead, Outgoing};
use askama::Template;

#[derive(Template)]
#[template(path = "mail/lockout.txt")]
struct LockoutMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    email: &'a str,
    failures: i64,
    until: String,
}

/// The e-mail telling someone their account is locked: if it was not them, someone is trying
/// their password.
pub(super) fn notice(letterhead: &Letterhead, user: &User, until: &str) -> Result<Outgoing> {
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
    let body = LockoutMail {
        l: letterhead,
        name: &user.name,
        email: &user.email,
        failures: super::LOCK_AFTER_FAILURES,
        until,
    };
    Outgoing::text(
        &user.email,
        "Votre compte Pass numérique est verrouillé pour un moment",
        &body,
    )
}
