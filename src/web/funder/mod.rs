//! The funder: create a programme, record the money received, give distributors quotas,
//! follow how the cheques are used (figures, breakdowns, a monthly chart, every table as CSV),
//! plan the programme's end (or cancel it) and download its credit note.
//!
//! One file per page or feature: `home` (the programmes, the form to create one), `program`
//! (a programme's page and its forms), `tables` (the figures shown there and exported), `chart`
//! (the monthly chart's geometry) and `exports` (CSV and PDF downloads); `outcomes` (what the
//! money did, over a period: `outcome_tables` its tables, `bars` its charts).

mod bars;
mod chart;
mod coverage;
mod exports;
mod home;
mod outcome_tables;
mod outcomes;
mod program;
mod tables;

use crate::app::AppState;
use crate::error::Error;
use axum::routing::{get, post};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/financeur", get(home::home))
        .route("/financeur/programmes", post(home::create))
        .route("/financeur/couverture", get(coverage::show))
        .route("/financeur/programmes/{id}", get(program::dashboard))
        .route("/financeur/programmes/{id}/versements", post(program::fund))
        .route("/financeur/programmes/{id}/quotas", post(program::allocate))
        .route("/financeur/programmes/{id}/cloture", post(program::close))
        .route(
            "/financeur/programmes/{id}/cloture/annuler",
            post(program::cancel_close),
        )
        .route(
            "/financeur/programmes/{id}/export/{file}",
            get(exports::export),
        )
        .route("/financeur/programmes/{id}/resultats", get(outcomes::show))
        .route(
            "/financeur/programmes/{id}/resultats/{file}",
            get(outcomes::export),
        )
        .route(
            "/financeur/programmes/{id}/avoir.csv",
            get(exports::credit_note_csv),
        )
        .route(
            "/financeur/programmes/{id}/avoir.pdf",
            get(exports::credit_note_pdf),
        )
}

/// A refusal shown next to the form, with the field to mark invalid.
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Refusals the person can act on are shown on the page; anything else is an error page.
fn shown_on_page(e: &Error) -> bool {
    e.status().is_client_error()
}

/// "1 chèque", "3 chèques": in French the plural starts at two, zero stays singular.
fn plural(n: i64, word: &str) -> String {
    if n > 1 {
        format!("{n} {word}s")
    } else {
        format!("{n} {word}")
    }
}

/// "1 chèque utilisé", "4 chèques utilisés", "15 chèques émis".
fn cheque_count(n: i64, participle: &str) -> String {
    match (n > 1, participle.ends_with('s')) {
        (true, false) => format!("{n} chèques {participle}s"),
        (true, true) => format!("{n} chèques {participle}"),
        (false, _) => format!("{n} chèque {participle}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_counts() {
        assert_eq!(plural(1, "chèque"), "1 chèque");
        assert_eq!(plural(3, "chèque"), "3 chèques");
        assert_eq!(cheque_count(1, "utilisé"), "1 chèque utilisé");
        assert_eq!(cheque_count(4, "utilisé"), "4 chèques utilisés");
        assert_eq!(cheque_count(15, "émis"), "15 chèques émis");
        assert_eq!(cheque_count(0, "émis"), "0 chèque émis");
    }
}
