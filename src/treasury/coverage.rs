//! Is every euro owed backed? For each programme: money received (confirmed on the
//! statement) and announced, owed to sites, held after a bank's return, paid, in circulation,
//! unused; against the payer account's last closing balance, which must cover all that is
//! owed to sites.

use super::repo::{self, StatementRow};
use crate::db::Conn;
use crate::error::Result;
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use crate::programs::{FundingStatus, Program};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgrammeCoverage {
    pub program_id: String,
    pub name: String,
    /// Fundings seen on the payer account's statement.
    pub received_cents: Cents,
    /// Fundings declared by the funder, not seen on a statement yet.
    pub announced_cents: Cents,
    /// Redeemed cheques not paid yet (held amounts included).
    pub owed_cents: Cents,
    /// Of what is owed, transfers the site's bank returned, waiting for new bank details.
    pub held_cents: Cents,
    pub paid_cents: Cents,
    /// Cheques issued and still usable: owed if they are used.
    pub in_circulation_cents: Cents,
    /// Funded value not given to a distributor, or given and not issued yet.
    pub unused_cents: Cents,
    /// Given back to the funder at the programme's close.
    pub credited_cents: Cents,
    pub fee_cents: Cents,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    pub programmes: Vec<ProgrammeCoverage>,
    /// The latest statement of the payer account, if one was imported.
    pub statement: Option<StatementRow>,
    /// Owed to sites, every programme together.
    pub owed_cents: Cents,
    /// Owed, plus every cheque in circulation.
    pub committed_cents: Cents,
    /// Whether the last closing balance covers what is owed (None without a statement).
    pub covered: Option<bool>,
    /// What is owed beyond the closing balance (zero when covered).
    pub shortfall_cents: Cents,
}

/// The operator sees every programme; a funder its own (against the same pooled account).
pub async fn coverage(conn: &mut Conn, org: &Organization) -> Result<Coverage> {
    let all = crate::programs::list_all(conn).await?;
    let held = crate::settlement::held_by_programme(conn).await?;
    let mut owed = Cents::ZERO;
    let mut committed = Cents::ZERO;
    let mut programmes = Vec::new();
    for program in all {
        let row = of_programme(conn, &program, held.get(&program.id).copied()).await?;
        owed += row.owed_cents;
        committed += row.owed_cents + row.in_circulation_cents;
        let visible = match org.kind {
            OrgKind::Operator => true,
            OrgKind::Funder => program.funder_id == org.id,
            _ => return Err(crate::error::Error::wrong_role()),
        };
        if visible {
            programmes.push(row);
        }
    }
    let statement = repo::latest_statement(conn).await?;
    let balance = statement.as_ref().and_then(|s| s.closing_cents);
    Ok(Coverage {
        programmes,
        covered: balance.map(|b| b >= owed),
        shortfall_cents: balance.map_or(Cents::ZERO, |b| (owed - b).max(Cents::ZERO)),
        statement,
        owed_cents: owed,
        committed_cents: committed,
    })
}

async fn of_programme(
    conn: &mut Conn,
    program: &Program,
    held: Option<Cents>,
) -> Result<ProgrammeCoverage> {
    let r = crate::ledger::reconciliation(conn, &program.id, program.budget_cents).await?;
    let fundings = crate::programs::fundings_of(conn, &program.id).await?;
    let sum = |status: FundingStatus| -> Cents {
        fundings
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.amount_cents)
            .sum()
    };
    let f = &r.figures;
    Ok(ProgrammeCoverage {
        program_id: program.id.clone(),
        name: program.name.clone(),
        received_cents: sum(FundingStatus::Confirmed),
        announced_cents: sum(FundingStatus::Declared),
        owed_cents: f.redeemed_unsettled_cents + f.settled_unpaid_cents,
        held_cents: held.unwrap_or_default(),
        paid_cents: f.paid_cents,
        in_circulation_cents: f.outstanding_cents,
        unused_cents: r.available_cents + f.unissued_quota_cents,
        credited_cents: r.credited_cents,
        fee_cents: f.fee_cents,
    })
}

/// For `passnum ledger verify`: a problem when the last statement's closing balance does not
/// cover what is owed to sites.
pub async fn verify(conn: &mut Conn) -> Result<Vec<String>> {
    let Some(statement) = repo::latest_statement(conn).await? else {
        return Ok(Vec::new());
    };
    let mut owed = Cents::ZERO;
    for program in crate::programs::list_all(conn).await? {
        let r = crate::ledger::reconciliation(conn, &program.id, program.budget_cents).await?;
        owed += r.figures.redeemed_unsettled_cents + r.figures.settled_unpaid_cents;
    }
    let balance = statement.closing_cents.unwrap_or_default();
    Ok(if balance < owed {
        vec![format!(
            "payer account: closing balance {} on {} does not cover the {} owed to sites",
            balance.text(),
            statement.closing_date.as_deref().unwrap_or_default(),
            owed.text()
        )]
    } else {
        Vec::new()
    })
}
