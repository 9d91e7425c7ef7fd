//! An organisation's API tokens: issued from its page and shown once, revoked after a
//! confirmation.

use super::orgs::{render_org, Nothing, OrgOutcome};
use super::{find_org, require_operator, shown, when};
use crate::app::AppState;
use crate::orgs;
use crate::web::confirm::{self, Confirmation};
use crate::web::session::Form;
use crate::web::{see_other, with_status, WebResult};
use axum::extract::{Path, State};

/// Revokes one of the organisation's tokens, then shows the organisation again.
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Path((id, token_id)): Path<(String, String)>,
    form: Form<Nothing>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    if !form.confirmed() {
        let mut conn = state.db.read().await?;
        let holder = find_org(&mut conn, &id).await?;
        let token = orgs::tokens(&mut conn, &operator.org, &holder.id)
            .await?
            .into_iter()
            .find(|t| t.id == token_id && t.revoked_at.is_none());
        drop(conn);
        if let Some(token) = token {
            let used = match &token.last_used_at {
                Some(at) => format!("Il a servi pour la dernière fois le {}.", when(at)),
                None => "Il n'a encore jamais servi.".to_string(),
            };
            let question = Confirmation::new(
                format!("Révoquer un jeton d'accès à l'API de {} ?", holder.name),
                "Oui, révoquer le jeton",
            )
            .then(format!("Jeton {}.", token.id))
            .then(format!(
                "Les logiciels de {} qui appellent l'API avec ce jeton seront refusés dès \
                 maintenant. {used}",
                holder.name
            ))
            .then(
                "Un jeton révoqué ne peut pas être rétabli : il faudra en créer un nouveau et \
                 le donner à l'organisation.",
            );
            return confirm::ask(&state, &form, question);
        }
    }
    let now = state.clock.now();
    let (org, org_id) = (operator.org.clone(), id.clone());
    let revoked = state
        .write(form.visitor.origin(), form.key(&org.id), move |tx| {
            Box::pin(async move { orgs::revoke_token(tx, &org, &org_id, &token_id, now).await })
        })
        .await;
    match revoked {
        Ok(_) => see_other(&format!("/operateur/organisations/{id}?fait=revoque")),
        Err(e) if shown(&e) || matches!(e, crate::error::Error::NotFound(_)) => {
            let outcome = OrgOutcome {
                error: Some(e.public_message()),
                ..Default::default()
            };
            with_status(
                e.status(),
                render_org(&state, &form.visitor, &id, outcome).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Issues a token and shows it on this answer only: it is not kept in clear anywhere, so this
/// page cannot be reopened (a reload asks the browser to send the form again, for a new token).
pub(super) async fn new_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form { visitor, .. }: Form<Nothing>,
) -> WebResult {
    let operator = require_operator(&visitor)?;
    let now = state.clock.now();
    let (org, org_id) = (operator.org.clone(), id.clone());
    let issued = state
        .db
        .transact(visitor.origin(), move |tx| {
            Box::pin(async move { orgs::issue_token(tx, &org, &org_id, now).await })
        })
        .await?;
    let outcome = OrgOutcome {
        token: Some(issued.token),
        ..Default::default()
    };
    render_org(&state, &visitor, &id, outcome).await
}
