//! A site takes back its own redemption, within the undo window and before settlement.

use super::repo::{self, ChequeLine, RedemptionRow};
use crate::clock::{format_ts, parse_ts};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::fr::long_date_text;
use crate::ledger::{self, Account, Kind, Transfer};
use crate::orgs::{OrgKind, Organization};
use crate::vouchers::codes::{self};
use jiff::{SignedDuration, Timestamp};

/// A site takes back its own redemption, within the undo window and before settlement. The
/// cheques redeemed together for one session are undone together.
pub async fn undo(
    tx: &mut Tx<'_>,
    site: &Organization,
    id: &str,
    now: Timestamp,
    window: SignedDuration,
) -> Result<RedemptionRow> {
    site.require(OrgKind::Site)?;
    let mut redemption = repo::find_for_site(tx, id, &site.id)
        .await?
        .ok_or_else(|| Error::not_found("Cet encaissement n'existe pas."))?;
    let group = match &redemption.group_id {
        Some(group_id) => repo::group_for_site(tx, group_id, &site.id).await?,
        None => vec![redemption.clone()],
    };
    let now_text = format_ts(now);
    let cutoff = format_ts(now.checked_sub(window).unwrap_or(now));
    for member in &group {
        if !repo::mark_undone(tx, &member.id, &site.id, &cutoff, &now_text).await? {
            return Err(why_not_undone(member, window));
        }
    }
    // The carnet's figures before the ledger, in the order a redemption takes them, so that
    // an undo and a redemption of the same carnet never wait on each other in a cycle.
    let given_back: Vec<crate::stats::figures::Use> = group
        .iter()
        .map(|m| crate::stats::figures::Use::of(m, None))
        .collect();
    crate::stats::figures::given_back(tx, &given_back).await?;
    for member in &group {
        undo_one(tx, site, member, &now_text).await?;
    }
    redemption.undone_at = Some(now_text);
    redemption.code = codes::display_code(&redemption.code);
    redemption.cheques = group
        .iter()
        .map(|m| ChequeLine {
            code: codes::display_code(&m.code),
            ..ChequeLine::of(m)
        })
        .collect();
    Ok(redemption)
}

fn why_not_undone(redemption: &RedemptionRow, window: SignedDuration) -> Error {
    if redemption.undone_at.is_some() {
        Error::conflict("already_undone", "Cet encaissement a déjà été annulé.")
    } else if redemption.settlement_id.is_some() {
        Error::conflict(
            "already_settled",
            "Cet encaissement a déjà été réglé : il ne peut plus être annulé. \
             Contactez l'opérateur du Pass numérique.",
        )
    } else {
        let deadline = parse_ts(&redemption.redeemed_at)
            .and_then(|t| t.checked_add(window).ok())
            .map(|t| long_date_text(&t.to_zoned(crate::clock::paris()).date().to_string()))
            .unwrap_or_default();
        Error::conflict(
            "undo_window_closed",
            format!(
                "Le délai pour annuler cet encaissement est passé (jusqu'au {deadline}). \
                 Contactez l'opérateur du Pass numérique."
            ),
        )
    }
}

/// Gives one cheque back, with its ledger and audit entries.
async fn undo_one(
    tx: &mut Tx<'_>,
    site: &Organization,
    redemption: &RedemptionRow,
    now_text: &str,
) -> Result<()> {
    repo::restore_voucher(tx, &redemption.voucher_id).await?;
    ledger::post(
        tx,
        &redemption.program_id,
        Kind::Undo,
        &redemption.id,
        Transfer {
            from: Account::Redeemed(&site.id),
            to: Account::Outstanding(&redemption.distributor_id),
            amount_cents: redemption.value_cents,
        },
        now_text,
    )
    .await?;
    // A cheque of a carnet cancelled meanwhile does not come back to life.
    if repo::cancel_if_pass_cancelled(tx, &redemption.voucher_id, now_text).await? {
        ledger::post(
            tx,
            &redemption.program_id,
            Kind::Cancellation,
            &redemption.voucher_id,
            Transfer {
                from: Account::Outstanding(&redemption.distributor_id),
                to: Account::Quota(&redemption.distributor_id),
                amount_cents: redemption.value_cents,
            },
            now_text,
        )
        .await?;
    }
    crate::audit::record(
        tx,
        now_text,
        Some(&site.id),
        "redemption.undone",
        Some(&redemption.id),
        &format!(
            "chèque {}, {}",
            redemption.voucher_id,
            redemption.value_cents.text()
        ),
    )
    .await
}
