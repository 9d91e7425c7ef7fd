//! What happens to an application: the applicant submits it and corrects it when asked; the
//! operator examines it, asks for changes, refuses it or qualifies it. Each step is audited
//! and tells the applicant by e-mail (`templates/mail/application_*.txt`).

use super::draft::check;
use super::{by_token, find, repo, Application, Draft, Move, Status};
use crate::clock::format_ts;
use crate::config::Config;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::mail::{Letterhead, Outgoing};
use crate::orgs::{NewOrganization, OrgKind, Organization};
use crate::users::{random_token, token_hash, Role};
use askama::Template;
use jiff::civil::Date;
use jiff::Timestamp;

/// The first e-mail goes to an address nobody has confirmed yet: it repeats nothing the
/// applicant typed, so that the form cannot carry someone's text to someone else's mailbox.
#[derive(Template)]
#[template(path = "mail/application_received.txt")]
struct ReceivedMail<'a> {
    l: &'a Letterhead,
    /// The follow-up link's token: this e-mail is the only place it is written (only its hash
    /// is kept).
    token: &'a str,
}

#[derive(Template)]
#[template(path = "mail/application_resubmitted.txt")]
struct ResubmittedMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    org: &'a str,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "mail/application_changes_requested.txt")]
struct ChangesRequestedMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    org: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "mail/application_rejected.txt")]
struct RejectedMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    org: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "mail/application_qualified.txt")]
struct QualifiedMail<'a> {
    l: &'a Letterhead,
    name: &'a str,
    org: &'a str,
    /// The qualification's last day, as a person reads it.
    end: &'a str,
    email: &'a str,
    /// The invitation's token, to choose a password.
    token: &'a str,
}

/// Queues an e-mail to the application's contact, in the caller's transaction: it leaves only
/// if the decision it tells of is committed.
async fn mail_contact(
    tx: &mut Tx<'_>,
    to: &str,
    subject: &str,
    body: &impl Template,
    now: Timestamp,
) -> Result<()> {
    let mail = Outgoing::text(to, subject, body)?;
    crate::mail::enqueue(tx, &mail, now).await?;
    Ok(())
}

/// Refuses a SIRET that is already an organisation's, or that of another application still
/// waiting for a decision (`except_id`: the application being corrected), saying what to do
/// instead. Checked when the form is sent, not only when the operator qualifies.
pub async fn check_siret_free(
    conn: &mut Conn,
    config: &Config,
    siret: &str,
    except_id: &str,
) -> Result<()> {
    let Some(siret) = crate::fr::Siret::parse(siret) else {
        return Ok(());
    };
    let phone = &config.helpline_phone;
    if crate::orgs::find_site_by_siret(conn, siret.as_str())
        .await?
        .is_some()
    {
        return Err(Error::conflict(
            "siret_registered",
            format!(
                "Une structure avec ce numéro SIRET est déjà inscrite au Pass numérique : inutile de candidater de nouveau. Demandez à l'administrateur de son espace professionnel de vous inviter, ou appelez l'assistance au {phone}."
            ),
        ));
    }
    if repo::pending_with_siret(conn, siret.as_str(), except_id).await? {
        return Err(Error::conflict(
            "application_pending",
            format!(
                "Une candidature avec ce numéro SIRET est déjà en cours d'examen. Suivez-la avec le lien personnel reçu par e-mail quand elle a été envoyée ; si vous ne le retrouvez pas, appelez l'assistance au {phone}."
            ),
        ));
    }
    Ok(())
}

/// Stores a new application and e-mails its private follow-up link. Returns `(id, token)`.
pub async fn submit(
    tx: &mut Tx<'_>,
    config: &Config,
    draft: &Draft,
    now: Timestamp,
) -> Result<(String, String)> {
    let questions = repo::questions(tx, true).await?;
    let checked = check(draft, &questions)?;
    check_siret_free(tx, config, &checked.draft.siret, "").await?;
    let id = crate::db::new_id();
    let token = random_token();
    let at = format_ts(now);
    repo::insert(tx, &id, &checked.draft, &token_hash(&token), &at).await?;
    repo::replace_details(tx, &id, &checked.draft.places, &checked.answers).await?;
    crate::audit::record(
        tx,
        &at,
        None,
        "application.submitted",
        Some(&id),
        &format!(
            "{} (SIRET {}), {} lieu(x)",
            checked.draft.org_name,
            checked.draft.siret,
            checked.draft.places.len()
        ),
    )
    .await?;
    let body = ReceivedMail {
        l: &Letterhead::of(config),
        token: &token,
    };
    mail_contact(
        tx,
        &checked.draft.contact_email,
        "Pass numérique : votre candidature est bien reçue",
        &body,
        now,
    )
    .await?;
    Ok((id, token))
}

/// The applicant corrects an application the operator sent back.
pub async fn resubmit(
    tx: &mut Tx<'_>,
    config: &Config,
    token: &str,
    draft: &Draft,
    now: Timestamp,
) -> Result<Application> {
    let app = by_token(tx, token).await?;
    let step = Status::Received.entered_from(app.status)?;
    let questions = repo::questions(tx, true).await?;
    let checked = check(draft, &questions)?;
    check_siret_free(tx, config, &checked.draft.siret, &app.id).await?;
    let at = format_ts(now);
    repo::update_details(tx, &app.id, &checked.draft, &at).await?;
    repo::replace_details(tx, &app.id, &checked.draft.places, &checked.answers).await?;
    repo::set_status(tx, &app.id, step.to, None, &at).await?;
    crate::audit::record(
        tx,
        &at,
        None,
        step.action,
        Some(&app.id),
        &format!("{} (SIRET {})", checked.draft.org_name, checked.draft.siret),
    )
    .await?;
    let body = ResubmittedMail {
        l: &Letterhead::of(config),
        name: &checked.draft.contact_name,
        org: &checked.draft.org_name,
        token,
    };
    mail_contact(
        tx,
        &checked.draft.contact_email,
        "Pass numérique : votre candidature corrigée est bien reçue",
        &body,
        now,
    )
    .await?;
    find(tx, &app.id)
        .await?
        .ok_or_else(|| Error::not_found("Cette candidature n'existe pas."))
}

/// An application still waiting for the operator's decision.
async fn open_application(
    conn: &mut Conn,
    id: &str,
    to: Status,
) -> Result<(Application, &'static Move)> {
    let app = find(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("Cette candidature n'existe pas."))?;
    let step = to.entered_from(app.status)?;
    Ok((app, step))
}

/// What the operator writes to the applicant, who reads it as is.
fn operator_text(text: &str, what: &'static str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(Error::invalid("missing_message", what));
    }
    Ok(text.to_string())
}

/// The operator starts examining an application (the applicant sees it on its page).
pub async fn start_review(tx: &mut Tx<'_>, actor_id: &str, id: &str, now: Timestamp) -> Result<()> {
    let (app, step) = open_application(tx, id, Status::UnderReview).await?;
    if app.status == Status::UnderReview {
        return Ok(());
    }
    let at = format_ts(now);
    repo::set_status(tx, id, step.to, None, &at).await?;
    crate::audit::record(tx, &at, Some(actor_id), step.action, Some(id), "").await
}

/// The operator sends the application back with what to change; the applicant is e-mailed.
pub async fn request_changes(
    tx: &mut Tx<'_>,
    config: &Config,
    actor_id: &str,
    id: &str,
    message: &str,
    now: Timestamp,
) -> Result<()> {
    let message = operator_text(
        message,
        "Écrivez ce que la structure doit changer (2 000 caractères au plus) : elle le lira tel quel.",
    )?;
    let (app, step) = open_application(tx, id, Status::ChangesRequested).await?;
    let at = format_ts(now);
    repo::set_status(tx, id, step.to, Some(&message), &at).await?;
    crate::audit::record(tx, &at, Some(actor_id), step.action, Some(id), &message).await?;
    let body = ChangesRequestedMail {
        l: &Letterhead::of(config),
        name: &app.contact_name,
        org: &app.org_name,
        message: &message,
    };
    mail_contact(
        tx,
        &app.contact_email,
        "Pass numérique : des modifications sont demandées sur votre candidature",
        &body,
        now,
    )
    .await
}

/// The operator refuses an application, with the reason the applicant reads.
pub async fn reject(
    tx: &mut Tx<'_>,
    config: &Config,
    actor_id: &str,
    id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    let reason = operator_text(
        reason,
        "Indiquez le motif du refus (2 000 caractères au plus) : la structure le lira tel quel.",
    )?;
    let (app, step) = open_application(tx, id, Status::Rejected).await?;
    let at = format_ts(now);
    repo::set_status(tx, id, step.to, Some(&reason), &at).await?;
    crate::audit::record(tx, &at, Some(actor_id), step.action, Some(id), &reason).await?;
    let body = RejectedMail {
        l: &Letterhead::of(config),
        name: &app.contact_name,
        org: &app.org_name,
        reason: &reason,
    };
    mail_contact(
        tx,
        &app.contact_email,
        "Pass numérique : votre candidature n'est pas acceptée",
        &body,
        now,
    )
    .await
}

/// Qualifies an application until `until`: creates the site organisation, its places, its bank
/// account and an administrator account for the contact (invited by e-mail), all in the
/// caller's transaction. Returns the new site.
pub async fn qualify(
    tx: &mut Tx<'_>,
    config: &Config,
    actor: &Organization,
    id: &str,
    until: &str,
    today: Date,
    now: Timestamp,
) -> Result<Organization> {
    actor.require(OrgKind::Operator)?;
    let until = until.trim().parse::<Date>().map_err(|_| {
        Error::invalid(
            "invalid_date",
            "Indiquez la date de fin de qualification au format AAAA-MM-JJ.",
        )
    })?;
    if until <= today {
        return Err(Error::invalid(
            "invalid_date",
            "La date de fin de qualification doit être après aujourd'hui.",
        ));
    }
    let (app, step) = open_application(tx, id, Status::Qualified).await?;
    // A structure already registered renews on its own page: a second organisation would split
    // its places, payments and people.
    if let Some(existing) = crate::orgs::find_site_by_siret(tx, &app.siret).await? {
        return Err(Error::conflict(
            "siret_taken",
            format!(
                "Une structure avec ce SIRET est déjà inscrite ({}) : renouvelez ou changez sa qualification depuis sa fiche, puis refusez cette candidature en l'expliquant.",
                existing.name
            ),
        ));
    }
    let first = app
        .places
        .first()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("application {id} has no place")))?;
    let site = crate::orgs::create_without_place(
        tx,
        Some(&actor.id),
        NewOrganization {
            kind: "site".into(),
            name: app.org_name.clone(),
            siret: Some(app.siret.clone()),
            department: crate::fr::department_of_postcode(&first.postcode),
            postcode: Some(first.postcode.clone()),
            time_zone: None,
        },
        now,
    )
    .await?;
    for place in &app.places {
        let owner = crate::sites::places::Owner {
            site_id: &site.id,
            siret: site.siret.as_deref(),
        };
        crate::sites::places::create_for_application(
            tx,
            owner,
            &place.name,
            &place.address,
            &place.postcode,
            &place.commune,
            now,
        )
        .await?;
    }
    let site = crate::sites::qualification::set_site(
        tx,
        &actor.id,
        &site.id,
        crate::sites::qualification::Status::Qualified,
        Some(until.to_string()),
        now,
    )
    .await?;
    crate::sites::bank::set_bank_account(
        tx,
        actor,
        &site.id,
        crate::sites::bank::NewBankAccount {
            iban: app.iban.clone(),
            bic: None,
            holder: app.holder.clone(),
        },
        None,
        &Letterhead::of(config),
        now,
    )
    .await?;
    let (user, token) = crate::users::open_account(
        tx,
        &site.id,
        &app.contact_email,
        &app.contact_name,
        Role::Admin,
        now,
    )
    .await?;
    let at = format_ts(now);
    crate::audit::record(
        tx,
        &at,
        Some(&actor.id),
        "user.invited",
        Some(&site.id),
        &format!(
            "{} <{}> (admin), contact de la candidature",
            user.name, user.email
        ),
    )
    .await?;
    repo::set_qualified(tx, id, &site.id, &until.to_string(), &at).await?;
    crate::audit::record(
        tx,
        &at,
        Some(&actor.id),
        step.action,
        Some(id),
        &format!("site {} qualifié jusqu'au {until}", site.id),
    )
    .await?;
    let body = QualifiedMail {
        l: &Letterhead::of(config),
        name: &app.contact_name,
        org: &app.org_name,
        end: &crate::fr::long_date(until),
        email: &user.email,
        token: &token,
    };
    mail_contact(
        tx,
        &user.email,
        "Pass numérique : votre candidature est acceptée",
        &body,
        now,
    )
    .await?;
    Ok(site)
}
