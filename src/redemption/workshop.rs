//! A collective session (a workshop): one session taking cheques of several carnets, with the
//! number of people present. Its cheques are redeemed all or none, each its own redemption and
//! balanced ledger transaction as for any session; they share the workshop's id as `group_id`
//! (undoing one undoes the workshop's cheques together), and one `workshops` row keeps the
//! attendance count, which no cheque can tell.

use super::check::{about, check, read_code, NewRedemption};
use super::record::{
    defer_writes, disagrees, payload_mismatch, rows_of, take_valid, why_not_redeemable,
};
use super::repo::{self, ChequeLine};
use crate::catalogue::typology::Themes;
use crate::clock::format_ts;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use crate::vouchers::codes::{self, Keyring};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Cheques one workshop may take at most (one or two per person for a group of up to 30).
pub const MAX_WORKSHOP_CHEQUES: usize = 60;

/// Most people a workshop may count.
pub const MAX_ATTENDEES: i64 = 200;

/// A workshop as a site records it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkshop {
    /// The cheques taken, one or more of each carnet used (a typed code or a scanned payload).
    #[schema(max_items = 60)]
    pub codes: Vec<String>,
    /// People present, at least as many as the carnets used (some may come without one).
    pub attendees: i64,
    /// The place where the workshop was held; needed when the site has several places.
    #[serde(default)]
    pub place_id: Option<String>,
    /// Duration, 1 to 600 minutes.
    #[serde(default)]
    pub minutes: Option<i64>,
    /// Theme identifiers of the national typology (as for a redemption).
    #[serde(default)]
    pub themes: Vec<String>,
    /// `at_site`, `at_home` or `remote`.
    #[serde(default)]
    pub location: Option<String>,
    /// Level of help: `emergency`, `inclusion` or `upskilling`; each carnet's own if not given.
    #[serde(default)]
    pub help_level: Option<String>,
}

/// A recorded workshop, with its cheques.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkshopRow {
    /// Also the `group_id` of its redemptions.
    pub id: String,
    pub site_id: String,
    pub place_id: Option<String>,
    pub attendees: i64,
    pub carnets: i64,
    pub minutes: Option<i64>,
    #[schema(value_type = Vec<String>)]
    pub themes: Themes,
    pub location: Option<String>,
    pub help_level: Option<String>,
    pub held_at: String,
    pub total_cents: Cents,
    pub cheques: Vec<ChequeLine>,
}

/// Records a workshop in the caller's transaction: every cheque, or none (the transaction is
/// rolled back on a refusal, which names the cheque).
pub async fn record_workshop(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    site: &Organization,
    new: NewWorkshop,
    now: Timestamp,
) -> Result<WorkshopRow> {
    site.require(OrgKind::Site)?;
    if !(1..=MAX_ATTENDEES).contains(&new.attendees) {
        return Err(Error::invalid(
            "invalid_attendees",
            format!("Indiquez le nombre de personnes présentes, de 1 à {MAX_ATTENDEES}."),
        ));
    }
    if new.codes.iter().all(|c| c.trim().is_empty()) {
        return Err(Error::invalid(
            "missing_code",
            "Indiquez les codes des chèques reçus pour l'atelier (un ou plus par carnet).",
        ));
    }
    if new.codes.len() > MAX_WORKSHOP_CHEQUES {
        return Err(Error::invalid(
            "too_many_codes",
            format!("Un atelier prend {MAX_WORKSHOP_CHEQUES} chèques au plus."),
        ));
    }
    let inputs: Vec<&str> = new
        .codes
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    // The session's other details are checked as for any redemption, on its first cheque.
    let mut session = check(
        tx,
        keyring,
        site,
        NewRedemption {
            code: inputs.first().map(|c| c.to_string()),
            place_id: new.place_id,
            service: Some("workshop".into()),
            minutes: new.minutes,
            themes: new.themes,
            location: new.location,
            help_level: new.help_level,
            ..NewRedemption::default()
        },
        now,
    )
    .await?;
    let mut codes: Vec<String> = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let scanned = read_code(keyring, input).map_err(|e| e.prefixed(&about(input)))?;
        let code = scanned.code;
        if codes.contains(&code) {
            return Err(Error::invalid(
                "duplicate_code",
                format!(
                    "Le chèque {} est donné deux fois.",
                    codes::display_code(&code)
                ),
            ));
        }
        // What a PN2 payload states is compared with the cheque once taken, as for a single
        // session.
        if let Some(stated) = scanned.claims {
            session.claims.insert(code.clone(), stated);
        }
        codes.push(code);
    }
    codes.sort();
    session.codes = codes;
    let now_text = format_ts(now);
    let taken: Vec<repo::TakenVoucher> = take_valid(tx, &session.codes, now, &now_text)
        .await?
        .into_values()
        .collect();
    if let Some(code) = session
        .codes
        .iter()
        .find(|c| !taken.iter().any(|t| &t.code == *c))
    {
        let why = why_not_redeemable(tx, code, now).await?;
        return Err(why.prefixed(&format!("Chèque {} : ", codes::display_code(code))));
    }
    for voucher in &taken {
        if session
            .claims
            .get(&voucher.code)
            .is_some_and(|stated| disagrees(stated, voucher))
        {
            return Err(payload_mismatch(&voucher.code));
        }
        if let Some(why) = crate::programs::rules_refusal(
            &crate::programs::Territory::from_stored(&voucher.territory),
            &crate::programs::Services::from_stored(&voucher.services),
            session.place_department.as_deref(),
            session.place_insee.as_deref(),
            session.service.as_deref(),
        ) {
            return Err(why.prefixed(&format!("Chèque {} : ", codes::display_code(&voucher.code))));
        }
    }
    let mut carnets: Vec<&str> = taken.iter().map(|t| t.pass_id.as_str()).collect();
    carnets.sort();
    carnets.dedup();
    let carnets = carnets.len() as i64;
    if carnets > new.attendees {
        return Err(Error::invalid(
            "attendees_below_carnets",
            format!(
                "Les chèques viennent de {carnets} carnets : au moins {carnets} personnes étaient \
                 donc présentes. Corrigez le nombre de personnes présentes."
            ),
        ));
    }
    let id = crate::db::new_id();
    let sizes: super::record::CarnetSizes = taken
        .iter()
        .map(|t| (t.pass_id.clone(), t.pass_cheques))
        .collect();
    let mut rows = rows_of(site, &session, taken, &now_text);
    for row in &mut rows {
        row.group_id = Some(id.clone());
    }
    let workshop = WorkshopRow {
        id,
        site_id: site.id.clone(),
        place_id: Some(session.place_id.clone()),
        attendees: new.attendees,
        carnets,
        minutes: session.minutes,
        themes: session.themes.clone(),
        location: session.location.clone(),
        help_level: session.help_level.map(|l| l.as_str().to_string()),
        held_at: now_text.clone(),
        total_cents: rows.iter().map(|r| r.value_cents).sum(),
        cheques: rows.iter().map(ChequeLine::of).collect(),
    };
    repo::insert_workshop(tx, &workshop, rows.len() as i64).await?;
    let origin = tx.origin().clone();
    let department = session.place_department.as_deref();
    defer_writes(tx, &[(rows, &origin, department)], &sizes, &now_text).await?;
    Ok(workshop)
}

/// One of the site's workshops.
pub async fn get_workshop(
    conn: &mut crate::db::Conn,
    site: &Organization,
    id: &str,
) -> Result<WorkshopRow> {
    site.require(OrgKind::Site)?;
    repo::find_workshop(conn, &site.id, id)
        .await?
        .ok_or_else(|| Error::not_found("Cet atelier n'existe pas."))
}
