//! The payer account, as its bank sees it: the statements the operator imports (camt.053),
//! each booked entry matched to what it is (a funding received, a batch's transfers leaving,
//! a transfer the bank returned) or listed for a person to match by hand; and the coverage
//! of what is owed by the money on the account.

pub mod camt;
pub mod coverage;
mod matching;
mod repo;

pub use coverage::verify as verify_coverage;
pub use coverage::{coverage, Coverage, ProgrammeCoverage};
pub use matching::{match_by_hand, ManualMatch};
pub use repo::{EntryKind, EntryRow, StatementRow};

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A statement file of at most this size: a month of a busy account is well under it.
pub const MAX_STATEMENT_BYTES: usize = 20 * 1024 * 1024;

/// What an import did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// The statement as recorded (the first import's, if this one was a repeat).
    pub statement: StatementRow,
    /// True when this statement had been imported before: nothing changed.
    pub already_imported: bool,
    /// Booked entries read (pending and information-only entries are not recorded).
    pub entries: i64,
    /// Entries already recorded from an earlier statement, skipped.
    pub repeated: i64,
    pub fundings_confirmed: i64,
    pub batches_paid: i64,
    pub transfers_returned: i64,
    /// Entries matched to a batch still waiting for the rest of its debits.
    pub batch_debits: i64,
    /// Entries left for a person to match.
    pub unmatched: i64,
}

/// Imports a statement of the payer account: refused unless valid camt.053.001.08 of that
/// account in euros. The same statement imported again changes nothing.
pub async fn import_statement(
    tx: &mut Tx<'_>,
    operator: &Organization,
    bytes: &[u8],
    payer_iban: &str,
    now: Timestamp,
) -> Result<ImportReport> {
    operator.require(OrgKind::Operator)?;
    let document = camt::parse(bytes).map_err(|e| Error::invalid("invalid_statement", e.reason))?;
    let [statement] = document.statements.as_slice() else {
        return Err(Error::invalid(
            "invalid_statement",
            format!(
                "Ce fichier contient {} relevés : importez celui du compte payeur du Pass \
                 numérique seul.",
                document.statements.len()
            ),
        ));
    };
    let payer = crate::sites::bank::Iban::parse(payer_iban)?;
    if statement.iban.as_deref() != Some(payer.as_str()) {
        return Err(Error::invalid(
            "foreign_account",
            format!(
                "Ce relevé est celui du compte {}, pas du compte payeur du Pass numérique ({}).",
                statement
                    .iban
                    .as_deref()
                    .map(crate::sites::bank::mask_iban)
                    .unwrap_or_else(|| "sans IBAN".into()),
                crate::sites::bank::mask_iban(payer.as_str())
            ),
        ));
    }
    let not_euros = statement
        .entries
        .iter()
        .map(|e| e.currency.as_str())
        .chain(statement.closing.iter().map(|b| b.currency.as_str()))
        .find(|c| *c != "EUR");
    if let Some(currency) = not_euros {
        return Err(Error::invalid(
            "invalid_statement",
            format!(
                "Ce relevé contient des montants en {currency} : le compte payeur est en euros."
            ),
        ));
    }
    if let Some(earlier) = repo::find_statement(tx, &document.message_id, &statement.id).await? {
        return repo::report_of(tx, earlier).await;
    }
    let at = format_ts(now);
    let sha256 = data_encoding::HEXLOWER.encode(&Sha256::digest(bytes));
    let row = StatementRow {
        id: crate::db::new_id(),
        message_id: document.message_id.clone(),
        statement_ref: statement.id.clone(),
        account_iban: statement.iban.clone(),
        opening_cents: statement.opening.as_ref().map(|b| Cents::new(b.cents)),
        closing_cents: statement.closing.as_ref().map(|b| Cents::new(b.cents)),
        closing_date: statement.closing.as_ref().map(|b| b.date.clone()),
        entries: 0,
        sha256,
        imported_at: at.clone(),
    };
    repo::insert_statement(tx, &row, &operator.id).await?;
    let mut report = ImportReport {
        statement: row.clone(),
        already_imported: false,
        entries: 0,
        repeated: 0,
        fundings_confirmed: 0,
        batches_paid: 0,
        transfers_returned: 0,
        batch_debits: 0,
        unmatched: 0,
    };
    // Only booked entries moved money; pending (PDNG) and information (INFO) ones may change.
    let booked = |e: &&camt::Entry| matches!(e.status.as_str(), "BOOK");
    for entry in statement.entries.iter().filter(booked) {
        report.entries += 1;
        let recorded = repo::NewEntry::of(&row, statement.iban.as_deref(), entry);
        if repo::entry_exists(tx, &recorded.entry_key).await? {
            report.repeated += 1;
            continue;
        }
        let id = repo::insert_entry(tx, &recorded).await?;
        match matching::match_entry(tx, operator, &id, entry, now).await? {
            matching::Outcome::FundingConfirmed => report.fundings_confirmed += 1,
            matching::Outcome::BatchPaid => report.batches_paid += 1,
            matching::Outcome::BatchDebit => report.batch_debits += 1,
            matching::Outcome::Returned => report.transfers_returned += 1,
            matching::Outcome::Unmatched => report.unmatched += 1,
        }
    }
    repo::set_entry_count(tx, &row.id, report.entries).await?;
    report.statement.entries = report.entries;
    crate::audit::record(
        tx,
        &at,
        Some(&operator.id),
        "bank_statement.imported",
        Some(&row.id),
        &format!(
            "relevé {} du fichier {}, solde de {} le {}, SHA-256 {} : {} écriture(s), {} \
             versement(s) confirmé(s), {} lot(s) payé(s), {} virement(s) renvoyé(s), {} à \
             rapprocher",
            row.statement_ref,
            row.message_id,
            row.closing_cents.map(|c| c.text()).unwrap_or_default(),
            row.closing_date.as_deref().unwrap_or_default(),
            row.sha256,
            report.entries,
            report.fundings_confirmed,
            report.batches_paid,
            report.transfers_returned,
            report.unmatched
        ),
    )
    .await?;
    Ok(report)
}

/// The statements imported, latest first. The operator only.
pub async fn statements(conn: &mut Conn, org: &Organization) -> Result<Vec<StatementRow>> {
    org.require(OrgKind::Operator)?;
    repo::statements(conn).await
}

/// Entries waiting for a person to match them, oldest first. The operator only.
pub async fn unmatched_entries(conn: &mut Conn, org: &Organization) -> Result<Vec<EntryRow>> {
    org.require(OrgKind::Operator)?;
    repo::entries_of_kind(conn, EntryKind::Unmatched).await
}

/// What an imported statement's entries became, as they stand now. The operator only.
pub async fn statement_report(
    conn: &mut Conn,
    org: &Organization,
    statement_id: &str,
) -> Result<ImportReport> {
    org.require(OrgKind::Operator)?;
    let statement = repo::statements(conn)
        .await?
        .into_iter()
        .find(|s| s.id == statement_id)
        .ok_or_else(|| Error::not_found("Ce relevé n'existe pas."))?;
    repo::report_of(conn, statement).await
}
