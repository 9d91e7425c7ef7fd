//! The distributor agent: issue a carnet in one form, print it (page or PDF), e-mail it, see
//! the quota and the passes, cancel and re-issue a lost carnet.

use super::confirm::{self, Confirmation};
use super::session::{Form, SignedIn};
use super::{page, see_other, with_status, Layout, Visitor, WebError, WebResult};
use crate::app::AppState;
use crate::fr::{euros_text, long_date, long_date_text};
use crate::money::Cents;
use crate::orgs::OrgKind;
use crate::programs::Program;
use crate::vouchers::{self, ChequeStatus, NewPass, PassStatus, PassView, Printable};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/distributeur", get(home))
        .route("/distributeur/carnets", post(issue))
        .route("/distributeur/carnets/{id}", get(carnet))
        .route("/distributeur/carnets/{id}/annuler", post(cancel))
        .route("/distributeur/carnets/{id}/pdf", get(carnet_pdf))
        .route("/distributeur/carnets/{id}/envoyer", post(send))
}

pub struct QuotaLine {
    pub program: Program,
    pub allocated: i64,
    pub remaining: i64,
    pub used: i64,
    /// When the programme's end is planned, what that means for issuing, in words.
    pub closing: Option<String>,
}

/// "Émission possible jusqu'au 16 mars 2026, fin du programme le 1er avril 2026".
fn closing_words(program: &Program, today: jiff::civil::Date) -> Option<String> {
    let last_day = program.planned_close(today)?;
    let until = program.issuance_until(today)?;
    Some(if program.require_issuable(today).is_ok() {
        format!(
            "Émission possible jusqu'au {}, fin du programme le {}",
            long_date(until),
            long_date(last_day)
        )
    } else {
        format!(
            "Émission terminée : le programme prend fin le {}",
            long_date(last_day)
        )
    })
}

async fn quotas(state: &AppState, distributor_id: &str) -> Result<Vec<QuotaLine>, WebError> {
    let today = state.clock.today();
    let mut conn = state.db.read().await?;
    let mut out = Vec::new();
    for (program_id, f) in crate::ledger::figures_of_org(&mut conn, distributor_id, true).await? {
        let Some(program) = crate::programs::find(&mut conn, &program_id).await? else {
            continue;
        };
        let value = program.cheque_value_cents.max(Cents::new(1));
        out.push(QuotaLine {
            allocated: f.allocated_cents / value,
            remaining: f.unissued_quota_cents / value,
            used: (f.allocated_cents - f.unissued_quota_cents) / value,
            closing: closing_words(&program, today),
            program,
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "distributor/home.html")]
struct Home {
    l: Layout,
    quotas: Vec<QuotaLine>,
    passes: Vec<PassView>,
    error: Option<String>,
    beneficiary_ref: String,
}

#[derive(Deserialize)]
struct HomeQuery {
    reissue: Option<String>,
}

async fn home(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<HomeQuery>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Distributor)?;
    render_home(
        &state,
        &visitor,
        &signed.org,
        None,
        q.reissue.unwrap_or_default(),
    )
    .await
}

async fn render_home(
    state: &AppState,
    visitor: &Visitor,
    org: &crate::orgs::Organization,
    error: Option<String>,
    beneficiary_ref: String,
) -> WebResult {
    let quotas = quotas(state, &org.id).await?;
    let mut conn = state.db.read().await?;
    let passes = vouchers::list(&mut conn, &state.keyring, org, state.clock.today()).await?;
    page(Home {
        l: Layout::new(state, visitor, "Émettre et suivre les carnets"),
        quotas,
        passes,
        error,
        beneficiary_ref,
    })
}

#[derive(Deserialize)]
struct IssueForm {
    program_id: String,
    cheques: Option<String>,
    beneficiary_ref: Option<String>,
    email: Option<String>,
    stock: Option<String>,
}

async fn issue(State(state): State<AppState>, form: Form<IssueForm>) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Distributor)?;
    let data = &form.data;
    let cheques = match data.cheques.as_deref() {
        Some("5") => 5,
        Some("10") => 10,
        _ => 0,
    };
    let new = NewPass {
        program_id: data.program_id.clone(),
        cheques,
        beneficiary_ref: data.beneficiary_ref.clone(),
        email: data.email.clone(),
        active: Some(data.stock.is_none()),
    };
    let (now, today) = (state.clock.now(), state.clock.today());
    let (keyring, org) = (state.keyring.clone(), signed.org.clone());
    let issued = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { vouchers::issue(tx, &keyring, &org, new, now, today).await })
        })
        .await;
    match issued {
        Ok(pass) => see_other(&format!("/distributeur/carnets/{}", pass.id)),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 429 => {
            let error = Some(e.public_message());
            let beneficiary_ref = form.data.beneficiary_ref.clone().unwrap_or_default();
            with_status(
                e.status(),
                render_home(&state, &form.visitor, &signed.org, error, beneficiary_ref).await,
            )
        }
        Err(e) => Err(e.into()),
    }
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
    sent_to: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct CarnetQuery {
    /// What was just done: `annule`, or `envoye` (with `a`, the address).
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
        (Some("envoye"), Some(to)) => Outcome::Sent(to),
        _ => Outcome::None,
    };
    render_carnet(&state, &visitor, &id, outcome).await
}

enum Outcome {
    None,
    Cancelled,
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
        Err(e @ crate::error::Error::Unprocessable { .. }) => with_status(
            e.status(),
            render_carnet(
                &state,
                &form.visitor,
                &id,
                Outcome::Failed(e.public_message()),
            )
            .await,
        ),
        Err(e) => Err(e.into()),
    }
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
