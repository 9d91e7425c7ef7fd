//! Transfers the bank returned: the ISO 20022 reason codes banks send with an R-transaction,
//! in words a site understands; the rejected amount, held until the site's bank details change
//! or the operator releases it.

use super::{get, not_found, repo, BatchView, LineStatus};
use crate::clock::format_ts;
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;
use serde::Deserialize;

/// The reason codes the operator may record, each with what it means for the site.
pub const REASONS: [(&str, &str); 12] = [
    ("AC01", "Numéro de compte (IBAN) incorrect"),
    ("AC04", "Compte clôturé"),
    ("AC06", "Compte bloqué"),
    ("AG01", "Opération interdite sur ce compte"),
    ("AM04", "Provision insuffisante sur le compte payeur"),
    ("AM05", "Virement en double"),
    ("BE04", "Adresse du bénéficiaire manquante ou incorrecte"),
    ("CUST", "Virement refusé par le bénéficiaire"),
    ("MD07", "Titulaire du compte décédé"),
    ("MS02", "Motif non précisé par le bénéficiaire"),
    ("MS03", "Motif non précisé par la banque"),
    ("RC01", "Code BIC incorrect"),
];

/// A reason code as the operator gives it, checked; its meaning.
pub fn parse(code: &str) -> Result<(&'static str, &'static str)> {
    let code = code.trim().to_uppercase();
    REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .copied()
        .ok_or_else(|| {
            Error::invalid(
                "invalid_reason_code",
                format!(
                    "Code de rejet inconnu. Codes possibles : {}.",
                    REASONS.map(|(c, _)| c).join(", ")
                ),
            )
        })
}

/// The meaning of a recorded code, if it is one.
pub fn label(code: &str) -> Option<&'static str> {
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// The bank's ISO 20022 reason code: AC01, AC04, AC06, AG01, AM04, AM05, BE04, CUST, MD07,
    /// MS02, MS03 or RC01.
    pub reason_code: Option<String>,
    /// The bank's words, if they say more than the code.
    pub reason: Option<String>,
}

/// The bank returned one transfer: its amount goes back to payable, held for the site (see
/// [`release_line`]).
pub async fn reject_line(
    tx: &mut Tx<'_>,
    operator: &Organization,
    id: &str,
    line_id: &str,
    rejection: Rejection,
    now: Timestamp,
) -> Result<BatchView> {
    operator.require(OrgKind::Operator)?;
    let batch = repo::find_batch(tx, id).await?.ok_or_else(not_found)?;
    let line = repo::lines_of(tx, id)
        .await?
        .into_iter()
        .find(|l| l.id == line_id)
        .ok_or_else(|| Error::not_found("Cette ligne n'existe pas dans ce lot."))?;
    if !batch.status.at_the_bank() {
        return Err(Error::conflict(
            "not_exported",
            "Seule une ligne d'un lot envoyé à la banque peut être rejetée.",
        ));
    }
    let code = match rejection.reason_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Some(parse(code)?),
    };
    let said = rejection
        .reason
        .map(|r| r.trim().chars().take(200).collect::<String>())
        .filter(|r| !r.is_empty());
    let reason = match (code, said) {
        (Some((code, label)), Some(said)) => format!("{label} ({code}) : {said}"),
        (Some((code, label)), None) => format!("{label} ({code})"),
        (None, Some(said)) => said,
        (None, None) => "Rejet bancaire".into(),
    };
    let now_text = format_ts(now);
    if !repo::reject_line(tx, &line.id, &now_text, &reason, code.map(|(c, _)| c)).await? {
        return Err(Error::conflict(
            "already_rejected",
            "Cette ligne est déjà marquée comme rejetée.",
        ));
    }
    if line.status == LineStatus::Paid && line.amount_cents.is_positive() {
        ledger::post(
            tx,
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
        tx,
        &now_text,
        Some(&operator.id),
        "settlement.line_rejected",
        Some(id),
        &format!(
            "ligne {} ({}) : {reason}",
            line.end_to_end_id,
            line.amount_cents.text()
        ),
    )
    .await?;
    get(tx, operator, id).await
}

/// Lets a rejected amount held for the site go to the next batch, to the same bank account
/// (the operator has checked that it can now be paid there, e.g. after AM04 or MS03).
pub async fn release_line(
    tx: &mut Tx<'_>,
    operator: &Organization,
    id: &str,
    line_id: &str,
    now: Timestamp,
) -> Result<BatchView> {
    operator.require(OrgKind::Operator)?;
    let line = repo::lines_of(tx, id)
        .await?
        .into_iter()
        .find(|l| l.id == line_id)
        .ok_or_else(|| Error::not_found("Cette ligne n'existe pas dans ce lot."))?;
    let now_text = format_ts(now);
    if !repo::release(tx, &line.id, &now_text).await? {
        return Err(Error::conflict(
            "not_held",
            "Seul un virement rejeté qui attend encore peut être renvoyé : celui-ci n'est pas \
             rejeté, ou il est déjà renvoyé ou repris dans un lot.",
        ));
    }
    crate::audit::record(
        tx,
        &now_text,
        Some(&operator.id),
        "settlement.line_released",
        Some(id),
        &format!(
            "ligne {} ({}) renvoyée au même compte",
            line.end_to_end_id,
            line.amount_cents.text()
        ),
    )
    .await?;
    get(tx, operator, id).await
}

/// Per programme, what returned transfers hold for sites until new bank details are approved
/// or the operator releases them.
pub async fn held_by_programme(
    conn: &mut crate::db::Conn,
) -> Result<std::collections::HashMap<String, crate::money::Cents>> {
    Ok(super::repo::held_by_programme(conn)
        .await?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_read_in_plain_french() {
        assert_eq!(super::parse(" ac04 ").unwrap(), ("AC04", "Compte clôturé"));
        assert!(super::parse("XX99").is_err());
        assert_eq!(super::label("MD07"), Some("Titulaire du compte décédé"));
    }
}
