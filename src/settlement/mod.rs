//! Paying sites for the cheques they redeemed, in batches: draft → approved → exported (SEPA
//! credit-transfer file) → paid. A redemption is claimed by a batch with one conditional
//! update, so running settlement twice, or concurrently, never settles it twice. A line the
//! bank rejects goes back to payable and is paid again by the next batch.

mod repo;
pub mod sepa;
mod statement;

pub use repo::{lines_of_site, list_batches};
pub use repo::{BatchRow, LineRow};
pub use statement::{program_statement, site_statement};

use crate::clock::{format_ts, paris};
use crate::config::Config;
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::orgs::{OrgKind, Organization};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatch {
    pub until: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    #[serde(flatten)]
    pub batch: BatchRow,
    pub lines: Vec<LineRow>,
}

fn not_found() -> Error {
    Error::not_found("Ce lot de règlement n'existe pas.")
}

/// Gathers every redemption up to `until` (end of that day, Paris time) whose undo window has
/// closed and that no batch holds yet, for sites with bank details; adds what the bank
/// rejected earlier; one line per site and programme.
pub async fn create(
    conn: &mut Conn,
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
    let window_closed = now.checked_sub(undo_window).unwrap_or(now);
    let cutoff = format_ts(end_of_until.min(window_closed));
    let now_text = format_ts(now);
    let batch_id = crate::db::new_id();
    repo::insert_batch(conn, &batch_id, &until.to_string(), &now_text, &operator.id).await?;
    repo::claim_redemptions(conn, &batch_id, &cutoff).await?;

    #[derive(Default)]
    struct Group {
        redemptions: i64,
        settled: i64,
        rejected_lines: Vec<(String, i64)>,
    }
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for (site, program, count, sum) in repo::claimed_groups(conn, &batch_id).await? {
        let g = groups.entry((site, program)).or_default();
        g.redemptions = count;
        g.settled = sum;
    }
    for line in repo::rejected_not_carried(conn).await? {
        groups
            .entry((line.site_id.clone(), line.program_id.clone()))
            .or_default()
            .rejected_lines
            .push((line.id, line.amount_cents));
    }
    let prefix = batch_id.replace('-', "")[..16].to_uppercase();
    let mut total = 0;
    let mut n = 0;
    for ((site_id, program_id), group) in groups {
        let line_id = crate::db::new_id();
        let mut carried = 0;
        for (rejected_id, amount) in &group.rejected_lines {
            // Another batch made at the same moment may have taken it: then it pays it.
            if repo::carry_into(conn, rejected_id, &line_id).await? {
                carried += amount;
            }
        }
        if group.settled == 0 && carried == 0 {
            continue;
        }
        let program = crate::programs::find(conn, &program_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("programme {program_id} vanished"))?;
        let fee = program.fee_cents(group.redemptions, group.settled);
        let amount = group.settled - fee + carried;
        let account = crate::sites::current_bank_account(conn, &site_id)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!("site {site_id} has redemptions claimed but no bank account")
            })?;
        n += 1;
        let line = LineRow {
            id: line_id,
            settlement_id: batch_id.clone(),
            site_id: site_id.clone(),
            program_id: program_id.clone(),
            redemptions: group.redemptions,
            settled_cents: group.settled,
            carried_cents: carried,
            fee_cents: fee,
            amount_cents: amount,
            bank_account_id: account.id,
            end_to_end_id: format!("PN-{prefix}-{n:05}"),
            status: "pending".into(),
            rejection_reason: None,
        };
        repo::insert_line(conn, &line).await?;
        if group.settled > fee {
            ledger::post(
                conn,
                &program_id,
                Kind::Settlement,
                &line.id,
                Transfer {
                    from: Account::Redeemed(&site_id),
                    to: Account::Payable(&site_id),
                    amount_cents: group.settled - fee,
                },
                &now_text,
            )
            .await?;
        }
        if fee > 0 {
            ledger::post(
                conn,
                &program_id,
                Kind::OperatorFee,
                &line.id,
                Transfer {
                    from: Account::Redeemed(&site_id),
                    to: Account::Fee,
                    amount_cents: fee,
                },
                &now_text,
            )
            .await?;
        }
        total += amount;
    }
    if n == 0 {
        return Err(Error::conflict(
            "nothing_to_settle",
            "Aucun encaissement à régler jusqu'à cette date (ou leur délai d'annulation n'est pas encore passé).",
        ));
    }
    repo::set_total(conn, &batch_id, total).await?;
    crate::audit::record(
        conn,
        &now_text,
        Some(&operator.id),
        "settlement.created",
        Some(&batch_id),
        &format!("until {until}: {n} line(s), {total} cents"),
    )
    .await?;
    get(conn, operator, &batch_id).await
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
    if org.kind != OrgKind::Operator && lines.is_empty() {
        return Err(not_found());
    }
    Ok(BatchView { batch, lines })
}

/// Moves a batch one step on; refuses a step out of order.
async fn step(
    conn: &mut Conn,
    operator: &Organization,
    id: &str,
    from: &str,
    to: &str,
    now: &str,
) -> Result<BatchRow> {
    operator.require(OrgKind::Operator)?;
    if !repo::transition(conn, id, from, to, now, &operator.id).await? {
        let batch = repo::find_batch(conn, id).await?.ok_or_else(not_found)?;
        return Err(Error::conflict(
            "invalid_transition",
            format!(
                "Ce lot est « {} » : il ne peut pas passer à « {to} » (il doit être « {from} »).",
                batch.status
            ),
        ));
    }
    crate::audit::record(
        conn,
        now,
        Some(&operator.id),
        &format!("settlement.{to}"),
        Some(id),
        "",
    )
    .await?;
    repo::find_batch(conn, id).await?.ok_or_else(not_found)
}

pub async fn approve(
    conn: &mut Conn,
    operator: &Organization,
    id: &str,
    now: Timestamp,
) -> Result<BatchView> {
    step(conn, operator, id, "draft", "approved", &format_ts(now)).await?;
    get(conn, operator, id).await
}

/// The SEPA credit-transfer file of an approved batch; the first download marks it exported.
pub async fn export_sepa(
    conn: &mut Conn,
    operator: &Organization,
    id: &str,
    now: Timestamp,
    config: &Config,
) -> Result<String> {
    operator.require(OrgKind::Operator)?;
    let batch = repo::find_batch(conn, id).await?.ok_or_else(not_found)?;
    if batch.status == "draft" {
        return Err(Error::conflict(
            "not_approved",
            "Ce lot doit être approuvé avant que son fichier de virement soit produit.",
        ));
    }
    if batch.status == "approved" {
        step(conn, operator, id, "approved", "exported", &format_ts(now)).await?;
    }
    let mut groups: BTreeMap<String, sepa::PaymentGroup> = BTreeMap::new();
    let base_id = batch.id.replace('-', "").to_uppercase();
    for line in repo::lines_of(conn, id).await? {
        if line.status == "rejected" || line.amount_cents == 0 {
            continue;
        }
        let program = crate::programs::find(conn, &line.program_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("programme {} vanished", line.program_id))?;
        let funder = crate::orgs::find(conn, &program.funder_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("funder {} vanished", program.funder_id))?;
        let account = crate::sites::bank_account(conn, &line.bank_account_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("bank account {} vanished", line.bank_account_id))?;
        let n = groups.len() + 1;
        let group = groups
            .entry(funder.id.clone())
            .or_insert_with(|| sepa::PaymentGroup {
                payment_info_id: format!("{}-{n}", &base_id[..24]),
                ultimate_debtor: funder.name.clone(),
                transfers: Vec::new(),
            });
        group.transfers.push(sepa::Transfer {
            end_to_end_id: line.end_to_end_id.clone(),
            amount_cents: line.amount_cents,
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
        message_id: format!("PN{}", &base_id[..32]),
        created_at: now,
        execution_date: now.to_zoned(paris()).date(),
        initiating_party: config.payer_name.clone(),
        debtor: sepa::Party {
            name: config.payer_name.clone(),
            iban: crate::sites::parse_iban(&config.payer_iban)?,
            bic: config.payer_bic.clone(),
        },
        groups: groups.into_values().collect(),
    };
    sepa::render(&file).map_err(|e| Error::Internal(anyhow::anyhow!("SEPA file: {e}")))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub reason: Option<String>,
}

/// The bank returned one transfer: its amount goes back to payable, for the next batch.
pub async fn reject_line(
    conn: &mut Conn,
    operator: &Organization,
    id: &str,
    line_id: &str,
    rejection: Rejection,
    now: Timestamp,
) -> Result<BatchView> {
    operator.require(OrgKind::Operator)?;
    let batch = repo::find_batch(conn, id).await?.ok_or_else(not_found)?;
    let line = repo::lines_of(conn, id)
        .await?
        .into_iter()
        .find(|l| l.id == line_id)
        .ok_or_else(|| Error::not_found("Cette ligne n'existe pas dans ce lot."))?;
    if !matches!(batch.status.as_str(), "exported" | "paid") {
        return Err(Error::conflict(
            "not_exported",
            "Seule une ligne d'un lot envoyé à la banque peut être rejetée.",
        ));
    }
    let reason = rejection
        .reason
        .map(|r| r.trim().chars().take(200).collect::<String>())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "Rejet bancaire".into());
    let now_text = format_ts(now);
    if !repo::reject_line(conn, &line.id, &now_text, &reason).await? {
        return Err(Error::conflict(
            "already_rejected",
            "Cette ligne est déjà marquée comme rejetée.",
        ));
    }
    if line.status == "paid" && line.amount_cents > 0 {
        ledger::post(
            conn,
            &line.program_id,
            Kind::BankRejection,
            &line.id,
            Transfer {
                from: Account::Paid(&line.site_id),
                to: Account::Payable(&line.site_id),
                amount_cents: line.amount_cents,
            },
            &now_text,
        )
        .await?;
    }
    crate::audit::record(
        conn,
        &now_text,
        Some(&operator.id),
        "settlement.line_rejected",
        Some(id),
        &format!("line {} ({} cents): {reason}", line.id, line.amount_cents),
    )
    .await?;
    get(conn, operator, id).await
}

/// The bank has executed the transfers: every line not rejected is paid.
pub async fn mark_paid(
    conn: &mut Conn,
    operator: &Organization,
    id: &str,
    now: Timestamp,
) -> Result<BatchView> {
    let now_text = format_ts(now);
    step(conn, operator, id, "exported", "paid", &now_text).await?;
    for line in repo::pay_pending_lines(conn, id).await? {
        if line.amount_cents == 0 {
            continue;
        }
        ledger::post(
            conn,
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
    statement::mail_statements(conn, id, now).await?;
    get(conn, operator, id).await
}
