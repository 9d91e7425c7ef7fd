//! Double-entry ledger. Every movement of value is one transaction whose entries sum to zero,
//! appended and never updated. Accounts are per programme:
//!
//! | account            | holds                                                     |
//! |--------------------|-----------------------------------------------------------|
//! | `funder`           | minus what the funder paid in (the source of all value)   |
//! | `available`        | funded, not yet allocated to a distributor                |
//! | `quota:D`          | allocated to distributor D, not yet issued                |
//! | `outstanding:D`    | on cheques issued by D, not redeemed, cancelled or expired|
//! | `redeemed:S`       | owed to site S for redeemed cheques, not yet settled      |
//! | `payable:S`        | settled for site S, not yet paid                          |
//! | `paid:S`           | paid to site S                                            |
//! | `fee`              | operator fees kept at settlement                          |
//!
//! A funder's money moves funder → available → quota → outstanding → redeemed → payable → paid;
//! cancellation goes back outstanding → quota, undo redeemed → outstanding, expiry
//! outstanding → available, a bank rejection paid → payable, and a credit note at a programme's
//! close available → funder.
//!
//! Since every transaction sums to zero, so do all balances, which is the reconciliation identity:
//!
//! `funded = available + Σ quota + Σ outstanding + Σ redeemed + Σ payable + Σ paid`
//!
//! and `budget = unfunded + funded`. Only the funder account may go negative: a posting that
//! would overdraw another account is refused inside the same statement (no read-then-write).
//! The exception is a distributor's `outstanding`, whose every debit comes with a cheque's own
//! conditional status change (so the value is there by construction) and whose balance is kept
//! as slotted flows so that redemptions do not queue on one row (`ledger verify` checks it).

mod reconciliation;
mod repo;
mod verify;

pub use reconciliation::{
    breakdown, figures_of_org, reconciliation, Breakdown, BreakdownRow, Figures, Reconciliation,
};
pub use verify::{verify, VerifyReport};

use crate::db::Conn;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Account<'a> {
    Funder,
    Available,
    Quota(&'a str),
    Outstanding(&'a str),
    Redeemed(&'a str),
    Payable(&'a str),
    Paid(&'a str),
    /// Operator fees kept at settlement.
    Fee,
}

impl Account<'_> {
    pub fn code(&self) -> &'static str {
        match self {
            Account::Funder => "funder",
            Account::Available => "available",
            Account::Quota(_) => "quota",
            Account::Outstanding(_) => "outstanding",
            Account::Redeemed(_) => "redeemed",
            Account::Payable(_) => "payable",
            Account::Paid(_) => "paid",
            Account::Fee => "fee",
        }
    }

    pub fn org_id(&self) -> &str {
        match self {
            Account::Funder | Account::Available | Account::Fee => "",
            Account::Quota(o)
            | Account::Outstanding(o)
            | Account::Redeemed(o)
            | Account::Payable(o)
            | Account::Paid(o) => o,
        }
    }

    pub fn id(&self, program_id: &str) -> String {
        format!("{program_id}:{}:{}", self.code(), self.org_id())
    }

    /// A distributor's `outstanding` is moved by every redemption of its cheques: its value is
    /// kept only as flows spread over [`SLOTS`] rows, its balance being their sum, so that
    /// concurrent redemptions do not queue on one row. No guard is needed on its debits: each
    /// comes with a cheque's own conditional status change, which proves the value is there
    /// (`ledger verify` checks that it never goes negative).
    fn balance_is_flows(&self) -> bool {
        matches!(self, Account::Outstanding(_))
    }

    /// Accounts that many concurrent transactions touch: a programme's or a distributor's, as
    /// opposed to one site's.
    fn is_shared(&self) -> bool {
        !matches!(
            self,
            Account::Redeemed(_) | Account::Payable(_) | Account::Paid(_)
        )
    }

    fn may_go_negative(&self) -> bool {
        matches!(self, Account::Funder)
    }

    /// What running short on this account means to the person asking.
    fn shortfall(&self) -> Error {
        match self {
            Account::Available => Error::invalid(
                "budget_exceeded",
                "Le budget financé et non encore attribué ne suffit pas pour cette attribution.",
            ),
            Account::Quota(_) => Error::invalid(
                "quota_exceeded",
                "Votre quota de chèques pour ce programme ne suffit pas pour ce carnet.",
            ),
            other => Error::Internal(anyhow::anyhow!(
                "ledger account {} would become negative",
                other.code()
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Funding,
    Allocation,
    Issuance,
    Redemption,
    Undo,
    Cancellation,
    Expiry,
    Settlement,
    Payment,
    /// The operator's fee taken from a site's redeemed amount at settlement.
    OperatorFee,
    /// The bank returned a payment: paid → payable again.
    BankRejection,
    /// An unissued quota taken back at a programme's close: quota → available.
    Deallocation,
    /// Unused value returned to the funder at a programme's close.
    CreditNote,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Funding => "funding",
            Kind::Allocation => "allocation",
            Kind::Issuance => "issuance",
            Kind::Redemption => "redemption",
            Kind::Undo => "undo",
            Kind::Cancellation => "cancellation",
            Kind::Expiry => "expiry",
            Kind::Settlement => "settlement",
            Kind::Payment => "payment",
            Kind::OperatorFee => "operator_fee",
            Kind::BankRejection => "bank_rejection",
            Kind::Deallocation => "deallocation",
            Kind::CreditNote => "credit_note",
        }
    }
}

/// Value moving from one account to another within a programme.
#[derive(Clone, Copy, Debug)]
pub struct Transfer<'a> {
    pub from: Account<'a>,
    pub to: Account<'a>,
    pub amount_cents: i64,
}

/// Records one balanced transaction and updates the maintained balances and totals, inside the
/// caller's database transaction.
pub async fn post(
    conn: &mut Conn,
    program_id: &str,
    kind: Kind,
    reference: &str,
    transfer: Transfer<'_>,
    now: &str,
) -> Result<()> {
    let amount = transfer.amount_cents;
    if amount <= 0 {
        return Err(Error::Internal(anyhow::anyhow!(
            "ledger transfer of {amount} cents"
        )));
    }
    // Balance rows shared by many transactions (a distributor's `outstanding`, a programme's
    // `available`) are updated as late as possible, so that they stay locked briefly before
    // COMMIT; only the entries, which need their accounts to exist, come after them.
    let transaction_id = crate::db::new_id();
    repo::insert_transaction(
        conn,
        &transaction_id,
        program_id,
        kind.as_str(),
        reference,
        amount,
        now,
    )
    .await?;
    let mut legs = [(transfer.from, -amount), (transfer.to, amount)];
    // One fixed order of row locks keeps concurrent postings on PostgreSQL free of deadlocks;
    // shared accounts come last so that their lock is taken as late as possible.
    legs.sort_by_key(|(account, _)| (account.is_shared(), account.id(program_id)));
    for (account, delta) in legs {
        let id = account.id(program_id);
        if account.balance_is_flows() {
            // Only a credit can be the account's first movement (issuance creates it).
            if delta > 0 {
                repo::ensure_account(conn, &id, program_id, account).await?;
            }
            let slot = rand::random::<u8>() % SLOTS;
            let flow = repo::Flow {
                account_id: &id,
                kind: kind.as_str(),
                slot: i64::from(slot),
            };
            repo::add_to_flow(conn, flow, program_id, account, delta).await?;
            continue;
        }
        if delta < 0 && !account.may_go_negative() {
            if !repo::debit_guarded(conn, &id, -delta).await? {
                return Err(account.shortfall());
            }
        } else {
            repo::add_to_balance(conn, &id, program_id, account, delta).await?;
        }
        let flow = repo::Flow {
            account_id: &id,
            kind: kind.as_str(),
            slot: 0,
        };
        repo::add_to_flow(conn, flow, program_id, account, delta).await?;
    }
    repo::insert_entries(
        conn,
        &transaction_id,
        (&transfer.from.id(program_id), -amount),
        (&transfer.to.id(program_id), amount),
    )
    .await?;
    Ok(())
}

/// The balance of one account (0 if it never moved).
pub async fn balance(conn: &mut Conn, program_id: &str, account: Account<'_>) -> Result<i64> {
    repo::balance(conn, &account.id(program_id)).await
}

/// Slot rows per flow of an account whose balance is its flows.
const SLOTS: u8 = 16;

/// Balances of every account with this code in a programme: `(organisation, cents)`.
pub async fn balances_of(
    conn: &mut Conn,
    program_id: &str,
    code: &str,
) -> Result<Vec<(String, i64)>> {
    repo::balances_of(conn, program_id, code).await
}
