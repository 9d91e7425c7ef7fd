//! A place's zone, when its département's is not the right one (a place near a border of
//! zones, a territory spanning several: French Polynesia's Marquesas).

use super::repo;
use crate::clock::format_ts;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::orgs::{OrgKind, Organization};
use crate::zones::{parse_stored, ZoneChange, ZoneSetting};
use jiff::Timestamp;

/// Sets (or, with none, removes) a place's zone: the operator, or the site organisation it
/// belongs to (audited).
pub async fn set_time_zone(
    tx: &mut Tx<'_>,
    actor: &Organization,
    id: &str,
    change: ZoneChange,
    now: Timestamp,
) -> Result<ZoneSetting> {
    let place = repo::find(tx, id)
        .await?
        .filter(|p| actor.kind == OrgKind::Operator || p.site_org_id.as_deref() == Some(&actor.id))
        .ok_or_else(|| Error::not_found("Ce lieu n'existe pas."))?;
    let place = super::Place {
        time_zone: parse_stored(change.time_zone.as_deref())?,
        ..place
    };
    repo::set_time_zone(tx, id, place.time_zone.as_deref()).await?;
    let setting = ZoneSetting::new(id, place.time_zone.clone(), &place.zone());
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&actor.id),
        "place.time_zone_changed",
        Some(id),
        &setting.zone,
    )
    .await?;
    Ok(setting)
}
