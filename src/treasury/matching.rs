//! What each booked entry of a statement is: a funding received (its reference in the
//! transfer's text, the same amount), a batch's transfers leaving (the SEPA file's references),
//! a transfer returned by the site's bank (its end-to-end id and reason), or, failing that,
//! left for a person, who matches it by hand or sets it aside with a note.

use super::camt;
use super::repo::{self, EntryKind, EntryRow};
use crate::clock::format_ts;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use crate::programs::{FundingRow, FundingStatus};
use crate::settlement::{references, BatchStatus, LineStatus, Rejection};
use jiff::Timestamp;
use serde::Deserialize;

pub enum Outcome {
    FundingConfirmed,
    BatchPaid,
    BatchDebit,
    Returned,
    Unmatched,
}

/// Letters and digits only, in capitals: references are retyped with spaces and dashes.
fn normalized(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The declared funding whose reference a credit's text carries, with the same amount.
fn funding_for<'f>(
    fundings: &'f [FundingRow],
    texts: &str,
    cents: Cents,
) -> Option<&'f FundingRow> {
    let texts = normalized(texts);
    fundings.iter().find(|f| {
        let reference = normalized(&f.reference);
        f.amount_cents == cents && reference.len() >= 4 && texts.contains(&reference)
    })
}

async fn unmatched(tx: &mut Tx<'_>, entry_id: &str, at: &str, note: String) -> Result<Outcome> {
    repo::set_match(
        tx,
        entry_id,
        EntryKind::Unmatched,
        None,
        Some(&note),
        None,
        at,
    )
    .await?;
    Ok(Outcome::Unmatched)
}

pub(super) async fn match_entry(
    tx: &mut Tx<'_>,
    operator: &Organization,
    entry_id: &str,
    entry: &camt::Entry,
    now: Timestamp,
) -> Result<Outcome> {
    let at = format_ts(now);
    let cents = Cents::new(entry.cents);
    if entry.reversal {
        return unmatched(
            tx,
            entry_id,
            &at,
            "Écriture d'annulation de la banque.".into(),
        )
        .await;
    }
    let returned = entry
        .transactions
        .iter()
        .find(|t| t.return_reason.is_some() || (entry.credit && t.end_to_end_id.is_some()));
    if entry.credit {
        if let Some(t) = returned {
            if let Some(line) = match t.end_to_end_id.as_deref() {
                Some(e2e) => references::line_named(tx, e2e).await?,
                None => None,
            } {
                if line.amount_cents != cents {
                    let note = format!(
                        "Retour d'un virement de {} pour la ligne {}, qui était de {}.",
                        cents.text(),
                        line.end_to_end_id,
                        line.amount_cents.text()
                    );
                    return unmatched(tx, entry_id, &at, note).await;
                }
                if line.status != LineStatus::Rejected {
                    let code = t.return_reason.clone().unwrap_or_default();
                    let known = crate::settlement::rejection::parse(&code).is_ok();
                    let rejection = Rejection {
                        reason_code: known.then(|| code.clone()),
                        reason: match (&t.return_info, known) {
                            (Some(info), _) => Some(info.clone()),
                            (None, false) if !code.is_empty() => {
                                Some(format!("Retour de la banque, code {code}"))
                            }
                            _ => None,
                        },
                    };
                    crate::settlement::reject_line(
                        tx,
                        operator,
                        &line.settlement_id,
                        &line.id,
                        rejection,
                        now,
                    )
                    .await?;
                }
                repo::set_match(
                    tx,
                    entry_id,
                    EntryKind::BankReturn,
                    Some(&line.id),
                    None,
                    None,
                    &at,
                )
                .await?;
                return Ok(Outcome::Returned);
            }
        }
        let texts: Vec<&str> = entry
            .transactions
            .iter()
            .flat_map(|t| {
                t.remittance
                    .iter()
                    .map(String::as_str)
                    .chain(t.end_to_end_id.as_deref())
            })
            .collect();
        let fundings = crate::programs::declared_fundings(tx).await?;
        return match funding_for(&fundings, &texts.join(" "), cents) {
            Some(f) => {
                confirm(tx, operator, f, entry_id, None, &at).await?;
                Ok(Outcome::FundingConfirmed)
            }
            None => {
                unmatched(
                    tx,
                    entry_id,
                    &at,
                    "Aucun versement annoncé n'a cette référence et ce montant.".into(),
                )
                .await
            }
        };
    }
    let ids = |f: fn(&camt::Transaction) -> Option<&String>| -> Vec<&str> {
        entry
            .transactions
            .iter()
            .filter_map(f)
            .map(String::as_str)
            .collect()
    };
    let batch = references::batch_named(
        tx,
        &ids(|t| t.message_id.as_ref()),
        &ids(|t| t.payment_info_id.as_ref()),
        &ids(|t| t.end_to_end_id.as_ref()),
    )
    .await?;
    match batch {
        Some(batch) => debit_of_batch(tx, operator, entry_id, &batch.id, cents, None, now).await,
        None => {
            unmatched(
                tx,
                entry_id,
                &at,
                "Ce débit ne porte la référence d'aucun lot de règlement envoyé à la banque."
                    .into(),
            )
            .await
        }
    }
}

async fn confirm(
    tx: &mut Tx<'_>,
    operator: &Organization,
    funding: &FundingRow,
    entry_id: &str,
    by_hand: Option<&str>,
    at: &str,
) -> Result<()> {
    if !crate::programs::confirm_funding(tx, &funding.id, entry_id, at).await? {
        return Err(Error::conflict(
            "funding_confirmed",
            "Ce versement est déjà confirmé par une autre écriture du relevé.",
        ));
    }
    repo::set_match(
        tx,
        entry_id,
        EntryKind::Funding,
        Some(&funding.id),
        None,
        by_hand,
        at,
    )
    .await?;
    crate::audit::record(
        tx,
        at,
        Some(&operator.id),
        "funding.confirmed",
        Some(&funding.program_id),
        &format!(
            "{}, référence {}, vu sur le relevé{}",
            funding.amount_cents.text(),
            funding.reference,
            if by_hand.is_some() {
                " (rapproché à la main)"
            } else {
                ""
            }
        ),
    )
    .await
}

/// A debit of a batch's transfers: the batch is paid once its debits add up to its total.
async fn debit_of_batch(
    tx: &mut Tx<'_>,
    operator: &Organization,
    entry_id: &str,
    batch_id: &str,
    cents: Cents,
    by_hand: Option<&str>,
    now: Timestamp,
) -> Result<Outcome> {
    let at = format_ts(now);
    let batch = references::batch(tx, batch_id)
        .await?
        .filter(|b| b.status.at_the_bank())
        .ok_or_else(|| {
            Error::conflict(
                "batch_not_at_the_bank",
                "Ce lot n'a pas été envoyé à la banque : aucun débit ne peut le payer.",
            )
        })?;
    let debited = repo::debited_for_batch(tx, &batch.id).await? + cents;
    if debited > batch.total_cents {
        let note = format!(
            "Ce débit porte la référence du lot du {}, mais les débits ({}) dépassent son montant ({}).",
            crate::fr::long_date_text(&batch.until_date),
            debited.text(),
            batch.total_cents.text()
        );
        if by_hand.is_some() {
            return Err(Error::conflict("batch_overpaid", note));
        }
        repo::set_match(
            tx,
            entry_id,
            EntryKind::Unmatched,
            None,
            Some(&note),
            None,
            &at,
        )
        .await?;
        return Ok(Outcome::Unmatched);
    }
    repo::set_match(
        tx,
        entry_id,
        EntryKind::Batch,
        Some(&batch.id),
        None,
        by_hand,
        &at,
    )
    .await?;
    if debited == batch.total_cents && batch.status == BatchStatus::Exported {
        crate::settlement::mark_paid(tx, operator, &batch.id, now).await?;
        return Ok(Outcome::BatchPaid);
    }
    Ok(Outcome::BatchDebit)
}

/// A person's match for an entry the import could not recognise: exactly one of these.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualMatch {
    /// A declared funding of the same amount, for a credit.
    pub funding_id: Option<String>,
    /// A batch sent to the bank, for a debit.
    pub batch_id: Option<String>,
    /// Set the entry aside with this note (bank fees, interest, a transfer between accounts).
    pub set_aside: Option<String>,
}

pub async fn match_by_hand(
    tx: &mut Tx<'_>,
    operator: &Organization,
    entry_id: &str,
    how: ManualMatch,
    now: Timestamp,
) -> Result<EntryRow> {
    operator.require(OrgKind::Operator)?;
    let entry = repo::find_entry(tx, entry_id)
        .await?
        .ok_or_else(|| Error::not_found("Cette écriture du relevé n'existe pas."))?;
    if entry.kind != EntryKind::Unmatched {
        return Err(Error::conflict(
            "entry_matched",
            "Cette écriture est déjà rapprochée.",
        ));
    }
    let at = format_ts(now);
    let credit = entry.direction == "credit";
    let what = match (how.funding_id, how.batch_id, how.set_aside) {
        (Some(funding_id), None, None) => {
            let funding = crate::programs::find_funding(tx, &funding_id)
                .await?
                .filter(|f| f.status == FundingStatus::Declared)
                .ok_or_else(|| {
                    Error::invalid(
                        "unknown_funding",
                        "Choisissez un versement annoncé et pas encore confirmé.",
                    )
                })?;
            if !credit || funding.amount_cents != entry.amount_cents {
                return Err(Error::invalid(
                    "amount_mismatch",
                    format!(
                        "Ce versement est de {}, l'écriture est un {} de {} : ils ne peuvent pas \
                         être rapprochés.",
                        funding.amount_cents.text(),
                        if credit { "crédit" } else { "débit" },
                        entry.amount_cents.text()
                    ),
                ));
            }
            confirm(tx, operator, &funding, &entry.id, Some(&operator.id), &at).await?;
            format!("versement « {} »", funding.reference)
        }
        (None, Some(batch_id), None) => {
            if credit {
                return Err(Error::invalid(
                    "amount_mismatch",
                    "Un crédit ne peut pas payer un lot de règlement : choisissez un débit.",
                ));
            }
            debit_of_batch(
                tx,
                operator,
                &entry.id,
                &batch_id,
                entry.amount_cents,
                Some(&operator.id),
                now,
            )
            .await?;
            format!("lot {batch_id}")
        }
        (None, None, Some(note)) => {
            let note = note.trim();
            if note.is_empty() || note.chars().count() > 200 || note.contains(char::is_control) {
                return Err(Error::invalid(
                    "invalid_note",
                    "Dites en une ligne (200 caractères au plus) pourquoi cette écriture est mise \
                     de côté.",
                ));
            }
            repo::set_match(
                tx,
                &entry.id,
                EntryKind::SetAside,
                None,
                Some(note),
                Some(&operator.id),
                &at,
            )
            .await?;
            format!("mis de côté : {note}")
        }
        _ => {
            return Err(Error::invalid(
                "invalid_match",
                "Choisissez un versement, un lot, ou une note pour mettre l'écriture de côté.",
            ))
        }
    };
    crate::audit::record(
        tx,
        &at,
        Some(&operator.id),
        "bank_entry.matched",
        Some(&entry.statement_id),
        &format!(
            "{} de {} le {} : {what}",
            if credit { "crédit" } else { "débit" },
            entry.amount_cents.text(),
            entry.booking_date.as_deref().unwrap_or_default()
        ),
    )
    .await?;
    repo::find_entry(tx, &entry.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("bank entry {} vanished", entry.id).into())
}
