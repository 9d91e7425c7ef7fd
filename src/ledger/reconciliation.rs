//! A programme's figures, read from maintained ledger balances and totals (a few rows, whatever
//! the number of cheques).

use super::repo;
use crate::db::Conn;
use crate::error::Result;
use serde::Serialize;

/// Flows (`*_cents` named after an operation) are cumulative since the programme began;
/// `available`, `unissued_quota`, `outstanding`, `redeemed_unsettled` and `settled_unpaid` are
/// what is held right now. Identity: `funded = available + unissued_quota + outstanding +
/// redeemed_unsettled + settled_unpaid + paid`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Reconciliation {
    pub budget_cents: i64,
    pub funded_cents: i64,
    pub unfunded_cents: i64,
    pub allocated_cents: i64,
    pub issued_cents: i64,
    pub redeemed_cents: i64,
    pub undone_cents: i64,
    pub cancelled_cents: i64,
    pub expired_cents: i64,
    pub settled_cents: i64,
    pub paid_cents: i64,
    pub available_cents: i64,
    pub unissued_quota_cents: i64,
    pub outstanding_cents: i64,
    pub redeemed_unsettled_cents: i64,
    pub settled_unpaid_cents: i64,
}

pub async fn reconciliation(
    conn: &mut Conn,
    program_id: &str,
    budget_cents: i64,
) -> Result<Reconciliation> {
    let mut r = Reconciliation {
        budget_cents,
        ..Default::default()
    };
    for (kind, amount) in repo::totals_by_kind(conn, program_id).await? {
        match kind.as_str() {
            "funding" => r.funded_cents = amount,
            "allocation" => r.allocated_cents = amount,
            "issuance" => r.issued_cents = amount,
            "redemption" => r.redeemed_cents += amount,
            "undo" => {
                r.undone_cents = amount;
                r.redeemed_cents -= amount;
            }
            "cancellation" => r.cancelled_cents = amount,
            "expiry" => r.expired_cents = amount,
            "settlement" => r.settled_cents = amount,
            "payment" => r.paid_cents = amount,
            _ => {}
        }
    }
    for (code, balance) in repo::balances_by_code(conn, program_id).await? {
        match code.as_str() {
            "available" => r.available_cents = balance,
            "quota" => r.unissued_quota_cents = balance,
            "outstanding" => r.outstanding_cents = balance,
            "redeemed" => r.redeemed_unsettled_cents = balance,
            "payable" => r.settled_unpaid_cents = balance,
            _ => {}
        }
    }
    r.unfunded_cents = budget_cents - r.funded_cents;
    Ok(r)
}

impl Reconciliation {
    /// The identity every operation must preserve.
    pub fn identity_holds(&self) -> bool {
        self.funded_cents
            == self.available_cents
                + self.unissued_quota_cents
                + self.outstanding_cents
                + self.redeemed_unsettled_cents
                + self.settled_unpaid_cents
                + self.paid_cents
            && self.budget_cents == self.unfunded_cents + self.funded_cents
    }
}
