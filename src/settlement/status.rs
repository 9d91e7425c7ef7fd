//! Where a settlement batch and each of its lines stand: the states of the `status` CHECKs of
//! `migrations/0002_settlement.sql`, what each is called in French, and the one table of a
//! batch's steps (what each stamps and the journal action it records).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Prepared, waiting for the operator's approval.
    Draft,
    /// Approved: its transfers can go to the bank.
    Approved,
    /// Its transfers went to the bank (the SEPA file can be read).
    Exported,
    /// The bank paid it.
    Paid,
}

impl BatchStatus {
    pub const ALL: [BatchStatus; 4] = [
        BatchStatus::Draft,
        BatchStatus::Approved,
        BatchStatus::Exported,
        BatchStatus::Paid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Draft => "draft",
            BatchStatus::Approved => "approved",
            BatchStatus::Exported => "exported",
            BatchStatus::Paid => "paid",
        }
    }

    /// In a sentence ("Ce lot est …").
    pub fn label(self) -> &'static str {
        match self {
            BatchStatus::Draft => "en préparation",
            BatchStatus::Approved => "approuvé",
            BatchStatus::Exported => "envoyé à la banque",
            BatchStatus::Paid => "payé",
        }
    }

    /// What the operator has to do next, on the batch's page.
    pub fn next_in_words(self) -> &'static str {
        match self {
            BatchStatus::Draft => "À approuver",
            BatchStatus::Approved => "Approuvé, fichier de virement à produire",
            BatchStatus::Exported => "Fichier de virement envoyé à la banque, paiement à confirmer",
            BatchStatus::Paid => "Payé",
        }
    }

    /// Whether its transfers went to the bank (so one can come back rejected).
    pub fn at_the_bank(self) -> bool {
        matches!(self, BatchStatus::Exported | BatchStatus::Paid)
    }
}

impl TryFrom<String> for BatchStatus {
    type Error = Error;
    fn try_from(stored: String) -> Result<BatchStatus> {
        BatchStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown batch status {stored}")))
    }
}

/// One step of a batch: from what, to what, the columns it stamps (when, by whom), and the
/// journal action it records. A step out of order is refused.
pub struct Step {
    pub from: BatchStatus,
    pub to: BatchStatus,
    pub at_column: &'static str,
    pub by_column: &'static str,
    pub action: &'static str,
}

pub const STEPS: [Step; 3] = [
    Step {
        from: BatchStatus::Draft,
        to: BatchStatus::Approved,
        at_column: "approved_at",
        by_column: "approved_by",
        action: "settlement.approved",
    },
    Step {
        from: BatchStatus::Approved,
        to: BatchStatus::Exported,
        at_column: "exported_at",
        by_column: "exported_by",
        action: "settlement.exported",
    },
    Step {
        from: BatchStatus::Exported,
        to: BatchStatus::Paid,
        at_column: "paid_at",
        by_column: "paid_by",
        action: "settlement.paid",
    },
];

/// The step that leads to `to`.
pub fn step_to(to: BatchStatus) -> Result<&'static Step> {
    STEPS
        .iter()
        .find(|s| s.to == to)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no settlement step to {}", to.as_str())))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Waiting for the batch to be paid.
    Pending,
    Paid,
    /// The bank returned the transfer: its amount goes into the next batch.
    Rejected,
}

impl LineStatus {
    pub const ALL: [LineStatus; 3] = [LineStatus::Pending, LineStatus::Paid, LineStatus::Rejected];

    pub fn as_str(self) -> &'static str {
        match self {
            LineStatus::Pending => "pending",
            LineStatus::Paid => "paid",
            LineStatus::Rejected => "rejected",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LineStatus::Pending => "à payer",
            LineStatus::Paid => "payé",
            LineStatus::Rejected => "rejeté par la banque",
        }
    }
}

impl TryFrom<String> for LineStatus {
    type Error = Error;
    fn try_from(stored: String) -> Result<LineStatus> {
        LineStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown line status {stored}")))
    }
}
