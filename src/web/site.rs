//! The mediation site agent: redeem a cheque by typing its code (or scanning it where the
//! browser can), pick the service and duration, see a receipt, undo a mistake, see the
//! redemptions and what has been paid.

use super::session::{Form, SignedIn};
use super::{page, Layout, Visitor, WebError, WebResult};
use crate::error::Error;
use crate::fr::long_date_text;
use crate::http::extract::ClientIp;
use crate::http::AppState;
use crate::orgs::OrgKind;
use crate::redemption::{self, NewRedemption, RedemptionRow};
use askama::Template;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use jiff::SignedDuration;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lieu", get(home))
        .route("/lieu/encaisser", post(redeem))
        .route("/lieu/encaissements/{id}/annuler", post(undo))
        .route("/lieu/releves/{file}", get(statement))
}

pub struct Payment {
    pub batch_id: String,
    pub until: String,
    pub amount: String,
    pub state: &'static str,
}

pub struct Row {
    pub id: String,
    pub code: String,
    pub date: String,
    pub service: &'static str,
    pub minutes: String,
    pub value: String,
    pub state: &'static str,
    pub undoable: bool,
}

#[derive(Template)]
#[template(path = "site/home.html")]
struct Home {
    l: Layout,
    error: Option<String>,
    receipt: Option<Row>,
    notice: Option<String>,
    code: String,
    rows: Vec<Row>,
    paid: String,
    owed: String,
    undo_hours: i64,
    /// Why the site cannot redeem right now, if so.
    not_qualified: Option<String>,
    payments: Vec<Payment>,
}

fn row(r: &RedemptionRow, now: jiff::Timestamp, window: SignedDuration) -> Row {
    let cutoff = crate::clock::format_ts(now.checked_sub(window).unwrap_or(now));
    Row {
        id: r.id.clone(),
        code: r.code.clone(),
        date: long_date_text(&r.redeemed_at),
        service: redemption::service_label(r.service.as_deref()),
        minutes: r.minutes.map(|m| format!("{m} min")).unwrap_or_default(),
        value: super::distributor::euros(r.value_cents),
        state: if r.undone_at.is_some() {
            "Annulé"
        } else if r.settlement_id.is_some() {
            "Réglé ou en cours de règlement"
        } else {
            "Encaissé"
        },
        undoable: r.undone_at.is_none() && r.settlement_id.is_none() && r.redeemed_at >= cutoff,
    }
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    receipt: Option<Row>,
    notice: Option<String>,
    code: String,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let mut conn = state.db.read.acquire().await?;
    let now = state.clock.now();
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let list = redemption::list(&mut conn, &signed.org).await?;
    // Read afresh: the session's copy may predate the operator's decision.
    let org = crate::orgs::find(&mut conn, &signed.org.id)
        .await?
        .unwrap_or_else(|| signed.org.clone());
    let not_qualified = match org.check_can_redeem(state.clock.today()) {
        Ok(()) => None,
        Err(e) => {
            let reason = crate::audit::latest(&mut conn, &org.id, crate::orgs::SUSPENSION_REASON)
                .await?
                .filter(|_| org.qualification_status == "suspended")
                .map(|entry| format!(" Motif : {}", entry.detail))
                .unwrap_or_default();
            Some(format!("{}{reason}", e.public_message()))
        }
    };
    let figures = crate::ledger::figures_of_org(&mut conn, &signed.org.id, false).await?;
    let paid: i64 = figures.values().map(|f| f.paid_cents).sum();
    let owed: i64 = figures
        .values()
        .map(|f| f.redeemed_unsettled_cents + f.settled_unpaid_cents)
        .sum();
    let payments = crate::settlement::lines_of_site(&mut conn, &signed.org.id)
        .await?
        .into_iter()
        .map(|(batch, line)| Payment {
            until: long_date_text(&batch.until_date),
            amount: super::distributor::euros(line.amount_cents),
            state: match (batch.status.as_str(), line.status.as_str()) {
                (_, "rejected") => "Virement rejeté par la banque : il sera refait",
                ("paid", _) => "Payé",
                _ => "En cours de paiement",
            },
            batch_id: batch.id,
        })
        .collect();
    page(Home {
        l: Layout::new(state, visitor, "Encaisser un chèque"),
        payments,
        error,
        receipt,
        notice,
        code,
        rows: list.iter().map(|r| row(r, now, window)).collect(),
        paid: super::distributor::euros(paid),
        owed: super::distributor::euros(owed),
        undo_hours: state.config.undo_window_hours,
        not_qualified,
    })
}

async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    render(&state, &visitor, None, None, None, String::new()).await
}

#[derive(Deserialize)]
struct RedeemForm {
    code: String,
    service: Option<String>,
    minutes: Option<String>,
}

async fn redeem(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Form { visitor, data }: Form<RedeemForm>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let now = state.clock.now();
    let limit_keys = [format!("site:{}", signed.org.id), format!("ip:{ip}")];
    if let Some(retry_after_secs) = state.invalid_codes.blocked(&limit_keys, now).await? {
        return Err(Error::RateLimited { retry_after_secs }.into());
    }
    let minutes = match data.minutes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) => match m.parse::<i64>() {
            Ok(m) => Some(m),
            Err(_) => {
                return render(
                    &state,
                    &visitor,
                    Some("La durée doit être un nombre de minutes.".into()),
                    None,
                    None,
                    data.code,
                )
                .await
            }
        },
    };
    let new = NewRedemption {
        code: data.code.clone(),
        service: data.service.filter(|s| !s.is_empty()),
        minutes,
    };
    let mut tx = state.db.begin().await?;
    match redemption::redeem(
        &mut tx,
        &state.keyring,
        &signed.org,
        new,
        now,
        state.clock.today(),
    )
    .await
    {
        Ok(r) => {
            tx.commit().await?;
            crate::metrics::redeemed();
            let window = SignedDuration::from_hours(state.config.undo_window_hours);
            render(
                &state,
                &visitor,
                None,
                Some(row(&r, now, window)),
                None,
                String::new(),
            )
            .await
        }
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 429 => {
            drop(tx);
            crate::metrics::refused(e.code());
            if e.code() == "invalid_code" {
                state.invalid_codes.record(&limit_keys, now).await?;
            }
            let advice = match e.code() {
                "invalid_code" => " Vérifiez le code sur le chèque et tapez-le de nouveau.",
                "already_redeemed" | "cancelled" | "expired" | "not_activated" => {
                    " Ne rendez pas le service au titre de ce chèque ; la personne peut appeler le numéro d'aide."
                }
                _ => "",
            };
            render(
                &state,
                &visitor,
                Some(format!("{}{advice}", e.public_message())),
                None,
                None,
                data.code,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct Nothing {}

async fn undo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let mut tx = state.db.begin().await?;
    match redemption::undo(&mut tx, &signed.org, &id, state.clock.now(), window).await {
        Ok(r) => {
            tx.commit().await?;
            let notice = format!(
                "L'encaissement du chèque {} est annulé : le chèque peut de nouveau être utilisé.",
                r.code
            );
            render(&state, &visitor, None, None, Some(notice), String::new()).await
        }
        Err(e @ (Error::Conflict { .. } | Error::NotFound(_))) => {
            drop(tx);
            render(
                &state,
                &visitor,
                Some(e.public_message()),
                None,
                None,
                String::new(),
            )
            .await
        }
        Err(e) => Err(WebError::Error(e)),
    }
}

/// The site's statement of one batch: `{batch id}.pdf` or `.csv`.
async fn statement(
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
    let mut conn = state.db.read.acquire().await?;
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
