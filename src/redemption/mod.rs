//! Redemption of a cheque by a qualified site: at most once, whatever the concurrency. The
//! guard is one conditional UPDATE of the cheque's status (no read-then-write), backed by a
//! unique index allowing one live redemption per cheque.

mod repo;

pub use repo::RedemptionRow;

use crate::clock::{format_ts, parse_ts};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::fr::long_date_text;
use crate::ledger::{self, Account, Kind, Transfer};
use crate::orgs::{OrgKind, Organization};
use crate::vouchers::codes::{self, Keyring};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// The kinds of help of the national typology of mediation sessions.
pub const SERVICES: [&str; 3] = ["individual_help", "administrative_procedure", "workshop"];

/// How a service is named to people.
pub fn service_label(service: Option<&str>) -> &'static str {
    match service {
        Some("individual_help") => "Accompagnement individuel",
        Some("administrative_procedure") => "Démarche administrative",
        Some("workshop") => "Atelier collectif",
        _ => "Non précisé",
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRedemption {
    /// A scanned QR payload or a typed short code.
    pub code: String,
    pub service: Option<String>,
    pub minutes: Option<i64>,
}

/// Turns what a site sent into a canonical short code, refusing anything forged or mistyped
/// before the database is asked.
pub fn read_code(keyring: &Keyring, input: &str) -> Result<String> {
    let input = input.trim();
    let read = if codes::looks_like_payload(input) {
        keyring.verify_payload(input)
    } else {
        codes::parse_code(input)
    };
    read.map_err(crate::vouchers::invalid_code)
}

pub async fn redeem(
    conn: &mut Conn,
    keyring: &Keyring,
    site: &Organization,
    new: NewRedemption,
    now: Timestamp,
    today: Date,
) -> Result<RedemptionRow> {
    site.check_can_redeem(today)?;
    if let Some(service) = &new.service {
        if !SERVICES.contains(&service.as_str()) {
            return Err(Error::invalid(
                "invalid_service",
                "Le service doit être individual_help (accompagnement individuel), \
                 administrative_procedure (démarche administrative) ou workshop (atelier collectif).",
            ));
        }
    }
    if let Some(minutes) = new.minutes {
        if !(1..=600).contains(&minutes) {
            return Err(Error::invalid(
                "invalid_minutes",
                "La durée doit être comprise entre 1 et 600 minutes.",
            ));
        }
    }
    let code = read_code(keyring, &new.code)?;
    let now_text = format_ts(now);
    let Some(voucher) = repo::take_voucher(conn, &code, &today.to_string(), &now_text).await?
    else {
        return Err(why_not_redeemable(conn, &code, today).await?);
    };
    let redemption = RedemptionRow {
        id: crate::db::new_id(),
        voucher_id: voucher.id,
        site_id: site.id.clone(),
        program_id: voucher.program_id,
        distributor_id: voucher.distributor_id,
        value_cents: voucher.value_cents,
        service: new.service,
        minutes: new.minutes,
        redeemed_at: now_text,
        undone_at: None,
        settlement_id: None,
        code: codes::display_code(&code),
    };
    repo::insert(conn, &redemption).await?;
    // Before the ledger: the audit row locks nothing shared, the ledger's balances do.
    crate::audit::record(
        conn,
        &redemption.redeemed_at,
        Some(&site.id),
        "redemption.created",
        Some(&redemption.id),
        &format!(
            "chèque {} ({}), {} centimes",
            redemption.code, redemption.voucher_id, redemption.value_cents
        ),
    )
    .await?;
    ledger::post(
        conn,
        &redemption.program_id,
        Kind::Redemption,
        &redemption.id,
        Transfer {
            from: Account::Outstanding(&redemption.distributor_id),
            to: Account::Redeemed(&site.id),
            amount_cents: redemption.value_cents,
        },
        &redemption.redeemed_at,
    )
    .await?;
    Ok(redemption)
}

/// Explains, after the conditional update matched nothing, why this cheque cannot be redeemed.
async fn why_not_redeemable(conn: &mut Conn, code: &str, today: Date) -> Result<Error> {
    let Some(state) = repo::voucher_state(conn, code).await? else {
        return Ok(Error::invalid(
            "invalid_code",
            "Aucun chèque ne porte ce code. Vérifiez chaque caractère sur le chèque.",
        ));
    };
    let expired = state.redeemable_until < today.to_string();
    Ok(match state.status.as_str() {
        "redeemed" => Error::conflict(
            "already_redeemed",
            match &state.redeemed_at {
                Some(at) => format!("Ce chèque a déjà été utilisé le {}.", long_date_text(at)),
                None => "Ce chèque a déjà été utilisé.".to_string(),
            },
        ),
        "cancelled" => Error::gone(
            "cancelled",
            "Ce chèque a été annulé (carnet déclaré perdu) : il ne peut pas être accepté. \
             La personne peut demander un nouveau carnet à son distributeur.",
        ),
        "expired" => expired_error(&state.expires_on),
        _ if expired => expired_error(&state.expires_on),
        "inactive" => Error::conflict(
            "not_activated",
            "Ce chèque n'a pas encore été activé par le distributeur qui l'a remis : \
             il ne peut pas être accepté pour l'instant.",
        ),
        other => Error::Internal(anyhow::anyhow!(
            "cheque {code} in status {other} could not be redeemed"
        )),
    })
}

fn expired_error(expires_on: &str) -> Error {
    Error::gone(
        "expired",
        format!(
            "Ce chèque a expiré le {} : il ne peut plus être accepté.",
            long_date_text(expires_on)
        ),
    )
}

/// A site takes back its own redemption, within the undo window and before settlement.
pub async fn undo(
    conn: &mut Conn,
    site: &Organization,
    id: &str,
    now: Timestamp,
    window: SignedDuration,
) -> Result<RedemptionRow> {
    site.require(OrgKind::Site)?;
    let mut redemption = repo::find_for_site(conn, id, &site.id)
        .await?
        .ok_or_else(|| Error::not_found("Cet encaissement n'existe pas."))?;
    let now_text = format_ts(now);
    let cutoff = format_ts(now.checked_sub(window).unwrap_or(now));
    if !repo::mark_undone(conn, id, &site.id, &cutoff, &now_text).await? {
        return Err(if redemption.undone_at.is_some() {
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
        });
    }
    repo::restore_voucher(conn, &redemption.voucher_id).await?;
    ledger::post(
        conn,
        &redemption.program_id,
        Kind::Undo,
        &redemption.id,
        Transfer {
            from: Account::Redeemed(&site.id),
            to: Account::Outstanding(&redemption.distributor_id),
            amount_cents: redemption.value_cents,
        },
        &now_text,
    )
    .await?;
    // A cheque of a carnet cancelled meanwhile does not come back to life.
    if repo::cancel_if_pass_cancelled(conn, &redemption.voucher_id, &now_text).await? {
        ledger::post(
            conn,
            &redemption.program_id,
            Kind::Cancellation,
            &redemption.voucher_id,
            Transfer {
                from: Account::Outstanding(&redemption.distributor_id),
                to: Account::Quota(&redemption.distributor_id),
                amount_cents: redemption.value_cents,
            },
            &now_text,
        )
        .await?;
    }
    crate::audit::record(
        conn,
        &now_text,
        Some(&site.id),
        "redemption.undone",
        Some(&redemption.id),
        &format!(
            "chèque {}, {} centimes",
            redemption.voucher_id, redemption.value_cents
        ),
    )
    .await?;
    redemption.undone_at = Some(now_text);
    redemption.code = codes::display_code(&redemption.code);
    Ok(redemption)
}

pub async fn list(conn: &mut Conn, site: &Organization) -> Result<Vec<RedemptionRow>> {
    site.require(OrgKind::Site)?;
    let mut rows = repo::list_for_site(conn, &site.id, 500).await?;
    for r in &mut rows {
        r.code = codes::display_code(&r.code);
    }
    Ok(rows)
}
