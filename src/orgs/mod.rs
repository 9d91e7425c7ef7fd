//! Organisations (operator, funders, distributors, sites), their API tokens and, for sites,
//! their qualification.

mod repo;

use crate::clock::format_ts;
use crate::db::Conn;
use crate::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::civil::Date;
use jiff::Timestamp;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use repo::{find, find_site_by_siret};

/// The audit action that records why a site was suspended; the site is shown it.
pub const SUSPENSION_REASON: &str = "site.suspension_reason";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Operator,
    Funder,
    Distributor,
    Site,
}

impl OrgKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrgKind::Operator => "operator",
            OrgKind::Funder => "funder",
            OrgKind::Distributor => "distributor",
            OrgKind::Site => "site",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "operator" => OrgKind::Operator,
            "funder" => OrgKind::Funder,
            "distributor" => OrgKind::Distributor,
            "site" => OrgKind::Site,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Organization {
    pub id: String,
    pub kind: OrgKind,
    pub name: String,
    pub siret: Option<String>,
    pub department: Option<String>,
    pub postcode: Option<String>,
    pub qualification_status: String,
    pub qualified_until: Option<String>,
}

impl Organization {
    /// Whether this organisation may redeem cheques today.
    pub fn check_can_redeem(&self, today: Date) -> Result<()> {
        if self.kind != OrgKind::Site {
            return Err(Error::wrong_role());
        }
        let current = self.qualification_status == "qualified"
            && self
                .qualified_until
                .as_deref()
                .and_then(|d| d.parse::<Date>().ok())
                .is_some_and(|until| until >= today);
        if !current {
            return Err(Error::forbidden(
                "site_not_qualified",
                "Votre lieu n'a pas de qualification en cours : il ne peut pas encaisser de chèques. \
                 Contactez l'opérateur du Pass numérique pour la renouveler.",
            ));
        }
        Ok(())
    }

    pub fn require(&self, kind: OrgKind) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(Error::wrong_role())
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    pub kind: String,
    pub name: String,
    pub siret: Option<String>,
    pub department: Option<String>,
    pub postcode: Option<String>,
}

pub async fn create(conn: &mut Conn, new: NewOrganization, now: Timestamp) -> Result<String> {
    let org = create_without_place(conn, new, now).await?;
    if org.kind == OrgKind::Site {
        crate::places::create_for_site(conn, &org, now).await?;
    }
    Ok(org.id)
}

/// An organisation with no first place: an application brings its own places.
pub async fn create_without_place(
    conn: &mut Conn,
    new: NewOrganization,
    now: Timestamp,
) -> Result<Organization> {
    let kind = OrgKind::parse(&new.kind).ok_or_else(|| {
        Error::invalid(
            "invalid_kind",
            "Le type d'organisation doit être funder, distributor, site ou operator.",
        )
    })?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid(
            "invalid_name",
            "Le nom de l'organisation est obligatoire (200 caractères au plus).",
        ));
    }
    let siret = non_empty(new.siret);
    if let Some(s) = &siret {
        if !crate::fr::is_valid_siret(s) {
            return Err(Error::invalid(
                "invalid_siret",
                "Le SIRET doit compter 14 chiffres et être valide (clé de contrôle).",
            ));
        }
    }
    let department = non_empty(new.department).map(|d| d.to_uppercase());
    if let Some(d) = &department {
        if !crate::fr::is_valid_department(d) {
            return Err(Error::invalid(
                "invalid_department",
                "Le code de département doit être de la forme 01 à 95, 2A, 2B ou 971 à 976.",
            ));
        }
    }
    let postcode = non_empty(new.postcode);
    if let Some(p) = &postcode {
        if !crate::fr::is_valid_postcode(p) {
            return Err(Error::invalid(
                "invalid_postcode",
                "Le code postal doit compter 5 chiffres.",
            ));
        }
    }
    let org = Organization {
        id: crate::db::new_id(),
        kind,
        name: name.to_string(),
        siret,
        department,
        postcode,
        qualification_status: "none".into(),
        qualified_until: None,
    };
    repo::insert(conn, &org, &format_ts(now)).await?;
    crate::audit::record(
        conn,
        &format_ts(now),
        None,
        "organization.created",
        Some(&org.id),
        &format!("{} {}", org.kind.as_str(), org.name),
    )
    .await?;
    Ok(org)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Tokens are shown once; only their SHA-256 is kept.
pub async fn create_token(conn: &mut Conn, org_id: &str, now: Timestamp) -> Result<String> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = format!("pn_{}", URL_SAFE_NO_PAD.encode(raw));
    repo::insert_token(conn, &hash_token(&token), org_id, &format_ts(now)).await?;
    Ok(token)
}

fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn authenticate(conn: &mut Conn, token: &str) -> Result<Organization> {
    let mut found = authenticate_each(conn, &[token.to_string()]).await?;
    found.pop().unwrap_or(Err(Error::Unauthenticated))
}

/// [`authenticate`] for the tokens of several requests, in one query: each one's organisation,
/// in their order.
pub async fn authenticate_each(
    conn: &mut Conn,
    tokens: &[String],
) -> Result<Vec<Result<Organization>>> {
    let well_formed = |token: &String| token.starts_with("pn_") && token.len() <= 100;
    let mut hashes: Vec<String> = tokens
        .iter()
        .filter(|t| well_formed(t))
        .map(|t| hash_token(t))
        .collect();
    hashes.sort();
    hashes.dedup();
    let found: std::collections::HashMap<String, Organization> =
        repo::find_by_token_hashes(conn, &hashes)
            .await?
            .into_iter()
            .collect();
    Ok(tokens
        .iter()
        .map(|token| {
            well_formed(token)
                .then(|| found.get(&hash_token(token)).cloned())
                .flatten()
                .ok_or(Error::Unauthenticated)
        })
        .collect())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualificationChange {
    pub status: String,
    pub valid_until: Option<String>,
}

/// Qualifies or suspends a site, on the operator's decision (audited).
pub async fn set_qualification(
    conn: &mut Conn,
    actor_id: &str,
    site_id: &str,
    change: QualificationChange,
    now: Timestamp,
) -> Result<Organization> {
    let site = repo::find(conn, site_id)
        .await?
        .filter(|o| o.kind == OrgKind::Site)
        .ok_or_else(|| Error::not_found("Ce lieu de médiation n'existe pas."))?;
    crate::qualification::refuse_if_disqualified(conn, site_id).await?;
    let (status, valid_until) = parse_qualification(change, site.qualified_until.clone())?;
    repo::update_qualification(conn, site_id, &status, valid_until.as_deref()).await?;
    crate::places::qualify_site_places(conn, site_id, &status, valid_until.as_deref()).await?;
    crate::audit::record(
        conn,
        &format_ts(now),
        Some(actor_id),
        &format!("site.{status}"),
        Some(site_id),
        &format!("until {}", valid_until.as_deref().unwrap_or("-")),
    )
    .await?;
    Ok(Organization {
        qualification_status: status,
        qualified_until: valid_until,
        ..site
    })
}

/// Checks a qualification decision: `(status, valid until)`; a suspension keeps the end date.
pub fn parse_qualification(
    change: QualificationChange,
    current_until: Option<String>,
) -> Result<(String, Option<String>)> {
    let status = match change.status.as_str() {
        "qualified" | "suspended" => change.status,
        _ => {
            return Err(Error::invalid(
                "invalid_status",
                "Le statut doit être « qualified » ou « suspended ».",
            ))
        }
    };
    let valid_until = match change.valid_until.as_deref() {
        Some(d) => Some(d.parse::<Date>().map_err(|_| {
            Error::invalid(
                "invalid_date",
                "La date de fin de qualification doit être au format AAAA-MM-JJ.",
            )
        })?),
        None if status == "qualified" => {
            return Err(Error::invalid(
                "invalid_date",
                "Indiquez jusqu'à quelle date (AAAA-MM-JJ) le lieu est qualifié.",
            ))
        }
        None => None,
    };
    Ok((status, valid_until.map(|d| d.to_string()).or(current_until)))
}

pub async fn operator_exists(conn: &mut Conn) -> Result<Option<String>> {
    repo::first_of_kind(conn, OrgKind::Operator).await
}

/// Every organisation's département, for breakdowns.
pub async fn departments(
    conn: &mut Conn,
) -> Result<std::collections::BTreeMap<String, Option<String>>> {
    repo::departments(conn).await
}

/// Every organisation, by kind then name, for the operator.
pub async fn list(conn: &mut Conn) -> Result<Vec<Organization>> {
    repo::list(conn).await
}
