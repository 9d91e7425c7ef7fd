//! `GET /metrics`: hidden without a token, behind a bearer token otherwise, in Prometheus text
//! format with requests by route template, latency, redemptions, refusals and settlements.

use crate::common;

use common::{Backend, TestApp};
use reqwest::StatusCode;

on_both_databases!(metrics_are_private_and_count_what_matters);

async fn scrape(app: &TestApp, token: Option<&str>) -> (StatusCode, String) {
    let mut req = app.client.get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("scrape");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

/// The value of one sample line, e.g. `passnum_redemptions_total`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics_are_private_and_count_what_matters(backend: Backend) {
    // Without a token configured, the address does not exist.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, _) = scrape(&app, Some("anything")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.metrics_token = Some("jeton-de-supervision".into())
    })
    .await
    else {
        return;
    };
    assert_eq!(scrape(&app, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(&app, Some("mauvais")).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (_, before) = scrape(&app, Some("jeton-de-supervision")).await;
    let redeemed_before = sample(&before, "passnum_redemptions_total").unwrap_or(0.0);
    let refused_before = sample(
        &before,
        "passnum_redemption_refusals_total{code=\"already_redeemed\"}",
    )
    .unwrap_or(0.0);

    let w = app.world(100_000, 10).await;
    app.bank(&w.site_id, &w.site).await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap();
    assert_eq!(app.redeem(&w.site, code).await.0, StatusCode::CREATED);
    assert_eq!(app.redeem(&w.site, code).await.0, StatusCode::CONFLICT);
    assert_eq!(
        app.redeem(&w.site, "AAAA-AAAA-AA").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    app.advance(jiff::SignedDuration::from_hours(49));
    let op = app.operator_token.clone();
    let (status, batch) = app
        .post(
            "/api/v1/settlements",
            &op,
            serde_json::json!({"until": app.clock_today()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let id = batch["id"].as_str().unwrap();
    for step in ["approve"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/settlements/{id}/{step}"),
                &op,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _, _) = app.sepa(id, &op).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/api/v1/settlements/{id}/paid"),
            &op,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, text) = scrape(&app, Some("jeton-de-supervision")).await;
    assert_eq!(status, StatusCode::OK);
    // Other tests of this binary may run in the same process: compare with the first scrape.
    assert!(sample(&text, "passnum_redemptions_total").unwrap() >= redeemed_before + 1.0);
    assert!(
        sample(
            &text,
            "passnum_redemption_refusals_total{code=\"already_redeemed\"}"
        )
        .unwrap()
            >= refused_before + 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "passnum_redemption_refusals_total{code=\"invalid_code\"}"
        )
        .is_some(),
        "{text}"
    );
    // Route templates, never raw paths with ids.
    assert!(
        text.contains(
            "passnum_http_requests_total{method=\"POST\",route=\"/api/v1/redemptions\",status=\"201\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("route=\"/api/v1/settlements/{id}/paid\""),
        "{text}"
    );
    assert!(!text.contains(id), "{text}");
    assert!(
        text.contains("passnum_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    // Every API redemption went through a group of the redemption writers.
    assert!(
        sample(&text, "passnum_redemption_group_size_count").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "passnum_redemption_groups_failed_total").is_some(),
        "{text}"
    );
    assert_eq!(
        sample(&text, "passnum_settlement_batches{status=\"paid\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "passnum_settlement_cents{status=\"paid\"}"),
        Some(1000.0)
    );
}

trait Today {
    fn clock_today(&self) -> String;
}

impl Today for TestApp {
    fn clock_today(&self) -> String {
        passnum::clock::Clock::today(&*self.clock).to_string()
    }
}
