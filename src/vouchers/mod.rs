//! Passes (carnets) of 5 or 10 signed cheques: issuance within a distributor's quota,
//! activation of carnets printed in stock, cancellation of lost carnets, and the balance a
//! beneficiary may check with the pass code.

pub mod codes;
pub mod keys;
pub mod print;
mod repo;
pub mod status;

pub use repo::{live_cheques_by_key, PassRow, VoucherRow};
pub use status::{ChequeStatus, PassStatus};

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::mail::{Letterhead, Outgoing};
use crate::orgs::{OrgKind, Organization};
use askama::Template;
use codes::{display_code, CodeError, Keyring};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// The error every refused code gets, with a message saying why.
pub fn invalid_code(e: CodeError) -> Error {
    Error::invalid("invalid_code", e.message())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPass {
    pub program_id: String,
    pub cheques: i64,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
    pub active: Option<bool>,
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
    pub remaining_cents: i64,
    pub vouchers: Vec<VoucherView>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoucherView {
    pub id: String,
    /// As printed: `XXXX-XXXX-XXXX`.
    pub code: String,
    pub qr_payload: Option<String>,
    pub value_cents: i64,
    pub status: ChequeStatus,
}

fn clean_beneficiary_ref(value: Option<String>) -> Result<Option<String>> {
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > 64) {
        return Err(Error::invalid(
            "invalid_beneficiary_ref",
            "La référence du bénéficiaire fait 64 caractères au plus. N'y mettez ni nom ni adresse : un identifiant interne suffit.",
        ));
    }
    Ok(value)
}

pub async fn issue(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    new: NewPass,
    now: Timestamp,
    today: Date,
) -> Result<PassView> {
    distributor.require(OrgKind::Distributor)?;
    let carnet = NewCarnet {
        cheques: new.cheques,
        beneficiary_ref: new.beneficiary_ref,
        email: new.email,
    };
    let batch = NewBatch {
        program_id: new.program_id,
        carnets: vec![carnet],
        active: new.active,
    };
    let mut issued = issue_carnets(tx, keyring, distributor, batch, now, today).await?;
    Ok(issued.remove(0))
}

/// Most carnets one batch may hold: a batch is one transaction, kept short.
pub const MAX_BATCH: usize = 1000;

/// Many carnets of one programme at once, e.g. a distributor's yearly print run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatch {
    pub program_id: String,
    pub carnets: Vec<NewCarnet>,
    /// False for carnets printed in stock, activated when handed over.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCarnet {
    pub cheques: i64,
    pub beneficiary_ref: Option<String>,
    pub email: Option<String>,
}

/// Issues a batch of carnets: all or nothing, within the distributor's quota.
pub async fn issue_batch(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    batch: NewBatch,
    now: Timestamp,
    today: Date,
) -> Result<Vec<PassView>> {
    distributor.require(OrgKind::Distributor)?;
    if batch.carnets.is_empty() || batch.carnets.len() > MAX_BATCH {
        return Err(Error::invalid(
            "invalid_batch",
            format!("Un lot contient de 1 à {MAX_BATCH} carnets."),
        ));
    }
    issue_carnets(tx, keyring, distributor, batch, now, today).await
}

async fn issue_carnets(
    tx: &mut Tx<'_>,
    keyring: &Keyring,
    distributor: &Organization,
    batch: NewBatch,
    now: Timestamp,
    today: Date,
) -> Result<Vec<PassView>> {
    let single = batch.carnets.len() == 1;
    let mut carnets = Vec::with_capacity(batch.carnets.len());
    for (index, carnet) in batch.carnets.into_iter().enumerate() {
        // In a batch, say which carnet is wrong.
        let at = |e: Error| {
            if single {
                e
            } else {
                e.prefixed(&format!("Carnet n° {} : ", index + 1))
            }
        };
        if carnet.cheques != 5 && carnet.cheques != 10 {
            return Err(at(Error::invalid(
                "invalid_cheques",
                "Un carnet contient 5 ou 10 chèques.",
            )));
        }
        let beneficiary_ref = clean_beneficiary_ref(carnet.beneficiary_ref).map_err(at)?;
        let email = crate::mail::Email::parse_optional(carnet.email.as_deref())
            .map_err(at)?
            .map(crate::mail::Email::into_string);
        carnets.push((carnet.cheques, beneficiary_ref, email));
    }
    let program = crate::programs::find(tx, &batch.program_id)
        .await?
        .ok_or_else(|| Error::invalid("unknown_program", "Ce programme n'existe pas."))?;
    if program.status != crate::programs::ProgramStatus::Open {
        return Err(Error::gone(
            "program_closed",
            "Ce programme est clos : il n'est plus possible d'émettre de carnet.",
        ));
    }
    let expires_on = today
        .checked_add(program.validity_days.days())
        .map_err(|e| Error::Internal(e.into()))?;
    let redeemable_until = expires_on
        .checked_add(program.grace_days.days())
        .map_err(|e| Error::Internal(e.into()))?
        .to_string();
    let active = batch.active.unwrap_or(true);
    let created_at = format_ts(now);
    let key_id = keyring.current().id.clone();
    let mut passes = Vec::with_capacity(carnets.len());
    let mut vouchers = Vec::new();
    for (cheques, beneficiary_ref, email) in carnets {
        let pass = PassRow {
            id: crate::db::new_id(),
            program_id: program.id.clone(),
            distributor_id: distributor.id.clone(),
            pass_code: codes::generate_code(),
            status: if active {
                PassStatus::Active
            } else {
                PassStatus::Inactive
            },
            beneficiary_ref,
            email,
            cheques,
            expires_on: expires_on.to_string(),
            created_at: created_at.clone(),
        };
        vouchers.extend((0..cheques).map(|position| VoucherRow {
            id: crate::db::new_id(),
            pass_id: pass.id.clone(),
            position: position + 1,
            code: codes::generate_code(),
            key_id: key_id.clone(),
            value_cents: program.cheque_value_cents,
            expires_on: pass.expires_on.clone(),
            redeemable_until: redeemable_until.clone(),
            status: if active {
                ChequeStatus::Valid
            } else {
                ChequeStatus::Inactive
            },
        }));
        passes.push(pass);
    }
    insert_with_unique_codes(tx, &program.id, &distributor.id, &mut passes, &mut vouchers).await?;
    // One entry per carnet: its cheques are listed in the database, not in the journal.
    let stock = if active {
        ""
    } else {
        ", en stock (non activé)"
    };
    let entries: Vec<crate::audit::NewEntry> = passes
        .iter()
        .map(|pass| crate::audit::NewEntry {
            at: &pass.created_at,
            actor_org_id: Some(&distributor.id),
            action: "pass.issued",
            subject_id: Some(&pass.id),
            detail: format!(
                "{} chèque(s) de {} centimes, programme {}{stock}",
                pass.cheques, program.cheque_value_cents, program.id
            ),
        })
        .collect();
    crate::audit::record_many(tx, &entries);
    // The quota check is the ledger's guarded debit (no read-then-write), posted last so the
    // distributor's shared balance rows stay locked briefly; one posting per batch, referenced by
    // its first carnet's id when alone, by a batch id otherwise.
    let reference = if single {
        passes[0].id.clone()
    } else {
        format!("batch:{}", crate::db::new_id())
    };
    ledger::post(
        tx,
        &program.id,
        Kind::Issuance,
        &reference,
        Transfer {
            from: Account::Quota(&distributor.id),
            to: Account::Outstanding(&distributor.id),
            amount_cents: vouchers.len() as i64 * program.cheque_value_cents,
        },
        &created_at,
    )
    .await?;
    let mut by_pass = vouchers.into_iter().peekable();
    Ok(passes
        .into_iter()
        .map(|pass| {
            let mut own = Vec::with_capacity(pass.cheques as usize);
            while let Some(v) = by_pass.next_if(|v| v.pass_id == pass.id) {
                own.push(v);
            }
            view(keyring, pass, own, today)
        })
        .collect())
}

/// Inserts carnets and cheques; if a random code was already taken (about once in 10^5 batches
/// of a thousand carnets with ten million cheques in circulation), draws every code again and
/// retries, in a savepoint so the transaction goes on.
async fn insert_with_unique_codes(
    conn: &mut Conn,
    program_id: &str,
    distributor_id: &str,
    passes: &mut [PassRow],
    vouchers: &mut [VoucherRow],
) -> Result<()> {
    const ATTEMPTS: usize = 3;
    let mut attempt = 1;
    loop {
        let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
        let inserted = async {
            repo::insert_passes(&mut savepoint, passes).await?;
            repo::insert_vouchers(&mut savepoint, program_id, distributor_id, vouchers).await
        }
        .await;
        match inserted {
            Ok(()) => {
                savepoint.commit().await?;
                return Ok(());
            }
            Err(e) if e.is_unique_violation() && attempt < ATTEMPTS => {
                savepoint.rollback().await?;
                tracing::warn!(attempt, "a drawn code was already taken: drawing again");
                for pass in passes.iter_mut() {
                    pass.pass_code = codes::generate_code();
                }
                for voucher in vouchers.iter_mut() {
                    voucher.code = codes::generate_code();
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Cheques still usable today (once activated, for a carnet in stock): `(count, cents)`.
fn remaining(vouchers: &[VoucherRow], today: Date) -> (i64, i64) {
    let today = today.to_string();
    vouchers
        .iter()
        .filter(|v| v.status.is_unused() && v.redeemable_until >= today)
        .fold((0, 0), |(n, cents), v| (n + 1, cents + v.value_cents))
}

fn view(keyring: &Keyring, pass: PassRow, vouchers: Vec<VoucherRow>, today: Date) -> PassView {
    let (remaining_cheques, remaining_cents) = remaining(&vouchers, today);
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
        vouchers: vouchers
            .into_iter()
            .map(|v| VoucherView {
                qr_payload: keyring.payload(&v.key_id, &v.code),
                id: v.id,
                code: display_code(&v.code),
                value_cents: v.value_cents,
                status: v.status,
            })
            .collect(),
    }
}

/// A pass past its last day (expiry plus grace) reads as expired even before the nightly
/// expiry has run.
fn pass_status(pass: &PassRow, vouchers: &[VoucherRow], today: Date) -> PassStatus {
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    pub beneficiary_ref: Option<String>,
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
    let beneficiary_ref = clean_beneficiary_ref(activation.beneficiary_ref)?;
    if !repo::activate_pass(tx, &pass.id, beneficiary_ref.as_deref(), &format_ts(now)).await? {
        return Err(match pass.status {
            PassStatus::Cancelled => Error::gone(
                "cancelled",
                "Ce carnet a été annulé : il ne peut plus être activé.",
            ),
            _ => Error::conflict("already_active", "Ce carnet est déjà activé."),
        });
    }
    repo::activate_vouchers(tx, &pass.id).await?;
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
                amount_cents: returned,
            },
            &now_text,
        )
        .await?;
    }
    crate::audit::record(
        tx,
        &now_text,
        Some(&distributor.id),
        "pass.cancelled",
        Some(&pass.id),
        &format!("{returned} centimes rendus au quota"),
    )
    .await?;
    get(tx, keyring, distributor, id, today).await
}

/// A carnet as its distributor prints it: the pass, its programme's name, the distributor's.
pub struct Printable {
    pub pass: PassView,
    pub programme: String,
    pub distributor: String,
}

impl Printable {
    pub fn pdf(&self, letterhead: &Letterhead) -> Vec<u8> {
        print::carnet_pdf(&self.pass, &self.programme, &self.distributor, letterhead)
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
    let programme = crate::programs::find(conn, &pass.program_id)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(Printable {
        pass,
        programme,
        distributor: distributor.name.clone(),
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

/// What a beneficiary sees when typing the pass code: nothing personal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicBalance {
    pub status: PassStatus,
    pub remaining_cheques: i64,
    pub remaining_cents: i64,
    pub expires_on: String,
}

pub async fn public_balance(
    conn: &mut Conn,
    pass_code: &str,
    today: Date,
) -> Result<PublicBalance> {
    let code = codes::parse_code(pass_code).map_err(|e| match e {
        CodeError::BadCheck => Error::invalid(
            "invalid_code",
            "Ce code de carnet contient une erreur de frappe : vérifiez chaque caractère.",
        ),
        _ => Error::invalid(
            "invalid_code",
            "Ce code de carnet n'a pas la bonne forme : il a 12 caractères, par exemple ABCD-EFGH-JK12.",
        ),
    })?;
    let pass = repo::find_pass_by_code(conn, &code).await?.ok_or_else(|| {
        Error::not_found("Aucun carnet ne porte ce code. Vérifiez-le sur votre carnet.")
    })?;
    let vouchers = repo::vouchers_of(conn, &pass.id).await?;
    let (remaining_cheques, remaining_cents) = remaining(&vouchers, today);
    Ok(PublicBalance {
        status: pass_status(&pass, &vouchers, today),
        remaining_cheques,
        remaining_cents,
        expires_on: pass.expires_on,
    })
}

/// The carnet code of a feedback address (`/avis/{code}`), as printed, or a refusal: only a
/// well-formed code is ever written back into a page (never the address as typed).
pub fn feedback_code(input: &str) -> Result<String> {
    codes::parse_code(input)
        .map(|code| display_code(&code))
        .map_err(|_| {
            Error::not_found("Ce code de carnet n'existe pas : vérifiez le lien sur votre carnet.")
        })
}

/// "Je donne mon avis": a rating from 1 to 5 and an optional comment (1,000 characters are
/// kept), tied to the carnet only; one per session of help the carnet paid for.
pub async fn record_feedback(
    tx: &mut Tx<'_>,
    pass_code: &str,
    rating: Option<&str>,
    comment: Option<&str>,
    now: &str,
) -> Result<()> {
    let rating = rating
        .and_then(|r| r.trim().parse::<i64>().ok())
        .filter(|r| (1..=5).contains(r))
        .ok_or_else(|| Error::invalid("invalid_rating", "Choisissez une note de 1 à 5."))?;
    let comment = comment
        .map(|c| c.trim().chars().take(1000).collect::<String>())
        .filter(|c| !c.is_empty());
    let comment = comment.as_deref();
    let code = codes::parse_code(pass_code).map_err(invalid_code)?;
    let pass = repo::find_pass_by_code(tx, &code)
        .await?
        .ok_or_else(|| Error::not_found("Aucun carnet ne porte ce code."))?;
    // One opinion per session of help paid with the carnet: anyone who knows a code cannot
    // fill the satisfaction figures.
    let (sessions, given) = repo::sessions_and_feedback(tx, &pass.id).await?;
    if given >= sessions {
        return Err(Error::conflict(
            "feedback_already_given",
            if sessions == 0 {
                "Vous pourrez donner votre avis après une séance d'aide payée avec ce carnet."
            } else {
                "Merci : votre avis sur cette aide est déjà enregistré. Vous pourrez en donner \
                 un autre après votre prochaine séance."
            },
        ));
    }
    repo::insert_feedback(tx, &pass.id, rating, comment, now).await
}
