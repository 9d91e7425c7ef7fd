//! Places in the national standard: how many, and an import of pasted CSV.

use super::require_operator;
use crate::app::AppState;
use crate::web::session::Form;
use crate::web::{page, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::State;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "operator/places.html")]
struct PlacesPage {
    l: Layout,
    section: &'static str,
    total: i64,
    report: Option<crate::sites::places::ImportReport>,
}

async fn render_places(
    state: &AppState,
    visitor: &Visitor,
    report: Option<crate::sites::places::ImportReport>,
) -> WebResult {
    let mut conn = state.db.read().await?;
    page(PlacesPage {
        l: Layout::new(state, visitor, "Lieux de médiation"),
        section: "lieux",
        total: crate::sites::places::count(&mut conn).await?,
        report,
    })
}

pub(super) async fn places_page(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    render_places(&state, &visitor, None).await
}

#[derive(Deserialize)]
pub(super) struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// Imports pasted CSV in the national standard: valid rows in, rejected rows listed.
pub(super) async fn import_places(
    State(state): State<AppState>,
    form: Form<ImportForm, 2048>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let (operator_id, now) = (operator.org.id.clone(), state.clock.now());
    // Sent twice, the file is imported once and the first report is shown again.
    let report = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                crate::sites::places::import_file(tx, data.csv.as_bytes(), Some(&operator_id), now)
                    .await
            })
        })
        .await?;
    // Partly valid files are a normal outcome: the page says what went in and what did not.
    render_places(&state, &visitor, Some(report)).await
}
