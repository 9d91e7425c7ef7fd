//! `/healthz`: the process answers. `/readyz`: the database answers and is migrated, and the
//! settings still at their example value are named (see `passnum check-config`).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.db.ready().await {
        let placeholders: Vec<&str> = state
            .config
            .placeholders()
            .iter()
            .map(|p| p.setting)
            .collect();
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "example_settings": placeholders})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable"})),
        )
    }
}
