//! Where a settlement batch and each of its lines stand: the states of the `status` CHECKs of
//! `migrations/0002_settlement.sql`, what each is called in French, and the one table of a
//! batch's steps (what each stamps and the journal action it records).

use crate::error::{Error, Result};

crate::text_enum! {
    pub enum BatchStatus {
        /// Prepared, waiting for the operator's approval.
        Draft = "draft",
        /// Approved: its transfers can go to the bank.
        Approved = "approved",
        /// Its transfers went to the bank (the SEPA file can be read).
        Exported = "exported",
        /// The bank paid it.
        Paid = "paid",
    }
}

impl BatchStatus {
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

crate::text_enum! {
    pub enum LineStatus {
        /// Waiting for the batch to be paid.
        Pending = "pending",
        Paid = "paid",
        /// The bank returned the transfer: its amount goes into the next batch.
        Rejected = "rejected",
    }
}

impl LineStatus {
    pub fn label(self) -> &'static str {
        match self {
            LineStatus::Pending => "à payer",
            LineStatus::Paid => "payé",
            LineStatus::Rejected => "rejeté par la banque",
        }
    }
}
