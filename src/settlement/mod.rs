//! Paying sites for the cheques they redeemed, in batches: draft → approved → exported (SEPA
//! credit-transfer file) → paid. A batch's line pays its site's redemptions in one programme
//! over a period of redemption time that follows the site's previous period, so a batch
//! writes one row per line and none per redemption. Two batches prepared at once start the
//! same period: a unique index lets only one of them be saved, so nothing is settled twice. A
//! line the bank rejects goes back to payable and is paid again by the next batch.

mod monthly;
pub mod payments;
pub mod references;
pub mod rejection;
mod repo;
pub mod sepa;
mod statement;
pub mod status;

pub use monthly::{exists_until, monthly_until, prepare_monthly};
pub use rejection::{held_by_programme, reject_line, release_line, Rejection};
pub use repo::{lines_of_site, list_batches};
pub use repo::{BatchRow, LineRow, PaidCheque};
pub use statement::{program_statement, site_statement, site_statement_pdfs};

use crate::clock::{format_ts, paris};
use crate::config::Config;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
pub use status::{BatchStatus, LineStatus};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatch {
    pub until: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchView {
    #[serde(flatten)]
    pub batch: BatchRow,
    pub lines: Vec<LineRow>,
}

fn not_found() -> Error {
    Error::not_found("Ce lot de règlement n'existe pas.")
}

/// How long after a redemption (or undo) is stamped its transaction may still be committing.
/// Every request is cut off after 30 s (`http::hardening`), so one not committed within a
/// minute of its stamp never will be. A batch leaves what is younger than the undo window
/// plus this margin to the next batch: otherwise a redemption committed just after the batch
/// summed up its period would lie in a settled period without being paid, and an undo
/// committed then would take back a cheque the batch pays.
pub const IN_FLIGHT_MARGIN: SignedDuration = SignedDuration::from_secs(60);

/// Gathers every redemption up to `until` (end of that day, Paris time) whose undo window has
/// closed (plus [`IN_FLIGHT_MARGIN`]) and that no batch pays yet, for sites with bank details;
/// adds what the bank rejected earlier; one line per site and programme.
pub async fn create(
    tx: &mut Tx<'_>,
    operator: &Organization,
    new: NewBatch,
    now: Timestamp,
    undo_window: SignedDuration,
) -> Result<BatchView> {
    operator.require(OrgKind::Operator)?;
    let until: Date = new.until.trim().parse().map_err(|_| {
        Error::invalid(
            "invalid_date",
            "La date de fin du lot doit être au format AAAA-MM-JJ.",
        )
    })?;
    let end_of_until = until
        .checked_add(1.day())
        .and_then(|d| d.to_zoned(paris()))
        .map_err(|_| Error::invalid("invalid_date", "Cette date n'est pas utilisable."))?
        .timestamp();
    let settled_before = now
        .checked_sub(undo_window.saturating_add(IN_FLIGHT_MARGIN))
        .unwrap_or(Timestamp::MIN);
    let cutoff = format_ts(end_of_until.min(settled_before));
    let now_text = format_ts(now);
    let batch_id = crate::db::new_id();
    repo::insert_batch(tx, &batch_id, &until.to_string(), &now_text, &operator.id).await?;

    #[derive(Default)]
    struct Group {
        redemptions: i64,
        settled: Cents,
        /// Where the line's period starts, when it pays redemptions.
        since: Option<String>,
        rejected_lines: Vec<(String, Cents)>,
    }
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for p in repo::payable(tx, &cutoff).await? {
        let g = groups.entry((p.site_id, p.program_id)).or_default();
        g.redemptions = p.redemptions;
        g.settled = p.cents;
        g.since = Some(p.since);
    }
    let accounts = crate::sites::bank::current_bank_accounts(tx).await?;
    // Sites with something owed that this batch leaves out, and why (told if nothing is paid).
    let mut left_out: BTreeMap<String, &'static str> = repo::owed_without_bank_details(tx, &cutoff)
        .await?
        .into_iter()
        .map(|(site, pending)| {
            let why = if pending {
                "coordonnées bancaires en attente de vérification par l'opérateur"
            } else {
                "pas de coordonnées bancaires"
            };
            (site, why)
        })
        .collect();
    for line in repo::rejected_not_carried(tx).await? {
        // Held until the site's bank details change or the operator releases it: sending it
        // again to the account that returned it would only be returned again.
        let new_details = accounts
            .get(&line.site_id)
            .is_some_and(|a| a.id != line.bank_account_id);
        if !new_details && line.released_at.is_none() {
            left_out
                .entry(line.site_id)
                .or_insert("virement rejeté, en attente de nouvelles coordonnées bancaires");
            continue;
        }
        groups
            .entry((line.site_id.clone(), line.program_id.clone()))
            .or_default()
            .rejected_lines
            .push((line.id, line.amount_cents));
    }
    // From the random end of the batch id: ids may become time-ordered (UUIDv7), whose first
    // digits are mostly a timestamp.
    let hex = batch_id.replace('-', "");
    let prefix = hex[hex.len().saturating_sub(16)..].to_uppercase();
    let mut programs: BTreeMap<String, crate::programs::Program> = BTreeMap::new();
    let mut lines = Vec::new();
    for ((site_id, program_id), group) in groups {
        let line_id = crate::db::new_id();
        let mut carried = Cents::ZERO;
        for (rejected_id, amount) in &group.rejected_lines {
            // Another batch made at the same moment may have taken it: then it pays it.
            if repo::carry_into(tx, rejected_id, &line_id).await? {
                carried += *amount;
            }
        }
        if group.settled == Cents::ZERO && carried == Cents::ZERO {
            continue;
        }
        if !programs.contains_key(&program_id) {
            let program = crate::programs::find(tx, &program_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("programme {program_id} vanished"))?;
            programs.insert(program_id.clone(), program);
        }
        let fee = programs[&program_id].fee_cents(group.redemptions, group.settled);
        let account = accounts
            .get(&site_id)
            .ok_or_else(|| {
                anyhow::anyhow!("site {site_id} has redemptions to pay but no bank account")
            })?
            .id
            .clone();
        let period_end = group.since.is_some().then(|| cutoff.clone());
        lines.push(LineRow {
            id: line_id,
            settlement_id: batch_id.clone(),
            site_id,
            program_id,
            redemptions: group.redemptions,
            settled_cents: group.settled,
            carried_cents: carried,
            fee_cents: fee,
            amount_cents: group.settled - fee + carried,
            bank_account_id: account,
            end_to_end_id: format!("PN-{prefix}-{:05}", lines.len() + 1),
            status: LineStatus::Pending,
            rejection_reason: None,
            period_start: group.since,
            period_end,
            rejection_code: None,
            released_at: None,
            carried_into: None,
        });
    }
    // Refused here if another batch prepared at the same moment pays the same periods.
    repo::insert_lines(tx, &lines).await?;
    for line in &lines {
        let newly_settled = line.settled_cents - line.fee_cents;
        if newly_settled.is_positive() {
            ledger::post(
                tx,
                &line.program_id,
                Kind::Settlement,
                &line.id,
                Transfer {
                    from: Account::Redeemed(&line.site_id),
                    to: Account::Payable(&line.site_id),
                    amount_cents: newly_settled,
                },
                &now_text,
            )
            .await?;
        }
        if line.fee_cents.is_positive() {
            ledger::post(
                tx,
                &line.program_id,
                Kind::OperatorFee,
                &line.id,
                Transfer {
                    from: Account::Redeemed(&line.site_id),
                    to: Account::Fee,
                    amount_cents: line.fee_cents,
                },
                &now_text,
            )
            .await?;
        }
    }
    let total: Cents = lines.iter().map(|l| l.amount_cents).sum();
    let n = lines.len();
    if n == 0 {
        let mut waiting = Vec::with_capacity(left_out.len());
        for (site_id, why) in &left_out {
            let name = crate::orgs::find(tx, site_id)
                .await?
                .map_or_else(|| site_id.clone(), |o| o.name);
            waiting.push(format!("{name} ({why})"));
        }
        return Err(Error::conflict(
            "nothing_to_settle",
            if waiting.is_empty() {
                "Aucun encaissement à régler jusqu'à cette date (ou leur délai d'annulation n'est \
                 pas encore passé)."
                    .to_string()
            } else {
                format!(
                    "Aucun encaissement à régler jusqu'à cette date. Restent en attente : {}.",
                    waiting.join(" ; ")
                )
            },
        ));
    }
    repo::set_total(tx, &batch_id, total).await?;
    crate::audit::record(
        tx,
        &now_text,
        Some(&operator.id),
        "settlement.created",
        Some(&batch_id),
        &format!("jusqu'au {until} : {n} ligne(s), {}", total.text()),
    )
    .await?;
    get(tx, operator, &batch_id).await
}

/// The settlement side of `passnum ledger verify`: every line's recorded count and amount must
/// be those of the redemptions it pays, so that none lies in a settled period unpaid.
pub async fn verify(conn: &mut Conn) -> Result<Vec<String>> {
    Ok(repo::lines_disagreeing_with_redemptions(conn)
        .await?
        .into_iter()
        .map(|(line, count, cents, paid_count, paid_cents)| {
            format!(
                "settlement line {line}: records {count} redemption(s) for {cents} cents \
                 but pays {paid_count} for {paid_cents} cents"
            )
        })
        .collect())
}

/// A batch as the caller may see it: the operator all of it, a site its own lines, a funder
/// the lines of its programmes.
pub async fn get(conn: &mut Conn, org: &Organization, id: &str) -> Result<BatchView> {
    let batch = repo::find_batch(conn, id).await?.ok_or_else(not_found)?;
    let mut lines = repo::lines_of(conn, id).await?;
    match org.kind {
        OrgKind::Operator => {}
        OrgKind::Site => lines.retain(|l| l.site_id == org.id),
        OrgKind::Funder => {
            let mut mine = Vec::new();
            for line in lines {
                if crate::programs::find(conn, &line.program_id)
                    .await?
                    .is_some_and(|p| p.funder_id == org.id)
                {
                    mine.push(line);
                }
            }
            lines = mine;
        }
        OrgKind::Distributor => lines.clear(),
    }
    let mut batch = batch;
    if org.kind != OrgKind::Operator {
        if lines.is_empty() {
            return Err(not_found());
        }
        // What the other sites are paid is theirs: the total is of the lines shown.
        batch.total_cents = lines.iter().map(|l| l.amount_cents).sum();
    }
    Ok(BatchView { batch, lines })
}

/// Moves a batch one step on (audited); a step out of order is refused, saying where the
/// batch stands.
async fn step(
    tx: &mut Tx<'_>,
    operator: &Organization,
    id: &str,
    to: BatchStatus,
    now: &str,
) -> Result<BatchRow> {
    operator.require(OrgKind::Operator)?;
    let step = status::step_to(to)?;
    if !repo::transition(tx, id, step, now, &operator.id).await? {
        let batch = repo::find_batch(tx, id).await?.ok_or_else(not_found)?;
        return Err(Error::conflict(
            "invalid_transition",
            format!(
                "Cette étape n'est pas possible maintenant : le lot est « {} » (il doit être \
                 « {} »). Quelqu'un l'a peut-être déjà faite.",
                batch.status.label(),
                step.from.label()
            ),
        ));
    }
    crate::audit::record(tx, now, Some(&operator.id), step.action, Some(id), "").await?;
    repo::find_batch(tx, id).await?.ok_or_else(not_found)
}

pub async fn approve(
    tx: &mut Tx<'_>,
    operator: &Organization,
    id: &str,
    now: Timestamp,
) -> Result<BatchView> {
    step(tx, operator, id, BatchStatus::Approved, &format_ts(now)).await?;
    get(tx, operator, id).await
}

/// The operator takes an approved batch's transfers to the bank: from now on its SEPA file
/// can be downloaded ([`sepa_file`]), and the batch waits to be confirmed paid.
pub async fn export(
    tx: &mut Tx<'_>,
    operator: &Organization,
    id: &str,
    config: &Config,
    now: Timestamp,
) -> Result<BatchView> {
    operator.require(OrgKind::Operator)?;
    // A file from the example account would be refused by the bank, or worse, paid by
    // someone else's: only the demo may use it.
    if config.payer_is_example() && !config.demo {
        return Err(Error::conflict(
            "example_payer_account",
            "Le compte qui paie les lieux est encore celui de l'exemple : indiquez le compte de \
             l'opérateur (réglage PASSNUM_PAYER_IBAN, et PASSNUM_PAYER_NAME) avant de produire \
             un fichier de virement.",
        ));
    }
    let batch = repo::find_batch(tx, id).await?.ok_or_else(not_found)?;
    if batch.status == BatchStatus::Draft {
        return Err(Error::conflict(
            "not_approved",
            "Ce lot doit être approuvé avant que son fichier de virement soit produit.",
        ));
    }
    step(tx, operator, id, BatchStatus::Exported, &format_ts(now)).await?;
    get(tx, operator, id).await
}

/// The SEPA credit-transfer file of an exported batch: reading it changes nothing, and it is
/// the same file at every download (dated when the batch was exported).
pub async fn sepa_file(
    conn: &mut Conn,
    operator: &Organization,
    id: &str,
    config: &Config,
) -> Result<String> {
    operator.require(OrgKind::Operator)?;
    let batch = repo::find_batch(conn, id).await?.ok_or_else(not_found)?;
    let exported_at = match (batch.status.at_the_bank(), &batch.exported_at) {
        (true, Some(at)) => crate::clock::parse_ts(at)
            .ok_or_else(|| anyhow::anyhow!("batch {id} exported at an unreadable time {at}"))?,
        _ => {
            return Err(Error::conflict(
                "not_exported",
                "Le fichier de virement n'existe qu'une fois le lot approuvé puis exporté \
                 (POST …/export).",
            ))
        }
    };
    let now = exported_at;
    let tx = conn;
    let mut groups: BTreeMap<String, sepa::PaymentGroup> = BTreeMap::new();
    for line in repo::lines_of(tx, id).await? {
        if line.status == LineStatus::Rejected || line.amount_cents == Cents::ZERO {
            continue;
        }
        let program = crate::programs::find(tx, &line.program_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("programme {} vanished", line.program_id))?;
        let funder = crate::orgs::find(tx, &program.funder_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("funder {} vanished", program.funder_id))?;
        let account = crate::sites::bank::bank_account(tx, &line.bank_account_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("bank account {} vanished", line.bank_account_id))?;
        let n = groups.len() + 1;
        let group = groups
            .entry(funder.id.clone())
            .or_insert_with(|| sepa::PaymentGroup {
                payment_info_id: format!("{}{n}", references::payment_info_prefix(&batch.id)),
                ultimate_debtor: funder.name.clone(),
                transfers: Vec::new(),
            });
        group.transfers.push(sepa::Transfer {
            end_to_end_id: line.end_to_end_id.clone(),
            amount_cents: line.amount_cents.get(),
            creditor: sepa::Party {
                name: account.holder,
                iban: account.iban,
                bic: account.bic,
            },
            remittance: format!(
                "Pass numerique {} cheque(s) {} lot {}",
                line.redemptions, program.name, batch.until_date
            ),
        });
    }
    let file = sepa::PaymentFile {
        message_id: references::message_id(&batch.id),
        created_at: now,
        execution_date: now.to_zoned(paris()).date(),
        initiating_party: config.payer_name.clone(),
        debtor: sepa::Party {
            name: config.payer_name.clone(),
            iban: crate::sites::bank::Iban::parse(&config.payer_iban)?.into_string(),
            bic: config.payer_bic.clone(),
        },
        groups: groups.into_values().collect(),
    };
    sepa::render(&file).map_err(|e| Error::Internal(anyhow::anyhow!("SEPA file: {e}")))
}

/// The bank has executed the transfers: every line not rejected is paid.
pub async fn mark_paid(
    tx: &mut Tx<'_>,
    operator: &Organization,
    id: &str,
    now: Timestamp,
) -> Result<BatchView> {
    let now_text = format_ts(now);
    step(tx, operator, id, BatchStatus::Paid, &now_text).await?;
    for line in repo::pay_pending_lines(tx, id).await? {
        if line.amount_cents == Cents::ZERO {
            continue;
        }
        ledger::post(
            tx,
            &line.program_id,
            Kind::Payment,
            &line.id,
            Transfer {
                from: Account::Payable(&line.site_id),
                to: Account::Paid(&line.site_id),
                amount_cents: line.amount_cents,
            },
            &now_text,
        )
        .await?;
    }
    statement::mail_statements(tx, id, now).await?;
    get(tx, operator, id).await
}

/// Batches and their total by status, every status listed (for monitoring).
pub async fn totals_by_status(conn: &mut Conn) -> Result<Vec<(String, i64, i64)>> {
    let rows = repo::totals_by_status(conn).await?;
    Ok(BatchStatus::ALL
        .iter()
        .map(|status| {
            let (n, total) = rows
                .iter()
                .find(|r| r.0 == status.as_str())
                .map(|r| (r.1, r.2))
                .unwrap_or((0, 0));
            (status.as_str().to_string(), n, total)
        })
        .collect())
}
