//! The funder's pages.

use crate::http::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}
