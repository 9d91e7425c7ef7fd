//! Redemption without a network (issue 26, server side). A site registers its consoles
//! (devices); each has an allowance (cheques and days it may hold offline before it must sync),
//! set by the operator per device or per site, else the platform's. A console sends what it
//! recorded offline to [`sync`]: each record goes through the one redemption door with the
//! session's time, once per (device, sequence); a cheque already used is a conflict, kept with
//! where and when it was used, and never paid twice.

pub mod console;
mod contract;
mod repo;
mod sync;

pub use contract::{Outcome, RecordOutcome, Scanned, SyncRecord, SyncRequest, UsedCheque};
pub use repo::{Conflict, Device};
pub use sync::{sync, Context};

use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How many cheques, over how many days, a console may record offline before it must sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Allowance {
    pub max_cheques: i64,
    pub max_days: i64,
}

/// What the platform allows offline (from the configuration).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// A device's allowance unless the operator set another for it or its site.
    pub default: Allowance,
    /// Sessions older than this many days when synced are refused.
    pub bound_days: i64,
}

impl Settings {
    pub fn of(config: &crate::config::Config) -> Settings {
        Settings {
            default: Allowance {
                max_cheques: config.offline_max_cheques.max(1),
                max_days: config
                    .offline_max_days
                    .clamp(1, config.offline_bound_days.max(1)),
            },
            bound_days: config.offline_bound_days.max(1),
        }
    }

    /// Both numbers of an allowance, checked, or neither (the default comes back).
    pub fn allowance(
        &self,
        max_cheques: Option<i64>,
        max_days: Option<i64>,
    ) -> Result<Option<Allowance>> {
        match (max_cheques, max_days) {
            (Some(cheques), Some(days)) => self.check(cheques, days).map(Some),
            (None, None) => Ok(None),
            _ => Err(Error::invalid(
                "invalid_allowance",
                "Donnez le nombre de chèques et le nombre de jours, ou aucun des deux pour \
                 revenir à l'allocation par défaut.",
            )),
        }
    }

    /// An allowance the operator asks for, checked: at least one cheque and one day, at most
    /// the bound on a session's age (past it the sync would refuse what the console accepted).
    pub fn check(&self, max_cheques: i64, max_days: i64) -> Result<Allowance> {
        if !(1..=1000).contains(&max_cheques) {
            return Err(Error::invalid(
                "invalid_allowance",
                "Le nombre de chèques hors ligne va de 1 à 1 000.",
            ));
        }
        if !(1..=self.bound_days).contains(&max_days) {
            return Err(Error::invalid(
                "invalid_allowance",
                format!(
                    "Le nombre de jours hors ligne va de 1 à {} : une séance plus ancienne ne \
                     peut plus être encaissée.",
                    self.bound_days
                ),
            ));
        }
        Ok(Allowance {
            max_cheques,
            max_days,
        })
    }
}

/// Registers a console of `site`; `label` names it for the site's people ("Tablette accueil").
pub async fn register(
    tx: &mut Tx<'_>,
    site: &Organization,
    label: &str,
    settings: Settings,
    now: Timestamp,
) -> Result<Device> {
    site.require(OrgKind::Site)?;
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 80 {
        return Err(Error::invalid(
            "invalid_label",
            "Donnez à l'appareil un nom de 1 à 80 caractères (par exemple « Tablette accueil »).",
        ));
    }
    if repo::count_live(tx, &site.id).await? >= 50 {
        return Err(Error::conflict(
            "too_many_devices",
            "Votre lieu a déjà 50 appareils enregistrés : retirez-en un avant d'en ajouter.",
        ));
    }
    let id = crate::db::new_id();
    repo::insert_device(tx, &id, &site.id, label, &crate::clock::format_ts(now)).await?;
    crate::audit::record(
        tx,
        &crate::clock::format_ts(now),
        Some(&site.id),
        "offline_device.registered",
        Some(&id),
        label,
    )
    .await?;
    device(tx, site, &id, settings).await
}

/// One of the site's devices, with the allowance that applies to it.
pub async fn device(
    conn: &mut Conn,
    site: &Organization,
    id: &str,
    settings: Settings,
) -> Result<Device> {
    site.require(OrgKind::Site)?;
    repo::device(conn, id, settings.default)
        .await?
        .filter(|d| d.site_id == site.id)
        .ok_or_else(|| Error::not_found("Cet appareil n'est pas enregistré pour votre lieu."))
}

/// The site's devices, newest first.
pub async fn devices(
    conn: &mut Conn,
    site: &Organization,
    settings: Settings,
) -> Result<Vec<Device>> {
    site.require(OrgKind::Site)?;
    repo::devices_of(conn, &site.id, settings.default).await
}

/// The site's conflicts, newest first.
pub async fn conflicts(conn: &mut Conn, site: &Organization) -> Result<Vec<Conflict>> {
    site.require(OrgKind::Site)?;
    repo::conflicts(conn, Some(&site.id), 200).await
}

/// Every site's conflicts, newest first, for the operator.
pub async fn all_conflicts(conn: &mut Conn, operator: &Organization) -> Result<Vec<Conflict>> {
    operator.require(OrgKind::Operator)?;
    repo::conflicts(conn, None, 500).await
}

/// Every device of every site, for the operator.
pub async fn all_devices(
    conn: &mut Conn,
    operator: &Organization,
    settings: Settings,
) -> Result<Vec<Device>> {
    operator.require(OrgKind::Operator)?;
    repo::all_devices(conn, settings.default).await
}

/// A console as its site (its own) or the operator (any) may see it.
pub async fn visible_device(
    conn: &mut Conn,
    by: &Organization,
    id: &str,
    settings: Settings,
) -> Result<Device> {
    let found = repo::device(conn, id, settings.default).await?;
    match by.kind {
        OrgKind::Operator => found,
        _ => {
            by.require(OrgKind::Site)?;
            found.filter(|d| d.site_id == by.id)
        }
    }
    .ok_or_else(|| Error::not_found("Cet appareil n'est pas enregistré."))
}

/// Revokes a console: its site (its own consoles) or the operator (any). From then on its
/// sync is refused as a whole (`device_revoked`, see [`sync`]) and nothing it sends is kept;
/// what it recorded before and synced stays. Revoking it again changes nothing.
pub async fn revoke(
    tx: &mut Tx<'_>,
    by: &Organization,
    id: &str,
    settings: Settings,
    now: Timestamp,
) -> Result<Device> {
    let device = visible_device(tx, by, id, settings).await?;
    let now_text = crate::clock::format_ts(now);
    if device.revoked_at.is_none() && repo::revoke_device(tx, id, &now_text).await? {
        crate::audit::record(
            tx,
            &now_text,
            Some(&by.id),
            "offline_device.revoked",
            Some(id),
            &device.label,
        )
        .await?;
    }
    repo::device(tx, id, settings.default)
        .await?
        .ok_or_else(|| Error::not_found("Cet appareil n'est pas enregistré."))
}

/// The operator sets the allowance of one device, or the default of a site's devices (`device_id`
/// None); `None` for the allowance gives the platform's (or the site's) back.
pub async fn set_allowance(
    tx: &mut Tx<'_>,
    operator: &Organization,
    site_id: &str,
    device_id: Option<&str>,
    allowance: Option<Allowance>,
    now: Timestamp,
) -> Result<()> {
    operator.require(OrgKind::Operator)?;
    let now_text = crate::clock::format_ts(now);
    let done = match device_id {
        Some(device_id) => repo::set_device_allowance(tx, site_id, device_id, allowance).await?,
        None => {
            let site = crate::orgs::get(tx, site_id).await?;
            site.require(OrgKind::Site)?;
            repo::set_site_allowance(tx, site_id, allowance, &now_text).await?
        }
    };
    if !done {
        return Err(Error::not_found(
            "Cet appareil n'est pas enregistré pour ce lieu.",
        ));
    }
    let detail = match allowance {
        Some(a) => format!("{} chèques, {} jours", a.max_cheques, a.max_days),
        None => "par défaut".to_string(),
    };
    crate::audit::record(
        tx,
        &now_text,
        Some(&operator.id),
        "offline_allowance.set",
        Some(device_id.unwrap_or(site_id)),
        &detail,
    )
    .await
}
