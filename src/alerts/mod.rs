//! Alerts against gaming: patterns a funder would want to question, found by a periodic job
//! and kept with their evidence until someone marks them reviewed. An alert is a question, not
//! a verdict: a workshop can use a whole carnet in one day, a mediator working "hors les murs"
//! can help someone in the evening. What the operator and the funder see is the pattern and
//! the facts behind it.
//!
//! - `carnet_in_one_day`: every cheque of a carnet used at one site on one day.
//! - `outside_hours`: sessions at a place outside the opening hours it declared.
//! - `distributor_concentration`: most of one distributor's carnets used at one site.
//! - `rate_spike`: a site using far more cheques in a week than it usually does.
//!
//! Each is found once per subject (a carnet, a place and a day…): running again changes nothing.

mod detect;
mod repo;

use crate::clock::format_ts;
use crate::db::{Conn, Db, Origin, Tx};
use crate::error::{Error, Result};
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;

pub use crate::config::Alerts as Thresholds;
pub use repo::Alert;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    CarnetInOneDay,
    OutsideHours,
    DistributorConcentration,
    RateSpike,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::CarnetInOneDay,
        Kind::OutsideHours,
        Kind::DistributorConcentration,
        Kind::RateSpike,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CarnetInOneDay => "carnet_in_one_day",
            Kind::OutsideHours => "outside_hours",
            Kind::DistributorConcentration => "distributor_concentration",
            Kind::RateSpike => "rate_spike",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// What the pattern is, in a few words, as a title.
    pub fn label(self) -> &'static str {
        match self {
            Kind::CarnetInOneDay => "Carnet utilisé en entier en une journée",
            Kind::OutsideHours => "Séances en dehors des horaires d'ouverture",
            Kind::DistributorConcentration => {
                "Carnets d'un distributeur utilisés surtout à un lieu"
            }
            Kind::RateSpike => "Lieu bien au-dessus de son rythme habituel",
        }
    }
}

/// What one run found, per pattern.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub carnet_in_one_day: u64,
    pub outside_hours: u64,
    pub distributor_concentration: u64,
    pub rate_spike: u64,
}

impl Found {
    pub fn total(&self) -> u64 {
        self.carnet_in_one_day
            + self.outside_hours
            + self.distributor_concentration
            + self.rate_spike
    }
}

/// Looks for every pattern up to `now`, in one transaction; alerts already found stay as they
/// are (reviewed or not).
pub async fn detect(db: &Db, thresholds: Thresholds, now: Timestamp) -> Result<Found> {
    db.transact(Origin::platform(), move |tx| {
        Box::pin(async move { detect::all(tx, thresholds, now).await })
    })
    .await
}

/// Which alerts `org` may see: all for the operator, those of its programmes for a funder.
fn scope(org: &Organization) -> Result<Option<&str>> {
    match org.kind {
        OrgKind::Operator => Ok(None),
        OrgKind::Funder => Ok(Some(org.id.as_str())),
        _ => Err(Error::wrong_role()),
    }
}

/// The alerts `org` may see, not yet reviewed first (newest first), then the last reviewed.
pub async fn list(conn: &mut Conn, org: &Organization) -> Result<(Vec<Alert>, Vec<Alert>)> {
    let funder = scope(org)?;
    let open = repo::list(conn, funder, false, 500).await?;
    let reviewed = repo::list(conn, funder, true, 50).await?;
    Ok((open, reviewed))
}

/// One alert, if `org` may see it.
pub async fn get(conn: &mut Conn, org: &Organization, id: &str) -> Result<Alert> {
    let funder = scope(org)?;
    repo::find(conn, funder, id)
        .await?
        .ok_or_else(|| Error::not_found("Cette alerte n'existe pas, ou ne vous concerne pas."))
}

/// Marks an alert reviewed by `org`, with an optional note. Reviewing it again changes nothing
/// (the first review stands).
pub async fn review(
    tx: &mut Tx<'_>,
    org: &Organization,
    id: &str,
    note: &str,
    now: Timestamp,
) -> Result<Alert> {
    let alert = get(tx, org, id).await?;
    if alert.reviewed_at.is_some() {
        return Ok(alert);
    }
    let note = note.trim();
    if note.chars().count() > 1000 {
        return Err(Error::invalid(
            "note_too_long",
            "La note est trop longue : 1 000 caractères au plus.",
        ));
    }
    let at = format_ts(now);
    repo::mark_reviewed(tx, id, &org.id, (!note.is_empty()).then_some(note), &at).await?;
    crate::audit::record(
        tx,
        &at,
        Some(&org.id),
        "alert.reviewed",
        Some(id),
        alert.kind.as_str(),
    )
    .await?;
    get(tx, org, id).await
}
