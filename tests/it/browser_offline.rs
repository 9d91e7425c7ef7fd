//! The offline pages in a real headless Chromium, with axe-core (WCAG 2.1 AA) and the 320-pixel
//! reading check: the site's consoles and conflicts (/lieu/hors-ligne), the operator's view of
//! every site (/operateur/hors-ligne).

use crate::common;

use common::browser::Browser;
use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "une phrase de passe assez longue";

async fn log_in(b: &Browser, app: &TestApp, email: &str, name: &str) {
    b.visit(&format!("{}/connexion", app.base), name).await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(app, email).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offline_pages_read_well_at_320_pixels() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    let (_, other) = app.qualified_site("France Services Cenon").await;
    let pass = app.issue(&w, 5).await;
    let code = pass["vouchers"][0]["code"].as_str().unwrap();
    let (status, device) = app
        .post(
            "/api/v1/offline/devices",
            &w.site,
            json!({"label": "Tablette accueil"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    app.redeem(&other, code).await;
    let (status, body) = app
        .post(
            "/api/v1/offline/sync",
            &w.site,
            json!({"records": [{"device_id": device["id"], "seq": 1,
                "session_at": "2026-03-02T09:00:00+01:00", "cheques": [{"code": code}],
                "service": "individual_help", "minutes": 30}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"][0]["outcome"], "conflict", "{body}");
    let site_email = "agent@mediatheque.example";
    app.user(
        &w.site_id,
        site_email,
        "Sam Agent",
        passnum::users::Role::Admin,
        Some(PASSWORD),
    )
    .await;
    let operator_email = "claire@operateur.example";
    let operator_id = app.operator_org().await.id;
    app.user(
        &operator_id,
        operator_email,
        "Claire Opératrice",
        passnum::users::Role::Admin,
        Some(PASSWORD),
    )
    .await;

    log_in(&b, &app, site_email, "hors-ligne-connexion-lieu").await;
    b.visit(&format!("{}/lieu/hors-ligne", app.base), "lieu-hors-ligne")
        .await;
    assert!(b.page_source().await.contains("France Services Cenon"));
    b.set_window_size(320, 800).await;
    b.visit(
        &format!("{}/lieu/hors-ligne", app.base),
        "lieu-hors-ligne-320",
    )
    .await;
    // A name left empty: the mistake is shown under its field, still readable at 320 px.
    b.submit_form("form[action='/lieu/hors-ligne/appareils'] button[type=submit]")
        .await;
    b.check_axe("lieu-hors-ligne-erreur-320").await;
    b.submit_form("form.logout button[type=submit]").await;

    b.set_window_size(1280, 900).await;
    log_in(&b, &app, operator_email, "hors-ligne-connexion-operateur").await;
    b.visit(
        &format!("{}/operateur/hors-ligne", app.base),
        "operateur-hors-ligne",
    )
    .await;
    b.set_window_size(320, 800).await;
    b.visit(
        &format!("{}/operateur/hors-ligne", app.base),
        "operateur-hors-ligne-320",
    )
    .await;
    b.close().await;
}
