//! The coverage table, as the operator and a funder read it (`templates/coverage_table.html`).

use crate::money::Cents;
use crate::treasury::Coverage;

pub struct CoverageRow {
    pub name: String,
    pub received: String,
    pub announced: String,
    pub owed: String,
    pub held: String,
    pub paid: String,
    pub in_circulation: String,
    pub unused: String,
}

pub struct CoverageView {
    pub rows: Vec<CoverageRow>,
    /// "le 30 novembre 2026", empty without a statement.
    pub statement_date: String,
    pub balance: String,
    pub owed: String,
    pub committed: String,
    /// None without a statement.
    pub covered: Option<bool>,
    pub shortfall: String,
}

impl CoverageView {
    pub fn of(c: &Coverage) -> CoverageView {
        CoverageView {
            rows: c
                .programmes
                .iter()
                .map(|p| CoverageRow {
                    name: p.name.clone(),
                    received: p.received_cents.text(),
                    announced: p.announced_cents.text(),
                    owed: p.owed_cents.text(),
                    held: p.held_cents.text(),
                    paid: p.paid_cents.text(),
                    in_circulation: p.in_circulation_cents.text(),
                    unused: p.unused_cents.text(),
                })
                .collect(),
            statement_date: c
                .statement
                .as_ref()
                .and_then(|s| s.closing_date.as_deref())
                .map(crate::fr::long_date_text)
                .unwrap_or_default(),
            balance: c
                .statement
                .as_ref()
                .and_then(|s| s.closing_cents)
                .map(Cents::text)
                .unwrap_or_default(),
            owed: c.owed_cents.text(),
            committed: c.committed_cents.text(),
            covered: c.covered,
            shortfall: c.shortfall_cents.text(),
        }
    }
}
