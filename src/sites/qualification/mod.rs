//! A site's qualification and what happens to it: the operator qualifies a site or a place
//! until a date, suspends it (with a reason the site is told), or disqualifies it for good; and
//! the site is reminded to renew before its qualification ends. The API and the pages decide
//! through the same operations ([`decide_site`], [`decide_place`], [`disqualify_site`],
//! [`disqualify_place`]).
//!
//! A disqualified site or place keeps the status `suspended` (it redeems nothing) and a row in
//! `disqualifications`, which forbids any later qualification.

mod repo;

pub use crate::sites::places::QualificationStatus as Status;

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::mail::Letterhead;
use crate::orgs::{OrgKind, Organization};
use crate::sites::places::Place;
use askama::Template;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Deserialize;

/// How many days before a qualification ends the site's administrators are reminded.
pub const REMINDER_DAYS: [i64; 2] = [60, 15];

/// The audit action that records why a site was suspended; the site is shown it.
pub const SUSPENSION_REASON: &str = "site.suspension_reason";

/// What the operator sends to qualify or suspend a site or a place.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualificationChange {
    /// `qualified` or `suspended`.
    pub status: String,
    /// Last day of the qualification (AAAA-MM-JJ), today or later; needed to qualify.
    pub valid_until: Option<String>,
    /// Why it is suspended: needed to suspend, and told to the site.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A decision, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Qualify { until: Date },
    Suspend { reason: String },
}

impl Decision {
    pub fn parse(change: QualificationChange, today: Date) -> Result<Decision> {
        match Status::from_text(&change.status) {
            Some(Status::Qualified) => {
                let text = change
                    .valid_until
                    .as_deref()
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| {
                        Error::invalid(
                            "invalid_date",
                            "Indiquez jusqu'à quelle date (AAAA-MM-JJ) le lieu est qualifié.",
                        )
                    })?;
                let until = text.parse::<Date>().map_err(|_| {
                    Error::invalid(
                        "invalid_date",
                        "La date de fin de qualification doit être au format AAAA-MM-JJ.",
                    )
                })?;
                if until < today {
                    return Err(Error::invalid(
                        "invalid_date",
                        "La date de fin de qualification doit être aujourd'hui ou plus tard.",
                    ));
                }
                Ok(Decision::Qualify { until })
            }
            Some(Status::Suspended) => {
                let reason: String = change
                    .reason
                    .as_deref()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                if reason.is_empty() || reason.chars().count() > 500 {
                    return Err(Error::invalid(
                        "missing_reason",
                        "Indiquez le motif de la suspension (500 caractères au plus) : il est \
                         communiqué au lieu.",
                    ));
                }
                Ok(Decision::Suspend { reason })
            }
            _ => Err(Error::invalid(
                "invalid_status",
                "Choisissez de qualifier (qualified) ou de suspendre (suspended) le lieu.",
            )),
        }
    }
}

#[derive(Template)]
#[template(path = "mail/suspension.txt")]
struct SuspensionMail<'a> {
    l: &'a Letterhead,
    site: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "mail/site_disqualified.txt")]
struct SiteDisqualifiedMail<'a> {
    l: &'a Letterhead,
    site: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "mail/place_disqualified.txt")]
struct PlaceDisqualifiedMail<'a> {
    l: &'a Letterhead,
    place: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "mail/renewal_reminder.txt")]
struct RenewalMail<'a> {
    l: &'a Letterhead,
    site: &'a str,
    end: String,
    days_left: i64,
}

/// The operator qualifies a site until a date, or suspends it with a reason: all its places
/// follow; a suspension's reason is kept for the site's pages and e-mailed to its members.
pub async fn decide_site(
    tx: &mut Tx<'_>,
    operator: &Organization,
    site_id: &str,
    decision: Decision,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<Organization> {
    operator.require(OrgKind::Operator)?;
    let (status, until) = match &decision {
        Decision::Qualify { until } => (Status::Qualified, Some(until.to_string())),
        Decision::Suspend { .. } => (Status::Suspended, None),
    };
    let site = set_site(tx, &operator.id, site_id, status, until, now).await?;
    if let Decision::Suspend { reason } = &decision {
        crate::audit::record(
            tx,
            &format_ts(now),
            Some(&operator.id),
            SUSPENSION_REASON,
            Some(&site.id),
            reason,
        )
        .await?;
        let body = SuspensionMail {
            l: letterhead,
            site: &site.name,
            reason,
        };
        let subject = "Pass numérique : votre lieu ne peut plus encaisser de chèques";
        mail_people(tx, &site.id, false, subject, &body, now).await?;
    }
    Ok(site)
}

/// The operator qualifies or suspends one place (audited).
pub async fn decide_place(
    tx: &mut Tx<'_>,
    operator: &Organization,
    place_id: &str,
    decision: Decision,
    now: Timestamp,
) -> Result<Place> {
    operator.require(OrgKind::Operator)?;
    let (status, until) = match &decision {
        Decision::Qualify { until } => (Status::Qualified, Some(until.to_string())),
        Decision::Suspend { .. } => (Status::Suspended, None),
    };
    let place = set_place(tx, &operator.id, place_id, status, until, now).await?;
    if let Decision::Suspend { reason } = &decision {
        crate::audit::record(
            tx,
            &format_ts(now),
            Some(&operator.id),
            "place.suspension_reason",
            Some(place_id),
            reason,
        )
        .await?;
    }
    Ok(place)
}

/// Sets a site's qualification and its places' (audited). `until`: `None` keeps the current end.
pub(crate) async fn set_site(
    tx: &mut Tx<'_>,
    actor_id: &str,
    site_id: &str,
    status: Status,
    until: Option<String>,
    now: Timestamp,
) -> Result<Organization> {
    let site = crate::orgs::find(tx, site_id)
        .await?
        .filter(|o| o.kind == OrgKind::Site)
        .ok_or_else(|| Error::not_found("Ce lieu de médiation n'existe pas."))?;
    refuse_if_disqualified(tx, site_id).await?;
    let until = until.or(site.qualified_until.clone());
    crate::orgs::set_qualification(tx, site_id, status.as_str(), until.as_deref()).await?;
    crate::sites::places::qualify_site_places(tx, site_id, status.as_str(), until.as_deref())
        .await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(actor_id),
        &status.action("site"),
        Some(site_id),
        &format!("until {}", until.as_deref().unwrap_or("-")),
    )
    .await?;
    Ok(Organization {
        qualification_status: status,
        qualified_until: until,
        ..site
    })
}

/// Sets one place's qualification (audited). `until`: `None` keeps the current end.
async fn set_place(
    tx: &mut Tx<'_>,
    actor_id: &str,
    place_id: &str,
    status: Status,
    until: Option<String>,
    now: Timestamp,
) -> Result<Place> {
    let place = crate::sites::places::find(tx, place_id)
        .await?
        .ok_or_else(|| Error::not_found("Ce lieu n'existe pas."))?;
    refuse_if_disqualified(tx, place_id).await?;
    let until = until.or(place.qualified_until.clone());
    crate::sites::places::set_qualification(tx, place_id, status.as_str(), until.as_deref())
        .await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(actor_id),
        &status.action("place"),
        Some(place_id),
        &format!("until {}", until.as_deref().unwrap_or("-")),
    )
    .await?;
    Ok(Place {
        qualification_status: status,
        qualified_until: until,
        ..place
    })
}

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

/// Disqualifies, for good, a site (`target` is the site) or one of its places.
pub async fn disqualify(
    tx: &mut Tx<'_>,
    operator: &Organization,
    site_id: &str,
    target: &str,
    reason: &str,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<()> {
    if target == site_id {
        return disqualify_site(tx, operator, site_id, reason, letterhead, now).await;
    }
    let belongs = crate::sites::places::find(tx, target)
        .await?
        .is_some_and(|p| p.site_org_id.as_deref() == Some(site_id));
    if !belongs {
        return Err(Error::invalid(
            "invalid_target",
            "Choisissez la structure entière ou l'un de ses lieux.",
        ));
    }
    disqualify_place(tx, operator, target, reason, letterhead, now).await
}

/// Disqualifies a whole site and all its places, for good (audited, its people told by e-mail).
pub async fn disqualify_site(
    tx: &mut Tx<'_>,
    operator: &Organization,
    site_id: &str,
    reason: &str,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<()> {
    operator.require(OrgKind::Operator)?;
    let actor_id = operator.id.as_str();
    let reason = check_reason(reason)?;
    let site = set_site(tx, actor_id, site_id, Status::Suspended, None, now).await?;
    let at = format_ts(now);
    repo::insert(tx, site_id, "site", &reason, actor_id, &at).await?;
    for place in crate::sites::places::for_site(tx, site_id).await? {
        repo::insert(tx, place.id(), "place", &reason, actor_id, &at).await?;
    }
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        "site.disqualified",
        Some(site_id),
        &reason,
    )
    .await?;
    // The site's own pages show the suspension reason: this one says it is final.
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        SUSPENSION_REASON,
        Some(site_id),
        &format!("disqualification définitive. {reason}"),
    )
    .await?;
    let body = SiteDisqualifiedMail {
        l: letterhead,
        site: &site.name,
        reason: &reason,
    };
    let subject = "Pass numérique : votre structure est disqualifiée";
    mail_people(tx, site_id, false, subject, &body, now).await?;
    Ok(())
}

/// Disqualifies one place of a site, for good (audited, the site's people told by e-mail).
pub async fn disqualify_place(
    tx: &mut Tx<'_>,
    operator: &Organization,
    place_id: &str,
    reason: &str,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<()> {
    operator.require(OrgKind::Operator)?;
    let actor_id = operator.id.as_str();
    let reason = check_reason(reason)?;
    let place = set_place(tx, actor_id, place_id, Status::Suspended, None, now).await?;
    let at = format_ts(now);
    repo::insert(tx, place_id, "place", &reason, actor_id, &at).await?;
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        "place.disqualified",
        Some(place_id),
        &reason,
    )
    .await?;
    if let Some(site_id) = &place.site_org_id {
        let body = PlaceDisqualifiedMail {
            l: letterhead,
            place: place.data.get("nom").unwrap_or_default(),
            reason: &reason,
        };
        let subject = "Pass numérique : un de vos lieux est disqualifié";
        mail_people(tx, site_id, false, subject, &body, now).await?;
    }
    Ok(())
}

/// Queues a message for each active person of an organisation (only its administrators if
/// `admins_only`). Returns how many.
async fn mail_people(
    tx: &mut Tx<'_>,
    org_id: &str,
    admins_only: bool,
    subject: &str,
    body: &impl Template,
    now: Timestamp,
) -> Result<usize> {
    crate::users::mail_people(tx, org_id, admins_only, subject, body, now).await
}

/// Reminds the administrators of each qualified site, 60 and then 15 days before its
/// qualification ends, to renew it. Each reminder is recorded before it is queued, so a rerun
/// (or a restart) never sends it twice. Returns the number of e-mails queued.
pub async fn send_reminders(
    tx: &mut Tx<'_>,
    letterhead: &Letterhead,
    today: Date,
    now: Timestamp,
) -> Result<usize> {
    let horizon = today
        .checked_add(jiff::Span::new().days(REMINDER_DAYS[0]))
        .map_err(|e| Error::Internal(e.into()))?;
    let due = repo::ending_between(tx, today, horizon).await?;
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
        if !repo::record_reminder(tx, &site.id, &until.to_string(), threshold, &now_text).await? {
            continue;
        }
        let body = RenewalMail {
            l: letterhead,
            site: &site.name,
            end: crate::fr::long_date(until),
            days_left,
        };
        let subject = "Pass numérique : pensez à renouveler votre qualification";
        queued += mail_people(tx, &site.id, true, subject, &body, now).await?;
        crate::audit::record(
            tx,
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
