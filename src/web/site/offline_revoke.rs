//! A site revokes one of its consoles from /lieu/hors-ligne (a lost or replaced tablet), after
//! a confirmation; the operator does the same from /operateur/hors-ligne.

use crate::app::AppState;
use crate::offline::{self, Device};
use crate::orgs::OrgKind;
use crate::web::confirm::{self, Confirmation};
use crate::web::session::{Form, SignedIn};
use crate::web::{see_other, WebResult};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/lieu/hors-ligne/appareils/{id}/retirer", post(revoke))
}

#[derive(serde::Deserialize)]
struct Nothing {}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let settings = offline::Settings::of(&state.config);
    let device = {
        let mut conn = state.db.read().await?;
        offline::visible_device(&mut conn, &signed.org, &id, settings).await?
    };
    if device.revoked_at.is_some() {
        return see_other("/lieu/hors-ligne?fait=retire#appareils");
    }
    if !form.confirmed() {
        return confirm::ask(&state, &form, revoke_question(&device));
    }
    let key = form.own_key();
    let (org, now) = (signed.org.clone(), state.clock.now());
    state
        .write(form.visitor.origin(), key, move |tx| {
            Box::pin(async move { offline::revoke(tx, &org, &id, settings, now).await })
        })
        .await?;
    see_other("/lieu/hors-ligne?fait=retire#appareils")
}

/// What revoking a console does, said before it is done.
pub fn revoke_question(device: &Device) -> Confirmation {
    Confirmation::new(
        format!(
            "Retirer l'appareil « {} » de {} ?",
            device.label, device.site_name
        ),
        "Oui, retirer l'appareil",
    )
    .then(
        "Ses prochaines synchronisations seront refusées : les séances qu'il a notées hors \
         ligne et pas encore envoyées ne seront pas encaissées. Ce qu'il a déjà synchronisé \
         reste encaissé.",
    )
    .then(
        "Un appareil retiré ne peut pas être rétabli : pour continuer hors ligne, enregistrez-en \
         un nouveau.",
    )
}
