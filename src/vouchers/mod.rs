//! Passes (carnets) of 5 or 10 signed cheques: issuance within a distributor's quota,
//! activation of carnets printed in stock, cancellation of lost carnets, and the balance a
//! beneficiary may check with the pass code.

pub mod codes;
pub mod files;
mod issue;
pub mod keys;
pub mod offline;
pub mod print;
mod public;
mod repo;
pub mod rights;
pub mod status;

pub use issue::{issue, issue_batch, NewBatch, NewCarnet, NewPass, MAX_BATCH};
pub use public::{
    feedback_code, pass_id_of_code, public_balance, territory_of_pass, PublicBalance,
};
pub use repo::{live_cheques_by_key, PassRow, VoucherRow};
pub use status::{ChequeStatus, PassStatus};

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::mail::{Letterhead, Outgoing};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use askama::Template;
use codes::{display_code, CodeError, Keyring};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The error every refused code gets, with a message saying why.
pub fn invalid_code(e: CodeError) -> Error {
    Error::invalid("invalid_code", e.message())
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PassView {
    pub id: String,
    pub program_id: String,
    pub pass_code: String,
    pub status: PassStatus,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    pub expires_on: String,
    pub created_at: String,
    pub remaining_cheques: i64,
    pub remaining_cents: Cents,
    pub vouchers: Vec<VoucherView>,
    /// The level of help noted at issuance: `emergency`, `inclusion` or `upskilling`.
    #[serde(default)]
    pub help_level: Option<String>,
    /// The anonymous facts noted at issuance (see `NewPass`).
    #[serde(default)]
    pub age_bracket: Option<String>,
    #[serde(default)]
    pub situation: Option<String>,
    #[serde(default)]
    pub priority_area: Option<String>,
    #[serde(default)]
    pub rural: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoucherView {
    pub id: String,
    /// As printed: `XXXX-XXXX-XXXX`.
    pub code: String,
    pub qr_payload: Option<String>,
    pub value_cents: Cents,
    pub status: ChequeStatus,
}

/// Cheques still usable today (once activated, for a carnet in stock): `(count, cents)`.
pub(super) fn remaining(vouchers: &[VoucherRow], today: Date) -> (i64, Cents) {
    let today = today.to_string();
    vouchers
        .iter()
        .filter(|v| v.status.is_unused() && v.redeemable_until >= today)
        .fold((0, Cents::ZERO), |(n, cents), v| {
            (n + 1, cents + v.value_cents)
        })
}

pub(super) fn view(
    keyring: &Keyring,
    pass: PassRow,
    vouchers: Vec<VoucherRow>,
    today: Date,
) -> PassView {
    let (remaining_cheques, remaining_cents) = remaining(&vouchers, today);
    let programme = codes::programme_ref(&pass.program_id);
    PassView {
        remaining_cheques,
        remaining_cents,
        status: pass_status(&pass, &vouchers, today),
        id: pass.id,
        program_id: pass.program_id,
        pass_code: display_code(&pass.pass_code),
        beneficiary_ref: pass.beneficiary_ref,
        email: pass.email,
        expires_on: pass.expires_on,
        created_at: pass.created_at,
        help_level: pass.help_level,
        age_bracket: pass.age_bracket,
        situation: pass.situation,
        priority_area: pass.priority_area,
        rural: pass.rural,
        vouchers: vouchers
            .into_iter()
            .map(|v| VoucherView {
                qr_payload: qr_payload(keyring, &programme, &v),
                id: v.id,
                code: display_code(&v.code),
                value_cents: v.value_cents,
                status: v.status,
            })
            .collect(),
    }
}

/// What a cheque's QR code carries: the offline payload (PN2), which a device verifies without
/// a connection; PN1 only should the cheque's row hold what PN2 cannot state.
fn qr_payload(keyring: &Keyring, programme: &str, v: &VoucherRow) -> Option<String> {
    let claims = codes::Claims {
        programme: programme.to_string(),
        value_cents: v.value_cents.into(),
        last_day: v.redeemable_until.parse().ok()?,
    };
    keyring
        .offline_payload(&v.key_id, &v.code, &claims)
        .or_else(|| keyring.payload(&v.key_id, &v.code))
}

/// A pass past its last day (expiry plus grace) reads as expired even before the nightly
/// expiry has run.
pub(super) fn pass_status(pass: &PassRow, vouchers: &[VoucherRow], today: Date) -> PassStatus {
    let today = today.to_string();
    let past = !vouchers.is_empty() && vouchers.iter().all(|v| v.redeemable_until < today);
    if pass.status != PassStatus::Cancelled && past {
        PassStatus::Expired
    } else {
        pass.status
    }
}

/// A pass as its distributor (or the operator) sees it; to anyone else it does not exist.
async fn pass_for(conn: &mut Conn, org: &Organization, id: &str) -> Result<PassRow> {
    match repo::find_pass(conn, id).await? {
        Some(p) if p.distributor_id == org.id || org.kind == OrgKind::Operator => Ok(p),
        _ => Err(Error::not_found("Ce carnet n'existe pas.")),
    }
}

pub async fn get(
    conn: &mut Conn,
    keyring: &Keyring,
    org: &Organization,
    id: &str,
    today: Date,
) -> Result<PassView> {
    let pass = pass_for(conn, org, id).await?;
    let vouchers = repo::vouchers_of(conn, &pass.id).await?;
    Ok(view(keyring, pass, vouchers, today))
}

pub async fn list(
    conn: &mut Conn,
    keyring: &Keyring,
    distributor: &Organization,
    today: Date,
) -> Result<Vec<PassView>> {
    distributor.require(OrgKind::Distributor)?;
    let mut out = Vec::new();
    for pass in repo::passes_of(conn, &distributor.id, 200).await? {
        let vouchers = repo::vouchers_of(conn, &pass.id).await?;
        out.push(view(keyring, pass, vouchers, today));
    }
    Ok(out)
}

/// Most carnets a search shows.
pub const SEARCH_LIMIT: i64 = 50;

/// The distributor's carnets found by what an agent types: part of a beneficiary reference (any
/// case), or a carnet's or cheque's code (with or without hyphens, any case). Only theirs.
pub async fn search(
    conn: &mut Conn,
    keyring: &Keyring,
    distributor: &Organization,
    query: &str,
    today: Date,
) -> Result<Vec<PassView>> {
    distributor.require(OrgKind::Distributor)?;
    let query = query.trim();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let code = codes::parse_code(query).ok();
    let needle = query.to_lowercase();
    let mut out = Vec::new();
    for pass in repo::search_passes(
        conn,
        &distributor.id,
        &needle,
        code.as_deref(),
        SEARCH_LIMIT,
    )
    .await?
    {
        let vouchers = repo::vouchers_of(conn, &pass.id).await?;
        out.push(view(keyring, pass, vouchers, today));
    }
    Ok(out)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    pub beneficiary_ref: Option<String>,
    /// The beneficiary's e-mail, to send them the carnet later; kept if none is given.
    pub email: Option<String>,
}

/// Hands a carnet printed in stock to a beneficiary: only now can its cheques be redeemed.
pub async fn activate(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    id: &str,
    activation: Activation,
    now: Timestamp,
    today: Date,
) -> Result<PassView> {
    distributor.require(OrgKind::Distributor)?;
    let pass = pass_for(tx, distributor, id).await?;
    let beneficiary_ref = issue::clean_beneficiary_ref(activation.beneficiary_ref)?;
    let email = crate::mail::Email::parse_optional(activation.email.as_deref())?
        .map(crate::mail::Email::into_string);
    // Handing a carnet over is issuing it: not in the last days before its programme ends.
    if pass.status == PassStatus::Inactive {
        if let Some(program) = crate::programs::find(tx, &pass.program_id).await? {
            program.require_issuable(today)?;
        }
    }
    let given = (beneficiary_ref.as_deref(), email.as_deref());
    let now_text = format_ts(now);
    if !repo::activate_pass(tx, &pass.id, given, &now_text).await? {
        return Err(match pass.status {
            PassStatus::Cancelled => Error::gone(
                "cancelled",
                "Ce carnet a été annulé : il ne peut plus être activé.",
            ),
            _ => Error::conflict("already_active", "Ce carnet est déjà activé."),
        });
    }
    repo::activate_vouchers(tx, &pass.id).await?;
    let mut figures = crate::stats::figures::Changes::default();
    figures.handed_out(&pass.program_id, &pass.distributor_id, &now_text, 1);
    let slot = tx.slot();
    figures.write(tx.deferred(), slot);
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&distributor.id),
        status::ACTIVATE.action,
        Some(&pass.id),
        "",
    )
    .await?;
    get(tx, keyring, distributor, id, today).await
}

/// Cancels a lost carnet: its unused cheques are cancelled and their value returns to the
/// distributor's quota. Cheques already redeemed stay redeemed.
pub async fn cancel(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    id: &str,
    now: Timestamp,
    today: Date,
) -> Result<PassView> {
    distributor.require(OrgKind::Distributor)?;
    let pass = pass_for(tx, distributor, id).await?;
    let now_text = format_ts(now);
    if !repo::cancel_pass(tx, &pass.id, &now_text).await? {
        return Err(Error::conflict(
            "already_cancelled",
            "Ce carnet est déjà annulé.",
        ));
    }
    let returned = repo::cancel_vouchers(tx, &pass.id, &now_text).await?;
    if returned > 0 {
        ledger::post(
            tx,
            &pass.program_id,
            Kind::Cancellation,
            &pass.id,
            Transfer {
                from: Account::Outstanding(&pass.distributor_id),
                to: Account::Quota(&pass.distributor_id),
                amount_cents: Cents::new(returned),
            },
            &now_text,
        )
        .await?;
    }
    crate::audit::record(
        tx,
        &now_text,
        Some(&distributor.id),
        status::CANCEL.action,
        Some(&pass.id),
        &format!("{} rendus au quota", Cents::new(returned).text()),
    )
    .await?;
    get(tx, keyring, distributor, id, today).await
}

/// The carnets of a programme whose holder can be told about its close: `(e-mail, carnet code
/// as printed, cheques still usable on today)`, for those handed over with an e-mail.
pub async fn carnets_to_tell(
    conn: &mut Conn,
    program_id: &str,
    today: Date,
) -> Result<Vec<(String, String, i64)>> {
    Ok(repo::carnets_to_tell(conn, program_id, &today.to_string())
        .await?
        .into_iter()
        .map(|(email, code, cheques)| (email, display_code(&code), cheques))
        .collect())
}

/// A carnet as its distributor prints it: the pass, its programme's name, the distributor's.
pub struct Printable {
    pub pass: PassView,
    pub programme: String,
    pub distributor: String,
    /// Where its cheques are accepted, in words.
    pub accepted_in: String,
}

impl Printable {
    pub fn pdf(&self, letterhead: &Letterhead) -> Vec<u8> {
        print::carnet_pdf(self, letterhead)
    }
}

pub async fn printable(
    conn: &mut Conn,
    keyring: &Keyring,
    distributor: &Organization,
    id: &str,
    today: Date,
) -> Result<Printable> {
    let pass = get(conn, keyring, distributor, id, today).await?;
    let programme = crate::programs::find(conn, &pass.program_id).await?;
    Ok(Printable {
        pass,
        programme: programme
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        distributor: distributor.name.clone(),
        accepted_in: programme.map(|p| p.territory.label()).unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "mail/carnet.txt")]
struct CarnetMail<'a> {
    l: &'a Letterhead,
    programme: &'a str,
    distributor: &'a str,
    code: &'a str,
}

/// The distributor e-mails a carnet, as a PDF, to the address the person gives (audited,
/// without the address). It leaves once the server's sender runs. Returns the address.
#[allow(clippy::too_many_arguments)]
pub async fn send_by_email(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    id: &str,
    to: &str,
    letterhead: &Letterhead,
    today: Date,
    now: Timestamp,
) -> Result<String> {
    distributor.require(OrgKind::Distributor)?;
    let to = crate::mail::Email::parse(to)?;
    let carnet = printable(tx, keyring, distributor, id, today).await?;
    let body = CarnetMail {
        l: letterhead,
        programme: &carnet.programme,
        distributor: &carnet.distributor,
        code: &carnet.pass.pass_code,
    };
    let mut mail = Outgoing::text(to.as_str(), "Votre carnet Pass numérique", &body)?;
    mail.attachments.push(crate::mail::Attachment {
        filename: format!("carnet-{}.pdf", carnet.pass.pass_code),
        content_type: "application/pdf".into(),
        bytes: carnet.pdf(letterhead),
    });
    crate::mail::enqueue(tx, &mail, now).await?;
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&distributor.id),
        "pass.emailed",
        Some(&carnet.pass.id),
        "carnet envoyé par e-mail au bénéficiaire",
    )
    .await?;
    Ok(to.into_string())
}
