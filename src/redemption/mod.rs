//! Redemption of a cheque by a qualified site: at most once, whatever the concurrency. The
//! guard is one conditional UPDATE of the cheque's status (no read-then-write), backed by a
//! unique index allowing one live redemption per cheque.

pub mod limits;
mod repo;
pub mod writer;

pub use repo::{ChequeLine, RedemptionRow};

use crate::catalogue::typology::{self, Themes};
use crate::clock::{format_ts, parse_ts};
use crate::db::{Conn, Origin, Tx};
use crate::error::{Error, Result};
use crate::fr::long_date_text;
use crate::ledger::{self, Account, Kind, Transfer};
use crate::orgs::{OrgKind, Organization};
use crate::vouchers::codes::{self, Keyring};
use crate::vouchers::ChequeStatus;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
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
}

/// Turns what a site sent into a canonical short code, refusing anything forged or mistyped
/// before the database is asked.
pub fn read_code(keyring: &Keyring, input: &str) -> Result<String> {
    let input = input.trim();
    let read = if codes::looks_like_payload(input) {
        keyring.verify_payload(input)
    } else {
        codes::parse_code(input)
    };
    read.map_err(crate::vouchers::invalid_code)
}

/// A redemption request once checked: its cheques' canonical codes, sorted (two requests sharing
/// cheques then lock them in the same order), the place, and what the session was.
#[derive(Debug, Clone)]
pub struct Session {
    codes: Vec<String>,
    place_id: String,
    service_id: Option<String>,
    service: Option<String>,
    minutes: Option<i64>,
    themes: Themes,
    location: Option<String>,
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
    today: Date,
) -> Result<Session> {
    let places = crate::places::qualifications_of_sites(conn, std::slice::from_ref(&site.id))
        .await?
        .remove(&site.id)
        .unwrap_or_default();
    check_among(conn, keyring, site, new, today, &places).await
}

/// [`check`] with the site's places already read (see [`writer`]): only a catalogue service
/// named is read here.
pub async fn check_among(
    conn: &mut Conn,
    keyring: &Keyring,
    site: &Organization,
    new: NewRedemption,
    today: Date,
    places: &[crate::places::PlaceQualification],
) -> Result<Session> {
    site.check_can_redeem(today)?;
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
    let mut codes: Vec<String> = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let code = read_code(keyring, input).map_err(|e| {
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
        codes.push(code);
    }
    codes.sort();
    let place_id = crate::places::choose_redeeming_place(places, new.place_id.as_deref(), today)?;
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
        place_id,
        service_id,
        service,
        minutes,
        themes,
        location,
    })
}

/// Redeems the cheques of a checked session, all or none: the caller's transaction is rolled
/// back on any refusal, whose message names the cheque when there are several.
pub async fn record(
    tx: &mut Tx<'_>,
    site: &Organization,
    session: Session,
    now: Timestamp,
    today: Date,
) -> Result<RedemptionRow> {
    let origin = tx.origin().clone();
    let mut outcomes = record_together(tx, vec![(site, session, origin)], now, today).await?;
    outcomes.pop().unwrap_or_else(|| {
        Err(Error::Internal(anyhow::anyhow!(
            "a session was recorded without an outcome"
        )))
    })
}

/// Redeems the cheques of several checked sessions in the caller's transaction, each all or
/// none, and answers each (in their order): its redemption, or why it is refused. One
/// conditional UPDATE takes every cheque asked for; a cheque asked for twice goes to the first
/// session asking; those taken for a session that cannot have all of its cheques are given
/// back. Everything else (the redemption rows, their journal entries with each request's
/// origin, one balanced ledger transaction per cheque) is deferred to the end of the
/// transaction, and sent with the answers saved for retries in one round trip: one statement
/// for many sessions instead of several for each is what makes PostgreSQL fast here.
pub async fn record_together(
    tx: &mut Tx<'_>,
    sessions: Vec<(&Organization, Session, Origin)>,
    now: Timestamp,
    today: Date,
) -> Result<Vec<Result<RedemptionRow>>> {
    use std::collections::BTreeMap;
    let now_text = format_ts(now);
    let mut asked: Vec<String> = sessions
        .iter()
        .flat_map(|(_, s, _)| s.codes.iter().cloned())
        .collect();
    asked.sort();
    asked.dedup();
    let mut taken: BTreeMap<String, repo::TakenVoucher> =
        repo::take_vouchers(tx, &asked, &today.to_string(), &now_text)
            .await?
            .into_iter()
            .map(|t| (t.code.clone(), t))
            .collect();
    let claims: Vec<std::result::Result<Vec<repo::TakenVoucher>, Shortfall>> = sessions
        .iter()
        .map(|(_, session, _)| claim(session, &mut taken))
        .collect();
    if !taken.is_empty() {
        let left: Vec<String> = taken.into_values().map(|t| t.id).collect();
        repo::give_back(tx, &left).await?;
    }
    let mut outcomes = Vec::with_capacity(sessions.len());
    let mut redeemed: Vec<(Vec<RedemptionRow>, &Origin)> = Vec::new();
    for ((site, session, origin), claimed) in sessions.iter().zip(claims) {
        match claimed {
            Ok(vouchers) => {
                let cheques = rows_of(site, session, vouchers, &now_text);
                let mut first = cheques[0].clone();
                first.cheques = cheques.iter().map(ChequeLine::of).collect();
                outcomes.push(Ok(first));
                redeemed.push((cheques, origin));
            }
            Err(shortfall) => outcomes.push(Err(refusal(tx, session, shortfall, today).await?)),
        }
    }
    defer_writes(tx, &redeemed, &now_text)?;
    Ok(outcomes)
}

/// Why a session cannot have its cheques: one was not taken (its state tells why), or they
/// come from several passes.
enum Shortfall {
    NotTaken(String),
    DifferentPasses(String),
}

/// Takes the cheques of `session` out of those `taken`: all of them, or none.
fn claim(
    session: &Session,
    taken: &mut std::collections::BTreeMap<String, repo::TakenVoucher>,
) -> std::result::Result<Vec<repo::TakenVoucher>, Shortfall> {
    if let Some(code) = session.codes.iter().find(|c| !taken.contains_key(*c)) {
        return Err(Shortfall::NotTaken(code.clone()));
    }
    let pass_of = |code: &String| taken.get(code).map(|t| t.pass_id.as_str());
    let first = pass_of(&session.codes[0]);
    if let Some(other) = session.codes.iter().find(|c| pass_of(c) != first) {
        return Err(Shortfall::DifferentPasses(other.clone()));
    }
    // Sorted by code, as the session's codes are.
    Ok(session
        .codes
        .iter()
        .filter_map(|code| taken.remove(code))
        .collect())
}

async fn refusal(
    conn: &mut Conn,
    session: &Session,
    shortfall: Shortfall,
    today: Date,
) -> Result<Error> {
    Ok(match shortfall {
        Shortfall::NotTaken(code) => {
            let why = why_not_redeemable(conn, &code, today).await?;
            if session.codes.len() > 1 {
                why.prefixed(&format!("Chèque {} : ", codes::display_code(&code)))
            } else {
                why
            }
        }
        Shortfall::DifferentPasses(code) => Error::invalid(
            "different_passes",
            format!(
                "Chèque {} : il vient d'un autre carnet. Les chèques d'une même \
                 séance doivent venir du même carnet ; aucun n'a été encaissé.",
                codes::display_code(&code)
            ),
        ),
    })
}

/// One redemption row per cheque of the session; the first one's id names the session.
fn rows_of(
    site: &Organization,
    session: &Session,
    vouchers: Vec<repo::TakenVoucher>,
    now_text: &str,
) -> Vec<RedemptionRow> {
    let mut cheques: Vec<RedemptionRow> = Vec::with_capacity(vouchers.len());
    for voucher in vouchers {
        let id = crate::db::new_id();
        cheques.push(RedemptionRow {
            group_id: Some(cheques.first().map_or_else(|| id.clone(), |f| f.id.clone())),
            id,
            voucher_id: voucher.id,
            site_id: site.id.clone(),
            program_id: voucher.program_id,
            distributor_id: voucher.distributor_id,
            value_cents: voucher.value_cents,
            service: session.service.clone(),
            minutes: session.minutes,
            redeemed_at: now_text.to_string(),
            undone_at: None,
            settlement_id: None,
            code: codes::display_code(&voucher.code),
            place_id: Some(session.place_id.clone()),
            service_id: session.service_id.clone(),
            themes: session.themes.clone(),
            location: session.location.clone(),
            cheques: Vec::new(),
        });
    }
    cheques
}

/// The rows, journal entries and ledger transactions of redeemed sessions, each kind in one
/// part of the batch (rows several sessions move, a site's balance, are written once).
fn defer_writes(
    tx: &mut Tx<'_>,
    redeemed: &[(Vec<RedemptionRow>, &Origin)],
    now_text: &str,
) -> Result<()> {
    if redeemed.is_empty() {
        return Ok(());
    }
    let rows: Vec<RedemptionRow> = redeemed.iter().flat_map(|(r, _)| r.clone()).collect();
    repo::insert(tx.deferred(), &rows);
    let entries: Vec<(crate::audit::NewEntry, &Origin)> = redeemed
        .iter()
        .flat_map(|(cheques, origin)| cheques.iter().map(move |r| (r, *origin)))
        .map(|(r, origin)| {
            (
                crate::audit::NewEntry {
                    at: &r.redeemed_at,
                    actor_org_id: Some(&r.site_id),
                    action: "redemption.created",
                    subject_id: Some(&r.id),
                    detail: format!(
                        "chèque {} ({}), {} centimes",
                        r.code, r.voucher_id, r.value_cents
                    ),
                },
                origin,
            )
        })
        .collect();
    let entries: Vec<(&crate::audit::NewEntry, &Origin)> =
        entries.iter().map(|(e, origin)| (e, *origin)).collect();
    crate::audit::defer_from(tx.deferred(), &entries);
    // Each programme's accounts are its own: one set of ledger writes per programme.
    let mut by_program: std::collections::BTreeMap<&str, Vec<ledger::Posting>> =
        std::collections::BTreeMap::new();
    for r in &rows {
        by_program
            .entry(&r.program_id)
            .or_default()
            .push(ledger::Posting {
                kind: Kind::Redemption,
                reference: &r.id,
                transfer: Transfer {
                    from: Account::Outstanding(&r.distributor_id),
                    to: Account::Redeemed(&r.site_id),
                    amount_cents: r.value_cents,
                },
            });
    }
    for (program_id, postings) in by_program {
        ledger::defer(tx, program_id, &postings, now_text)?;
    }
    Ok(())
}

/// [`check`] then [`record`] in the caller's transaction.
pub async fn redeem(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    site: &Organization,
    new: NewRedemption,
    now: Timestamp,
    today: Date,
) -> Result<RedemptionRow> {
    let session = check(tx, keyring, site, new, today).await?;
    record(tx, site, session, now, today).await
}

/// "Chèque ABCD-EFGH-JK12 : " for a typed code; a scanned payload is too long to repeat.
fn about(input: &str) -> String {
    let input = input.trim();
    if input.chars().count() <= 20 {
        format!("Chèque {input} : ")
    } else {
        "Chèque scanné : ".to_string()
    }
}

/// Explains, after the conditional update matched nothing, why this cheque cannot be redeemed.
async fn why_not_redeemable(conn: &mut Conn, code: &str, today: Date) -> Result<Error> {
    let Some(state) = repo::voucher_state(conn, code).await? else {
        return Ok(Error::invalid(
            "invalid_code",
            "Aucun chèque ne porte ce code. Vérifiez chaque caractère sur le chèque.",
        ));
    };
    let expired = state.redeemable_until < today.to_string();
    Ok(match state.status {
        ChequeStatus::Redeemed => Error::conflict(
            "already_redeemed",
            match &state.redeemed_at {
                Some(at) => format!("Ce chèque a déjà été utilisé le {}.", long_date_text(at)),
                None => "Ce chèque a déjà été utilisé.".to_string(),
            },
        ),
        ChequeStatus::Cancelled => Error::gone(
            "cancelled",
            "Ce chèque a été annulé (carnet déclaré perdu) : il ne peut pas être accepté. \
             La personne peut demander un nouveau carnet à son distributeur.",
        ),
        ChequeStatus::Expired => expired_error(&state.expires_on),
        _ if expired => expired_error(&state.expires_on),
        ChequeStatus::Inactive => Error::conflict(
            "not_activated",
            "Ce chèque n'a pas encore été activé par le distributeur qui l'a remis : \
             il ne peut pas être accepté pour l'instant.",
        ),
        ChequeStatus::Valid => {
            Error::Internal(anyhow::anyhow!("valid cheque {code} could not be redeemed"))
        }
    })
}

fn expired_error(expires_on: &str) -> Error {
    Error::gone(
        "expired",
        format!(
            "Ce chèque a expiré le {} : il ne peut plus être accepté.",
            long_date_text(expires_on)
        ),
    )
}

/// A site takes back its own redemption, within the undo window and before settlement. The
/// cheques redeemed together for one session are undone together.
pub async fn undo(
    tx: &mut Tx<'_>,
    site: &Organization,
    id: &str,
    now: Timestamp,
    window: SignedDuration,
) -> Result<RedemptionRow> {
    site.require(OrgKind::Site)?;
    let mut redemption = repo::find_for_site(tx, id, &site.id)
        .await?
        .ok_or_else(|| Error::not_found("Cet encaissement n'existe pas."))?;
    let group = match &redemption.group_id {
        Some(group_id) => repo::group_for_site(tx, group_id, &site.id).await?,
        None => vec![redemption.clone()],
    };
    let now_text = format_ts(now);
    let cutoff = format_ts(now.checked_sub(window).unwrap_or(now));
    for member in &group {
        if !repo::mark_undone(tx, &member.id, &site.id, &cutoff, &now_text).await? {
            return Err(why_not_undone(member, window));
        }
    }
    for member in &group {
        undo_one(tx, site, member, &now_text).await?;
    }
    redemption.undone_at = Some(now_text);
    redemption.code = codes::display_code(&redemption.code);
    redemption.cheques = group
        .iter()
        .map(|m| ChequeLine {
            code: codes::display_code(&m.code),
            ..ChequeLine::of(m)
        })
        .collect();
    Ok(redemption)
}

fn why_not_undone(redemption: &RedemptionRow, window: SignedDuration) -> Error {
    if redemption.undone_at.is_some() {
        Error::conflict("already_undone", "Cet encaissement a déjà été annulé.")
    } else if redemption.settlement_id.is_some() {
        Error::conflict(
            "already_settled",
            "Cet encaissement a déjà été réglé : il ne peut plus être annulé. \
             Contactez l'opérateur du Pass numérique.",
        )
    } else {
        let deadline = parse_ts(&redemption.redeemed_at)
            .and_then(|t| t.checked_add(window).ok())
            .map(|t| long_date_text(&t.to_zoned(crate::clock::paris()).date().to_string()))
            .unwrap_or_default();
        Error::conflict(
            "undo_window_closed",
            format!(
                "Le délai pour annuler cet encaissement est passé (jusqu'au {deadline}). \
                 Contactez l'opérateur du Pass numérique."
            ),
        )
    }
}

/// Gives one cheque back, with its ledger and audit entries.
async fn undo_one(
    tx: &mut Tx<'_>,
    site: &Organization,
    redemption: &RedemptionRow,
    now_text: &str,
) -> Result<()> {
    repo::restore_voucher(tx, &redemption.voucher_id).await?;
    ledger::post(
        tx,
        &redemption.program_id,
        Kind::Undo,
        &redemption.id,
        Transfer {
            from: Account::Redeemed(&site.id),
            to: Account::Outstanding(&redemption.distributor_id),
            amount_cents: redemption.value_cents,
        },
        now_text,
    )
    .await?;
    // A cheque of a carnet cancelled meanwhile does not come back to life.
    if repo::cancel_if_pass_cancelled(tx, &redemption.voucher_id, now_text).await? {
        ledger::post(
            tx,
            &redemption.program_id,
            Kind::Cancellation,
            &redemption.voucher_id,
            Transfer {
                from: Account::Outstanding(&redemption.distributor_id),
                to: Account::Quota(&redemption.distributor_id),
                amount_cents: redemption.value_cents,
            },
            now_text,
        )
        .await?;
    }
    crate::audit::record(
        tx,
        now_text,
        Some(&site.id),
        "redemption.undone",
        Some(&redemption.id),
        &format!(
            "chèque {}, {} centimes",
            redemption.voucher_id, redemption.value_cents
        ),
    )
    .await
}

/// One of the site's redemptions, with every cheque of its session (its receipt).
pub async fn get(conn: &mut Conn, site: &Organization, id: &str) -> Result<RedemptionRow> {
    site.require(OrgKind::Site)?;
    let mut redemption = repo::find_for_site(conn, id, &site.id)
        .await?
        .ok_or_else(|| Error::not_found("Cet encaissement n'existe pas."))?;
    let group = match &redemption.group_id {
        Some(group_id) => repo::group_for_site(conn, group_id, &site.id).await?,
        None => vec![redemption.clone()],
    };
    redemption.code = codes::display_code(&redemption.code);
    redemption.cheques = group
        .iter()
        .map(|m| ChequeLine {
            code: codes::display_code(&m.code),
            ..ChequeLine::of(m)
        })
        .collect();
    Ok(redemption)
}

pub async fn list(conn: &mut Conn, site: &Organization) -> Result<Vec<RedemptionRow>> {
    site.require(OrgKind::Site)?;
    let mut rows = repo::list_for_site(conn, &site.id, 500).await?;
    for r in &mut rows {
        r.code = codes::display_code(&r.code);
    }
    Ok(rows)
}
