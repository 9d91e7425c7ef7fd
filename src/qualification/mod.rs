//! What happens to a site's qualification after it is granted: final disqualification of a
//! site or of one of its places, and the reminders to renew before it ends.
//!
//! A disqualified site or place keeps the status `suspended` (it redeems nothing) and a row in
//! `disqualifications`, which forbids any later qualification.

mod repo;

use crate::clock::format_ts;
use crate::config::Config;
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::orgs::{self, OrgKind, QualificationChange};
use jiff::civil::Date;
use jiff::Timestamp;

/// How many days before a qualification ends the site's administrators are reminded.
pub const REMINDER_DAYS: [i64; 2] = [60, 15];

/// A final decision, with the reason shown to the site.
#[derive(Clone, Debug)]
pub struct Disqualification {
    pub subject_id: String,
    pub subject_kind: String,
    pub reason: String,
    pub decided_at: String,
}

pub async fn disqualification(
    conn: &mut Conn,
    subject_id: &str,
) -> Result<Option<Disqualification>> {
    repo::find(conn, subject_id).await
}

/// Refuses any qualification change to a site or place disqualified for good.
pub async fn refuse_if_disqualified(conn: &mut Conn, subject_id: &str) -> Result<()> {
    match repo::find(conn, subject_id).await? {
        Some(_) => Err(Error::conflict(
            "disqualified",
            "Ce lieu a été disqualifié : cette décision est définitive, sa qualification ne peut plus changer.",
        )),
        None => Ok(()),
    }
}

fn check_reason(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid(
            "missing_reason",
            "Indiquez le motif de la disqualification (500 caractères au plus) : il est communiqué au lieu.",
        ));
    }
    Ok(reason.to_string())
}

/// Disqualifies a whole site and all its places, for good (audited, its people told by e-mail).
pub async fn disqualify_site(
    conn: &mut Conn,
    config: &Config,
    actor_id: &str,
    site_id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    let reason = check_reason(reason)?;
    let change = QualificationChange {
        status: "suspended".into(),
        valid_until: None,
    };
    let site = orgs::set_qualification(conn, actor_id, site_id, change, now).await?;
    let at = format_ts(now);
    repo::insert(conn, site_id, "site", &reason, actor_id, &at).await?;
    for place in crate::places::for_site(conn, site_id).await? {
        repo::insert(conn, place.id(), "place", &reason, actor_id, &at).await?;
    }
    crate::audit::record(
        conn,
        &at,
        Some(actor_id),
        "site.disqualified",
        Some(site_id),
        &reason,
    )
    .await?;
    // The site's own pages show the suspension reason: this one says it is final.
    crate::audit::record(
        conn,
        &at,
        Some(actor_id),
        orgs::SUSPENSION_REASON,
        Some(site_id),
        &format!("disqualification définitive. {reason}"),
    )
    .await?;
    let body = format!(
        "Bonjour,\n\n\
         L'opérateur du Pass numérique a disqualifié {site}. Cette décision est définitive : \
         votre structure ne peut plus encaisser de chèques Pass numérique. Les chèques déjà \
         encaissés vous seront payés normalement.\n\n\
         Motif : {reason}\n\n\
         Pour en parler, appelez le {phone} ou écrivez à {help}.\n",
        site = site.name,
        phone = config.helpline_phone,
        help = config.helpline_email,
    );
    mail_people(
        conn,
        site_id,
        false,
        "Pass numérique : votre structure est disqualifiée",
        &body,
        now,
    )
    .await?;
    Ok(())
}

/// Disqualifies one place of a site, for good (audited, the site's people told by e-mail).
pub async fn disqualify_place(
    conn: &mut Conn,
    config: &Config,
    actor_id: &str,
    place_id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    let reason = check_reason(reason)?;
    let change = QualificationChange {
        status: "suspended".into(),
        valid_until: None,
    };
    let place = crate::places::set_qualification(conn, actor_id, place_id, change, now).await?;
    let at = format_ts(now);
    repo::insert(conn, place_id, "place", &reason, actor_id, &at).await?;
    crate::audit::record(
        conn,
        &at,
        Some(actor_id),
        "place.disqualified",
        Some(place_id),
        &reason,
    )
    .await?;
    if let Some(site_id) = &place.site_org_id {
        let body = format!(
            "Bonjour,\n\n\
             L'opérateur du Pass numérique a disqualifié votre lieu « {name} ». Cette décision \
             est définitive : ce lieu ne peut plus encaisser de chèques Pass numérique.\n\n\
             Motif : {reason}\n\n\
             Pour en parler, appelez le {phone} ou écrivez à {help}.\n",
            name = place.data.get("nom").unwrap_or_default(),
            phone = config.helpline_phone,
            help = config.helpline_email,
        );
        mail_people(
            conn,
            site_id,
            false,
            "Pass numérique : un de vos lieux est disqualifié",
            &body,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Queues a message for each active person of an organisation (only its administrators if
/// `admins_only`). Returns how many.
async fn mail_people(
    conn: &mut Conn,
    org_id: &str,
    admins_only: bool,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<usize> {
    let mut queued = 0;
    for person in crate::users::list_for_org(conn, org_id).await? {
        if person.disabled_at.is_some() || (admins_only && person.role != "admin") {
            continue;
        }
        let mail = crate::mail::Outgoing {
            to: person.email,
            subject: subject.to_string(),
            text_body: body.to_string(),
            html_body: None,
            attachments: Vec::new(),
        };
        // An address the mailer cannot use must not stop the daily run (nor a decision): the
        // others are still told, and the refusal is logged. The check runs before any SQL.
        match crate::mail::enqueue(conn, &mail, now).await {
            Ok(_) => queued += 1,
            Err(e @ Error::Unprocessable { .. }) => {
                tracing::warn!(org_id, error = %e, "qualification e-mail not queued")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}

/// Reminds the administrators of each qualified site, 60 and then 15 days before its
/// qualification ends, to renew it. Each reminder is recorded before it is queued, so a rerun
/// (or a restart) never sends it twice. Returns the number of e-mails queued.
pub async fn send_reminders(
    conn: &mut Conn,
    config: &Config,
    today: Date,
    now: Timestamp,
) -> Result<usize> {
    let horizon = today
        .checked_add(jiff::Span::new().days(REMINDER_DAYS[0]))
        .map_err(|e| Error::Internal(e.into()))?;
    let due = repo::ending_between(conn, today, horizon).await?;
    let now_text = format_ts(now);
    let mut queued = 0;
    for site in due {
        if site.kind != OrgKind::Site {
            continue;
        }
        let Some(until) = site
            .qualified_until
            .as_deref()
            .and_then(|d| d.parse::<Date>().ok())
        else {
            continue;
        };
        let days_left = (until - today).get_days() as i64;
        // The tightest threshold reached: 15 days before also covers a missed 60-day reminder.
        let Some(&threshold) = REMINDER_DAYS.iter().rev().find(|&&d| days_left <= d) else {
            continue;
        };
        if !repo::record_reminder(conn, &site.id, &until.to_string(), threshold, &now_text).await? {
            continue;
        }
        let body = format!(
            "Bonjour,\n\n\
             La qualification de {name} au Pass numérique prend fin le {end}, dans {days_left} \
             jours. Après cette date, vos lieux ne pourront plus encaisser de chèques.\n\n\
             Pour la renouveler, contactez l'opérateur du Pass numérique : {phone}, {help}. \
             Vous pouvez aussi vous connecter à votre espace : {url}/connexion\n",
            name = site.name,
            end = crate::fr::long_date(until),
            url = config.public_url.trim_end_matches('/'),
            phone = config.helpline_phone,
            help = config.helpline_email,
        );
        queued += mail_people(
            conn,
            &site.id,
            true,
            "Pass numérique : pensez à renouveler votre qualification",
            &body,
            now,
        )
        .await?;
        crate::audit::record(
            conn,
            &now_text,
            None,
            "site.renewal_reminder",
            Some(&site.id),
            &format!("{threshold} jours avant le {until}"),
        )
        .await?;
    }
    Ok(queued)
}
