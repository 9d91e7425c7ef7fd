//! The money pages in a real headless Chromium, with axe-core (WCAG 2.1 AA), at 1280 and 320
//! pixels wide: the operator's bank details to check and treasury, the site's bank details,
//! the funder's coverage. One browser for the file.

use crate::common;

use common::browser::Browser;
use common::camt::{EntryXml, StatementXml};
use common::{Backend, TestApp, RIB_PDF};
use reqwest::StatusCode;

const PASSWORD: &str = "une phrase de passe assez longue";

async fn log_in(b: &Browser, app: &TestApp, email: &str, name: &str) {
    b.visit(&format!("{}/connexion", app.base), name).await;
    b.fill("#email", email).await;
    b.fill("#password", PASSWORD).await;
    b.submit_form("form[action='/connexion'] button[type=submit]")
        .await;
    b.second_factor(app, email).await;
}

/// Visits `path` at both widths: no accessibility violation, nothing wider than the screen.
async fn at_both_widths(b: &Browser, app: &TestApp, path: &str, name: &str) {
    for (width, suffix) in [(1280, ""), (320, "-320")] {
        b.set_window_size(width, 900).await;
        b.visit(&format!("{}{path}", app.base), &format!("{name}{suffix}"))
            .await;
        b.assert_no_horizontal_scroll().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn money_pages_are_readable_and_accessible() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    let w = app.world(100_000, 20).await;
    app.bank(&w.site_id, &w.site).await;
    let (status, _) = app
        .bank_request(&w.site_id, &w.site, "DE89370400440532013000")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.bank_document(&w.site_id, &w.site, RIB_PDF).await;
    let xml = StatementXml {
        message_id: "RELEVE-NAVIGATEUR".into(),
        account_iban: "FR7630004000031234567890143".into(),
        opening_cents: 0,
        closing_cents: 98_750,
        date: "2026-03-01".into(),
        entries: vec![
            EntryXml::Credit {
                cents: 100_000,
                reference: "OP-2026-0001".into(),
                debtor: "DEPARTEMENT DE LA GIRONDE".into(),
                acct_svcr_ref: "NAV-1".into(),
            },
            EntryXml::Debit {
                cents: 1_250,
                message_id: "FRAIS-TENUE-DE-COMPTE-MARS-2026".into(),
                payment_info_id: None,
                end_to_end_ids: vec![],
                acct_svcr_ref: "NAV-2".into(),
            },
        ],
    }
    .to_xml();
    let imported = app
        .client
        .post(format!("{}/api/v1/bank-statements", app.base))
        .bearer_auth(&app.operator_token)
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::CREATED);

    let operator_id = app.operator_org().await.id;
    for (org, email) in [
        (&operator_id, "operateur@argent.example"),
        (&w.site_id, "lieu@argent.example"),
        (&w.funder_id, "financeur@argent.example"),
    ] {
        app.user(
            org,
            email,
            "Camille",
            passnum::users::Role::Admin,
            Some(PASSWORD),
        )
        .await;
    }
    log_in(
        &b,
        &app,
        "operateur@argent.example",
        "argent-operateur-connexion",
    )
    .await;
    at_both_widths(&b, &app, "/operateur/banque", "argent-operateur-banque").await;
    assert!(b
        .page_source()
        .await
        .contains("DE89 3704 0044 0532 0130 00"));
    at_both_widths(
        &b,
        &app,
        "/operateur/tresorerie",
        "argent-operateur-tresorerie",
    )
    .await;
    assert!(b.page_source().await.contains("Débit de 12,50"));
    b.submit_form("form.logout button[type=submit]").await;

    log_in(&b, &app, "lieu@argent.example", "argent-lieu-connexion").await;
    at_both_widths(&b, &app, "/lieu/banque", "argent-lieu-banque").await;
    assert!(b
        .page_source()
        .await
        .contains("Demande en cours de vérification"));
    b.submit_form("form.logout button[type=submit]").await;

    log_in(
        &b,
        &app,
        "financeur@argent.example",
        "argent-financeur-connexion",
    )
    .await;
    at_both_widths(
        &b,
        &app,
        "/financeur/couverture",
        "argent-financeur-couverture",
    )
    .await;
    assert!(b.page_source().await.contains("couvre tout ce qui est dû"));
    b.close().await;
}
