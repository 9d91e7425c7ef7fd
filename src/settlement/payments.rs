//! A site's payments: each line of a batch that pays it is one bank transfer, with the
//! reference the site reads on its bank statement (the transfer's end-to-end id), where it
//! stands, and the cheques it covers. A site sees its own only.

use super::repo::{self, BatchRow, LineRow, PaidCheque};
use super::{BatchStatus, LineStatus};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::orgs::{OrgKind, Organization};

/// Where a transfer to a site stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Its batch is prepared or approved: the transfer is not at the bank yet.
    ToPay,
    /// Its batch's transfer file went to the bank.
    AtTheBank,
    Paid,
    /// The bank returned it.
    Rejected,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::ToPay => "À payer",
            Stage::AtTheBank => "Envoyé à la banque",
            Stage::Paid => "Payé",
            Stage::Rejected => "Rejeté par la banque",
        }
    }
}

/// One transfer to a site.
pub struct Payment {
    pub batch: BatchRow,
    pub line: LineRow,
    pub stage: Stage,
}

impl Payment {
    fn of(batch: BatchRow, line: LineRow) -> Payment {
        let stage = match (line.status, batch.status) {
            (LineStatus::Rejected, _) => Stage::Rejected,
            (LineStatus::Paid, _) | (_, BatchStatus::Paid) => Stage::Paid,
            (_, BatchStatus::Exported) => Stage::AtTheBank,
            (_, BatchStatus::Draft | BatchStatus::Approved) => Stage::ToPay,
        };
        Payment { batch, line, stage }
    }

    /// Why the bank returned it, in words (the operator's note, else the code's meaning).
    pub fn rejection(&self) -> Option<String> {
        if self.stage != Stage::Rejected {
            return None;
        }
        let line = &self.line;
        let meaning = line
            .rejection_code
            .as_deref()
            .and_then(super::rejection::label);
        Some(
            line.rejection_reason
                .clone()
                .filter(|r| !r.trim().is_empty())
                .or(meaning.map(str::to_string))
                .unwrap_or_else(|| "sans motif donné".to_string()),
        )
    }

    /// When the bank paid it: when its batch was marked paid.
    pub fn paid_at(&self) -> Option<&str> {
        match self.stage {
            Stage::Paid => self.batch.paid_at.as_deref(),
            _ => None,
        }
    }
}

/// Every transfer to the site, newest batch first.
pub async fn of_site(conn: &mut Conn, site: &Organization) -> Result<Vec<Payment>> {
    site.require(OrgKind::Site)?;
    Ok(repo::lines_of_site(conn, &site.id)
        .await?
        .into_iter()
        .map(|(batch, line)| Payment::of(batch, line))
        .collect())
}

/// One transfer to the site and the cheques it pays; another site's is not found.
pub async fn one(
    conn: &mut Conn,
    site: &Organization,
    line_id: &str,
) -> Result<(Payment, Vec<PaidCheque>)> {
    site.require(OrgKind::Site)?;
    let not_found = || Error::not_found("Ce paiement n'existe pas.");
    let line = repo::line(conn, line_id)
        .await?
        .filter(|l| l.site_id == site.id)
        .ok_or_else(not_found)?;
    let batch = repo::find_batch(conn, &line.settlement_id)
        .await?
        .ok_or_else(not_found)?;
    let cheques = repo::cheques_of_line(conn, &line.id).await?;
    Ok((Payment::of(batch, line), cheques))
}
