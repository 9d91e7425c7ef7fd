//! What a site's console keeps to check cheques without a connection, besides the public keys
//! and the signed list of cancelled cheques (see [`crate::vouchers::offline`]): each place of the
//! site, its zone (a cheque's last day is a day there), whether it may redeem, and which
//! programmes' cheques it accepts. The console checks a scanned cheque against this; the sync
//! checks everything again through the one redemption door.

use crate::db::Conn;
use crate::error::Result;
use crate::orgs::{OrgKind, Organization};
use crate::programs::ProgramStatus;
use crate::vouchers::codes::programme_ref;
use jiff::civil::Date;
use serde::Serialize;

/// Everything the console reads from the page it is served with.
#[derive(Clone, Debug, Serialize)]
pub struct Setup {
    pub site_id: String,
    pub places: Vec<ConsolePlace>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConsolePlace {
    pub id: String,
    pub name: String,
    /// A tz database name: the place's day and the offset its sessions are written with.
    pub zone: String,
    /// Whether it may redeem today (its own qualification and the site's).
    pub redeems: bool,
    /// The programmes whose cheques are accepted here (open, and this place in their territory).
    pub programmes: Vec<ConsoleProgramme>,
    /// Its catalogue services: `(id, kind)`, so that a programme's kinds of help can be checked.
    pub services: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConsoleProgramme {
    /// As in PN2 payloads.
    pub reference: String,
    pub name: String,
    /// The kinds of help its cheques pay for; none for every kind.
    pub services: Vec<String>,
    /// Its planned last day (`YYYY-MM-DD`), if any.
    pub closes_on: Option<String>,
}

/// What `site`'s console needs, as of `today`.
pub async fn setup(conn: &mut Conn, site: &Organization, today: Date) -> Result<Setup> {
    site.require(OrgKind::Site)?;
    let site_redeems = site.check_can_redeem(today).is_ok();
    let places = crate::sites::places::for_site(conn, &site.id).await?;
    let ids: Vec<&str> = places.iter().map(|p| p.id()).collect();
    let mut offered = crate::catalogue::offered_by(conn, &ids).await?;
    let programmes: Vec<crate::programs::Program> = crate::programs::list_all(conn)
        .await?
        .into_iter()
        .filter(|p| p.status == ProgramStatus::Open && p.ended_on(today).is_none())
        .collect();
    let places = places
        .iter()
        .map(|place| {
            let insee = place.data.get("code_insee");
            ConsolePlace {
                id: place.id().to_string(),
                name: place.data.get("nom").unwrap_or("Lieu").to_string(),
                zone: place
                    .zone()
                    .iana_name()
                    .unwrap_or("Europe/Paris")
                    .to_string(),
                redeems: site_redeems && place.is_qualified_on(today),
                programmes: programmes
                    .iter()
                    .filter(|p| p.territory.includes(place.department.as_deref(), insee))
                    .map(|p| ConsoleProgramme {
                        reference: programme_ref(&p.id),
                        name: p.name.clone(),
                        services: p.services.kinds().to_vec(),
                        closes_on: p.closes_on.clone(),
                    })
                    .collect(),
                services: offered
                    .remove(place.id())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| (s.id, s.kind))
                    .collect(),
            }
        })
        .collect();
    Ok(Setup {
        site_id: site.id.clone(),
        places,
    })
}
