//! `passnum ledger verify`: the ledger must balance, its maintained balances and totals must
//! match its entries, and it must agree with the voucher and redemption tables.

use super::repo;
use crate::db::Conn;
use crate::error::Result;
use crate::money::Cents;

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub async fn verify(conn: &mut Conn) -> Result<VerifyReport> {
    let mut problems = Vec::new();
    for id in repo::unbalanced_transactions(conn).await? {
        problems.push(format!("transaction {id} does not balance"));
    }
    for (transaction, line, missing) in repo::orphan_entries(conn).await? {
        problems.push(format!(
            "entry {line} of transaction {transaction}: its {missing} does not exist"
        ));
    }
    for (id, kept, summed) in repo::drifted_balances(conn).await? {
        problems.push(format!(
            "account {id}: balance {kept} but its entries sum to {summed}"
        ));
    }
    for (account, kind, kept, summed) in repo::drifted_flows(conn).await? {
        problems.push(format!(
            "account {account}: flow {kind} is {kept} but its entries sum to {summed}"
        ));
    }
    for id in repo::negative_accounts(conn).await? {
        problems.push(format!("account {id} is negative"));
    }
    for program in repo::programs_not_summing_to_zero(conn).await? {
        problems.push(format!(
            "programme {program}: balances do not sum to zero (funded value unaccounted for)"
        ));
    }
    for (id, ledger, expected) in repo::disagreements_with_vouchers(conn).await? {
        problems.push(format!(
            "account {id}: ledger says {ledger} cents, cheques say {expected} cents"
        ));
    }
    for id in repo::voucher_redemption_mismatches(conn).await? {
        problems.push(format!(
            "cheque {id}: its status disagrees with its redemptions"
        ));
    }
    for (program_id, budget) in repo::program_budgets(conn).await? {
        let r = super::reconciliation(conn, &program_id, Cents::new(budget)).await?;
        if !r.identity_holds() {
            problems.push(format!(
                "programme {program_id}: the reconciliation identity does not hold: {r:?}"
            ));
        }
    }
    Ok(VerifyReport { problems })
}
