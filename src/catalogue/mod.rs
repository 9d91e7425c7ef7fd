//! The catalogue of each place: the services it offers to Pass numérique holders, with the
//! kind of help, themes of the national typology, usual duration and price in cheques. A site
//! manages only its own places' catalogue; a withdrawn service stays on record (past
//! redemptions name it) but is no longer offered.

mod repo;
pub mod typology;

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use typology::Themes;

/// One service of a place's catalogue.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Service {
    pub id: String,
    pub place_id: String,
    /// `individual_help`, `administrative_procedure` or `workshop`.
    pub kind: String,
    pub title: String,
    pub description: String,
    /// Theme identifiers of the national typology.
    #[schema(value_type = Vec<String>)]
    pub themes: Themes,
    /// Usual duration, in minutes.
    pub minutes: i64,
    /// Cheques a beneficiary gives for it (1 to 10).
    pub price_cheques: i64,
    /// False once withdrawn.
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewService {
    /// `individual_help`, `administrative_procedure` or `workshop`.
    pub kind: String,
    /// 1 to 120 characters.
    pub title: String,
    /// At most 500 characters.
    #[serde(default)]
    pub description: String,
    /// Theme identifiers of the national typology: device, browsing, email, office_software, social_networks, health, banking_shopping, entrepreneurship, job_seeking, digital_security, parenting, school, digital_creation, digital_culture, admin_papers, admin_family, admin_social_health, admin_work, admin_housing, admin_transport, admin_money, admin_justice, admin_foreigners, admin_leisure.
    #[serde(default)]
    pub themes: Vec<String>,
    /// Usual duration, 1 to 600 minutes.
    pub minutes: i64,
    /// 1 to 10 cheques.
    pub price_cheques: i64,
}

/// The place, if it belongs to this site; otherwise "not found", never saying whose it is.
async fn own_place(conn: &mut Conn, site: &Organization, place_id: &str) -> Result<()> {
    site.require(OrgKind::Site)?;
    match crate::sites::places::find(conn, place_id).await? {
        Some(p) if p.site_org_id.as_deref() == Some(site.id.as_str()) => Ok(()),
        _ => Err(Error::not_found("Ce lieu n'existe pas.")),
    }
}

/// A place's whole catalogue, withdrawn services included: for its site or the operator.
pub async fn list(conn: &mut Conn, org: &Organization, place_id: &str) -> Result<Vec<Service>> {
    if org.kind == OrgKind::Operator {
        if crate::sites::places::find(conn, place_id).await?.is_none() {
            return Err(Error::not_found("Ce lieu n'existe pas."));
        }
    } else {
        own_place(conn, org, place_id).await?;
    }
    repo::for_place(conn, place_id, false).await
}

pub async fn create(
    tx: &mut Tx<'_>,
    site: &Organization,
    place_id: &str,
    new: NewService,
    now: Timestamp,
) -> Result<Service> {
    own_place(tx, site, place_id).await?;
    let now_text = format_ts(now);
    let service = checked(new, crate::db::new_id(), place_id, &now_text)?;
    repo::insert(tx, &service).await?;
    crate::audit::record(
        tx,
        &service.created_at,
        Some(&site.id),
        "service.created",
        Some(&service.id),
        &format!(
            "lieu {}, {} ({} chèque(s))",
            place_id, service.title, service.price_cheques
        ),
    )
    .await?;
    Ok(service)
}

/// Replaces what a service says; redemptions already made keep what they recorded.
pub async fn update(
    tx: &mut Tx<'_>,
    site: &Organization,
    place_id: &str,
    service_id: &str,
    new: NewService,
    now: Timestamp,
) -> Result<Service> {
    own_place(tx, site, place_id).await?;
    let current = repo::find(tx, service_id, place_id)
        .await?
        .ok_or_else(|| Error::not_found("Ce service n'existe pas."))?;
    let now_text = format_ts(now);
    let service = Service {
        active: current.active,
        created_at: current.created_at,
        ..checked(new, current.id, place_id, &now_text)?
    };
    repo::update(tx, &service).await?;
    crate::audit::record(
        tx,
        &now_text,
        Some(&site.id),
        "service.updated",
        Some(service_id),
        &format!(
            "lieu {}, {} ({} chèque(s))",
            place_id, service.title, service.price_cheques
        ),
    )
    .await?;
    Ok(service)
}

/// A service as given, validated.
fn checked(new: NewService, id: String, place_id: &str, now_text: &str) -> Result<Service> {
    if !typology::SERVICES.contains(&new.kind.as_str()) {
        return Err(typology::invalid_service());
    }
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 120 || title.contains(char::is_control) {
        return Err(Error::invalid(
            "invalid_title",
            "Donnez un titre au service (120 caractères au plus).",
        ));
    }
    let description = new.description.trim();
    if description.chars().count() > 500 {
        return Err(Error::invalid(
            "invalid_description",
            "La description doit tenir en 500 caractères au plus.",
        ));
    }
    if !(1..=600).contains(&new.minutes) {
        return Err(typology::invalid_minutes());
    }
    if !(1..=10).contains(&new.price_cheques) {
        return Err(Error::invalid(
            "invalid_price",
            "Le prix d'un service va de 1 à 10 chèques.",
        ));
    }
    Ok(Service {
        id,
        place_id: place_id.to_string(),
        kind: new.kind,
        title: title.to_string(),
        description: description.to_string(),
        themes: Themes::parse(&new.themes)?,
        minutes: new.minutes,
        price_cheques: new.price_cheques,
        active: true,
        created_at: now_text.to_string(),
        updated_at: now_text.to_string(),
    })
}

/// Withdraws a service from the catalogue (idempotent: withdrawing it again changes nothing).
pub async fn withdraw(
    tx: &mut Tx<'_>,
    site: &Organization,
    place_id: &str,
    service_id: &str,
    now: Timestamp,
) -> Result<Service> {
    own_place(tx, site, place_id).await?;
    let mut service = repo::find(tx, service_id, place_id)
        .await?
        .ok_or_else(|| Error::not_found("Ce service n'existe pas."))?;
    if service.active {
        let now_text = format_ts(now);
        repo::deactivate(tx, service_id, &now_text).await?;
        crate::audit::record(
            tx,
            &now_text,
            Some(&site.id),
            "service.withdrawn",
            Some(service_id),
            &format!("lieu {place_id}, {}", service.title),
        )
        .await?;
        service.active = false;
        service.updated_at = now_text;
    }
    Ok(service)
}

/// An active service of a place, for a redemption naming it.
pub async fn offered(conn: &mut Conn, service_id: &str, place_id: &str) -> Result<Service> {
    match repo::find(conn, service_id, place_id).await? {
        Some(s) if s.active => Ok(s),
        _ => Err(Error::invalid(
            "unknown_service",
            "Ce service n'est pas au catalogue de ce lieu (ou il a été retiré).",
        )),
    }
}

/// The services offered by each of these places, for the directory and the site's pages.
pub async fn offered_by(
    conn: &mut Conn,
    place_ids: &[&str],
) -> Result<HashMap<String, Vec<Service>>> {
    let mut out: HashMap<String, Vec<Service>> = HashMap::new();
    for service in repo::active_for_places(conn, place_ids).await? {
        out.entry(service.place_id.clone())
            .or_default()
            .push(service);
    }
    Ok(out)
}

impl Service {
    pub fn kind_label(&self) -> &'static str {
        typology::service_label(Some(&self.kind))
    }

    /// "Créer son adresse e-mail : accompagnement individuel, 1 h, 1 chèque."
    pub fn in_words(&self) -> String {
        format!(
            "{} : {}, {}, {}.",
            self.title,
            self.kind_label().to_lowercase(),
            typology::duration_text(self.minutes),
            self.price_text()
        )
    }

    pub fn price_text(&self) -> String {
        match self.price_cheques {
            1 => "1 chèque".to_string(),
            n => format!("{n} chèques"),
        }
    }
}
