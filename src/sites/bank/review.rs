//! The operator's check of bank details a site asked for: the document, the decision, and the
//! e-mails that let every member of the site notice a change they did not ask for.

use super::{mask_iban, BankAccount, BankStatus, Document, StoredDocument, ACCOUNT_COLUMNS};
use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::mail::Letterhead;
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A site's bank details as the site and the operator see them: IBANs masked but for the
/// operator's own review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BankDetailsView {
    pub site_id: String,
    /// The account batches pay into, if any.
    pub current: Option<BankRequest>,
    /// Details asked for and waiting for the operator's check.
    pub pending: Option<BankRequest>,
    /// The latest refusal, when it came after the details in use.
    pub rejected: Option<BankRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BankRequest {
    pub id: String,
    pub site_id: String,
    pub site_name: String,
    /// Masked (`FR76 **** … 0189`), except in the operator's list of details to check.
    pub iban: String,
    pub bic: Option<String>,
    pub holder: String,
    pub status: BankStatus,
    pub requested_at: String,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
    /// The document sent with the request: its name, type, size and SHA-256.
    pub document: Option<DocumentFacts>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentFacts {
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `true` to approve the details, `false` to refuse them (then a reason is required).
    pub approve: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Marks the site's pending request, if any, as replaced by a newer one.
pub(super) async fn replace_pending(tx: &mut Tx<'_>, site_id: &str, at: &str) -> Result<()> {
    sqlx::query(
        "UPDATE site_bank_accounts SET status = 'replaced', decided_at = $1 \
         WHERE site_id = $2 AND status = 'pending'",
    )
    .bind(at)
    .bind(site_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn store_document(
    tx: &mut Tx<'_>,
    account: &BankAccount,
    document: &StoredDocument,
    actor_id: &str,
    at: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM bank_documents WHERE account_id = $1")
        .bind(&account.id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO bank_documents (account_id, filename, content_type, size_bytes, sha256, \
         content, uploaded_at, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&account.id)
    .bind(&document.filename)
    .bind(document.content_type)
    .bind(document.bytes.len() as i64)
    .bind(&document.sha256)
    .bind(document.bytes.as_slice())
    .bind(at)
    .bind(actor_id)
    .execute(&mut **tx)
    .await?;
    crate::audit::record(
        tx,
        at,
        Some(actor_id),
        "bank_account.document",
        Some(&account.site_id),
        &format!(
            "{} ({}, {} octets, SHA-256 {})",
            document.filename,
            document.content_type,
            document.bytes.len(),
            document.sha256
        ),
    )
    .await
}

/// Adds (or replaces) the document of the site's pending request.
pub async fn attach_document(
    tx: &mut Tx<'_>,
    actor: &Organization,
    site_id: &str,
    document: Document,
    now: Timestamp,
) -> Result<BankRequest> {
    if actor.id != site_id {
        return Err(Error::not_found("Ce lieu de médiation n'existe pas."));
    }
    let document = document.check()?;
    let pending = pending_of(tx, site_id).await?.ok_or_else(|| {
        Error::conflict(
            "no_pending_bank_details",
            "Aucune demande de changement de coordonnées bancaires n'attend de document : \
             indiquez d'abord le nouvel IBAN.",
        )
    })?;
    store_document(tx, &pending, &document, &actor.id, &format_ts(now)).await?;
    request(tx, pending, false).await
}

async fn pending_of(conn: &mut Conn, site_id: &str) -> Result<Option<BankAccount>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM site_bank_accounts \
         WHERE site_id = $1 AND status = 'pending'"
    ))
    .bind(site_id)
    .fetch_optional(&mut *conn)
    .await?)
}

async fn document_facts(conn: &mut Conn, account_id: &str) -> Result<Option<DocumentFacts>> {
    let row = sqlx::query(
        "SELECT filename, content_type, size_bytes, sha256 FROM bank_documents \
         WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(DocumentFacts {
            filename: r.try_get("filename")?,
            content_type: r.try_get("content_type")?,
            size_bytes: r.try_get("size_bytes")?,
            sha256: r.try_get("sha256")?,
        })
    })
    .transpose()
}

async fn request(conn: &mut Conn, account: BankAccount, full_iban: bool) -> Result<BankRequest> {
    let site_name = crate::orgs::find(conn, &account.site_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let document = document_facts(conn, &account.id).await?;
    Ok(BankRequest {
        iban: if full_iban {
            account.iban
        } else {
            mask_iban(&account.iban)
        },
        id: account.id,
        site_id: account.site_id,
        site_name,
        bic: account.bic,
        holder: account.holder,
        status: account.status,
        requested_at: account.created_at,
        decided_at: account.decided_at,
        decision_reason: account.decision_reason,
        document,
    })
}

/// The site's bank details: in use, waiting, and the last refusal. The site or the operator.
pub async fn details_of(
    conn: &mut Conn,
    org: &Organization,
    site_id: &str,
) -> Result<BankDetailsView> {
    if org.kind != OrgKind::Operator && org.id != site_id {
        return Err(Error::not_found("Ce lieu de médiation n'existe pas."));
    }
    crate::orgs::find(conn, site_id)
        .await?
        .filter(|o| o.kind == OrgKind::Site)
        .ok_or_else(|| Error::not_found("Ce lieu de médiation n'existe pas."))?;
    let current = super::current_bank_account(conn, site_id).await?;
    let rejected: Option<BankAccount> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM site_bank_accounts WHERE site_id = $1 \
         AND status = 'rejected' ORDER BY decided_at DESC, id DESC LIMIT 1"
    ))
    .bind(site_id)
    .fetch_optional(&mut *conn)
    .await?;
    let rejected =
        rejected.filter(|r| current.as_ref().is_none_or(|c| r.decided_at > c.decided_at));
    let pending = pending_of(conn, site_id).await?;
    let mut view = BankDetailsView {
        site_id: site_id.to_string(),
        current: None,
        pending: None,
        rejected: None,
    };
    if let Some(a) = current {
        view.current = Some(request(conn, a, false).await?);
    }
    if let Some(a) = pending {
        view.pending = Some(request(conn, a, false).await?);
    }
    if let Some(a) = rejected {
        view.rejected = Some(request(conn, a, false).await?);
    }
    Ok(view)
}

/// Every request waiting for a decision, oldest first, with the full IBAN to compare with
/// the document. The operator only.
pub async fn pending_requests(conn: &mut Conn, org: &Organization) -> Result<Vec<BankRequest>> {
    org.require(OrgKind::Operator)?;
    let accounts: Vec<BankAccount> = sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM site_bank_accounts WHERE status = 'pending' \
         ORDER BY created_at, id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut requests = Vec::with_capacity(accounts.len());
    for account in accounts {
        requests.push(request(conn, account, true).await?);
    }
    Ok(requests)
}

/// The document of a request: the operator, or the site that sent it.
pub async fn document_of(
    conn: &mut Conn,
    org: &Organization,
    account_id: &str,
) -> Result<StoredDocument> {
    let not_found = || Error::not_found("Ce document n'existe pas.");
    let account = super::bank_account(conn, account_id)
        .await?
        .filter(|a| org.kind == OrgKind::Operator || a.site_id == org.id)
        .ok_or_else(not_found)?;
    let row = sqlx::query(
        "SELECT filename, content_type, sha256, content FROM bank_documents WHERE account_id = $1",
    )
    .bind(&account.id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_found)?;
    let content_type: String = row.try_get("content_type")?;
    Ok(StoredDocument {
        filename: row.try_get("filename")?,
        content_type: match content_type.as_str() {
            "application/pdf" => "application/pdf",
            "image/jpeg" => "image/jpeg",
            _ => "image/png",
        },
        sha256: row.try_get("sha256")?,
        bytes: row.try_get("content")?,
    })
}

/// The operator approves the details (they are paid from the next batch on, and a transfer
/// held after a bank's return goes to them) or refuses them with a reason.
pub async fn decide(
    tx: &mut Tx<'_>,
    operator: &Organization,
    account_id: &str,
    decision: Decision,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<BankRequest> {
    operator.require(OrgKind::Operator)?;
    let account = super::bank_account(tx, account_id)
        .await?
        .ok_or_else(|| Error::not_found("Cette demande de coordonnées bancaires n'existe pas."))?;
    if account.status != BankStatus::Pending {
        return Err(Error::conflict(
            "bank_details_decided",
            "Cette demande a déjà été traitée, ou une demande plus récente l'a remplacée.",
        ));
    }
    let reason = decision
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| {
        r.chars().count() > 500 || r.contains(|c: char| c.is_control() && c != '\n')
    }) {
        return Err(Error::invalid(
            "invalid_reason",
            "Le motif doit tenir en 500 caractères au plus.",
        ));
    }
    let status = if decision.approve {
        if document_facts(tx, &account.id).await?.is_none() {
            return Err(Error::conflict(
                "document_missing",
                "Le lieu n'a pas envoyé de RIB avec cette demande : refusez-la ou attendez le \
                 document.",
            ));
        }
        BankStatus::Approved
    } else {
        if reason.is_none() {
            return Err(Error::invalid(
                "reason_required",
                "Indiquez au lieu pourquoi ces coordonnées sont refusées.",
            ));
        }
        BankStatus::Rejected
    };
    let at = format_ts(now);
    let moved = sqlx::query(
        "UPDATE site_bank_accounts SET status = $1, decided_at = $2, decided_by = $3, \
         decision_reason = $4 WHERE id = $5 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(&at)
    .bind(&operator.id)
    .bind(reason)
    .bind(&account.id)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(Error::conflict(
            "bank_details_decided",
            "Cette demande a déjà été traitée, ou une demande plus récente l'a remplacée.",
        ));
    }
    let (action, detail) = if decision.approve {
        ("bank_account.approved", String::new())
    } else {
        (
            "bank_account.rejected",
            format!(" — {}", reason.unwrap_or_default()),
        )
    };
    crate::audit::record(
        tx,
        &at,
        Some(&operator.id),
        action,
        Some(&account.site_id),
        &format!(
            "IBAN {} ({}){detail}",
            mask_iban(&account.iban),
            account.holder
        ),
    )
    .await?;
    let decided = super::bank_account(tx, &account.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("bank account {} vanished", account.id))?;
    mail_decision(tx, &decided, letterhead, now).await?;
    request(tx, decided, false).await
}

#[derive(askama::Template)]
#[template(path = "mail/bank_requested.txt")]
struct RequestedMail<'a> {
    l: &'a Letterhead,
    site: &'a str,
    iban: String,
    holder: &'a str,
    for_operator: bool,
}

#[derive(askama::Template)]
#[template(path = "mail/bank_decided.txt")]
struct DecidedMail<'a> {
    l: &'a Letterhead,
    iban: String,
    approved: bool,
    reason: &'a str,
}

/// Every member of the site (a change they did not ask for is the sign of a stolen access)
/// and every member of the operator (a check to make).
pub(super) async fn mail_request(
    tx: &mut Tx<'_>,
    site: &Organization,
    account: &BankAccount,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<()> {
    let mut body = RequestedMail {
        l: letterhead,
        site: &site.name,
        iban: mask_iban(&account.iban),
        holder: &account.holder,
        for_operator: false,
    };
    let subject = "Demande de changement de coordonnées bancaires — Pass numérique";
    crate::users::mail_people(tx, &site.id, false, subject, &body, now).await?;
    body.for_operator = true;
    if let Some(operator) = crate::orgs::operator_exists(tx).await? {
        let subject = format!(
            "Coordonnées bancaires à vérifier : {} — Pass numérique",
            site.name
        );
        crate::users::mail_people(tx, &operator, false, &subject, &body, now).await?;
    }
    Ok(())
}

async fn mail_decision(
    tx: &mut Tx<'_>,
    account: &BankAccount,
    letterhead: &Letterhead,
    now: Timestamp,
) -> Result<()> {
    let approved = account.status == BankStatus::Approved;
    let body = DecidedMail {
        l: letterhead,
        iban: mask_iban(&account.iban),
        approved,
        reason: account.decision_reason.as_deref().unwrap_or_default(),
    };
    let subject = if approved {
        "Nouvelles coordonnées bancaires acceptées — Pass numérique"
    } else {
        "Nouvelles coordonnées bancaires refusées — Pass numérique"
    };
    crate::users::mail_people(tx, &account.site_id, false, subject, &body, now).await?;
    Ok(())
}
