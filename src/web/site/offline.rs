//! Redeeming offline, as the site sees it (/lieu/hors-ligne): its consoles and their
//! allowance, registering one, and the cheques recorded offline that had already been used
//! (conflicts). The console itself calls the JSON routes here with the agent's session:
//! its allowance, and the sync of what it recorded.

use crate::app::AppState;
use crate::error::Error;
use crate::fr::moment_text;
use crate::offline::{self, Device, RecordOutcome, SyncRequest};
use crate::orgs::OrgKind;
use crate::web::form_errors::FormErrors;
use crate::web::session::{Form, SignedIn};
use crate::web::{page, see_other, with_status, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lieu/hors-ligne", get(show))
        .route("/lieu/hors-ligne/appareils", post(register))
        .route("/lieu/hors-ligne/appareils/{id}", get(device_json))
        .route("/lieu/hors-ligne/synchroniser", post(sync_json))
}

/// A console as the site reads it.
pub struct DeviceLine {
    pub id: String,
    pub label: String,
    pub allowance: String,
    pub last_sync: String,
    pub revoked: bool,
}

fn device_line(d: &Device) -> DeviceLine {
    DeviceLine {
        id: d.id.clone(),
        label: d.label.clone(),
        allowance: allowance_text(&d.allowance),
        last_sync: d
            .last_sync_at
            .as_deref()
            .map(moment_text)
            .unwrap_or_else(|| "jamais".to_string()),
        revoked: d.revoked_at.is_some(),
    }
}

/// "50 chèques au plus, synchroniser au moins tous les 3 jours".
pub fn allowance_text(a: &offline::Allowance) -> String {
    let cheques = if a.max_cheques == 1 {
        "1 chèque".to_string()
    } else {
        format!("{} chèques", a.max_cheques)
    };
    let days = if a.max_days == 1 {
        "chaque jour".to_string()
    } else {
        format!("au moins tous les {} jours", a.max_days)
    };
    format!("{cheques} au plus hors ligne, à synchroniser {days}")
}

/// A conflict in words.
pub struct ConflictLine {
    pub code: String,
    pub device: String,
    pub recorded: String,
    pub used: String,
    pub found: String,
}

pub fn conflict_line(c: &offline::Conflict) -> ConflictLine {
    let place = match (&c.used_site_name, &c.used_place_name) {
        (Some(site), Some(place)) if place != site => format!("{site} ({place})"),
        (Some(site), _) => site.clone(),
        (None, Some(place)) => place.clone(),
        (None, None) => "un autre lieu".to_string(),
    };
    ConflictLine {
        code: c.code.clone(),
        device: c.device_label.clone(),
        recorded: moment_text(&c.session_at),
        used: match &c.used_at {
            Some(at) => format!("le {} à {place}", moment_text(at)),
            None => format!("à {place}"),
        },
        found: moment_text(&c.created_at),
    }
}

#[derive(Template)]
#[template(path = "site/offline.html")]
struct Offline {
    l: Layout,
    notice: Option<String>,
    errors: FormErrors,
    /// The name typed, sent back with its mistake.
    device_label: String,
    devices: Vec<DeviceLine>,
    conflicts: Vec<ConflictLine>,
    bound_days: i64,
}

#[derive(serde::Deserialize)]
struct Done {
    fait: Option<String>,
}

async fn show(State(state): State<AppState>, visitor: Visitor, q: Query<Done>) -> WebResult {
    let notice = match q.fait.as_deref() {
        Some("appareil") => Some(
            "L'appareil est enregistré. Ouvrez la page d'encaissement sur cet appareil pour \
             l'utiliser hors ligne.",
        ),
        Some("retire") => Some("L'appareil est retiré : ses synchronisations seront refusées."),
        _ => None,
    }
    .map(str::to_string);
    render(&state, &visitor, notice, FormErrors::none(), String::new()).await
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    notice: Option<String>,
    errors: FormErrors,
    label: String,
) -> WebResult {
    let signed = SignedIn::require(visitor, OrgKind::Site)?;
    let settings = offline::Settings::of(&state.config);
    let mut conn = state.db.read().await?;
    let devices = offline::devices(&mut conn, &signed.org, settings).await?;
    let conflicts = offline::conflicts(&mut conn, &signed.org).await?;
    page(Offline {
        l: Layout::new(state, visitor, "Encaisser hors ligne"),
        notice,
        errors,
        device_label: label,
        devices: devices.iter().map(device_line).collect(),
        conflicts: conflicts.iter().map(conflict_line).collect(),
        bound_days: settings.bound_days,
    })
}

#[derive(serde::Deserialize)]
struct NewDevice {
    #[serde(default)]
    label: String,
}

/// Registers a console: from the form of /lieu/hors-ligne (back there), or from the console's
/// script asking for JSON (`Accept: application/json`), which keeps the device's id.
async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form<NewDevice>,
) -> WebResult {
    let wants_json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let signed = SignedIn::require(&form.visitor, OrgKind::Site)?;
    let key = form.own_key();
    let Form { visitor, data, .. } = form;
    let (org, now, settings) = (
        signed.org.clone(),
        state.clock.now(),
        offline::Settings::of(&state.config),
    );
    let label = data.label.clone();
    let registered = state
        .write(visitor.origin(), key, move |tx| {
            Box::pin(async move { offline::register(tx, &org, &label, settings, now).await })
        })
        .await;
    match registered {
        Ok(device) if wants_json => {
            Ok((axum::http::StatusCode::CREATED, Json(device)).into_response())
        }
        Err(e) if wants_json => Ok(e.into_response()),
        Ok(_) => see_other("/lieu/hors-ligne?fait=appareil"),
        Err(e @ (Error::Unprocessable { .. } | Error::Conflict { .. })) => {
            let errors = FormErrors::one("label", e.public_message());
            with_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render(&state, &visitor, None, errors, data.label).await,
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// The console's allowance, read by the console each time it is online (JSON).
async fn device_json(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Json<Device>, Error> {
    let org = signed_site(&visitor)?;
    let settings = offline::Settings::of(&state.config);
    let mut conn = state.db.read().await?;
    Ok(Json(offline::device(&mut conn, &org, &id, settings).await?))
}

/// The answer to a sync, as the API gives it.
#[derive(serde::Serialize)]
struct SyncAnswer {
    records: Vec<RecordOutcome>,
}

/// The console's sync with the agent's session (JSON, the CSRF token in `X-CSRF-Token`): the
/// same as `POST /api/v1/offline/sync`.
async fn sync_json(
    State(state): State<AppState>,
    visitor: Visitor,
    crate::http::extract::ClientIp(ip): crate::http::extract::ClientIp,
    headers: HeaderMap,
    Json(body): Json<SyncRequest>,
) -> Result<Json<SyncAnswer>, Error> {
    let org = signed_site(&visitor)?;
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if crate::web::session::check_csrf(&visitor, sent).is_err() {
        return Err(Error::forbidden(
            "csrf",
            "La page a expiré : rechargez-la, puis synchronisez de nouveau.",
        ));
    }
    let cx = offline::Context {
        db: &state.db,
        keyring: &state.keyring,
        invalid_codes: state.redeemer.invalid_codes(),
        settings: offline::Settings::of(&state.config),
        client_ip: ip,
        origin: visitor.origin(),
    };
    let records = offline::sync(&cx, &org, body, state.clock.now()).await?;
    Ok(Json(SyncAnswer { records }))
}

fn signed_site(visitor: &Visitor) -> Result<crate::orgs::Organization, Error> {
    match &visitor.signed {
        Some(s) if s.org.kind == OrgKind::Site => Ok(s.org.clone()),
        Some(_) => Err(Error::wrong_role()),
        None => Err(Error::Unauthenticated),
    }
}
