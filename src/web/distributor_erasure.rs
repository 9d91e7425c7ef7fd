//! A distributor erases a carnet's beneficiary reference when the person asks (GDPR article
//! 17), after a confirmation: a dated mark takes its place, the carnet keeps working.

use super::confirm::{self, Confirmation};
use super::session::{Form, SignedIn};
use super::{see_other, WebResult};
use crate::app::AppState;
use crate::orgs::OrgKind;
use crate::vouchers;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/distributeur/carnets/{id}/effacer-reference",
        post(erase_reference),
    )
}

#[derive(Deserialize)]
struct Nothing {}

async fn erase_reference(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Distributor)?;
    let (now, today) = (state.clock.now(), state.clock.today());
    if !form.confirmed() {
        let pass = {
            let mut conn = state.db.read().await?;
            vouchers::get(&mut conn, &state.keyring, &signed.org, &id, today).await?
        };
        let reference = pass
            .beneficiary_ref
            .map(|r| format!(" « {r} »"))
            .unwrap_or_default();
        return confirm::ask(
            &state,
            &form,
            Confirmation::new(
                format!(
                    "Effacer la référence{reference} du carnet {} ?",
                    pass.pass_code
                ),
                "Oui, effacer la référence",
            )
            .then(format!(
                "La référence sera remplacée par « {} ». Le carnet et ses chèques restent \
                 utilisables.",
                vouchers::rights::erased_reference_mark(today)
            ))
            .then(
                "Faites-le quand la personne le demande. L'effacement est définitif ; il est \
                 noté au journal, sans la référence.",
            ),
        );
    }
    let (keyring, org) = (state.keyring.clone(), signed.org.clone());
    let pass_id = id.clone();
    state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move {
                vouchers::rights::erase_reference(tx, &keyring, &org, &pass_id, now, today).await
            })
        })
        .await?;
    see_other(&format!(
        "/distributeur/carnets/{id}?fait=reference-effacee"
    ))
}
