//! One carnet: its page (the cheques as printed), its PDF, sending it by e-mail, activating a
//! carnet printed in stock when it is handed over, and cancelling a lost one.

use super::super::confirm::{self, Confirmation};
use super::super::session::{Form, SignedIn};
use super::super::{page, see_other, with_status, Layout, Visitor, WebError, WebResult};
use crate::app::AppState;
use crate::error::Error;
use crate::fr::{euros_text, long_date_text};
use crate::orgs::OrgKind;
use crate::vouchers::{self, Activation, ChequeStatus, PassStatus, PassView, Printable};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/distributeur/carnets/{id}", get(carnet))
        .route("/distributeur/carnets/{id}/annuler", post(cancel))
        .route("/distributeur/carnets/{id}/activer", post(activate))
        .route("/distributeur/carnets/{id}/pdf", get(carnet_pdf))
        .route("/distributeur/carnets/{id}/envoyer", post(send))
}

pub struct ChequeView {
    pub position: usize,
    pub code: String,
    pub value: String,
    pub status: ChequeStatus,
    pub qr_svg: String,
}

#[derive(Template)]
#[template(path = "distributor/carnet.html")]
struct Carnet {
    l: Layout,
    pass: PassView,
    program_name: String,
    expires: String,
    cheques: Vec<ChequeView>,
    total: usize,
    public_url: String,
    cancelled_now: bool,
    activated_now: bool,
    reference_erased_now: bool,
    /// The beneficiary reference, unless there is none or it was erased.
    live_reference: Option<String>,
    sent_to: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct CarnetQuery {
    /// What was just done: `annule`, `active`, or `envoye` (with `a`, the address).
    fait: Option<String>,
    a: Option<String>,
}

async fn carnet(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<CarnetQuery>,
) -> WebResult {
    let outcome = match (q.fait.as_deref(), q.a) {
        (Some("annule"), _) => Outcome::Cancelled,
        (Some("active"), _) => Outcome::Activated,
        (Some("reference-effacee"), _) => Outcome::ReferenceErased,
        (Some("envoye"), Some(to)) => Outcome::Sent(to),
        _ => Outcome::None,
    };
    render_carnet(&state, &visitor, &id, outcome).await
}

enum Outcome {
    None,
    Cancelled,
    Activated,
    ReferenceErased,
    Sent(String),
    Failed(String),
}

async fn load(state: &AppState, visitor: &Visitor, id: &str) -> Result<Printable, WebError> {
    let signed = SignedIn::require(visitor, OrgKind::Distributor)?;
    let mut conn = state.db.read().await?;
    let today = state.clock.today();
    Ok(vouchers::printable(&mut conn, &state.keyring, &signed.org, id, today).await?)
}

async fn carnet_pdf(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let carnet = load(&state, &visitor, &id).await?;
    let pdf = carnet.pdf(&state.letterhead());
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"carnet-{}.pdf\"",
                    carnet.pass.pass_code
                ),
            ),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Deserialize)]
struct SendForm {
    email: String,
}

/// Sends the carnet as a PDF through the outbox: it leaves once the server's sender runs.
async fn send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<SendForm>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Distributor)?;
    let (now, today) = (state.clock.now(), state.clock.today());
    let (keyring, org, letterhead) = (
        state.keyring.clone(),
        signed.org.clone(),
        state.letterhead(),
    );
    let (pass_id, to) = (id.clone(), form.data.email.clone());
    let sent = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move {
                vouchers::send_by_email(tx, &keyring, &org, &pass_id, &to, &letterhead, today, now)
                    .await
            })
        })
        .await;
    match sent {
        Ok(to) => {
            let query = serde_urlencoded::to_string([("fait", "envoye"), ("a", to.as_str())])
                .unwrap_or_default();
            see_other(&format!("/distributeur/carnets/{id}?{query}"))
        }
        Err(e @ Error::Unprocessable { .. }) => said_on_page(&state, &form.visitor, &id, e).await,
        Err(e) => Err(e.into()),
    }
}

/// A refusal said in words on the carnet's page, answered with its status.
async fn said_on_page(state: &AppState, visitor: &Visitor, id: &str, e: Error) -> WebResult {
    let outcome = Outcome::Failed(e.public_message());
    with_status(e.status(), render_carnet(state, visitor, id, outcome).await)
}

async fn render_carnet(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    outcome: Outcome,
) -> WebResult {
    let Printable {
        pass, programme, ..
    } = load(state, visitor, id).await?;
    let total = pass.vouchers.len();
    let cheques = pass
        .vouchers
        .iter()
        .enumerate()
        .map(|(i, v)| ChequeView {
            position: i + 1,
            code: v.code.clone(),
            value: euros_text(v.value_cents),
            status: v.status,
            qr_svg: v
                .qr_payload
                .as_deref()
                .and_then(|p| vouchers::codes::qr_svg(p, &format!("QR code du chèque {}", v.code)))
                .unwrap_or_default(),
        })
        .collect();
    page(Carnet {
        l: Layout::new(state, visitor, format!("Carnet {}", pass.pass_code)),
        expires: long_date_text(&pass.expires_on),
        program_name: programme,
        cheques,
        total,
        public_url: state.config.public_url.clone(),
        cancelled_now: matches!(outcome, Outcome::Cancelled),
        activated_now: matches!(outcome, Outcome::Activated),
        reference_erased_now: matches!(outcome, Outcome::ReferenceErased),
        live_reference: pass
            .beneficiary_ref
            .clone()
            .filter(|r| !vouchers::rights::is_erased_reference(r)),
        sent_to: match &outcome {
            Outcome::Sent(to) => Some(to.clone()),
            _ => None,
        },
        error: match outcome {
            Outcome::Failed(message) => Some(message),
            _ => None,
        },
        pass,
    })
}

#[derive(Deserialize)]
struct Nothing {}

#[derive(Deserialize)]
struct ActivateForm {
    beneficiary_ref: Option<String>,
    email: Option<String>,
}

/// Hands over a carnet printed in stock: the same operation as the API's activation. Sent
/// again (a reload, a double click), the form gets the first answer; a carnet already active
/// or cancelled, or a programme that no longer issues, is said in words on the carnet's page.
async fn activate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<ActivateForm>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Distributor)?;
    let (now, today) = (state.clock.now(), state.clock.today());
    let (keyring, org) = (state.keyring.clone(), signed.org.clone());
    let activation = Activation {
        beneficiary_ref: form.data.beneficiary_ref.clone(),
        email: form.data.email.clone(),
    };
    let pass_id = id.clone();
    let activated = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move {
                vouchers::activate(tx, &keyring, &org, &pass_id, activation, now, today).await
            })
        })
        .await;
    match activated {
        Ok(_) => see_other(&format!("/distributeur/carnets/{id}?fait=active")),
        // Already active or cancelled, a wrong reference or e-mail, a programme closing.
        Err(e @ (Error::Unprocessable { .. } | Error::Conflict { .. } | Error::Gone { .. })) => {
            said_on_page(&state, &form.visitor, &id, e).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Distributor)?;
    if !form.confirmed() {
        let pass = load(&state, &form.visitor, &id).await?.pass;
        return confirm::ask(&state, &form, cancel_question(&pass));
    }
    let (now, today) = (state.clock.now(), state.clock.today());
    let (keyring, org) = (state.keyring.clone(), signed.org.clone());
    let pass_id = id.clone();
    state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(
                async move { vouchers::cancel(tx, &keyring, &org, &pass_id, now, today).await },
            )
        })
        .await?;
    see_other(&format!("/distributeur/carnets/{id}?fait=annule"))
}

/// "Annuler le carnet … ?", from the carnet as it is now.
fn cancel_question(pass: &PassView) -> Confirmation {
    let reference = match &pass.beneficiary_ref {
        Some(r) if !r.is_empty() => format!(" (référence {r})"),
        _ => String::new(),
    };
    let unused = match pass.remaining_cheques {
        0 => "Il ne reste aucun chèque à utiliser sur ce carnet.".to_string(),
        1 => "Le chèque non utilisé ne pourra plus être utilisé ; sa valeur revient à votre \
              quota."
            .to_string(),
        n => format!(
            "Les {n} chèques non utilisés ne pourront plus être utilisés ; leur valeur revient \
             à votre quota."
        ),
    };
    Confirmation::new(
        format!("Annuler le carnet {}{reference} ?", pass.pass_code),
        "Oui, annuler le carnet",
    )
    .then(unused)
    .then(
        "L'annulation est définitive. Vous pourrez ensuite remettre un nouveau carnet à cette \
         personne.",
    )
}
