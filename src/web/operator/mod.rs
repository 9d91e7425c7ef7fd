//! The operator: organisations (create, invite their people, qualify or suspend sites, API
//! tokens), the audit trail, places, and settlement batches from preparation to payment. One
//! file per feature; this one holds the routes and what they share.

mod bank;
mod journal;
mod offline;
mod orgs;
mod places;
mod second_factor;
mod settlements;
mod tokens;
mod treasury;

use crate::app::AppState;
use crate::db::Conn;
use crate::error::Error;
use crate::fr::long_date;
use crate::orgs::{OrgKind, Organization};
use crate::sites::qualification::Status;
use crate::users::Signed;
use crate::web::session::SignedIn;
use crate::web::{Visitor, WebError};
use axum::routing::{get, post};
use axum::Router;
use jiff::civil::Date;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operateur", get(orgs::home))
        .route("/operateur/organisations", post(orgs::create_org))
        .route("/operateur/organisations/{id}", get(orgs::org_page))
        .route(
            "/operateur/organisations/{id}/invitations",
            post(orgs::invite),
        )
        .route(
            "/operateur/organisations/{id}/qualification",
            post(orgs::qualify),
        )
        .route(
            "/operateur/organisations/{id}/jetons",
            post(tokens::new_token),
        )
        .route(
            "/operateur/organisations/{id}/jetons/{token_id}/revoquer",
            post(tokens::revoke_token),
        )
        .route(
            "/operateur/organisations/{id}/personnes/{user_id}/double-authentification",
            post(second_factor::remove),
        )
        .route("/operateur/journal", get(journal::journal))
        .route("/operateur/hors-ligne", get(offline::show))
        .route(
            "/operateur/hors-ligne/allocation",
            post(offline::set_allowance),
        )
        .route(
            "/operateur/hors-ligne/appareils/{id}/retirer",
            post(offline::revoke),
        )
        .route("/operateur/banque", get(bank::requests))
        .route(
            "/operateur/tresorerie",
            get(treasury::show).post(treasury::import),
        )
        .route(
            "/operateur/tresorerie/ecritures/{id}",
            post(treasury::match_entry),
        )
        .route("/operateur/banque/{id}/rib", get(bank::document))
        .route("/operateur/banque/{id}/decision", post(bank::decide))
        .route(
            "/operateur/lieux",
            get(places::places_page).post(places::import_places),
        )
        .route(
            "/operateur/reglements",
            get(settlements::batches).post(settlements::prepare),
        )
        .route("/operateur/reglements/{id}", get(settlements::batch))
        .route(
            "/operateur/reglements/{id}/approuver",
            post(settlements::approve),
        )
        .route("/operateur/reglements/{id}/sepa", post(settlements::export))
        .route(
            "/operateur/reglements/{id}/virements.xml",
            get(settlements::sepa_file),
        )
        .route("/operateur/reglements/{id}/payer", post(settlements::paid))
        .route(
            "/operateur/reglements/{id}/rejets",
            post(settlements::reject),
        )
        .route(
            "/operateur/reglements/{id}/renvois",
            post(settlements::release),
        )
}

const JOURNAL_PAGE: i64 = 50;

pub(crate) fn require_operator(visitor: &Visitor) -> Result<Arc<Signed>, WebError> {
    SignedIn::require(visitor, OrgKind::Operator)
}

/// Refusals the person can act on: shown on the page with their form, not as an error page.
pub(crate) fn shown(e: &Error) -> bool {
    matches!(
        e,
        Error::Unprocessable { .. } | Error::Conflict { .. } | Error::Gone { .. }
    )
}

pub(super) fn kind_label(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Operator => "Opérateur",
        OrgKind::Funder => "Financeur",
        OrgKind::Distributor => "Distributeur",
        OrgKind::Site => "Lieu de médiation",
    }
}

/// `(state, end date)` of a site's qualification, in words.
pub(super) fn qualification_in_words(org: &Organization, today: Date) -> (&'static str, String) {
    let until = org
        .qualified_until
        .as_deref()
        .and_then(|d| d.parse::<Date>().ok());
    let state = match (org.qualification_status, until) {
        (Status::Qualified, Some(u)) if u >= today => "Qualifié",
        (Status::Qualified, _) => "Qualification expirée",
        (Status::Suspended, _) => "Suspendu",
        _ => "Non qualifié",
    };
    (state, until.map(long_date).unwrap_or_default())
}

/// "12 mars 2026 à 14:05", Paris time.
pub(super) use crate::fr::moment_text as when;

pub(super) async fn find_org(conn: &mut Conn, id: &str) -> Result<Organization, WebError> {
    Ok(crate::orgs::get(conn, id).await?)
}
