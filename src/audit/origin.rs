//! Where the current change comes from: the client address and, from the web pages, the person
//! signed in. A middleware sets it for each request (task-local), so `audit::record` stays a
//! short call everywhere and no call site can forget the address. Outside a request (command
//! line, background jobs) both are empty.

use crate::http::client_addr::ClientAddr;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::cell::RefCell;
use std::net::SocketAddr;

#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub client_addr: Option<String>,
    pub user_id: Option<String>,
}

tokio::task_local! {
    static ORIGIN: RefCell<Origin>;
}

/// The origin of the request being served, or an empty one.
pub fn current() -> Origin {
    ORIGIN.try_with(|o| o.borrow().clone()).unwrap_or_default()
}

/// Names the person acting in this request (once the session, or a login, has told who).
pub fn set_user(user_id: &str) {
    let _ = ORIGIN.try_with(|o| o.borrow_mut().user_id = Some(user_id.to_string()));
}

/// Runs `work` with this origin (for work outside a request that still has one).
pub async fn scope<F: std::future::Future>(origin: Origin, work: F) -> F::Output {
    ORIGIN.scope(RefCell::new(origin), work).await
}

/// Middleware: every request runs with its client address as origin.
pub async fn layer(request: Request, next: Next) -> Response {
    let client_addr = match request.extensions().get::<ClientAddr>() {
        Some(client) => Some(client.0.to_string()),
        None => request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
    };
    scope(
        Origin {
            client_addr,
            user_id: None,
        },
        next.run(request),
    )
    .await
}
