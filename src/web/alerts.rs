//! Alerts against gaming (see [`crate::alerts`]), for the operator (all of them) and a funder
//! (those of its programmes): each with its facts, and a form to mark it reviewed.

use crate::alerts::{self, Alert};
use crate::app::AppState;
use crate::orgs::{OrgKind, Organization};
use crate::users::Signed;
use crate::web::session::{Form, SignedIn};
use crate::web::{page, see_other, Layout, Visitor, WebError, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operateur/alertes", get(list))
        .route("/operateur/alertes/{id}/examinee", post(review))
        .route("/financeur/alertes", get(list))
        .route("/financeur/alertes/{id}/examinee", post(review))
}

pub struct Row {
    pub id: String,
    pub title: &'static str,
    pub summary: String,
    pub program: String,
    pub detected: String,
    pub evidence: Vec<String>,
    /// "Examinée le 3 mars 2026 à 10:12 par …", when it was.
    pub reviewed: Option<String>,
    pub note: Option<String>,
}

/// An alert as its reader sees it, times in the reader's organisation's zone.
fn row(alert: Alert, zone: &jiff::tz::TimeZone) -> Row {
    let reviewed = alert.reviewed_at.as_deref().map(|at| {
        format!(
            "Examinée le {}{}",
            crate::fr::moment_text_in(at, zone),
            alert
                .reviewed_by
                .as_deref()
                .map(|who| format!(" par {who}"))
                .unwrap_or_default()
        )
    });
    Row {
        id: alert.id,
        title: alert.kind.label(),
        summary: alert.summary,
        program: alert.program_name,
        detected: crate::fr::moment_text_in(&alert.detected_at, zone),
        evidence: alert.evidence,
        reviewed,
        note: alert.review_note,
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    l: Layout,
    /// The operator's sub-navigation shows this section as current.
    section: &'static str,
    operator: bool,
    open: Vec<Row>,
    reviewed: Vec<Row>,
    notice: Option<&'static str>,
}

/// The signed-in operator or funder.
fn require(visitor: &Visitor) -> Result<Arc<Signed>, WebError> {
    match visitor.signed.as_ref().map(|s| s.org.kind) {
        Some(OrgKind::Funder) => SignedIn::require(visitor, OrgKind::Funder),
        _ => SignedIn::require(visitor, OrgKind::Operator),
    }
}

fn base(org: &Organization) -> &'static str {
    if org.kind == OrgKind::Operator {
        "/operateur/alertes"
    } else {
        "/financeur/alertes"
    }
}

#[derive(serde::Deserialize)]
struct Done {
    fait: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(done): Query<Done>,
) -> WebResult {
    let signed = require(&visitor)?;
    let mut conn = state.db.read().await?;
    let (open, reviewed) = alerts::list(&mut conn, &signed.org).await?;
    let zone = signed.org.zone();
    page(AlertsPage {
        l: Layout::new(&state, &visitor, "Alertes à examiner"),
        section: "alertes",
        operator: signed.org.kind == OrgKind::Operator,
        open: open.into_iter().map(|a| row(a, &zone)).collect(),
        reviewed: reviewed.into_iter().map(|a| row(a, &zone)).collect(),
        notice: done
            .fait
            .is_some_and(|f| f == "examinee")
            .then_some("L'alerte est marquée comme examinée."),
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct ReviewForm {
    note: String,
}

async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<ReviewForm>,
) -> WebResult {
    let signed = require(&form.visitor)?;
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let (org, now) = (signed.org.clone(), state.clock.now());
    state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                alerts::review(tx, &org, &id, &data.note, now).await?;
                Ok(())
            })
        })
        .await?;
    see_other(&format!("{}?fait=examinee", base(&signed.org)))
}
