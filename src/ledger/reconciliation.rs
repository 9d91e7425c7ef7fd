//! A programme's figures, read from maintained balances and flows (a few rows per
//! organisation, whatever the number of cheques): overall, and per distributor, site and
//! département.

use super::repo::{self, FlowRow};
use crate::db::Conn;
use crate::error::Result;
use crate::money::Cents;
use serde::Serialize;
use std::collections::BTreeMap;

/// Flows are cumulative since the programme began; `unissued_quota`, `outstanding`,
/// `redeemed_unsettled` and `settled_unpaid` are what is held right now.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Figures {
    pub allocated_cents: Cents,
    pub issued_cents: Cents,
    /// Net of undos.
    pub redeemed_cents: Cents,
    pub undone_cents: Cents,
    pub cancelled_cents: Cents,
    pub expired_cents: Cents,
    pub settled_cents: Cents,
    /// Net of bank rejections.
    pub paid_cents: Cents,
    /// Operator fees kept at settlement.
    pub fee_cents: Cents,
    pub unissued_quota_cents: Cents,
    pub outstanding_cents: Cents,
    pub redeemed_unsettled_cents: Cents,
    pub settled_unpaid_cents: Cents,
}

/// The programme as a whole. Identities, checked by `passnum ledger verify`:
///
/// * `budget = unfunded + funded`
/// * `funded = available + unissued_quota + outstanding + redeemed_unsettled + settled_unpaid
///   + paid + fee + credited`
/// * `issued = outstanding + redeemed + cancelled + expired`
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Reconciliation {
    pub budget_cents: Cents,
    pub funded_cents: Cents,
    pub unfunded_cents: Cents,
    pub available_cents: Cents,
    /// Returned to the funder as a credit note.
    pub credited_cents: Cents,
    #[serde(flatten)]
    pub figures: Figures,
}

impl Reconciliation {
    pub fn identity_holds(&self) -> bool {
        let f = &self.figures;
        self.budget_cents == self.unfunded_cents + self.funded_cents
            && self.funded_cents
                == self.available_cents
                    + f.unissued_quota_cents
                    + f.outstanding_cents
                    + f.redeemed_unsettled_cents
                    + f.settled_unpaid_cents
                    + f.paid_cents
                    + f.fee_cents
                    + self.credited_cents
            && f.issued_cents
                == f.outstanding_cents + f.redeemed_cents + f.cancelled_cents + f.expired_cents
    }
}

impl Figures {
    /// Adds one flow or balance row, measured on the account where it shows: an issuance is
    /// counted on `outstanding`, not also on the `quota` it came from.
    fn add(&mut self, row: &FlowRow) {
        let amount = Cents::new(row.amount_cents.abs());
        let signed = Cents::new(row.amount_cents);
        match (row.kind.as_deref(), row.code.as_str()) {
            (None, "quota") => self.unissued_quota_cents += signed,
            (None, "outstanding") => self.outstanding_cents += signed,
            (None, "redeemed") => self.redeemed_unsettled_cents += signed,
            (None, "payable") => self.settled_unpaid_cents += signed,
            (Some("allocation"), "quota") => self.allocated_cents += amount,
            (Some("deallocation"), "quota") => self.allocated_cents -= amount,
            (Some("issuance"), "outstanding") => self.issued_cents += amount,
            (Some("cancellation"), "outstanding") => self.cancelled_cents += amount,
            (Some("expiry"), "outstanding") => self.expired_cents += amount,
            (Some("expiry_reversal"), "outstanding") => self.expired_cents -= amount,
            (Some("redemption"), "redeemed") => self.redeemed_cents += amount,
            (Some("undo"), "redeemed") => {
                self.undone_cents += amount;
                self.redeemed_cents -= amount;
            }
            (Some("settlement"), "payable") => self.settled_cents += amount,
            (Some("operator_fee"), "redeemed") => {
                self.settled_cents += amount;
                self.fee_cents += amount;
            }
            (Some("payment"), "paid") => self.paid_cents += amount,
            (Some("bank_rejection"), "paid") => self.paid_cents -= amount,
            _ => {}
        }
    }

    /// The same, for a distributor: redemptions are seen leaving its `outstanding` account.
    fn add_distributor_side(&mut self, row: &FlowRow) {
        let amount = Cents::new(row.amount_cents.abs());
        match (row.kind.as_deref(), row.code.as_str()) {
            (Some("redemption"), "outstanding") => self.redeemed_cents += amount,
            (Some("undo"), "outstanding") => {
                self.undone_cents += amount;
                self.redeemed_cents -= amount;
            }
            _ => self.add(row),
        }
    }
}

pub async fn reconciliation(
    conn: &mut Conn,
    program_id: &str,
    budget_cents: Cents,
) -> Result<Reconciliation> {
    let rows = repo::flows_and_balances(conn, program_id).await?;
    let mut r = Reconciliation {
        budget_cents,
        ..Default::default()
    };
    for row in &rows {
        match (row.kind.as_deref(), row.code.as_str()) {
            (None, "available") => r.available_cents = Cents::new(row.amount_cents),
            (Some("funding"), "available") => r.funded_cents += Cents::new(row.amount_cents),
            (Some("credit_note"), "available") => r.credited_cents -= Cents::new(row.amount_cents),
            _ => r.figures.add(row),
        }
    }
    r.unfunded_cents = budget_cents - r.funded_cents;
    Ok(r)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BreakdownRow {
    /// An organisation id, or a département code.
    pub key: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Breakdown {
    pub distributors: Vec<BreakdownRow>,
    pub sites: Vec<BreakdownRow>,
    /// Issuance side counted where the distributor is, redemption side where the site is.
    pub departments: Vec<BreakdownRow>,
}

/// Per-organisation figures of a programme. `department_of` gives an organisation's
/// département (None when unknown).
pub async fn breakdown(
    conn: &mut Conn,
    program_id: &str,
    department_of: &BTreeMap<String, Option<String>>,
) -> Result<Breakdown> {
    let rows = repo::flows_and_balances(conn, program_id).await?;
    let mut distributors: BTreeMap<String, Figures> = BTreeMap::new();
    let mut sites: BTreeMap<String, Figures> = BTreeMap::new();
    let mut departments: BTreeMap<String, Figures> = BTreeMap::new();
    for row in rows.iter().filter(|r| !r.org_id.is_empty()) {
        let department = department_of
            .get(&row.org_id)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "inconnu".into());
        let dep = departments.entry(department).or_default();
        if matches!(row.code.as_str(), "quota" | "outstanding") {
            distributors
                .entry(row.org_id.clone())
                .or_default()
                .add_distributor_side(row);
            if !matches!(row.kind.as_deref(), Some("redemption" | "undo")) {
                dep.add_distributor_side(row);
            }
        } else {
            sites.entry(row.org_id.clone()).or_default().add(row);
            dep.add(row);
        }
    }
    let rows_of = |m: BTreeMap<String, Figures>| {
        m.into_iter()
            .map(|(key, figures)| BreakdownRow { key, figures })
            .collect()
    };
    Ok(Breakdown {
        distributors: rows_of(distributors),
        sites: rows_of(sites),
        departments: rows_of(departments),
    })
}

/// One distributor's or site's figures in each programme it takes part in.
pub async fn figures_of_org(
    conn: &mut Conn,
    org_id: &str,
    distributor: bool,
) -> Result<BTreeMap<String, Figures>> {
    let mut out: BTreeMap<String, Figures> = BTreeMap::new();
    for (program, row) in repo::flows_and_balances_of_org(conn, org_id).await? {
        let f = out.entry(program).or_default();
        if distributor {
            f.add_distributor_side(&row);
        } else {
            f.add(&row);
        }
    }
    Ok(out)
}
