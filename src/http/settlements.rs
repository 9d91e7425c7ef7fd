//! Operator: settlement batches and their payment file. Sites and funders read their part.

use super::extract::{Auth, Empty, Write};
use super::{run_write, AppState};
use crate::error::{Error, Result};
use crate::settlement::{self, BatchView, NewBatch, Rejection};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::SignedDuration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settlements", post(create))
        .route("/settlements/{id}", get(show))
        .route("/settlements/{id}/approve", post(approve))
        .route("/settlements/{id}/paid", post(paid))
        .route("/settlements/{id}/sepa.xml", get(sepa))
        .route("/settlements/{id}/lines/{line_id}/reject", post(reject))
        .route("/settlements/{id}/statements/{file}", get(statement))
        .route(
            "/settlements/{id}/statements/programs/{file}",
            get(program_statement),
        )
}

async fn create(
    State(state): State<AppState>,
    Auth(org): Auth,
    Write { body, replay }: Write<NewBatch>,
) -> Result<Response> {
    let now = state.clock.now();
    let window = SignedDuration::from_hours(state.config.undo_window_hours);
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::CREATED, |conn| {
        Box::pin(async move { settlement::create(conn, &org, body, now, window).await })
    })
    .await
}

async fn show(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Json<BatchView>> {
    let mut conn = state.db.read.acquire().await?;
    Ok(Json(settlement::get(&mut conn, &org, &id).await?))
}

async fn approve(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, .. }: Write<Empty>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, |conn| {
        Box::pin(async move { settlement::approve(conn, &org, &id, now).await })
    })
    .await
}

async fn paid(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
    Write { replay, .. }: Write<Empty>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, |conn| {
        Box::pin(async move { settlement::mark_paid(conn, &org, &id, now).await })
    })
    .await
}

async fn reject(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, line_id)): Path<(String, String)>,
    Write { body, replay }: Write<Rejection>,
) -> Result<Response> {
    let now = state.clock.now();
    let org_id = org.id.clone();
    run_write(&state, &org_id, &replay, StatusCode::OK, |conn| {
        Box::pin(async move { settlement::reject_line(conn, &org, &id, &line_id, body, now).await })
    })
    .await
}

/// Producing the file marks the batch exported, so it runs as a write.
async fn sepa(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path(id): Path<String>,
) -> Result<Response> {
    let mut tx = state.db.begin().await?;
    let xml = settlement::export_sepa(&mut tx, &org, &id, state.clock.now(), &state.config).await?;
    tx.commit().await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"passnum-{id}.xml\""),
            ),
        ],
        xml,
    )
        .into_response())
}

/// `{site_id}.csv|pdf` for a site's statement, `programs/{program_id}.csv|pdf` for a funder's.
async fn statement(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    statement_file(&state, &org, &id, &file, false).await
}

async fn program_statement(
    State(state): State<AppState>,
    Auth(org): Auth,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response> {
    statement_file(&state, &org, &id, &file, true).await
}

async fn statement_file(
    state: &AppState,
    org: &crate::orgs::Organization,
    id: &str,
    file: &str,
    program: bool,
) -> Result<Response> {
    let (subject, format) = file
        .rsplit_once('.')
        .filter(|(_, ext)| matches!(*ext, "csv" | "pdf"))
        .ok_or_else(|| {
            Error::not_found(
                "Les relevés existent au format .csv ou .pdf (exemple : …/<lieu>.pdf).",
            )
        })?;
    let mut conn = state.db.read.acquire().await?;
    let statement = if program {
        settlement::program_statement(&mut conn, org, id, subject).await?
    } else {
        settlement::site_statement(&mut conn, org, id, subject).await?
    };
    let (content_type, body) = match format {
        "csv" => ("text/csv; charset=utf-8", statement.csv()?.into_bytes()),
        _ => ("application/pdf", statement.pdf()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"releve-{id}-{subject}.{format}\""),
            ),
        ],
        body,
    )
        .into_response())
}
