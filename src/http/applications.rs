//! No token: a mediation structure applies (the same door as the page `/candidature`). Every
//! field refused is listed at once (`422 invalid_fields`); a SIRET already registered or
//! already under review is refused with `409`. Limited per address and per recipient, as the
//! page is, since it sends an e-mail.

use super::extract::{ClientIp, Write};
use super::organizations::CreatedId;
use super::AppState;
use crate::error::Result;
use crate::sites::applications::{self, Draft, PlaceDraft};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route("/public/applications", post(submit))
}

/// One place where the structure welcomes people.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct PlaceRequest {
    pub name: String,
    pub address: String,
    pub postcode: String,
    pub commune: String,
}

/// An application, as the form `/candidature` sends it.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct ApplicationRequest {
    pub org_name: String,
    /// 14 digits (spaces allowed).
    pub siret: String,
    pub places: Vec<PlaceRequest>,
    pub contact_name: String,
    /// The follow-up link is sent there.
    pub contact_email: String,
    pub contact_phone: String,
    pub legal_name: String,
    pub legal_role: String,
    pub iban: String,
    pub holder: String,
    /// `oui` or `non` for each active question of the eligibility questionnaire, by its id.
    pub answers: BTreeMap<String, String>,
    pub charter_accepted: bool,
}

impl From<ApplicationRequest> for Draft {
    fn from(r: ApplicationRequest) -> Draft {
        Draft {
            org_name: r.org_name,
            siret: r.siret,
            places: r
                .places
                .into_iter()
                .map(|p| PlaceDraft {
                    name: p.name,
                    address: p.address,
                    postcode: p.postcode,
                    commune: p.commune,
                })
                .collect(),
            contact_name: r.contact_name,
            contact_email: r.contact_email,
            contact_phone: r.contact_phone,
            legal_name: r.legal_name,
            legal_role: r.legal_role,
            iban: r.iban,
            holder: r.holder,
            answers: r.answers.into_iter().collect(),
            charter: r.charter_accepted,
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/public/applications",
    tag = "public",
    summary = "Candidater au Pass numérique (sans jeton, limité par adresse)",
    request_body = ApplicationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Une relance avec la même clé et le même corps reçoit la première réponse.")),
    responses(
        (status = 201, description = "Reçue : le lien de suivi part par e-mail", body = CreatedId),
        (status = 422, description = "`invalid_fields` : chaque champ refusé dans `fields`", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "`siret_registered` (structure déjà inscrite) ou `application_pending` (candidature déjà en cours)", body = crate::http::openapi::ErrorBody),
        (status = "4XX", description = "Refus (voir le code d'erreur)", body = crate::http::openapi::ErrorBody)
    ),
    security(())
)]
pub(super) async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Write {
        body,
        replay,
        origin,
    }: Write<ApplicationRequest>,
) -> Result<(StatusCode, Json<CreatedId>)> {
    let draft = Draft::from(body);
    let to = draft.contact_email.trim().to_lowercase();
    let keys = [format!("ip:{ip}"), format!("to:{to}")];
    let now = state.clock.now();
    state.mail_forms.check(state.db.reads(), &keys, now).await?;
    let config = state.config.clone();
    let created = state
        .write(origin, replay.key(&format!("public:{ip}")), move |tx| {
            Box::pin(async move {
                let (id, _token) = applications::submit(tx, &config, &draft, now).await?;
                Ok(CreatedId { id })
            })
        })
        .await?;
    state.mail_forms.record(&keys, now).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
