//! The OpenAPI document is generated from the code: every route of the JSON API router is in it,
//! with its method, and the readable page lists them all.

use crate::common;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use std::collections::BTreeSet;

/// `(METHOD, /api/v1/path)` for every `.route(…)` of the JSON API's resource modules, read from
/// the source so that a new route without `#[utoipa::path]` fails here.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("src/http") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(&path).expect("source");
        // mod.rs holds the top-level router (`/metrics`), outside the documented `/api/v1`.
        if path.ends_with("health.rs") || path.ends_with("openapi.rs") || path.ends_with("mod.rs") {
            continue;
        }
        // `.route("/path", get(a).post(b))`, possibly over several lines.
        for chunk in source.split(".route(").skip(1) {
            let Some(rest) = chunk.trim_start().strip_prefix('"') else {
                continue;
            };
            let Some((route, handlers)) = rest.split_once('"') else {
                continue;
            };
            let handlers = &handlers[..handlers.find(")\n").unwrap_or(handlers.len())];
            for method in ["get", "post", "put", "delete", "patch"] {
                let called = handlers
                    .match_indices(&format!("{method}("))
                    .any(|(i, _)| i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric());
                if called {
                    out.insert((method.to_uppercase(), format!("/api/v1{route}")));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn every_api_route_is_documented() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routes = routes_in_source();
    assert!(routes.len() >= 25, "{routes:#?}");
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(missing.is_empty(), "undocumented routes: {missing:#?}");
    let stale: Vec<_> = documented.difference(&routes).collect();
    assert!(stale.is_empty(), "documented but not routed: {stale:#?}");
    // The error body and the bearer scheme are described once and used.
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let redeem = &doc["paths"]["/api/v1/redemptions"]["post"];
    assert!(redeem["requestBody"].is_object(), "{redeem}");
    assert!(redeem["responses"]["201"].is_object(), "{redeem}");

    // The readable page: server-rendered HTML, no script, every operation listed.
    let resp = app
        .client
        .get(format!("{}/api/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("lang=\"fr\""));
    assert!(!html.contains("<script"), "no script on the docs page");
    for (method, path) in &routes {
        assert!(
            html.contains(&format!("{method} {path}")),
            "{method} {path} missing from /api/docs"
        );
    }
    assert!(html.contains("ErrorBody"));
}
