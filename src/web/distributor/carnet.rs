//! One carnet: its page (the cheques as printed), its PDF, sending it by e-mail, activating a
//! carnet printed in stock when it is handed over, and cancelling a lost one.

use super::super::confirm::{self, Confirmation};
use super::super::form_errors::FormErrors;
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
    /// A refusal about no field of the page (a carnet already active, a programme closing).
    error: Option<String>,
    activate_errors: FormErrors,
    send_errors: FormErrors,
    /// What the fields hold: the carnet's own, or what was typed when a form was refused.
    beneficiary_ref: String,
    activation_email: String,
    email: String,
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
    Failed(Refusal),
}

/// A form of the carnet's page refused: its mistakes by field (or, about no field, a word for
/// the page), and what was typed.
struct Refusal {
    errors: FormErrors,
    alert: Option<String>,
    typed: Typed,
}

/// What was typed in the carnet's page forms, by field id.
#[derive(Default)]
struct Typed {
    beneficiary_ref: Option<String>,
    activation_email: Option<String>,
    email: Option<String>,
}

/// The field of the carnet's page a refusal is about, when it is about one.
fn field_of(code: &str, e_mail_field: &str) -> Option<String> {
    match code {
        "invalid_beneficiary_ref" | "personal_data_in_reference" => {
            Some("beneficiary_ref".to_string())
        }
        "invalid_email" => Some(e_mail_field.to_string()),
        _ => None,
    }
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
        Err(e @ Error::Unprocessable { .. }) => {
            let typed = Typed {
                email: Some(form.data.email.clone()),
                ..Typed::default()
            };
            said_on_page(&state, &form.visitor, &id, e, "email", typed).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A refusal said on the carnet's page, at its field (`e_mail_field` for an address) or in
/// words for the page, answered with its status.
async fn said_on_page(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    e: Error,
    e_mail_field: &str,
    typed: Typed,
) -> WebResult {
    let refusal = match field_of(e.code(), e_mail_field) {
        Some(field) => Refusal {
            errors: FormErrors::one(field, e.public_message()),
            alert: None,
            typed,
        },
        None => Refusal {
            errors: FormErrors::none(),
            alert: Some(e.public_message()),
            typed,
        },
    };
    let outcome = Outcome::Failed(refusal);
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
    let (cancelled_now, activated_now, reference_erased_now) = (
        matches!(outcome, Outcome::Cancelled),
        matches!(outcome, Outcome::Activated),
        matches!(outcome, Outcome::ReferenceErased),
    );
    let (errors, alert, typed, sent_to) = match outcome {
        Outcome::Failed(r) => (r.errors, r.alert, r.typed, None),
        Outcome::Sent(to) => (FormErrors::none(), None, Typed::default(), Some(to)),
        _ => (FormErrors::none(), None, Typed::default(), None),
    };
    let title = format!("Carnet {}", pass.pass_code);
    let title = if alert.is_some() {
        format!("Erreur — {title}")
    } else {
        errors.page_title(&title)
    };
    let send_errors = FormErrors::none();
    let (activate_errors, send_errors) = if errors.has("email") {
        (send_errors, errors)
    } else {
        (errors, send_errors)
    };
    page(Carnet {
        l: Layout::new(state, visitor, title),
        expires: long_date_text(&pass.expires_on),
        program_name: programme,
        cheques,
        total,
        public_url: state.config.public_url.clone(),
        cancelled_now,
        activated_now,
        reference_erased_now,
        live_reference: pass
            .beneficiary_ref
            .clone()
            .filter(|r| !vouchers::rights::is_erased_reference(r)),
        sent_to,
        error: alert,
        activate_errors,
        send_errors,
        beneficiary_ref: typed
            .beneficiary_ref
            .or_else(|| pass.beneficiary_ref.clone())
            .unwrap_or_default(),
        activation_email: typed.activation_email.unwrap_or_default(),
        email: typed
            .email
            .or_else(|| pass.email.clone())
            .unwrap_or_default(),
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
            let typed = Typed {
                beneficiary_ref: form.data.beneficiary_ref.clone(),
                activation_email: form.data.email.clone(),
                email: None,
            };
            said_on_page(&state, &form.visitor, &id, e, "activation_email", typed).await
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
