//! Issuing many carnets from a file: the upload form, every mistake of the file listed at once,
//! the progress of a large file (refreshed by the browser, no JavaScript), the summary with one
//! PDF of all its carnets.

use super::super::session::{FileForm, SignedIn};
use super::super::{page, see_other, with_status, Layout, Visitor, WebError, WebResult};
use super::{quotas, QuotaLine};
use crate::app::AppState;
use crate::orgs::OrgKind;
use crate::vouchers::files::{self, FileStatus, FileView, Upload};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/distributeur/carnets/fichier", get(form).post(upload))
        .route("/distributeur/carnets/fichier/{id}", get(progress))
        .route("/distributeur/carnets/fichier/{id}/pdf", get(pdf))
}

/// The largest file accepted, in kibibytes (5,000 lines of a hundred characters).
const FILE_KIB: usize = 640;

#[derive(Template)]
#[template(path = "distributor/file.html")]
struct FilePage {
    l: Layout,
    quotas: Vec<QuotaLine>,
    files: Vec<FileView>,
    errors: Vec<String>,
    program_id: String,
    sync_lines: usize,
    max_lines: usize,
    /// The distributor's, where its people read the days shown.
    zone: jiff::tz::TimeZone,
}

impl FilePage {
    fn day(&self, at: &str) -> String {
        crate::fr::long_date_in(at, &self.zone)
    }
}

async fn form(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    render_form(&state, &visitor, Vec::new(), String::new()).await
}

async fn render_form(
    state: &AppState,
    visitor: &Visitor,
    errors: Vec<String>,
    program_id: String,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Distributor)?;
    let quotas = quotas(state, &signed.org.id).await?;
    let mut conn = state.db.read().await?;
    let files = files::list(&mut conn, &signed.org).await?;
    page(FilePage {
        l: Layout::new(state, visitor, "Émettre des carnets à partir d'un fichier"),
        quotas,
        files,
        errors,
        program_id,
        sync_lines: files::SYNC_LINES,
        max_lines: files::MAX_LINES,
        zone: signed.org.zone(),
    })
}

/// Checks and stores the file (sent twice, the form gets the first answer: one job); a small
/// file is issued before answering, a large one in the background.
async fn upload(State(state): State<AppState>, form: FileForm<FILE_KIB>) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Distributor)?;
    let program_id = form.field("program_id");
    let Some((_, filename, bytes)) = form.file.clone() else {
        let errors = vec!["Choisissez le fichier des carnets à émettre.".to_string()];
        return refused(&state, &form.visitor, errors, program_id).await;
    };
    let (now, today) = (state.clock.now(), state.clock.today());
    let org = signed.org.clone();
    let created_by = form.visitor.origin().user_id;
    let program = program_id.clone();
    let uploaded = state
        .write(form.visitor.origin(), form.own_key(), move |tx| {
            Box::pin(async move {
                let by = created_by.as_deref();
                files::start(tx, &org, by, &program, &filename, &bytes, now, today).await
            })
        })
        .await;
    let errors = match uploaded {
        Ok(Upload::Started { id, lines }) => {
            let runner = state.file_runner();
            if lines <= files::SYNC_LINES {
                runner.run(&id).await?;
            } else {
                let id = id.clone();
                tokio::spawn(async move {
                    if let Err(e) = runner.run(&id).await {
                        tracing::error!(file = %id, error = %e, "a file of carnets failed");
                    }
                });
            }
            return see_other(&format!("/distributeur/carnets/fichier/{id}"));
        }
        Ok(Upload::Refused(errors)) => errors,
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 429 => {
            vec![e.public_message()]
        }
        Err(e) => return Err(e.into()),
    };
    refused(&state, &form.visitor, errors, program_id).await
}

/// The form again, with why nothing was issued.
async fn refused(
    state: &AppState,
    visitor: &Visitor,
    errors: Vec<String>,
    program_id: String,
) -> WebResult {
    with_status(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        render_form(state, visitor, errors, program_id).await,
    )
}

#[derive(Template)]
#[template(path = "distributor/file_progress.html")]
struct ProgressPage {
    l: Layout,
    file: FileView,
    created: String,
    /// Whether the page reloads itself every few seconds while the file runs: only when the
    /// person asked for it, since a page that changes on its own is a barrier for some (WCAG
    /// 2.2.1; axe-core refuses any timed reload).
    refresh: bool,
}

#[derive(Deserialize)]
struct ProgressQuery {
    /// `oui`: the page reloads itself until the file is done (asked by the person).
    actualiser: Option<String>,
}

async fn progress(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<ProgressQuery>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Distributor)?;
    let mut conn = state.db.read().await?;
    let file = files::get(&mut conn, &signed.org, &id).await?;
    let title = match file.status {
        FileStatus::Running => "Émission des carnets en cours",
        FileStatus::Done => "Carnets émis",
        FileStatus::Failed => "Émission des carnets interrompue",
    };
    page(ProgressPage {
        l: Layout::new(&state, &visitor, title),
        created: crate::fr::long_date_in(&file.created_at, &signed.org.zone()),
        refresh: file.status == FileStatus::Running && q.actualiser.as_deref() == Some("oui"),
        file,
    })
}

async fn pdf(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<axum::response::Response, WebError> {
    let signed = SignedIn::require(&visitor, OrgKind::Distributor)?;
    let mut conn = state.db.read().await?;
    let today = state.clock.today();
    let letterhead = state.letterhead();
    let pdf = files::pdf(
        &mut conn,
        &state.keyring,
        &signed.org,
        &id,
        &letterhead,
        today,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"carnets-{id}.pdf\""),
            ),
        ],
        pdf,
    )
        .into_response())
}
