//! Organisations (operator, funders, distributors, sites), their API tokens and, for sites,
//! their qualification.

mod repo;

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::fr::Siret;
use crate::sites::places::QualificationStatus;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::civil::Date;
use jiff::Timestamp;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use repo::{find, find_site_by_siret};

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

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organization {
    pub id: String,
    pub kind: OrgKind,
    pub name: String,
    pub siret: Option<String>,
    pub department: Option<String>,
    pub postcode: Option<String>,
    pub qualification_status: QualificationStatus,
    pub qualified_until: Option<String>,
    /// The zone stored for it, overriding its département's (see [`Organization::zone`]).
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl Organization {
    /// Where the dates it reads are shown: its stored zone, or its département's (or
    /// postcode's).
    pub fn zone(&self) -> jiff::tz::TimeZone {
        let code = self.department.as_deref().or(self.postcode.as_deref());
        crate::zones::zone_for(self.time_zone.as_deref(), code)
    }

    /// Whether this organisation may redeem cheques today.
    pub fn check_can_redeem(&self, today: Date) -> Result<()> {
        if self.kind != OrgKind::Site {
            return Err(Error::wrong_role());
        }
        let current = self
            .qualification_status
            .is_current(self.qualified_until.as_deref(), today);
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
    /// Its zone (a tz name, "America/Martinique"), when not its département's.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// The operator creates an organisation (audited); a site gets its first place. Operator
/// organisations are only made by [`bootstrap`]: a token of one holds every power.
pub async fn create(
    tx: &mut Tx<'_>,
    operator: &Organization,
    new: NewOrganization,
    now: Timestamp,
) -> Result<Organization> {
    operator.require(OrgKind::Operator)?;
    if OrgKind::parse(&new.kind) == Some(OrgKind::Operator) {
        return Err(invalid_kind());
    }
    let org = create_without_place(tx, Some(&operator.id), new, now).await?;
    if org.kind == OrgKind::Site {
        let owner = crate::sites::places::Owner {
            site_id: &org.id,
            siret: org.siret.as_deref(),
        };
        crate::sites::places::create_for_site(tx, owner, &org.name, org.postcode.as_deref(), now)
            .await?;
    }
    Ok(org)
}

/// Creates the operator organisation if missing; returns a new operator token.
pub async fn bootstrap(tx: &mut Tx<'_>, now: Timestamp) -> Result<String> {
    let operator_id = match operator_exists(tx).await? {
        Some(id) => id,
        None => {
            let new = NewOrganization {
                kind: OrgKind::Operator.as_str().into(),
                name: "Opérateur du Pass numérique".into(),
                siret: None,
                department: None,
                postcode: None,
                time_zone: None,
            };
            create_without_place(tx, None, new, now).await?.id
        }
    };
    let token = new_token(tx, &operator_id, now).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&operator_id),
        "api_token.created",
        Some(&operator_id),
        "jeton de l'opérateur créé à l'installation",
    )
    .await?;
    Ok(token)
}

/// An organisation with no first place: an application brings its own places.
pub async fn create_without_place(
    tx: &mut Tx<'_>,
    actor_id: Option<&str>,
    new: NewOrganization,
    now: Timestamp,
) -> Result<Organization> {
    let kind = OrgKind::parse(&new.kind).ok_or_else(invalid_kind)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
        return Err(Error::invalid(
            "invalid_name",
            "Le nom de l'organisation est obligatoire (200 caractères au plus).",
        ));
    }
    let siret = match non_empty(new.siret) {
        Some(s) => Some(Siret::parse(&s).map(Siret::into_string).ok_or_else(|| {
            Error::invalid(
                "invalid_siret",
                "Le SIRET doit compter 14 chiffres et être valide (clé de contrôle).",
            )
        })?),
        None => None,
    };
    let department = non_empty(new.department).map(|d| d.to_uppercase());
    if let Some(d) = &department {
        if !crate::fr::is_valid_department(d) {
            return Err(Error::invalid(
                "invalid_department",
                crate::fr::DEPARTMENT_FORMAT,
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
        qualification_status: QualificationStatus::None,
        qualified_until: None,
        time_zone: crate::zones::parse_stored(new.time_zone.as_deref())?,
    };
    repo::insert(tx, &org, &format_ts(now)).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        actor_id,
        "organization.created",
        Some(&org.id),
        &format!("{} {}", org.kind.as_str(), org.name),
    )
    .await?;
    Ok(org)
}

/// Sets (or, with none, removes) an organisation's zone: the operator, or the organisation
/// itself (audited).
pub async fn set_time_zone(
    tx: &mut Tx<'_>,
    actor: &Organization,
    id: &str,
    change: crate::zones::ZoneChange,
    now: Timestamp,
) -> Result<crate::zones::ZoneSetting> {
    if actor.kind != OrgKind::Operator && actor.id != id {
        return Err(Error::wrong_role());
    }
    let mut org = find(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("Cette organisation n'existe pas."))?;
    org.time_zone = crate::zones::parse_stored(change.time_zone.as_deref())?;
    repo::set_time_zone(tx, id, org.time_zone.as_deref()).await?;
    let setting = crate::zones::ZoneSetting::new(id, org.time_zone.clone(), &org.zone());
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&actor.id),
        "organization.time_zone_changed",
        Some(id),
        &setting.zone,
    )
    .await?;
    Ok(setting)
}

fn invalid_kind() -> Error {
    Error::invalid(
        "invalid_kind",
        "Choisissez le type d'organisation : financeur (funder), distributeur (distributor) ou \
         lieu de médiation (site). L'organisation opératrice est unique, créée à l'installation.",
    )
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A new API token, shown once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// What names it in the list of tokens, to revoke it.
    pub id: String,
    /// Shown once: only its hash is kept.
    pub token: String,
    pub organization_id: String,
}

/// The operator issues an API token for an organisation (audited). Tokens are shown once; only
/// their SHA-256 is kept.
pub async fn issue_token(
    tx: &mut Tx<'_>,
    operator: &Organization,
    org_id: &str,
    now: Timestamp,
) -> Result<IssuedToken> {
    operator.require(OrgKind::Operator)?;
    let org = repo::find(tx, org_id)
        .await?
        .ok_or_else(|| Error::not_found("Cette organisation n'existe pas."))?;
    let token = new_token(tx, &org.id, now).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&operator.id),
        "api_token.created",
        Some(&org.id),
        &format!("jeton créé pour {}", org.name),
    )
    .await?;
    Ok(IssuedToken {
        id: hash_token(&token)[..16].to_string(),
        token,
        organization_id: org.id,
    })
}

async fn new_token(tx: &mut Tx<'_>, org_id: &str, now: Timestamp) -> Result<String> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = format!("pn_{}", URL_SAFE_NO_PAD.encode(raw));
    repo::insert_token(tx, &hash_token(&token), org_id, &format_ts(now)).await?;
    Ok(token)
}

fn hash_token(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// What an API token is checked against: now, and how long it may stay unused.
#[derive(Clone, Copy, Debug)]
pub struct TokenPolicy {
    pub now: Timestamp,
    /// A token unused for longer stops working; `None`: never.
    pub idle: Option<jiff::SignedDuration>,
}

impl TokenPolicy {
    pub fn new(now: Timestamp, idle_days: i64) -> Self {
        TokenPolicy {
            now,
            idle: (idle_days > 0).then(|| jiff::SignedDuration::from_hours(24 * idle_days)),
        }
    }
}

/// Who a token is, once checked; `touch`: its hash, when its last use is worth noting (it was
/// last noted over an hour ago).
#[derive(Clone, Debug)]
pub struct Caller {
    pub org: Organization,
    pub touch: Option<String>,
}

/// How often a token's last use is written down at most.
const TOUCH_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

pub async fn authenticate(conn: &mut Conn, token: &str, policy: TokenPolicy) -> Result<Caller> {
    let mut found = authenticate_each(conn, &[token.to_string()], policy).await?;
    found.pop().unwrap_or(Err(Error::Unauthenticated))
}

/// [`authenticate`] for the tokens of several requests, in one query: each one's caller, in
/// their order. A revoked token, or one unused for longer than the policy allows, is refused.
pub async fn authenticate_each(
    conn: &mut Conn,
    tokens: &[String],
    policy: TokenPolicy,
) -> Result<Vec<Result<Caller>>> {
    let well_formed = |token: &String| token.starts_with("pn_") && token.len() <= 100;
    let mut hashes: Vec<String> = tokens
        .iter()
        .filter(|t| well_formed(t))
        .map(|t| hash_token(t))
        .collect();
    hashes.sort();
    hashes.dedup();
    let found: std::collections::HashMap<String, repo::Holder> =
        repo::find_by_token_hashes(conn, &hashes)
            .await?
            .into_iter()
            .map(|h| (h.hash.clone(), h))
            .collect();
    let ago = |d: jiff::SignedDuration| format_ts(policy.now.checked_sub(d).unwrap_or(policy.now));
    let idle_since = policy.idle.map(ago);
    let touch_before = ago(TOUCH_EVERY);
    Ok(tokens
        .iter()
        .map(|token| {
            let holder = well_formed(token)
                .then(|| found.get(&hash_token(token)))
                .flatten()
                .ok_or(Error::Unauthenticated)?;
            let last = holder.last_used_at.as_ref().unwrap_or(&holder.created_at);
            if idle_since.as_ref().is_some_and(|since| last < since) {
                return Err(Error::Unauthenticated);
            }
            let stale = holder
                .last_used_at
                .as_ref()
                .is_none_or(|used| *used < touch_before);
            Ok(Caller {
                org: holder.org.clone(),
                touch: stale.then(|| holder.hash.clone()),
            })
        })
        .collect())
}

/// Notes, with the caller's other writes, that these tokens were just used.
pub fn note_token_use(tx: &mut Tx<'_>, hashes: &[String], now: Timestamp) {
    repo::touch_tokens(tx.deferred(), hashes, &format_ts(now));
}

pub use repo::TokenRow;

/// An organisation's API tokens (never the tokens themselves): the operator sees any
/// organisation's, an organisation its own.
pub async fn tokens(conn: &mut Conn, by: &Organization, org_id: &str) -> Result<Vec<TokenRow>> {
    if by.kind != OrgKind::Operator && by.id != org_id {
        return Err(Error::not_found("Cette organisation n'existe pas."));
    }
    let org = get(conn, org_id).await?;
    repo::tokens_of(conn, &org.id).await
}

/// Revokes an API token at once (audited): the operator any organisation's, an organisation
/// its own. `token` is a token's id (see [`TokenRow`]).
pub async fn revoke_token(
    tx: &mut Tx<'_>,
    by: &Organization,
    org_id: &str,
    token: &str,
    now: Timestamp,
) -> Result<TokenRow> {
    if by.kind != OrgKind::Operator && by.id != org_id {
        return Err(Error::not_found("Cette organisation n'existe pas."));
    }
    let org = get(tx, org_id).await?;
    revoke(tx, by, &org, token, now).await
}

/// Revokes the very token a call was made with (a leaked or retired token, by its holder).
pub async fn revoke_own_token(tx: &mut Tx<'_>, token: &str, now: Timestamp) -> Result<TokenRow> {
    let policy = TokenPolicy { now, idle: None };
    let caller = authenticate(tx, token, policy).await?;
    revoke(tx, &caller.org, &caller.org, &hash_token(token), now).await
}

async fn revoke(
    tx: &mut Tx<'_>,
    by: &Organization,
    org: &Organization,
    id_or_hash: &str,
    now: Timestamp,
) -> Result<TokenRow> {
    let now_text = format_ts(now);
    if !repo::revoke_token(tx, &org.id, id_or_hash, &now_text, &by.id).await? {
        return Err(Error::not_found(
            "Ce jeton n'existe pas pour cette organisation, ou il est déjà révoqué.",
        ));
    }
    let id: String = id_or_hash.chars().take(16).collect();
    crate::audit::record(
        tx,
        &now_text,
        Some(&by.id),
        "api_token.revoked",
        Some(&org.id),
        &format!("jeton {id} de {} révoqué", org.name),
    )
    .await?;
    repo::tokens_of(tx, &org.id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("revoked token {id} vanished")))
}

/// Records a site's qualification (see `qualification`, which decides it).
pub(crate) async fn set_qualification(
    tx: &mut Tx<'_>,
    site_id: &str,
    status: &str,
    valid_until: Option<&str>,
) -> Result<()> {
    repo::update_qualification(tx, site_id, status, valid_until).await
}

/// An organisation by id, or a refusal saying it does not exist.
pub async fn get(conn: &mut Conn, id: &str) -> Result<Organization> {
    repo::find(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("Cette organisation n'existe pas."))
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
