//! Which batch or line a bank's reference names: the SEPA file gives each batch a message id
//! and payment-information ids made from the batch's id, and each transfer (line) its own
//! end-to-end id; the bank repeats them on its statement.

use super::repo::{self, BatchRow, LineRow};
use crate::db::Conn;
use crate::error::Result;

/// The SEPA file's message id of a batch (its `GrpHdr/MsgId`).
pub fn message_id(batch_id: &str) -> String {
    let hex = batch_id.replace('-', "").to_uppercase();
    format!("PN{}", &hex[..32.min(hex.len())])
}

/// The prefix of the batch's payment-information ids (`PmtInf/PmtInfId`, one per funder).
pub fn payment_info_prefix(batch_id: &str) -> String {
    let hex = batch_id.replace('-', "").to_uppercase();
    format!("{}-", &hex[..24.min(hex.len())])
}

/// The batch sent to the bank that a debit's references name: by message id, else by
/// payment-information id, else by the end-to-end id of one of its transfers.
pub async fn batch_named(
    conn: &mut Conn,
    message_ids: &[&str],
    payment_info_ids: &[&str],
    end_to_end_ids: &[&str],
) -> Result<Option<BatchRow>> {
    let batches = repo::batches_at_the_bank(conn).await?;
    if let Some(b) = batches
        .iter()
        .find(|b| message_ids.contains(&message_id(&b.id).as_str()))
    {
        return Ok(Some(b.clone()));
    }
    if let Some(b) = batches.iter().find(|b| {
        let prefix = payment_info_prefix(&b.id);
        payment_info_ids.iter().any(|p| p.starts_with(&prefix))
    }) {
        return Ok(Some(b.clone()));
    }
    for e2e in end_to_end_ids {
        if let Some(line) = repo::line_by_end_to_end(conn, e2e).await? {
            return Ok(batches.into_iter().find(|b| b.id == line.settlement_id));
        }
    }
    Ok(None)
}

/// The transfer (line) an end-to-end id names.
pub async fn line_named(conn: &mut Conn, end_to_end_id: &str) -> Result<Option<LineRow>> {
    repo::line_by_end_to_end(conn, end_to_end_id).await
}

/// A batch by id.
pub async fn batch(conn: &mut Conn, id: &str) -> Result<Option<BatchRow>> {
    repo::find_batch(conn, id).await
}

/// Batches sent to the bank, for a person matching a debit by hand.
pub async fn batches_at_the_bank(conn: &mut Conn) -> Result<Vec<BatchRow>> {
    repo::batches_at_the_bank(conn).await
}
