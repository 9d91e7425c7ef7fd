//! Removing a person's second factor (a lost phone, no recovery code left), once the helpline
//! has checked who calls: asked first, since it opens the account to the password alone until
//! the person sets up a new one.

use super::orgs::Nothing;
use super::{find_org, require_operator};
use crate::app::AppState;
use crate::users;
use crate::web::confirm::{self, Confirmation};
use crate::web::session::Form;
use crate::web::{see_other, WebResult};
use axum::extract::{Path, State};

pub(super) async fn remove(
    State(state): State<AppState>,
    Path((id, user_id)): Path<(String, String)>,
    form: Form<Nothing>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    if !form.confirmed() {
        let (org, person) = {
            let mut conn = state.db.read().await?;
            let org = find_org(&mut conn, &id).await?;
            let people = users::list_for_org(&mut conn, &org.id).await?;
            (org, people.into_iter().find(|p| p.id == user_id))
        };
        // Someone not of this organisation: the removal itself refuses it.
        if let Some(person) = person {
            let question = Confirmation::new(
                format!(
                    "Retirer la double authentification de {} ({}) ?",
                    person.name, org.name
                ),
                "Oui, retirer la double authentification",
            )
            .then(format!(
                "Faites-le seulement après avoir vérifié, au téléphone, que vous parlez bien à \
                 {} ({}).",
                person.name, person.email
            ))
            .then(
                "Ses sessions sont fermées. Jusqu'à sa prochaine connexion, son mot de passe \
                 seul ouvre son compte ; la personne mettra alors en place une nouvelle double \
                 authentification.",
            )
            .then("La personne en est prévenue par e-mail.");
            return confirm::ask(&state, &form, question);
        }
    }
    let now = state.clock.now();
    let (org, org_id) = (operator.org.clone(), id.clone());
    let letterhead = state.letterhead();
    state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move {
                users::totp::reset(tx, &letterhead, &org, &org_id, &user_id, now).await?;
                Ok(())
            })
        })
        .await?;
    see_other(&format!("/operateur/organisations/{id}?fait=2fa"))
}
