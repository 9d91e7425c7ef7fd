//! Offline redemption as the operator sees it (/operateur/hors-ligne): every site's consoles
//! and their allowance (set per site or per device), and the conflicts found at sync, per site.

use super::orgs::Nothing;
use super::require_operator;
use crate::app::AppState;
use crate::error::Error;
use crate::offline::{self, Allowance};
use crate::web::confirm;
use crate::web::session::Form;
use crate::web::site::offline::{allowance_text, conflict_line, ConflictLine};
use crate::web::site::offline_revoke::revoke_question;
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};

/// One site with consoles or conflicts.
pub struct SiteBlock {
    pub site_id: String,
    pub name: String,
    pub devices: Vec<DeviceRow>,
    pub conflicts: Vec<ConflictLine>,
}

pub struct DeviceRow {
    pub id: String,
    pub label: String,
    pub allowance: String,
    pub own: bool,
    pub max_cheques: i64,
    pub max_days: i64,
    pub last_sync: String,
}

#[derive(Template)]
#[template(path = "operator/offline.html")]
struct OfflinePage {
    l: Layout,
    section: &'static str,
    notice: Option<&'static str>,
    error: Option<String>,
    default: String,
    bound_days: i64,
    sites: Vec<SiteBlock>,
}

#[derive(serde::Deserialize)]
pub(super) struct Done {
    fait: Option<String>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    q: Query<Done>,
) -> WebResult {
    let notice = match q.fait.as_deref() {
        Some("allocation") => Some("L'allocation est enregistrée."),
        Some("retire") => Some(
            "L'appareil est retiré : ses prochaines synchronisations seront refusées, rien de ce \
             qu'il enverra ne sera encaissé.",
        ),
        _ => None,
    };
    render(&state, &visitor, notice, None).await
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<&'static str>,
    error: Option<String>,
) -> WebResult {
    let signed = require_operator(visitor)?;
    let settings = offline::Settings::of(&state.config);
    let mut conn = state.db.read().await?;
    let devices = offline::all_devices(&mut conn, &signed.org, settings).await?;
    let conflicts = offline::all_conflicts(&mut conn, &signed.org).await?;
    // The operator reads times in its own zone.
    let zone = signed.org.zone();
    let mut sites: Vec<SiteBlock> = Vec::new();
    let block = |sites: &mut Vec<SiteBlock>, id: &str, name: &str| -> usize {
        match sites.iter().position(|s| s.site_id == id) {
            Some(i) => i,
            None => {
                sites.push(SiteBlock {
                    site_id: id.to_string(),
                    name: name.to_string(),
                    devices: Vec::new(),
                    conflicts: Vec::new(),
                });
                sites.len() - 1
            }
        }
    };
    for d in devices.iter().filter(|d| d.revoked_at.is_none()) {
        let i = block(&mut sites, &d.site_id, &d.site_name);
        sites[i].devices.push(DeviceRow {
            id: d.id.clone(),
            label: d.label.clone(),
            allowance: allowance_text(&d.allowance),
            own: d.own_allowance,
            max_cheques: d.allowance.max_cheques,
            max_days: d.allowance.max_days,
            last_sync: d
                .last_sync_at
                .as_deref()
                .map(|at| crate::fr::moment_text_in(at, &zone))
                .unwrap_or_else(|| "jamais".to_string()),
        });
    }
    for c in &conflicts {
        let i = block(&mut sites, &c.site_id, &c.site_name);
        sites[i].conflicts.push(conflict_line(c));
    }
    sites.sort_by(|a, b| {
        b.conflicts
            .len()
            .cmp(&a.conflicts.len())
            .then(a.name.cmp(&b.name))
    });
    page(OfflinePage {
        l: Layout::new(state, visitor, "Encaissement hors ligne"),
        section: "hors-ligne",
        notice,
        error,
        default: allowance_text(&settings.default),
        bound_days: settings.bound_days,
        sites,
    })
}

#[derive(serde::Deserialize)]
pub(super) struct AllowanceForm {
    site_id: String,
    #[serde(default)]
    device_id: String,
    #[serde(default)]
    max_cheques: String,
    #[serde(default)]
    max_days: String,
    /// "1": back to the default.
    #[serde(default)]
    reset: String,
}

pub(super) async fn set_allowance(
    State(state): State<AppState>,
    form: Form<AllowanceForm>,
) -> WebResult {
    let signed = require_operator(&form.visitor)?;
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let settings = offline::Settings::of(&state.config);
    let allowance: Result<Option<Allowance>, Error> = if data.reset == "1" {
        Ok(None)
    } else {
        let number = |text: &str| crate::fr::parse_count(text.trim()).unwrap_or(0);
        settings
            .check(number(&data.max_cheques), number(&data.max_days))
            .map(Some)
    };
    let written = match allowance {
        Ok(allowance) => {
            let (org, now) = (signed.org.clone(), state.clock.now());
            let device_id = Some(data.device_id.trim().to_string()).filter(|d| !d.is_empty());
            let site_id = data.site_id.clone();
            state
                .write(visitor.origin(), key, move |tx| {
                    Box::pin(async move {
                        offline::set_allowance(
                            tx,
                            &org,
                            &site_id,
                            device_id.as_deref(),
                            allowance,
                            now,
                        )
                        .await
                    })
                })
                .await
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => see_other("/operateur/hors-ligne?fait=allocation"),
        Err(e @ (Error::Unprocessable { .. } | Error::NotFound(_))) => with_status(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            render(&state, &visitor, None, Some(e.public_message())).await,
        ),
        Err(e) => Err(e.into()),
    }
}

/// Revokes a console of any site (journaled), after a confirmation: its syncs are refused
/// from now on.
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<Nothing>,
) -> WebResult {
    let signed = require_operator(&form.visitor)?;
    let settings = offline::Settings::of(&state.config);
    if !form.confirmed() {
        let mut conn = state.db.read().await?;
        let device = offline::visible_device(&mut conn, &signed.org, &id, settings).await;
        drop(conn);
        if let Ok(device) = device.as_ref() {
            if device.revoked_at.is_none() {
                return confirm::ask(&state, &form, revoke_question(device));
            }
        }
    }
    let key = form.own_key();
    let visitor = form.visitor;
    let (org, now) = (signed.org.clone(), state.clock.now());
    let revoked = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { offline::revoke(tx, &org, &id, settings, now).await })
        })
        .await;
    match revoked {
        Ok(_) => see_other("/operateur/hors-ligne?fait=retire"),
        Err(e @ Error::NotFound(_)) => with_status(
            axum::http::StatusCode::NOT_FOUND,
            render(&state, &visitor, None, Some(e.public_message())).await,
        ),
        Err(e) => Err(e.into()),
    }
}
