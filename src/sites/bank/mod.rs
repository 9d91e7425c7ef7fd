//! Mediation sites' bank details. A change adds a row (audited). Asked for by the site, it is
//! pending until the operator has compared it with the bank-details document the site uploaded
//! (`review`): the last approved account keeps being paid meanwhile, so a stolen token cannot
//! redirect a payment. A batch keeps the account it was made with.

mod document;
mod review;

pub use document::{Document, StoredDocument, MAX_DOCUMENT_BYTES};
pub use review::{
    attach_document, decide, details_of, document_of, pending_requests, BankDetailsView,
    BankRequest, Decision,
};

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::orgs::{OrgKind, Organization};
use iban::IbanLike;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBankAccount {
    pub iban: String,
    pub bic: Option<String>,
    pub holder: String,
}

crate::text_enum! {
    /// Where a site's bank details stand (the CHECK of `site_bank_accounts.status`).
    pub enum BankStatus {
        /// Asked for by the site, to be checked by the operator: not paid yet.
        Pending = "pending",
        /// Paid into, until other details are approved.
        Approved = "approved",
        /// Refused by the operator, with a reason.
        Rejected = "rejected",
        /// A later request of the site took its place before any decision.
        Replaced = "replaced",
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BankAccount {
    pub id: String,
    pub site_id: String,
    pub iban: String,
    pub bic: Option<String>,
    pub holder: String,
    pub created_at: String,
    #[sqlx(try_from = "String")]
    pub status: BankStatus,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
}

const ACCOUNT_COLUMNS: &str =
    "id, site_id, iban, bic, holder, created_at, status, decided_at, decision_reason";

/// An account number a settlement can pay, checked once: ISO 13616 (mod 97), of a country of
/// the SEPA zone, without spaces, in upper case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iban(String);

impl Iban {
    pub fn parse(input: &str) -> Result<Iban> {
        parse_iban(input).map(Iban)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn parse_iban(input: &str) -> Result<String> {
    // People copy IBANs with spaces and in lower case; the check itself is the crate's.
    let compact: String = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let iban: iban::Iban = compact.parse().map_err(|_| {
        Error::invalid(
            "invalid_iban",
            "Cet IBAN n'est pas valide : vérifiez-le sur votre relevé d'identité bancaire (RIB).",
        )
    })?;
    let electronic = iban.electronic_str().to_string();
    if !SEPA_COUNTRIES.contains(&&electronic[..2]) {
        return Err(Error::invalid(
            "invalid_iban",
            "Cet IBAN est celui d'un pays hors de la zone SEPA : les virements du Pass numérique \
             ne peuvent être faits que vers un compte de la zone SEPA.",
        ));
    }
    Ok(electronic)
}

/// Countries of the SEPA credit transfer scheme (EPC list, 2025), the only ones a settlement
/// can pay: another IBAN would be rejected by the bank after the batch.
const SEPA_COUNTRIES: [&str; 41] = [
    "AD", "AL", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GI",
    "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL",
    "NO", "PL", "PT", "RO", "SE", "SI", "SK", "SM", "VA",
];

/// 8 or 11 characters: bank (4 letters), country (2 letters), place (2), branch (3, optional).
fn parse_bic(input: &str) -> Result<String> {
    let bic: String = input.split_whitespace().collect::<String>().to_uppercase();
    let well_formed = matches!(bic.len(), 8 | 11)
        && bic[..6].bytes().all(|b| b.is_ascii_uppercase())
        && bic[6..].bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Err(Error::invalid(
            "invalid_bic",
            "Le BIC doit compter 8 ou 11 caractères (exemple : BNPAFRPPXXX).",
        ));
    }
    Ok(bic)
}

/// New bank details for a site. Entered by the operator (or with a qualification it decides),
/// they are approved at once; asked for by the site itself, they are pending, with the document
/// if one came with them, and every member of the site and of the operator is told.
pub async fn set_bank_account(
    tx: &mut Tx<'_>,
    actor: &Organization,
    site_id: &str,
    new: NewBankAccount,
    document: Option<Document>,
    letterhead: &crate::mail::Letterhead,
    now: Timestamp,
) -> Result<BankAccount> {
    let allowed = actor.kind == OrgKind::Operator || actor.id == site_id;
    let site = crate::orgs::find(tx, site_id)
        .await?
        .filter(|o| o.kind == OrgKind::Site && allowed)
        .ok_or_else(|| Error::not_found("Ce lieu de médiation n'existe pas."))?;
    let iban = Iban::parse(&new.iban)?.into_string();
    let bic = new
        .bic
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(parse_bic)
        .transpose()?;
    let holder = new.holder.trim();
    if holder.is_empty() || holder.chars().count() > 70 || holder.contains(char::is_control) {
        return Err(Error::invalid(
            "invalid_holder",
            "Indiquez le titulaire du compte, sur une ligne (70 caractères au plus).",
        ));
    }
    let document = document.map(Document::check).transpose()?;
    let by_operator = actor.kind == OrgKind::Operator;
    let at = format_ts(now);
    let account = BankAccount {
        id: crate::db::new_id(),
        site_id: site.id.clone(),
        iban,
        bic,
        holder: holder.to_string(),
        created_at: at.clone(),
        status: if by_operator {
            BankStatus::Approved
        } else {
            BankStatus::Pending
        },
        decided_at: by_operator.then(|| at.clone()),
        decision_reason: None,
    };
    if !by_operator {
        review::replace_pending(tx, &site.id, &at).await?;
    }
    sqlx::query(
        "INSERT INTO site_bank_accounts (id, site_id, iban, bic, holder, created_at, created_by, \
         status, decided_at, decided_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&account.id)
    .bind(&account.site_id)
    .bind(&account.iban)
    .bind(&account.bic)
    .bind(&account.holder)
    .bind(&account.created_at)
    .bind(&actor.id)
    .bind(account.status.as_str())
    .bind(&account.decided_at)
    .bind(by_operator.then_some(actor.id.as_str()))
    .execute(&mut **tx)
    .await?;
    let described = format!("IBAN {} ({})", mask_iban(&account.iban), account.holder);
    if by_operator {
        crate::audit::record(
            tx,
            &at,
            Some(&actor.id),
            "bank_account.changed",
            Some(&site.id),
            &described,
        )
        .await?;
    } else {
        crate::audit::record(
            tx,
            &at,
            Some(&actor.id),
            "bank_account.requested",
            Some(&site.id),
            &described,
        )
        .await?;
        if let Some(document) = document {
            review::store_document(tx, &account, &document, &actor.id, &at).await?;
        }
        review::mail_request(tx, &site, &account, letterhead, now).await?;
    }
    Ok(account)
}

/// `FR7630006000011234567890189` → `FR76 **** **** **** **** ***0 189`: enough to recognise it.
pub fn mask_iban(iban: &str) -> String {
    let keep_end = iban.len().saturating_sub(4);
    iban.chars()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= keep_end { c } else { '*' })
        .collect()
}

/// In groups of four characters, as a RIB prints it: easier to compare by eye.
pub fn grouped_iban(iban: &str) -> String {
    let chars: Vec<char> = iban.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The account a new batch pays into, for every site that has one, in one read: the last
/// one approved.
pub async fn current_bank_accounts(
    conn: &mut Conn,
) -> Result<std::collections::HashMap<String, BankAccount>> {
    let accounts: Vec<BankAccount> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM site_bank_accounts WHERE status = 'approved' \
         ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    // The latest one of each site is the last seen, as in `current_bank_account`.
    Ok(accounts
        .into_iter()
        .map(|a| (a.site_id.clone(), a))
        .collect())
}

/// The account a new batch pays into: the last one approved.
pub async fn current_bank_account(conn: &mut Conn, site_id: &str) -> Result<Option<BankAccount>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM site_bank_accounts \
         WHERE site_id = $1 AND status = 'approved' ORDER BY created_at DESC, id DESC LIMIT 1"
    ))
    .bind(site_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn bank_account(conn: &mut Conn, id: &str) -> Result<Option<BankAccount>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM site_bank_accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Sites that have approved bank details, so they can be paid.
pub async fn sites_with_bank_accounts(conn: &mut Conn) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT DISTINCT site_id FROM site_bank_accounts WHERE status = 'approved'")
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|r| Ok(r.try_get("site_id")?)).collect()
}
