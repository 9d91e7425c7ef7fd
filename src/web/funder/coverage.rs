//! The funder's view of the money: for each of its programmes, what was received on the payer
//! account, what is owed to sites, paid, held, in circulation and unused.

use crate::app::AppState;
use crate::orgs::OrgKind;
use crate::web::coverage::CoverageView;
use crate::web::session::SignedIn;
use crate::web::{page, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::State;

#[derive(Template)]
#[template(path = "funder/coverage.html")]
struct CoveragePage {
    l: Layout,
    coverage: CoverageView,
}

pub(super) async fn show(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Funder)?;
    let mut conn = state.db.read().await?;
    let coverage = crate::treasury::coverage(&mut conn, &signed.org).await?;
    page(CoveragePage {
        l: Layout::new(&state, &visitor, "Couverture de vos programmes"),
        coverage: CoverageView::of(&coverage),
    })
}
