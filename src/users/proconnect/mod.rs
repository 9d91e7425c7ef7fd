//! Logging in with ProConnect, the State's identity federation for public agents: a login
//! under way is kept server-side (its `state`, `nonce` and PKCE verifier, used once); a person
//! the provider vouches for is signed in if known (by their identifier there, or their
//! address, then linked); otherwise, when their SIRET or e-mail domain matches an organisation,
//! they are offered to join it and one of its administrators approves.

mod oidc;
mod repo;

pub use oidc::{refused as oidc_refusal, Identity, Pending, Provider};
pub use repo::Request;

use super::{start_session, token_hash, Role, Session, Stage};
use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::mail::Letterhead;
use crate::orgs::Organization;
use askama::Template;
use jiff::{SignedDuration, Timestamp};

const LOGIN_MINUTES: i64 = 10;

crate::text_enum! {
    /// A membership request's life (`membership_requests.status`).
    pub enum RequestStatus {
        /// Shown to the agent after their login; not yet asked.
        Offered = "offered",
        /// Asked: waiting for an administrator.
        Pending = "pending",
        Approved = "approved",
        Refused = "refused",
    }
}

/// Keeps a login sent to the provider until its callback.
pub async fn begin(tx: &mut Tx<'_>, pending: &Pending, now: Timestamp) -> Result<()> {
    let expires = now
        .checked_add(SignedDuration::from_mins(LOGIN_MINUTES))
        .unwrap_or(now);
    repo::insert_login(
        tx,
        &token_hash(&pending.state),
        &pending.nonce,
        &pending.pkce_verifier,
        &format_ts(expires),
    )
    .await
}

/// The nonce and PKCE verifier of the login this `state` names, once; an unknown, used or
/// stale `state` (a forged callback, a replayed one) is refused.
pub async fn take(tx: &mut Tx<'_>, state: &str, now: Timestamp) -> Result<(String, String)> {
    repo::take_login(tx, &token_hash(state), &format_ts(now))
        .await?
        .ok_or_else(|| {
            Error::bad_request(
                "proconnect_state",
                "Cette connexion avec ProConnect a expiré ou ne vient pas de ce site. Recommencez depuis la page de connexion.",
            )
        })
}

/// Journals a refused answer of the provider (the reason is in the log, not shown).
pub async fn refused(tx: &mut Tx<'_>, code: &str, now: Timestamp) -> Result<()> {
    crate::audit::record(
        tx,
        &format_ts(now),
        None,
        "login.proconnect_refused",
        None,
        code,
    )
    .await
}

/// Where a ProConnect login leads.
pub enum Arrival {
    Opened {
        session: Session,
        org: Organization,
        stage: Stage,
    },
    /// Not known here, but an organisation matches: offered to join it.
    Offer { request: Request, org_name: String },
    /// Not known here, and no organisation matches.
    Unknown,
}

/// A person the provider vouched for arrives.
pub async fn arrive(tx: &mut Tx<'_>, who: &Identity, now: Timestamp) -> Result<Arrival> {
    let now_text = format_ts(now);
    let email = crate::mail::Email::parse(&who.email)?.into_string();
    let known = match repo::user_by_subject(tx, &who.subject).await? {
        Some(id) => super::repo::find(tx, &id).await?,
        None => {
            let by_email = super::repo::find_by_email(tx, &email).await?;
            if let Some(user) = &by_email {
                repo::link_subject(tx, &user.id, &who.subject).await?;
            }
            by_email
        }
    };
    if let Some(user) = known.filter(|u| u.disabled_at.is_none()) {
        tx.set_user(&user.id);
        let org = crate::orgs::find(tx, &user.org_id)
            .await?
            .ok_or_else(|| Error::not_found("Votre organisation n'existe plus."))?;
        let stage = super::stage_for(tx, &user.id, org.kind).await?;
        let session = start_session(tx, &user.id, stage, now).await?;
        repo::set_session_id_token(tx, &token_hash(&session.token), &who.id_token).await?;
        crate::audit::record(
            tx,
            &now_text,
            Some(&user.org_id),
            "login.proconnect",
            Some(&user.id),
            "",
        )
        .await?;
        return Ok(Arrival::Opened {
            session,
            org,
            stage,
        });
    }
    let (org_ids, matched_by) = match &who.siret {
        Some(siret) => (
            repo::orgs_by_siret(tx, siret).await?,
            format!("SIRET {siret}"),
        ),
        None => (Vec::new(), String::new()),
    };
    let domain = email.rsplit('@').next().unwrap_or_default().to_string();
    let (org_ids, matched_by) = if org_ids.is_empty() {
        (
            repo::orgs_by_domain(tx, &domain).await?,
            format!("adresses en @{domain}"),
        )
    } else {
        (org_ids, matched_by)
    };
    // Several matches would be a guess: nobody is offered the wrong organisation.
    let [org_id] = org_ids.as_slice() else {
        return Ok(Arrival::Unknown);
    };
    let org = crate::orgs::find(tx, org_id)
        .await?
        .ok_or_else(|| Error::not_found("Cette organisation n'existe plus."))?;
    let request = Request {
        id: crate::db::new_id(),
        org_id: org.id.clone(),
        oidc_subject: who.subject.clone(),
        email,
        name: if who.name.is_empty() {
            who.email.clone()
        } else {
            who.name.clone()
        },
        matched_by,
        status: RequestStatus::Offered,
        created_at: now_text,
    };
    repo::insert_request(tx, &request).await?;
    Ok(Arrival::Offer {
        request,
        org_name: org.name,
    })
}

#[derive(Template)]
#[template(path = "mail/membership_requested.txt")]
struct RequestedMail<'a> {
    l: &'a Letterhead,
    org: &'a str,
    name: &'a str,
    email: &'a str,
    matched_by: &'a str,
}

/// The agent asks to join the organisation offered: its administrators are e-mailed.
pub async fn ask(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    request_id: &str,
    now: Timestamp,
) -> Result<Request> {
    let request = repo::request(tx, request_id)
        .await?
        .ok_or_else(|| Error::not_found("Cette demande n'existe pas."))?;
    if !repo::set_request_status(
        tx,
        &request.id,
        RequestStatus::Offered,
        RequestStatus::Pending,
        None,
    )
    .await?
    {
        return Ok(request);
    }
    let org = crate::orgs::find(tx, &request.org_id)
        .await?
        .ok_or_else(|| Error::not_found("Cette organisation n'existe plus."))?;
    let body = RequestedMail {
        l: letterhead,
        org: &org.name,
        name: &request.name,
        email: &request.email,
        matched_by: &request.matched_by,
    };
    let subject = "Une personne demande à rejoindre votre espace Pass numérique";
    super::mail_people(tx, &org.id, true, subject, &body, now).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&org.id),
        "membership.requested",
        Some(&org.id),
        &format!(
            "{} <{}> par ProConnect ({})",
            request.name, request.email, request.matched_by
        ),
    )
    .await?;
    Ok(request)
}

/// The requests waiting for an administrator of this organisation.
pub async fn pending(conn: &mut Conn, org_id: &str) -> Result<Vec<Request>> {
    repo::requests_of_org(conn, org_id, RequestStatus::Pending).await
}

/// An administrator of the organisation approves (the agent gets an account, linked to their
/// ProConnect identifier, and logs in with ProConnect) or refuses (audited).
pub async fn decide(
    tx: &mut Tx<'_>,
    admin: &super::User,
    request_id: &str,
    approve: bool,
    now: Timestamp,
) -> Result<()> {
    if admin.role != Role::Admin {
        return Err(Error::forbidden(
            "admin_only",
            "Seul un administrateur de l'organisation peut accepter une demande.",
        ));
    }
    let request = repo::request(tx, request_id)
        .await?
        .filter(|r| r.org_id == admin.org_id)
        .ok_or_else(|| Error::not_found("Cette demande n'existe pas."))?;
    let now_text = format_ts(now);
    let to = if approve {
        RequestStatus::Approved
    } else {
        RequestStatus::Refused
    };
    let decided = Some((now_text.as_str(), admin.id.as_str()));
    if !repo::set_request_status(tx, &request.id, RequestStatus::Pending, to, decided).await? {
        return Err(Error::conflict(
            "already_decided",
            "Cette demande a déjà été traitée.",
        ));
    }
    if approve {
        let user = super::create(
            tx,
            &request.org_id,
            &request.email,
            &request.name,
            Role::Agent,
            None,
            now,
        )
        .await?;
        repo::link_subject(tx, &user.id, &request.oidc_subject).await?;
    }
    let action = if approve {
        "membership.approved"
    } else {
        "membership.refused"
    };
    crate::audit::record(
        tx,
        &now_text,
        Some(&request.org_id),
        action,
        Some(&request.org_id),
        &format!("{} <{}>, par {}", request.name, request.email, admin.name),
    )
    .await
}
