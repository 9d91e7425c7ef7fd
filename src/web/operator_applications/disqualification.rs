//! The final disqualification of a site or one of its places, with a reason shown to the site.

use super::Done;
use crate::app::AppState;
use crate::error::Error;
use crate::orgs::OrgKind;
use crate::web::confirm::{self, Confirmation};
use crate::web::form_errors::FormErrors;
use crate::web::operator::{require_operator, shown};
use crate::web::session::Form;
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

pub struct Target {
    pub id: String,
    pub label: String,
    /// What it is, in a sentence: "le lieu « Annexe » (1 rue …, Bordeaux)".
    pub words: String,
    pub disqualified: Option<String>,
}

#[derive(Template)]
#[template(path = "operator/applications/disqualify.html")]
struct DisqualifyPage {
    l: Layout,
    section: &'static str,
    site_id: String,
    site_name: String,
    targets: Vec<Target>,
    notice: Option<String>,
    errors: FormErrors,
    /// What the form holds: blank, or as sent when it was refused.
    target: String,
    reason: String,
}

/// The site and what can be disqualified of it: the whole structure, or one of its places.
async fn targets_of(
    conn: &mut crate::db::Conn,
    site_id: &str,
) -> crate::error::Result<(crate::orgs::Organization, Vec<Target>)> {
    let site = crate::orgs::find(conn, site_id)
        .await?
        .filter(|o| o.kind == OrgKind::Site)
        .ok_or_else(|| Error::not_found("Ce lieu de médiation n'existe pas."))?;
    let why =
        async |conn: &mut crate::db::Conn, id: &str| -> crate::error::Result<Option<String>> {
            Ok(crate::sites::qualification::disqualification(conn, id)
                .await?
                .map(|d| d.reason))
        };
    let mut targets = vec![Target {
        id: site.id.clone(),
        label: format!("Toute la structure {} et tous ses lieux", site.name),
        words: site.name.clone(),
        disqualified: why(conn, &site.id).await?,
    }];
    for place in crate::sites::places::for_site(conn, &site.id).await? {
        let address = [place.data.get("adresse"), place.data.get("commune")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        let words = format!(
            "le lieu « {} »{}",
            place.data.get("nom").unwrap_or_default(),
            if address.is_empty() {
                String::new()
            } else {
                format!(" ({address})")
            }
        );
        targets.push(Target {
            id: place.id().to_string(),
            label: format!("Seulement {words}"),
            words,
            disqualified: why(conn, place.id()).await?,
        });
    }
    Ok((site, targets))
}

async fn render_disqualify(
    state: &AppState,
    visitor: &Visitor,
    site_id: &str,
    notice: Option<String>,
    errors: FormErrors,
    (target, reason): (String, String),
) -> WebResult {
    let mut conn = state.db.read().await?;
    let (site, targets) = targets_of(&mut conn, site_id).await?;
    drop(conn);
    page(DisqualifyPage {
        l: Layout::new(
            state,
            visitor,
            errors.page_title(&format!("Disqualifier {}", site.name)),
        ),
        section: "",
        site_id: site.id.clone(),
        site_name: site.name,
        targets,
        notice,
        errors,
        target,
        reason,
    })
}

pub(super) async fn disqualify_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> WebResult {
    require_operator(&visitor)?;
    let notice = done.fait.is_some().then(|| {
        "La disqualification est enregistrée. La structure est prévenue par e-mail, avec le motif.".to_string()
    });
    let blank = (String::new(), String::new());
    render_disqualify(&state, &visitor, &id, notice, FormErrors::none(), blank).await
}

#[derive(Deserialize)]
pub(super) struct DisqualifyForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn disqualify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<DisqualifyForm>,
) -> WebResult {
    let operator = require_operator(&form.visitor)?;
    if !form.confirmed() && !form.data.reason.trim().is_empty() {
        let mut conn = state.db.read().await?;
        let (site, targets) = targets_of(&mut conn, &id).await?;
        drop(conn);
        let target = targets
            .into_iter()
            .enumerate()
            .find(|(_, t)| t.id == form.data.target && t.disqualified.is_none());
        if let Some((position, target)) = target {
            let question = if position == 0 {
                Confirmation::new(
                    format!(
                        "Disqualifier définitivement {} et tous ses lieux ?",
                        site.name
                    ),
                    "Oui, disqualifier la structure",
                )
                .then(
                    "La structure et tous ses lieux ne pourront plus encaisser de chèques, ni \
                     être qualifiés de nouveau.",
                )
            } else {
                Confirmation::new(
                    format!("Disqualifier définitivement {} ?", target.words),
                    "Oui, disqualifier le lieu",
                )
                .then(format!(
                    "Ce lieu de {} ne pourra plus encaisser de chèques, ni être qualifié de \
                     nouveau. Les autres lieux de la structure ne changent pas.",
                    site.name
                ))
            }
            .then(
                "La structure reçoit le motif que vous avez écrit, par e-mail et sur ses pages. \
                 La disqualification est définitive.",
            )
            .back_to(format!("/operateur/organisations/{id}/disqualification"));
            return confirm::ask(&state, &form, question);
        }
    }
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let now = state.clock.now();
    let (org, letterhead, site_id) = (operator.org.clone(), state.letterhead(), id.clone());
    let (target, reason) = (data.target.clone(), data.reason.clone());
    let result = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move {
                crate::sites::qualification::disqualify(
                    tx,
                    &org,
                    &site_id,
                    &target,
                    &reason,
                    &letterhead,
                    now,
                )
                .await
            })
        })
        .await;
    match result {
        Ok(()) => see_other(&format!(
            "/operateur/organisations/{id}/disqualification?fait=1"
        )),
        Err(e) if shown(&e) => with_status(
            e.status(),
            render_disqualify(
                &state,
                &visitor,
                &id,
                None,
                FormErrors::one(
                    if e.code().contains("reason") {
                        "reason"
                    } else {
                        "target"
                    },
                    e.public_message(),
                ),
                (data.target, data.reason),
            )
            .await,
        ),
        Err(e) => Err(e.into()),
    }
}
