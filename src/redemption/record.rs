//! Recording checked sessions: one conditional UPDATE takes every cheque asked for, the rows,
//! journal entries and ledger transactions follow in one round trip; a refusal says why.

use super::check::{check, NewRedemption, Session};
use super::repo::{self, ChequeLine, RedemptionRow};
use crate::clock::format_ts;
use crate::db::{Conn, Origin, Tx};
use crate::error::{Error, Result};
use crate::fr::{long_date, long_date_in, long_date_text};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::orgs::Organization;
use crate::vouchers::codes::{self, Keyring};
use crate::vouchers::ChequeStatus;
use jiff::Timestamp;

/// Redeems the cheques of a checked session, all or none: the caller's transaction is rolled
/// back on any refusal, whose message names the cheque when there are several.
pub async fn record(
    tx: &mut Tx<'_>,
    site: &Organization,
    session: Session,
    now: Timestamp,
) -> Result<RedemptionRow> {
    let origin = tx.origin().clone();
    let mut outcomes = record_together(tx, vec![(site, session, origin)], now).await?;
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
/// A cheque's last day ends at midnight in its programme's zone ([`take_valid`]).
pub async fn record_together(
    tx: &mut Tx<'_>,
    sessions: Vec<(&Organization, Session, Origin)>,
    now: Timestamp,
) -> Result<Vec<Result<RedemptionRow>>> {
    let now_text = format_ts(now);
    let mut asked: Vec<String> = sessions
        .iter()
        .flat_map(|(_, s, _)| s.codes.iter().cloned())
        .collect();
    asked.sort();
    asked.dedup();
    // A session recorded offline is checked against the time the help was given (offline
    // sessions are recorded one by one, never grouped with others).
    let valid_at = sessions
        .iter()
        .filter_map(|(_, s, _)| s.session_at.as_deref().and_then(crate::clock::parse_ts))
        .min()
        .unwrap_or(now);
    let mut taken = take_valid(tx, &asked, valid_at, &now_text).await?;
    let offline = sessions.iter().any(|(_, s, _)| s.session_at.is_some());
    let revived = if offline {
        let missing: Vec<String> = asked
            .iter()
            .filter(|c| !taken.contains_key(*c))
            .cloned()
            .collect();
        take_expired(tx, &missing, valid_at, &now_text, &mut taken).await?
    } else {
        Revived::new()
    };
    let claims: Vec<std::result::Result<Vec<repo::TakenVoucher>, Shortfall>> = sessions
        .iter()
        .map(|(_, session, _)| claim(session, &mut taken))
        .collect();
    if !taken.is_empty() {
        let (expired, left): (Vec<String>, Vec<String>) = taken
            .into_values()
            .map(|t| t.id)
            .partition(|id| revived.contains_key(id));
        if !left.is_empty() {
            repo::give_back(tx, &left).await?;
        }
        let expired: Vec<(String, Option<String>)> = expired
            .into_iter()
            .map(|id| {
                let at = revived.get(&id).cloned().flatten();
                (id, at)
            })
            .collect();
        repo::give_back_expired(tx, &expired).await?;
    }
    let mut outcomes = Vec::with_capacity(sessions.len());
    let mut redeemed: Vec<Redeemed> = Vec::new();
    let mut sizes = CarnetSizes::new();
    for ((site, session, origin), claimed) in sessions.iter().zip(claims) {
        match claimed {
            Ok(vouchers) => {
                for voucher in vouchers.iter().filter(|v| revived.contains_key(&v.id)) {
                    reverse_expiry(tx, site, voucher, &now_text).await?;
                }
                for voucher in &vouchers {
                    sizes.insert(voucher.pass_id.clone(), voucher.pass_cheques);
                }
                let cheques = rows_of(site, session, vouchers, &now_text);
                let mut first = cheques[0].clone();
                first.cheques = cheques.iter().map(ChequeLine::of).collect();
                outcomes.push(Ok(first));
                redeemed.push((cheques, origin, session.place_department.as_deref()));
            }
            Err(shortfall) => outcomes.push(Err(refusal(tx, session, shortfall, now).await?)),
        }
    }
    defer_writes(tx, &redeemed, &sizes, &now_text).await?;
    Ok(outcomes)
}

/// Takes the cheques asked for that are valid in their programme's zone, by code. A cheque's
/// last day ends at midnight in its programme's zone: the UPDATE takes those valid on the
/// earliest day anywhere, and each taken cheque is then checked against its own programme's
/// day (the zone comes with the row), those past it given back at once.
pub(super) async fn take_valid(
    tx: &mut Tx<'_>,
    asked: &[String],
    valid_at: Timestamp,
    now_text: &str,
) -> Result<std::collections::BTreeMap<String, repo::TakenVoucher>> {
    let bound = crate::zones::earliest_today(valid_at).to_string();
    let mut local = LocalDays::new(valid_at);
    let mut taken = std::collections::BTreeMap::new();
    let mut past = Vec::new();
    for t in repo::take_vouchers(tx, asked, &bound, now_text).await? {
        if local.still_valid(&t) {
            taken.insert(t.code.clone(), t);
        } else {
            past.push(t.id);
        }
    }
    if !past.is_empty() {
        repo::give_back(tx, &past).await?;
    }
    Ok(taken)
}

/// Cheques taken back from their expiry, by id, with when the job had expired them.
type Revived = std::collections::BTreeMap<String, Option<String>>;

/// The cheques of `missing` a session recorded offline may still take although the daily job
/// expired them: expired after the session took place (`valid_at`), their last day (and their
/// programme's) not yet over at that moment where their programme is, their programme still
/// open (a closed programme's unused value went back to its funder). The sync already refused
/// sessions older than the offline bound. Taken ones join `taken`; the others are given back
/// expired as they were.
async fn take_expired(
    tx: &mut Tx<'_>,
    missing: &[String],
    valid_at: Timestamp,
    now_text: &str,
    taken: &mut std::collections::BTreeMap<String, repo::TakenVoucher>,
) -> Result<Revived> {
    let mut revived = Revived::new();
    if missing.is_empty() {
        return Ok(revived);
    }
    let bound = crate::zones::earliest_today(valid_at).to_string();
    let session_text = format_ts(valid_at);
    let expired_at: Revived = repo::expired_since(tx, missing, &bound)
        .await?
        .into_iter()
        .filter(|(_, at)| at.as_deref().is_none_or(|at| at > session_text.as_str()))
        .collect();
    if expired_at.is_empty() {
        return Ok(revived);
    }
    let ids: Vec<String> = expired_at.keys().cloned().collect();
    let mut local = LocalDays::new(valid_at);
    let mut past = Vec::new();
    for t in repo::take_expired(tx, &ids, now_text).await? {
        let at = expired_at.get(&t.id).cloned().flatten();
        if local.still_valid(&t) {
            revived.insert(t.id.clone(), at);
            taken.insert(t.code.clone(), t);
        } else {
            past.push((t.id, at));
        }
    }
    repo::give_back_expired(tx, &past).await?;
    Ok(revived)
}

/// Takes back the expiry of a cheque redeemed after it (see [`take_expired`]): its value
/// returns from the programme's available budget to its distributor's outstanding cheques,
/// whence its redemption moves it as any other's, so the ledger and the reconciliation count
/// it redeemed, not expired. Journaled. Refused, and the session with it, when the programme
/// has meanwhile given that value to a distributor or back to its funder.
async fn reverse_expiry(
    tx: &mut Tx<'_>,
    site: &Organization,
    voucher: &repo::TakenVoucher,
    now_text: &str,
) -> Result<()> {
    let posted = ledger::post(
        tx,
        &voucher.program_id,
        Kind::ExpiryReversal,
        &voucher.id,
        Transfer {
            from: Account::Available,
            to: Account::Outstanding(&voucher.distributor_id),
            amount_cents: voucher.value_cents,
        },
        now_text,
    )
    .await;
    let code = codes::display_code(&voucher.code);
    match posted {
        Ok(()) => {}
        Err(e) if e.code() == "budget_exceeded" => {
            return Err(Error::gone(
                "expired",
                format!(
                    "Chèque {code} : il a expiré après la séance, et le programme a depuis \
                     attribué sa valeur ailleurs : il ne peut plus être encaissé. Rien n'a \
                     été encaissé pour cette séance."
                ),
            ))
        }
        Err(e) => return Err(e),
    }
    crate::audit::record(
        tx,
        now_text,
        Some(&site.id),
        "voucher.expiry_reversed",
        Some(&voucher.id),
        &format!(
            "chèque {code}, {} : utilisé hors ligne avant la fin de son dernier jour",
            voucher.value_cents.text()
        ),
    )
    .await
}

/// Why a session cannot have its cheques: one was not taken (its state tells why), or they
/// come from several passes.
enum Shortfall {
    NotTaken(String),
    DifferentPasses(String),
    /// The rules of a cheque's programme (territory, kinds of help) exclude this session.
    Excluded(String, Error),
    /// Its PN2 payload, validly signed, states another value, last day or programme than the
    /// cheque has: refused rather than trusted either way.
    Disagrees(String),
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
    if let Some(code) = session.codes.iter().find(|c| {
        let (Some(stated), Some(voucher)) = (session.claims.get(*c), taken.get(*c)) else {
            return false;
        };
        disagrees(stated, voucher)
    }) {
        return Err(Shortfall::Disagrees(code.clone()));
    }
    // The cheques of one pass share a programme: the first one's rules are theirs.
    if let Some(voucher) = taken.get(&session.codes[0]) {
        if let Some(why) = crate::programs::rules_refusal(
            &crate::programs::Territory::from_stored(&voucher.territory),
            &crate::programs::Services::from_stored(&voucher.services),
            session.place_department.as_deref(),
            session.place_insee.as_deref(),
            session.service.as_deref(),
        ) {
            return Err(Shortfall::Excluded(voucher.code.clone(), why));
        }
    }
    // Sorted by code, as the session's codes are.
    Ok(session
        .codes
        .iter()
        .filter_map(|code| taken.remove(code))
        .collect())
}

/// Whether a cheque's PN2 payload, validly signed, states another value, last day or
/// programme than the cheque taken has.
pub(super) fn disagrees(stated: &codes::Claims, voucher: &repo::TakenVoucher) -> bool {
    stated.programme != codes::programme_ref(&voucher.program_id)
        || stated.value_cents != i64::from(voucher.value_cents)
        || stated.last_day.to_string() != voucher.redeemable_until
}

/// The refusal of a cheque whose payload [`disagrees`] with it: neither is trusted.
pub(super) fn payload_mismatch(code: &str) -> Error {
    Error::invalid(
        "payload_mismatch",
        format!(
            "Chèque {} : son QR code ne correspond pas à ce que la plateforme sait de ce \
             chèque (valeur, dernier jour ou programme) ; il n'a pas été encaissé. \
             Signalez-le au distributeur du carnet.",
            codes::display_code(code)
        ),
    )
}

async fn refusal(
    conn: &mut Conn,
    session: &Session,
    shortfall: Shortfall,
    now: Timestamp,
) -> Result<Error> {
    Ok(match shortfall {
        Shortfall::NotTaken(code) => {
            let why = why_not_redeemable(conn, &code, now).await?;
            if session.codes.len() > 1 {
                why.prefixed(&format!("Chèque {} : ", codes::display_code(&code)))
            } else {
                why
            }
        }
        Shortfall::Excluded(code, why) if session.codes.len() > 1 => {
            why.prefixed(&format!("Chèque {} : ", codes::display_code(&code)))
        }
        Shortfall::Excluded(_, why) => why,
        Shortfall::Disagrees(code) => payload_mismatch(&code),
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
pub(super) fn rows_of(
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
            pass_id: voucher.pass_id,
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
            help_level: session
                .help_level
                .map(|l| l.as_str().to_string())
                .or(voucher.help_level),
            session_at: session.session_at.clone(),
            device_id: session.device_id.clone(),
            cheques: Vec::new(),
        });
    }
    cheques
}

/// A redeemed session's rows, the origin of its request and its place's département.
pub(super) type Redeemed<'a> = (Vec<RedemptionRow>, &'a Origin, Option<&'a str>);

/// The number of cheques of each carnet a session took from, by id.
pub(super) type CarnetSizes = std::collections::BTreeMap<String, i64>;

/// The rows, journal entries and ledger transactions of redeemed sessions, each kind in one
/// part of the batch (rows several sessions move, a site's balance, are written once), and
/// the funder's figures they change.
pub(super) async fn defer_writes(
    tx: &mut Tx<'_>,
    redeemed: &[Redeemed<'_>],
    sizes: &CarnetSizes,
    now_text: &str,
) -> Result<()> {
    if redeemed.is_empty() {
        return Ok(());
    }
    let rows: Vec<RedemptionRow> = redeemed.iter().flat_map(|(r, _, _)| r.clone()).collect();
    repo::insert(tx.deferred(), &rows);
    let entries: Vec<(crate::audit::NewEntry, &Origin)> = redeemed
        .iter()
        .flat_map(|(cheques, origin, _)| cheques.iter().map(move |r| (r, *origin)))
        .map(|(r, origin)| {
            (
                crate::audit::NewEntry {
                    at: &r.redeemed_at,
                    actor_org_id: Some(&r.site_id),
                    action: "redemption.created",
                    subject_id: Some(&r.id),
                    detail: format!(
                        "chèque {} ({}), {}",
                        r.code,
                        r.voucher_id,
                        r.value_cents.text()
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
    let uses: Vec<crate::stats::figures::Use> = redeemed
        .iter()
        .flat_map(|(cheques, _, department)| {
            cheques
                .iter()
                .map(move |r| crate::stats::figures::Use::of(r, *department))
        })
        .collect();
    crate::stats::figures::used(tx, &uses, sizes).await
}

/// [`check`] then [`record`] in the caller's transaction.
pub async fn redeem(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    site: &Organization,
    new: NewRedemption,
    now: Timestamp,
) -> Result<RedemptionRow> {
    let session = check(tx, keyring, site, new, now).await?;
    record(tx, site, session, now).await
}

/// Today in each programme's zone, worked out once per programme of a batch.
struct LocalDays {
    now: Timestamp,
    of_program: std::collections::HashMap<String, String>,
}

impl LocalDays {
    fn new(now: Timestamp) -> LocalDays {
        LocalDays {
            now,
            of_program: std::collections::HashMap::new(),
        }
    }

    /// Whether a taken cheque is still within its last day, and its programme's, where the
    /// programme is.
    fn still_valid(&mut self, t: &repo::TakenVoucher) -> bool {
        let now = self.now;
        let today = self
            .of_program
            .entry(t.program_id.clone())
            .or_insert_with(|| {
                let territory = crate::programs::Territory::from_stored(&t.territory);
                let zone = crate::programs::zone_of(t.time_zone.as_deref(), &territory);
                crate::zones::today_in(now, &zone).to_string()
            });
        t.redeemable_until >= *today && t.closes_on.as_ref().is_none_or(|c| c >= today)
    }
}

/// Explains, after the conditional update matched nothing, why this cheque cannot be redeemed.
pub(super) async fn why_not_redeemable(
    conn: &mut Conn,
    code: &str,
    now: Timestamp,
) -> Result<Error> {
    let Some(state) = repo::voucher_state(conn, code).await? else {
        return Ok(Error::invalid(
            "invalid_code",
            "Aucun chèque ne porte ce code. Vérifiez chaque caractère sur le chèque.",
        ));
    };
    let territory = crate::programs::Territory::from_stored(&state.territory);
    let zone = crate::programs::zone_of(state.time_zone.as_deref(), &territory);
    let today = crate::zones::today_in(now, &zone);
    let expired = state.redeemable_until < today.to_string();
    let programme_ended = crate::programs::ended_on(
        state.program_closed_at.as_deref(),
        state.program_closes_on.as_deref(),
        today,
    );
    Ok(match state.status {
        ChequeStatus::Redeemed => Error::conflict(
            "already_redeemed",
            match &state.redeemed_at {
                // The day where the cheque's programme is, as the site reads its own days.
                Some(at) => format!(
                    "Ce chèque a déjà été utilisé le {}.",
                    long_date_in(at, &zone)
                ),
                None => "Ce chèque a déjà été utilisé.".to_string(),
            },
        ),
        ChequeStatus::Cancelled => Error::gone(
            "cancelled",
            "Ce chèque a été annulé (carnet déclaré perdu) : il ne peut pas être accepté. \
             La personne peut demander un nouveau carnet à son distributeur.",
        ),
        // A programme past its last day (closed, or about to be by the daily job) refuses its
        // unused cheques before their printed date: say so, rather than "expired on" a day
        // still to come.
        ChequeStatus::Expired | ChequeStatus::Valid | ChequeStatus::Inactive
            if programme_ended.is_some() =>
        {
            programme_closed(programme_ended.map(long_date).unwrap_or_default())
        }
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

fn programme_closed(last_day: String) -> Error {
    Error::gone(
        "programme_closed",
        format!(
            "Le programme de ce chèque a pris fin le {last_day} : il ne peut plus être accepté."
        ),
    )
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
