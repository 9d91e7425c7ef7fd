//! The distributor agent: issue a carnet in one form, print it (page or PDF), e-mail it, see
//! the quota and the passes, cancel and re-issue a lost carnet.

use super::session::{Form, SignedIn};
use super::{page, Layout, Visitor, WebError, WebResult};
use crate::error::Error;
use crate::fr::long_date_text;
use crate::http::AppState;
use crate::orgs::OrgKind;
use crate::programs::Program;
use crate::vouchers::{self, NewPass, PassView};
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
}

async fn quotas(state: &AppState, distributor_id: &str) -> Result<Vec<QuotaLine>, WebError> {
    let mut conn = state.db.read.acquire().await?;
    let mut out = Vec::new();
    for (program_id, f) in crate::ledger::figures_of_org(&mut conn, distributor_id, true).await? {
        let Some(program) = crate::programs::find(&mut conn, &program_id).await? else {
            continue;
        };
        let value = program.cheque_value_cents.max(1);
        out.push(QuotaLine {
            allocated: f.allocated_cents / value,
            remaining: f.unissued_quota_cents / value,
            used: (f.allocated_cents - f.unissued_quota_cents) / value,
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
    let mut conn = state.db.read.acquire().await?;
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

async fn issue(
    State(state): State<AppState>,
    Form { visitor, data }: Form<IssueForm>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Distributor)?;
    let cheques = match data.cheques.as_deref() {
        Some("5") => 5,
        Some("10") => 10,
        _ => 0,
    };
    let new = NewPass {
        program_id: data.program_id,
        cheques,
        beneficiary_ref: data.beneficiary_ref.clone(),
        email: data.email,
        active: Some(data.stock.is_none()),
    };
    let mut tx = state.db.begin().await?;
    let result = vouchers::issue(
        &mut tx,
        &state.keyring,
        &signed.org,
        new,
        state.clock.now(),
        state.clock.today(),
    )
    .await;
    match result {
        Ok(pass) => {
            tx.commit().await?;
            Err(WebError::Redirect(format!(
                "/distributeur/carnets/{}",
                pass.id
            )))
        }
        Err(e @ (Error::Unprocessable { .. } | Error::Gone { .. })) => {
            drop(tx);
            render_home(
                &state,
                &visitor,
                &signed.org,
                Some(e.public_message()),
                data.beneficiary_ref.unwrap_or_default(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub struct ChequeView {
    pub position: usize,
    pub code: String,
    pub value: String,
    pub status: String,
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

pub fn euros(cents: i64) -> String {
    format!("{} €", crate::fr::euros(cents))
}

async fn carnet(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    render_carnet(&state, &visitor, &id, Outcome::None).await
}

enum Outcome {
    None,
    Cancelled,
    Sent(String),
    Failed(String),
}

/// The carnet and the name of its programme.
async fn load(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
) -> Result<(PassView, String), WebError> {
    let signed = SignedIn::require(visitor, OrgKind::Distributor)?;
    let mut conn = state.db.read.acquire().await?;
    let pass = vouchers::get(
        &mut conn,
        &state.keyring,
        &signed.org,
        id,
        state.clock.today(),
    )
    .await?;
    let program_name = crate::programs::find(&mut conn, &pass.program_id)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok((pass, program_name))
}

fn distributor_name(visitor: &Visitor) -> String {
    visitor
        .signed
        .as_ref()
        .map(|s| s.org.name.clone())
        .unwrap_or_default()
}

async fn carnet_pdf(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let (pass, program_name) = load(&state, &visitor, &id).await?;
    let pdf = vouchers::print::carnet_pdf(
        &pass,
        &program_name,
        &distributor_name(&visitor),
        &state.config,
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"carnet-{}.pdf\"", pass.pass_code),
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
    Form { visitor, data }: Form<SendForm>,
) -> WebResult {
    let (pass, program_name) = load(&state, &visitor, &id).await?;
    let distributor = distributor_name(&visitor);
    let pdf = vouchers::print::carnet_pdf(&pass, &program_name, &distributor, &state.config);
    let mail = crate::mail::Outgoing {
        to: data.email.trim().to_string(),
        subject: "Votre carnet Pass numérique".into(),
        text_body: format!(
            "Bonjour,\n\nVoici votre carnet Pass numérique ({program_name}), remis par {distributor}.\n\n\
             Imprimez-le, ou montrez les codes des chèques dans un lieu de médiation numérique.\n\
             Code du carnet : {code}\n\
             Ce qu'il vous reste : {url}/solde?code={code}\n\
             Trouver un lieu : {url}/lieux\n\n\
             Besoin d'aide ? Appelez le {phone}.\n",
            code = pass.pass_code,
            url = state.config.public_url,
            phone = state.config.helpline_phone,
        ),
        html_body: None,
        attachments: vec![crate::mail::Attachment {
            filename: format!("carnet-{}.pdf", pass.pass_code),
            content_type: "application/pdf".into(),
            bytes: pdf,
        }],
    };
    let mut tx = state.db.begin().await?;
    match crate::mail::enqueue(&mut tx, &mail, state.clock.now()).await {
        Ok(_) => {
            tx.commit().await?;
            render_carnet(&state, &visitor, &id, Outcome::Sent(mail.to)).await
        }
        Err(e @ Error::Unprocessable { .. }) => {
            drop(tx);
            render_carnet(&state, &visitor, &id, Outcome::Failed(e.public_message())).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn render_carnet(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    outcome: Outcome,
) -> WebResult {
    let (pass, program_name) = load(state, visitor, id).await?;
    let total = pass.vouchers.len();
    let cheques = pass
        .vouchers
        .iter()
        .enumerate()
        .map(|(i, v)| ChequeView {
            position: i + 1,
            code: v.code.clone(),
            value: euros(v.value_cents),
            status: v.status.clone(),
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
        program_name,
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
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Distributor)?;
    let mut tx = state.db.begin().await?;
    vouchers::cancel(
        &mut tx,
        &state.keyring,
        &signed.org,
        &id,
        state.clock.now(),
        state.clock.today(),
    )
    .await?;
    tx.commit().await?;
    render_carnet(&state, &visitor, &id, Outcome::Cancelled).await
}
