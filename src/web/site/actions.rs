//! What the site's agent does: redeem (by the one door, `Redeemer::redeem`), see the receipt,
//! undo, download a statement.

use super::{receipt, render, render_with, Entered};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::euros_text;
use crate::http::extract::ClientIp;
use crate::orgs::OrgKind;
use crate::redemption::writer::{Caller, Request};
use crate::redemption::{self, NewRedemption};
use crate::web::confirm::{self, Confirmation};
use crate::web::form_errors::FormErrors;
use crate::web::session::{Form, SignedIn};
use crate::web::{see_other, with_status, Visitor, WebResult};
use axum::extract::{Path, State};
use jiff::SignedDuration;
use serde::Deserialize;

/// The minutes chosen: one of the usual durations, or the one typed under "other".
fn minutes_of(entered: &Entered) -> Result<Option<i64>, &'static str> {
    let typed = if entered.minutes == "other" {
        entered.minutes_other.trim()
    } else {
        entered.minutes.trim()
    };
    if typed.is_empty() {
        return Ok(None);
    }
    typed
        .parse::<i64>()
        .map(Some)
        .map_err(|_| "La durée doit être un nombre de minutes.")
}

pub(super) async fn redeem(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: Form<Vec<(String, String)>>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let once = form.once();
    let Form { visitor, data, .. } = form;
    let entered = Entered::read(data);
    let minutes = match minutes_of(&entered) {
        Ok(m) => m,
        Err(message) => {
            let field = if entered.minutes == "other" {
                "minutes_other"
            } else {
                "minutes"
            };
            let errors = FormErrors::one(field, message);
            let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            let page = render_with(&state, &visitor, None, errors, None, None, entered).await;
            return with_status(status, page);
        }
    };
    let (service, service_id) = match entered.service.strip_prefix("service:") {
        Some(id) => (None, Some(id.to_string())),
        None => (
            Some(entered.service.clone()).filter(|s| !s.is_empty()),
            None,
        ),
    };
    let codes: Vec<String> = entered
        .codes
        .iter()
        .filter(|c| !c.trim().is_empty())
        .cloned()
        .collect();
    let several = codes.len() > 1;
    let new = NewRedemption {
        codes,
        place_id: Some(entered.place_id.clone()).filter(|p| !p.is_empty()),
        service_id,
        service,
        minutes,
        themes: entered.themes.clone(),
        location: Some(entered.location.clone()).filter(|l| !l.is_empty()),
        help_level: Some(entered.help_level.clone()).filter(|l| !l.is_empty()),
        ..Default::default()
    };
    let request = Request {
        caller: Caller::Site(signed.org.clone()),
        client_ip: ip,
        new,
        once,
        origin: visitor.origin(),
    };
    match state.redeemer.redeem(request).await {
        Ok(r) => see_other(&format!("/lieu/encaissements/{}", r.id)),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 429 => {
            let advice = match e.code() {
                "invalid_code" => " Vérifiez le code sur le chèque et tapez-le de nouveau.",
                "already_redeemed" | "cancelled" | "expired" | "not_activated"
                | "programme_closed" | "outside_territory" => {
                    " Ne rendez pas le service au titre de ce chèque ; la personne peut appeler le numéro d'aide."
                }
                _ => "",
            };
            let none = if several {
                " Aucun chèque n'a été encaissé."
            } else {
                ""
            };
            let message = format!("{}{advice}{none}", e.public_message());
            let errors = FormErrors::one(field_of(e.code(), &entered), message);
            with_status(
                e.status(),
                render_with(&state, &visitor, None, errors, None, None, entered).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// The field of the redemption form a refusal is about: the place, the service, the duration,
/// or else the cheque's code.
fn field_of(code: &str, entered: &Entered) -> &'static str {
    match code {
        c if c.contains("place") => "place_id",
        "invalid_service" | "wrong_cheque_count" | "unknown_service" => "service",
        "invalid_help_level" => "help_level",
        c if c.contains("minutes") || c.contains("duration") => {
            if entered.minutes == "other" {
                "minutes_other"
            } else {
                "minutes"
            }
        }
        _ => "code",
    }
}

/// A redemption's receipt (or, once undone, what the undo did): where a redemption or an undo
/// leads, so that reloading or reopening it shows the same thing and does nothing again.
pub(super) async fn receipt_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let r = redemption::get(&mut conn, &signed.org, &id).await?;
    if r.undone_at.is_some() {
        drop(conn);
        let notice = if r.cheques.len() > 1 {
            let codes: Vec<&str> = r.cheques.iter().map(|c| c.code.as_str()).collect();
            format!(
                "L'encaissement des chèques {} est annulé : ces chèques peuvent de nouveau \
                 être utilisés.",
                codes.join(", ")
            )
        } else {
            format!(
                "L'encaissement du chèque {} est annulé : le chèque peut de nouveau être utilisé.",
                r.code
            )
        };
        return render(
            &state,
            &visitor,
            None,
            None,
            Some(notice),
            Entered::default(),
        )
        .await;
    }
    let found = match r.place_id.as_deref() {
        Some(id) => crate::sites::places::find(&mut conn, id).await?,
        None => None,
    };
    let zone = found
        .as_ref()
        .map_or_else(|| signed.org.zone(), |p| p.zone());
    let place = found
        .and_then(|p| p.data.get("nom").map(str::to_string))
        .unwrap_or_default();
    drop(conn);
    // The session's feedback link is made the first time its receipt is shown.
    let (site_id, redemption_id) = (signed.org.id.clone(), r.id.clone());
    let now = crate::clock::format_ts(state.clock.now());
    let token = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move {
                crate::voice::link_of_redemption(tx, &site_id, &redemption_id, &now).await
            })
        })
        .await?;
    let mut receipt = receipt(&r, place, &zone);
    if let Some(token) = token {
        receipt.feedback_url = format!("{}/avis/seance/{token}", state.config.public_url);
        receipt.feedback_qr = crate::vouchers::codes::qr_svg(
            &receipt.feedback_url,
            "QR code de la page « Je donne mon avis » de cette séance",
        )
        .unwrap_or_default();
    }
    render(
        &state,
        &visitor,
        None,
        Some(receipt),
        None,
        Entered::default(),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct Nothing {}

pub(super) async fn undo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    if !form.confirmed() {
        let mut conn = state.db.read().await?;
        let r = redemption::get(&mut conn, &signed.org, &id).await?;
        drop(conn);
        if r.undone_at.is_none() {
            return confirm::ask(&state, &form, undo_question(&r));
        }
    }
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let (org, now, redemption_id) = (signed.org.clone(), state.clock.now(), id.clone());
    let undone = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { redemption::undo(tx, &org, &redemption_id, now, window).await })
        })
        .await;
    match undone {
        Ok(r) => see_other(&format!("/lieu/encaissements/{}", r.id)),
        Err(e @ (Error::Conflict { .. } | Error::NotFound(_))) => with_status(
            e.status(),
            render(
                &state,
                &form.visitor,
                Some(e.public_message()),
                None,
                None,
                Entered::default(),
            )
            .await,
        ),
        Err(e) => Err(e.into()),
    }
}

/// "Annuler l'encaissement … ?", from the redemption as it is now.
fn undo_question(r: &redemption::RedemptionRow) -> Confirmation {
    let total = euros_text(
        r.cheques
            .iter()
            .map(|c| i64::from(c.value_cents))
            .sum::<i64>(),
    );
    if r.cheques.len() > 1 {
        let codes: Vec<&str> = r.cheques.iter().map(|c| c.code.as_str()).collect();
        Confirmation::new(
            format!(
                "Annuler l'encaissement des {} chèques {} ?",
                r.cheques.len(),
                codes.join(", ")
            ),
            "Oui, annuler l'encaissement",
        )
        .then(format!(
            "Ces chèques pourront de nouveau être utilisés, et cette séance ({total}) ne vous \
             sera pas payée."
        ))
    } else {
        Confirmation::new(
            format!("Annuler l'encaissement du chèque {} ?", r.code),
            "Oui, annuler l'encaissement",
        )
        .then(format!(
            "Le chèque pourra de nouveau être utilisé, et cette séance ({total}) ne vous sera \
             pas payée."
        ))
    }
    .then("Vous ne pourrez pas revenir sur cette annulation.")
}

/// The site's statement of one batch: `{batch id}.pdf` or `.csv`.
pub(super) async fn statement(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(file): Path<String>,
) -> WebResult {
    use axum::http::header;
    use axum::response::IntoResponse;
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let Some((batch_id, format)) = file
        .rsplit_once('.')
        .filter(|(_, ext)| matches!(*ext, "pdf" | "csv"))
    else {
        return Err(Error::not_found("Ce relevé n'existe pas.").into());
    };
    let mut conn = state.db.read().await?;
    let report =
        crate::settlement::site_statement(&mut conn, &signed.org, batch_id, &signed.org.id).await?;
    let (content_type, body) = match format {
        "csv" => ("text/csv; charset=utf-8", report.csv()?.into_bytes()),
        _ => ("application/pdf", report.pdf()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"releve-{batch_id}.{format}\""),
            ),
        ],
        body,
    )
        .into_response())
}
