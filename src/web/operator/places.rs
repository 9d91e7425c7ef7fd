//! Places in the national standard: how many, and an import of pasted CSV.

use super::require_operator;
use crate::app::AppState;
use crate::sites::places::ImportReport;
use crate::web::form_errors::FormErrors;
use crate::web::session::Form;
use crate::web::{page, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::State;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "operator/places.html")]
struct PlacesPage {
    l: Layout,
    section: &'static str,
    total: i64,
    report: Option<ImportReport>,
    /// The rows refused, each under the CSV's field.
    errors: FormErrors,
    /// The CSV pasted, kept to be corrected when rows were refused.
    csv: String,
}

/// Most refused rows listed in the summary; the table below lists them all.
const LISTED: usize = 10;

/// The refused rows of an import, each a mistake of the CSV field.
fn refusals(report: &ImportReport) -> FormErrors {
    let mut errors = FormErrors::none();
    for r in report.rejected.iter().take(LISTED) {
        let field = if r.field.is_empty() {
            String::new()
        } else {
            format!(", {}", r.field)
        };
        errors.push("csv", format!("Ligne {}{field} : {}", r.line, r.reason));
    }
    if report.rejected.len() > LISTED {
        errors.push(
            "csv",
            format!(
                "Et {} autres erreurs, dans le tableau ci-dessus.",
                report.rejected.len() - LISTED
            ),
        );
    }
    errors
}

async fn render_places(
    state: &AppState,
    visitor: &Visitor,
    report: Option<ImportReport>,
    csv: String,
) -> WebResult {
    let mut conn = state.db.read().await?;
    let errors = report.as_ref().map(refusals).unwrap_or_default();
    let csv = if errors.is_empty() {
        String::new()
    } else {
        csv
    };
    page(PlacesPage {
        l: Layout::new(state, visitor, errors.page_title("Lieux de médiation")),
        section: "lieux",
        total: crate::sites::places::count(&mut conn).await?,
        report,
        errors,
        csv,
    })
}

pub(super) async fn places_page(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    render_places(&state, &visitor, None, String::new()).await
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
    let csv = data.csv.clone();
    // Sent twice, the file is imported once and the first report is shown again.
    let report = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                crate::sites::places::import_file(tx, data.csv.as_bytes(), Some(&operator_id), now)
                    .await
            })
        })
        .await?;
    // Partly valid files are a normal outcome: the page says what went in and what did not,
    // the file kept to correct its refused rows; a file of which nothing went in is refused.
    let refused = report.created + report.updated == 0 && !report.rejected.is_empty();
    let page = render_places(&state, &visitor, Some(report), csv).await;
    if refused {
        with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY, page)
    } else {
        page
    }
}
