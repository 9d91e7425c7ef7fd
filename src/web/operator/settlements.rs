//! Settlement batches, from preparation to payment: prepare, approve, export the SEPA file,
//! confirm the payment, mark a transfer the bank rejected.

use super::{require_operator, shown, when};
use crate::app::AppState;
use crate::db::{BoxFuture, Tx};
use crate::error::Error;
use crate::fr::{euros_text, long_date_text};
use crate::orgs::{self, Organization};
use crate::settlement::{self, BatchRow, BatchStatus, BatchView, LineStatus, NewBatch, Rejection};
use crate::web::confirm::{self, Confirmation};
use crate::web::session::Form;
use crate::web::{page, see_other, with_status, Layout, Visitor, WebError, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use jiff::SignedDuration;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
pub(super) struct Nothing {}

fn line_status(status: LineStatus) -> &'static str {
    match status {
        LineStatus::Pending => "À payer",
        LineStatus::Paid => "Payé",
        LineStatus::Rejected => "Rejeté par la banque",
    }
}

pub struct BatchListRow {
    pub id: String,
    pub until: String,
    pub status: &'static str,
    pub total: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "operator/settlements.html")]
struct Batches {
    l: Layout,
    section: &'static str,
    rows: Vec<BatchListRow>,
    error: Option<String>,
    until: String,
    undo_hours: i64,
}

pub(super) async fn batches(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    let until = state.clock.today().to_string();
    render_batches(&state, &visitor, None, until).await
}

async fn render_batches(
    state: &AppState,
    visitor: &Visitor,
    error: Option<String>,
    until: String,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let rows = settlement::list_batches(&mut conn)
        .await?
        .into_iter()
        .map(|b| BatchListRow {
            until: long_date_text(&b.until_date),
            status: b.status.next_in_words(),
            total: euros_text(b.total_cents),
            created: when(&b.created_at),
            id: b.id,
        })
        .collect();
    page(Batches {
        l: Layout::new(state, visitor, "Règlements des lieux"),
        section: "reglements",
        rows,
        error,
        until,
        undo_hours: state.config.undo_window_hours,
    })
}

#[derive(Deserialize)]
pub(super) struct PrepareForm {
    #[serde(default)]
    until: String,
}

pub(super) async fn prepare(State(state): State<AppState>, form: Form<PrepareForm>) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let new = NewBatch {
        until: form.data.until.clone(),
    };
    let (org, now) = (operator.org.clone(), state.clock.now());
    let prepared = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { settlement::create(tx, &org, new, now, window).await })
        })
        .await;
    match prepared {
        Ok(view) => see_other(&format!("/operateur/reglements/{}", view.batch.id)),
        Err(e) if shown(&e) => {
            let message = format!("Le lot n'a pas été préparé : {}", e.public_message());
            with_status(
                e.status(),
                render_batches(&state, &form.visitor, Some(message), form.data.until).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

pub struct LineView {
    pub id: String,
    pub site_id: String,
    pub site: String,
    pub program: String,
    pub redemptions: i64,
    pub settled: String,
    pub fee: String,
    pub carried: String,
    pub amount: String,
    pub reference: String,
    pub status: &'static str,
    pub reason: Option<String>,
    pub rejectable: bool,
    /// Rejected, and held: neither released nor paid by a later batch.
    pub held: bool,
}

#[derive(Template)]
#[template(path = "operator/settlement.html")]
struct BatchPage {
    l: Layout,
    section: &'static str,
    batch: BatchRow,
    until: String,
    status: &'static str,
    total: String,
    steps: Vec<(&'static str, String)>,
    lines: Vec<LineView>,
    can_reject: bool,
    can_release: bool,
    reasons: &'static [(&'static str, &'static str)],
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct BatchQuery {
    /// The step just done: `approuve`, `exporte`, `paye`, `rejet`.
    fait: Option<String>,
}

pub(super) async fn batch(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<BatchQuery>,
) -> WebResult {
    let notice = match q.fait.as_deref() {
        Some("approuve") => {
            Some("Le lot est approuvé. Produisez maintenant le fichier de virement pour la banque.")
        }
        Some("exporte") => Some(
            "Le fichier de virement est prêt : téléchargez-le et remettez-le à la banque, puis \
             confirmez le paiement ici.",
        ),
        Some("paye") => Some("Le lot est payé. Chaque lieu reçoit son relevé par e-mail."),
        Some("rejet") => Some(
            "Le virement est marqué rejeté. Son montant attend : il sera repris dans le prochain \
             lot quand le lieu aura donné de nouvelles coordonnées bancaires, ou si vous le \
             renvoyez au même compte.",
        ),
        Some("renvoi") => {
            Some("Le montant rejeté sera repris dans le prochain lot, vers le même compte.")
        }
        _ => None,
    };
    render_batch(&state, &visitor, &id, notice.map(str::to_string), None).await
}

async fn render_batch(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    notice: Option<String>,
    error: Option<String>,
) -> WebResult {
    let operator = require_operator(visitor)?;
    let mut conn = state.db.read().await?;
    let view = settlement::get(&mut conn, &operator.org, id).await?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::with_capacity(view.lines.len());
    for line in &view.lines {
        if !names.contains_key(&line.site_id) {
            let name = orgs::find(&mut conn, &line.site_id)
                .await?
                .map(|o| o.name)
                .unwrap_or_else(|| line.site_id.clone());
            names.insert(line.site_id.clone(), name);
        }
        if !names.contains_key(&line.program_id) {
            let name = crate::programs::find(&mut conn, &line.program_id)
                .await?
                .map(|p| p.name)
                .unwrap_or_else(|| line.program_id.clone());
            names.insert(line.program_id.clone(), name);
        }
        lines.push(LineView {
            id: line.id.clone(),
            site_id: line.site_id.clone(),
            site: names[&line.site_id].clone(),
            program: names[&line.program_id].clone(),
            redemptions: line.redemptions,
            settled: euros_text(line.settled_cents),
            fee: euros_text(line.fee_cents),
            carried: euros_text(line.carried_cents),
            amount: euros_text(line.amount_cents),
            reference: line.end_to_end_id.clone(),
            status: line_status(line.status),
            reason: line.rejection_reason.clone(),
            rejectable: line.status != LineStatus::Rejected,
            held: line.status == LineStatus::Rejected
                && line.released_at.is_none()
                && line.carried_into.is_none(),
        });
    }
    let b = &view.batch;
    let steps = [
        ("Préparé", Some(&b.created_at)),
        ("Approuvé", b.approved_at.as_ref()),
        ("Fichier de virement produit", b.exported_at.as_ref()),
        ("Payé", b.paid_at.as_ref()),
    ]
    .into_iter()
    .filter_map(|(label, at)| at.map(|at| (label, when(at))))
    .collect();
    let can_reject = b.status.at_the_bank() && lines.iter().any(|l| l.rejectable);
    let can_release = lines.iter().any(|l| l.held);
    page(BatchPage {
        l: Layout::new(
            state,
            visitor,
            format!(
                "Lot de règlement jusqu'au {}",
                long_date_text(&b.until_date)
            ),
        ),
        section: "",
        until: long_date_text(&b.until_date),
        status: b.status.next_in_words(),
        total: euros_text(b.total_cents),
        steps,
        lines,
        can_reject,
        can_release,
        reasons: &crate::settlement::rejection::REASONS,
        notice,
        error,
        batch: view.batch,
    })
}

/// Runs one step of a batch as the operator; shows the batch again, with what was done or why
/// it was refused.
async fn step<F>(
    state: &AppState,
    form: &Form<impl Sized>,
    id: &str,
    done: &str,
    work: F,
) -> WebResult
where
    F: for<'t, 'c> FnOnce(&'t mut Tx<'c>, Organization) -> BoxFuture<'t, Result<BatchView, Error>>
        + Send
        + 'static,
{
    let operator = require_operator(&form.visitor)?;
    let org = operator.org.clone();
    let key = form.key(&org.id);
    match state
        .write(form.visitor.origin(), key, move |tx| work(tx, org))
        .await
    {
        Ok(_) => see_other(&format!("/operateur/reglements/{id}?fait={done}")),
        Err(e) if shown(&e) => with_status(
            e.status(),
            render_batch(state, &form.visitor, id, None, Some(e.public_message())).await,
        ),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    if !form.confirmed() {
        if let Some(question) = question(&state, &form.visitor, &id, Ask::Approve).await? {
            return confirm::ask(&state, &form, question);
        }
    }
    let now = state.clock.now();
    let batch_id = id.clone();
    step(&state, &form, &id, "approuve", move |tx, org| {
        Box::pin(async move { settlement::approve(tx, &org, &batch_id, now).await })
    })
    .await
}

/// The transfers go to the bank: the batch is marked exported, and its file can be downloaded.
pub(super) async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    if !form.confirmed() {
        if let Some(question) = question(&state, &form.visitor, &id, Ask::Export).await? {
            return confirm::ask(&state, &form, question);
        }
    }
    let now = state.clock.now();
    let batch_id = id.clone();
    let config = state.config.clone();
    step(&state, &form, &id, "exporte", move |tx, org| {
        Box::pin(async move { settlement::export(tx, &org, &batch_id, &config, now).await })
    })
    .await
}

/// The SEPA file of an exported batch, as a download (reading it changes nothing).
pub(super) async fn sepa_file(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let mut conn = state.db.read().await?;
    let xml = settlement::sepa_file(&mut conn, &operator.org, &id, &state.config).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"passnum-virements-{id}.xml\""),
            ),
        ],
        xml,
    )
        .into_response())
}

pub(super) async fn paid(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    if !form.confirmed() {
        if let Some(question) = question(&state, &form.visitor, &id, Ask::Pay).await? {
            return confirm::ask(&state, &form, question);
        }
    }
    let now = state.clock.now();
    let batch_id = id.clone();
    step(&state, &form, &id, "paye", move |tx, org| {
        Box::pin(async move { settlement::mark_paid(tx, &org, &batch_id, now).await })
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct RejectForm {
    #[serde(default)]
    line_id: String,
    #[serde(default)]
    reason_code: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub(super) struct ReleaseForm {
    #[serde(default)]
    line_id: String,
}

/// A held rejected amount goes to the same account with the next batch.
pub(super) async fn release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<ReleaseForm>,
) -> WebResult {
    if !form.confirmed() {
        if let Some(question) =
            question(&state, &form.visitor, &id, Ask::Release(&form.data.line_id)).await?
        {
            return confirm::ask(&state, &form, question);
        }
    }
    let now = state.clock.now();
    let batch_id = id.clone();
    let line_id = form.data.line_id.clone();
    step(&state, &form, &id, "renvoi", move |tx, org| {
        Box::pin(async move { settlement::release_line(tx, &org, &batch_id, &line_id, now).await })
    })
    .await
}

pub(super) async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<RejectForm>,
) -> WebResult {
    if !form.confirmed() {
        if let Some(question) =
            question(&state, &form.visitor, &id, Ask::Reject(&form.data.line_id)).await?
        {
            return confirm::ask(&state, &form, question);
        }
    }
    let now = state.clock.now();
    let batch_id = id.clone();
    let (line_id, reason) = (form.data.line_id.clone(), form.data.reason.clone());
    let reason_code = form.data.reason_code.clone();
    step(&state, &form, &id, "rejet", move |tx, org| {
        Box::pin(async move {
            let rejection = Rejection {
                reason_code: Some(reason_code),
                reason: Some(reason),
            };
            settlement::reject_line(tx, &org, &batch_id, &line_id, rejection, now).await
        })
    })
    .await
}

/// Which step of a batch asks to be confirmed.
enum Ask<'a> {
    Approve,
    /// The transfers go to the bank.
    Export,
    Pay,
    /// The line the bank rejected.
    Reject(&'a str),
    /// The held line sent again.
    Release(&'a str),
}

/// What a batch's step asks to confirm, from the batch as it is now. None for a line that is
/// not the batch's: the step itself refuses it, with the batch's page.
async fn question(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    which: Ask<'_>,
) -> Result<Option<Confirmation>, WebError> {
    let operator = require_operator(visitor)?;
    let mut conn = state.db.read().await?;
    let view = settlement::get(&mut conn, &operator.org, id).await?;
    let b = &view.batch;
    let (until, total) = (long_date_text(&b.until_date), euros_text(b.total_cents));
    // Only an approved batch can go to the bank: any other is refused by the step itself.
    if matches!(which, Ask::Export) && b.status != BatchStatus::Approved {
        return Ok(None);
    }
    let line = match which {
        Ask::Reject(line_id) | Ask::Release(line_id) => view.lines.iter().find(|l| l.id == line_id),
        Ask::Approve | Ask::Export | Ask::Pay => None,
    };
    let line_words = match line {
        Some(line) => {
            let site = orgs::find(&mut conn, &line.site_id)
                .await?
                .map(|o| o.name)
                .unwrap_or_else(|| line.site_id.clone());
            Some((
                site,
                euros_text(line.amount_cents),
                line.end_to_end_id.clone(),
            ))
        }
        None => None,
    };
    drop(conn);
    let sites = {
        let mut ids: Vec<&str> = view.lines.iter().map(|l| l.site_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    let confirmation = match (which, line_words) {
        (Ask::Approve, _) => Confirmation::new(
            format!("Approuver le lot de règlement jusqu'au {until} ({total}) ?"),
            "Oui, approuver le lot",
        )
        .then(format!(
            "Ses {} lignes, pour {sites} lieu{}, sont arrêtées telles qu'elles sont : le lot ne \
             pourra plus être modifié ni revenir en préparation.",
            view.lines.len(),
            if sites > 1 { "x" } else { "" }
        ))
        .then("Vous pourrez ensuite produire le fichier de virement."),
        (Ask::Export, _) => Confirmation::new(
            format!("Produire le fichier de virement du lot jusqu'au {until} ({total}) ?"),
            "Oui, produire le fichier",
        )
        .then(format!(
            "Le lot passe à « envoyé à la banque » : ses {} virement{} ne pourront plus être \
             modifiés ni le lot revenir en arrière.",
            view.lines.len(),
            if view.lines.len() > 1 { "s" } else { "" }
        ))
        .then(
            "Téléchargez ensuite le fichier et déposez-le sur le site de la banque ; vous \
             pourrez le télécharger de nouveau.",
        ),
        (Ask::Pay, _) => Confirmation::new(
            format!("Marquer payé le lot de règlement jusqu'au {until} ({total}) ?"),
            "Oui, le lot est payé",
        )
        .then(
            "Faites-le seulement quand la banque a exécuté les virements. Chaque lieu reçoit \
             alors son relevé par e-mail, et le lot ne pourra plus revenir en arrière.",
        ),
        (Ask::Reject(_), Some((site, amount, reference))) => Confirmation::new(
            format!("Marquer rejeté le virement de {amount} à {site} ?"),
            "Oui, ce virement est rejeté",
        )
        .then(format!("Référence du virement : {reference}."))
        .then(
            "Le montant revient à payer : il attend que le lieu donne de nouvelles coordonnées \
             bancaires, ou que vous le renvoyiez au même compte.",
        )
        .then("Ce rejet ne pourra pas être défait."),
        (Ask::Release(_), Some((site, amount, reference))) => Confirmation::new(
            format!("Renvoyer le virement de {amount} à {site} au même compte ?"),
            "Oui, le renvoyer au même compte",
        )
        .then(format!("Référence du virement : {reference}."))
        .then(
            "Le montant part avec le prochain lot, vers le compte qui l'a rejeté. Faites-le \
             seulement si ce compte peut maintenant le recevoir.",
        ),
        (Ask::Reject(_) | Ask::Release(_), None) => return Ok(None),
    };
    Ok(Some(confirmation))
}
