//! SQL for bank_statements and bank_entries.

use super::camt;
use super::ImportReport;
use crate::db::Conn;
use crate::error::Result;
use crate::money::Cents;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

crate::text_enum! {
    /// What a statement's entry turned out to be (the CHECK of `bank_entries.kind`).
    pub enum EntryKind {
        /// Money from a funder, confirming its funding.
        Funding = "funding",
        /// The debit of a batch's transfers (or part of it, one per payment block).
        Batch = "batch",
        /// A transfer the site's bank sent back, rejecting its line.
        BankReturn = "bank_return",
        /// Not recognised: for a person to match.
        Unmatched = "unmatched",
        /// Looked at by a person and set aside with a note (bank fees, interest…).
        SetAside = "set_aside",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StatementRow {
    pub id: String,
    /// The file's `GrpHdr/MsgId`.
    pub message_id: String,
    /// The statement's `Stmt/Id`.
    pub statement_ref: String,
    pub account_iban: Option<String>,
    pub opening_cents: Option<Cents>,
    /// The closing booked balance (CLBD), negative when the account is overdrawn.
    pub closing_cents: Option<Cents>,
    pub closing_date: Option<String>,
    /// Booked entries read.
    pub entries: i64,
    /// SHA-256 of the file as imported.
    pub sha256: String,
    pub imported_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EntryRow {
    pub id: String,
    pub statement_id: String,
    /// `credit` (money in) or `debit` (money out).
    pub direction: String,
    pub amount_cents: Cents,
    pub booking_date: Option<String>,
    /// What the bank gave to recognise it: remittance information and references.
    pub reference: String,
    pub counterparty: Option<String>,
    /// The bank's reason code, for a returned transfer.
    pub return_reason: Option<String>,
    #[sqlx(try_from = "String")]
    pub kind: EntryKind,
    /// The funding, batch or settlement line it was matched to.
    pub matched_id: Option<String>,
    /// Why it is unmatched, or the note of the person who set it aside.
    pub note: Option<String>,
}

const STATEMENT_COLUMNS: &str = "id, message_id, statement_ref, account_iban, opening_cents, \
     closing_cents, closing_date, entries, sha256, imported_at";
const ENTRY_COLUMNS: &str = "id, statement_id, direction, amount_cents, booking_date, reference, \
     counterparty, return_reason, kind, matched_id, note";

pub async fn find_statement(
    conn: &mut Conn,
    message_id: &str,
    statement_ref: &str,
) -> Result<Option<StatementRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STATEMENT_COLUMNS} FROM bank_statements \
         WHERE message_id = $1 AND statement_ref = $2"
    ))
    .bind(message_id)
    .bind(statement_ref)
    .fetch_optional(&mut *conn)
    .await?)
}

/// What the first import of a statement did, as its entries now stand.
pub async fn report_of(conn: &mut Conn, statement: StatementRow) -> Result<ImportReport> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, CAST(COUNT(*) AS BIGINT) FROM bank_entries WHERE statement_id = $1 \
         GROUP BY kind",
    )
    .bind(&statement.id)
    .fetch_all(&mut *conn)
    .await?;
    let count = |kind: EntryKind| {
        rows.iter()
            .find(|(k, _)| k == kind.as_str())
            .map_or(0, |(_, n)| *n)
    };
    let recorded: i64 = rows.iter().map(|(_, n)| n).sum();
    Ok(ImportReport {
        already_imported: true,
        entries: statement.entries,
        repeated: statement.entries - recorded,
        fundings_confirmed: count(EntryKind::Funding),
        batches_paid: 0,
        transfers_returned: count(EntryKind::BankReturn),
        batch_debits: count(EntryKind::Batch),
        unmatched: count(EntryKind::Unmatched),
        statement,
    })
}

pub async fn insert_statement(conn: &mut Conn, s: &StatementRow, by: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO bank_statements (id, message_id, statement_ref, account_iban, \
         opening_cents, closing_cents, closing_date, entries, sha256, imported_at, imported_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&s.id)
    .bind(&s.message_id)
    .bind(&s.statement_ref)
    .bind(&s.account_iban)
    .bind(s.opening_cents)
    .bind(s.closing_cents)
    .bind(&s.closing_date)
    .bind(s.entries)
    .bind(&s.sha256)
    .bind(&s.imported_at)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_entry_count(conn: &mut Conn, id: &str, entries: i64) -> Result<()> {
    sqlx::query("UPDATE bank_statements SET entries = $1 WHERE id = $2")
        .bind(entries)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// An entry as read, before it is matched.
pub struct NewEntry {
    pub statement_id: String,
    pub position: i64,
    pub entry_key: String,
    pub credit: bool,
    pub cents: Cents,
    pub booking_date: Option<String>,
    pub reference: String,
    pub counterparty: Option<String>,
    pub return_reason: Option<String>,
}

impl NewEntry {
    pub fn of(statement: &StatementRow, iban: Option<&str>, e: &camt::Entry) -> NewEntry {
        let mut texts: Vec<&str> = Vec::new();
        for t in &e.transactions {
            texts.extend(t.remittance.iter().map(String::as_str));
            texts.extend(t.end_to_end_id.as_deref());
            texts.extend(t.payment_info_id.as_deref());
            texts.extend(t.message_id.as_deref());
        }
        texts.dedup();
        let reference: String = texts.join(" · ").chars().take(500).collect();
        // The bank's own reference identifies an entry across statements; without one, what
        // the entry says, in its statement.
        let entry_key = match &e.account_servicer_ref {
            Some(r) => format!("bank:{}:{r}", iban.unwrap_or_default()),
            None => {
                let mut h = Sha256::new();
                h.update(
                    format!(
                        "{}|{}|{}|{}|{}|{}|{reference}",
                        statement.message_id,
                        statement.statement_ref,
                        e.index,
                        e.cents,
                        e.credit,
                        e.booking_date.as_deref().unwrap_or_default()
                    )
                    .as_bytes(),
                );
                format!("digest:{}", data_encoding::HEXLOWER.encode(&h.finalize()))
            }
        };
        NewEntry {
            statement_id: statement.id.clone(),
            position: e.index as i64,
            entry_key,
            credit: e.credit,
            cents: Cents::new(e.cents),
            booking_date: e.booking_date.clone().or_else(|| e.value_date.clone()),
            reference,
            counterparty: e.transactions.iter().find_map(|t| t.counterparty.clone()),
            return_reason: e.transactions.iter().find_map(|t| t.return_reason.clone()),
        }
    }
}

pub async fn entry_exists(conn: &mut Conn, entry_key: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bank_entries WHERE entry_key = $1")
        .bind(entry_key)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n > 0)
}

/// Records an entry as unmatched; returns its id.
pub async fn insert_entry(conn: &mut Conn, e: &NewEntry) -> Result<String> {
    let id = crate::db::new_id();
    sqlx::query(
        "INSERT INTO bank_entries (id, statement_id, position, entry_key, direction, \
         amount_cents, booking_date, reference, counterparty, return_reason, kind) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'unmatched')",
    )
    .bind(&id)
    .bind(&e.statement_id)
    .bind(e.position)
    .bind(&e.entry_key)
    .bind(if e.credit { "credit" } else { "debit" })
    .bind(e.cents)
    .bind(&e.booking_date)
    .bind(&e.reference)
    .bind(&e.counterparty)
    .bind(&e.return_reason)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Records what an entry is; `by` is None when the import matched it.
#[allow(clippy::too_many_arguments)]
pub async fn set_match(
    conn: &mut Conn,
    id: &str,
    kind: EntryKind,
    matched_id: Option<&str>,
    note: Option<&str>,
    by: Option<&str>,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE bank_entries SET kind = $1, matched_id = $2, note = $3, matched_by = $4, \
         matched_at = $5 WHERE id = $6",
    )
    .bind(kind.as_str())
    .bind(matched_id)
    .bind(note)
    .bind(by)
    .bind(at)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn find_entry(conn: &mut Conn, id: &str) -> Result<Option<EntryRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM bank_entries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn entries_of_kind(conn: &mut Conn, kind: EntryKind) -> Result<Vec<EntryRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM bank_entries WHERE kind = $1 \
         ORDER BY booking_date, position, id"
    ))
    .bind(kind.as_str())
    .fetch_all(&mut *conn)
    .await?)
}

/// What the debits matched to a batch add up to so far.
pub async fn debited_for_batch(conn: &mut Conn, batch_id: &str) -> Result<Cents> {
    let total: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(amount_cents) AS BIGINT) FROM bank_entries \
         WHERE kind = 'batch' AND matched_id = $1",
    )
    .bind(batch_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Cents::new(total.unwrap_or(0)))
}

pub async fn statements(conn: &mut Conn) -> Result<Vec<StatementRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STATEMENT_COLUMNS} FROM bank_statements \
         ORDER BY closing_date DESC, imported_at DESC, id DESC"
    ))
    .fetch_all(&mut *conn)
    .await?)
}

/// The statement with the latest closing balance, if any.
pub async fn latest_statement(conn: &mut Conn) -> Result<Option<StatementRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {STATEMENT_COLUMNS} FROM bank_statements WHERE closing_cents IS NOT NULL \
         ORDER BY closing_date DESC, imported_at DESC, id DESC LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await?)
}
