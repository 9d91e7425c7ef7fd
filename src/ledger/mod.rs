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
//! outstanding → available (and its reversal back, for a cheque used offline before its last
//! day and synced after the job expired it), a bank rejection paid → payable, and a credit
//! note at a programme's close available → funder.
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

use crate::db::{Batch, Conn, Slot, Tx};
use crate::error::{Error, Result};
use crate::money::Cents;

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

    /// Whether a debit of this account must first prove the value is there.
    fn debit_needs_guard(&self) -> bool {
        !self.balance_is_flows() && !matches!(self, Account::Funder)
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
    /// An expiry taken back, available → outstanding: a cheque the daily job expired had been
    /// used offline before its last day ended, and is redeemed when the console syncs.
    ExpiryReversal,
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
            Kind::ExpiryReversal => "expiry_reversal",
        }
    }
}

/// Value moving from one account to another within a programme.
#[derive(Clone, Copy, Debug)]
pub struct Transfer<'a> {
    pub from: Account<'a>,
    pub to: Account<'a>,
    pub amount_cents: Cents,
}

/// One balanced transaction to record: value moving for a reason (`kind`, `reference`).
#[derive(Clone, Copy, Debug)]
pub struct Posting<'a> {
    pub kind: Kind,
    pub reference: &'a str,
    pub transfer: Transfer<'a>,
}

/// Records one balanced transaction and updates the maintained balances and totals, inside the
/// caller's database transaction. A debit that must not overdraw its account (a quota, the
/// funded budget) is guarded first, in one conditional statement; the rest follows in one
/// round trip. A refused debit may follow a credit already applied (lock order, below): the
/// caller rolls its transaction back on any error, as every caller does by returning it.
pub async fn post(
    tx: &mut Tx<'_>,
    program_id: &str,
    kind: Kind,
    reference: &str,
    transfer: Transfer<'_>,
    now: &str,
) -> Result<()> {
    let amount = transfer.amount_cents;
    check_amount(amount)?;
    let amount = amount.get();
    let posting = Posting {
        kind,
        reference,
        transfer,
    };
    let (from, to) = (transfer.from, transfer.to);
    let slot = tx.slot();
    if !from.debit_needs_guard() {
        let mut batch = Batch::new(tx);
        write(&mut batch, program_id, &[posting], &[], slot, now);
        return batch.execute(tx).await;
    }
    // Both balance rows are locked (on PostgreSQL, until COMMIT) in the order of their ids, so
    // that two postings between the same accounts in opposite directions (a payment and a bank
    // rejection, an allocation and its return) never wait on each other in a cycle.
    let credit_first = !to.balance_is_flows() && to.id(program_id) < from.id(program_id);
    let mut applied = vec![from];
    if credit_first {
        let mut credit = Batch::new(tx);
        repo::add_to_balances(
            &mut credit,
            program_id,
            &std::collections::BTreeMap::from([(to.id(program_id), (to, amount))]),
        );
        credit.execute(tx).await?;
        applied.push(to);
    }
    if !repo::debit_guarded(tx, &from.id(program_id), amount).await? {
        return Err(from.shortfall());
    }
    let mut batch = Batch::new(tx);
    write(&mut batch, program_id, &[posting], &applied, slot, now);
    batch.execute(tx).await
}

/// Adds balanced transactions of one programme to the writes sent before the commit (see
/// [`Tx::deferred`]), for postings none of whose debits needs a guard: a redemption's
/// `outstanding → redeemed`, for instance. Rows that several postings move are written once,
/// with the sum.
pub fn defer(tx: &mut Tx<'_>, program_id: &str, postings: &[Posting<'_>], now: &str) -> Result<()> {
    for posting in postings {
        check_amount(posting.transfer.amount_cents)?;
        if posting.transfer.from.debit_needs_guard() {
            return Err(Error::Internal(anyhow::anyhow!(
                "a debit of {} cannot be deferred: it needs its guard",
                posting.transfer.from.code()
            )));
        }
    }
    let slot = tx.slot();
    write(tx.deferred(), program_id, postings, &[], slot, now);
    Ok(())
}

fn check_amount(amount: Cents) -> Result<()> {
    if !amount.is_positive() {
        return Err(Error::Internal(anyhow::anyhow!(
            "ledger transfer of {} cents",
            amount.get()
        )));
    }
    Ok(())
}

/// The transactions, their entries, and the balances and flows they move. The balances of
/// `applied` were already moved (by a guarded debit, or a credit taken first).
fn write(
    batch: &mut Batch,
    program_id: &str,
    postings: &[Posting<'_>],
    applied: &[Account<'_>],
    slot: Slot,
    now: &str,
) {
    use std::collections::BTreeMap;
    let mut transactions = Vec::with_capacity(postings.len());
    let mut entries = Vec::with_capacity(2 * postings.len());
    // Sorted maps: every transaction touches shared rows in one order (no deadlock).
    let mut balances: BTreeMap<String, (Account<'_>, i64)> = BTreeMap::new();
    let mut created: BTreeMap<String, Account<'_>> = BTreeMap::new();
    let mut flows: BTreeMap<(String, &'static str, i64), (Account<'_>, i64)> = BTreeMap::new();
    // One slot per account and batch: the rows of a distributor's `outstanding` are spread
    // over [`SLOTS`] so that concurrent redemptions do not queue on one.
    let mut slots: BTreeMap<String, i64> = BTreeMap::new();
    let pick = || match slot {
        Slot::Any => i64::from(rand::random::<u8>() % SLOTS),
        Slot::Lane(lane) => (lane % usize::from(SLOTS)) as i64,
    };
    for posting in postings {
        let Transfer {
            from,
            to,
            amount_cents: amount,
        } = posting.transfer;
        let amount = amount.get();
        let transaction_id = crate::db::new_id();
        for (line, (account, delta)) in [(from, -amount), (to, amount)].into_iter().enumerate() {
            let id = account.id(program_id);
            entries.push(repo::Entry {
                transaction_id: transaction_id.clone(),
                line: line as i64 + 1,
                account_id: id.clone(),
                amount_cents: delta,
            });
            let slot = if account.balance_is_flows() {
                // Only a credit can be the account's first movement (issuance creates it).
                if delta > 0 {
                    created.insert(id.clone(), account);
                }
                *slots.entry(id.clone()).or_insert_with(pick)
            } else {
                if !applied.contains(&account) {
                    balances.entry(id.clone()).or_insert((account, 0)).1 += delta;
                }
                0
            };
            flows
                .entry((id, posting.kind.as_str(), slot))
                .or_insert((account, 0))
                .1 += delta;
        }
        transactions.push(repo::TransactionRow {
            id: transaction_id,
            kind: posting.kind.as_str(),
            reference: posting.reference.to_string(),
            amount_cents: amount,
        });
    }
    // Accounts first: SQLite checks each statement's foreign keys when it ends.
    repo::ensure_accounts(batch, program_id, &created);
    repo::add_to_balances(batch, program_id, &balances);
    repo::insert_transactions(batch, program_id, &transactions, now);
    repo::insert_entries(batch, &entries);
    repo::add_to_flows(batch, program_id, &flows);
    // The funder's view reads the programme's money from these.
    let mut figures = crate::stats::figures::Changes::default();
    for t in &transactions {
        figures.moved(program_id, t.kind, now, t.amount_cents);
    }
    figures.write(batch, slot);
}

/// The balance of one account (0 if it never moved).
pub async fn balance(conn: &mut Conn, program_id: &str, account: Account<'_>) -> Result<Cents> {
    Ok(Cents::new(
        repo::balance(conn, &account.id(program_id)).await?,
    ))
}

/// Slot rows per flow of an account whose balance is its flows.
const SLOTS: u8 = 16;

/// Balances of every account with this code in a programme: `(organisation, cents)`.
pub async fn balances_of(
    conn: &mut Conn,
    program_id: &str,
    code: &str,
) -> Result<Vec<(String, Cents)>> {
    Ok(repo::balances_of(conn, program_id, code)
        .await?
        .into_iter()
        .map(|(org, cents)| (org, Cents::new(cents)))
        .collect())
}
