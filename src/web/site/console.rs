//! The site's console (/lieu/console): the redemption form, installable (a web app manifest and
//! a service worker keep the page, its script and style on the device) and able to work
//! without a connection. Online it redeems as the redemption page does, with or without
//! JavaScript; offline, static/console.js checks each cheque with what it kept (public keys,
//! signed list of cancelled cheques, the places' programmes from [`offline::console::setup`])
//! and notes the session, to be sent to /lieu/hors-ligne/synchroniser at the next connection.

use super::{choices, Entered, RedeemChoices};
use crate::app::AppState;
use crate::offline;
use crate::orgs::OrgKind;
use crate::web::form_errors::FormErrors;
use crate::web::session::SignedIn;
use crate::web::{asset, page, Layout, Visitor, WebResult};
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const CONSOLE_JS: &str = include_str!("../../../static/console.js");
const SERVICE_WORKER: &str = include_str!("../../../static/sw.js");
const MANIFEST: &str = include_str!("../../../static/manifest.webmanifest");
const ICON: &str = include_str!("../../../static/icon.svg");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lieu/console", get(show))
        .route(
            "/static/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        // Under /lieu/ so that its scope is the site's pages (a worker controls only the
        // addresses below its own).
        .route("/lieu/sw.js", get(service_worker))
        .route(
            "/lieu/manifest.webmanifest",
            get(|| async { asset("application/manifest+json", MANIFEST) }),
        )
        .route(
            "/lieu/icone.svg",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
}

#[derive(Template)]
#[template(path = "site/console.html")]
struct Console {
    l: Layout,
    errors: FormErrors,
    form: RedeemChoices,
    /// What the console checks cheques against offline, as JSON (an attribute, not a script).
    setup_json: String,
}

async fn show(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    let signed = SignedIn::require(&visitor, OrgKind::Site)?;
    let today = state.clock.today();
    let mut conn = state.db.read().await?;
    // Read afresh: the session's copy may predate a suspension.
    let org = crate::orgs::find(&mut conn, &signed.org.id)
        .await?
        .unwrap_or_else(|| signed.org.clone());
    let setup = offline::console::setup(&mut conn, &org, today).await?;
    let form = choices(&mut conn, &org.id, Entered::default(), today).await?;
    drop(conn);
    page(Console {
        l: Layout::new(&state, &visitor, "Console d'encaissement"),
        errors: FormErrors::none(),
        form,
        setup_json: serde_json::to_string(&setup)
            .map_err(|e| crate::error::Error::Internal(e.into()))?,
    })
}

/// The worker is checked for updates at every visit: never kept by the HTTP cache.
async fn service_worker() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        SERVICE_WORKER,
    )
        .into_response()
}
