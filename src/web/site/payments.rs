//! The site's payments: every transfer it receives (amount, where it stands, the reference it
//! reads on its bank statement, the date paid), and per transfer the cheques it covers, with
//! the statement to download.

use crate::app::AppState;
use crate::fr::{euros_text, long_date_text};
use crate::orgs::OrgKind;
use crate::settlement::payments::{self, Payment, Stage};
use crate::web::session::SignedIn;
use crate::web::{page, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lieu/paiements", get(list))
        .route("/lieu/paiements/{id}", get(one))
}

/// A transfer as the site reads it.
pub struct Line {
    pub id: String,
    pub batch_id: String,
    /// Redemptions up to this date.
    pub until: String,
    pub amount: String,
    pub state: &'static str,
    /// Why the bank returned it, and what happens next.
    pub rejected: Option<String>,
    pub reference: String,
    /// The date paid, or what is awaited.
    pub paid: String,
    pub cheques: i64,
}

/// A payment in words, its days in `zone` (the site's).
fn line(p: &Payment, zone: &jiff::tz::TimeZone) -> Line {
    let l = &p.line;
    let rejected = p.rejection().map(|why| {
        let next = if l.carried_into.is_some() {
            "le virement est refait dans un lot suivant"
        } else if l.released_at.is_some() {
            "il sera refait vers le même compte avec le prochain lot"
        } else {
            "il sera refait quand vous aurez donné de nouvelles coordonnées bancaires"
        };
        format!("{why} : {next}.")
    });
    Line {
        id: l.id.clone(),
        batch_id: p.batch.id.clone(),
        until: long_date_text(&p.batch.until_date),
        amount: euros_text(l.amount_cents),
        state: p.stage.label(),
        rejected,
        reference: l.end_to_end_id.clone(),
        paid: match (p.stage, p.paid_at()) {
            (Stage::Paid, Some(at)) => crate::fr::long_date_in(at, zone),
            _ => "—".to_string(),
        },
        cheques: l.redemptions,
    }
}

#[derive(Template)]
#[template(path = "site/payments.html")]
struct List {
    l: Layout,
    payments: Vec<Line>,
}

async fn list(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let payments = payments::of_site(&mut conn, &signed.org).await?;
    let zone = signed.org.zone();
    page(List {
        l: Layout::new(&state, &visitor, "Mes paiements"),
        payments: payments.iter().map(|p| line(p, &zone)).collect(),
    })
}

/// A cheque a transfer pays.
pub struct Cheque {
    pub date: String,
    pub code: String,
    pub place: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "site/payments_one.html")]
struct One {
    l: Layout,
    p: Line,
    settled: String,
    fee: Option<String>,
    carried: Option<String>,
    /// The later transfer that paid this one again, if it was returned.
    carried_into: Option<String>,
    cheques: Vec<Cheque>,
}

async fn one(State(state): State<AppState>, visitor: Visitor, Path(id): Path<String>) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let mut conn = state.db.read().await?;
    let (payment, cheques) = payments::one(&mut conn, &signed.org, &id).await?;
    let l = &payment.line;
    let zone = signed.org.zone();
    let shown = line(&payment, &zone);
    page(One {
        l: Layout::new(
            &state,
            &visitor,
            format!("Paiement de {} — {}", shown.amount, shown.reference),
        ),
        settled: euros_text(l.settled_cents),
        fee: l.fee_cents.is_positive().then(|| euros_text(l.fee_cents)),
        carried: l
            .carried_cents
            .is_positive()
            .then(|| euros_text(l.carried_cents)),
        carried_into: l.carried_into.clone(),
        cheques: cheques
            .into_iter()
            .map(|c| Cheque {
                date: crate::fr::long_date_in(&c.redeemed_at, &zone),
                code: crate::vouchers::codes::display_code(&c.code),
                place: c.place.unwrap_or_default(),
                value: euros_text(c.value_cents),
            })
            .collect(),
        p: shown,
    })
}
