//! What a site sends to redeem, checked before anything is written: the codes (forged,
//! mistyped, repeated), the place, the catalogue service and the typology.

use crate::catalogue::typology::{self, Themes};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::orgs::Organization;
use crate::vouchers::codes::{self, Keyring};
use jiff::Timestamp;
use serde::Deserialize;

/// Cheques one request may redeem together: the highest price of a catalogue service.
pub const MAX_CHEQUES: usize = 10;

/// One session paid with one or more cheques of the same pass.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRedemption {
    /// One cheque: a scanned QR payload or a typed short code.
    #[serde(default)]
    pub code: Option<String>,
    /// Several cheques of the same pass for one session (at most 10): all are redeemed, or none.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub codes: Vec<String>,
    /// The place where the service is given; needed when the site has several places.
    #[serde(default)]
    pub place_id: Option<String>,
    /// A service of the place's catalogue: its kind, duration and themes apply unless given,
    /// and exactly its price in cheques must be given.
    #[serde(default)]
    pub service_id: Option<String>,
    /// `individual_help`, `administrative_procedure` or `workshop`.
    #[serde(default)]
    pub service: Option<String>,
    /// Duration of the session, 1 to 600 minutes.
    #[serde(default)]
    pub minutes: Option<i64>,
    /// Theme identifiers of the national typology: device, browsing, email, office_software, social_networks, health, banking_shopping, entrepreneurship, job_seeking, digital_security, parenting, school, digital_creation, digital_culture, admin_papers, admin_family, admin_social_health, admin_work, admin_housing, admin_transport, admin_money, admin_justice, admin_foreigners, admin_leisure.
    #[serde(default)]
    pub themes: Vec<String>,
    /// `at_site`, `at_home` or `remote`.
    #[serde(default)]
    pub location: Option<String>,
    /// Level of help given: `emergency`, `inclusion` or `upskilling`; the carnet's, noted at
    /// issuance, if not given.
    #[serde(default)]
    pub help_level: Option<String>,
}

/// Turns what a site sent into a canonical short code (with what a PN2 payload states about
/// the cheque, for [`super::record`] to compare with the database), refusing anything forged
/// or mistyped before the database is asked.
pub fn read_code(keyring: &Keyring, input: &str) -> Result<codes::Scanned> {
    let input = input.trim();
    let read = if codes::looks_like_payload(input) {
        keyring.verify_payload(input)
    } else {
        codes::parse_code(input).map(|code| codes::Scanned { code, claims: None })
    };
    read.map_err(crate::vouchers::invalid_code)
}

/// A redemption request once checked: its cheques' canonical codes, sorted (two requests sharing
/// cheques then lock them in the same order), the place, and what the session was.
#[derive(Debug, Clone)]
pub struct Session {
    pub(super) codes: Vec<String>,
    /// What the PN2 payloads among them state, by code.
    pub(super) claims: std::collections::BTreeMap<String, codes::Claims>,
    pub(super) place_id: String,
    /// Where the place is, for the rules of each cheque's programme.
    pub(super) place_department: Option<String>,
    pub(super) place_insee: Option<String>,
    pub(super) service_id: Option<String>,
    pub(super) service: Option<String>,
    pub(super) minutes: Option<i64>,
    pub(super) themes: Themes,
    pub(super) location: Option<String>,
    pub(super) help_level: Option<crate::outcomes::HelpLevel>,
    /// When the help was given, for a session recorded offline and synced later (UTC).
    pub(super) session_at: Option<String>,
    /// The console that recorded it offline.
    pub(super) device_id: Option<String>,
}

impl Session {
    /// The same session, recorded offline on `device_id` at `session_at` (UTC text).
    pub fn offline(self, device_id: &str, session_at: String) -> Session {
        Session {
            device_id: Some(device_id.to_string()),
            session_at: Some(session_at),
            ..self
        }
    }

    /// The canonical codes of its cheques, sorted.
    pub fn codes(&self) -> &[String] {
        &self.codes
    }
}

/// Checks what a site sent and reads what that needs (its place, the catalogue service) before
/// anything is written: forged or mistyped codes, a place that cannot redeem, a wrong number of
/// cheques are refused here. The place is read outside the write transaction, so that SQLite's
/// single writer is held only for writing; a suspension committed in between is the same as one
/// committed a moment after the redemption.
pub async fn check(
    conn: &mut Conn,
    keyring: &Keyring,
    site: &Organization,
    new: NewRedemption,
    at: Timestamp,
) -> Result<Session> {
    let places =
        crate::sites::places::qualifications_of_sites(conn, std::slice::from_ref(&site.id))
            .await?
            .remove(&site.id)
            .unwrap_or_default();
    check_among(conn, keyring, site, new, at, &places).await
}

/// [`check`] with the site's places already read (see [`writer`]): only a catalogue service
/// named is read here.
pub async fn check_among(
    conn: &mut Conn,
    keyring: &Keyring,
    site: &Organization,
    new: NewRedemption,
    at: Timestamp,
    places: &[crate::sites::places::PlaceQualification],
) -> Result<Session> {
    // Qualifications end at midnight where the site is (and, below, where its place is).
    site.check_can_redeem(crate::zones::today_in(at, &site.zone()))?;
    let inputs: Vec<&str> = new
        .code
        .as_deref()
        .into_iter()
        .chain(new.codes.iter().map(String::as_str))
        .collect();
    if inputs.is_empty() {
        return Err(Error::invalid(
            "missing_code",
            "Indiquez le code du chèque (code) ou les codes des chèques (codes).",
        ));
    }
    if inputs.len() > MAX_CHEQUES {
        return Err(Error::invalid(
            "too_many_codes",
            format!("Une séance se paie avec {MAX_CHEQUES} chèques au plus."),
        ));
    }
    let several = inputs.len() > 1;
    let mut service = match &new.service {
        Some(s) if !typology::SERVICES.contains(&s.as_str()) => {
            return Err(typology::invalid_service())
        }
        other => other.clone(),
    };
    let mut minutes = new.minutes;
    if minutes.is_some_and(|m| !(1..=600).contains(&m)) {
        return Err(typology::invalid_minutes());
    }
    let mut themes = Themes::parse(&new.themes)?;
    let location = typology::parse_location(new.location.as_deref())?;
    let help_level = crate::outcomes::HelpLevel::parse(new.help_level.as_deref())?;
    let mut codes: Vec<String> = Vec::with_capacity(inputs.len());
    let mut claims = std::collections::BTreeMap::new();
    for input in &inputs {
        let codes::Scanned {
            code,
            claims: stated,
        } = read_code(keyring, input).map_err(|e| {
            if several {
                e.prefixed(&about(input))
            } else {
                e
            }
        })?;
        if codes.contains(&code) {
            return Err(Error::invalid(
                "duplicate_code",
                format!(
                    "Le chèque {} est donné deux fois.",
                    codes::display_code(&code)
                ),
            ));
        }
        if let Some(stated) = stated {
            claims.insert(code.clone(), stated);
        }
        codes.push(code);
    }
    codes.sort();
    let place = crate::sites::places::choose_redeeming_place(places, new.place_id.as_deref(), at)?;
    let place_id = place.id.clone();
    let service_id = new.service_id.filter(|s| !s.is_empty());
    if let Some(service_id) = service_id.as_deref() {
        let offered = crate::catalogue::offered(conn, service_id, &place_id).await?;
        if service.as_deref().is_some_and(|s| s != offered.kind) {
            return Err(Error::invalid(
                "invalid_service",
                "Le type de service ne correspond pas au service du catalogue choisi.",
            ));
        }
        if codes.len() as i64 != offered.price_cheques {
            return Err(Error::invalid(
                "wrong_cheque_count",
                format!(
                    "Le service « {} » vaut {} : donnez exactement ce nombre de chèques \
                     ({} donné(s)).",
                    offered.title,
                    offered.price_text(),
                    codes.len()
                ),
            ));
        }
        service = Some(offered.kind.clone());
        minutes = minutes.or(Some(offered.minutes));
        if themes.is_empty() {
            themes = offered.themes.clone();
        }
    }
    Ok(Session {
        codes,
        claims,
        place_id,
        place_department: place.department.clone(),
        place_insee: place.insee.clone(),
        service_id,
        service,
        minutes,
        themes,
        location,
        help_level,
        session_at: None,
        device_id: None,
    })
}

/// "Chèque ABCD-EFGH-JK12 : " for a typed code; a scanned payload is too long to repeat.
pub(super) fn about(input: &str) -> String {
    let input = input.trim();
    if input.chars().count() <= 20 {
        format!("Chèque {input} : ")
    } else {
        "Chèque scanné : ".to_string()
    }
}
