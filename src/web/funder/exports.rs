//! Downloads: any table of a programme's page as CSV, and the credit note of a closed
//! programme as CSV or PDF.

use super::tables::tables;
use crate::app::AppState;
use crate::error::Error;
use crate::orgs::OrgKind;
use crate::report::Report;
use crate::web::session::SignedIn;
use crate::web::{Visitor, WebError, WebResult};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

/// A file to save rather than a page to show (`Content-Disposition: attachment`).
fn download(content_type: &str, file_name: String, body: Vec<u8>) -> WebResult {
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `export/{table}.csv`: any table of the dashboard.
pub(super) async fn export(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, file)): Path<(String, String)>,
) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    let t = tables(&state, &signed.org, &id).await?;
    let program_id = t.program.id.clone();
    let not_found = || Error::not_found("Ce tableau n'existe pas.");
    let slug = file.strip_suffix(".csv").ok_or_else(not_found)?;
    let report = t.by_slug(slug).ok_or_else(not_found)?;
    download(
        "text/csv; charset=utf-8",
        format!("{slug}-{program_id}.csv"),
        report.csv()?.into_bytes(),
    )
}

async fn credit_note_report(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
) -> Result<Report, WebError> {
    let signed = SignedIn::require(visitor, OrgKind::Funder)?;
    let mut conn = state.db.read().await?;
    Ok(crate::expiry::credit_note(&mut conn, &signed.org, id).await?)
}

pub(super) async fn credit_note_csv(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let report = credit_note_report(&state, &visitor, &id).await?;
    download(
        "text/csv; charset=utf-8",
        format!("avoir-{id}.csv"),
        report.csv()?.into_bytes(),
    )
}

pub(super) async fn credit_note_pdf(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> WebResult {
    let report = credit_note_report(&state, &visitor, &id).await?;
    download("application/pdf", format!("avoir-{id}.pdf"), report.pdf())
}
